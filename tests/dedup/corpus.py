"""A generated corpus with planted near-duplicates at known Jaccard similarity."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from kosmos_data.dedup.minhash import exact_jaccard

SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ri", "zo", "el")


def vocabulary(rng: random.Random, n: int = 6000) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def paragraphs(rng: random.Random, vocab: list[str], n_words: int) -> list[list[str]]:
    words = [rng.choice(vocab) for _ in range(n_words)]
    cuts = sorted(rng.sample(range(20, n_words - 20), 4))
    bounds = [0, *cuts, n_words]
    return [words[a:b] for a, b in itertools.pairwise(bounds)]


def render(paras: list[list[str]]) -> str:
    return "\n\n".join(" ".join(p).capitalize() + "." for p in paras)


def substitute(rng, vocab, paras, k):
    paras = [p[:] for p in paras]
    for _ in range(k):
        p = rng.choice(paras)
        p[rng.randrange(len(p))] = rng.choice(vocab)
    return paras


@dataclass
class Planted:
    texts: list[str]
    pairs: list[tuple[int, int, str, float]]  # (i, j, kind, exact Jaccard)


def planted_corpus(n_base: int = 1500, seed: int = 0) -> Planted:
    """``n_base`` originals (~300 words) plus variants: word edits at several rates,
    paragraph reorderings, boilerplate header/footer changes, and heavy rewrites with
    Jaccard below 0.5 that must never be merged."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    texts: list[str] = []
    pairs: list[tuple[int, int, str, float]] = []
    boiler = [rng.choice(vocab) for _ in range(400)]
    for b in range(n_base):
        paras = paragraphs(rng, vocab, rng.randint(250, 350))
        base = len(texts)
        texts.append(render(paras))
        kind = ("edits", "reorder", "boilerplate", "heavy", "none", "edits")[b % 6]
        variants = []
        if kind == "edits":
            for k in (1, 3, 6, 10, 18):
                variants.append(("edits", render(substitute(rng, vocab, paras, k))))
        elif kind == "reorder":
            order = paras[:]
            while order == paras:
                rng.shuffle(order)
            variants.append(("reorder", render(order)))
            variants.append(("reorder+edits", render(substitute(rng, vocab, order, 4))))
        elif kind == "boilerplate":
            head = boiler[rng.randrange(300) :][: rng.randint(8, 25)]
            variants.append(("boilerplate", render([head, *paras, boiler[:12]])))
            variants.append(("boilerplate_removed", render(paras[1:])))
        elif kind == "heavy":
            for k in (45, 70, 110):
                variants.append(("heavy", render(substitute(rng, vocab, paras, k))))
        for vk, text in variants:
            texts.append(text)
            pairs.append((base, len(texts) - 1, vk, exact_jaccard(texts[base], text)))
    return Planted(texts, pairs)
