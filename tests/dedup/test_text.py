"""The folded ASCII path of ``normalize_bytes`` against the general Unicode path."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from kosmos_data.dedup import text as T

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "extraction-dev"


def _general(text: str) -> list[str]:
    return T._normalize_unicode(text).split()


def test_folded_path_gives_the_general_words_on_real_texts() -> None:
    truth = json.loads((DEV / "scrapinghub" / "ground-truth.json").read_text(encoding="utf-8"))
    texts = [v["articleBody"] for v in truth.values()]
    expected = sorted((DEV / "readability").glob("*/expected.txt"))
    texts += [p.read_text(encoding="utf-8") for p in expected]
    assert len(texts) == 311
    folded = 0
    for t in texts:
        assert T.normalize_bytes(t).decode("utf-8").split() == _general(t), t[:80]
        folded += not t.isascii() and T._NON_ASCII.sub(T._fold_char, t).isascii()
    assert folded > 150, folded  # most non-ASCII pages take the folded path


@pytest.mark.parametrize("seed", range(5))
def test_folded_path_on_random_mixed_text(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "aZ9 _-.,'\n\t’‘“”–—…\u00a0\u2009éÉßøÆœﬁ²½©™€\u0301\u2011\u2212çñÑ"
    exotic = "日本語Жж한"
    for _ in range(400):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.2:
            t += rng.choice(exotic)
        assert T.normalize_bytes(t).decode("utf-8").split() == _general(t), repr(t)


def test_examples() -> None:
    assert T.normalize_bytes("Don’t – “Café” ﬁne\u00a0day").split() == [
        b"dont",
        b"cafe",
        b"fine",
        b"day",
    ]
    assert T.normalize_text("Жена’s café") == "женаs cafe"  # the general path (Cyrillic)
