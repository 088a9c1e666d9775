"""Fast extractor: lexbor parse, CSS-selector boilerplate removal, one DOM walk, and a
learned block classifier.

Why this design: a lexbor parse is ~0.4 ms per 120 KB page; everything that can be a C-level
CSS query runs as one (a few selector queries, then ``decompose`` of the hits), Python touches
each surviving node once in the walk, and the per-block decision is a small numpy model
(``blocks.py``), so no BeautifulSoup, lxml or trafilatura is imported on this path.

Pipeline (each step cites the heuristic it borrows):

1. Drop non-content elements (script/style/noscript/template/svg/iframe/form controls).
2. Remove boilerplate regions by tag/role (``nav``, ``aside``, ``footer``, ARIA landmark
   roles - https://www.w3.org/TR/wai-aria-1.2/#landmark_roles), hidden elements (``hidden``,
   ``aria-hidden``, inline ``display:none``) unless they hold half the page's text (script-
   revealed articles), and class/id patterns for cookie banners, sidebars, share widgets,
   comments, related posts, ads (the same vocabulary as trafilatura's ``xpaths.py`` and
   jusText's stop-classes). Pattern hits that hold most of the page's text are kept (a
   wrapper ``div class="page-with-sidebar"`` is not boilerplate), and so are names of the
   main text's own container (``article-body``, ``entry-content``, Blogger's ``widget
   Blog``) and heading-anchor ids. Site ``<header>`` elements outside ``<article>``/
   ``<main>`` are removed.
3. Remove link-dense lists (menus, related links, tag clouds): link-text share >=
   ``list_link_density`` (the link-density feature of Kohlschütter et al. 2010, boilerpipe).
4. Choose the root: the largest ``<main>``/``[role=main]`` or a single ``<article>`` when it
   holds >= ``main_min_share`` of the remaining text, else ``<body>``.
5. Walk the root in document order (``_walk``): text nodes accumulate into the current
   block, block elements and ``<br>`` close it, ``<img>`` closes the block and emits an
   image; link characters are counted per block. The deadline is checked every
   ``check_every_nodes`` elements.
6. Classify the blocks (``blocks.BlockModel``: logistic regression, then boosted oblivious
   trees over block, region and neighbour features; trained by ``train_blocks.py`` on the
   extraction-dev pages and the labelled snippet pages) and keep those at or above the
   model's threshold; images stay where they were, between the kept text blocks, in DOM
   order. ``meta["extraction_confidence"]`` is the share of block text the model was sure
   about (``_classify``).

Measured on the dev set (``bench/extract_quality.py``; 5-fold CV, token P/R/F1 per page):
ScrapingHub F1 ~0.955, readability ~0.948, against trafilatura's 0.948 and 0.928.
"""

from __future__ import annotations

import re

import numpy as np
from selectolax.lexbor import LexborHTMLParser, LexborNode

from kosmos_data.extract.blocks import Block, load_model
from kosmos_data.extract.common import SegmentBuilder, build_document
from kosmos_data.extract.config import ExtractConfig
from kosmos_data.extract.errors import ExtractionError, ExtractionTimeout
from kosmos_data.extract.images import (
    ImageCollector,
    avatar_context,
    linked_teaser,
    page_base_url,
    unwrap_noscripts,
)
from kosmos_data.extract.lexbor import inside, tag_id, tag_ids
from kosmos_data.extract.timeout import Deadline
from kosmos_data.records import Document, HtmlPage

JUNK_TAGS = [
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "iframe",
    "object",
    "embed",
    "canvas",
    "video",
    "audio",
    "map",
    "button",
    "select",
    "input",
    "textarea",
    "label",
    "option",
    "dialog",
]

