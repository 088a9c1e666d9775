"""WebDataset shards of the three KOSMOS-1 sources, their manifest, and a typed reader.

KOSMOS-1 (Huang et al., 2023, §3.1) trains on three sources: text corpora, image-caption
pairs and interleaved image-text web documents. kosmos-data writes all three as one family of
WebDataset tar shards (Aizman et al., 2020; the ``webdataset`` library reads them as is):

==============  ===========================================================================
source          members of one sample (``KEY`` has no dots)
==============  ===========================================================================
interleaved     ``KEY.json`` (``texts`` with ``null`` at each image position, ``images``
                metadata, provenance, sampling) and ``KEY.0.jpg``, ``KEY.1.jpg``, ...
captions        ``KEY.jpg``, ``KEY.txt`` (the caption), ``KEY.json`` (metadata)
text            ``KEY.txt``, ``KEY.json`` (metadata)
==============  ===========================================================================

Determinism (a rerun writes identical bytes): a sample goes to shard group
``blake2b(key) % groups``; inside a group samples are sorted by key and cut into parts at
``maxcount`` samples or ``maxsize`` bytes, named ``{source}-{group:05d}-{part:03d}.tar``;
members are sorted, with a fixed mtime, uid/gid 0 and mode 0644. ``manifest.json`` lists every
shard with its sample, image and token counts (the trainer's mixture sampler weighs sources by
them) plus the config and code version that produced it, and no timestamps.

This module is Beam-free: ``kosmos_data.beam.shards.WriteShards`` wires it into pipelines.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

SOURCES = ("interleaved", "captions", "text")
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "kosmos-data-shards/1"
#: A fixed member mtime (2023-01-01T00:00:00Z) so reruns give identical tar bytes.
FIXED_MTIME = 1672531200
#: KOSMOS-1 feeds each image as ``<image>`` + 64 resampled embeddings + ``</image>`` (§2.1).
IMAGE_TOKENS = 64 + 2
_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-]")


@dataclass(slots=True)
class ImageBlob:
    """One encoded image as stored in a shard (``ext`` is the member extension, e.g. jpg)."""

    data: bytes
    ext: str = "jpg"
    width: int = 0
    height: int = 0
    meta: dict = field(default_factory=dict)


@dataclass(slots=True)
class InterleavedSample:
    """A web document: ``texts[i] is None`` where the next image goes (in reading order)."""

    key: str
    texts: list[str | None]
    images: list[ImageBlob]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        holes = sum(1 for t in self.texts if t is None)
        if holes != len(self.images):
            raise ValueError(
                f"InterleavedSample {self.key!r}: texts has {holes} image position(s) "
                f"but images has {len(self.images)}"
            )


@dataclass(slots=True)
class CaptionSample:
    key: str
    image: ImageBlob
    caption: str
    meta: dict = field(default_factory=dict)


@dataclass(slots=True)
class TextSample:
    key: str
    text: str
    meta: dict = field(default_factory=dict)


Sample = InterleavedSample | CaptionSample | TextSample


@dataclass(frozen=True, slots=True)
class ShardConfig:
    """How samples are cut into tar shards.

    ``maxcount``/``maxsize`` follow webdataset's ``ShardWriter`` limits (defaults there:
    100,000 samples / 3 GB); 1,000 samples and 256 MiB keep a shard a few seconds of reading
    for one data-loader worker. ``groups`` is how many writers run in parallel.
    """

    maxcount: int = 1000
    maxsize: int = 256 * 1024 * 1024
    groups: int = 8

    def __post_init__(self) -> None:
        if self.maxcount < 1:
            raise ValueError(f"ShardConfig.maxcount must be >= 1, got {self.maxcount}")
        if self.maxsize < 1024:
            raise ValueError(f"ShardConfig.maxsize must be >= 1024 bytes, got {self.maxsize}")
        if self.groups < 1:
            raise ValueError(f"ShardConfig.groups must be >= 1, got {self.groups}")


@dataclass(slots=True)
class ShardInfo:
    """One written shard, as listed in ``manifest.json``."""

    name: str
    source: str
    group: int
    part: int
    samples: int
    images: int
    text_tokens: int
    image_tokens: int
    bytes: int
    sha256: str

    @property
    def tokens(self) -> int:
        return self.text_tokens + self.image_tokens

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "group": self.group,
            "part": self.part,
            "samples": self.samples,
            "images": self.images,
            "text_tokens": self.text_tokens,
            "image_tokens": self.image_tokens,
            "tokens": self.tokens,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }


# --------------------------------------------------------------------------- helpers


def estimate_tokens(text: str) -> int:
    """Token-count estimate before a tokenizer exists: ``ceil(utf-8 bytes / 4)``.

    ~4 bytes per token is the usual rule of thumb for English BPE/SentencePiece vocabularies
    of 32k-64k entries (KOSMOS-1 uses a 64k SentencePiece vocabulary); the trainer only needs
    the *ratio* between sources to be right, so a consistent estimate is what matters.
    """
    return math.ceil(len(text.encode("utf-8")) / 4) if text else 0


def sample_key(raw: str) -> str:
    """A WebDataset key: no dots (they separate key from extension), filesystem-safe."""
    key = _KEY_BAD.sub("_", raw)
    if not key:
        raise ValueError("sample key is empty")
    return key


def shard_group(key: str, groups: int) -> int:
    """Shard group from a stable hash of the key (same in every process and runner)."""
    h = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "big") % groups


def shard_name(source: str, group: int, part: int) -> str:
    return f"{source}-{group:05d}-{part:03d}.tar"


def source_of(sample: Sample) -> str:
    if isinstance(sample, InterleavedSample):
        return "interleaved"
    if isinstance(sample, CaptionSample):
        return "captions"
    if isinstance(sample, TextSample):
        return "text"
    raise TypeError(f"not a shard sample: {type(sample).__name__}")


def _json_bytes(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _image_meta(img: ImageBlob) -> dict:
    return {"width": img.width, "height": img.height, "ext": img.ext, **img.meta}


def sample_members(sample: Sample) -> list[tuple[str, bytes]]:
    """The tar members of one sample, sorted by name."""
    key = sample_key(sample.key)
    if isinstance(sample, InterleavedSample):
        meta = {
            "key": key,
            "source": "interleaved",
            "texts": sample.texts,
            "images": [_image_meta(img) for img in sample.images],
            **sample.meta,
        }
        members = [(f"{key}.json", _json_bytes(meta))]
        members += [(f"{key}.{i}.{img.ext}", img.data) for i, img in enumerate(sample.images)]
    elif isinstance(sample, CaptionSample):
        meta = {"key": key, "source": "captions", "image": _image_meta(sample.image)}
        members = [
            (f"{key}.{sample.image.ext}", sample.image.data),
            (f"{key}.json", _json_bytes(meta | sample.meta)),
            (f"{key}.txt", sample.caption.encode("utf-8")),
        ]
    elif isinstance(sample, TextSample):
        members = [
            (f"{key}.json", _json_bytes({"key": key, "source": "text"} | sample.meta)),
            (f"{key}.txt", sample.text.encode("utf-8")),
        ]
    else:
        raise TypeError(f"not a shard sample: {type(sample).__name__}")
    return sorted(members)


def sample_counts(sample: Sample) -> tuple[int, int, int]:
    """``(images, text_tokens, image_tokens)`` of one sample, for the manifest."""
    if isinstance(sample, InterleavedSample):
        text = " ".join(t for t in sample.texts if t)
        n = len(sample.images)
    elif isinstance(sample, CaptionSample):
        text, n = sample.caption, 1
    else:
        text, n = sample.text, 0
    return n, estimate_tokens(text), n * IMAGE_TOKENS


def _tar_member_size(payload: int) -> int:
    """Bytes a member takes in a ustar archive: a 512-byte header plus padded data."""
    return 512 + (payload + 511) // 512 * 512


def plan_parts(samples: Sequence[Sample], config: ShardConfig) -> list[list[Sample]]:
    """Cut key-sorted samples into parts of at most ``maxcount`` samples / ``maxsize`` bytes.

    A single sample larger than ``maxsize`` still gets a shard of its own (never dropped).
    """
    parts: list[list[Sample]] = []
    current: list[Sample] = []
    size = 0
    for s in samples:
        n = sum(_tar_member_size(len(data)) for _, data in sample_members(s))
        if current and (len(current) >= config.maxcount or size + n > config.maxsize):
            parts.append(current)
            current, size = [], 0
        current.append(s)
        size += n
    if current:
        parts.append(current)
    return parts


def write_tar(fileobj, samples: Iterable[Sample]) -> None:
    """Write samples as a deterministic tar stream (members sorted, fixed metadata)."""
    with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for sample in samples:
            for name, data in sample_members(sample):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = FIXED_MTIME
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))


def shard_bytes(samples: Sequence[Sample]) -> bytes:
    buf = io.BytesIO()
    write_tar(buf, samples)
    return buf.getvalue()


def shard_info(source: str, group: int, part: int, samples: Sequence[Sample], data: bytes):
    images = text_tokens = image_tokens = 0
    for s in samples:
        i, t, it = sample_counts(s)
        images, text_tokens, image_tokens = images + i, text_tokens + t, image_tokens + it
    return ShardInfo(
        name=shard_name(source, group, part),
        source=source,
        group=group,
        part=part,
        samples=len(samples),
        images=images,
        text_tokens=text_tokens,
        image_tokens=image_tokens,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def render_group(
    source: str, group: int, samples: Iterable[Sample], config: ShardConfig
) -> Iterator[tuple[ShardInfo, bytes]]:
    """Sort one group's samples by key and render each part: ``(info, tar bytes)``."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    ordered = sorted(samples, key=lambda s: sample_key(s.key))
    for s in ordered:
        if source_of(s) != source:
            raise ValueError(f"sample {s.key!r} is {source_of(s)}, not {source}")
    for part, chunk in enumerate(plan_parts(ordered, config)):
        data = shard_bytes(chunk)
        yield shard_info(source, group, part, chunk, data), data


