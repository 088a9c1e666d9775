"""``kosmos-data report RUN_DIR``: a run's funnel as one self-contained HTML page.

    kosmos-data report runs/r1 [--output runs/r1/report.html]

Everything comes from ``funnel.json``: the paper-style funnel (KOSMOS-1 describes its
interleaved corpus as ~2B web pages -> ~71M documents; this table shows where a run's records
went, stage by stage), drop and dead-letter reasons, images per document, languages, top
domains and throughput. Plots are inline SVG generated here; the page loads nothing from the
network (no CDN, no fonts, no scripts), so it opens offline and can be attached to an issue.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2733;background:#fff;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #d5dce4;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.9rem;margin:.6rem 0}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e6eaef;text-align:right}
th:first-child,td:first-child,th:last-child,td:last-child{text-align:left}th{background:#f3f6f9}
.muted{color:#5b6b7c;font-size:.85rem}.ok{color:#17803d;font-weight:600}
.bad{color:#b42318;font-weight:600}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}
.card{border:1px solid #e6eaef;border-radius:6px;padding:.8rem 1rem}
.kpi{display:flex;gap:1rem;flex-wrap:wrap}.kpi div{border:1px solid #e6eaef;border-radius:6px;
padding:.6rem 1rem;min-width:150px}.kpi b{display:block;font-size:1.3rem}
svg text{font-family:system-ui,sans-serif}
"""

_PALETTE = ("#2563eb", "#dc2626", "#7c3aed", "#059669", "#d97706", "#0891b2", "#be185d")


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _fmt(n: float) -> str:
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.1f}"
    return f"{int(n):,}"


