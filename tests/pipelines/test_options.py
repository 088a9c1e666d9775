"""The strict job command line: several values per flag, unknown arguments refused, flags
generated from the stage configs, one merge rule for --config and flags."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest

from kosmos_cli.main import main as cli_main
from kosmos_data.config import ConfigError
from pipelines import captions, dedup, interleaved, text
from pipelines.options import _argument, _strip_optional, parse_job

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DOLMA = SHARED / "warc" / "dolma"
CC = SHARED / "warc" / "commoncrawl"


def _parse(*argv: str):
    return parse_job(interleaved.parser(), interleaved.SECTIONS, list(argv))


def test_several_inputs_after_one_flag_are_all_read(tmp_path):
    paths = sorted(str(p) for p in CC.glob("*.warc.gz"))
    assert len(paths) == 3
    out = tmp_path / "run"
    funnel = interleaved.run(["--input", *paths, "--output", str(out), "--docs-shards", "1"])
    assert funnel["files"] == 3 and funnel["balanced"] is True
    assert sorted(funnel["archives"]) == paths
    # Mixed: several values and a repeated flag.
    config = interleaved.config_from_args(
        _parse("--input", paths[0], paths[1], "--input", paths[2], "--output", str(out))
    )
    assert sorted(config.archives) == paths


def test_several_task_files_after_one_flag(tmp_path):
    t1, t2 = tmp_path / "t1.jsonl", tmp_path / "t2.jsonl"
    for t in (t1, t2):
        t.write_text(json.dumps({"text": "a question"}) + "\n")
    parsed = _parse(
        "--input", str(DOLMA / "sample-0000.warc.gz"), "--output", str(tmp_path / "o"),
        "--decontaminate-against", f"jsonl:{t1}#text", f"jsonl:{t2}#text",
    )  # fmt: skip
    assert parsed.sections["decontam"].tasks == (f"jsonl:{t1}#text", f"jsonl:{t2}#text")


@pytest.mark.parametrize(
    "extra",
    [["stray.warc.gz"], ["--no-such-flag"], ["--max-image", "3"], ["--runer", "DirectRunner"]],
)
def test_unknown_arguments_exit_2_with_one_line(tmp_path, capsys, extra):
    argv = ["run", "interleaved", "--input", str(DOLMA / "sample-0000.warc.gz")]
    argv += ["--output", str(tmp_path / "o"), *extra]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:"), err
    assert extra[0] in err
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_beam_flags_pass_through(tmp_path):
    parsed = _parse(
        "--input", str(DOLMA / "sample-0000.warc.gz"), "--output", str(tmp_path / "o"),
        "--direct_num_workers", "2", "--direct_running_mode", "multi_processing",
        "--runner=DirectRunner",
    )  # fmt: skip
    opts = parsed.options.get_all_options()
    assert opts["direct_num_workers"] == 2 and opts["runner"] == "DirectRunner"


def test_merge_rule_default_then_file_then_flag(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps({"sampling": {"max_images": 3, "seed": 9}, "langid": {"threshold": 0.4}})
    )
    base = ["--input", str(DOLMA / "sample-0000.warc.gz"), "--output", str(tmp_path / "o")]
    c = interleaved.config_from_args(_parse(*base, "--config", str(cfg), "--max-images", "4"))
    assert c.sampling.max_images == 4  # flag beats file
    assert c.sampling.seed == 9 and c.langid.threshold == 0.4  # file beats default
    assert c.sampling.single_image_keep_prob == 0.5  # dataclass default
    # Generated long names work for every field, aliases or not.
    c = interleaved.config_from_args(
        _parse(*base, "--quality-min-words", "7", "--sampling-seed", "3")
    )
    assert c.quality.min_words == 7 and c.sampling.seed == 3
    with pytest.raises(ConfigError, match="unknown section"):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"nope": {}}))
        _parse(*base, "--config", str(bad))
    with pytest.raises(ConfigError, match="unknown field"):
        bad.write_text(json.dumps({"sampling": {"max_imgs": 2}}))
        _parse(*base, "--config", str(bad))
    # A bad value names the field.
    with pytest.raises(ValueError, match="max_images"):
        _parse(*base, "--max-images", "-1")


def test_job_defaults_sit_between_dataclass_and_file(tmp_path):
    table = tmp_path / "t.jsonl"
    table.write_text(json.dumps({"url": "http://127.0.0.1:1/a.jpg", "caption": "a cat"}) + "\n")
    args = ["--input", str(table), "--output", str(tmp_path / "o")]
    c = captions.config_from_args(parse_job(captions.parser(), captions.SECTIONS, args))
    assert c.langid.threshold == captions.CAPTION_LANGUAGE_THRESHOLD and c.images.fetch is True
    c = captions.config_from_args(
        parse_job(captions.parser(), captions.SECTIONS, [*args, "--language-threshold", "0.9"])
    )
    assert c.langid.threshold == 0.9


@pytest.mark.parametrize(
    "sections",
    [interleaved.SECTIONS, captions.SECTIONS, text.SECTIONS, dedup.sections_of("dedup")],
)
def test_every_config_field_has_a_flag(sections):
    for s in sections:
        hints = typing.get_type_hints(s.cls)
        for f in dataclasses.fields(s.cls):
            kwargs = _argument(hints[f.name])
            if kwargs is None:  # nested rule tables: config file only
                assert typing.get_origin(_strip_optional(hints[f.name])) is tuple, f.name
                continue
            assert s.dest(f.name)


def test_help_lists_beam_flags_and_every_section(capsys):
    assert cli_main(["run", "interleaved", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--runner", "--direct_num_workers", "--input SPEC [SPEC ...]", "--max-images"):
        assert flag in out
    for s in interleaved.SECTIONS:
        assert f"--{s.name}-" in out or s.aliases


def test_funnel_json_is_written_once_after_the_run(tmp_path, monkeypatch):
    from apache_beam.io.filesystems import FileSystems

    from kosmos_data.rundir import FUNNEL as FUNNEL_FILE
    from kosmos_data.rundir import FUNNEL_PARTIAL

    created: list[str] = []
    real_create = FileSystems.create

    def create(path, *a, **kw):
        created.append(path)
        return real_create(path, *a, **kw)

    monkeypatch.setattr(FileSystems, "create", staticmethod(create))
    out = tmp_path / "run"
    funnel = interleaved.run(
        ["--input", str(DOLMA / "sample-0000.warc.gz"), "--output", str(out), "--docs-shards", "1"]
    )
    writes = [p for p in created if p.endswith(FUNNEL_FILE) or p.endswith(FUNNEL_FILE + ".tmp")]
    assert writes == [str(out / FUNNEL_FILE) + ".tmp"]  # one write, published by a rename
    assert not (out / FUNNEL_PARTIAL).exists()
    on_disk = json.loads((out / FUNNEL_FILE).read_text())
    assert on_disk["balanced"] is True and on_disk["beam_counters"] and on_disk["run"]
    assert on_disk["records_in"] == funnel["records_in"]


def test_funnel_stage_order_comes_from_the_jobs_chain(tmp_path):
    out = tmp_path / "run"
    funnel = interleaved.run(["--input", str(DOLMA / "sample-0000.warc.gz"), "--output", str(out)])
    order = funnel["stage_order"]
    assert order == [
        "read", "prefilter", "optout", "decode", "extract", "sampling", "langid", "quality",
        "pii", "dedup_url", "dedup_text", "dedup_images", "dedup_near", "decontam", "images",
    ]  # fmt: skip
    assert [s["stage"] for s in funnel["stages"]][: len(order)] == order[: len(funnel["stages"])]
