"""Image URL resolution and filtering, shared by the fast and fidelity extractors.

Pure functions over attribute dicts (no DOM parsing here), so both the lexbor walk
and the trafilatura XML post-processing apply exactly the same rules. DOM-context rules for
the fast path take lexbor nodes (duck-typed, at the end of the module):
``unwrap_noscripts`` (lazy-loading placeholders replaced by their ``<noscript>`` image,
readability's rule), ``linked_teaser`` (thumbnails of links to other pages, dropped as
``linked_teaser``) and ``avatar_context`` (pictures in avatar / author / byline boxes, dropped
as ``avatar``).

Measured against readability's gold image lists (``bench/extract_quality.py``,
``image_rows``; 130 pages, 419 distinct http(s) gold images, element-keyed): the fast path went
from precision 0.541 / recall 0.730 to 0.705 / 0.800 with these rules, the URL-level ones
below (UI-control files, QR codes, logo/icon directories, ad-server hosts, a declared 0 beside
a real size read as "auto", no ``flag`` stem) and ``<figure>`` exempted from the fast path's
class-name boilerplate removal. What is left is mostly deliberate: readability keeps author
avatars, flags and icons under 50 px, and SVG formula renders, which a training corpus drops.

Rules and their sources:

* URL choice order: ``<img srcset>`` -> ``<picture><source srcset>`` -> lazy-loading
  ``data-srcset``/``data-src``/... -> ``src``. Lazy loaders (lazysizes, WordPress
  ``a3-lazy-load``, jQuery ``lazyload``) put a placeholder (data: URI, ``blank.gif``) in
  ``src`` and the real URL in ``data-*`` (https://github.com/aFarkas/lazysizes#readme), so
  the real attributes must win over ``src``.
* ``srcset`` (https://html.spec.whatwg.org/multipage/images.html#srcset-attributes): with
  width descriptors, the largest ``w <= srcset_max_width`` (else the smallest above it);
  with density descriptors, the highest density (a 2x image is the best available
  rendition of a layout box); URLs may contain commas, so candidates are split on
  ``", "``-style boundaries per the spec's tokeniser, approximated by splitting on
  commas that follow a descriptor.
* Relative URLs resolve against ``<base href>`` (itself resolved against the page URL),
  then the page URL (https://html.spec.whatwg.org/multipage/urls-and-fetching.html#document-base-url).
* Drops mirror the filters used for OBELICS / MMC4 (Laurençon et al. 2023, §A.1; Zhu et
  al. 2023): data URIs, non-http(s), tracking pixels, ad-server hosts (``ad``),
  icons/logos/sprites/UI controls/QR codes (``icon_or_logo``), avatars, spacers, tiny
  declared sizes, SVG, duplicates within a page.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urljoin, urlsplit

from kosmos_data.extract.lexbor import inside, tag_id, tag_ids
from kosmos_data.records import ImageRef

#: Lazy-loading attributes carrying a single URL, most specific first.
LAZY_SRC_ATTRS = (
    "data-src",
    "data-lazy-src",
    "data-original",
    "data-lazy",
    "data-url",
    "data-hi-res-src",
    "data-full-src",
    "data-orig-file",
    "data-large-file",
    "data-echo",
    "data-img-src",
)
LAZY_SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset", "data-original-set")

#: Hosts that serve tracking beacons, not content (suffix match).
TRACKER_HOSTS = (
    "doubleclick.net",
    "google-analytics.com",
    "googletagmanager.com",
    "googleadservices.com",
    "googlesyndication.com",
    "scorecardresearch.com",
    "quantserve.com",
    "quantcount.com",
    "facebook.com",
    "facebook.net",
    "analytics.twitter.com",
    "t.co",
    "bat.bing.com",
    "pixel.wp.com",
    "stats.wp.com",
    "b.scorecardresearch.com",
    "sb.scorecardresearch.com",
    "adsrvr.org",
    "criteo.com",
    "criteo.net",
    "amazon-adsystem.com",
    "adnxs.com",
    "taboola.com",
    "outbrain.com",
    "chartbeat.net",
    "hotjar.com",
    "mixpanel.com",
    "counter.yadro.ru",
    "mc.yandex.ru",
    "top-fwz1.mail.ru",
    "statcounter.com",
    "sitemeter.com",
    "linkedin.com",
    "ads.linkedin.com",
    "pinterest.com",
    "ct.pinterest.com",
    "matomo.cloud",
    "clarity.ms",
)
# All name patterns run on lower-cased strings without re.I: sre then skips on the literal
# first-character set, which is ~5x faster than case-insensitive matching.
_TRACK_PATH = re.compile(
    r"(?:pixel|beacon|tracking|tracker|impression|1x1|__utm|/b/ss/)(?:[/_.?-]|$)"
)
_SPACER = re.compile(r"(?:spacer|blank|transparent|clear|pixel|dot|empty|1x1|shim)\.(?:gif|png)$")
_ICONISH = re.compile(
    r"(?:logo|icon|favicon|sprite|emoji|badge|button|btn|arrow|bullet|rating|star|"
    r"loader|loading|spinner|placeholder|social|share|feed|rss|smiley|smilies)"
)
# Word-ish boundary check for the iconish stems, so "starfish.jpg" or "logorrhea" do not
# count: the stem must start the name or follow a separator.
_ICON_BOUNDARY = re.compile(
    r"(?:^|[/_.\-\s])(?:logo|icon|favicon|sprite|emoji|badge|button|btn|arrow|bullet|rating|"
    r"stars?|loader|loading|spinner|placeholder|social|share|feed|rss|smiley|smilies)"
    r"(?:s?(?:[/_.\-\s0-9]|$))"
)
_AVATAR = re.compile(r"(?:avatar|gravatar|profile[-_]?pic|userpic)")
#: Whole file names of UI controls (``minus.gif``, ``more.png``, ``expand2.gif``).
_UI_CONTROL = re.compile(
    r"^(?:plus|minus|expand|collapse|close|more|prev|next|up|down|top|toggle)\d*\.(?:gif|png)$"
)
#: QR codes (links for phones) and directories that hold only logos / icons / badges.
_QR = re.compile(r"(?:^|[/_.\-\s])qr[-_]?codes?(?:[/_.\-\s0-9]|$)")
_ICON_DIRS = ("/icons/", "/icon/", "/logo/", "/logos/", "/badges/", "/emoji/", "/smilies/")
#: First host labels of ad servers (``ad.example.cn``, ``ads.example.com``).
_AD_HOST_LABELS = frozenset({"ad", "ads", "adserver", "adservice", "adimg", "banners"})
# Alt text describes photos too ("a flag on a star-shaped pole"), so only strong words.
_ALT_ICON = re.compile(r"(?:^|\W)(?:logo|icon|favicon|sprite|emoji|badge|avatar)s?(?:\W|$)")
_PX = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$", re.I)
_STYLE_DIM = re.compile(r"(?:^|;)\s*(width|height)\s*:\s*(\d+(?:\.\d+)?)px", re.I)
_DESCRIPTOR = re.compile(r"^(\d+(?:\.\d+)?)([wx])$", re.I)


def page_base_url(page_url: str, base_href: str | None) -> str:
    """The document base URL: ``<base href>`` resolved against the page URL, else the page URL.

    WARC-Target-URI values are sometimes wrapped in ``<...>`` (WARC/1.0 writers), so those
    are stripped.
    """
    url = page_url.strip().strip("<>")
    if base_href:
        href = base_href.strip()
        if href and not href.lower().startswith(("javascript:", "data:")):
            try:
                return urljoin(url, href)
            except ValueError:
                return url
    return url


_SRCSET_URL = re.compile(r"[\s,]*(\S+)")


def parse_srcset(value: str) -> list[tuple[str, float | None, str | None]]:
    """Split a ``srcset`` into ``(url, number, "w"|"x"|None)`` candidates.

    Follows the WHATWG tokeniser: a URL runs to the next whitespace (so it may contain
    commas, as in Cloudinary ``/w_100,h_50/`` paths); trailing commas end a candidate with
    no descriptor; otherwise descriptors run to the next comma.
    """
    out: list[tuple[str, float | None, str | None]] = []
    n = len(value)
    i = 0
    while i < n:
        # One C-level regex step per candidate instead of a Python loop per character.
        m = _SRCSET_URL.match(value, i)
        if m is None:
            break
        url = m.group(1)
        i = m.end()
        desc = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            k = value.find(",", i)
            if k == -1:
                k = n
            desc = value[i:k].strip()
            i = k + 1
        num: float | None = None
        kind: str | None = None
        if desc:
            d = _DESCRIPTOR.match(desc.split()[0])
            if d:
                num, kind = float(d.group(1)), d.group(2).lower()
        if url:
            out.append((url, num, kind))
    return out


def pick_srcset(value: str, max_width: int) -> str | None:
    """Choose one URL from a ``srcset`` (rules in the module docstring)."""
    cands = parse_srcset(value)
    if not cands:
        return None
    widths = [(n, u) for u, n, k in cands if k == "w" and n is not None]
    if widths:
        under = [c for c in widths if c[0] <= max_width]
        if under:
            return max(under)[1]
        return min(widths)[1]
    dens = [(n if k == "x" and n is not None else 1.0, u) for u, n, k in cands]
    best = max(d for d, _ in dens)
    return next(u for d, u in dens if d == best)


def _dim(value: str | None) -> int | None:
    if not value:
        return None
    m = _PX.match(value)
    if not m:
        return None
    return int(float(m.group(1)))


def declared_size(attrs: dict[str, str | None]) -> tuple[int | None, int | None]:
    """Width/height declared by attributes, else by inline ``style`` (px only)."""
    w = _dim(attrs.get("width"))
    h = _dim(attrs.get("height"))
    style = attrs.get("style")
    if style and (w is None or h is None):
        for name, val in _STYLE_DIM.findall(style):
            if name.lower() == "width" and w is None:
                w = int(float(val))
            elif name.lower() == "height" and h is None:
                h = int(float(val))
    return w, h


_TRACKER_SET = frozenset(TRACKER_HOSTS)


def _is_tracker_host(host: str) -> bool:
    """Suffix lookup: ``a.b.doubleclick.net`` matches ``doubleclick.net``."""
    if host in _TRACKER_SET:
        return True
    i = host.find(".")
    while i != -1:
        if host[i + 1 :] in _TRACKER_SET:
            return True
        i = host.find(".", i + 1)
    return False


def _host_path(url: str) -> tuple[str, str]:
    """Lower-cased host (no userinfo/port) and path of an absolute http(s) URL."""
    start = url.find("//") + 2
    end = len(url)
    for ch in "/?#":
        j = url.find(ch, start)
        if j != -1 and j < end:
            end = j
    netloc = url[start:end]
    host = netloc.rsplit("@", 1)[-1]
    host = host[: host.find("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
    rest = url[end:]
    cut = len(rest)
    for ch in "?#":
        j = rest.find(ch)
        if j != -1 and j < cut:
            cut = j
    return host.lower(), rest[:cut] or "/"


def _iconish(text: str) -> bool:
    return _ICONISH.search(text) is not None and _ICON_BOUNDARY.search(text) is not None


class ImageCollector:
    """Turns ``<img>`` attribute dicts into ``ImageRef`` or a counted drop reason.

    One instance per page: it remembers URLs already kept (``duplicate_in_page``) and the
    drop counts that end up in ``Document.meta["image_drops"]``.
    """

    __slots__ = (
        "base_origin",
        "base_scheme",
        "base_url",
        "drops",
        "keep_svg",
        "max_images",
        "max_width",
        "min_px",
        "seen",
    )

    def __init__(
        self,
        base_url: str,
        *,
        min_px: int = 50,
        max_width: int = 1024,
        keep_svg: bool = False,
        max_images: int = 100,
    ) -> None:
        self.base_url = base_url
        self.min_px = min_px
        self.max_width = max_width
        self.keep_svg = keep_svg
        self.max_images = max_images
        self.seen: set[str] = set()
        self.drops: Counter[str] = Counter()
        try:
            parts = urlsplit(base_url)
            self.base_scheme = parts.scheme.lower() or "https"
            self.base_origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
        except ValueError:
            self.base_scheme, self.base_origin = "https", ""

    def resolve(self, raw: str) -> str | None:
        """Absolute URL for ``raw`` against the base; fast paths avoid ``urljoin`` (~10 us)."""
        low = raw[:8].lower()
        if low.startswith("https://") or low.startswith("http://"):
            return raw
        if raw.startswith("//"):
            return self.base_scheme + ":" + raw
        if raw.startswith("/") and self.base_origin:
            return self.base_origin + raw
        try:
            return urljoin(self.base_url, raw)
        except ValueError:
            return None

    def drop(self, reason: str, n: int = 1) -> None:
        self.drops[reason] += n

    def choose_url(
        self, attrs: dict[str, str | None], picture_sources: list[dict[str, str | None]] | None
    ) -> tuple[str | None, str]:
        """Return ``(raw_url, source_attr)``; raw_url may be relative or a data: URI."""
        srcset = attrs.get("srcset")
        if srcset and not srcset.lstrip().startswith("data:"):
            u = pick_srcset(srcset, self.max_width)
            if u:
                return u, "srcset"
        if picture_sources:
            for s in picture_sources:
                typ = (s.get("type") or "").lower()
                if (typ and not typ.startswith("image/")) or typ == "image/svg+xml":
                    continue
                ss = s.get("srcset") or s.get("data-srcset")
                if ss:
                    u = pick_srcset(ss, self.max_width)
                    if u and not u.startswith("data:"):
                        return u, "picture"
        for a in LAZY_SRCSET_ATTRS:
            v = attrs.get(a)
            if v:
                u = pick_srcset(v, self.max_width)
                if u and not u.startswith("data:"):
                    return u, a
        for a in LAZY_SRC_ATTRS:
            v = attrs.get(a)
            if v and v.strip() and not v.strip().startswith("data:"):
                return v.strip(), a
        src = attrs.get("src")
        if src and src.strip():
            return src.strip(), "src"
        return None, "src"

    def consider(
        self,
        attrs: dict[str, str | None],
        picture_sources: list[dict[str, str | None]] | None = None,
    ) -> ImageRef | None:
        """Keep the image (returning an ``ImageRef``) or count why not (returning None)."""
        raw, source = self.choose_url(attrs, picture_sources)
        if not raw:
            self.drop("missing_src")
            return None
        if raw[:5].lower() == "data:":
            self.drop("data_uri")
            return None
        url = self.resolve(raw)
        if url is None:
            self.drop("bad_url")
            return None
        low = url[:8].lower()
        if not (low.startswith("https://") or low.startswith("http://")):
            self.drop("bad_scheme")
            return None
        host, path = _host_path(url)
        if not host:
            self.drop("bad_url")
            return None
        w, h = declared_size(attrs)
        path = path.lower()
        fname = path.rsplit("/", 1)[-1]
        if (w is not None and w <= 2 and (h is None or h <= 2)) or (
            h is not None and h <= 2 and w is None
        ):
            self.drop("tracking_pixel")
            return None
        if _SPACER.search(fname):
            self.drop("spacer")
            return None
        if _is_tracker_host(host) or _TRACK_PATH.search(path):
            self.drop("tracking_pixel")
            return None
        cls, ident, alt_raw = attrs.get("class"), attrs.get("id"), attrs.get("alt")
        names = f"{cls or ''} {ident or ''}".lower() if (cls or ident) else ""
        alt_low = alt_raw.lower() if alt_raw else ""
        if _AVATAR.search(path) or (names and (_AVATAR.search(names) or "author" in names)):
            self.drop("avatar")
            return None
        if host.split(".", 1)[0] in _AD_HOST_LABELS:
            self.drop("ad")
            return None
        if (
            any(d in path for d in _ICON_DIRS)
            or _UI_CONTROL.match(fname) is not None
            or _QR.search(fname) is not None
            or (names and _QR.search(names) is not None)
            or _iconish(fname)
            or (names and _iconish(names))
            or (alt_low and _ALT_ICON.search(alt_low) is not None)
        ):
            self.drop("icon_or_logo")
            return None
        if not self.keep_svg and fname.endswith((".svg", ".svgz")):
            self.drop("svg")
            return None
        # A declared 0 beside a real size is a CMS's "auto" (``width=570 height=0``), not a
        # zero-pixel image; 0 x 0 was already caught as a tracking pixel above.
        if w == 0 and h is not None and h >= self.min_px:
            w = None
        if h == 0 and w is not None and w >= self.min_px:
            h = None
        if (w is not None and w < self.min_px) or (h is not None and h < self.min_px):
            self.drop("too_small_declared")
            return None
        if url in self.seen:
            self.drop("duplicate_in_page")
            return None
        if len(self.seen) >= self.max_images:
            self.drop("too_many_images")
            return None
        self.seen.add(url)
        alt = attrs.get("alt")
        alt = " ".join(alt.split()) if alt else None
        return ImageRef(url=url, alt=alt or None, width=w, height=h, source=source)


# ---------------------------------------------------------------------------------------------
# DOM context rules (duck-typed over lexbor nodes: ``tag``, ``attributes``, ``parent``, ...)
# ---------------------------------------------------------------------------------------------

#: Attributes that make an ``<img>`` a real image candidate (see ``ImageCollector.choose_url``).
_URL_ATTRS = ("src", "srcset", *LAZY_SRC_ATTRS, *LAZY_SRCSET_ATTRS)
_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp|tiff?)(?:[?#]|$)")
#: A link to another *page* wrapping an image with this much visible text is a teaser card.
TEASER_LINK_TEXT_CHARS = 16


def _has_url(attrs: dict[str, str | None]) -> bool:
    return any((attrs.get(a) or "").strip() for a in _URL_ATTRS)


_A = tag_id("a")
_FIGURE_IDS, _NOSCRIPT_IDS = tag_ids(("figure",)), tag_ids(("noscript",))
_BOX_STOP = tag_ids(("body", "html", "article", "main"))
_BODY_HTML = tag_ids(("body", "html"))


def _single_image(node) -> object | None:
    """The ``<img>`` when ``node`` is an image or wraps exactly one image and no text."""
    while node is not None:
        if node.tag == "img":
            return node
        kids = [c for c in node.iter(include_text=True) if not c.is_empty_text_node]
        if len(kids) != 1 or kids[0].tag == "-text":
            return None
        node = kids[0]
    return None


def _prev_element(node):
    p = node.prev
    while p is not None and (p.tag in ("-text", "_comment") and not p.text(strip=True)):
        p = p.prev
    return p if p is not None and p.tag not in ("-text", "_comment") else None


def unwrap_noscripts(imgs: list, noscripts: list) -> tuple[int, bool]:
    """Put the real image of a lazy-loading placeholder back in its place, given the
    ``<img>`` and ``<noscript>`` elements of the tree, each list in document order (the fast
    path finds them in the walk that also finds its junk elements).

    Returns the number of URL-less ``<img>`` removed (the caller counts them
    ``missing_src``) and whether a ``<noscript>`` was unwrapped (which changes the tree
    beyond those images).

    Lazy loaders (Medium, many WordPress themes) render ``<img src=tiny-blurred-preview>`` or
    an ``<img>`` without any URL, and put the real ``<img>`` in the ``<noscript>`` right
    after it, for clients without JavaScript. The extractor drops ``<noscript>`` as junk, so
    the page would keep the 60-px preview (or nothing). Same rule as readability's
    ``_unwrapNoscriptImages`` (mozilla/readability ``Readability.js``): URL-less ``<img>``
    are removed first; then a ``<noscript>`` holding exactly one image replaces the element
    before it when that element is (or only wraps) a single image."""
    no_url = 0
    for img in imgs:
        # An ``<img>`` is a void element: removing one removes nothing else.
        if not _has_url(img.attributes) and not inside(img, _NOSCRIPT_IDS):
            img.decompose()
            no_url += 1
    changed = False
    for ns in noscripts:
        inner = ns.css("img")
        if len(inner) != 1 or not _has_url(inner[0].attributes):
            continue
        prev = _prev_element(ns)
        if prev is None or _single_image(prev) is None:
            continue
        prev.decompose()
        ns.unwrap()
        changed = True
    return no_url, changed


def _page_href(link) -> str | None:
    href = (link.attributes.get("href") or "").strip()
    low = href.lower()
    if not href or low.startswith(("#", "javascript:")) or _IMAGE_FILE.search(low):
        return None
    return href


def linked_teaser(img) -> bool:
    """True when ``img`` is the picture of a teaser card: a link to another page that carries
    a headline, itself or in a sibling link to the same page (related articles, "most
    popular", section fronts, sidebar promos).

    Content images are either unlinked or link to their own full-size file or a lightbox
    (``href`` to an image file or ``#``). A thumbnail inside ``<a href=/other-article>`` whose
    text, or the text of another link to the same ``href`` within two levels above it, has
    ``TEASER_LINK_TEXT_CHARS`` or more characters is a link to something else, with the image
    as decoration: the "related-article thumbnails" of the issue, which readability's
    link-density rule and the OBELICS / MMC4 pipelines leave out. A link inside a ``<figure>``
    (``<figure><a href=File:...><img>``) is the figure's own link: content by HTML semantics;
    a link around a figure (``<a href=/story><figure><img>``) is a card like any other.
    """
    p = img.parent
    link = None
    depth = 0
    while p is not None and depth < 8:
        if p.tag_id == _A:
            link = p
            break
        p = p.parent
        depth += 1
    if link is None or inside(link, _FIGURE_IDS):
        return False
    href = _page_href(link)
    if href is None:
        return False
    if len(link.text(strip=True)) >= TEASER_LINK_TEXT_CHARS:
        return True
    box = link.parent
    for _ in range(2):
        if box is None or box.tag_id in _BOX_STOP:
            break
        up = box.parent
        box = up if up is not None else box
    if box is None or box.tag_id in _BODY_HTML:
        return False
    for other in box.css("a[href]"):
        if (
            other.mem_id != link.mem_id
            and (other.attributes.get("href") or "").strip() == href
            and len(other.text(strip=True)) >= TEASER_LINK_TEXT_CHARS
        ):
            return True
    return False


#: Class/id words of an avatar's or byline's container (``<div class="meta-avatar">``,
#: ``<a class="author__photo">``, ``<span class="headshot">``).
_AVATAR_BOX = re.compile(r"avatar|gravatar|author(?!i)|byline|profile|userpic|user-pic|headshot")


def avatar_context(img, levels: int = 3) -> bool:
    """True when one of the ``levels`` nearest ancestors of ``img`` names an avatar, author or
    byline box: commenter and author pictures, the "avatars" of the issue. ``consider``
    already catches the image's own class/id and URL; this adds the container, where
    Gawker/Kinja, WordPress and news CMSs put the word."""
    p = img.parent
    cache = _AVATAR_CACHE
    for _ in range(levels):
        if p is None:
            return False
        a = p.attributes
        key = (a.get("class"), a.get("id"))
        hit = cache.get(key)
        if hit is None:
            names = f"{key[0] or ''} {key[1] or ''}".lower()
            hit = bool(names.strip()) and _AVATAR_BOX.search(names) is not None
            if len(cache) >= 65536:
                cache.clear()
            cache[key] = hit
        if hit:
            return True
        p = p.parent
    return False


#: ``avatar_context``'s verdict per (class, id) value pair: they repeat within and across
#: pages of a site.
_AVATAR_CACHE: dict[tuple[str | None, str | None], bool] = {}
