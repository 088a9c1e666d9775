"""``kosmos-data plan``: core-hours, wall time and cost of a run, before running it.

    kosmos-data plan --pages 3000000000 [--workers 250 --vcpus-per-worker 4]
    kosmos-data plan --paths-file warc.paths.gz [--pages-per-file 33000]
    kosmos-data plan ... --rates .cache/rates.json --price-per-vcpu-hour 0.056

The rate is the marginal CPU seconds per page of the whole default job (``kosmos-data run
interleaved`` in a subprocess, CPU of its process tree, start-up subtracted), measured by
``python bench/scale.py`` on a WARC of real pages on the user's own machine: it writes
``.cache/rates.json``, read by default (or ``--rates FILE``). Without that file the plan uses
``DEFAULT_RATES``, measured the same way on the 2-core CI machine, and says so on its first
line. The estimate assumes work is CPU-bound and spread evenly over the workers, so it is a
lower bound on wall time: add margin for stragglers, start-up and autoscaling.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

#: ``python bench/scale.py --big`` on the CI machine (2 cores, Python 3.11, load average
#: ~1), 2026-12-02, the per-archive job layer of issue 14: the default local interleaved job
#: (one process) on a 1.00 GB WARC of 36,445 real pages (the bench's ``big`` row), CPU of the
#: process tree per page after the 1-record start-up (marginal), peak RSS 1,268 MiB.
DEFAULT_RATES = {
    "source": "DEFAULT_RATES (bench/scale.py big row, 1 GB WARC of real pages, 2-core CI "
    "machine, 2026-12-02)",
    "cpu_seconds_per_page": 0.004701,
    "startup_cpu_seconds": 3.0,
    "warc_bytes_per_page": 27441.0,
}
DEFAULT_RATES_FILE = Path(".cache") / "rates.json"

#: Common Crawl snapshot scale (the issue's figures: ~90,000 WARC files, ~3 billion pages).
CC_PAGES_PER_FILE = 33_000
#: Dataflow batch list prices, us-central1 (cloud.google.com/dataflow/pricing; check them:
#: prices change and differ per region): per vCPU-hour and per GB-hour of worker memory.
DATAFLOW_VCPU_HOUR_USD = 0.056
DATAFLOW_GB_HOUR_USD = 0.003557


@dataclass(frozen=True)
class PlanConfig:
    """What a plan is computed from; validated so a typo cannot give a silent zero."""

    pages: int
    cpu_seconds_per_page: float
    workers: int = 100
    vcpus_per_worker: int = 4
    memory_gb_per_worker: float = 16.0
    price_per_vcpu_hour: float = DATAFLOW_VCPU_HOUR_USD
    price_per_gb_hour: float = DATAFLOW_GB_HOUR_USD

    def __post_init__(self) -> None:
        if self.pages < 1:
            raise ValueError(f"PlanConfig.pages must be >= 1, got {self.pages}")
        if self.cpu_seconds_per_page <= 0:
            raise ValueError("PlanConfig.cpu_seconds_per_page must be > 0")
        for name in ("workers", "vcpus_per_worker"):
            if getattr(self, name) < 1:
                raise ValueError(f"PlanConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("memory_gb_per_worker", "price_per_vcpu_hour", "price_per_gb_hour"):
            if getattr(self, name) < 0:
                raise ValueError(f"PlanConfig.{name} must be >= 0, got {getattr(self, name)}")


def estimate(cfg: PlanConfig) -> dict[str, float]:
    """Core-hours, wall hours for ``workers`` workers, and dollars."""
    core_hours = cfg.pages * cfg.cpu_seconds_per_page / 3600.0
    vcpus = cfg.workers * cfg.vcpus_per_worker
    wall_hours = core_hours / vcpus
    vcpu_cost = core_hours * cfg.price_per_vcpu_hour
    mem_cost = wall_hours * cfg.workers * cfg.memory_gb_per_worker * cfg.price_per_gb_hour
    return {
        "pages": cfg.pages,
        "core_hours": core_hours,
        "vcpus": vcpus,
        "wall_hours": wall_hours,
        "vcpu_cost_usd": vcpu_cost,
        "memory_cost_usd": mem_cost,
        "total_cost_usd": vcpu_cost + mem_cost,
    }


def count_paths(path: str) -> int:
    """Archives listed in a (gzipped) warc.paths file."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return sum(1 for line in data.decode("utf-8").splitlines() if line.strip())


