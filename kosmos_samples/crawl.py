"""A deterministic, generated sample crawl: the project's own test and benchmark data.

The project must not ship third-party crawl data, yet its demo, unit tests and benchmarks need
WARC files that look like Common Crawl's: per-record gzip members, a ``warcinfo`` record per file,
``request`` + ``response`` + ``metadata`` per page, and pages whose mix of good, bad and broken
content exercises every decision the pipeline makes. This module generates such a crawl from a
seed, byte-identical on every run, together with a manifest that says, page by page, what the
pipeline is expected to do with it (see :class:`PageSpec`), so tests can check decisions instead
of eyeballing output.

Determinism: every random choice comes from a ``random.Random`` seeded with a string derived from
the config seed and the page index (string seeds are hashed with SHA-512, independent of
``PYTHONHASHSEED``); dates, record ids and IPs derive from the same; gzip members are written with
``mtime=0``. Nothing iterates over an unordered container.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from kosmos_samples import crawl_text as T

# --- Public vocabulary --------------------------------------------------------------------------

#: Page kinds, in the order the manifest documents them.
KINDS: tuple[str, ...] = (
    "good",  # English interleaved article with content images: the pipeline should keep it
    "no_image",  # English article without any <img: the cheap pre-filter should drop it
    "non_english",  # German or French article with images: the language filter drops it
    "low_quality",  # spam, lorem ipsum, link directories, tiny pages: a quality rule drops it
    "non_html",  # image/jpeg and PDF bodies, 404s and 301s: dropped before parsing HTML
    "legacy_charset",  # charset only in <meta> (cp1252/latin-1) or only in HTTP (SJIS/KOI8-R)
    "malformed",  # garbage HTTP header block or broken chunked body: dead-lettered
    "duplicate",  # byte-identical copy of a good page under another URL
    "near_duplicate",  # a good page with a few words changed, under another URL
)

#: Default proportions (fractions of ``num_pages``), roughly what a CC sample looks like after
#: the pages without any chance of being useful are taken out.
DEFAULT_MIX: tuple[tuple[str, float], ...] = (
    ("good", 0.50),
    ("no_image", 0.15),
    ("non_english", 0.08),
    ("low_quality", 0.08),
    ("non_html", 0.08),
    ("legacy_charset", 0.03),
    ("malformed", 0.01),
    ("duplicate", 0.035),
    ("near_duplicate", 0.035),
)

#: Sub-kinds, assigned round-robin within a kind (in page order) so each appears when the kind
#: has enough pages. For ``good`` the pattern sets the image-count class: ~30% single-image (the
#: KOSMOS-1 "drop half of the single-image documents" rule), ~20% with more than five images (the
#: per-document image cap), the rest with two to five.
SUBKINDS: dict[str, tuple[str, ...]] = {
    "good": (
        "single_image", "multi_image", "many_images", "multi_image", "single_image",
        "multi_image", "multi_image", "single_image", "many_images", "multi_image",
    ),
    "no_image": ("article",),
    "non_english": ("de", "fr"),
    "low_quality": ("keyword_spam", "lorem_ipsum", "link_directory", "too_short", "symbol_spam"),
    "non_html": ("image_jpeg", "application_pdf", "http_404", "http_301"),
    "legacy_charset": (
        "windows-1252_meta", "iso-8859-1_meta", "windows-1252_meta", "shift_jis_http",
        "iso-8859-1_meta", "koi8-r_http",
    ),
    "malformed": ("garbage_http_header", "broken_chunked"),
    "duplicate": ("exact",),
    "near_duplicate": ("few_words_changed",),
}  # fmt: skip

#: Quality rule each low-quality sub-kind is built to trip (names are descriptive, not the
#: pipeline's reason strings: tests map them).
QUALITY_RULES: dict[str, str] = {
    "keyword_spam": "gopher_repetition",
    "lorem_ipsum": "lorem_ipsum",
    "link_directory": "link_density",
    "too_short": "gopher_min_words",
    "symbol_spam": "gopher_symbol_ratio",
}

#: Outcomes used in :attr:`PageSpec.expect` and :attr:`PageSpec.accept`.
OUTCOMES: tuple[str, ...] = (
    "keep",
    "drop_sampled",  # the KOSMOS-1 random drop of single-image documents
    "drop_prefilter",  # no <img, not HTML, not HTTP 200
    "drop_language",
    "drop_quality",
    "drop_duplicate",  # one copy of each duplicate group survives dedup
    "dead_letter",  # unreadable input
)

IMAGE_HOSTS = ("img.example-cdn.test", "cdn.static-images.test", "media.photohost.test")
AD_HOST = "ads.adnetwork.test"
TRACKER_URL = "https://pixel.tracker.test/p.gif?id="
SHARE_ICONS = ("twitter", "facebook", "linkedin", "email")

# --- Config -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleCrawlConfig:
    """What to generate. Equal configs give byte-identical crawls."""

    num_pages: int = 400
    num_files: int = 2
    seed: int = 0
    #: 0 = natural small pages (a few KB); >0 pads each HTML page with realistic bulk (inline
    #: scripts, CSS, JSON-LD, mega-menus, wrapper divs) to about this many KB, for benchmarks.
    page_kb: int = 0
    #: Page hosts; ``{n}`` is replaced by a host number in ``range(num_hosts)``.
    base_url: str = "https://www.example-{n}.test/"
    num_hosts: int = 40
    include_request_records: bool = True
    include_metadata_records: bool = True
    #: Cut the last gzip member of the last file in half, so readers must dead-letter it.
    include_corrupt_tail: bool = False
    mix: tuple[tuple[str, float], ...] = DEFAULT_MIX
    #: gzip level for the members; 6 keeps generation fast, CC uses the default too.
    compresslevel: int = 6

    def __post_init__(self) -> None:
        if not isinstance(self.num_pages, int) or self.num_pages < 1:
            raise ValueError(f"num_pages must be an int >= 1, got {self.num_pages!r}")
        if not isinstance(self.num_files, int) or not 1 <= self.num_files <= self.num_pages:
            raise ValueError(f"num_files must be in [1, num_pages], got {self.num_files!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if not isinstance(self.page_kb, int) or not 0 <= self.page_kb <= 4096:
            raise ValueError(f"page_kb must be an int in [0, 4096], got {self.page_kb!r}")
        if (
            "{n}" not in self.base_url
            or not self.base_url.startswith(("http://", "https://"))
            or not self.base_url.endswith("/")
        ):
            raise ValueError(
                f"base_url must be an http(s) URL ending in '/' containing '{{n}}', "
                f"got {self.base_url!r}"
            )
        if not isinstance(self.num_hosts, int) or self.num_hosts < 1:
            raise ValueError(f"num_hosts must be an int >= 1, got {self.num_hosts!r}")
        if not 0 <= self.compresslevel <= 9:
            raise ValueError(f"compresslevel must be in [0, 9], got {self.compresslevel!r}")
        names = [k for k, _ in self.mix]
        bad = [k for k in names if k not in KINDS]
        if bad or len(set(names)) != len(names):
            raise ValueError(f"mix must name each of {KINDS} at most once, got {names!r}")
        if any(w < 0 for _, w in self.mix) or sum(w for _, w in self.mix) <= 0:
            raise ValueError(f"mix weights must be >= 0 with a positive sum, got {self.mix!r}")
        dup_w = sum(w for k, w in self.mix if k in ("duplicate", "near_duplicate"))
        if dup_w > 0 and dict(self.mix).get("good", 0) <= 0:
            raise ValueError("mix: duplicate kinds need a positive 'good' weight to copy from")


# --- Manifest -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSpec:
    """One content image. Every real URL of the image contains ``image_id``."""

    image_id: str
    url: str  # resolved src the browser loads first (data-src for lazy images)
    best_url: str  # resolved largest candidate (srcset / <picture> source), else == url
    candidates: tuple[str, ...]  # every resolved real URL of this image in the markup
    markup: str  # "src" | "srcset" | "data-src" | "picture"
    url_form: str  # "absolute" | "protocol_relative" | "root_relative" | "page_relative"
    alt: str
    caption: str
    width: int
    height: int
    position: int  # number of main-content paragraphs before the image


@dataclass(frozen=True)
class PageSpec:
    """What one page is and what the pipeline should do with it (one line of manifest.jsonl)."""

    index: int
    url: str
    kind: str
    subkind: str
    expect: str  # the primary expected outcome, one of OUTCOMES
    accept: tuple[str, ...]  # every outcome a correct pipeline may produce
    warc_file: str
    record_id: str  # WARC-Record-ID of the response record
    http_status: int | None  # None when the HTTP header block is garbage
    mime_type: str | None
    charset: str | None  # the encoding the body is really in
    charset_source: str | None  # "http" | "meta" | None
    lang: str | None
    title: str | None
    paragraphs: tuple[str, ...]  # main-content text, in order
    images: tuple[ImageSpec, ...]  # content images, in order
    boilerplate_image_urls: tuple[str, ...]  # logo, share icons, ad, tracking pixel
    boilerplate_texts: tuple[str, ...]  # cookie banner, comments, footer snippets
    quality_rule: str | None = None
    duplicate_of: int | None = None
    body_bytes: int = 0
    corrupt_tail: bool = False

    @property
    def word_count(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


def expected_manifest(config: SampleCrawlConfig) -> list[PageSpec]:
    """The manifest of the crawl ``config`` generates, without writing anything."""
    return [p.spec for p in _plan(config)]


def read_manifest(path: str | Path) -> list[dict]:
    """Load a ``manifest.jsonl`` written by :func:`generate_crawl` (one dict per page)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def warc_file_names(config: SampleCrawlConfig) -> list[str]:
    return [f"sample-{k:05d}.warc.gz" for k in range(config.num_files)]