#: Always boilerplate, whatever they contain: these tags and attributes in one C-level query...
HARD_SELECTOR = "nav, aside, footer, menu, [aria-modal=true]"
#: Hidden elements: boilerplate unless they hold most of the page's text (pages whose
#: article is revealed by script ship it ``hidden`` or ``display:none``).
HIDDEN_SELECTOR = "[hidden], [aria-hidden=true]"
#: ...plus ARIA landmark/widget roles and inline-hidden elements, checked in Python on the few
#: elements that have a ``role`` or ``style`` at all. One ``[role=x]`` selector per role made
#: lexbor walk the tree once per alternative: ~2x slower on real-sized pages.
HARD_ROLES = frozenset(
    {
        "navigation",
        "contentinfo",
        "complementary",
        "search",
        "banner",
        "dialog",
        "alertdialog",
        "menu",
        "menubar",
        "toolbar",
    }
)


#: One query for the whole hard-boilerplate step and the image count taken just before it
#: (``_hard_boilerplate``): lexbor checks a selector list in one walk of the tree (a node
#: matching several alternatives is reported once per alternative, in a row), and the hits
#: are sorted out in Python by tag and attributes, which three queries took ~2x as long.
_HARD_QUERY = f"img, {HARD_SELECTOR}, {HIDDEN_SELECTOR}, [role], [style]"


def _hard_boilerplate(body: LexborNode) -> tuple[list[LexborNode], int]:
    """Elements that are boilerplate whatever they contain (see ``HARD_SELECTOR``), and
    hidden ones (``HIDDEN_SELECTOR``, inline ``display:none``/``visibility:hidden``) that
    hold less than half of the page's text (``_rough_len`` of ``body``), in document order;
    and the number of ``<img>`` under ``body``.

    The hits of ``_HARD_QUERY`` are classified as the separate selectors would: a hard tag
    (``nav``/``aside``/``footer``/``menu``) or ``aria-modal="true"`` (attribute selectors match
    values exactly, case included) or a landmark ``role`` is hard; ``hidden``,
    ``aria-hidden="true"`` or an inline hiding ``style`` (looked at only when the role did not
    already make the element hard) is hidden."""
    out: list[tuple[LexborNode, bool]] = []
    seen: set[int] = set()
    imgs = 0
    any_hidden = False
    hard_ids, img_id = HARD_TAG_IDS, IMG_ID
    for node in body.css(_HARD_QUERY):
        key = node.mem_id
        if key in seen:
            continue
        seen.add(key)
        tag = node.tag_id
        if tag in hard_ids:
            out.append((node, True))
            continue
        if tag == img_id:
            imgs += 1
        attrs = node.attributes
        if attrs.get("aria-modal") == "true":
            out.append((node, True))
            continue
        hidden = "hidden" in attrs or attrs.get("aria-hidden") == "true"
        role = attrs.get("role")
        if role and role.strip().lower() in HARD_ROLES:
            out.append((node, True))
            continue
        if not hidden:
            style = attrs.get("style")
            if style:
                style = style.lower().replace(" ", "")
                hidden = "display:none" in style or "visibility:hidden" in style
        if hidden:
            out.append((node, False))
            any_hidden = True
    if not any_hidden:
        return [n for n, _ in out], imgs
    sizes = [0 if hard else _rough_len(n) for n, hard in out]
    if not any(sizes):  # text-less hidden elements (icons) go whatever the page holds
        return [n for n, _ in out], imgs
    half = 0.5 * (_rough_len(body) or 1)
    return [n for (n, hard), size in zip(out, sizes, strict=True) if hard or size < half], imgs


