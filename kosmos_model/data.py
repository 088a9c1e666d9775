"""From shards to batches: units, full-sentence packing, the source mixture, instructions.

KOSMOS-1 §3.1 trains on three sources read through :mod:`kosmos_data.shards` only:

* text corpora: "we use full-sentence packing ... each input sequence is packed with full
  sentences sampled continuously from one or more documents" (the RoBERTa FULL-SENTENCES
  scheme, Liu et al., 2019 §4.2), up to 2,048 tokens;
* image-caption pairs: ``<s> <image> [64] </image> caption </s>``, several pairs per sequence;
* interleaved web documents: ``<s> text <image> [64] </image> text ... </s>``.

A *unit* is what packing never splits: one sentence of a text or interleaved document, one
image of an interleaved document (``<image>`` + 64 slots + ``</image>``), one caption pair, or
one instruction example. Each token carries a *kind* that decides whether it may be a target.

Batches mix the sources by token share (KOSMOS-1 §3.2: 1.2M-token batches of 0.5M text,
0.5M image-caption and 0.2M interleaved tokens); language-only instruction data (§3.3,
Unnatural Instructions / FLANv2 in ``(instruction, input, output)`` form) is a slice of the
text share with its prompt tokens masked out of the loss.

Every stream is deterministic and its position (epoch, shard, sample, unit) is saved in
checkpoints, so a resumed run continues with exactly the batches it would have seen.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from kosmos_data import shards as kshards
from kosmos_model.model import IGNORE
from kosmos_model.tokenizer import Tokenizer
from kosmos_model.vision import crop_array

# Token kinds. Only TEXT tokens are ever targets.
TEXT, PROMPT, IMAGE, MARK, PAD = 0, 1, 2, 3, 4
SOURCES = ("text", "captions", "interleaved", "instructions")
#: KOSMOS-1 §3.2: 0.5M text, 0.5M image-caption, 0.2M interleaved tokens per 1.2M batch.
PAPER_PROPORTIONS = {"text": 0.5, "captions": 0.5, "interleaved": 0.2}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(slots=True)
class Unit:
    tokens: list[int]
    kinds: list[int]
    images: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tokens)


def split_sentences(text: str) -> list[str]:
    """Sentences: split after . ! ? followed by whitespace, and at newlines."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _text_units(tok: Tokenizer, text: str) -> list[Unit]:
    return [Unit(ids, [TEXT] * len(ids)) for s in split_sentences(text) if (ids := tok.encode(s))]


def _image_unit(tok: Tokenizer, data: bytes, num_latents: int) -> Unit:
    tokens = [tok.image_start_id] + [tok.pad_id] * num_latents + [tok.image_end_id]
    kinds = [MARK] + [IMAGE] * num_latents + [MARK]
    return Unit(tokens, kinds, [data])


def _wrap_document(tok: Tokenizer, units: list[Unit]) -> list[Unit]:
    """``<s>`` before the first unit, ``</s>`` after the last. ``<s>`` is never a target (it
    follows the previous document's ``</s>`` and cannot be predicted); ``</s>`` is one."""
    if not units:
        return units
    first = units[0]
    units[0] = Unit([tok.bos_id, *first.tokens], [PROMPT, *first.kinds], first.images)
    last = units[-1]  # (the same unit as units[0] for a one-sentence document)
    units[-1] = Unit([*last.tokens, tok.eos_id], [*last.kinds, TEXT], last.images)
    return units


def text_units(tok: Tokenizer, sample: kshards.TextSample) -> list[Unit]:
    return _wrap_document(tok, _text_units(tok, sample.text))


def caption_units(tok: Tokenizer, sample: kshards.CaptionSample, num_latents: int) -> list[Unit]:
    """One pair is one unit: ``<s> <image> [slots] </image> caption </s>``."""
    img = _image_unit(tok, sample.image.data, num_latents)
    cap = tok.encode(sample.caption.strip())
    if not cap:
        return []
    unit = Unit(
        [tok.bos_id, *img.tokens, *cap, tok.eos_id],
        [PROMPT, *img.kinds, *([TEXT] * len(cap)), TEXT],
        img.images,
    )
    return [unit]


