"""The report of a real run opens in headless Chromium without console errors, non-blank.

Chromium (Debian ``chromium``) is installed by ``make test`` when missing; this test fails,
not skips, without it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageStat

from kosmos_cli.report import main as report_main

from .conftest import run_interleaved

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--window-size=1200,1600",
]  # fmt: skip


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium not installed: run `make test` (it apt-installs chromium when missing)"
    return exe


def screenshot(page: Path, tmp: Path) -> tuple[Path, list[str]]:
    """(PNG path, console lines) for ``page`` in headless Chromium."""
    png = tmp / f"{page.stem}.png"
    proc = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}",
         f"--screenshot={png}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert png.exists(), proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    return png, console


def pixel_stddev(png: Path) -> float:
    return max(ImageStat.Stat(Image.open(png).convert("L")).stddev)


def test_report_renders_in_headless_chromium(crawl_dir, tmp_path):
    out = tmp_path / "run"
    run_interleaved([str(crawl_dir / "*.warc.gz")], out)
    assert report_main([str(out)]) == 0
    png, console = screenshot(out / "report.html", tmp_path)
    assert console == []
    assert pixel_stddev(png) > 10  # text, tables and plots: far from a blank page

    # The harness itself catches what it is meant to catch.
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><script>console.error("boom")</script></body></html>')
    png, console = screenshot(bad, tmp_path)
    assert any("boom" in line for line in console)
    assert pixel_stddev(png) < 1  # a blank white page