def expected_record_counts(config: SampleCrawlConfig) -> dict[str, int]:
    """Records per WARC file (warcinfo included), as a complete reader sees them.

    With ``include_corrupt_tail`` the last page's metadata record is left out so the truncated
    member is its response; the count still includes that response.
    """
    per_page = 1 + int(config.include_request_records) + int(config.include_metadata_records)
    names = warc_file_names(config)
    counts = dict.fromkeys(names, 1)
    for i in range(config.num_pages):
        counts[names[_file_of(config, i)]] += per_page
    if config.include_corrupt_tail and config.include_metadata_records:
        counts[names[-1]] -= 1
    return counts


def generate_crawl(out_dir: str | Path, config: SampleCrawlConfig) -> list[Path]:
    """Write ``out_dir/sample-NNNNN.warc.gz`` and ``out_dir/manifest.jsonl``; return the WARCs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pages = _plan(config)
    names = warc_file_names(config)
    members: list[list[bytes]] = [[] for _ in names]
    for k, name in enumerate(names):
        members[k].append(_gz(config, _warcinfo_record(config, k, name)))
    for p in pages:
        k = _file_of(config, p.spec.index)
        for rec in _page_records(config, p, names[k]):
            members[k].append(_gz(config, rec))
    if config.include_corrupt_tail:
        last = members[-1][-1]
        members[-1][-1] = last[: len(last) // 2]
    paths = []
    for name, ms in zip(names, members, strict=True):
        path = out / name
        path.write_bytes(b"".join(ms))
        paths.append(path)
    with open(out / "manifest.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for p in pages:
            f.write(p.spec.to_json() + "\n")
    return paths


# --- Planning -----------------------------------------------------------------------------------


@dataclass
class _Img:
    image_id: str
    markup: str
    url_form: str
    host: str
    alt: str
    caption: str
    width: int
    height: int
    position: int


@dataclass
class _Content:
    """An article's content, independent of URL and markup bulk (so duplicates can share it)."""

    lang: str
    title: str
    paragraphs: list[str]
    images: list[_Img]
    site: str
    author: str
    base_href: str | None
    nav_labels: tuple[str, ...]


@dataclass
class _Page:
    spec: PageSpec
    http_block: bytes  # status line + headers + body, exactly as stored in the record
    payload_digest: bool = True  # False when the header block cannot be split from the body
    ip: str = ""
    date: str = ""


def _file_of(config: SampleCrawlConfig, i: int) -> int:
    return i * config.num_files // config.num_pages


def _allocate(config: SampleCrawlConfig) -> list[str]:
    """Kind per page: largest-remainder counts from the mix, shuffled by the seed."""
    mix = [(k, w) for k, w in config.mix if w > 0]
    total = sum(w for _, w in mix)
    exact = [(k, w / total * config.num_pages) for k, w in mix]
    counts = {k: int(x) for k, x in exact}
    rest = config.num_pages - sum(counts.values())
    for k, _ in sorted(exact, key=lambda kx: (-(kx[1] - int(kx[1])), KINDS.index(kx[0])))[:rest]:
        counts[k] += 1
    if counts.get("good", 0) == 0 and counts.get("duplicate", 0) + counts.get("near_duplicate", 0):
        counts["good"] = counts.pop("duplicate", 0) + counts.pop("near_duplicate", 0)
    kinds = [k for k in KINDS for _ in range(counts.get(k, 0))]
    random.Random(f"samplecrawl/{config.seed}/order").shuffle(kinds)
    return kinds


def _plan(config: SampleCrawlConfig) -> list[_Page]:
    kinds = _allocate(config)
    names = warc_file_names(config)
    seen: dict[str, int] = {}
    subkinds = []
    for kind in kinds:
        n = seen.get(kind, 0)
        seen[kind] = n + 1
        subkinds.append(SUBKINDS[kind][n % len(SUBKINDS[kind])])
    pages: list[_Page | None] = [None] * len(kinds)
    contents: dict[int, _Content] = {}
    # Originals first, then the copies that need them.
    for i, (kind, sub) in enumerate(zip(kinds, subkinds, strict=True)):
        if kind not in ("duplicate", "near_duplicate"):
            pages[i] = _build_page(config, i, kind, sub, names, contents)
    good = [i for i, k in enumerate(kinds) if k == "good"]
    for i, (kind, sub) in enumerate(zip(kinds, subkinds, strict=True)):
        if kind in ("duplicate", "near_duplicate"):
            rng = _rng(config, i)
            earlier = [g for g in good if g < i]
            src = rng.choice(earlier or good)
            pages[i] = _build_copy(config, i, kind, sub, names, pages[src], contents[src])
    if config.include_corrupt_tail:
        last = pages[-1]
        assert last is not None
        _replace_spec(last, corrupt_tail=True, expect="dead_letter", accept=("dead_letter",))
    return [p for p in pages if p is not None]