def interleaved_units(
    tok: Tokenizer, sample: kshards.InterleavedSample, num_latents: int
) -> list[Unit]:
    units: list[Unit] = []
    images = iter(sample.images)
    for text in sample.texts:
        if text is None:
            units.append(_image_unit(tok, next(images).data, num_latents))
        else:
            units += _text_units(tok, text)
    return _wrap_document(tok, units)


def instruction_prompt(instruction: str, inp: str) -> str:
    """The prompt template of an ``(instruction, input, output)`` example."""
    prompt = f"Instruction: {instruction.strip()}\n"
    if inp and inp.strip():
        prompt += f"Input: {inp.strip()}\n"
    return prompt + "Output:"


def instruction_units(tok: Tokenizer, example: dict) -> list[Unit]:
    """``<s> prompt output </s>`` as one unit; instruction and input are PROMPT (no loss)."""
    for k in ("instruction", "output"):
        if k not in example:
            raise ValueError(f"instruction example lacks {k!r}: {sorted(example)}")
    prompt = tok.encode(instruction_prompt(example["instruction"], example.get("input", "")))
    out = tok.encode(" " + example["output"].strip())
    tokens = [tok.bos_id, *prompt, *out, tok.eos_id]
    kinds = [PROMPT] * (1 + len(prompt)) + [TEXT] * (len(out) + 1)
    return [Unit(tokens, kinds)]


# --------------------------------------------------------------------------- streams


@dataclass(slots=True)
class StreamState:
    epoch: int = 0
    file: int = 0  # index into this epoch's file order
    sample: int = 0  # samples of that file already consumed
    unit: int = 0  # units of the current sample already consumed


class UnitStream:
    """An endless, resumable stream of units from a list of files (shards or JSONL).

    Each epoch visits this rank's files in an order shuffled with ``(seed, epoch)``; a
    sample's units come out in order. ``peek``/``pop`` let the packer take a unit only when
    it fits, so the saved position always points at the next unplaced unit.
    """

    def __init__(
        self,
        name: str,
        files: list[str],
        read: Callable[[str], Iterator[object]],
        units: Callable[[object], list[Unit]],
        *,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        state: StreamState | None = None,
        max_epochs: int | None = None,
    ) -> None:
        if not files:
            raise ValueError(f"source {name!r} has no files")
        self.name = name
        self.read, self.make_units = read, units
        # Partitions (ranks x loader shards) split files when there are enough of them, else
        # samples: partition r takes the samples whose index g in the concatenation of all
        # files (in ``files`` order) has g % m == r % m, m = min(partitions, samples). A source
        # with fewer samples than partitions gives some partitions the same samples (only toy
        # corpora are that small), rather than none.
        self._stride_samples = len(files) < world_size
        self.files = files if self._stride_samples else files[rank::world_size]
        self.rank, self.world_size = rank, world_size
        self._offsets: dict[str, int] = {}
        self._modulus = world_size
        if self._stride_samples:
            total = 0
            for f in files:
                self._offsets[f] = total
                total += sum(1 for _ in read(f))
            self._modulus = max(1, min(world_size, total))
        self.seed, self.shuffle = seed, shuffle
        self.state = state or StreamState()
        self.max_epochs = max_epochs  # None: endless; else StopIteration after that many
        self._iter: Iterator[object] | None = None
        self._units: list[Unit] | None = None
        self._empty_files = 0

    def _order(self, epoch: int) -> list[str]:
        order = list(self.files)
        if self.shuffle:
            random.Random(f"{self.seed}:{self.name}:{epoch}").shuffle(order)
        return order

    def _samples(self, path: str) -> Iterator[object]:
        if not self._stride_samples:
            yield from self.read(path)
            return
        m, offset = self._modulus, self._offsets[path]
        for i, s in enumerate(self.read(path)):
            if (offset + i) % m == self.rank % m:
                yield s

    def _open(self) -> None:
        st = self.state
        self._iter = self._samples(self._order(st.epoch)[st.file])
        for _ in range(st.sample):  # resume: skip consumed samples
            next(self._iter)

    def _load_sample(self) -> None:
        """Make ``self._units`` the units of the sample at the current position."""
        while self._units is None:
            if self.max_epochs is not None and self.state.epoch >= self.max_epochs:
                raise StopIteration
            if self._iter is None:
                self._open()
            sample = next(self._iter, None)
            st = self.state
            if sample is None:  # end of file
                self._iter = None
                st.file, st.sample, st.unit = st.file + 1, 0, 0
                if st.file == len(self.files):
                    st.epoch, st.file = st.epoch + 1, 0
                    self._empty_files += 1
                    if self._empty_files > 1:
                        raise ValueError(f"source {self.name!r} yields no units")
                continue
            units = self.make_units(sample)
            if st.unit >= len(units):  # (empty sample, or resumed past its end)
                st.sample, st.unit = st.sample + 1, 0
                continue
            self._empty_files = 0
            self._units = units

    def restore(self, state: StreamState) -> None:
        """Continue from a saved position (the next sample is re-read from its file)."""
        self.state = state
        self._iter = None
        self._units = None

    def peek(self) -> Unit:
        self._load_sample()
        return self._units[self.state.unit]

    def pop(self) -> Unit:
        unit = self.peek()
        st = self.state
        st.unit += 1
        if st.unit == len(self._units):
            st.sample, st.unit, self._units = st.sample + 1, 0, None
        return unit


