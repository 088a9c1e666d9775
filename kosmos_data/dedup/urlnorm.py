"""URL normalisation for exact-URL deduplication.

Common Crawl holds the same page under many spellings of its URL: ``HTTP://Example.com:80/a``,
``https://example.com/a#top``, ``https://example.com/a?utm_source=feed``. The key built here
folds those together, following the usual canonicalisation rules (RFC 3986 §6.2.2 syntax-based
normalisation; the tracking-parameter list of w3lib/``url-normalize`` and the ClearURLs rules):

* scheme: lower-cased, and ``https`` and ``http`` are the same key (a crawl that holds both
  holds one page twice);
* host: lower-cased, trailing dot removed, default ports (``:80``, ``:443``) removed;
* path: empty path is ``/``; percent-escapes upper-cased (``%2f`` == ``%2F``), dot segments
  removed;
* query: tracking parameters removed (``utm_*``, ``gclid``, ``fbclid``, ... below), the rest
  sorted (parameter order does not change the page for the sites that matter);
* fragment: removed (never sent to the server).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that only track a visit (exact names; ``utm_*`` by prefix).
TRACKING_PARAMS = frozenset(
    {
        "gclid", "gclsrc", "dclid", "fbclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "vero_id", "oly_anon_id", "oly_enc_id",
        "wickedid", "twclid", "ttclid", "li_fat_id", "s_cid", "icid", "spm", "scid",
        "ref_src", "ref_url", "trk", "trkcampaign", "sessionid", "phpsessid", "jsessionid", "sid",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")

_PCT = re.compile(r"%[0-9a-fA-F]{2}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def normalize_url(url: str) -> str:
    """The canonical form of ``url`` (see the module docstring); unparsable input is returned
    stripped, so it still only matches itself."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    if parts.username or parts.password:
        cred = parts.username or ""
        if parts.password:
            cred += ":" + parts.password
        host = f"{cred}@{host}"
    path = _PCT.sub(lambda m: m.group(0).upper(), parts.path) or "/"
    if "/." in path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        if trailing and not path.endswith("/"):
            path += "/"
    query = ""
    if parts.query:
        pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        kept = sorted((k, v) for k, v in pairs if not _is_tracking(k))
        query = urlencode(kept)
    if scheme == "https":
        scheme = "http"
    return urlunsplit((scheme, host, path, query, ""))


def url_hash(url: str) -> str:
    """16 hex digits of blake2b of the normalised URL (process-independent)."""
    return hashlib.blake2b(normalize_url(url).encode("utf-8"), digest_size=8).hexdigest()
