"""The whole interleaved job as a user runs it, on real pages: rates for ``kosmos-data plan``.

    python bench/scale.py [--rows 1,4,16] [--pages 990] [--files 2] [--big [--big-gb 1.0]]
                          [--multiprocess-rows 1,16]
                          [--datatrove-python /work/venv-datatrove/bin/python]
                          [--out .cache/rates.json]

What it measures: ``kosmos-data run interleaved --input ... --output ...`` (the default local
DirectRunner job: read -> prefilter -> extract -> sampling -> language -> quality -> dedup ->
decontamination -> writers, checkpoints included) in a subprocess; CPU seconds of the whole
process tree (``os.wait4`` rusage of the job plus every descendant it reaped, cross-checked
against per-process CPU polled from ``/proc``: the larger is reported), wall seconds, and peak
RSS of the process tree (the sum over all its processes, polled from ``/proc`` every 0.1 s;
``ru_maxrss``, the largest single process, beside it).

The input is built at bench time from REAL pages only, never generated text: the 311 pages of
``../shared/data/extraction-dev`` (gzip'd HTML as fetched), the 52 HTML pages of
``../shared/data/html`` and the HTML responses of the real crawls in
``../shared/data/warc/{dolma,commoncrawl}``, each wrapped in a WARC ``response`` record (the
bench's own small writer, one gzip member per record, as Common Crawl writes them). The unique
pages are replicated (each copy gets its own URL and record id) to ``--pages`` for the 1x row
and to 4x / 16x of it, so later rows repeat earlier pages: exact/near dedup drops the copies,
as it would drop mirrored pages in a crawl. Each input is split into ``--files`` WARCs (2, so
that two workers have an archive each). ``--big`` writes a WARC of at least ``--big-gb``
GB of these real-sized pages (a real Common Crawl archive is ~1 GB, ~35k records).

Rows: start-up (the job on a 1-record WARC: what every run pays before its first page),
1x/4x/16x (pages per CPU-second *marginal* = pages / (CPU - start-up CPU)), the 1x input
(and each of ``--multiprocess-rows``) with ``--direct_num_workers 2 --direct_running_mode
multi_processing`` (speed-up in wall time over one process, and its CPU), and, with
``--datatrove-python``, datatrove (WarcReader -> Trafilatura -> fastText LanguageFilter ->
GopherQualityFilter -> JsonlWriter) on the same 1x WARC in the same run, from its own venv
(it must never enter the project venv). datatrove would download ``lid.176.bin`` at run
time, which is impossible here: its LanguageFilter is pointed at the ``lid.176.ftz`` shipped
inside kosmos-data, the model our job uses too, so both identify languages with the same
model. Both keep English only (threshold: ours ``LangIdConfig.threshold``, datatrove's
default 0.65).

The datatrove venv (never the project's): ``python3 -m venv /work/venv-datatrove &&
/work/venv-datatrove/bin/pip install 'datatrove[processing]==0.10.1' spacy faust-cchardet
python-magic warcio orjson lxml_html_clean`` (WarcReader needs cchardet/magic/warcio, the
Jsonl writer orjson, English word tokens spaCy's blank ``en``, trafilatura's jusText
``lxml_html_clean``); ``--datatrove-python /work/venv-datatrove/bin/python``.

Writes ``--out`` (``.cache/rates.json``), which ``kosmos-data plan`` reads: the marginal CPU
per page of the largest row measured, start-up CPU, WARC bytes per page, peak RSS. Figures
depend on the machine and on what else runs on it: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- real pages -> WARC


@dataclass(slots=True)
class RealPage:
    """One real page: its URL and the HTTP response block (status line, headers, body)."""

    url: str
    http_block: bytes
    source: str


def _http_block(body: bytes, content_type: str = "text/html") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _warc_responses(path: Path) -> list[RealPage]:
    """HTML responses of a real WARC, re-serialised with the decoded body (warcio strips
    chunking and content-encoding; the original status line and other headers stay)."""
    from warcio.archiveiterator import ArchiveIterator

    pages = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response" or rec.http_headers is None:
                continue
            ctype = rec.http_headers.get_header("Content-Type") or ""
            if "html" not in ctype.lower():
                continue
            body = rec.content_stream().read()
            drop = {"content-length", "transfer-encoding", "content-encoding"}
            lines = [rec.http_headers.statusline.strip()]
            lines += [f"{k}: {v}" for k, v in rec.http_headers.headers if k.lower() not in drop]
            lines.append(f"Content-Length: {len(body)}")
            block = ("HTTP/1.1 " + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
            url = rec.rec_headers.get_header("WARC-Target-URI")
            pages.append(RealPage(url, block + body, f"warc/{path.parent.name}"))
    return pages


def real_pages(shared: Path = SHARED) -> list[RealPage]:
    """Every real HTML page under ``shared`` (see the module docstring), in a fixed order."""
    dev = shared / "extraction-dev"
    missing = [p for p in (dev, shared / "html", shared / "warc") if not p.is_dir()]
    if missing:
        raise SystemExit(f"bench/scale.py: real data missing: {missing} (../shared/data)")
    pages: list[RealPage] = []
    truth = json.loads((dev / "scrapinghub" / "ground-truth.json").read_text())
    for f in sorted((dev / "scrapinghub" / "html").glob("*.html.gz")):
        page_id = f.name.removesuffix(".html.gz")
        url = truth.get(page_id, {}).get("url") or f"https://scrapinghub.example/{page_id}"
        pages.append(RealPage(url, _http_block(gzip.decompress(f.read_bytes())), "scrapinghub"))
    for f in sorted((dev / "readability").glob("*/source.html.gz")):
        url = f"https://readability.example/{f.parent.name}/"  # README: URLs not known
        pages.append(RealPage(url, _http_block(gzip.decompress(f.read_bytes())), "readability"))
    for f in sorted((shared / "html").rglob("*.html")):
        slug = hashlib.blake2b(str(f.relative_to(shared)).encode(), digest_size=6).hexdigest()
        url = f"https://{f.parent.name}.example/{slug}.html"
        pages.append(RealPage(url, _http_block(f.read_bytes()), f"html/{f.parent.name}"))
    for sub in ("dolma", "commoncrawl"):
        for f in sorted((shared / "warc" / sub).glob("*.warc.gz")):
            pages.extend(_warc_responses(f))
    return pages


def _record(page: RealPage, copy: int) -> bytes:
    """One gzip member holding one WARC response record; copies get their own URL/id.
    ``WARC-Identified-Payload-Type`` as Common Crawl writes it (datatrove's reader reads it;
    without it, it guesses the type with libmagic and skips many real pages)."""
    url = page.url
    if copy:
        url += ("&" if "?" in url else "?") + f"kd_copy={copy}"
    rid = uuid.UUID(bytes=hashlib.blake2b(f"{copy}:{page.url}".encode(), digest_size=16).digest())
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:{rid}>\r\nWARC-Date: 2025-08-04T00:00:00Z\r\n"
        f"WARC-Target-URI: {url}\r\nContent-Type: application/http; msgtype=response\r\n"
        "WARC-Identified-Payload-Type: text/html\r\n"
        f"Content-Length: {len(page.http_block)}\r\n\r\n"
    ).encode("utf-8", "replace")
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip member, gzip's default level
    return comp.compress(head + page.http_block + b"\r\n\r\n") + comp.flush()


def write_warcs(pages: list[RealPage], n: int, files: int, folder: Path) -> tuple[int, int]:
    """Write ``n`` page records (cycling through ``pages``) into ``files`` WARCs in
    ``folder``; returns (records, compressed bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    with contextlib.ExitStack() as stack:
        handles = [
            stack.enter_context(open(folder / f"real-{i:03d}.warc.gz", "wb")) for i in range(files)
        ]
        for i in range(n):
            data = _record(pages[i % len(pages)], i // len(pages))
            handles[i * files // n].write(data)
            total += len(data)
    return n, total


def write_warc_bytes(pages: list[RealPage], min_bytes: int, files: int, folder: Path) -> int:
    """Write records until the WARCs hold at least ``min_bytes`` compressed; returns pages."""
    folder.mkdir(parents=True, exist_ok=True)
    total = n = 0
    with contextlib.ExitStack() as stack:
        handles = [
            stack.enter_context(open(folder / f"big-{i:03d}.warc.gz", "wb")) for i in range(files)
        ]
        while total < min_bytes:
            data = _record(pages[n % len(pages)], n // len(pages))
            handles[n % files].write(data)
            total += len(data)
            n += 1
    return n


# ---------------------------------------------------------------- measuring a process tree


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _proc_sample(pid: int) -> tuple[float, int] | None:
    """(CPU seconds user+system, RSS bytes) of one live process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/statm", "rb") as f:
            rss_pages = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, rss_pages * PAGE_SIZE


@dataclass
class TreeWatch:
    """Polls a process tree: peak of the summed RSS, last CPU seen per process."""

    root: int
    interval: float = 0.1
    rss_limit: int | None = None
    peak_rss: int = 0
    cpu: dict[int, float] = field(default_factory=dict)
    killed_at_rss: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            kids = _children_map()
            todo, rss = [self.root], 0
            while todo:
                pid = todo.pop()
                sample = _proc_sample(pid)
                if sample is not None:
                    self.cpu[pid] = sample[0]
                    rss += sample[1]
                todo.extend(kids.get(pid, ()))
            self.peak_rss = max(self.peak_rss, rss)
            if self.rss_limit and rss > self.rss_limit and self.killed_at_rss is None:
                self.killed_at_rss = rss
                os.killpg(self.root, 9)  # the job runs in its own process group
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


def measure_command(cmd: list[str], env: dict, log_path: Path, rss_limit: int | None) -> dict:
    """Run ``cmd`` in its own process group; CPU (tree), wall, peak RSS (tree and largest)."""
    with open(log_path, "wb") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
        watch = TreeWatch(proc.pid, rss_limit=rss_limit)
        thread = threading.Thread(target=watch.run, daemon=True)
        thread.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        watch.stop()
        thread.join()
    rusage_cpu = ru.ru_utime + ru.ru_stime
    polled_cpu = sum(watch.cpu.values())
    return {
        "rc": proc.returncode,
        "cpu_s": max(rusage_cpu, polled_cpu),
        "cpu_rusage_s": rusage_cpu,
        "cpu_polled_s": polled_cpu,
        "wall_s": wall,
        "peak_rss_mib": watch.peak_rss / 2**20,
        "max_proc_rss_mib": ru.ru_maxrss / 1024,
        "processes": len(watch.cpu),
        "killed_at_rss_mib": None if watch.killed_at_rss is None else watch.killed_at_rss / 2**20,
    }


# ---------------------------------------------------------------- the two pipelines


#: The interpreter that runs our job (``--python``): this one by default, or e.g. the venv of a
#: plain ``pip install kosmos-data`` (its declared dependencies); the code is this checkout's.
OURS_PYTHON = [sys.executable]


def ours(warc_dir: Path, out: Path, extra: list[str], rss_limit: int | None) -> dict:
    """``kosmos-data run interleaved`` exactly as a user types it (this checkout's code)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        OURS_PYTHON[0],
        "-m",
        "kosmos_cli.main",
        "run",
        "interleaved",
        "--input",
        str(warc_dir / "*.warc.gz"),
        "--output",
        str(out),
        *extra,
    ]
    res = measure_command(cmd, env, out.parent / f"{out.name}.log", rss_limit)
    funnel_path = out / "funnel.json"
    if res["rc"] != 0 or not funnel_path.exists():
        tail = (out.parent / f"{out.name}.log").read_text(errors="replace")[-3000:]
        res["error"] = f"exit {res['rc']}" + (
            "" if res["killed_at_rss_mib"] is None else " (killed: RSS > limit)"
        )
        res["log_tail"] = tail
        return res
    funnel = json.loads(funnel_path.read_text())
    res.update(records_in=funnel["records_in"], kept=funnel["kept"], balanced=funnel["balanced"])
    return res


DATATROVE_SCRIPT = r'''
import json, sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import GopherQualityFilter, LanguageFilter
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FT176LID

warc_dir, out_dir, model_path = sys.argv[1:4]

class LocalFT176(FT176LID):
    """lid.176 from a local file (the lid.176.ftz kosmos-data ships): no download at run time."""
    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText
            self._model = _FastText(model_path)
        return self._model

lang = LanguageFilter(languages=["en"])
lang.model = LocalFT176(["en"])
LocalPipelineExecutor(
    pipeline=[
        WarcReader(warc_dir, glob_pattern="*.warc.gz"),
        Trafilatura(favour_precision=True),
        lang,
        GopherQualityFilter(),
        JsonlWriter(out_dir + "/docs", compression=None),
    ],
    tasks=1, workers=1, logging_dir=out_dir + "/logs",
).run()
kept = sum(1 for p in __import__("pathlib").Path(out_dir, "docs").glob("*.jsonl")
           for _ in open(p))
print("KEPT", kept)
'''


def datatrove(python: str, warc_dir: Path, out: Path, model: Path, rss_limit: int | None) -> dict:
    script = out.parent / "datatrove_job.py"
    script.write_text(DATATROVE_SCRIPT)
    out.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HF_HUB_OFFLINE"] = "1"
    cmd = [python, str(script), str(warc_dir), str(out), str(model)]
    res = measure_command(cmd, env, out.parent / f"{out.name}.log", rss_limit)
    log = (out.parent / f"{out.name}.log").read_text(errors="replace")
    kept = [line.split()[1] for line in log.splitlines() if line.startswith("KEPT ")]
    if res["rc"] != 0 or not kept:
        res["error"] = f"exit {res['rc']}"
        res["log_tail"] = log[-3000:]
    else:
        res["kept"] = int(kept[-1])
    return res


def lid_model_path() -> Path:
    """lid.176.ftz as the project ships it (``kosmos_data/assets``)."""
    from kosmos_data.filters.langid import default_model_path

    return Path(default_model_path())


# ---------------------------------------------------------------- report


def _best(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    return min(ok, key=lambda r: r["cpu_s"]) if ok else runs[-1]


def _fmt_row(name: str, pages: int, r: dict, startup_cpu: float | None) -> str:
    if "error" in r:
        extra = ""
        if r.get("killed_at_rss_mib"):
            extra = f", killed at tree RSS {r['killed_at_rss_mib']:,.0f} MiB"
        return f"{name:<28} {pages:>7,}  FAILED ({r['error']}{extra}, {r['cpu_s']:.1f} CPU-s)"
    marg = ""
    if startup_cpu is not None and r["cpu_s"] > startup_cpu:
        marg = f"{pages / (r['cpu_s'] - startup_cpu):>9.1f}"
    return (
        f"{name:<28} {pages:>7,} {r['cpu_s']:>8.1f} {pages / r['cpu_s']:>9.1f} {marg:>9} "
        f"{r['wall_s']:>7.1f} {r['peak_rss_mib']:>9,.0f} {r['max_proc_rss_mib']:>9,.0f} "
        f"{r.get('kept', ''):>6} {'' if r.get('balanced', True) else 'UNBALANCED'}"
    )


HEADER = (
    f"{'row':<28} {'pages':>7} {'CPU-s':>8} {'pg/CPU-s':>9} {'marginal':>9} {'wall-s':>7} "
    f"{'RSS-tree':>9} {'RSS-proc':>9} {'kept':>6}\n"
    f"{'':<28} {'':>7} {'':>8} {'(total)':>9} {'pg/CPU-s':>9} {'':>7} {'peak MiB':>9} "
    f"{'max MiB':>9}"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="1,4,16", help="input multiples of --pages to run")
    ap.add_argument("--pages", type=int, default=990, help="real pages in the 1x input")
    ap.add_argument("--files", type=int, default=2, help="WARC files each input is split into")
    ap.add_argument("--repeat", type=int, default=1, help="best (least CPU) of N runs per row")
    ap.add_argument("--no-multiprocess", action="store_true", help="skip the 2-worker rows")
    ap.add_argument(
        "--multiprocess-rows", default=None,
        help="input multiples (of --rows) that also get a 2-worker row; default: the first",
    )  # fmt: skip
    ap.add_argument("--big", action="store_true", help="also a >= --big-gb GB WARC (slow)")
    ap.add_argument("--big-gb", type=float, default=1.0)
    ap.add_argument(
        "--rss-limit-gib",
        type=float,
        default=8.0,
        help="kill a run whose process tree passes this RSS (0: none)",
    )
    ap.add_argument(
        "--datatrove-python",
        default=None,
        help="python of a venv with datatrove[processing] + spacy",
    )
    ap.add_argument("--python", default=sys.executable, help="interpreter of our job")
    ap.add_argument("--out", default=str(ROOT / ".cache" / "rates.json"))
    ap.add_argument("--keep", default=None, help="keep the WARCs and runs in this folder")
    args = ap.parse_args(argv)
    rows = [int(x) for x in args.rows.split(",") if x.strip()]
    OURS_PYTHON[0] = args.python
    limit = int(args.rss_limit_gib * 2**30) or None

    pages = real_pages()
    by_source: dict[str, int] = {}
    for p in pages:
        by_source[p.source] = by_source.get(p.source, 0) + 1
    load0 = os.getloadavg()
    counts = ", ".join(f"{k} {v}" for k, v in by_source.items())
    print(f"real pages: {len(pages)} unique ({counts}); our job runs on {args.python}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {load0[0]:.2f} {load0[1]:.2f} at start"
    )

    tmp_ctx = tempfile.TemporaryDirectory(prefix="kd-scale-")
    tmp = Path(args.keep) if args.keep else Path(tmp_ctx.name)
    tmp.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    sizes: dict[str, int] = {}
    startup_cpu = None

    def run_ours(name: str, warc_dir: Path, n: int, extra: list[str] = ()) -> dict:
        runs = [
            ours(warc_dir, tmp / f"{name}-run{i}", list(extra), limit) for i in range(args.repeat)
        ]
        best = _best(runs)
        best["pages"] = n
        results[name] = best
        print(_fmt_row(name, n, best, startup_cpu), flush=True)
        if "error" in best:
            print("   " + best["log_tail"].replace("\n", "\n   ")[-1500:])
        return best

    # start-up: a 1-record WARC
    write_warcs(pages[:1], 1, 1, tmp / "w-startup")
    print(HEADER)
    startup = run_ours("start-up (1 record)", tmp / "w-startup", 1)
    startup_cpu = startup["cpu_s"] if "error" not in startup else None

    for mult in rows:
        n = args.pages * mult
        _, nbytes = write_warcs(pages, n, args.files, tmp / f"w-{mult}x")
        sizes[f"{mult}x"] = nbytes
        run_ours(f"{mult}x ({nbytes / 1e6:,.0f} MB WARC)", tmp / f"w-{mult}x", n)
    first = f"{rows[0]}x" if rows else None
    multi: dict[int, dict] = {}
    mp_rows = (
        [int(x) for x in args.multiprocess_rows.split(",")] if args.multiprocess_rows else rows[:1]
    )
    if rows and not args.no_multiprocess:
        flags = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
        for mult in (m for m in mp_rows if m in rows):
            n = args.pages * mult
            multi[mult] = run_ours(f"{mult}x 2 workers multi_proc", tmp / f"w-{mult}x", n, flags)
    if args.big:
        n = write_warc_bytes(pages, int(args.big_gb * 1e9), args.files, tmp / "w-big")
        sizes["big"] = sum(p.stat().st_size for p in (tmp / "w-big").glob("*.warc.gz"))
        run_ours(f"big ({sizes['big'] / 1e9:.2f} GB WARC)", tmp / "w-big", n)

    dt = dt_start = None
    if args.datatrove_python and Path(args.datatrove_python).exists() and first:
        model = lid_model_path()
        dt_start = datatrove(
            args.datatrove_python, tmp / "w-startup", tmp / "dt-startup", model, limit
        )
        print(_fmt_row("datatrove start-up", 1, dt_start, None))
        dts = [
            datatrove(
                args.datatrove_python, tmp / f"w-{first}", tmp / f"dt-{first}-{i}", model, limit
            )
            for i in range(args.repeat)
        ]
        dt = _best(dts)
        dt_su = dt_start["cpu_s"] if "error" not in dt_start else None
        print(_fmt_row(f"datatrove {first}", args.pages * rows[0], dt, dt_su))
        if "error" in dt or (dt_start and "error" in dt_start):
            print("   " + (dt.get("log_tail") or dt_start.get("log_tail", ""))[-1500:])
    else:
        print("datatrove: not measured (no venv)")

    print()
    first_row = next((v for k, v in results.items() if k.startswith(f"{first} (")), None)
    for mult, mrow in multi.items():
        one = next((v for k, v in results.items() if k.startswith(f"{mult}x (")), None)
        if one and "error" not in one and "error" not in mrow:
            print(
                f"2 workers (multi_processing) vs 1 on {mult}x: wall speed-up "
                f"{one['wall_s'] / mrow['wall_s']:.2f}x, CPU {mrow['cpu_s']:.1f} vs "
                f"{one['cpu_s']:.1f} CPU-s ({mrow['cpu_s'] / one['cpu_s']:.2f}x)"
            )
    if dt and first_row and "error" not in dt and "error" not in first_row:
        n = args.pages * rows[0]
        ratio_total = (n / first_row["cpu_s"]) / (n / dt["cpu_s"])
        line = f"ours / datatrove pages per CPU-second on {first}: {ratio_total:.2f}x (total CPU)"
        if dt_start and "error" not in dt_start and startup_cpu is not None:
            ours_m = n / (first_row["cpu_s"] - startup_cpu)
            dt_m = n / (dt["cpu_s"] - dt_start["cpu_s"])
            line += f", {ours_m / dt_m:.2f}x (marginal)"
        print(line)
    load1 = os.getloadavg()
    print(f"load average {load1[0]:.2f} {load1[1]:.2f} at end (the machine may be shared)")

    # rates for `kosmos-data plan`: the largest successful row
    ok = [(k, v) for k, v in results.items() if "error" not in v and v["pages"] > 1]
    if ok and startup_cpu is not None:
        single = [(k, v) for k, v in ok if "2 workers" not in k] or ok
        name, row = max(single, key=lambda kv: kv[1]["pages"])
        warc_dir = tmp / ("w-big" if name.startswith("big") else f"w-{name.split('x')[0]}x")
        wbytes = sum(p.stat().st_size for p in warc_dir.glob("*.warc.gz"))
        marginal = (row["cpu_s"] - startup_cpu) / row["pages"]
        rates = {
            "source": f"bench/scale.py, row {name!r}: the whole default local interleaved job "
            "(DirectRunner, one process) on real pages",
            "measured_unix": round(time.time()),
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average": [round(load0[0], 2), round(load1[0], 2)],
            },
            "cpu_seconds_per_page": marginal,
            "pages_per_cpu_second": 1 / marginal,
            "startup_cpu_seconds": startup_cpu,
            "warc_bytes_per_page": wbytes / row["pages"],
            "peak_rss_mib": row["peak_rss_mib"],
            "rows": {
                k: {
                    x: v.get(x)
                    for x in (
                        "pages",
                        "cpu_s",
                        "wall_s",
                        "peak_rss_mib",
                        "max_proc_rss_mib",
                        "kept",
                        "error",
                    )
                }
                for k, v in results.items()
            },
            "datatrove": None
            if dt is None
            else {x: dt.get(x) for x in ("cpu_s", "wall_s", "peak_rss_mib", "kept", "error")},
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rates, indent=2) + "\n")
        print(
            f"wrote {args.out}: {rates['pages_per_cpu_second']:.1f} pages per CPU-second "
            f"marginal ({name}), start-up {startup_cpu:.1f} CPU-s"
        )
    tmp_ctx.cleanup()
    return 0 if all("error" not in v for v in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
