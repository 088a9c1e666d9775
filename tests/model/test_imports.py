"""kosmos_model never imports apache_beam (the core rule), statically and at import time."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import kosmos_model

PKG = Path(kosmos_model.__file__).parent


def test_no_beam_import_in_source():
    pattern = re.compile(r"^\s*(import|from)\s+apache_beam", re.M)
    for path in PKG.glob("*.py"):
        assert not pattern.search(path.read_text()), path


def test_importing_every_module_loads_no_beam():
    mods = [f"kosmos_model.{m.name}" for m in pkgutil.iter_modules([str(PKG)])]
    assert {"kosmos_model.layers", "kosmos_model.data", "kosmos_model.cli"} <= set(mods)
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "assert 'apache_beam' not in sys.modules, 'apache_beam imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