# --------------------------------------------------------------------------- packing


@dataclass(slots=True)
class PackedSequence:
    tokens: np.ndarray  # (L,) int64, L = seq_len + 1
    kinds: np.ndarray  # (L,) uint8
    images: list[bytes]
    source: str
    units: list[tuple[int, int]]  # (start, end) of each unit, for tests and inspection

    @property
    def real_tokens(self) -> int:
        return int((self.kinds != PAD).sum())


def pack_sequence(stream: UnitStream, length: int, pad_id: int, dropped: dict) -> PackedSequence:
    """Fill ``length`` tokens with whole units from ``stream``; pad the rest.

    A unit longer than ``length`` can never fit; it is skipped and counted in ``dropped``
    (``dropped[source]``), never cut.
    """
    tokens: list[int] = []
    kinds: list[int] = []
    images: list[bytes] = []
    spans: list[tuple[int, int]] = []
    skipped = 0
    while True:
        try:
            unit = stream.peek()
        except StopIteration:  # a finite stream (evaluation) ran out
            if not tokens:
                raise
            break
        if len(unit) > length:
            stream.pop()
            dropped[stream.name] = dropped.get(stream.name, 0) + 1
            skipped += 1
            if skipped > 100_000 and not tokens:
                raise ValueError(
                    f"source {stream.name!r}: no unit fits in {length} tokens (sequence too short)"
                )
            continue
        if len(tokens) + len(unit) > length:
            break
        stream.pop()
        spans.append((len(tokens), len(tokens) + len(unit)))
        tokens += unit.tokens
        kinds += unit.kinds
        images += unit.images
    n = length - len(tokens)
    return PackedSequence(
        np.asarray(tokens + [pad_id] * n, dtype=np.int64),
        np.asarray(kinds + [PAD] * n, dtype=np.uint8),
        images,
        stream.name,
        spans,
    )


# --------------------------------------------------------------------------- mixture