def _replace_spec(page: _Page, **changes) -> _Page:
    d = {f: getattr(page.spec, f) for f in PageSpec.__dataclass_fields__}
    d.update(changes)
    page.spec = PageSpec(**d)
    return page


def _rng(config: SampleCrawlConfig, i: int, salt: str = "") -> random.Random:
    return random.Random(f"samplecrawl/{config.seed}/{i}/{salt}")


def _record_id(config: SampleCrawlConfig, key: str) -> str:
    digest = hashlib.sha1(f"samplecrawl/{config.seed}/{key}".encode()).digest()
    return f"<urn:uuid:{uuid.UUID(bytes=digest[:16], version=4)}>"


def _date(config: SampleCrawlConfig, i: int) -> datetime:
    base = datetime(2025, 8, 1, tzinfo=UTC) + timedelta(days=config.seed % 28)
    return base + timedelta(seconds=37 * i + 11)


def _page_url(config: SampleCrawlConfig, rng: random.Random, i: int, slug: str, ext: str) -> str:
    host = config.base_url.replace("{n}", str(rng.randrange(config.num_hosts)))
    section = rng.choice(("news", "blog", "articles", "stories", "features", "guides"))
    return f"{host}{section}/2025/{rng.randint(1, 7):02d}/{slug}-{i}{ext}"


def _slug(title: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in title.lower())
    return "-".join(w for w in out.split("-") if w)[:60] or "page"


# --- Text grammars ------------------------------------------------------------------------------


def _fill(rng: random.Random, template: str, nouns: Sequence[str]) -> str:
    """Fill an English template. Only the slots the template names are drawn."""
    slots = {}
    for key, pool in (
        ("{N}", nouns),
        ("{N2}", nouns),
        ("{A}", T.ADJECTIVES),
        ("{A2}", T.ADJECTIVES),
        ("{ADV}", T.ADVERBS),
        ("{VP}", T.VERBS_PAST),
        ("{VS}", T.VERBS_PRESENT),
        ("{VB}", T.VERBS_BASE),
        ("{P}", T.PEOPLE),
        ("{PL}", T.PLACES),
        ("{T}", T.TIMES),
        ("{C}", T.CONNECTIVES),
        ("{NUM}", T.NUMBERS),
    ):
        if key in template:
            slots[key[1:-1]] = rng.choice(pool)
    # Repeated slots ({VP} twice) get different fills.
    parts = template.split("{VP}")
    if len(parts) > 2:
        template = parts[0] + "".join(
            ("{VP}" if j == 0 else rng.choice(T.VERBS_PAST)) + s for j, s in enumerate(parts[1:])
        )
    s = _A_AN.sub(r"\1n \2", template.format(**slots))
    return s[0].upper() + s[1:]


_A_AN = re.compile(r"\b([Aa]) ([aeiou])")


def _english_nouns(rng: random.Random) -> list[str]:
    topics = sorted(T.TOPIC_NOUNS)
    main = rng.choice(topics)
    other = rng.choice(topics)
    return list(T.TOPIC_NOUNS[main]) * 3 + list(T.TOPIC_NOUNS[other])


def _english_paragraphs(rng: random.Random, n_paras: int, min_words: int) -> list[str]:
    nouns = _english_nouns(rng)
    paras = []
    for _ in range(n_paras):
        k = rng.randint(3, 6)
        paras.append(" ".join(_fill(rng, rng.choice(T.EN_SENTENCES), nouns) for _ in range(k)))
    while sum(len(p.split()) for p in paras) < min_words:
        j = rng.randrange(len(paras))
        paras[j] += " " + _fill(rng, rng.choice(T.EN_SENTENCES), nouns)
    return paras


def _english_title(rng: random.Random) -> str:
    return _fill(rng, rng.choice(T.EN_TITLES), _english_nouns(rng))


def _caption(rng: random.Random) -> str:
    return _fill(rng, rng.choice(T.EN_CAPTIONS), _english_nouns(rng))


def _foreign_sentence(rng: random.Random, lang: str) -> str:
    if lang == "de":
        nouns, adj, adv, verbs, vobj = T.DE_NOUNS, T.DE_ADJ, T.DE_ADV, T.DE_VERBS, T.DE_VERBS_OBJ
        people, vpl, times, conj, tpl = (
            T.DE_PEOPLE, T.DE_PLURAL_VERBS, T.DE_TIMES, T.DE_CONJ, T.DE_SENTENCES,
        )  # fmt: skip
    else:
        nouns, adj, adv, verbs, vobj = T.FR_NOUNS, T.FR_ADJ, T.FR_ADV, T.FR_VERBS, T.FR_VERBS_OBJ
        people, vpl, times, conj, tpl = (
            T.FR_PEOPLE, T.FR_PLURAL_VERBS, T.FR_TIMES, T.FR_CONJ, T.FR_SENTENCES,
        )  # fmt: skip
    s = rng.choice(tpl).format(
        NP=rng.choice(nouns),
        NP2=rng.choice(nouns),
        NPACC=rng.choice(nouns),
        V=rng.choice(verbs),
        V2=rng.choice(verbs),
        VO=rng.choice(vobj),
        ADV=rng.choice(adv),
        ADJ=rng.choice(adj),
        ADJ2=rng.choice(adj),
        PEOPLE=rng.choice(people),
        VPL=rng.choice(vpl),
        TIME=rng.choice(times),
        CONJ=rng.choice(conj),
    )
    return s[0].upper() + s[1:]


def _foreign_paragraphs(rng: random.Random, lang: str, n_paras: int) -> list[str]:
    return [
        " ".join(_foreign_sentence(rng, lang) for _ in range(rng.randint(3, 6)))
        for _ in range(n_paras)
    ]


# --- Content ------------------------------------------------------------------------------------


def _images(rng: random.Random, config: SampleCrawlConfig, i: int, n: int, n_paras: int,
            lang: str) -> list[_Img]:  # fmt: skip
    positions = sorted(
        rng.sample(range(1, n_paras + 1), n) if n <= n_paras else
        [rng.randint(1, n_paras) for _ in range(n)]
    )  # fmt: skip
    imgs = []
    for k, pos in enumerate(positions):
        image_id = hashlib.sha1(f"img/{config.seed}/{i}/{k}".encode()).hexdigest()[:12]
        caption = _caption(rng) if lang == "en" else _foreign_sentence(rng, lang)
        imgs.append(
            _Img(
                image_id=image_id,
                markup=rng.choice(("src", "src", "srcset", "data-src", "picture")),
                url_form=rng.choice(
                    ("absolute", "absolute", "protocol_relative", "root_relative", "page_relative")
                ),
                host=rng.choice(IMAGE_HOSTS),
                alt=caption.rstrip("."),
                caption=caption,
                width=rng.choice((640, 800, 960, 1024, 1200, 1600)),
                height=rng.choice((360, 450, 480, 600, 675, 800)),
                position=pos,
            )
        )
    return imgs