# Class/id vocabulary. Substring matches only for distinctive stems; whole-token matches
# (``~=``) for short words that occur inside content class names ("search" in "research").
_SUBSTR = [
    "cookie",
    "consent",
    "gdpr",
    "sidebar",
    "side-bar",
    "breadcrumb",
    "navbar",
    "nav-bar",
    "navigation",
    "footer",
    "masthead",
    "skip-link",
    "skiplink",
    "skip-to",
    "newsletter",
    "advert",
    "sponsor",
    "social-",
    "share-",
    "-share",
    "sharing",
    "sharedaddy",
    "relatedposts",
    "related-posts",
    "related_posts",
    "related-articles",
    "comment-respond",
    "comments-area",
    "comment-list",
    "commentlist",
    "disqus",
    "popup",
    "cookie",
    "subscribe",
    "signup",
    "sign-up",
    "login",
    "screen-reader",
    "sr-only",
    "visually-hidden",
    "visuallyhidden",
    "offcanvas",
    "off-canvas",
    "mobile-menu",
    "dropdown-menu",
    "mega-menu",
    "site-header",
    "site-footer",
    "page-footer",
    "post-navigation",
    "pagination",
]
_TOKENS = [
    "nav",
    "menu",
    "header",
    "footer",
    "share",
    "social",
    "related",
    "comments",
    "comment",
    "ad",
    "ads",
    "advertisement",
    "search",
    "pager",
    "widget",
    "widgets",
    "toc",
    "tags",
    "tagcloud",
    "modal",
    "overlay",
    "hidden",
    "d-none",
    "hide",
    "invisible",
    "banner",
    "topbar",
    "toolbar",
]
# Python's ``re`` has no Aho-Corasick; a flag-free alternation of literals on a lower-cased
# string lets sre skip on the first-character set (~6x faster than ``re.I`` + anchors), and
# class strings repeat a lot within and across pages of a site, so results are memoised.
_SUBSTR_RE = re.compile("|".join(re.escape(x) for x in sorted(set(_SUBSTR), key=len, reverse=True)))
_TOKEN_SET = frozenset(_TOKENS)
_SOFT_CACHE: dict[str, bool] = {}
_SOFT_CACHE_MAX = 65536


#: Names of the main text's own container ("article-body", "entry-content", Blogger's
#: "widget Blog"): never boilerplate, whatever else the value says ("article-body
#: pagination-first", "l-sidebar-fixed l-article-body-segment").
_CONTENT_NAME = re.compile(
    r"(?:article|entry|post|story|main|page)[-_]?(?:body|content|text)|(?:^|\s)(?:blog|article)(?:\s|$)"
)


def is_boilerplate_name(value: str) -> bool:
    """True when a class or id attribute value names a boilerplate region."""
    hit = _SOFT_CACHE.get(value)
    if hit is not None:
        return hit
    low = value.lower()
    hit = _CONTENT_NAME.search(low) is None and (
        _SUBSTR_RE.search(low) is not None or any(t in _TOKEN_SET for t in low.split())
    )
    if len(_SOFT_CACHE) >= _SOFT_CACHE_MAX:
        _SOFT_CACHE.clear()
    _SOFT_CACHE[value] = hit
    return hit


JUNK_SELECTOR = ", ".join(JUNK_TAGS)


#: Elements that end a text block.
BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "caption",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "address",
        "hr",
        "br",
        "details",
        "summary",
        "center",
        "form",
        "fieldset",
        "legend",
        "body",
        "html",
    ]
)


BLOCK_IDS = tag_ids(BLOCK_TAGS)
IMG_ID = tag_id("img")
A_ID = tag_id("a")
BR_ID = tag_id("br")
HARD_TAG_IDS = tag_ids({"nav", "aside", "footer", "menu"})
JUNK_IDS = tag_ids(JUNK_TAGS)
NOSCRIPT_ID = tag_id("noscript")
MAIN_IDS = tag_ids({"article", "main"})
MAIN_ID = tag_id("main")
ARTICLE_ID = tag_id("article")
BASE_ID = tag_id("base")
FIGURE_ID = tag_id("figure")
FIGCAPTION_ID = tag_id("figcaption")
PICTURE_ID = tag_id("picture")
FIGURE_OR_BODY = tag_ids({"figure", "body"})
TEXT_ID = next(
    n.tag_id
    for n in LexborHTMLParser("<p>x</p>").body.traverse(include_text=True)
    if n.tag == "-text"
)


def _text_len(node: LexborNode) -> int:
    """Visible characters without surrounding whitespace (for small regions)."""
    return len(node.text(strip=True))


def _rough_len(node: LexborNode) -> int:
    """Text length including whitespace: ~3x cheaper than ``_text_len`` on big subtrees, and
    only ever compared with other ``_rough_len`` values (shares of the page's text)."""
    return len(node.text())


