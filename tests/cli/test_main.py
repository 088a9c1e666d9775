"""The command line: clear errors with exit code 2, help, funnel printing."""

import json
import subprocess
import sys

from kosmos_cli import main as cli
from kosmos_data.outputs import OutputConfig, keep_dropped_row
from kosmos_data.records import Dropped, Provenance


def test_run_help_lists_the_job_flags(capsys):
    assert cli.main(["run", "interleaved", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--input" in out and "--extractor" in out and "--dropped-fraction" in out


def test_run_and_submit_help_list_the_jobs_and_runners(capsys):
    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    for job in ("interleaved", "captions", "text"):
        assert f"  {job} " in out
    assert "WARC/ARC archives" in out  # the job module's docstring line
    assert cli.main(["submit", "-h"]) == 0
    out = capsys.readouterr().out
    assert "  dataflow " in out and "  flink " in out


def test_run_without_a_known_job_is_a_usage_error(capsys):
    for argv in (["run"], ["run", "crawl"], ["submit"], ["submit", "spark"]):
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith("usage: kosmos-data "), argv


def test_input_matching_nothing_is_one_clear_error(tmp_path, capsys):
    code = cli.main(["run", "interleaved", "--input", str(tmp_path / "none*.warc.gz"),
                     "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert "matches no file" in capsys.readouterr().err


def test_bad_config_field_is_named(tmp_path, capsys):
    (tmp_path / "a.warc.gz").write_bytes(b"")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"sampling": {"max_imagez": 3}}))
    code = cli.main(["run", "interleaved", "--input", str(tmp_path / "a.warc.gz"),
                     "--output", str(tmp_path / "out"), "--config", str(cfg)])  # fmt: skip
    assert code == 2
    assert "max_imagez" in capsys.readouterr().err


def test_invalid_value_names_the_config_field(tmp_path, capsys):
    (tmp_path / "a.warc.gz").write_bytes(b"")
    code = cli.main(["run", "interleaved", "--input", str(tmp_path / "a.warc.gz"),
                     "--output", str(tmp_path / "out"), "--max-images", "0"])  # fmt: skip
    assert code == 2
    assert "max_images" in capsys.readouterr().err


def test_funnel_command_needs_a_run_directory(tmp_path, capsys):
    assert cli.main(["funnel", str(tmp_path)]) == 2
    assert "funnel.json" in capsys.readouterr().err


def test_dropped_sample_is_deterministic_and_close_to_the_fraction():
    rows = [
        Dropped("prefilter", "no_img_tag", Provenance("f.warc.gz", f"<urn:{i}>", i * 100, "", ""))
        for i in range(20_000)
    ]
    kept = [keep_dropped_row(d, 0.1) for d in rows]
    assert kept == [keep_dropped_row(d, 0.1) for d in rows]
    # Binomial(20000, 0.1): sd ~42; 6 sd either side.
    assert 1750 < sum(kept) < 2250
    assert all(keep_dropped_row(d, 1.0) for d in rows[:10])
    assert not any(keep_dropped_row(d, 0.0) for d in rows[:10])
    assert OutputConfig(dropped_fraction=0.5).dropped_fraction == 0.5


def _console(tmp_path, *argv: str, prelude: str = "") -> subprocess.CompletedProcess:
    """``kosmos-data ARGV`` through ``console_main``, standard streams on pipes (so stdout is
    block-buffered, the case an exit without finalisation could lose)."""
    code = f"{prelude}\nimport sys\nfrom kosmos_cli.main import console_main\n"
    code += f"sys.argv = ['kosmos-data', *{list(argv)!r}]\nconsole_main()\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )


def test_console_main_exits_with_mains_code_after_flushing_and_atexit(tmp_path):
    """The script skips interpreter finalisation (``console_main``); nothing a user sees
    may go with it: buffered stdout arrives whole, ``atexit`` handlers run, and the exit
    code is ``main``'s."""
    res = _console(tmp_path, "sample-crawl", "--output", str(tmp_path / "crawl"), "--pages", "6",
                   prelude="import atexit; atexit.register(print, 'atexit ran')")  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    written = sorted(str(p) for p in (tmp_path / "crawl").iterdir() if p.suffix == ".gz")
    assert written and sorted(lines[:-1]) == written, lines
    assert lines[-1] == "atexit ran"
    res = _console(tmp_path, "funnel", str(tmp_path / "no-such-run"))
    assert res.returncode == 2
    assert "funnel.json not found" in res.stderr