def _atomic_write(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_shards(
    out_dir: str, source: str, group: int, samples: Iterable[Sample], config: ShardConfig
) -> list[ShardInfo]:
    """Write one group's shards into a local directory (the Beam writer does the same)."""
    os.makedirs(out_dir, exist_ok=True)
    infos = []
    for info, data in render_group(source, group, samples, config):
        _atomic_write(os.path.join(out_dir, info.name), data)
        infos.append(info)
    return infos


def write_local(
    out_dir: str,
    source: str,
    samples: Iterable[Sample],
    config: ShardConfig | None = None,
    run_config: dict | None = None,
) -> dict:
    """Group, write and list ``samples`` in one process (small corpora, tests, the trainer)."""
    config = config or ShardConfig()
    groups: dict[int, list[Sample]] = {}
    for s in samples:
        groups.setdefault(shard_group(sample_key(s.key), config.groups), []).append(s)
    infos: list[ShardInfo] = []
    for g in sorted(groups):
        infos += write_shards(out_dir, source, g, groups[g], config)
    write_manifest(out_dir, source, infos, run_config or {}, code_version(), config)
    return read_manifest(out_dir)


# --------------------------------------------------------------------------- manifest


def code_version() -> str:
    """``kosmos-data <version>`` plus the git commit when running from a checkout."""
    from kosmos_data import __version__

    version = f"kosmos-data {__version__}"
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    head = os.path.join(here, ".git", "HEAD")
    try:
        with open(head) as f:
            ref = f.read().strip()
        if ref.startswith("ref: "):
            with open(os.path.join(here, ".git", ref[5:])) as f:
                ref = f.read().strip()
        return f"{version} ({ref[:12]})"
    except OSError:
        return version


def manifest_dict(
    source: str, infos: Iterable[ShardInfo], config: dict, version: str, shard_config=None
) -> dict:
    shards = sorted((i.to_json() for i in infos), key=lambda d: d["name"])
    totals = {
        k: sum(s[k] for s in shards)
        for k in ("samples", "images", "text_tokens", "image_tokens", "tokens", "bytes")
    }
    totals["shards"] = len(shards)
    out = {
        "format": MANIFEST_FORMAT,
        "source": source,
        "code_version": version,
        "token_estimate": "text: ceil(utf8_bytes/4); image: 66 per image (<image>+64+</image>)",
        "totals": totals,
        "shards": shards,
        "config": config,
    }
    if shard_config is not None:
        out["shard_config"] = {
            "maxcount": shard_config.maxcount,
            "maxsize": shard_config.maxsize,
            "groups": shard_config.groups,
        }
    return out


def write_manifest(
    out_dir: str,
    source: str,
    infos: Iterable[ShardInfo],
    config: dict,
    version: str,
    shard_config: ShardConfig | None = None,
) -> str:
    manifest = manifest_dict(source, infos, config, version, shard_config=shard_config)
    path = os.path.join(out_dir, MANIFEST)
    data = json.dumps(manifest, indent=2) + "\n"
    _atomic_write(path, data.encode("utf-8"))
    return path


def read_manifest(path: str) -> dict:
    """Read ``manifest.json`` from a shard directory (or the file itself)."""
    if os.path.isdir(path):
        path = os.path.join(path, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no shard manifest (is this a shard directory?)") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path}: not a kosmos-data shard manifest ({manifest.get('format')!r})")
    return manifest


# --------------------------------------------------------------------------- reader


def shard_urls(spec: str | Sequence[str]) -> list[str]:
    """Shard paths from a shard directory (its manifest), a tar path/brace URL, or a list."""
    if isinstance(spec, (list, tuple)):
        return [str(s) for s in spec]
    spec = str(spec)
    if os.path.isdir(spec):
        manifest_path = os.path.join(spec, MANIFEST)
        if os.path.exists(manifest_path):
            return [os.path.join(spec, s["name"]) for s in read_manifest(spec)["shards"]]
        found = sorted(f for f in os.listdir(spec) if f.endswith(".tar"))
        if not found:
            raise FileNotFoundError(f"{spec}: no shards (*.tar) and no {MANIFEST}")
        return [os.path.join(spec, f) for f in found]
    return [spec]


def decode_sample(raw: dict) -> Sample:
    """A webdataset raw sample (``__key__`` + member bytes by extension) -> typed sample."""
    key = raw["__key__"]
    if "json" not in raw:
        raise ValueError(f"sample {key!r} has no .json member (members: {sorted(raw)})")
    meta = json.loads(raw["json"])
    source = meta.pop("source", None)
    meta.pop("key", None)
    if source == "interleaved":
        texts = meta.pop("texts")
        images_meta = meta.pop("images")
        images = []
        for i, im in enumerate(images_meta):
            ext = im.get("ext", "jpg")
            data = raw[f"{i}.{ext}"]
            extra = {k: v for k, v in im.items() if k not in ("width", "height", "ext")}
            images.append(ImageBlob(data, ext, im.get("width", 0), im.get("height", 0), extra))
        return InterleavedSample(key, texts, images, meta)
    if source == "captions":
        im = meta.pop("image")
        ext = im.get("ext", "jpg")
        extra = {k: v for k, v in im.items() if k not in ("width", "height", "ext")}
        blob = ImageBlob(raw[ext], ext, im.get("width", 0), im.get("height", 0), extra)
        return CaptionSample(key, blob, raw["txt"].decode("utf-8"), meta)
    if source == "text":
        return TextSample(key, raw["txt"].decode("utf-8"), meta)
    raise ValueError(f"sample {key!r}: unknown source {source!r}")


def iter_samples(
    spec: str | Sequence[str],
    *,
    shuffle: bool = False,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[Sample]:
    """Typed samples from shards, read with the ``webdataset`` library.

    ``rank``/``world_size`` give each data-parallel rank every ``world_size``-th shard (the
    split is explicit so it does not depend on ``torch.distributed`` being initialised);
    ``shuffle`` shuffles the shard order with ``seed`` (samples within a shard stay in order).
    """
    import webdataset as wds

    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size), got rank={rank} world={world_size}")
    urls = shard_urls(spec)[rank::world_size]
    if shuffle:
        import random

        random.Random(seed).shuffle(urls)
    if not urls:
        return
    dataset = wds.WebDataset(urls, shardshuffle=False, nodesplitter=None, empty_check=False)
    for raw in dataset:
        yield decode_sample(raw)


# --------------------------------------------------------------------------- documents -> samples
#: Document ``meta`` keys carried into the shard's JSON (annotations a trainer or an audit
#: may want); the rest (per-stage bookkeeping such as image drop counts) stays in ``docs/``.
_CARRIED_META = ("language", "language_score", "sampling", "title", "similarity", "source_meta")


def _provenance(doc) -> dict:
    p = doc.provenance
    return {
        "url": p.url,
        "warc_file": p.warc_file,
        "record_id": p.record_id,
        "offset": p.offset,
        "fetch_date": p.fetch_date,
    }


def _blob(ref) -> ImageBlob:
    f = ref.fetched
    meta = {
        "url": ref.url,
        "alt": ref.alt,
        "original_width": f.original_width,
        "original_height": f.original_height,
        "original_format": f.original_format,
        "num_bytes": f.num_bytes,
        "sha256": f.sha256,
        "phash": f.phash,
        "nsfw_score": f.nsfw_score,
        "http_status": f.http_status,
    }
    return ImageBlob(f.data, f.ext, f.width, f.height, meta)


def _carried(doc) -> dict:
    return {k: doc.meta[k] for k in _CARRIED_META if k in doc.meta}


def interleaved_sample(doc) -> InterleavedSample:
    """A ``Document`` whose images were fetched -> its shard sample, in reading order.

    ``FetchImages`` leaves only images fetched ``ok`` in kept documents; an image segment
    without bytes is a wiring error, raised rather than written as a hole in the shard.
    """
    texts: list[str | None] = []
    images: list[ImageBlob] = []
    for seg in doc.segments:
        if seg.image is None:
            if seg.text:
                texts.append(seg.text)
            continue
        fetched = seg.image.fetched
        if fetched is None or not fetched.ok or not fetched.data:
            raise ValueError(f"document {doc.id}: image {seg.image.url} has no fetched bytes")
        texts.append(None)
        images.append(_blob(seg.image))
    meta = {"id": doc.id, "provenance": _provenance(doc), **_carried(doc)}
    return InterleavedSample(sample_key(doc.id), texts, images, meta)


def caption_sample(doc) -> CaptionSample:
    """A caption ``Document`` (``[image, caption]``) with its image fetched -> shard sample."""
    ref = doc.images[0]
    if ref.fetched is None or not ref.fetched.ok:
        raise ValueError(f"caption document {doc.id}: image not fetched")
    meta = {"id": doc.id, "url": ref.url, "provenance": _provenance(doc), **_carried(doc)}
    return CaptionSample(sample_key(doc.id), _blob(ref), doc.text, meta)


def text_sample(doc) -> TextSample:
    meta = {"id": doc.id, "provenance": _provenance(doc), **_carried(doc)}
    return TextSample(sample_key(doc.id), doc.text, meta)
