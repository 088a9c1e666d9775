"""``kosmos-data plan``: the arithmetic, the rates it uses, and what it says it used."""

from __future__ import annotations

import gzip
import json

import pytest

from kosmos_cli.plan import DEFAULT_RATES, PlanConfig, estimate, main


def test_estimate_arithmetic():
    est = estimate(
        PlanConfig(pages=3_600_000, cpu_seconds_per_page=0.01, workers=10, vcpus_per_worker=4,
                   memory_gb_per_worker=16, price_per_vcpu_hour=0.05, price_per_gb_hour=0.01)
    )  # fmt: skip
    assert est["core_hours"] == pytest.approx(10.0)
    assert est["wall_hours"] == pytest.approx(0.25)
    assert est["vcpu_cost_usd"] == pytest.approx(0.5)
    assert est["memory_cost_usd"] == pytest.approx(0.25 * 10 * 16 * 0.01)


def test_plan_uses_measured_rates_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .cache/rates.json here: the documented defaults
    assert main(["--pages", "1000000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rates_source"] == DEFAULT_RATES["source"]
    assert out["core_hours"] == pytest.approx(1e6 * DEFAULT_RATES["cpu_seconds_per_page"] / 3600)

    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "rates.json").write_text(
        json.dumps({"source": "bench/scale.py", "cpu_seconds_per_page": 0.036})
    )
    assert main(["--pages", "1000000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["core_hours"] == pytest.approx(10.0) and ".cache/rates.json" in out["rates_source"]


def test_plan_from_a_paths_file(tmp_path, capsys):
    paths = tmp_path / "warc.paths.gz"
    paths.write_bytes(gzip.compress(b"a.warc.gz\nb.warc.gz\n\nc.warc.gz\n"))
    rates = tmp_path / "r.json"
    rates.write_text(json.dumps({"cpu_seconds_per_page": 0.01}))
    assert main(["--paths-file", str(paths), "--pages-per-file", "1000", "--rates", str(rates),
                 "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["pages"] == 3000


def test_plan_errors_are_one_line(tmp_path, capsys):
    assert main(["--pages", "0"]) == 2
    assert "pages" in capsys.readouterr().err
    assert main(["--pages", "5", "--rates", str(tmp_path / "missing.json")]) == 2
    assert "bench/scale.py" in capsys.readouterr().err
