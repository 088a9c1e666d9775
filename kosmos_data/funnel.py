"""The funnel: where every record went, stage by stage.

Every record read from an archive ends in exactly one of three places: a kept document,
a ``Dropped`` record (a filter removed it on purpose, with a reason) or a ``DeadLetter``
(it could not be processed). The funnel counts each independently — records in are counted
by the reader per file, not derived from the outputs — so the identity

    records_in == kept + dropped + dead_lettered

is a real check of the pipeline, reported as ``balanced`` in ``funnel.json``.

Counts arrive as ``(kind, stage, reason) -> n`` pairs, which any runner can compute with a
per-key sum; this module turns them into the report and a paper-style table (cf. the
KOSMOS-1 paper's "~2B pages -> ~71M documents" description of its interleaved corpus).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kosmos_data.breakdowns import breakdowns

#: Kinds of accounting events (the first element of a count key).

RECORDS_IN = "records_in"
FILES = "files"
KEPT = "kept"
DROPPED = "dropped"
DEAD_LETTER = "dead_letter"
IMAGE_DROPPED = "image_dropped"
NODE_REMOVED = "node_removed"
IMAGES_KEPT = "images_kept"
#: One event per distinct image URL fetched by the image stage, reason = fetch outcome.
IMAGE_FETCH = "image_fetch"
#: One event per extracted document that carries a confidence, reason = its decile
#: ("0.8-0.9"); fast documents that fell back to fidelity add one ``fallback:<outcome>``.
EXTRACT_CONFIDENCE = "extract_confidence"
#: PII replaced in kept text, reason = kind (email, ip, phone); ``kosmos_data.safety.pii``.
PII_REPLACED = "pii_replaced"

CountKey = tuple[str, str, str]


def build_funnel(
    counts: Mapping[CountKey, int],
    stage_order: Sequence[str],
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Assemble ``funnel.json`` from per-key counts.

    ``stage_order`` is the job's, derived from its ordered stages
    (``pipelines.common.stage_order``). Stages not in it are appended in sorted order, so a
    new stage can never be silently left out of the table.
    """

    def by(kind: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (k, stage, reason), n in counts.items():
            if k == kind:
                out.setdefault(stage, {})[reason] = out.get(stage, {}).get(reason, 0) + n
        return {s: dict(sorted(r.items())) for s, r in sorted(out.items())}

    def total(kind: str) -> int:
        return sum(n for (k, _, _), n in counts.items() if k == kind)

    records_in = total(RECORDS_IN)
    kept = total(KEPT)
    dropped = by(DROPPED)
    dead = by(DEAD_LETTER)
    n_dropped = sum(sum(r.values()) for r in dropped.values())
    n_dead = sum(sum(r.values()) for r in dead.values())

    stages = list(stage_order) + sorted((set(dropped) | set(dead)) - set(stage_order))
    table = []
    remaining = records_in
    for stage in stages:
        d = sum(dropped.get(stage, {}).values())
        x = sum(dead.get(stage, {}).values())
        table.append(
            {
                "stage": stage,
                "in": remaining,
                "dropped": d,
                "dead_letter": x,
                "out": remaining - d - x,
                "reasons": {
                    **dropped.get(stage, {}),
                    **{f"dead:{r}": n for r, n in dead.get(stage, {}).items()},
                },
            }
        )
        remaining -= d + x

    funnel: dict[str, object] = {
        "files": total(FILES),
        "records_in": records_in,
        "kept": kept,
        "dropped": {"total": n_dropped, "by_stage": dropped},
        "dead_letter": {"total": n_dead, "by_stage": dead},
        "balanced": records_in == kept + n_dropped + n_dead,
        "stages": table,
        "images": {
            # images still in documents after the last stage that counts them (sampling, or
            # the image stage once images are fetched)
            "kept": _last_stage_total(by(IMAGES_KEPT), stages),
            "dropped_by_reason": {
                r: n for stage_counts in by(IMAGE_DROPPED).values() for r, n in stage_counts.items()
            },
        },
        "nodes_removed": by(NODE_REMOVED),
        # languages, images per document, top domains of the kept corpus (report/HTML)
        "breakdowns": breakdowns(counts),
    }
    confidence = by(EXTRACT_CONFIDENCE).get("extract")
    if confidence:  # deciles of the fast extractor's confidence, and fallbacks
        funnel["extract_confidence"] = confidence
    fetched = by(IMAGE_FETCH)
    if fetched:  # per distinct URL: ok, http_error, timeout, robots_disallowed, ...
        funnel["images"]["fetch_by_reason"] = {  # type: ignore[index]
            r: n for stage_counts in fetched.values() for r, n in stage_counts.items()
        }
    funnel["safety"] = safety_summary(dropped, by(PII_REPLACED), by(IMAGE_DROPPED), fetched)
    if extra:
        funnel.update(extra)
    return funnel


def confidence_counters(doc) -> dict[CountKey, int]:
    """Funnel counts of one extracted document's confidence (``EXTRACT_CONFIDENCE``): its
    decile, plus its fallback outcome when it has one. Documents without a confidence (the
    fidelity extractor) count nothing."""
    from kosmos_data.extract.common import CONFIDENCE_KEY, confidence_bucket

    conf = doc.meta.get(CONFIDENCE_KEY)
    if conf is None:
        return {}
    out = {(EXTRACT_CONFIDENCE, "extract", confidence_bucket(float(conf))): 1}
    fallback = doc.meta.get("extraction_fallback")
    if fallback:
        out[(EXTRACT_CONFIDENCE, "extract", f"fallback:{fallback}")] = 1
    return out


#: Image-level safety and rights reasons (``kosmos_data.safety``): per distinct URL fetched.
SAFETY_FETCH_REASONS = (
    "x_robots_tag",
    "tdm_reservation",
    "tdmrep_reserved",
    "blocked_hash",
    "nsfw_image",
)


def safety_summary(
    dropped: Mapping[str, Mapping[str, int]],
    pii: Mapping[str, Mapping[str, int]],
    image_dropped: Mapping[str, Mapping[str, int]],
    fetched: Mapping[str, Mapping[str, int]],
) -> dict[str, object]:
    """The ``safety`` section: what the opt-out, PII, hash-list and NSFW rules removed.

    ``optout`` counts pages by the signal that decided (``noai_header``, ``noai_meta``,
    ``tdm_reservation_header``, ...); ``images`` counts distinct image URLs by fetch-time
    reason and image occurrences dropped for those reasons; ``nsfw_documents`` the documents
    dropped whole (OBELICS' rule); ``pii_replaced`` the replacements per kind.
    """
    fetch = {r: n for stage in fetched.values() for r, n in stage.items()}
    occ = {r: n for stage in image_dropped.values() for r, n in stage.items()}
    return {
        "optout": dict(sorted(dropped.get("optout", {}).items())),
        "pii_replaced": dict(sorted(pii.get("pii", {}).items())),
        "images": {r: fetch[r] for r in SAFETY_FETCH_REASONS if fetch.get(r)},
        "image_occurrences": {r: occ[r] for r in SAFETY_FETCH_REASONS if occ.get(r)},
        "nsfw_documents": dropped.get("images", {}).get("nsfw_document", 0),
    }


def _last_stage_total(by_stage: Mapping[str, Mapping[str, int]], order: Sequence[str]) -> int:
    for stage in reversed(order):
        if stage in by_stage:
            return sum(by_stage[stage].values())
    return sum(sum(r.values()) for r in by_stage.values())


#: ``format_funnel``'s formats: the aligned text table (the CLI default and a run's closing
#: lines), a GitHub/Markdown table (issues, READMEs) and a LaTeX ``booktabs`` table (papers).
FUNNEL_FORMATS = ("text", "markdown", "latex")


def _top_reasons(row: Mapping[str, object], n: int = 4) -> list[tuple[str, int]]:
    reasons = row["reasons"]  # type: ignore[index]
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:n]  # type: ignore[union-attr]


