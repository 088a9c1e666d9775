"""The contamination report (``contamination.json``, next to ``funnel.json``).

Per task: how many documents matched, the most frequent matched n-grams (as they read in
the document, normalised) and example URLs (the smallest, so reruns agree). Partial reports
merge associatively, so Beam can combine them per task without collecting documents.

Removal above 0.1% of the documents checked raises a warning in the report and the log:
the point where dolma's decontamination backs off and asks for a look (Soldaini et al. 2024,
"Dolma", §3 / the dolma toolkit's decontamination notes).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

WARN_FRACTION = 0.001
TOP_NGRAMS = 20
EXAMPLE_URLS = 5


@dataclass
class TaskReport:
    documents: int = 0
    ngrams: Counter = field(default_factory=Counter)
    urls: list[str] = field(default_factory=list)

    def add(self, ngrams: list[str], url: str) -> None:
        self.documents += 1
        self.ngrams.update(set(ngrams))
        self.urls = sorted({*self.urls, url})[:EXAMPLE_URLS]

    def merge(self, other: TaskReport) -> TaskReport:
        out = TaskReport(self.documents + other.documents, self.ngrams + other.ngrams)
        out.urls = sorted({*self.urls, *other.urls})[:EXAMPLE_URLS]
        # Bound the state: keep the n-grams that can still reach the top list.
        if len(out.ngrams) > 50 * TOP_NGRAMS:
            out.ngrams = Counter(dict(sorted(out.ngrams.items(), key=lambda kv: (-kv[1], kv[0]))
                                      [: 50 * TOP_NGRAMS]))  # fmt: skip
        return out

    def to_json(self) -> dict:
        top = sorted(self.ngrams.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_NGRAMS]
        return {
            "documents": self.documents,
            "top_ngrams": [{"ngram": g, "documents": n} for g, n in top],
            "example_urls": self.urls,
        }


def build_report(
    per_task: dict[str, TaskReport],
    documents_checked: int,
    removed: int,
    cut: int,
    config: dict,
    index_info: dict,
) -> dict:
    fraction = removed / documents_checked if documents_checked else 0.0
    report = {
        "documents_checked": documents_checked,
        "documents_removed": removed,
        "documents_cut": cut,
        "removed_fraction": fraction,
        "warning": None,
        "tasks": {t: per_task[t].to_json() for t in sorted(per_task)},
        "index": index_info,
        "config": config,
    }
    if fraction > WARN_FRACTION:
        report["warning"] = (
            f"decontamination removed {removed} of {documents_checked} documents "
            f"({fraction:.3%}), above the {WARN_FRACTION:.1%} dolma back-off point: check the "
            "top n-grams for task boilerplate (raise --decontam-ngram or lower "
            "max_item_frequency)"
        )
        log.warning(report["warning"])
    return report


def dumps(report: dict) -> bytes:
    return json.dumps(report, indent=2, sort_keys=False).encode("utf-8") + b"\n"