def _decompose_in_order(nodes: list[LexborNode]) -> None:
    """Decompose the hits of ONE ``css`` query (document order, a node matching two
    alternatives of a selector list reported twice in a row), last first.

    A descendant comes after its ancestor in document order, so going backwards frees every
    nested hit before the subtree holding it: no use-after-free and no parent walk.
    """
    seen: set[int] = set()
    unique = []
    for n in nodes:
        key = n.mem_id
        if key not in seen:
            seen.add(key)
            unique.append(n)
    for n in reversed(unique):
        n.decompose()


def _link_len(node: LexborNode) -> int:
    return sum(_text_len(a) for a in node.css("a"))


def _is_site_header(h: LexborNode) -> bool:
    """A ``<header>`` outside article/main that is short or link-dense (logo, menu, search).

    Site builders (Webflow, Wix) also use ``<header>`` for hero sections full of content,
    so only short or link-dominated ones are removed (after ``nav`` was already taken out).
    """
    if inside(h, MAIN_IDS):
        return False
    tl = _text_len(h)
    return tl < 200 or _link_len(h) >= 0.5 * tl


class FastExtractor:
    """Lexbor-based extractor (see module docstring). Stateless apart from the config."""

    name = "fast"

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config
        #: Training hook (``train_blocks.py``): called with each page's blocks before
        #: classification; None in production.
        self._collect = None

    def extract(self, page: HtmlPage) -> Document:
        cfg = self.config
        deadline = Deadline(cfg.timeout_s)
        html = page.html
        if not html or html.isspace():
            raise ExtractionError("empty html")
        try:
            tree = LexborHTMLParser(html)
        except Exception as e:  # selectolax raises plain Exceptions on parser failure
            raise ExtractionError(f"lexbor parse failed: {type(e).__name__}: {e}") from e
        try:
            return self._extract(tree, page, deadline)
        except ExtractionTimeout:
            raise
        except ExtractionError:
            raise
        except Exception as e:
            raise ExtractionError(f"fast extraction failed: {type(e).__name__}: {e}") from e

    def _extract(self, tree: LexborHTMLParser, page: HtmlPage, deadline: Deadline) -> Document:
        cfg = self.config
        title_node = tree.css_first("title")
        title = " ".join(title_node.text().split()) if title_node is not None else None
        if not title:
            og = tree.css_first('meta[property="og:title"]')
            title = (og.attributes.get("content") or "").strip() if og is not None else None
        # The first <base href> in document order: the parser puts every element under <html>
        # into <head> or <body>, so <head>'s (a small query), else the first one the walk
        # below meets in <body>; a ``base[href]`` query walked the whole document.
        head = tree.head
        base = head.css_first("base[href]") if head is not None else None
        body = tree.body
        if body is None:
            raise ExtractionError("document has no body")
        deadline.check("after parse")

        # 1. One walk over the elements finds the images and <noscript>s for
        # ``unwrap_noscripts`` (before <noscript> goes as junk, images.py) and the junk
        # elements: comparing tag ids in Python is ~3x cheaper than lexbor matching a
        # 20-tag selector list, and the two queries it replaces walked the tree twice.
        imgs, noscripts, junk = [], [], []
        junk_ids, img_id, noscript_id = JUNK_IDS, IMG_ID, NOSCRIPT_ID
        for node in body.traverse():
            tag = node.tag_id
            if tag in junk_ids:
                junk.append(node)
                if tag == noscript_id:
                    noscripts.append(node)
            elif tag == img_id:
                imgs.append(node)
            elif tag == BASE_ID and base is None and "href" in node.attributes:
                base = node
        base_url = page_base_url(
            page.provenance.url, base.attributes.get("href") if base is not None else None
        )
        no_url, changed = unwrap_noscripts(imgs, noscripts)
        if changed:  # an unwrapped <noscript> moved its children out: look again
            junk = body.css(JUNK_SELECTOR)
        _decompose_in_order(junk)

        # 2. boilerplate regions
        hard, total_imgs = _hard_boilerplate(body)
        _decompose_in_order(hard)
        _decompose_in_order([h for h in body.css("header") if _is_site_header(h)])
        soft = []
        cache = _SOFT_CACHE  # is_boilerplate_name's memo, looked up inline (~500 nodes a page)
        for node in body.css("[class], [id]"):
            if node.tag_id == FIGURE_ID:  # a figure is content by HTML semantics (images.py)
                continue
            a = node.attributes
            cls = a.get("class")
            if cls:
                hit = cache.get(cls)
                if hit or (hit is None and is_boilerplate_name(cls)):
                    soft.append(node)
                    continue
            ident = a.get("id")
            # ids of 4+ hyphenated words are heading anchors ("sharing-with-a-developer").
            if ident and ident.count("-") < 3:
                hit = cache.get(ident)
                if hit or (hit is None and is_boilerplate_name(ident)):
                    soft.append(node)
        if soft:
            total_len = _rough_len(body) or 1
            soft = [n for n in soft if _rough_len(n) < 0.5 * total_len]
            _decompose_in_order(soft)
        deadline.check("after boilerplate removal")

        # 3. link-dense lists
        dense = []
        for lst in body.css("ul, ol"):
            tl = _text_len(lst)
            if tl == 0:
                continue
            links = _link_len(lst)
            if links >= cfg.list_link_density * tl:
                dense.append(lst)
        _decompose_in_order(dense)

        # 4. root choice
        root = body
        # One query for ``main, [role=main]`` and the fallback ``article`` (role values match
        # exactly, as in the selector); a node matching two alternatives comes twice in a row.
        mains, arts = [], []
        last = None
        for node in body.css("main, [role=main], article"):
            key = node.mem_id
            if key == last:
                continue
            last = key
            tag = node.tag_id
            if tag == MAIN_ID or node.attributes.get("role") == "main":
                mains.append(node)
            if tag == ARTICLE_ID:
                arts.append(node)
        best = None
        if mains:
            best = mains[0] if len(mains) == 1 else max(mains, key=_rough_len)
        elif len(arts) == 1:
            best = arts[0]
        if best is not None and _rough_len(best) >= cfg.main_min_share * (_rough_len(body) or 1):
            root = best
        deadline.check("before walk")

        # 5. walk, then 6. classify the blocks
        images = ImageCollector(
            base_url,
            min_px=cfg.min_declared_px,
            max_width=cfg.srcset_max_width,
            keep_svg=cfg.keep_svg,
            max_images=cfg.max_images,
        )
        if no_url:
            images.drop("missing_src", no_url)
        items, blocks, seen_imgs = _walk(root, images, cfg, deadline)
        if total_imgs > seen_imgs:
            images.drop("in_boilerplate", total_imgs - seen_imgs)
        deadline.check("after walk")
        if self._collect is not None:
            self._collect(blocks)
            keep, confidence = [True] * len(blocks), 0.0
        else:
            keep, confidence = _classify(blocks, cfg)
        _keep_captions(items, blocks, keep)
        out = SegmentBuilder()
        for item in items:
            if type(item) is int:
                if keep[item]:
                    out.text(blocks[item].text)
            else:
                out.image(item)
        doc = build_document(page, out.finish(), self.name, images.drops, title)
        doc.meta["extraction_confidence"] = confidence
        return doc