@dataclass(frozen=True, slots=True)
class MixtureConfig:
    """Token shares per source in each batch (normalised; KOSMOS-1 §3.2 by default).

    ``instruction_fraction`` of the text share goes to instruction examples when an
    instruction file is given (KOSMOS-1 §3.3 mixes them into the text stream).
    ``natural=True`` weighs sources by their manifest token counts instead.
    """

    text: float = PAPER_PROPORTIONS["text"]
    captions: float = PAPER_PROPORTIONS["captions"]
    interleaved: float = PAPER_PROPORTIONS["interleaved"]
    instruction_fraction: float = 0.1
    natural: bool = False

    def __post_init__(self) -> None:
        for f in ("text", "captions", "interleaved"):
            if getattr(self, f) < 0:
                raise ValueError(f"MixtureConfig.{f} must be >= 0, got {getattr(self, f)}")
        if not 0.0 <= self.instruction_fraction < 1.0:
            raise ValueError("MixtureConfig.instruction_fraction must be in [0, 1)")


def source_tokens(shard_dir: str) -> int:
    """A source's token count, from its shard manifest (``totals.tokens``)."""
    return int(kshards.read_manifest(shard_dir)["totals"]["tokens"])


def mixture_shares(
    config: MixtureConfig, shard_dirs: dict[str, str], has_instructions: bool
) -> dict[str, float]:
    """Normalised token share per available source (sources without shards are left out)."""
    if config.natural:
        raw = {s: float(source_tokens(d)) for s, d in shard_dirs.items()}
    else:
        raw = {s: getattr(config, s) for s in shard_dirs if s in PAPER_PROPORTIONS}
    for s in shard_dirs:
        if s not in PAPER_PROPORTIONS:
            raise ValueError(f"unknown source {s!r}; expected one of {tuple(PAPER_PROPORTIONS)}")
    raw = {s: w for s, w in raw.items() if w > 0}
    if has_instructions:
        text = raw.pop("text", 0.0) or sum(raw.values()) or 1.0
        f = config.instruction_fraction
        if "text" in shard_dirs and f < 1:
            raw["text"] = text * (1 - f)
        raw["instructions"] = text * (f if "text" in shard_dirs else 1.0)
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("the mixture has no source with a positive share")
    return {s: w / total for s, w in raw.items()}


def plan_mixture(
    shares: dict[str, float], shard_dirs: dict[str, str], tokens_per_step: int, steps: int
) -> dict[str, dict]:
    """Per source: manifest tokens, tokens the run will draw, and epochs that means."""
    plan = {}
    for s, share in shares.items():
        available = source_tokens(shard_dirs[s]) if s in shard_dirs else 0
        draw = share * tokens_per_step * steps
        plan[s] = {
            "share": share,
            "manifest_tokens": available,
            "planned_tokens": int(draw),
            "epochs": (draw / available) if available else None,
        }
    return plan


@dataclass(slots=True)
class Batch:
    input_ids: torch.Tensor  # (B, T) int64
    targets: torch.Tensor  # (B, T) int64, IGNORE where not trained
    image_mask: torch.Tensor  # (B, T) bool
    pixels: torch.Tensor | None  # (N, 3, S, S) uint8, images in slot order (normalised on device)
    sources: list[str]
    real_tokens: list[int]


