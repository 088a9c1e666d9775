"""The n-gram index of downstream-task text.

Every task item's texts are normalised (``normalize``) and cut into word n-grams (13 by
default: GPT-3, Brown et al. 2020 appendix C; NeMo Curator's ``TaskDecontamination``). Items
shorter than ``ngram`` words but with at least ``min_words`` are indexed whole, as one
shorter n-gram (NeMo Curator's ``min_ngram_size`` idea): COPA premises and ARC questions are
often shorter than 13 words.

N-grams shared by more than ``max_item_frequency`` task items are boilerplate of the task
format (instructions, repeated contexts), not evidence of contamination, and are left out of
the index — NeMo Curator ignores over-frequent n-grams in the same way (its ``max_matches``).

The index is a sorted ``uint64`` array of n-gram hashes (a few MB for all the KOSMOS-1
language tasks) with the task of each hash, plus a 2**27-bit membership bitmap that rejects
~98% of a document's n-grams with one vectorised gather before ``np.searchsorted`` looks at
the rest. It is built once (by the launcher or a worker's ``setup()``) and saved as ``.npz``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kosmos_data.decontam.loaders import TaskSet
from kosmos_data.decontam.normalize import ngram_hashes, word_hashes

_BITMAP_BITS = 27
_SHIFT = np.uint64(64 - _BITMAP_BITS)


@dataclass
class Matches:
    """Where a document matched: start word, n-gram length and task id of each hit."""

    starts: np.ndarray
    lengths: np.ndarray
    tasks: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


class TaskIndex:
    def __init__(
        self,
        hashes: np.ndarray,
        task_ids: np.ndarray,
        tasks: list[str],
        ngram: int,
        lengths: Iterable[int],
        items_per_task: dict[str, int],
        ignored_common: int = 0,
    ) -> None:
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        self.task_ids = np.ascontiguousarray(task_ids, dtype=np.uint16)
        self.tasks = list(tasks)
        self.ngram = ngram
        self.lengths = tuple(sorted(set(lengths) | {ngram}, reverse=True))
        self.items_per_task = dict(items_per_task)
        self.ignored_common = ignored_common
        bits = np.zeros(1 << (_BITMAP_BITS - 3), dtype=np.uint8)
        idx = self.hashes >> _SHIFT
        np.bitwise_or.at(bits, idx >> np.uint64(3), (1 << (idx & np.uint64(7))).astype(np.uint8))
        self._bits = bits

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def build(
        cls,
        task_sets: Iterable[TaskSet],
        ngram: int = 13,
        min_words: int = 8,
        max_item_frequency: int = 10,
    ) -> TaskIndex:
        names: list[str] = []
        per_item: list[np.ndarray] = []
        item_task: list[int] = []
        lengths: set[int] = set()
        counts: dict[str, int] = {}
        for ts in task_sets:
            if ts.name in names:
                raise ValueError(f"task {ts.name!r} given twice")
            tid = len(names)
            names.append(ts.name)
            counts[ts.name] = len(ts.items)
            for _, texts in ts.items:
                grams = []
                for text in texts:
                    wh = word_hashes(text)
                    if len(wh) >= ngram:
                        grams.append(ngram_hashes(wh, ngram))
                    elif len(wh) >= min_words:
                        grams.append(ngram_hashes(wh, len(wh)))
                        lengths.add(len(wh))
                if grams:
                    per_item.append(np.unique(np.concatenate(grams)))
                    item_task.append(tid)
        if not per_item:
            empty = np.empty(0, np.uint64)
            return cls(empty, empty.astype(np.uint16), names, ngram, lengths, counts)
        h = np.concatenate(per_item)
        t = np.repeat(np.array(item_task, dtype=np.uint16), [len(x) for x in per_item])
        order = np.argsort(h, kind="stable")  # stable: the first item's task wins ties
        h, t = h[order], t[order]
        uniq, first, n_items = np.unique(h, return_index=True, return_counts=True)
        keep = n_items <= max_item_frequency
        return cls(uniq[keep], t[first][keep], names, ngram, lengths, counts, int((~keep).sum()))

    def contains(self, q: np.ndarray) -> np.ndarray:
        """Boolean mask: which hashes of ``q`` are in the index."""
        if len(q) == 0 or len(self.hashes) == 0:
            return np.zeros(len(q), dtype=bool)
        idx = q >> _SHIFT
        maybe = (self._bits[idx >> np.uint64(3)] >> (idx & np.uint64(7)).astype(np.uint8)) & 1
        out = np.zeros(len(q), dtype=bool)
        cand = np.flatnonzero(maybe)
        if len(cand):
            qc = q[cand]
            pos = np.searchsorted(self.hashes, qc)
            pos[pos == len(self.hashes)] = 0
            out[cand] = self.hashes[pos] == qc
        return out

    def match_word_hashes(self, wh: np.ndarray) -> Matches:
        starts, lengths, tasks = [], [], []
        for n in self.lengths:
            q = ngram_hashes(wh, n)
            hit = np.flatnonzero(self.contains(q))
            if len(hit):
                pos = np.searchsorted(self.hashes, q[hit])
                starts.append(hit)
                lengths.append(np.full(len(hit), n, dtype=np.int64))
                tasks.append(self.task_ids[pos])
        if not starts:
            e = np.empty(0, dtype=np.int64)
            return Matches(e, e, e.astype(np.uint16))
        return Matches(np.concatenate(starts), np.concatenate(lengths), np.concatenate(tasks))

    def match(self, text: str) -> Matches:
        return self.match_word_hashes(word_hashes(text))

    # --- persistence ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            hashes=self.hashes,
            task_ids=self.task_ids,
            tasks=np.array(self.tasks, dtype=object).astype(str),
            ngram=np.array(self.ngram),
            lengths=np.array(self.lengths, dtype=np.int64),
            items=np.array([self.items_per_task.get(t, 0) for t in self.tasks], dtype=np.int64),
            ignored=np.array(self.ignored_common),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TaskIndex:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        tasks = [str(t) for t in z["tasks"]]
        return cls(
            z["hashes"], z["task_ids"], tasks, int(z["ngram"]), [int(x) for x in z["lengths"]],
            dict(zip(tasks, (int(x) for x in z["items"]), strict=True)), int(z["ignored"]),
        )  # fmt: skip

    def __getstate__(self) -> dict:
        return {"data": self.to_bytes()}

    def __setstate__(self, state: dict) -> None:
        other = TaskIndex.from_bytes(state["data"])
        self.__dict__.update(other.__dict__)
