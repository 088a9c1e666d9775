"""Page-level AI opt-outs read from the archive itself, before anything is fetched.

OBELICS honoured the Spawning opt-outs per image only and later had to re-release without
the 4.25% of its documents whose pages had opted out (Laurençon et al. 2023, data card);
no interleaved corpus checks the page. This step does, on the archived HTTP response and
the archived HTML, so the decision needs no network and is the one the site made when it
was crawled:

* ``X-Robots-Tag`` response headers (``noai``, ``noimageai``), unscoped or scoped to one of
  our user-agent tokens (``X-Robots-Tag: kosmos-data: noai``); a directive scoped to another
  agent (``otherbot: noai``) is not addressed to us. The parsing follows Google's robots
  meta/header rules: comma-separated directives, an ``agent:`` prefix scopes the directives
  after it within the same header value;
* ``<meta name="robots" content="noai, noimageai">`` and the agent-specific
  ``<meta name="kosmos-data" content="noai">``;
* the W3C TDM Reservation Protocol (TDMRep, W3C Community Group Final Report 2024):
  ``tdm-reservation: 1`` response header or ``<meta name="tdm-reservation" content="1">``;
  the ``tdm-policy`` (header, ``<meta name="tdm-policy">``, ``<link rel="tdm-policy">`` or
  a ``Link: <...>; rel="tdm-policy"`` header) is recorded in the drop's detail. The spec
  gives a policy meaning only together with ``tdm-reservation: 1``, so a policy alone does
  not reserve.

Verdicts (the stage ``optout``; the reason names the signal that decided, header before
meta): ``noai_header``, ``noai_meta``, ``tdm_reservation_header``, ``tdm_reservation_meta``
(the page is dropped), and ``noimageai_header`` / ``noimageai_meta``: its images may not be
used; a job that needs images (the interleaved job: KOSMOS-1 documents must keep one) drops
the page under that reason rather than later as ``no_images``; a text-only job keeps it.

Meta tags are found by a byte-level scan of the page head (up to ``</head>`` or
``scan_bytes``): attribute names and the values looked at are ASCII, so any
ASCII-compatible charset reads the same, and the scan costs far less than a parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kosmos_data.images.config import USER_AGENT_TOKEN

NOAI = "noai"
NOIMAGEAI = "noimageai"
#: Stable reasons, most decisive first.
REASONS = (
    "noai_header",
    "noai_meta",
    "tdm_reservation_header",
    "tdm_reservation_meta",
    "noimageai_header",
    "noimageai_meta",
)
#: Directives with a value of their own (``max-snippet: 20``): not an agent scope.
_VALUED = frozenset({"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"})
_SCOPE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*:\s*(.*)$", re.S)
_TAG = re.compile(rb"<(meta|link)\b([^>]*)>", re.I)
_ATTR = re.compile(rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_HEAD_END = re.compile(rb"</head\s*>", re.I)
_LINK_REL = re.compile(r"<([^>]*)>\s*;[^,]*\brel\s*=\s*\"?tdm-policy\"?", re.I)


@dataclass(frozen=True, slots=True)
class OptOutConfig:
    """Which page-level signals the ``optout`` step honours (all on by default)."""

    enabled: bool = True
    user_agent_tokens: tuple[str, ...] = (USER_AGENT_TOKEN,)
    honour_tdm: bool = True
    #: the job keeps only documents with images (interleaved): ``noimageai`` drops the page
    images_required: bool = True
    scan_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        if not self.user_agent_tokens or not all(
            re.fullmatch(r"[A-Za-z0-9_-]+", t or "") for t in self.user_agent_tokens
        ):
            raise ValueError(
                "OptOutConfig.user_agent_tokens must be robots.txt product tokens "
                f"([A-Za-z0-9_-]+), got {self.user_agent_tokens!r}"
            )
        if not isinstance(self.scan_bytes, int) or self.scan_bytes < 1024:
            raise ValueError(
                f"OptOutConfig.scan_bytes must be an int >= 1024, got {self.scan_bytes!r}"
            )


@dataclass(frozen=True, slots=True)
class OptOut:
    """What a page said: the deciding reason, the exact signal, the TDM policy if any."""

    reason: str
    signal: str
    policy: str = ""

    @property
    def drops_page(self) -> bool:
        return not self.reason.startswith(NOIMAGEAI)

    @property
    def detail(self) -> str:
        return self.signal + (f"; tdm-policy {self.policy}" if self.policy else "")


def robots_directives(values: Iterable[str], tokens: Iterable[str]) -> set[str]:
    """Lower-cased directives of ``X-Robots-Tag`` values that apply to one of ``tokens``."""
    ours = {t.lower() for t in tokens}
    out: set[str] = set()
    for value in values:
        scope: str | None = None
        for item in value.split(","):
            m = _SCOPE.match(item)
            if m and m.group(1).lower() not in _VALUED:
                scope, item = m.group(1).lower(), m.group(2)
            d = item.strip().lower()
            if d and (scope is None or scope in ours):
                out.add(d)
    return out


def _attrs(raw: bytes) -> dict[str, str]:
    out = {}
    for k, v in _ATTR.findall(raw):
        out.setdefault(k.decode("ascii").lower(), v.strip(b"\"'").decode("latin-1").strip())
    return out


@dataclass(slots=True)
class _Meta:
    robots: list[str]
    tdm_reservation: str | None = None
    tdm_policy: str = ""


def scan_meta(html: bytes, tokens: Iterable[str], scan_bytes: int) -> _Meta:
    """Robots/agent ``<meta>`` contents and TDMRep ``<meta>``/``<link>`` from the head."""
    head = html[:scan_bytes]
    end = _HEAD_END.search(head)
    if end:
        head = head[: end.start()]
    names = {"robots", *(t.lower() for t in tokens)}
    # Only tags that mention a name or rel this scan looks for are worth parsing (a page's
    # head holds dozens of unrelated <meta>/<link>): the same answers, fewer _attrs calls.
    marks = (b"tdm-", *(n.encode("ascii", "ignore") for n in names))
    meta = _Meta([])
    for tag, raw in _TAG.findall(head):
        low = raw.lower()
        if not any(m in low for m in marks):
            continue
        a = _attrs(raw)
        if tag.lower() == b"link":
            if "tdm-policy" in a.get("rel", "").lower().split() and not meta.tdm_policy:
                meta.tdm_policy = a.get("href", "")
            continue
        name = a.get("name", "").lower()
        if name in names:
            meta.robots.append(a.get("content", ""))
        elif name == "tdm-reservation" and meta.tdm_reservation is None:
            meta.tdm_reservation = a.get("content", "")
        elif name == "tdm-policy" and not meta.tdm_policy:
            meta.tdm_policy = a.get("content", "")
    return meta


def _header(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


def page_optout(
    headers: Iterable[tuple[str, str]], html: bytes, config: OptOutConfig = OptOutConfig()
) -> OptOut | None:
    """The page's opt-out (most decisive signal first), or None when it said nothing."""
    headers = list(headers)
    tokens = config.user_agent_tokens
    from_header = robots_directives(_header(headers, "x-robots-tag"), tokens)
    meta = scan_meta(html, tokens, config.scan_bytes)
    from_meta = robots_directives(meta.robots, ())  # a meta's name already scoped it
    policy = next(iter(_header(headers, "tdm-policy")), "").strip()
    if not policy:
        for link in _header(headers, "link"):
            m = _LINK_REL.search(link)
            if m:
                policy = m.group(1).strip()
                break
    policy = policy or meta.tdm_policy
    if NOAI in from_header:
        return OptOut("noai_header", "X-Robots-Tag: " + "; ".join(_header(headers, "x-robots-tag")))
    if NOAI in from_meta:
        return OptOut("noai_meta", "<meta> robots: " + "; ".join(meta.robots))
    if config.honour_tdm:
        tdm = [v.strip() for v in _header(headers, "tdm-reservation")]
        if "1" in tdm:
            return OptOut("tdm_reservation_header", "tdm-reservation: 1", policy)
        if (meta.tdm_reservation or "").strip() == "1":
            return OptOut(
                "tdm_reservation_meta", '<meta name="tdm-reservation" content="1">', policy
            )
    if NOIMAGEAI in from_header:
        return OptOut(
            "noimageai_header", "X-Robots-Tag: " + "; ".join(_header(headers, "x-robots-tag"))
        )
    if NOIMAGEAI in from_meta:
        return OptOut("noimageai_meta", "<meta> robots: " + "; ".join(meta.robots))
    return None


def optout_verdict(page, config: OptOutConfig) -> OptOut | None:
    """The opt-out that removes ``page`` (a ``RawPage``) in a job with ``config``, or None."""
    if not config.enabled:
        return None
    found = page_optout(page.headers, page.payload, config)
    if found is None or (not found.drops_page and not config.images_required):
        return None
    return found
