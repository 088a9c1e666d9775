"""``pip install kosmos-data`` is complete: a fresh venv runs the interleaved job on a real WARC.

Issue 14 measured the opposite: a plain ``pip install .`` in a fresh venv, then ``kosmos-data run
interleaved`` on a real WARC, crashed inside the pipeline (``FileNotFoundError: ...
lid.176.ftz``) because the language-ID model was only installed by the Makefile. Here the
project and its *declared* dependencies are built into a wheel directory (pip's cache and the
registry; the directory is kept between runs, so after the first run this needs no network),
installed with ``--no-index`` from exactly those wheels into a venv without system site
packages, and the installed ``kosmos-data`` runs from outside the source tree. An undeclared
dependency is then missing and the job fails, which is what this test guards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
WARC = ROOT.parent / "shared" / "data" / "warc" / "dolma" / "sample-0000.warc.gz"
#: Wheels of the declared dependencies, kept between runs (outside the repo, like pip's cache).
WHEELS = Path(
    os.environ.get("KOSMOS_WHEEL_CACHE", Path.home() / ".cache" / "kosmos-data" / "wheels")
)
SOURCES = (
    "pyproject.toml",
    "README.md",
    "kosmos_data",
    "pipelines",
    "kosmos_model",
    "kosmos_cli",
    "kosmos_samples",
)

FASTTEXT_OWNERS = """
import importlib.metadata as md
print(sorted(d.metadata["Name"] for d in md.distributions()
             if any(str(f) == "fasttext/__init__.py" for f in (d.files or []))))
"""


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd[:4]} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return proc


def _clean_env() -> dict[str, str]:
    """The environment without this venv or checkout leaking into the fresh one."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _drop_project_wheels() -> None:
    """``pip wheel -w WHEELS`` also writes the project's own wheel there, and a wheel of that
    name found there later is reused as is, with the dependencies it had then: keep none."""
    for p in WHEELS.glob("kosmos_data-*.whl"):
        p.unlink()


@pytest.mark.slow
def test_fresh_venv_pip_install_runs_the_interleaved_job(tmp_path: Path) -> None:
    assert WARC.is_file(), f"real WARC missing: {WARC} (../shared/data)"
    src = tmp_path / "src"  # a copy: building in the checkout would leave build/ behind
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    env = _clean_env()
    pip = [sys.executable, "-m", "pip"]
    project = tmp_path / "project"
    _run([*pip, "wheel", "-q", "--no-deps", "-w", project, src], env=env)
    (wheel,) = project.glob("kosmos_data-*.whl")
    WHEELS.mkdir(parents=True, exist_ok=True)
    _drop_project_wheels()
    deps = [*pip, "wheel", "-q", "--find-links", WHEELS, "-w", WHEELS, wheel]
    offline = subprocess.run([str(c) for c in [*deps, "--no-index"]], capture_output=True, env=env)
    if offline.returncode != 0:  # first run, or a dependency changed: fill the cache
        _drop_project_wheels()
        _run(deps, env=env)
    _drop_project_wheels()

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], env=env)
    py = venv / "bin" / "python"
    _run([py, "-m", "pip", "install", "-q", "--no-index", "--find-links", WHEELS, wheel], env=env)
    owners = _run([py, "-c", FASTTEXT_OWNERS], env=env, cwd=tmp_path).stdout.strip()
    assert owners == "['fasttext-numpy2']", f"`fasttext` must come from one package: {owners}"

    out = tmp_path / "run"
    cmd = [venv / "bin" / "kosmos-data", "run", "interleaved", "--input", WARC, "--output", out]
    proc = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    # A first run's log says what the job does, not Beam's internals (kosmos_cli._QUIET_LOGGERS).
    for noise in ("Creating state cache", "Converting string literal", "apitools"):
        assert noise not in proc.stderr, f"{noise!r} in the run's log:\n{proc.stderr[-3000:]}"
    funnel = json.loads((out / "funnel.json").read_text())
    assert funnel["balanced"] and funnel["dead_letter"]["total"] == 0, funnel
    langid = next(s for s in funnel["stages"] if s["stage"] == "langid")
    assert langid["in"] > 0 and langid["dead_letter"] == 0, langid
    assert funnel["kept"] > 0 and funnel["breakdowns"]["languages"] == {"en": funnel["kept"]}
    docs = pq.read_table(out / "docs").to_pydict()
    assert set(docs["language"]) == {"en"}, docs["language"]
    assert min(docs["language_score"]) >= 0.65, docs["language_score"]

    # The fidelity extractor (trafilatura; its jusText needs lxml_html_clean) runs too.
    out = tmp_path / "run-fidelity"
    proc = subprocess.run(
        [str(c) for c in [*cmd[:-1], out, "--extractor", "fidelity"]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    funnel = json.loads((out / "funnel.json").read_text())
    assert funnel["balanced"] and funnel["kept"] > 0, funnel  # (its time cap is wall-clock)
