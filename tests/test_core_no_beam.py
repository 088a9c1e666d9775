"""The core (`kosmos_data/` outside `kosmos_data/beam/`) must never import apache_beam.

Checked two ways: statically (no import statement names it) and dynamically (importing every
core module in a fresh interpreter leaves `apache_beam` out of `sys.modules`).
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "kosmos_data"


def core_modules() -> list[Path]:
    return [p for p in sorted(CORE.rglob("*.py")) if "beam" not in p.relative_to(CORE).parts]


def test_core_has_modules():
    names = {p.stem for p in core_modules()}
    assert {"records", "warc", "prefilter", "decode", "stages", "funnel"} <= names


def test_no_import_statement_names_apache_beam():
    offenders = []
    for path in core_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(n == "apache_beam" or n.startswith("apache_beam.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_importing_every_core_module_does_not_load_beam():
    mods = []
    for path in core_modules():
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] == 'apache_beam')\n"
        "print(len(bad)); print(bad[:5])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    first = out.stdout.splitlines()[0]
    assert first == "0", out.stdout