def _article_content(rng: random.Random, config: SampleCrawlConfig, i: int, lang: str,
                     n_images: int, n_paras: int) -> _Content:  # fmt: skip
    if lang == "en":
        title = _english_title(rng)
        paras = _english_paragraphs(rng, n_paras, min_words=150 + 10 * n_paras)
        nav = tuple(rng.sample(T.NAV_ITEMS, 8))
    else:
        title = _foreign_sentence(rng, lang).rstrip(".?! ")
        paras = _foreign_paragraphs(rng, lang, n_paras)
        nav = tuple(
            n.split(" ", 1)[-1].split("'")[-1].capitalize()
            for n in rng.sample(T.DE_NOUNS if lang == "de" else T.FR_NOUNS, 8)
        )
    base = None
    if rng.random() < 0.15:
        base = f"https://static.example-{rng.randrange(config.num_hosts)}.test/media/"
    return _Content(
        lang=lang,
        title=title,
        paragraphs=paras,
        images=_images(rng, config, i, n_images, n_paras, lang),
        site=f"The {rng.choice(T.SITE_WORDS)} {rng.choice(T.SITE_WORDS)}",
        author=rng.choice(T.AUTHORS),
        base_href=base,
        nav_labels=nav,
    )


def _img_raw_url(img: _Img, suffix: str = "", ext: str = "jpg") -> str:
    name = f"{img.image_id}{suffix}.{ext}"
    if img.url_form == "absolute":
        return f"https://{img.host}/2025/06/{name}"
    if img.url_form == "protocol_relative":
        return f"//{img.host}/photos/{name}"
    if img.url_form == "root_relative":
        return f"/wp-content/uploads/2025/06/{name}"
    return f"images/{name}"


_PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def _img_markup(img: _Img) -> tuple[str, str, str, list[str]]:
    """(html, raw url, raw best url, raw candidate urls) for one content image."""
    a = html.escape
    dims = f'width="{img.width}" height="{img.height}"'
    alt = a(img.alt)
    src = _img_raw_url(img)
    if img.markup == "src":
        tag = f'<img src="{src}" alt="{alt}" {dims} loading="lazy" decoding="async">'
        return tag, src, src, [src]
    if img.markup == "data-src":
        tag = f'<img src="{_PLACEHOLDER}" data-src="{src}" alt="{alt}" {dims} class="lazyload">'
        return tag, src, src, [src]
    if img.markup == "srcset":
        cands = [_img_raw_url(img, f"-{w}w") for w in (480, 800, 1200)]
        srcset = ", ".join(f"{c} {w}w" for c, w in zip(cands, (480, 800, 1200), strict=True))
        tag = (
            f'<img src="{src}" srcset="{srcset}" sizes="(max-width: 800px) 100vw, 800px" '
            f'alt="{alt}" {dims}>'
        )
        return tag, src, cands[-1], [src, *cands]
    webp = [_img_raw_url(img, f"-{w}w", "webp") for w in (800, 1600)]
    tag = (
        f'<picture><source type="image/webp" srcset="{webp[0]} 800w, {webp[1]} 1600w">'
        f'<img src="{src}" alt="{alt}" {dims}></picture>'
    )
    return tag, src, webp[-1], [src, *webp]


def _image_spec(img: _Img, base: str) -> ImageSpec:
    _, raw, best, cands = _img_markup(img)
    return ImageSpec(
        image_id=img.image_id,
        url=urljoin(base, raw),
        best_url=urljoin(base, best),
        candidates=tuple(urljoin(base, u) for u in cands),
        markup=img.markup,
        url_form=img.url_form,
        alt=img.alt,
        caption=img.caption,
        width=img.width,
        height=img.height,
        position=img.position,
    )


# --- Markup bulk --------------------------------------------------------------------------------

_JS_WORDS = (
    "data", "config", "state", "props", "items", "layout", "module", "render", "options",
    "element", "handler", "request", "response", "cache", "event", "target", "value", "index",
    "length", "prototype", "callback", "observer", "listener", "payload", "context", "settings",
)  # fmt: skip


