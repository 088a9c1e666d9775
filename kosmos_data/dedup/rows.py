"""``docs/`` Parquet rows back into ``Document`` records (for re-running stages on a corpus).

Reads this project's schema (``kosmos_data.outputs.DOCS_SCHEMA``) and OBELICS-style rows
built elsewhere (``HuggingFaceM4/OBELICS``: ``texts``, ``images``, ``metadata``,
``general_metadata`` only): provenance falls back to ``general_metadata`` (``url``,
``warc_filename``, ``warc_record_offset``) and the id to a hash of it, so ``kosmos-data dedup``
and ``kosmos-data decontaminate`` accept both and write this project's schema.
"""

from __future__ import annotations

import hashlib
import json

from kosmos_data.records import Document, ImageRef, Provenance, Segment


def _loads(value, default):
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return default
    return value


def row_to_document(row: dict) -> Document:
    """Inverse of ``outputs.document_to_row`` (up to the derived columns)."""
    general = _loads(row.get("general_metadata"), {}) or {}
    per_pos = _loads(row.get("metadata"), []) or []
    texts = row.get("texts") or []
    images = row.get("images") or [None] * len(texts)
    alts = row.get("image_alts") or [None] * len(texts)
    segments = []
    for i, (text, image) in enumerate(zip(texts, images, strict=True)):
        if image is not None:
            meta = per_pos[i] if i < len(per_pos) and isinstance(per_pos[i], dict) else {}
            segments.append(Segment(image=ImageRef(
                url=image,
                alt=alts[i] if i < len(alts) else meta.get("alt_text"),
                width=meta.get("declared_width"),
                height=meta.get("declared_height"),
                source=meta.get("source_attribute") or "src",
            )))  # fmt: skip
        elif text is not None:
            segments.append(Segment(text=text))
    url = row.get("url") or general.get("url") or ""
    warc = row.get("warc_file") or general.get("warc_filename") or ""
    offset = row.get("warc_record_offset")
    if offset is None:
        offset = general.get("warc_record_offset") or 0
    record_id = row.get("warc_record_id") or general.get("warc_record_id") or ""
    prov = Provenance(warc, record_id, int(offset), url, row.get("fetch_date") or
                      general.get("fetch_date") or "")  # fmt: skip
    doc_id = (
        row.get("id")
        or hashlib.blake2b(
            f"{warc}|{record_id}|{offset}|{url}".encode(), digest_size=16
        ).hexdigest()
    )
    meta: dict[str, object] = {}
    if general.get("title") is not None:
        meta["title"] = general["title"]
    if general.get("image_drops"):
        meta["image_drops"] = general["image_drops"]
    if row.get("language") is not None:
        meta["language"] = row["language"]
    if row.get("language_score") is not None:
        meta["language_score"] = row["language_score"]
    for key in ("sampling", "quality"):
        value = _loads(row.get(key), None)
        if value:
            meta[key] = value
    return Document(doc_id, prov, segments, row.get("extractor") or "", meta)