def targets_from_kinds(tokens: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Next-token targets of a (B, L) sequence: ``tokens[:, 1:]`` where the target's kind is
    TEXT, else IGNORE (image slots, ``<image>``/``</image>``, ``<s>``, prompts, padding)."""
    tgt = tokens[:, 1:].copy()
    tgt[kinds[:, 1:] != TEXT] = IGNORE
    return tgt


def collate_arrays(seqs: list[PackedSequence], image_size: int) -> dict:
    """The ready batch as numpy arrays (what a loader worker sends): model inputs, targets,
    image mask and decoded, cropped uint8 pixels, plus per-sequence source and fill."""
    tokens = np.stack([s.tokens for s in seqs])  # (B, L)
    kinds = np.stack([s.kinds for s in seqs])
    images = [im for s in seqs for im in s.images]
    pixels = np.stack([crop_array(im, image_size) for im in images]) if images else None
    return {
        "input_ids": np.ascontiguousarray(tokens[:, :-1]),
        "targets": targets_from_kinds(tokens, kinds),
        "image_mask": kinds[:, :-1] == IMAGE,
        "pixels": pixels,
        "sources": [s.source for s in seqs],
        "real_tokens": [s.real_tokens for s in seqs],
    }


def batch_from_arrays(arrays: dict, pin_memory: bool = False) -> Batch:
    """Tensors over the worker's arrays (no copy), or copies in pinned memory for
    ``non_blocking`` host-to-GPU transfers."""

    def t(a: np.ndarray | None) -> torch.Tensor | None:
        if a is None:
            return None
        x = torch.from_numpy(a)
        return x.pin_memory() if pin_memory else x

    return Batch(
        input_ids=t(arrays["input_ids"]),
        targets=t(arrays["targets"]),
        image_mask=t(arrays["image_mask"]),
        pixels=t(arrays["pixels"]),
        sources=list(arrays["sources"]),
        real_tokens=list(arrays["real_tokens"]),
    )


def collate(seqs: list[PackedSequence], image_size: int) -> Batch:
    return batch_from_arrays(collate_arrays(seqs, image_size))


class MixtureLoader:
    """Endless batches of ``batch_size`` packed sequences mixing the sources by token share.

    Each sequence slot goes to the source furthest below its target share of the tokens drawn
    so far (largest deficit ``share * total - drawn``, ties by name): a deterministic,
    self-correcting schedule, so the mix matches the shares over any window of batches.
    """

    def __init__(
        self,
        streams: dict[str, UnitStream],
        shares: dict[str, float],
        *,
        batch_size: int,
        seq_len: int,
        pad_id: int,
        image_size: int,
        drawn: dict[str, int] | None = None,
    ) -> None:
        if set(streams) != set(shares):
            raise ValueError(f"streams {sorted(streams)} and shares {sorted(shares)} differ")
        self.streams, self.shares = streams, shares
        self.batch_size, self.seq_len = batch_size, seq_len
        self.pad_id, self.image_size = pad_id, image_size
        self.drawn = drawn or dict.fromkeys(streams, 0)
        self.dropped: dict[str, int] = {}

    def _pick(self) -> str:
        total = sum(self.drawn.values())
        return max(sorted(self.shares), key=lambda s: self.shares[s] * total - self.drawn[s])

    def next_sequences(self) -> list[PackedSequence]:
        seqs = []
        for _ in range(self.batch_size):
            src = self._pick()
            seq = pack_sequence(self.streams[src], self.seq_len + 1, self.pad_id, self.dropped)
            self.drawn[src] += seq.real_tokens
            seqs.append(seq)
        return seqs

    def next_batch(self) -> Batch:
        return collate(self.next_sequences(), self.image_size)

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.next_batch()

    def state_dict(self) -> dict:
        return {
            "drawn": dict(self.drawn),
            "dropped": dict(self.dropped),
            "streams": {n: dataclasses.asdict(s.state) for n, s in self.streams.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.drawn = dict(state["drawn"])
        self.dropped = dict(state["dropped"])
        for n, st in state["streams"].items():
            self.streams[n].restore(StreamState(**st))


# --------------------------------------------------------------------------- building


def read_shard(path: str) -> Iterator[kshards.Sample]:
    return kshards.iter_samples([path])


def read_jsonl(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def unit_maker(source: str, tok: Tokenizer, num_latents: int) -> Callable[[object], list[Unit]]:
    if source == "text":
        return lambda s: text_units(tok, s)
    if source == "captions":
        return lambda s: caption_units(tok, s, num_latents)
    if source == "interleaved":
        return lambda s: interleaved_units(tok, s, num_latents)
    if source == "instructions":
        return lambda s: instruction_units(tok, s)
    raise ValueError(f"unknown source {source!r}")


def build_streams(
    shard_dirs: dict[str, str],
    tok: Tokenizer,
    num_latents: int,
    *,
    instructions: str | None = None,
    seed: int = 0,
    shuffle: bool = True,
    rank: int = 0,
    world_size: int = 1,
    max_epochs: int | None = None,
) -> dict[str, UnitStream]:
    streams = {}
    for source, d in sorted(shard_dirs.items()):
        streams[source] = UnitStream(
            source,
            kshards.shard_urls(d),
            read_shard,
            unit_maker(source, tok, num_latents),
            seed=seed,
            shuffle=shuffle,
            rank=rank,
            world_size=world_size,
            max_epochs=max_epochs,
        )
    if instructions:
        if not os.path.exists(instructions):
            raise FileNotFoundError(instructions)
        streams["instructions"] = UnitStream(
            "instructions",
            [instructions],
            read_jsonl,
            unit_maker("instructions", tok, 0),
            seed=seed,
            shuffle=False,
            rank=rank,
            world_size=world_size,
            max_epochs=max_epochs,
        )
    return streams


def mixture_loader(
    shard_dirs: dict[str, str],
    tok: Tokenizer,
    num_latents: int,
    *,
    batch_size: int,
    seq_len: int,
    image_size: int,
    mixture: MixtureConfig | None = None,
    instructions: str | None = None,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> MixtureLoader:
    """This rank's training batches: shuffled endless streams of every source, mixed by the
    shares of ``mixture`` (KOSMOS-1's by default; ``loader.shares`` holds them)."""
    streams = build_streams(
        shard_dirs,
        tok,
        num_latents,
        instructions=instructions,
        seed=seed,
        rank=rank,
        world_size=world_size,
    )
    shares = mixture_shares(mixture or MixtureConfig(), shard_dirs, bool(instructions))
    return MixtureLoader(
        streams,
        shares,
        batch_size=batch_size,
        seq_len=seq_len,
        pad_id=tok.pad_id,
        image_size=image_size,
    )


def shard_dirs_by_source(dirs) -> dict[str, str]:
    """``{source: dir}`` from a dict, or from a list of shard dirs via their manifests."""
    if isinstance(dirs, dict):
        return {k: str(v) for k, v in dirs.items()}
    out: dict[str, str] = {}
    for d in dirs:
        source = kshards.read_manifest(str(d))["source"]
        if source in out:
            raise ValueError(f"two shard directories for source {source!r}: {out[source]}, {d}")
        out[source] = str(d)
    return out


def iter_texts(shard_dirs: list[str], limit_chars: int | None = None) -> Iterator[str]:
    """All text of the given shard directories (text, captions, interleaved segments)."""
    seen = 0
    for d in shard_dirs:
        for sample in kshards.iter_samples(d):
            if isinstance(sample, kshards.TextSample):
                texts = [sample.text]
            elif isinstance(sample, kshards.CaptionSample):
                texts = [sample.caption]
            else:
                texts = [t for t in sample.texts if t]
            for t in texts:
                yield t
                seen += len(t)
                if limit_chars is not None and seen >= limit_chars:
                    return


# --------------------------------------------------------------------------- loader processes


def default_workers() -> int:
    """Loader processes per rank when none are configured: this process's CPU cores (its
    affinity mask) divided among the ranks of this node (``LOCAL_WORLD_SIZE``, torchrun)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # (not Linux)
        cores = os.cpu_count() or 1
    return max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


@dataclass(frozen=True, slots=True)
class LoaderSpec:
    """Everything a loader process needs to build its batches (picklable, no open files).

    The data of one rank is split into ``loader_shards`` *loader shards*; loader shard v of
    rank r reads partition ``r * loader_shards + v`` of ``world_size * loader_shards``
    (``UnitStream``: every P-th file, or every P-th sample when a source has fewer files than
    partitions) and is one ``MixtureLoader`` of its own. Batch k of the rank comes from loader
    shard ``k % loader_shards``. So the batch sequence is fixed by (seed, world size, loader
    shards) and does not depend on how many processes build it: ``workers`` may change
    between a run and its resume, ``loader_shards`` may not.
    """

    shard_dirs: dict[str, str]
    tokenizer: bytes  # the SentencePiece model proto
    num_latents: int
    batch_size: int
    seq_len: int
    image_size: int
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    instructions: str | None = None
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    loader_shards: int = 8

    def __post_init__(self) -> None:
        if self.loader_shards < 1:
            raise ValueError(f"LoaderSpec.loader_shards must be >= 1, got {self.loader_shards}")
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"LoaderSpec.rank {self.rank} not in [0, {self.world_size})")

    def shares(self) -> dict[str, float]:
        return mixture_shares(self.mixture, self.shard_dirs, bool(self.instructions))

    def build(self, shard: int, tok: Tokenizer | None = None) -> MixtureLoader:
        """Loader shard ``shard`` of this rank."""
        v = self.loader_shards
        return mixture_loader(
            self.shard_dirs,
            tok or Tokenizer(self.tokenizer),
            self.num_latents,
            batch_size=self.batch_size,
            seq_len=self.seq_len,
            image_size=self.image_size,
            mixture=self.mixture,
            instructions=self.instructions,
            seed=self.seed,
            rank=self.rank * v + shard,
            world_size=self.world_size * v,
        )


LOADER_STATE_FORMAT = "kosmos-loader/2"


def initial_loader_state(spec: LoaderSpec) -> dict:
    return {
        "format": LOADER_STATE_FORMAT,
        "loader_shards": spec.loader_shards,
        "next": 0,
        "shards": [None] * spec.loader_shards,
    }


def check_loader_state(state: dict, spec: LoaderSpec) -> None:
    if state.get("format") != LOADER_STATE_FORMAT:
        raise ValueError(
            f"data position format {state.get('format')!r} is not {LOADER_STATE_FORMAT!r} "
            "(a checkpoint from before loader shards): it cannot be resumed exactly"
        )
    if state["loader_shards"] != spec.loader_shards:
        raise ValueError(
            f"the checkpoint's data has {state['loader_shards']} loader shards, this run "
            f"{spec.loader_shards}: the batch order would differ"
        )


class _Shards:
    """Some of a rank's loader shards, built lazily and restored from a saved state."""

    def __init__(self, spec: LoaderSpec, state: dict) -> None:
        self.spec, self.state = spec, state
        self.tok = Tokenizer(spec.tokenizer)
        self.loaders: dict[int, MixtureLoader] = {}

    def loader(self, v: int) -> MixtureLoader:
        if v not in self.loaders:
            ld = self.spec.build(v, self.tok)
            if self.state["shards"][v] is not None:
                ld.load_state_dict(self.state["shards"][v])
            self.loaders[v] = ld
        return self.loaders[v]

    def produce(self, k: int) -> tuple[dict, dict]:
        """Batch ``k`` as arrays, and its loader shard's state after it."""
        ld = self.loader(k % self.spec.loader_shards)
        arrays = collate_arrays(ld.next_sequences(), self.spec.image_size)
        return arrays, ld.state_dict()


def _worker_main(spec, state, worker, workers, out, stop) -> None:  # pragma: no cover (child)
    """A loader process: builds every batch k with ``(k % loader_shards) % workers ==
    worker``, in order, and sends ``(k, arrays, shard state)``; an error is sent as text."""
    import traceback

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    try:
        shards = _Shards(spec, state)
        k = state["next"]
        while not stop.is_set():
            if (k % spec.loader_shards) % workers == worker:
                item: tuple = ("batch", k, *shards.produce(k))
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            k += 1
        out.cancel_join_thread()  # stopped: unsent batches are not needed
    except BaseException:
        out.put(("error", worker, traceback.format_exc(), None))  # flushed at exit


class BatchLoader:
    """A rank's training batches, built ``workers`` processes wide (0: in this process).

    Shard reading, tokenisation, packing, mixing and image decoding all run in the worker
    processes (spawned, so none inherits this process's threads or CUDA state); this process
    receives ready numpy arrays, wraps them as tensors (copied to pinned memory when
    ``pin_memory``) and hands them out in batch order. With ``prefetch > 0`` a thread of this
    process receives (and pins) up to ``prefetch`` batches ahead; each worker also builds up
    to ``prefetch`` batches ahead of being asked.

    ``state_dict()`` is the position after the last batch handed out, never of prefetched
    ones: ``next`` (the next batch index) and every loader shard's ``MixtureLoader`` state.
    Use it as a context manager: leaving the block stops the thread and the processes.
    """

    def __init__(
        self,
        spec: LoaderSpec,
        *,
        workers: int = 0,
        prefetch: int = 2,
        pin_memory: bool = False,
        state: dict | None = None,
    ) -> None:
        if workers < 0 or prefetch < 0:
            raise ValueError("BatchLoader workers and prefetch must be >= 0")
        self.spec, self.pin_memory = spec, pin_memory
        if state is not None:
            check_loader_state(state, spec)
            state = json.loads(json.dumps(state))  # (a private copy)
        self.state = state or initial_loader_state(spec)
        self._produced = json.loads(json.dumps(self.state))  # state after the last produced
        self.workers = min(workers, spec.loader_shards)
        self.pids: list[int] = []
        self._procs: list = []
        self._queues: list = []
        self._local: _Shards | None = None
        if self.workers:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            self._stop_procs = ctx.Event()
            for w in range(self.workers):
                q = ctx.Queue(maxsize=max(1, prefetch))
                p = ctx.Process(
                    target=_worker_main,
                    args=(spec, self.state, w, self.workers, q, self._stop_procs),
                    daemon=True,
                    name=f"kosmos-loader-{w}",
                )
                p.start()
                self._procs.append(p)
                self._queues.append(q)
            self.pids = [p.pid for p in self._procs]
        else:
            self._local = _Shards(spec, self.state)
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self._thread = None
        if prefetch > 0:
            self._thread = threading.Thread(target=self._work, daemon=True, name="prefetch")
            self._thread.start()

    @property
    def shares(self) -> dict[str, float]:
        return self.spec.shares()

    def _receive(self, k: int) -> tuple[dict, dict]:
        w = (k % self.spec.loader_shards) % self.workers
        q, proc = self._queues[w], self._procs[w]
        while True:
            try:
                kind, got, arrays, shard_state = q.get(timeout=1.0)
                break
            except queue.Empty:
                if self._stop.is_set():
                    raise RuntimeError("loader closed") from None
                if not proc.is_alive() and q.empty():
                    raise RuntimeError(
                        f"loader worker {w} (pid {proc.pid}) died, exit code {proc.exitcode}"
                    ) from None
        if kind == "error":
            raise RuntimeError(f"loader worker {got} failed:\n{arrays}")
        if got != k:
            raise RuntimeError(f"loader worker {w} sent batch {got}, expected {k}")
        return arrays, shard_state

    def _produce(self) -> tuple[Batch, dict]:
        st = self._produced
        k = st["next"]
        if self._local is not None:
            arrays, shard_state = self._local.produce(k)
        else:
            arrays, shard_state = self._receive(k)
        st["next"] = k + 1
        st["shards"][k % self.spec.loader_shards] = shard_state
        after = {**st, "shards": list(st["shards"])}
        return batch_from_arrays(arrays, self.pin_memory), after

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item: object = self._produce()
            except BaseException as e:  # handed to the trainer, raised there
                item = e
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def __iter__(self) -> BatchLoader:
        return self

    def __next__(self) -> Batch:
        item = self._queue.get() if self._thread else self._produce()
        if isinstance(item, BaseException):
            raise item
        batch, self.state = item
        return batch

    def state_dict(self) -> dict:
        return self.state

    def close(self) -> None:
        """Stop the thread (it ends after the batch it is receiving) and the processes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._procs:
            self._stop_procs.set()
            for p in self._procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.terminate()
                    p.join()
            for q in self._queues:
                q.close()
                q.cancel_join_thread()
            self._procs = []

    def __enter__(self) -> BatchLoader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