def load_rates(path: str | None) -> dict:
    """Measured rates (``bench/scale.py``) from ``path`` or the default file; else defaults."""
    candidate = Path(path) if path else DEFAULT_RATES_FILE
    if candidate.exists():
        rates = json.loads(candidate.read_text())
        rates["source"] = f"{candidate} ({rates.get('source', 'measured')})"
        return rates
    if path:
        raise FileNotFoundError(f"--rates {path}: no such file (run python bench/scale.py)")
    return dict(DEFAULT_RATES)


def format_plan(est: dict[str, float], cfg: PlanConfig, rates: dict) -> str:
    days = est["wall_hours"] / 24
    warc_tb = est["pages"] * float(rates.get("warc_bytes_per_page", 0)) / 1e12
    return "\n".join(
        [
            f"rates: {rates['source']}: {cfg.cpu_seconds_per_page * 1000:.2f} ms CPU/page "
            f"({1 / cfg.cpu_seconds_per_page:,.0f} pages per CPU-second, marginal)",
            f"pages:        {est['pages']:,}",
            f"core-hours:   {est['core_hours']:,.0f}",
            f"workers:      {cfg.workers} x {cfg.vcpus_per_worker} vCPU = {est['vcpus']:,} vCPU",
            f"wall time:    {est['wall_hours']:,.1f} h ({days:,.2f} days), CPU-bound lower bound",
            f"cost:         ${est['total_cost_usd']:,.0f} = vCPU ${est['vcpu_cost_usd']:,.0f} "
            f"(${cfg.price_per_vcpu_hour}/vCPU-h) + memory ${est['memory_cost_usd']:,.0f} "
            f"({cfg.memory_gb_per_worker:g} GB/worker at ${cfg.price_per_gb_hour}/GB-h)",
            f"reads:        ~{warc_tb:,.1f} TB of WARC at the bench WARC's bytes/page "
            "(real pages, HTML responses only; CC archives also hold request/metadata records)",
        ]
    )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="kosmos-data plan", description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--pages", type=int, help="pages to process (a CC snapshot: ~3e9)")
    src.add_argument("--paths-file", help="a local warc.paths(.gz) list: archives x pages/file")
    ap.add_argument("--pages-per-file", type=int, default=CC_PAGES_PER_FILE)
    ap.add_argument("--rates", default=None, help=f"bench/scale.py JSON ({DEFAULT_RATES_FILE})")
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--vcpus-per-worker", type=int, default=4)
    ap.add_argument("--memory-gb-per-worker", type=float, default=16.0)
    ap.add_argument("--price-per-vcpu-hour", type=float, default=DATAFLOW_VCPU_HOUR_USD)
    ap.add_argument("--price-per-gb-hour", type=float, default=DATAFLOW_GB_HOUR_USD)
    ap.add_argument("--json", action="store_true", help="print the estimate as JSON")
    args = ap.parse_args(argv)
    try:
        rates = load_rates(args.rates)
        pages = args.pages
        if args.paths_file:
            pages = count_paths(args.paths_file) * args.pages_per_file
        cfg = PlanConfig(
            pages=pages or 0,
            cpu_seconds_per_page=float(rates["cpu_seconds_per_page"]),
            workers=args.workers,
            vcpus_per_worker=args.vcpus_per_worker,
            memory_gb_per_worker=args.memory_gb_per_worker,
            price_per_vcpu_hour=args.price_per_vcpu_hour,
            price_per_gb_hour=args.price_per_gb_hour,
        )
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    est = estimate(cfg)
    if args.json:
        print(json.dumps({**est, "rates_source": rates["source"]}, indent=2))
    else:
        print(format_plan(est, cfg, rates))
    return 0 if math.isfinite(est["total_cost_usd"]) else 1