def _in_figcaption(node: LexborNode | None, levels: int = 4) -> bool:
    """Whether a block's opener is (inside) a ``<figcaption>``, within a few levels."""
    for _ in range(levels):
        if node is None:
            return False
        tag = node.tag_id
        if tag == FIGCAPTION_ID:
            return True
        if tag in FIGURE_OR_BODY:
            return False
        node = node.parent
    return False


def _keep_captions(items: list, blocks: list[Block], keep: list[bool]) -> None:
    """A ``<figcaption>`` block next to a kept image stays with it (issue 12: captions stay
    with their image; the block model, scoring text alone, drops short caption lines)."""
    if all(type(item) is int for item in items):
        return  # no image on the page
    for pos, item in enumerate(items):
        if type(item) is not int or keep[item]:
            continue
        neighbours = items[max(pos - 2, 0) : pos] + items[pos + 1 : pos + 3]
        if any(type(n) is not int for n in neighbours) and _in_figcaption(blocks[item].opener):
            keep[item] = True


def _walk(root: LexborNode, images: ImageCollector, cfg: ExtractConfig, deadline: Deadline):
    """One pre-order walk of ``root``: text blocks and kept images in DOM order.

    Returns ``(items, blocks, images_seen)``; ``items`` holds block indices (int) and
    ``ImageRef`` objects in document order. Text nodes accumulate into the current block;
    block elements and ``<br>`` close it and become the next block's opener; an image closes
    the block (so text never spans an image). Link characters are counted per text node: an
    ``<a>`` sets a budget of its own text length, which the text nodes that follow it (its
    descendants, in pre-order) consume, so a link wrapping block elements (teaser cards)
    still marks their text as link text.
    """
    items: list = []
    blocks: list[Block] = []
    buf: list[str] = []
    link_raw = link_budget = 0
    opener = root
    every = cfg.check_every_nodes
    min_chars = cfg.min_block_chars
    seen_imgs = 0
    text_id, block_ids, img_id, a_id, br_id = TEXT_ID, BLOCK_IDS, IMG_ID, A_ID, BR_ID
    n = 0
    for node in root.traverse(include_text=True):
        tag = node.tag_id
        if tag == text_id:
            if link_budget:
                t = node.text_content
                buf.append(t)
                k = len(t)
                take = k if k < link_budget else link_budget
                link_budget -= take
                link_raw += take
            else:
                buf.append(node.text_content)
            continue
        # Elements are counted, text nodes not: the parser merges adjacent text, so a check
        # every ``every`` elements bounds the work between checks just as well.
        n += 1
        if n % every == 0:
            deadline.check(f"at node {n}")
        if tag in block_ids:
            if buf:
                _close_block(buf, opener, link_raw, min_chars, items, blocks)
                buf = []
            link_raw = 0
            if tag != br_id:
                opener = node
        elif tag == a_id:
            link_budget = len(node.text())
        elif tag == img_id:
            seen_imgs += 1
            if linked_teaser(node):
                images.drop("linked_teaser")
                continue
            if avatar_context(node):
                images.drop("avatar")
                continue
            parent = node.parent
            sources = None
            if parent is not None and parent.tag_id == PICTURE_ID:
                sources = [s.attributes for s in parent.css("source")]
            ref = images.consider(node.attributes, sources)
            if ref is not None:
                if buf:
                    _close_block(buf, opener, link_raw, min_chars, items, blocks)
                    buf = []
                link_raw = 0
                items.append(ref)
    if buf:
        _close_block(buf, opener, link_raw, min_chars, items, blocks)
    return items, blocks, seen_imgs


def _close_block(
    buf: list[str], opener, link_raw: int, min_chars: int, items: list, blocks: list[Block]
) -> None:
    """The text nodes gathered since the last block boundary become one block (when it
    holds at least ``min_chars`` characters once whitespace is normalised)."""
    joined = "".join(buf)
    t = " ".join(joined.split())
    if len(t) >= min_chars:
        items.append(len(blocks))
        blocks.append(Block(t, opener, len(joined), link_raw))


def _classify(blocks: list[Block], cfg: ExtractConfig) -> tuple[list[bool], float]:
    """Keep/drop per block from the shipped block model, and the page's confidence: the
    share of its block characters whose probability is at most ``1 - sure`` or at least
    ``sure`` (the text the classifier was sure about either way). No blocks: confidence 0."""
    if not blocks:
        return [], 0.0
    model = load_model()
    p = model.probabilities(blocks, is_boilerplate_name)
    keep = (p >= model.threshold).tolist()
    chars = np.array([len(b.text) for b in blocks], dtype=np.float64)
    sure = (p >= model.sure) | (p <= 1.0 - model.sure)
    total = np.add.reduce(chars)
    confidence = float(np.add.reduce(chars[sure]) / total) if total else 0.0
    return keep, round(confidence, 4)