def _balance_line(funnel: Mapping[str, object]) -> str:
    return (
        f"records in {funnel['records_in']:,} = kept {funnel['kept']:,} + dropped "
        f"{funnel['dropped']['total']:,} + dead-lettered {funnel['dead_letter']['total']:,}"  # type: ignore[index]
        f"  [{'balanced' if funnel['balanced'] else 'NOT BALANCED'}]"
    )


def format_funnel_table(funnel: Mapping[str, object]) -> str:
    """A plain-text table that can be pasted into an issue or a terminal log."""
    lines = [f"{'stage':<12} {'in':>12} {'dropped':>10} {'dead':>8} {'out':>12}  top reasons"]
    for row in funnel["stages"]:  # type: ignore[union-attr]
        top = ", ".join(f"{r}={n}" for r, n in _top_reasons(row))
        lines.append(
            f"{row['stage']:<12} {row['in']:>12,} {row['dropped']:>10,} "
            f"{row['dead_letter']:>8,} {row['out']:>12,}  {top}"
        )
    lines.append(_balance_line(funnel))
    return "\n".join(lines)


def _share(out: int, records_in: int) -> str:
    return f"{100.0 * out / records_in:.2f}" if records_in else "-"


def format_funnel_markdown(funnel: Mapping[str, object]) -> str:
    """The funnel as a Markdown table: per stage the records in, dropped, dead-lettered and
    out, the share of the records read still in after it, and the top drop reasons."""
    total = int(funnel["records_in"])  # type: ignore[arg-type]
    lines = [
        "| stage | in | dropped | dead-lettered | out | % of records read | top drop reasons |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in funnel["stages"]:  # type: ignore[union-attr]
        top = ", ".join(f"`{r}` {n:,}" for r, n in _top_reasons(row))
        lines.append(
            f"| {row['stage']} | {row['in']:,} | {row['dropped']:,} | {row['dead_letter']:,} "
            f"| {row['out']:,} | {_share(row['out'], total)} | {top} |"
        )
    lines.append("")
    lines.append(_balance_line(funnel))
    return "\n".join(lines)


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def format_funnel_latex(funnel: Mapping[str, object]) -> str:
    """The funnel as a LaTeX table (``booktabs`` rules; ``\\usepackage{booktabs}``), with the
    same columns as ``format_funnel_markdown`` and the balance as the caption."""
    total = int(funnel["records_in"])  # type: ignore[arg-type]
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        "\\small",
        "\\begin{tabular}{lrrrrrl}",
        "\\toprule",
        "Stage & In & Dropped & Dead-lettered & Out & \\% of read & Top drop reasons \\\\",
        "\\midrule",
    ]
    for row in funnel["stages"]:  # type: ignore[union-attr]
        top = ", ".join(f"{_tex(r)} ({n:,})" for r, n in _top_reasons(row, 3))
        lines.append(
            f"{_tex(str(row['stage']))} & {row['in']:,} & {row['dropped']:,} & "
            f"{row['dead_letter']:,} & {row['out']:,} & {_share(row['out'], total)} & "
            f"{top} \\\\"
        )
    lines += [
        "\\bottomrule",
        "\\end{tabular}",
        f"\\caption{{Document funnel: {total:,} records read, {funnel['kept']:,} kept, "
        f"{funnel['dropped']['total']:,} dropped, "  # type: ignore[index]
        f"{funnel['dead_letter']['total']:,} dead-lettered"  # type: ignore[index]
        f"{'' if funnel['balanced'] else ' (NOT BALANCED)'}.}}",
        "\\label{tab:funnel}",
        "\\end{table}",
    ]
    return "\n".join(lines)


def format_funnel(funnel: Mapping[str, object], fmt: str = "text") -> str:
    """``funnel.json`` rendered in one of ``FUNNEL_FORMATS``."""
    render = {
        "text": format_funnel_table,
        "markdown": format_funnel_markdown,
        "latex": format_funnel_latex,
    }.get(fmt)
    if render is None:
        raise ValueError(f"funnel format must be one of {FUNNEL_FORMATS}, got {fmt!r}")
    return render(funnel)
