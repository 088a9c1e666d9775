"""SentencePiece tokenizer with KOSMOS-1's special tokens.

KOSMOS-1 §3.1: "We use SentencePiece to tokenize the text" (64k vocabulary); ``<s>``/``</s>``
delimit a sequence and ``<image>``/``</image>`` an image's embeddings (§2.1). ``<pad>`` fills
the end of packed sequences; it is never a training target.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sentencepiece as spm

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
IMAGE_START, IMAGE_END = "<image>", "</image>"


@dataclass(frozen=True, slots=True)
class TokenizerConfig:
    vocab_size: int = 64000
    #: unigram is SentencePiece's default and what the KOSMOS/torchscale models use.
    model_type: str = "unigram"
    character_coverage: float = 0.9999
    #: Cap on training sentences (SentencePiece samples this many; bounds memory on big runs).
    input_sentence_size: int = 2_000_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.vocab_size < 16:
            raise ValueError(f"TokenizerConfig.vocab_size must be >= 16, got {self.vocab_size}")
        if self.model_type not in ("unigram", "bpe"):
            raise ValueError("TokenizerConfig.model_type must be unigram or bpe")
        if not 0.9 <= self.character_coverage <= 1.0:
            raise ValueError("TokenizerConfig.character_coverage must be in [0.9, 1]")


class Tokenizer:
    """A loaded SentencePiece model plus the ids of the special tokens."""

    def __init__(self, model_proto: bytes) -> None:
        self.model_proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        self.pad_id, self.unk_id = self.sp.pad_id(), self.sp.unk_id()
        self.bos_id, self.eos_id = self.sp.bos_id(), self.sp.eos_id()
        self.image_start_id = self.sp.piece_to_id(IMAGE_START)
        self.image_end_id = self.sp.piece_to_id(IMAGE_END)
        specials = (self.pad_id, self.bos_id, self.eos_id, self.image_start_id, self.image_end_id)
        if min(specials) < 0 or self.image_start_id == self.unk_id:
            raise ValueError(
                "the SentencePiece model lacks KOSMOS special tokens (<pad>, <s>, </s>, "
                "<image>, </image>); train it with `kosmos-train tokenizer`"
            )

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode(ids)

    @classmethod
    def load(cls, path: str) -> Tokenizer:
        with open(path, "rb") as f:
            return cls(f.read())

    def save(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(self.model_proto)


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig) -> Tokenizer:
    """Train a SentencePiece model on ``texts`` (one sentence or line each).

    ``hard_vocab_limit=False`` lets a small corpus end with fewer pieces than asked for
    instead of failing; the special tokens have fixed ids 0-3 and 4-5.
    """

    def lines() -> Iterator[str]:
        for t in texts:
            for line in t.splitlines():
                if line.strip():
                    yield line

    buf = io.BytesIO()
    spm.set_random_generator_seed(config.seed)  # deterministic sentence sampling
    spm.SentencePieceTrainer.train(
        sentence_iterator=lines(),
        model_writer=buf,
        vocab_size=config.vocab_size,
        model_type=config.model_type,
        character_coverage=config.character_coverage,
        input_sentence_size=config.input_sentence_size,
        shuffle_input_sentence=True,
        seed_sentencepiece_size=1_000_000,
        hard_vocab_limit=False,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        pad_piece=PAD,
        unk_piece=UNK,
        bos_piece=BOS,
        eos_piece=EOS,
        user_defined_symbols=[IMAGE_START, IMAGE_END],
        byte_fallback=True,
        num_threads=1,
        minloglevel=2,
    )
    return Tokenizer(buf.getvalue())
