"""Every safety decision for one page, in one place: the core of ``kosmos-data inspect``.

``page_safety`` answers, for a page as archived (``RawPage``) and, when there is one, the
document extracted from it and the image stage's status rows of its images:

* ``optout``: the page-level opt-out signal (``kosmos_data.safety.optout``), whether it
  removes the page in a job with this config, and the TDM policy URL if one was given;
* ``pii``: how many e-mail / IP / phone replacements the PII step makes in its text;
* ``images``: per image URL, the image stage's reason (``blocked_hash``, ``nsfw_image``,
  ``tdm_reservation``, ``tdmrep_reserved``, ``x_robots_tag``, ``ok``, ...) and NSFW score;
* ``nsfw_document``: the image that drops the document whole (score above the document
  threshold), if any.

A pure function over records and plain dicts (no Beam, no network): ``inspect`` calls it
with what it read from the archive and the run directory.
"""

from __future__ import annotations

from collections.abc import Iterable

from kosmos_data.images.config import ImageConfig
from kosmos_data.records import Document, RawPage
from kosmos_data.safety.optout import OptOutConfig, page_optout
from kosmos_data.safety.pii import KINDS, PiiConfig, redact


def page_safety(
    page: RawPage,
    document: Document | None = None,
    status_rows: Iterable[dict] = (),
    optout_config: OptOutConfig | None = None,
    pii_config: PiiConfig | None = None,
    image_config: ImageConfig | None = None,
) -> dict[str, object]:
    """The safety decisions for ``page`` as a JSON-ready dict (see the module docstring);
    configs default to the stages' defaults."""
    optout_config = optout_config or OptOutConfig()
    pii_config = pii_config or PiiConfig()
    image_config = image_config or ImageConfig()
    found = (
        page_optout(page.headers, page.payload, optout_config) if optout_config.enabled else None
    )
    removes = found is not None and (found.drops_page or optout_config.images_required)
    optout = None
    if found is not None:
        optout = {
            "reason": found.reason,
            "signal": found.signal,
            "tdm_policy": found.policy,
            "removes_page": removes,
            "removes_images": not found.drops_page,
        }
    pii = dict.fromkeys(KINDS, 0)
    if document is not None and pii_config.enabled:
        for seg in document.segments:
            text = seg.text or (seg.image.alt if seg.image is not None else None)
            for kind, n in redact(text or "", pii_config)[1].items():
                pii[kind] += n
    urls = {img.url for img in document.images} if document is not None else None
    images = []
    for row in sorted(status_rows, key=lambda r: r["url"]):
        if urls is not None and row["url"] not in urls:
            continue
        images.append(
            {
                "url": row["url"],
                "fetch_reason": row.get("fetch_reason"),
                "reason": row.get("reason"),
                "nsfw_score": row.get("nsfw_score"),
                "detail": row.get("error") or row.get("detail") or "",
            }
        )
    nsfw_document = None
    if image_config.nsfw_filter:
        scored = [i for i in images if i["nsfw_score"] is not None]
        worst = max(scored, key=lambda i: i["nsfw_score"], default=None)
        if worst is not None and worst["nsfw_score"] > image_config.nsfw_document_threshold:
            nsfw_document = {"url": worst["url"], "nsfw_score": worst["nsfw_score"]}
    return {
        "url": page.provenance.url,
        "optout": optout,
        "pii_replaced": pii,
        "images": images,
        "nsfw_document": nsfw_document,
    }
