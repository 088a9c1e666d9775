"""Block features and the learned main-content block classifier of the fast extractor.

The fast path's DOM walk (``fast.py``) cuts the page into *blocks*: the text between two
block-level boundaries, as in boilerpipe (Kohlschütter et al. 2010, "Boilerplate detection
using shallow text features", WSDM) and dragnet (Peters & Lecocq 2013, "Content extraction
using diverse feature sets", WWW). Each block gets shallow features, computed from what the
walk already touched plus three ``.parent`` hops, and a two-stage model decides whether it
is main content: a logistic regression (stage 1), then gradient-boosted oblivious trees
(stage 2, ``Trees``) over the stage-1 features plus stage 1's smoothed probabilities.

Features of one block (stage 1, ``FEATURES``):

* text shape: log characters, log words, link density (share of its characters inside
  ``<a>``; boilerpipe's strongest feature), punctuation per word, stopword ratio
  (a small multilingual list: function words mark running prose; jusText, Pomikálek 2011),
  digit share, ends-with-sentence-punctuation, mean word length;
* tag of the element that opened the block (paragraph, heading, list item, cell, ...);
* class/id vocabulary of that element and of its three nearest ancestors: the boilerplate
  vocabulary of ``fast.is_boilerplate_name`` and a content vocabulary (``article``,
  ``content``, ``post``, ``entry``, ``story``, ``body``, ``text``; readability's
  "positive" class weights);
* region features, one per ancestor level 1-3: the share of the page's text under that
  ancestor, its link density and its block count (the main article's paragraphs share a
  parent holding most of the page's text; a related-links box holds little text, many
  blocks and many links);
* position: offset of the block in the page's text, whether it lies in the same level-2 /
  level-3 region as the longest block, before or after it; page size (log characters,
  log blocks); link density and log size of the previous and next blocks.

Stage 2 (``STAGE2_FEATURES``) adds the stage-1 logit, the mean stage-1 probability of the
two blocks before and after, and the character-weighted mean stage-1 probability of each
block's level-1/2/3 region: the "content is contiguous" smoothing of dragnet and Web2Text
(Vogels et al. 2018), which pulls in short in-article blocks (subheadings, one-line
paragraphs) and pushes out short blocks surrounded by boilerplate.

Training data, labels and procedure: ``kosmos_data/extract/train_blocks.py``. The model is
a JSON file in ``kosmos_data/assets/`` (stage-1 means, scales and weights; stage-2 tree
features, thresholds and leaf values; the decision threshold) evaluated here with numpy only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np

MODEL_FILE = "block_model.json"

#: Function words of the languages that dominate Common Crawl (en, de, fr, es, it, pt, nl):
#: their share separates running prose from menus, labels and teaser headlines.
STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "as",
        "at",
        "by",
        "from",
        "not",
        "but",
        "have",
        "has",
        "had",
        "he",
        "she",
        "they",
        "we",
        "you",
        "his",
        "her",
        "their",
        "its",
        "our",
        "which",
        "who",
        "will",
        "would",
        "can",
        "der",
        "die",
        "das",
        "und",
        "oder",
        "ist",
        "sind",
        "war",
        "nicht",
        "mit",
        "von",
        "zu",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "einer",
        "auf",
        "für",
        "sich",
        "auch",
        "als",
        "wie",
        "es",
        "er",
        "sie",
        "wir",
        "ich",
        "im",
        "bei",
        "nach",
        "noch",
        "aus",
        "le",
        "la",
        "les",
        "et",
        "ou",
        "est",
        "sont",
        "un",
        "une",
        "des",
        "du",
        "de",
        "dans",
        "pour",
        "pas",
        "sur",
        "au",
        "aux",
        "qui",
        "que",
        "ce",
        "cette",
        "il",
        "elle",
        "nous",
        "vous",
        "ils",
        "avec",
        "par",
        "plus",
        "se",
        "ne",
        "el",
        "los",
        "las",
        "y",
        "o",
        "es",
        "son",
        "un",
        "una",
        "del",
        "en",
        "por",
        "para",
        "con",
        "no",
        "que",
        "se",
        "lo",
        "su",
        "al",
        "como",
        "más",
        "pero",
        "il",
        "lo",
        "gli",
        "e",
        "di",
        "da",
        "per",
        "non",
        "che",
        "si",
        "della",
        "del",
        "una",
        "sono",
        "o",
        "os",
        "as",
        "e",
        "do",
        "da",
        "em",
        "um",
        "uma",
        "não",
        "com",
        "para",
        "que",
        "se",
        "por",
        "mais",
        "het",
        "een",
        "en",
        "van",
        "de",
        "is",
        "niet",
        "met",
        "voor",
        "dat",
        "op",
        "te",
        "zijn",
    ]
)

TAG_GROUPS = {
    "p": 0,
    "h1": 1,
    "h2": 1,
    "h3": 2,
    "h4": 2,
    "h5": 2,
    "h6": 2,
    "li": 3,
    "dt": 7,
    "dd": 7,
    "dl": 7,
    "td": 4,
    "th": 4,
    "tr": 4,
    "table": 4,
    "tbody": 4,
    "thead": 4,
    "tfoot": 4,
    "blockquote": 6,
    "pre": 6,
    "figure": 8,
    "figcaption": 8,
    "caption": 8,
    "header": 9,
    "address": 9,
    "summary": 9,
    "details": 9,
    "legend": 9,
    "fieldset": 9,
    "form": 9,
    "center": 9,
}
#: div, section, article, main, body, ul/ol, br-opened runs and anything else.
OTHER_GROUP = 5
N_TAG_GROUPS = 10

_POSITIVE = re.compile(
    r"article|content|post|entry|story|body|text|main|prose|blog|news|page-?content"
)
_DIGIT = re.compile(r"\d+")  # runs, summed: one match object per number, not per digit
_SENT_END = frozenset('.!?:;"”»)…。')

FEATURES = (
    "log_chars",
    "log_words",
    "link_density",
    "punct_per_word",
    "stop_ratio",
    "digit_share",
    "ends_sentence",
    "mean_word_len",
    *(f"tag_{i}" for i in range(N_TAG_GROUPS)),
    "own_boilerplate_name",
    "own_content_name",
    "anc_boilerplate_name",
    "anc_content_name",
    "region1_share",
    "region2_share",
    "region3_share",
    "region1_links",
    "region2_links",
    "region3_links",
    "region1_log_blocks",
    "region2_log_blocks",
    "region3_log_blocks",
    "offset",
    "log_page_chars",
    "log_page_blocks",
    "with_longest_r2",
    "with_longest_r3",
    "before_longest",
    "after_longest",
    "prev_links",
    "next_links",
    "prev_log_chars",
    "next_log_chars",
)
STAGE2_FEATURES = (
    *FEATURES,
    "s1_logit",
    "s1_prev2",
    "s1_next2",
    "s1_region1",
    "s1_region2",
    "s1_region3",
)


class Block:
    """One text block of the walk: normalised text, the element that opened it, and the
    raw character counts (all text / text inside links) of its text nodes."""

    __slots__ = ("link_raw", "opener", "raw", "text")

    def __init__(self, text: str, opener, raw: int, link_raw: int) -> None:
        self.text = text
        self.opener = opener
        self.raw = raw
        self.link_raw = link_raw


_NAMES_CACHE: dict[str, tuple[float, float]] = {}


def _names(node, is_boilerplate_name) -> tuple[float, float]:
    """(boilerplate name, content name) of an element's class and id; memoised on the
    attribute text, which repeats within and across pages of a site."""
    attrs = node.attributes
    cls = attrs.get("class")
    ident = attrs.get("id")
    if not cls and not ident:
        return 0.0, 0.0
    s = f"{cls or ''} {ident or ''}"
    hit = _NAMES_CACHE.get(s)
    if hit is None:
        if len(_NAMES_CACHE) >= 65536:
            _NAMES_CACHE.clear()
        hit = _NAMES_CACHE[s] = (
            float(is_boilerplate_name(s)),
            float(_POSITIVE.search(s.lower()) is not None),
        )
    return hit


def _ancestry(parent, region_ids, name_cache, is_boilerplate_name):
    """Region indices of ``parent`` and its two nearest ancestors (levels 1-3; missing
    levels get negative placeholders), and whether any of them has a boilerplate / content
    class or id."""
    r = [0, 0, 0]
    anc_bp = anc_pos = 0.0
    node = parent
    for level in range(3):
        if node is None:
            r[level] = -1 - level
            continue
        nid = node.mem_id
        idx = region_ids.get(nid)
        if idx is None:
            idx = region_ids[nid] = len(region_ids)
        r[level] = idx
        pn = name_cache.get(nid)
        if pn is None:
            pn = name_cache[nid] = _names(node, is_boilerplate_name)
        if pn[0] > anc_bp:
            anc_bp = pn[0]
        if pn[1] > anc_pos:
            anc_pos = pn[1]
        node = node.parent
    return r, anc_bp, anc_pos


def block_features(blocks: list[Block], is_boilerplate_name) -> tuple[np.ndarray, np.ndarray]:
    """Stage-1 feature matrix (``len(blocks) x len(FEATURES)``) and the region index
    matrix (``len(blocks) x 3``, ancestor levels 1-3) used by stage 2.

    This runs on every page of the fast path, so the text-shape features are counted for the
    whole page at once (``_text_counts``), the per-block loop only reads each opener's names
    and computes each parent's ancestry once (``_ancestry``), and the matrix is filled in
    place (``_assemble``)."""
    n = len(blocks)
    texts = []
    raws = []
    link_raws = []
    tags = []
    name_rows = []
    regs = []
    name_cache: dict[int, tuple[float, float]] = {}
    region_ids: dict[int, int] = {}
    above: dict[int, tuple[list[int], float, float]] = {}
    groups = TAG_GROUPS
    for b in blocks:
        texts.append(b.text)
        raws.append(b.raw)
        link_raws.append(b.link_raw)
        op = b.opener
        key = op.mem_id
        nm = name_cache.get(key)
        if nm is None:
            nm = name_cache[key] = _names(op, is_boilerplate_name)
        parent = op.parent
        if parent is None:
            r, anc_bp, anc_pos = [-1, -2, -3], 0.0, 0.0  # page root: one region per level
        else:
            pid = parent.mem_id
            up = above.get(pid)
            if up is None:
                # Regions and names of the parent and its two ancestors: computed once per
                # parent, since sibling blocks (an article's paragraphs) share them.
                up = above[pid] = _ancestry(parent, region_ids, name_cache, is_boilerplate_name)
            r, anc_bp, anc_pos = up
        regs.append(r)
        tags.append(groups.get(op.tag, OTHER_GROUP))
        name_rows.append((nm[0], nm[1], anc_bp, anc_pos))
    regions = np.array(regs, dtype=np.int64).reshape(n, 3)
    # Missing ancestors (negative ids) get their own region indices after the real ones.
    neg = regions < 0
    if np.logical_or.reduce(neg, axis=None):
        regions[neg] = len(region_ids) - 1 - regions[neg]
    if not n:
        return np.zeros((0, len(FEATURES))), regions
    x = np.empty((n, len(FEATURES)))
    nc, nw, punct, stop, digits, ends = _text_counts(texts)
    raw = np.array(raws, dtype=np.float64)
    link_raw = np.array(link_raws, dtype=np.float64)
    # Columns 0-7 as the per-block formulas: ``min(1, link_raw / raw) if raw else 0``,
    # ``punct / words``, ``stopwords / words``, ``digits / chars if chars else 0``,
    # ``min(15, chars / words)`` (``words`` at least 1; ints, so the divisions are exact).
    x[:, 0] = nc
    x[:, 1] = nw
    # (a zero divisor is replaced by 1 where the 0 branch is taken anyway: no warnings.)
    x[:, 2] = np.where(raw > 0, np.minimum(1.0, link_raw / np.maximum(raw, 1.0)), 0.0)
    x[:, 5] = np.where(nc > 0, digits / np.maximum(nc, 1), 0.0)
    x[:, 3] = punct / nw
    x[:, 4] = stop / nw
    x[:, 6] = ends
    x[:, 7] = np.minimum(15.0, nc / nw)
    x[:, 8 : 8 + N_TAG_GROUPS] = np.array(tags)[:, None] == np.arange(N_TAG_GROUPS)
    x[:, 8 + N_TAG_GROUPS : 12 + N_TAG_GROUPS] = name_rows
    _assemble(x, regions)
    return x, regions


#: Per BMP code point: 1 = counted punctuation, 2 = decimal digit (``\\d``, Unicode Nd),
#: 4 = the space that joins a normalised block's words, 8 = any other whitespace, 16 = ends a
#: sentence (``_SENT_END``). Astral code points are looked up one by one (``_char_bits``).
_PUNCT = ".,;:!?"


def _char_bits(ch: str) -> int:
    return (
        (1 if ch in _PUNCT else 0)
        | (2 if ch.isdecimal() else 0)
        | (4 if ch == " " else 8 if ch.isspace() else 0)
        | (16 if ch in _SENT_END else 0)
    )


def _char_bits_table() -> np.ndarray:
    """``_char_bits`` of every BMP code point, built with ``re``'s C loops (``\\d`` and
    ``\\s`` of a ``str`` pattern are ``str.isdecimal`` and ``str.isspace``): a Python call per
    code point cost ~0.1 CPU-s, paid by every worker that loads the extractor."""
    bmp = "".join(map(chr, range(0x10000)))
    table = np.zeros(0x10000, dtype=np.uint8)
    for pattern, bit in ((r"\d", 2), (r"\s", 8)):
        table[[m.start() for m in re.finditer(pattern, bmp)]] |= bit
    table[ord(" ")] ^= 8 | 4  # the joining space: 4, not "other whitespace"
    table[[ord(c) for c in _PUNCT]] |= 1
    table[[ord(c) for c in _SENT_END if ord(c) < 0x10000]] |= 16
    return table


_CHAR_BITS = _char_bits_table()


def _text_counts(texts: list[str]):
    """Per block: characters, words (``len(text.lower().split()) or 1``, plus half a word per
    character of a script without spaces), punctuation characters (``.,;:!?`` and fullwidth
    ``_FULLWIDTH_PUNCT``), stopwords among the lower-cased words (plus ``_UNSPACED_STOP``
    characters), decimal digits (what the ``\\d`` runs of ``re`` cover) and whether the last
    character ends a sentence.

    Block texts are whitespace-normalised (words joined by single spaces), so one pass over
    the page's code points counts characters per block (numpy: a lookup table packs the
    punctuation, digit and space counts into one int64 per character, and one cumulative sum
    gives all three per block), and the words of all blocks are split and looked up at once;
    a text that is not normalised (a block built by hand) takes the per-block path."""
    joined = " ".join(texts)
    size = len(joined)
    lens = np.array([len(t) for t in texts], dtype=np.int64)
    if not size or size >= _FIELD_MAX or not lens.all():
        return _text_counts_slow(texts, lens)
    code = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    astral = code.max() > 0xFFFF
    bmp = np.minimum(code, 0xFFFF) if astral else code
    normalised = "  " not in joined and joined[0] != " " and joined[-1] != " "
    # Whitespace other than the space is non-printable, so the table is consulted only when
    # the text holds some non-printable character (soft hyphens, zero-width spaces...).
    if normalised and not joined.isprintable():
        normalised = not (_CHAR_BITS[bmp] & 8).any()
    if not normalised:
        return _text_counts_slow(texts, lens)
    weights = _CHAR_WEIGHTS[bmp]
    if astral:
        where = np.flatnonzero(code > 0xFFFF)
        weights[where] = [_char_weight(chr(c)) for c in code[where].tolist()]
    cum = np.empty(size + 1, dtype=np.int64)
    cum[0] = 0
    weights.cumsum(out=cum[1:])
    ends_at = lens.cumsum() + np.arange(len(texts))  # each block's end in ``joined``
    counts = cum[ends_at] - cum[ends_at - lens]
    nw = (counts >> (2 * _FIELD_BITS)) + 1
    words = joined.lower().split(" ")
    word_end = nw.cumsum()
    if len(words) != word_end[-1]:  # lower-casing never adds or removes a space
        return _text_counts_slow(texts, lens)
    stop_at = np.empty(len(words) + 1, dtype=np.int64)
    stop_at[0] = 0
    np.fromiter(map(STOPWORDS.__contains__, words), bool, len(words)).cumsum(out=stop_at[1:])
    stop = stop_at[word_end] - stop_at[word_end - nw]
    ends = [t[-1] in _SENT_END for t in texts]
    mask = _FIELD_MAX - 1
    punct = counts & mask
    if not joined.isascii():  # scripts without spaces (``_UNSPACED_RANGES``)
        unspaced = _UNSPACED_WEIGHTS[bmp]  # astral code points: U+FFFF, no weight
        if unspaced.any():
            unspaced.cumsum(out=cum[1:])
            extra = cum[ends_at] - cum[ends_at - lens]
            nw = nw + 0.5 * (extra & mask)
            stop = stop + ((extra >> _FIELD_BITS) & mask)
            punct = punct + (extra >> (2 * _FIELD_BITS))
    return lens, nw, punct, stop, (counts >> _FIELD_BITS) & mask, ends


#: ``_text_counts`` packs three per-character counts into one int64: punctuation in bits
#: 0-20, decimal digits in 21-41, spaces in 42-62 (pages of up to 2**21 - 1 characters of
#: block text; longer ones take the per-block path).
_FIELD_BITS = 21
_FIELD_MAX = 1 << _FIELD_BITS


def _char_weight(ch: str) -> int:
    bits = _char_bits(ch)
    return (bits & 1) | ((bits >> 1) & 1) << _FIELD_BITS | ((bits >> 2) & 1) << (2 * _FIELD_BITS)


_CHAR_WEIGHTS = (
    (_CHAR_BITS & 1).astype(np.int64)
    | ((_CHAR_BITS >> 1) & 1).astype(np.int64) << _FIELD_BITS
    | ((_CHAR_BITS >> 2) & 1).astype(np.int64) << (2 * _FIELD_BITS)
)


def _text_counts_slow(texts: list[str], lens: np.ndarray):
    nw, punct, stop, digits, ends = [], [], [], [], []
    sw = STOPWORDS.__contains__
    for t in texts:
        words = t.lower().split()
        n_words, n_punct, n_stop = len(words) or 1, sum(map(t.count, _PUNCT)), sum(map(sw, words))
        if not t.isascii():
            code = np.frombuffer(t.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            extra = int(_UNSPACED_WEIGHTS[np.minimum(code, 0xFFFF)].sum())
            mask = _FIELD_MAX - 1
            n_words += 0.5 * (extra & mask)
            n_stop += (extra >> _FIELD_BITS) & mask
            n_punct += extra >> (2 * _FIELD_BITS)
        nw.append(n_words)
        punct.append(n_punct)
        stop.append(n_stop)
        digits.append(sum(map(len, _DIGIT.findall(t))))
        ends.append(bool(t) and t[-1] in _SENT_END)
    return lens, np.array(nw), np.array(punct), np.array(stop), np.array(digits), np.array(ends)


#: Scripts written without spaces between words: Thai and Lao, Myanmar, Khmer, kana, Han
#: (with compatibility ideographs) and halfwidth katakana. ``str.split`` sees a whole
#: sentence of them as one word, so the word-based features (words, punctuation and
#: stopwords per word, mean word length) called any Chinese or Japanese paragraph a single
#: 15-character word. Each of their characters counts half a word (Chinese words average
#: about 1.5-2 characters), their function characters count as stopwords and fullwidth
#: punctuation as punctuation, so such a paragraph has the shape of prose again.
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),
)
#: Chinese particles, pronouns, copulas and aspect markers; Japanese particles.
_UNSPACED_STOP = "的了是在和也就都而与着之这那有不我你他们のはがをにでとも"
_FULLWIDTH_PUNCT = "。，、；：！？"


def _unspaced_weights() -> np.ndarray:
    """Per BMP code point, ``_text_counts``' packed int64 (fields of ``_FIELD_BITS``): an
    unspaced-script character in field 0, one of its function characters in field 1,
    fullwidth punctuation in field 2."""
    table = np.zeros(0x10000, dtype=np.int64)
    for lo, hi in _UNSPACED_RANGES:
        table[lo : hi + 1] = 1
    table[[ord(c) for c in _UNSPACED_STOP]] += 1 << _FIELD_BITS
    table[[ord(c) for c in _FULLWIDTH_PUNCT]] += 1 << (2 * _FIELD_BITS)
    return table


_UNSPACED_WEIGHTS = _unspaced_weights()


_add = np.add.reduce
_max = np.maximum.reduce


def _assemble(x: np.ndarray, regions: np.ndarray) -> None:
    """Fill the page and region columns of ``x`` (from column 22 on) and turn columns 0-1
    (characters, words) into their logs."""
    n = x.shape[0]
    chars = x[:, 0]
    links = x[:, 2] * chars
    # ufunc reductions and C-level methods: ``ndarray.sum``/``max`` and ``np.cumsum`` go
    # through Python wrappers, which cost as much as the work on a page's few dozen blocks.
    total = _add(chars) or 1.0
    nreg = int(_max(regions, axis=None)) + 1
    col = 12 + N_TAG_GROUPS
    for level in range(3):
        r = regions[:, level]
        c = np.bincount(r, weights=chars, minlength=nreg)
        lk = np.bincount(r, weights=links, minlength=nreg)
        k = np.bincount(r, minlength=nreg)
        cr = c[r]
        x[:, col + level] = cr / total
        x[:, col + 3 + level] = lk[r] / np.maximum(cr, 1.0)
        x[:, col + 6 + level] = np.log1p(k[r])
    col += 9
    x[:, col] = (chars.cumsum() - chars) / total
    x[:, col + 1] = math.log1p(total)
    x[:, col + 2] = math.log1p(n)
    longest = int(chars.argmax())
    x[:, col + 3] = regions[:, 1] == regions[longest, 1]
    x[:, col + 4] = regions[:, 2] == regions[longest, 2]
    x[:longest, col + 5] = 1.0
    x[longest:, col + 5] = 0.0
    x[: longest + 1, col + 6] = 0.0
    x[longest + 1 :, col + 6] = 1.0
    lc = np.log1p(chars)
    x[0, col + 7] = 1.0
    x[1:, col + 7] = x[:-1, 2]
    x[:-1, col + 8] = x[1:, 2]
    x[-1, col + 8] = 1.0
    x[0, col + 9] = 0.0
    x[1:, col + 9] = lc[:-1]
    x[:-1, col + 10] = lc[1:]
    x[-1, col + 10] = 0.0
    x[:, 0] = lc
    x[:, 1] = np.log1p(x[:, 1])


def stage2_features(
    x1: np.ndarray, logit1: np.ndarray, regions: np.ndarray, chars: np.ndarray
) -> np.ndarray:
    """Stage-2 matrix: stage-1 features plus the smoothed stage-1 probabilities."""
    n = x1.shape[0]
    p = 1.0 / (1.0 + np.exp(-logit1))
    pad = np.concatenate(([0.0, 0.0], p, [0.0, 0.0]))
    prev2 = (pad[1 : n + 1] + pad[0:n]) / 2.0
    next2 = (pad[3 : n + 3] + pad[4 : n + 4]) / 2.0
    nreg = int(_max(regions, axis=None)) + 1 if n else 1
    k = x1.shape[1]
    x2 = np.empty((n, k + 6))
    x2[:, :k] = x1
    x2[:, k] = logit1
    x2[:, k + 1] = prev2
    x2[:, k + 2] = next2
    weighted = chars * p
    for level in range(3):
        r = regions[:, level]
        c = np.bincount(r, weights=chars, minlength=nreg)
        pc = np.bincount(r, weights=weighted, minlength=nreg)
        x2[:, k + 3 + level] = pc[r] / np.maximum(c[r], 1.0)
    return x2


@dataclass(frozen=True)
class Linear:
    """Standardised logistic regression: ``logit = ((x - mean) / scale) @ w + b``."""

    mean: np.ndarray
    scale: np.ndarray
    w: np.ndarray
    b: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.w + self.b

    @classmethod
    def from_json(cls, d: dict) -> Linear:
        return cls(np.asarray(d["mean"]), np.asarray(d["scale"]), np.asarray(d["w"]), float(d["b"]))


@dataclass(frozen=True)
class BlockModel:
    stage1: Linear
    stage2: Trees
    threshold: float
    #: Probabilities at most ``1 - sure`` or at least ``sure`` count as "sure" decisions.
    sure: float

    def probabilities(self, blocks: list[Block], is_boilerplate_name) -> np.ndarray:
        if not blocks:
            return np.zeros(0)
        x1, regions = block_features(blocks, is_boilerplate_name)
        return self.probabilities_from(x1, regions)

    def probabilities_from(self, x1: np.ndarray, regions: np.ndarray) -> np.ndarray:
        l1 = self.stage1.logit(x1)
        x2 = stage2_features(x1, l1, regions, np.expm1(x1[:, 0]))
        return 1.0 / (1.0 + np.exp(-self.stage2.logit(x2)))

    @classmethod
    def from_json(cls, d: dict) -> BlockModel:
        if tuple(d["features"]) != FEATURES or tuple(d["stage2_features"]) != STAGE2_FEATURES:
            raise ValueError("block model features do not match this code; retrain it")
        return cls(
            Linear.from_json(d["stage1"]),
            Trees.from_json(d["stage2"]),
            float(d["threshold"]),
            float(d["sure"]),
        )


@lru_cache(maxsize=1)
def load_model() -> BlockModel:
    """The shipped model (``kosmos_data/assets/block_model.json``), loaded once per process."""
    text = resources.files("kosmos_data").joinpath("assets", MODEL_FILE).read_text("utf-8")
    return BlockModel.from_json(json.loads(text))


@dataclass(frozen=True)
class Trees:
    """Gradient-boosted oblivious trees (one (feature, threshold) per level, as in CatBoost;
    Prokhorenkova et al. 2018): ``logit = base + sum_t leaf[t, index_t(x)]`` where
    ``index_t`` sets bit ``l`` when ``x[feature[t, l]] > threshold[t, l]``. All trees are
    evaluated at once with a handful of numpy calls."""

    feature: np.ndarray  # (T, D) int
    threshold: np.ndarray  # (T, D) float
    leaf: np.ndarray  # (T, 2**D) float
    base: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        t, d = self.feature.shape
        cols, thresholds, weights, offsets = self._flat
        # All levels at once: bits[:, l, j] = x[feature[j, l]] > threshold[j, l].
        bits = (x[:, cols] > thresholds).reshape(x.shape[0], d, t)
        idx = offsets + np.add.reduce(bits * weights, axis=1)
        return self.base + np.add.reduce(np.take(self.leaf, idx), axis=1)

    @cached_property
    def _flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Level-major feature columns and thresholds, each level's bit weight and each
        tree's row offset into the flattened leaf table."""
        t, d = self.feature.shape
        return (
            self.feature.T.ravel(),
            self.threshold.T.ravel(),
            (np.int64(1) << np.arange(d, dtype=np.int64))[:, None],
            np.arange(t, dtype=np.int64) << d,
        )

    @classmethod
    def from_json(cls, d: dict) -> Trees:
        return cls(
            np.asarray(d["feature"], dtype=np.int64),
            np.asarray(d["threshold"], dtype=np.float64),
            np.asarray(d["leaf"], dtype=np.float64),
            float(d["base"]),
        )