def hbar_svg(
    items: Sequence[tuple[str, float]],
    *,
    color: str = _PALETTE[0],
    width: int = 520,
    label_w: int = 190,
) -> str:
    """Horizontal bar chart (label, value), largest scale = longest bar."""
    if not items:
        return '<p class="muted">(none)</p>'
    row, pad = 22, 70
    vmax = max(v for _, v in items) or 1
    h = row * len(items) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" '
        f'viewBox="0 0 {width} {h}" role="img">'
    ]
    for i, (label, v) in enumerate(items):
        y = i * row + 3
        w = max((width - label_w - pad) * (v / vmax), 1 if v else 0)
        keep = label_w // 7
        short = label if len(label) <= keep else label[: keep - 1] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end" '
            f'fill="#1d2733">{_e(short)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{color}" rx="2"><title>{_e(label)}: {_fmt(v)}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" font-size="11" '
            f'fill="#5b6b7c">{_fmt(v)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def vbar_svg(items: Sequence[tuple[str, float]], *, color: str = _PALETTE[3]) -> str:
    """Vertical bar chart (a histogram over ordered categories)."""
    if not items:
        return '<p class="muted">(none)</p>'
    bar, gap, h, base = 46, 12, 200, 170
    width = len(items) * (bar + gap) + 40
    vmax = max(v for _, v in items) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 10}" '
        f'viewBox="0 0 {width} {h + 10}" role="img">',
        f'<line x1="20" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#9aa7b4"/>',
    ]
    for i, (label, v) in enumerate(items):
        x = 24 + i * (bar + gap)
        bh = (base - 24) * (v / vmax)
        parts.append(
            f'<rect x="{x}" y="{base - bh:.1f}" width="{bar}" height="{bh:.1f}" fill="{color}" '
            f'rx="2"><title>{_e(label)}: {_fmt(v)}</title></rect>'
            f'<text x="{x + bar / 2}" y="{base - bh - 4:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#1d2733">{_fmt(v)}</text>'
            f'<text x="{x + bar / 2}" y="{base + 16}" font-size="12" text-anchor="middle" '
            f'fill="#1d2733">{_e(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def funnel_svg(stages: Sequence[Mapping[str, object]], records_in: int) -> str:
    """The funnel: records remaining after each stage, as shrinking bars (log-free)."""
    items = [("records in", float(records_in))]
    items += [(str(s["stage"]), float(s["out"])) for s in stages]  # type: ignore[arg-type]
    return hbar_svg(items, color=_PALETTE[0], width=640)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole else "–"


def _safety_section(safety: Mapping[str, object]) -> str:
    """Safety and rights (``funnel.json: safety``; ``kosmos_data.safety``): pages dropped by
    the opt-out signal that decided, PII replaced per kind, images blocked by hash list,
    NSFW score, or TDM reservation, and documents dropped whole for an NSFW image."""
    optout = dict(safety.get("optout", {}) or {})
    pii = dict(safety.get("pii_replaced", {}) or {})
    images = dict(safety.get("images", {}) or {})
    nsfw_docs = int(safety.get("nsfw_documents", 0) or 0)  # type: ignore[arg-type]
    rows = [["page opt-out", _e(r), _fmt(n)] for r, n in sorted(optout.items())]
    rows += [["PII replaced", _e(k), _fmt(n)] for k, n in sorted(pii.items())]
    rows += [["image URLs", _e(r), _fmt(n)] for r, n in sorted(images.items())]
    rows.append(["documents", "nsfw_document", _fmt(nsfw_docs)])
    return f"""<h2>Safety and rights</h2>
<p class="muted">Pages whose archived response opted out of AI use (X-Robots-Tag noai /
noimageai, robots &lt;meta&gt;, W3C TDMRep), PII replaced by placeholders in kept text,
images dropped by a known-bad hash list, the open_nsfw classifier or a TDM reservation, and
documents dropped whole for an NSFW image (OBELICS' rule).</p>
<div class="kpi">
<div><b>{_fmt(sum(optout.values()))}</b>pages opted out</div>
<div><b>{_fmt(sum(pii.values()))}</b>PII replacements</div>
<div><b>{_fmt(int(images.get("nsfw_image", 0)))}</b>NSFW images</div>
<div><b>{_fmt(nsfw_docs)}</b>NSFW documents</div>
<div><b>{_fmt(int(images.get("blocked_hash", 0)))}</b>blocked by hash list</div>
</div>
{_table(["rule", "reason", "count"], rows)}"""


def render_report(funnel: Mapping[str, object], title: str = "") -> str:
    """The HTML page for one ``funnel.json`` (a pure function: same funnel, same bytes)."""
    stages = list(funnel.get("stages", []))  # type: ignore[arg-type]
    records_in = int(funnel.get("records_in", 0))  # type: ignore[arg-type]
    kept = int(funnel.get("kept", 0))  # type: ignore[arg-type]
    dropped = funnel.get("dropped", {}) or {}
    dead = funnel.get("dead_letter", {}) or {}
    balanced = bool(funnel.get("balanced"))
    run = funnel.get("run", {}) or {}
    br = funnel.get("breakdowns", {}) or {}
    images = funnel.get("images", {}) or {}

    rows = []
    for s in stages:
        reasons = sorted(s["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))[:4]
        top = ", ".join(f"{_e(r)}&nbsp;{_fmt(n)}" for r, n in reasons)
        rows.append(
            [
                _e(s["stage"]), _fmt(s["in"]), _fmt(s["dropped"]), _fmt(s["dead_letter"]),
                _fmt(s["out"]), _pct(s["out"], s["in"]), _pct(s["out"], records_in), top,
            ]
        )  # fmt: skip
    funnel_table = _table(
        ["stage", "in", "dropped", "dead", "out", "out / in", "out / records in", "top reasons"],
        rows,
    )

    reasons: list[tuple[str, float]] = []
    for stage, by_reason in (dropped.get("by_stage", {}) or {}).items():
        reasons += [(f"{stage}: {r}", float(n)) for r, n in by_reason.items()]
    for stage, by_reason in (dead.get("by_stage", {}) or {}).items():
        reasons += [(f"{stage}: dead {r}", float(n)) for r, n in by_reason.items()]
    reasons.sort(key=lambda kv: (-kv[1], kv[0]))

    hist = [(k, float(v)) for k, v in (br.get("images_per_document", {}) or {}).items()]
    langs = [(k, float(v)) for k, v in (br.get("languages", {}) or {}).items()][:20]
    domains = [(k, float(v)) for k, v in (br.get("top_domains", {}) or {}).items()]
    img_drops = sorted(
        ((r, float(n)) for r, n in (images.get("dropped_by_reason", {}) or {}).items()),
        key=lambda kv: (-kv[1], kv[0]),
    )

    safety_html = _safety_section(funnel.get("safety", {}) or {})

    wall = float(run.get("wall_seconds", 0) or 0)
    records_read = int(run.get("records_read", 0) or 0)
    if wall > 0:
        throughput = (
            f"<div><b>{_fmt(wall)} s</b>wall clock ({_e(run.get('runner', '?'))})</div>"
            f"<div><b>{_fmt(records_read / wall)}</b>records/s read this attempt</div>"
            f"<div><b>{_fmt(kept / wall)}</b>documents kept/s</div>"
            f"<div><b>{_fmt(run.get('archives_read', 0))} + "
            f"{_fmt(run.get('archives_resumed', 0))}</b>archives read + resumed</div>"
        )
    else:
        throughput = "<div><b>–</b>no wall clock recorded (run section missing)</div>"

    status = (
        '<span class="ok">balanced</span>' if balanced else '<span class="bad">NOT balanced</span>'
    )
    heading = title or f"kosmos-data run: {funnel.get('output', '')}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(heading)}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(heading)}</h1>
<p class="muted">pipeline {_e(funnel.get("pipeline", "?"))} ·
kosmos-data {_e(funnel.get("kosmos_data_version", "?"))} ·
{_fmt(int(funnel.get("files", 0)))} archive(s)</p>
<div class="kpi">
<div><b>{_fmt(records_in)}</b>records in</div>
<div><b>{_fmt(kept)}</b>documents kept ({_pct(kept, records_in)})</div>
<div><b>{_fmt(int(dropped.get("total", 0)))}</b>dropped</div>
<div><b>{_fmt(int(dead.get("total", 0)))}</b>dead-lettered</div>
<div><b>{status}</b>records in = kept + dropped + dead</div>
</div>
<h2>Funnel</h2>
<p class="muted">Each record read ends as a kept document, a dropped record (stage, reason)
or a dead letter; the KOSMOS-1 paper reports its interleaved corpus the same way
(~2B web pages → ~71M documents).</p>
{funnel_svg(stages, records_in)}
{funnel_table}
<h2>Why records were removed</h2>
{hbar_svg(reasons[:25], color=_PALETTE[1], width=820, label_w=300)}
<div class="grid">
<div class="card"><h2>Images per kept document</h2>{vbar_svg(hist)}
<p class="muted">{_fmt(int(images.get("kept", 0)))} images kept (KOSMOS-1: at most five per
document, in reading order).</p></div>
<div class="card"><h2>Images removed</h2>{hbar_svg(img_drops[:12], color=_PALETTE[4], width=480)}
</div>
<div class="card"><h2>Languages of kept documents</h2>
{hbar_svg(langs, color=_PALETTE[2], width=480)}
</div>
<div class="card"><h2>Top domains</h2>{hbar_svg(domains, color=_PALETTE[5], width=480)}
<p class="muted">{_fmt(int(br.get("distinct_domains", 0) or 0))} distinct domains among kept
documents.</p></div>
</div>
{safety_html}
<h2>Throughput</h2>
<div class="kpi">{throughput}</div>
</body></html>
"""


def main(argv: list[str]) -> int:
    """``kosmos-data report RUN_DIR [--output FILE.html]``."""
    parser = argparse.ArgumentParser(
        prog="kosmos-data report",
        description="Render RUN_DIR/funnel.json as a self-contained HTML page (inline SVG).",
    )
    parser.add_argument("run_dir")
    parser.add_argument("--output", default=None, help="default RUN_DIR/report.html")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    path = Path(args.run_dir) / "funnel.json"
    if not path.exists():
        print(f"error: {path} not found (is {args.run_dir} a run directory?)", file=sys.stderr)
        return 2
    page = render_report(json.loads(path.read_text(encoding="utf-8")), args.title)
    out = Path(args.output) if args.output else Path(args.run_dir) / "report.html"
    out.write_text(page, encoding="utf-8")
    print(out)
    return 0
