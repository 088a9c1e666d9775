"""Imports only run downward: core -> beam -> jobs -> CLI.

    kosmos_data (core, Beam-free)  <-  kosmos_data.beam  <-  pipelines  <-  kosmos_cli
    kosmos_samples (generators, test servers) and kosmos_model (the trainer) use the core only

Checked statically on every import statement, including the lazy ones inside functions.
"""

from __future__ import annotations

import ast
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


def test_imports_run_downward():
    offenders = []
    for top in PROJECT:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            module = ".".join(parts)
            layer = _layer(module)
            for lineno, name in _imports(path, module):
                if name.split(".")[0] not in PROJECT:
                    continue
                target = _layer(name)
                if target not in ALLOWED[layer]:
                    offenders.append(f"{rel}.py:{lineno} ({layer}) imports {name} ({target})")
    assert offenders == [], "\n".join(offenders)


def test_the_layers_exist():
    assert (ROOT / "kosmos_cli" / "main.py").exists()
    assert (ROOT / "kosmos_samples" / "crawl.py").exists()
    assert not (ROOT / "kosmos_data" / "cli.py").exists()
