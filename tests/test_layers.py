"""Imports only run downward: core -> beam -> jobs -> CLI.

    kosmos_data (core, Beam-free)  <-  kosmos_data.beam  <-  pipelines  <-  kosmos_cli
    kosmos_samples (generators, test servers) and kosmos_model (the trainer) use the core only

Checked statically on every import statement, including the lazy ones inside functions.
And every module imports on its own: as the first project module a process imports (a
notebook's ``from kosmos_data.safety.images import ImageSafety``), not only after the CLI
has imported the rest in a working order.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("kosmos_data", "pipelines", "kosmos_cli", "kosmos_samples", "kosmos_model")


def _layer(module: str) -> str:
    if module == "kosmos_data.beam" or module.startswith("kosmos_data.beam."):
        return "beam"
    top = module.split(".")[0]
    return {"kosmos_data": "core", "pipelines": "jobs", "kosmos_cli": "cli"}.get(top, top)


#: layer -> the layers it may import from.
ALLOWED = {
    "core": {"core"},
    "beam": {"core", "beam"},
    "jobs": {"core", "beam", "jobs"},
    "cli": {"core", "beam", "jobs", "cli", "kosmos_samples", "kosmos_model"},
    "kosmos_samples": {"core", "kosmos_samples"},
    "kosmos_model": {"core", "kosmos_model"},
}


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
            # ``from kosmos_data import beam`` names a submodule
            out += [(node.lineno, f"{name}.{a.name}") for a in node.names if name == "kosmos_data"]
    return out


def _modules() -> list[tuple[Path, str]]:
    """(path, dotted name) of every module of the project's packages."""
    out = []
    for top in PROJECT:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out.append((path, ".".join(parts)))
    return out


def test_imports_run_downward():
    offenders = []
    for path, module in _modules():
        rel = path.relative_to(ROOT).with_suffix("")
        layer = _layer(module)
        for lineno, name in _imports(path, module):
            if name.split(".")[0] not in PROJECT:
                continue
            target = _layer(name)
            if target not in ALLOWED[layer]:
                offenders.append(f"{rel}.py:{lineno} ({layer}) imports {name} ({target})")
    assert offenders == [], "\n".join(offenders)


#: Run in one child interpreter: before each module, every project module is forgotten
#: (third-party ones stay loaded, which keeps this to seconds), so each is imported first.
_FIRST_IMPORT = """
import importlib, sys
failed = []
for module in sys.argv[1:]:
    for name in [m for m in sys.modules if m.split(".")[0] in {project!r}]:
        del sys.modules[name]
    try:
        importlib.import_module(module)
    except Exception as e:
        failed.append(f"{{module}}: {{type(e).__name__}}: {{e}}")
print("\\n".join(failed))
"""


def test_every_module_imports_as_the_first_one():
    """A module whose import only works after another was imported (an import cycle through
    a package ``__init__``) fails here with the cycle's ImportError."""
    modules = [m for _, m in _modules()]
    code = _FIRST_IMPORT.format(project=set(PROJECT))
    proc = subprocess.run(
        [sys.executable, "-c", code, *modules], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "", proc.stdout
    assert len(modules) > 100


def test_the_layers_exist():
    assert (ROOT / "kosmos_cli" / "main.py").exists()
    assert (ROOT / "kosmos_samples" / "crawl.py").exists()
    assert not (ROOT / "kosmos_data" / "cli.py").exists()