@lru_cache(maxsize=8)
def _bulk_pools(seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Minified-looking JS and CSS fragments (no ``<`` inside), shared by all pages of a seed."""
    rng = random.Random(f"samplecrawl/{seed}/bulk")

    def ident() -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_$") for _ in range(rng.randint(1, 3)))

    js = []
    for n in range(256):
        w1, w2, w3 = rng.choice(_JS_WORDS), rng.choice(_JS_WORDS), rng.choice(_JS_WORDS)
        a, b, c, d = ident(), ident(), ident(), ident()
        form = n % 5
        if form == 0:
            frag = (
                f"function {a}({b},{c}){{var {d}={b}.{w1}||{{}};if(!{d}.{w2}){{{d}.{w2}="
                f"{c}.map(function(e){{return e.{w3}*{rng.randint(2, 99)}}})}}return {d}}}"
            )
        elif form == 1:
            frag = (
                f'{a}.{w1}=function({b}){{return void 0===this.{w2}?"{w3}-{rng.randint(0, 999)}"'
                f":this.{w2}.filter(function({c}){{return {c}.{w3}!=={b}}}).length}};"
            )
        elif form == 2:
            frag = (
                f"(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[{rng.randint(1, 999)}],"
                f'{{{rng.randint(1000, 99999)}:function({a},{b},{c}){{"use strict";{c}.d({b},'
                f"{{Z:function(){{return {d}}}}});var {d}={c}({rng.randint(100, 9999)}).{w1}}}}}]);"
            )
        elif form == 3:
            frag = json.dumps(
                {w1: rng.randint(0, 10**6), w2: [rng.random() for _ in range(3)], w3: ident()},
                separators=(",", ":"),
            )
            frag = f"window.__{w1.upper()}__={frag};"
        else:
            frag = (
                f'try{{{a}("{w1}",{{{w2}:"{base64.b64encode(rng.randbytes(24)).decode()}",'
                f"{w3}:!0}})}}catch({b}){{console.warn({b})}}"
            )
        js.append(frag)
    css = []
    for _ in range(256):
        cls = f".{rng.choice(_JS_WORDS)}-{ident()}{rng.randint(0, 99)}"
        css.append(
            f"{cls}{{display:{rng.choice(('flex', 'block', 'grid', 'none'))};margin:0 auto;"
            f"padding:{rng.randint(0, 40)}px {rng.randint(0, 40)}px;"
            f"color:#{rng.randrange(16**6):06x};font-size:{rng.randint(10, 32)}px}}"
            f"@media (max-width:{rng.choice((480, 768, 1024))}px){{{cls}{{width:100%}}}}"
        )
    return tuple(js), tuple(css)


def _bulk(rng: random.Random, pool: Sequence[str], nbytes: int) -> str:
    if nbytes <= 0:
        return ""
    k = max(1, nbytes // 300)
    out = "".join(rng.choices(pool, k=k))
    while len(out) < nbytes:
        out += rng.choice(pool)
    return out


def _mega_menu(rng: random.Random, labels: Sequence[str], nbytes: int) -> str:
    parts = []
    size = 0
    while size < nbytes:
        n = rng.randrange(10**5)
        lab = rng.choice(labels)
        item = (
            f'<li class="menu-item menu-item-type-taxonomy menu-item-object-category '
            f'menu-item-{n}"><a href="/{_slug(lab)}/{n % 97}/" class="nav-link">{lab}</a></li>'
        )
        parts.append(item)
        size += len(item)
    return f'<ul class="mega-menu sub-menu">{"".join(parts)}</ul>'


def _wrappers(rng: random.Random, depth: int) -> tuple[str, str]:
    opens = []
    for _ in range(depth):
        h = f"{rng.randrange(16**7):07x}"
        opens.append(
            f'<div class="elementor-section elementor-top-section elementor-element '
            f'elementor-element-{h} elementor-section-boxed elementor-section-height-default" '
            f'data-id="{h}" data-element_type="section">'
        )
    return "".join(opens), "</div>" * depth


# --- HTML rendering -----------------------------------------------------------------------------


@dataclass
class _Rendered:
    body: str
    images: list[ImageSpec]
    boilerplate_images: list[str]
    boilerplate_texts: list[str]


def _render_article(config: SampleCrawlConfig, rng: random.Random, url: str, c: _Content,
                    *, with_images: bool = True, charset_meta: str = "utf-8",
                    extra_main: str = "") -> _Rendered:  # fmt: skip
    """A realistic article page; with ``page_kb`` the bulk is padded to about that size."""
    e = html.escape
    base = c.base_href or url
    js_pool, css_pool = _bulk_pools(config.seed)
    target = config.page_kb * 1024
    bp_imgs: list[str] = []
    comments = (
        [_fill(rng, rng.choice(T.EN_SENTENCES), _english_nouns(rng)) for _ in range(2)]
        if c.lang == "en"
        else [_foreign_sentence(rng, c.lang) for _ in range(2)]
    )
    footer_text = f"© 2025 {c.site}. All rights reserved."
    pixel = f"{TRACKER_URL}{hashlib.sha1(url.encode()).hexdigest()[:10]}"

    # Head.
    h = [f'<!DOCTYPE html>\n<html lang="{c.lang}">\n<head>\n']
    if charset_meta == "utf-8":
        h.append('<meta charset="utf-8">\n')
    else:
        h.append(f'<meta http-equiv="Content-Type" content="text/html; charset={charset_meta}">\n')
    h.append(f"<title>{e(c.title)} | {e(c.site)}</title>\n")
    h.append('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    first = c.paragraphs[0].split(". ")[0] if c.paragraphs else c.title
    h.append(f'<meta name="description" content="{e(first)}">\n')
    if c.base_href:
        h.append(f'<base href="{c.base_href}">\n')
    h.append('<link rel="stylesheet" href="/static/css/main.css">\n')
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": c.title,
        "author": {"@type": "Person", "name": c.author},
        "datePublished": "2025-06-14T08:00:00+00:00",
        "publisher": {"@type": "Organization", "name": c.site},
    }
    h.append(
        '<script type="application/ld+json">'
        + json.dumps(ld, ensure_ascii=False, separators=(",", ":"))
        + "</script>\n"
    )
    pad = target > 0
    h.append(f"<style>{_bulk(rng, css_pool, int(target * 0.15) if pad else 600)}</style>\n")
    h.append(f"<script>{_bulk(rng, js_pool, int(target * 0.2) if pad else 900)}</script>\n")
    h.append("</head>\n")

    # Body: cookie banner, header with logo and nav.
    b = [f'<body class="post-template-default single single-post postid-{rng.randrange(10**5)}">\n']
    b.append(
        f'<div id="cookie-consent" class="cookie-banner"><p>{T.COOKIE_TEXT}</p>'
        '<button type="button">Accept all</button><button type="button">Settings</button></div>\n'
    )
    b.append('<header class="site-header"><a href="/" class="logo">')
    if with_images:
        logo = "/static/img/logo.png"
        b.append(f'<img src="{logo}" alt="{e(c.site)} logo" width="160" height="48">')
        bp_imgs.append(urljoin(base, logo))
    else:
        b.append(f'<span class="logo-text">{e(c.site)}</span>')
    b.append('</a>\n<nav class="main-nav"><ul>')
    b.extend(f'<li><a href="/{_slug(n)}/">{e(n)}</a></li>' for n in c.nav_labels)
    b.append("</ul>")
    if pad:
        b.append(_mega_menu(rng, c.nav_labels, int(target * 0.2)))
    b.append("</nav></header>\n")
    w_open, w_close = _wrappers(rng, rng.randint(6, 10) if pad else 2)
    b.append(w_open)

    # Main content.
    b.append('\n<main id="content"><article class="post">\n')
    b.append(f"<h1>{e(c.title)}</h1>\n")
    b.append(f'<p class="byline">By {e(c.author)} · 14 June 2025</p>\n')
    specs: list[ImageSpec] = []
    imgs_at: dict[int, list[_Img]] = {}
    for img in c.images if with_images else []:
        imgs_at.setdefault(img.position, []).append(img)
    for j, para in enumerate(c.paragraphs, start=1):
        b.append(f"<p>{e(para)}</p>\n")
        for img in imgs_at.get(j, []):
            b.append(
                f'<figure class="wp-block-image size-large">{_img_markup(img)[0]}'
                f"<figcaption>{e(img.caption)}</figcaption></figure>\n"
            )
            specs.append(_image_spec(img, base))
    b.append(extra_main)
    b.append('<div class="share-buttons">')
    for net in SHARE_ICONS:
        if with_images:
            icon = f"/icons/share-{net}.png"
            b.append(
                f'<a href="https://share.example.test/{net}?u={e(url)}" class="share-{net}">'
                f'<img src="{icon}" width="16" height="16" alt="Share on {net}"></a>'
            )
            bp_imgs.append(urljoin(base, icon))
        else:
            b.append(f'<a href="https://share.example.test/{net}?u={e(url)}">{net}</a>')
    b.append("</div>\n</article>\n")
    b.append(f'<section class="comments"><h2>{len(comments)} Comments</h2>')
    for k, text in enumerate(comments):
        b.append(
            f'<div class="comment" id="comment-{k}"><p class="comment-author">'
            f"{e(rng.choice(T.AUTHORS))}</p><p>{e(text)}</p></div>"
        )
    b.append("</section>\n</main>\n")

    # Sidebar with links and an ad.
    b.append('<aside class="sidebar"><h3>Popular posts</h3><ul>')
    for _ in range(5):
        t = _english_title(rng) if c.lang == "en" else _foreign_sentence(rng, c.lang)
        b.append(f'<li><a href="/{_slug(t)}/">{e(t)}</a></li>')
    b.append("</ul>")
    if with_images:
        ad = f"https://{AD_HOST}/banner/300x250-{rng.randrange(16**8):08x}.jpg"
        b.append(
            f'<div class="ad ad-slot"><a href="https://{AD_HOST}/click?c={rng.randrange(10**6)}" '
            f'rel="sponsored"><img src="{ad}" width="300" height="250" alt="Advertisement"></a>'
            "</div>"
        )
        bp_imgs.append(ad)
    b.append("</aside>\n")
    b.append(w_close)

    # Footer with links and the tracking pixel.
    b.append('\n<footer class="site-footer"><ul class="footer-links">')
    b.extend(f'<li><a href="/{_slug(f)}/">{f}</a></li>' for f in T.FOOTER_ITEMS)
    b.append("</ul>")
    if pad:
        b.append(_mega_menu(rng, T.FOOTER_ITEMS, int(target * 0.08)))
    b.append(f"<p>{e(footer_text)}</p>")
    if with_images:
        b.append(f'<img src="{pixel}" width="1" height="1" alt="" style="display:none">')
        bp_imgs.append(pixel)
    b.append("</footer>\n")
    head_body = "".join(h) + "".join(b)
    # Trailing scripts fill whatever the target still lacks.
    rest = target - len(head_body.encode("utf-8")) - 40 if pad else 500
    tail = f"<script>{_bulk(rng, js_pool, rest)}</script>\n" if rest > 0 else ""
    body = head_body + tail + "</body>\n</html>\n"
    return _Rendered(
        body=body,
        images=specs,
        boilerplate_images=bp_imgs,
        boilerplate_texts=[T.COOKIE_TEXT, *comments, footer_text],
    )


# --- Page builders ------------------------------------------------------------------------------


def _http(status: int, reason: str, headers: Sequence[tuple[str, str]], body: bytes,
          date: datetime, *, content_length: bool = True) -> bytes:  # fmt: skip
    lines = [f"HTTP/1.1 {status} {reason}", f"Date: {date:%a, %d %b %Y %H:%M:%S} GMT"]
    lines += [f"{k}: {v}" for k, v in headers]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_SERVERS = ("nginx", "Apache/2.4.58 (Ubuntu)", "cloudflare", "nginx/1.24.0", "LiteSpeed")


def _html_headers(rng: random.Random, ctype: str) -> list[tuple[str, str]]:
    hs = [("Server", rng.choice(_SERVERS)), ("Content-Type", ctype)]
    if rng.random() < 0.5:
        hs.append(("X-Crawler-Content-Encoding", "gzip"))
    hs.append(("Vary", "Accept-Encoding"))
    hs.append(("Cache-Control", f"max-age={rng.choice((60, 300, 600, 3600))}"))
    return hs


def _spec(config, i, names, url, kind, sub, expect, accept, **kw) -> PageSpec:
    defaults = {
        "http_status": 200,
        "mime_type": "text/html",
        "charset": "utf-8",
        "charset_source": "http",
        "lang": "en",
        "title": None,
        "paragraphs": (),
        "images": (),
        "boilerplate_image_urls": (),
        "boilerplate_texts": (),
    }
    defaults.update(kw)
    return PageSpec(
        index=i,
        url=url,
        kind=kind,
        subkind=sub,
        expect=expect,
        accept=tuple(accept),
        warc_file=names[_file_of(config, i)],
        record_id=_record_id(config, f"{i}/response"),
        **defaults,
    )


def _finish(config, i, rng, spec: PageSpec, block: bytes, *, payload_digest=True) -> _Page:
    ip = f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    page = _Page(spec, block, payload_digest, ip, _date(config, i).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return page


def _article_page(
    config,
    i,
    kind,
    sub,
    names,
    contents,
    *,
    lang="en",
    n_images=None,
    with_images=True,
    encoding="utf-8",
    http_charset=True,
    expect="keep",
    accept=("keep",),
    extra=None,
) -> _Page:
    rng = _rng(config, i)
    n_paras = rng.randint(4, 15)
    if n_images is None:
        n_images = {"single_image": 1, "many_images": rng.randint(6, 8)}.get(sub, rng.randint(2, 5))
    c = _article_content(rng, config, i, lang, n_images, n_paras)
    if extra:
        extra(rng, c)
    contents[i] = c
    url = _page_url(config, rng, i, _slug(c.title), ".html")
    meta_cs = "utf-8" if encoding == "utf-8" else encoding
    r = _render_article(config, rng, url, c, with_images=with_images, charset_meta=meta_cs)
    body = r.body.encode(encoding)
    ctype = f"text/html; charset={'UTF-8' if encoding == 'utf-8' else encoding}"
    if not http_charset or (encoding == "utf-8" and rng.random() < 0.3):
        ctype = "text/html"
    cs_source = "http" if ctype != "text/html" else "meta"
    block = _http(200, "OK", _html_headers(rng, ctype), body, _date(config, i))
    spec = _spec(
        config, i, names, url, kind, sub, expect, accept,
        charset=encoding, charset_source=cs_source, lang=lang, title=c.title,
        paragraphs=tuple(c.paragraphs), images=tuple(r.images),
        boilerplate_image_urls=tuple(r.boilerplate_images),
        boilerplate_texts=tuple(r.boilerplate_texts), body_bytes=len(body),
    )  # fmt: skip
    return _finish(config, i, rng, spec, block)


def _build_page(config: SampleCrawlConfig, i: int, kind: str, sub: str, names: list[str],
                contents: dict[int, _Content]) -> _Page:  # fmt: skip
    if kind == "good":
        accept = ("keep", "drop_sampled") if sub == "single_image" else ("keep",)
        return _article_page(config, i, kind, sub, names, contents, accept=accept)
    if kind == "no_image":
        return _article_page(
            config, i, kind, sub, names, contents, n_images=0, with_images=False,
            expect="drop_prefilter", accept=("drop_prefilter",),
        )  # fmt: skip
    if kind == "non_english":
        rng = _rng(config, i, "n")
        return _article_page(
            config, i, kind, sub, names, contents, lang=sub, n_images=rng.randint(1, 4),
            expect="drop_language", accept=("drop_language",),
        )  # fmt: skip
    if kind == "legacy_charset":
        return _legacy_page(config, i, kind, sub, names, contents)
    if kind == "low_quality":
        return _low_quality_page(config, i, kind, sub, names)
    if kind == "non_html":
        return _non_html_page(config, i, kind, sub, names)
    if kind == "malformed":
        return _malformed_page(config, i, kind, sub, names)
    raise AssertionError(kind)


def _legacy_page(config, i, kind, sub, names, contents) -> _Page:
    encoding = sub.rsplit("_", 1)[0]
    if encoding in ("windows-1252", "iso-8859-1"):

        def accents(rng: random.Random, c: _Content) -> None:
            extra = list(T.LATIN1_SENTENCES)
            if encoding == "windows-1252":
                extra += T.CP1252_SENTENCES
            for s in rng.sample(extra, 3):
                j = rng.randrange(len(c.paragraphs))
                c.paragraphs[j] += " " + s

        return _article_page(
            config, i, kind, sub, names, contents, encoding=encoding, http_charset=False,
            n_images=_rng(config, i, "n").randint(1, 4), extra=accents,
        )  # fmt: skip
    # Japanese / Russian: charset only in the HTTP header, none in the markup.
    rng = _rng(config, i)
    lang, sents = ("ja", T.JA_SENTENCES) if encoding == "shift_jis" else ("ru", T.RU_SENTENCES)
    paras = ["".join(rng.sample(sents, 4)) if lang == "ja" else " ".join(rng.sample(sents, 4))
             for _ in range(rng.randint(3, 5))]  # fmt: skip
    title = sents[rng.randrange(len(sents))].rstrip("。.")
    url = _page_url(config, rng, i, f"{lang}-page", ".html")
    img = f"https://{rng.choice(IMAGE_HOSTS)}/2025/05/{lang}{i}.jpg"
    body_s = (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<title>{html.escape(title)}</title>\n'
        "</head>\n<body>\n<main><article>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        + "".join(f"<p>{html.escape(p)}</p>\n" for p in paras)
        + f'<figure><img src="{img}" width="800" height="600" alt=""></figure>\n'
        "</article></main>\n</body>\n</html>\n"
    )
    body = body_s.encode(encoding)
    ctype = f"text/html; charset={'Shift_JIS' if lang == 'ja' else 'KOI8-R'}"
    block = _http(200, "OK", _html_headers(rng, ctype), body, _date(config, i))
    spec = _spec(
        config, i, names, url, kind, sub, "drop_language", ("drop_language",),
        charset=encoding, charset_source="http", lang=lang, title=title,
        paragraphs=tuple(paras), body_bytes=len(body),
    )  # fmt: skip
    return _finish(config, i, rng, spec, block)


def _simple_html(title: str, inner: str, imgs: Sequence[str]) -> str:
    figs = "".join(
        f'<figure><img src="{u}" width="600" height="400" alt="photo"></figure>\n' for u in imgs
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<main><article>\n"
        f"<h1>{html.escape(title)}</h1>\n{inner}{figs}</article></main>\n</body>\n</html>\n"
    )


def _low_quality_page(config, i, kind, sub, names) -> _Page:
    rng = _rng(config, i)
    imgs = [
        f"https://{rng.choice(IMAGE_HOSTS)}/2025/04/lq-{i}-{k}.jpg"
        for k in range(rng.randint(1, 3))
    ]
    lang = "en"
    if sub == "keyword_spam":
        kw = rng.choice(T.SPAM_KEYWORDS)
        title = f"Cheap {kw} | Best {kw} online"
        line = f"buy {kw} best {kw} cheap {kw} online discount {kw} {kw} sale"
        paras = [f"{line} {line} {line}." for _ in range(rng.randint(10, 20))]
    elif sub == "lorem_ipsum":
        title = "Lorem ipsum dolor sit amet"
        paras = [T.LOREM for _ in range(rng.randint(4, 8))]
        lang = "la"
    elif sub == "link_directory":
        title = "Useful links directory"
        paras = ["Browse our directory of links."]
    elif sub == "too_short":
        title = "Click here"
        paras = ["Click here to see more.", "Buy now!"]
    else:  # symbol_spam
        title = "#trending #viral #photo"
        paras = [
            " ".join(f"#{w.replace(' ', '')}" for w in rng.sample(T.TOPIC_NOUNS["travel"], 12))
            + " ... ... #follow #like"
            for _ in range(rng.randint(5, 9))
        ]
    inner = "".join(f"<p>{html.escape(p)}</p>\n" for p in paras)
    if sub == "link_directory":
        links = "".join(
            f'<li><a href="https://www.example-{rng.randrange(999)}.test/">'
            f"{rng.choice(T.NAV_ITEMS)} {rng.choice(T.SITE_WORDS)}</a></li>\n"
            for _ in range(rng.randint(60, 120))
        )
        inner += f"<ul>\n{links}</ul>\n"
    url = _page_url(config, rng, i, _slug(title), ".html")
    body = _simple_html(title, inner, imgs).encode("utf-8")
    block = _http(200, "OK", _html_headers(rng, "text/html; charset=UTF-8"), body, _date(config, i))
    accept = ("drop_quality", "drop_language") if sub == "lorem_ipsum" else ("drop_quality",)
    spec = _spec(
        config, i, names, url, kind, sub, "drop_quality", accept, lang=lang, title=title,
        paragraphs=tuple(paras), quality_rule=QUALITY_RULES[sub], body_bytes=len(body),
    )  # fmt: skip
    return _finish(config, i, rng, spec, block)


def _non_html_page(config, i, kind, sub, names) -> _Page:
    rng = _rng(config, i)
    date = _date(config, i)
    hs = [("Server", rng.choice(_SERVERS))]
    if sub == "image_jpeg":
        url = f"https://{rng.choice(IMAGE_HOSTS)}/2025/03/photo-{i}.jpg"
        body = (
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            + rng.randbytes(rng.randint(600, 2400)).replace(b"<", b"=")
            + b"\xff\xd9"
        )
        block = _http(200, "OK", [*hs, ("Content-Type", "image/jpeg")], body, date)
        status, mime = 200, "image/jpeg"
    elif sub == "application_pdf":
        url = _page_url(config, rng, i, "annual-report", ".pdf")
        text = " ".join(rng.choice(T.ADJECTIVES) for _ in range(40))
        body = (
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
            + f"3 0 obj\n<< /Length {len(text) + 10} >>\nstream\nBT ({text}) Tj ET\n"
            "endstream\nendobj\n".encode()
            + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
        )
        block = _http(200, "OK", [*hs, ("Content-Type", "application/pdf")], body, date)
        status, mime = 200, "application/pdf"
    elif sub == "http_404":
        url = _page_url(config, rng, i, "missing-page", ".html")
        body = _simple_html(
            "Page not found", "<p>Sorry, the page you are looking for does not exist.</p>\n",
            ["/static/img/404-illustration.png"],
        ).encode()  # fmt: skip
        block = _http(404, "Not Found", [*hs, ("Content-Type", "text/html; charset=UTF-8")],
                      body, date)  # fmt: skip
        status, mime = 404, "text/html"
    else:
        url = _page_url(config, rng, i, "old-address", "")
        target = urljoin(url, f"/new/{i}/")
        body = (
            f"<html><head><title>301 Moved Permanently</title></head><body><h1>Moved</h1>"
            f'<p>The document has moved <a href="{target}">here</a>.</p></body></html>\n'
        ).encode()
        hdrs = [*hs, ("Location", target), ("Content-Type", "text/html; charset=iso-8859-1")]
        block = _http(301, "Moved Permanently", hdrs, body, date)
        status, mime = 301, "text/html"
    spec = _spec(
        config, i, names, url, kind, sub, "drop_prefilter", ("drop_prefilter",),
        http_status=status, mime_type=mime, charset=None, charset_source=None, lang=None,
        body_bytes=len(body),
    )  # fmt: skip
    return _finish(config, i, rng, spec, block)


def _malformed_page(config, i, kind, sub, names) -> _Page:
    rng = _rng(config, i)
    url = _page_url(config, rng, i, "broken", ".html")
    img = f"https://{rng.choice(IMAGE_HOSTS)}/2025/02/broken-{i}.jpg"
    page = _simple_html("Broken page", "<p>Some text.</p>\n", [img]).encode()
    if sub == "garbage_http_header":
        block = (
            b"\x00\x17\xff\xfe" + rng.randbytes(40).replace(b"\r", b"").replace(b"\n", b"")
            + b" garbage status\r\nno colon in this header line\r\n\x01\x02: \x03\r\n\r\n" + page
        )  # fmt: skip
        spec = _spec(
            config, i, names, url, kind, sub, "dead_letter", ("dead_letter", "drop_prefilter"),
            http_status=None, mime_type=None, charset=None, charset_source=None, lang=None,
            body_bytes=len(page),
        )  # fmt: skip
        return _finish(config, i, rng, spec, block, payload_digest=False)
    # Chunk sizes that are not hex, a size that overruns the data, and no terminating chunk.
    chunked = b"zz7\r\n" + page[:200] + b"\r\n4000\r\n" + page[200:] + b"\r\n"
    hdrs = [("Content-Type", "text/html; charset=UTF-8"), ("Transfer-Encoding", "chunked")]
    block = _http(200, "OK", hdrs, chunked, _date(config, i), content_length=False)
    spec = _spec(
        config, i, names, url, kind, sub, "dead_letter",
        ("dead_letter", "drop_prefilter", "drop_quality"), body_bytes=len(chunked),
    )  # fmt: skip
    return _finish(config, i, rng, spec, block)


def _build_copy(config, i, kind, sub, names, src: _Page, content: _Content) -> _Page:
    rng = _rng(config, i)
    url = _page_url(config, rng, i, _slug(content.title), ".html")
    accept = ("drop_duplicate", "keep")
    if kind == "duplicate":
        # Same bytes, other URL: relative image URLs now resolve against this page.
        base = content.base_href or url
        images = tuple(_image_spec(im, base) for im in content.images)
        bp = tuple(urljoin(base, urlsplit(u).path) if urlsplit(u).netloc == urlsplit(
            content.base_href or src.spec.url).netloc else u
            for u in src.spec.boilerplate_image_urls)  # fmt: skip
        spec = _replace_spec(
            _Page(src.spec, b""),
            index=i, url=url, kind=kind, subkind=sub, expect="drop_duplicate", accept=accept,
            warc_file=names[_file_of(config, i)], record_id=_record_id(config, f"{i}/response"),
            images=images, boilerplate_image_urls=bp, duplicate_of=src.spec.index,
        ).spec  # fmt: skip
        return _finish(config, i, rng, spec, src.http_block)
    # Near duplicate: swap a few words for others of the same class.
    paras = list(content.paragraphs)
    swaps = {w: T.ADJECTIVES for w in T.ADJECTIVES} | {w: T.ADVERBS for w in T.ADVERBS}
    changed = 0
    for _ in range(200):
        if changed >= rng.randint(3, 6):
            break
        j = rng.randrange(len(paras))
        words = paras[j].split(" ")
        k = rng.randrange(len(words))
        if words[k] in swaps:
            words[k] = rng.choice(swaps[words[k]])
            paras[j] = " ".join(words)
            changed += 1
    near = _Content(**{**content.__dict__, "paragraphs": paras})
    r = _render_article(config, rng, url, near)
    body = r.body.encode("utf-8")
    block = _http(200, "OK", _html_headers(rng, "text/html; charset=UTF-8"), body, _date(config, i))
    spec = _spec(
        config, i, names, url, kind, sub, "drop_duplicate", accept, title=near.title,
        paragraphs=tuple(paras), images=tuple(r.images),
        boilerplate_image_urls=tuple(r.boilerplate_images),
        boilerplate_texts=tuple(r.boilerplate_texts), duplicate_of=src.spec.index,
        body_bytes=len(body),
    )  # fmt: skip
    return _finish(config, i, rng, spec, block)


# --- WARC serialisation -------------------------------------------------------------------------


def _sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = ["WARC/1.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + block + b"\r\n\r\n"


def _gz(config: SampleCrawlConfig, data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=config.compresslevel, mtime=0)


def _warcinfo_record(config: SampleCrawlConfig, k: int, name: str) -> bytes:
    fields = (
        "isPartOf: KOSMOS-DATA-SAMPLECRAWL\r\n"
        "publisher: kosmos-data samplecrawl (synthetic)\r\n"
        f"description: Generated sample crawl, seed {config.seed}, "
        f"{config.num_pages} pages, page_kb {config.page_kb}\r\n"
        "operator: kosmos-data tests\r\n"
        "hostname: samplecrawl.invalid\r\n"
        "software: kosmos_samples.crawl\r\n"
        "format: WARC File Format 1.1\r\n"
        "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/"
        "warc-1.1/\r\n"
    ).encode()
    headers = [
        ("WARC-Type", "warcinfo"),
        ("WARC-Date", _date(config, 0).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("WARC-Record-ID", _record_id(config, f"warcinfo/{k}")),
        ("Content-Length", str(len(fields))),
        ("Content-Type", "application/warc-fields"),
        ("WARC-Filename", name),
    ]
    return _record(headers, fields)


def _page_records(config: SampleCrawlConfig, p: _Page, name: str) -> list[bytes]:
    s = p.spec
    k = warc_file_names(config).index(name)
    info_id = _record_id(config, f"warcinfo/{k}")
    req_id = _record_id(config, f"{s.index}/request")
    out = []
    if config.include_request_records:
        u = urlsplit(s.url)
        req = (
            f"GET {u.path or '/'}{'?' + u.query if u.query else ''} HTTP/1.1\r\n"
            "User-Agent: kosmos-data-samplecrawl/1.0 (synthetic; +https://example.test/bot)\r\n"
            "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
            "Accept-Language: en-US,en;q=0.5\r\n"
            "Accept-Encoding: br,gzip\r\n"
            f"Host: {u.netloc}\r\n"
            "Connection: Keep-Alive\r\n\r\n"
        ).encode()
        out.append(
            _record(
                [
                    ("WARC-Type", "request"),
                    ("WARC-Date", p.date),
                    ("WARC-Record-ID", req_id),
                    ("Content-Length", str(len(req))),
                    ("Content-Type", "application/http; msgtype=request"),
                    ("WARC-Warcinfo-ID", info_id),
                    ("WARC-IP-Address", p.ip),
                    ("WARC-Target-URI", s.url),
                    ("WARC-Block-Digest", _sha1_b32(req)),
                ],
                req,
            )
        )
    headers = [
        ("WARC-Type", "response"),
        ("WARC-Date", p.date),
        ("WARC-Record-ID", s.record_id),
        ("Content-Length", str(len(p.http_block))),
        ("Content-Type", "application/http; msgtype=response"),
        ("WARC-Warcinfo-ID", info_id),
    ]
    if config.include_request_records:
        headers.append(("WARC-Concurrent-To", req_id))
    headers += [
        ("WARC-IP-Address", p.ip),
        ("WARC-Target-URI", s.url),
        ("WARC-Protocol", "http/1.1"),
    ]
    if p.payload_digest:
        payload = p.http_block.split(b"\r\n\r\n", 1)[1]
        headers.append(("WARC-Payload-Digest", _sha1_b32(payload)))
    headers.append(("WARC-Block-Digest", _sha1_b32(p.http_block)))
    if s.mime_type:
        headers.append(("WARC-Identified-Payload-Type", s.mime_type))
    out.append(_record(headers, p.http_block))
    if config.include_metadata_records and not s.corrupt_tail:
        meta = (
            f"fetchTimeMs: {50 + s.index * 7 % 900}\r\n"
            f"charset-detected: {(s.charset or 'binary').upper()}\r\n"
        ).encode()
        out.append(
            _record(
                [
                    ("WARC-Type", "metadata"),
                    ("WARC-Date", p.date),
                    ("WARC-Record-ID", _record_id(config, f"{s.index}/metadata")),
                    ("Content-Length", str(len(meta))),
                    ("Content-Type", "application/warc-fields"),
                    ("WARC-Warcinfo-ID", info_id),
                    ("WARC-Concurrent-To", s.record_id),
                    ("WARC-Target-URI", s.url),
                    ("WARC-Block-Digest", _sha1_b32(meta)),
                ],
                meta,
            )
        )
    return out


__all__ = [
    "DEFAULT_MIX",
    "KINDS",
    "OUTCOMES",
    "QUALITY_RULES",
    "SUBKINDS",
    "ImageSpec",
    "PageSpec",
    "SampleCrawlConfig",
    "expected_manifest",
    "expected_record_counts",
    "generate_crawl",
    "read_manifest",
    "warc_file_names",
]
