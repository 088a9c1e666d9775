"""Does the fast extractor give the same output as at another git revision?

    python bench/extract_same.py [--ref main] [--shared ../shared]

Extracts every real page at hand (the 311 extraction-dev pages, the pages of
``shared/data/html`` and the HTML responses of ``shared/data/warc``) with the working tree's
fast extractor and with the one of ``--ref`` (``git archive`` of ``kosmos_data`` into a
temporary directory, run in a subprocess), and compares, page by page, everything the
extractor returns: segments (text, image URL / alt / size / source, in order), title, image
drop counts, extraction confidence, or the error raised. Exits 1 on any difference. For a
speed-up that must not change the output (bench/extract.py measures the speed).
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __name__ == "__main__" and "--dump" not in sys.argv:
    sys.path.insert(0, str(REPO))  # this checkout's kosmos_data, not an installed one


def pages(shared: Path) -> list:
    """(name, HtmlPage) of every real page at hand, in a fixed order."""
    from kosmos_data.decode import DecodeError, decode_html
    from kosmos_data.extract.devset import load_dev_set
    from kosmos_data.records import HtmlPage, Provenance, RawPage
    from kosmos_data.warc import ReadConfig, iter_records

    out = [
        (f"dev/{p.source}/{p.key}", p.page)
        for p in load_dev_set(shared / "data" / "extraction-dev")
    ]
    for path in sorted(glob.glob(str(shared / "data" / "html" / "**" / "*.html"), recursive=True)):
        html = Path(path).read_bytes().decode("utf-8", errors="replace")
        prov = Provenance(
            warc_file="html", record_id=path, offset=0, url="https://x.test/", fetch_date=""
        )
        out.append((f"html/{Path(path).name}", HtmlPage(prov, html, "utf-8", "default")))
    for path in sorted(glob.glob(str(shared / "data" / "warc" / "**" / "*.warc*"), recursive=True)):
        try:
            with open(path, "rb") as f:
                recs = list(iter_records(f, path, ReadConfig()))
        except Exception:
            continue
        for i, rec in enumerate(recs):
            if not isinstance(rec, RawPage) or rec.record_type != "response":
                continue
            if rec.mime_type not in ("text/html", None):
                continue
            try:
                out.append((f"warc/{Path(path).name}/{i}", decode_html(rec)))
            except DecodeError:
                continue
    return out


def run(shared: Path) -> dict:
    """name -> comparable result of the fast extractor importable from ``sys.path``."""
    from kosmos_data.extract import ExtractConfig, make_extractor

    ex = make_extractor(ExtractConfig(timeout_s=60.0))
    res = {}
    for name, page in pages(shared):
        try:
            doc = ex.extract(page)
        except Exception as e:
            res[name] = ("error", type(e).__name__, str(e))
            continue
        segs = [
            ("text", s.text)
            if s.image is None
            else ("image", s.image.url, s.image.alt, s.image.width, s.image.height, s.image.source)
            for s in doc.segments
        ]
        res[name] = ("doc", doc.id, doc.extractor, segs, json.dumps(doc.meta, sort_keys=True))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", default="main")
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--dump", help=argparse.SUPPRESS)  # subprocess mode: pickle results here
    args = ap.parse_args(argv)
    shared = Path(args.shared)
    if args.dump:
        import kosmos_data

        print(f"reference: {kosmos_data.__file__}")
        with open(args.dump, "wb") as f:
            pickle.dump(run(shared), f)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.ref, "kosmos_data"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        dump = Path(tmp) / "ref.pkl"
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); sys.argv = sys.argv[2:]; "
            "import runpy; runpy.run_path(sys.argv[0], run_name='__main__')"
        )
        # The reference package goes first on sys.path, so its kosmos_data is imported.
        subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                tmp,
                __file__,
                "--shared",
                str(shared),
                "--dump",
                str(dump),
            ],
            check=True,
            cwd=tmp,
        )
        with open(dump, "rb") as f:
            ref = pickle.load(f)
    import kosmos_data

    assert str(tmp) not in kosmos_data.__file__
    assert Path(kosmos_data.__file__).resolve().is_relative_to(REPO), kosmos_data.__file__
    new = run(shared)
    diff = [k for k in ref if ref[k] != new.get(k)] + [k for k in new if k not in ref]
    kinds = {}
    for v in new.values():
        kinds[v[0]] = kinds.get(v[0], 0) + 1
    print(f"{len(new)} pages ({kinds}) against {args.ref}: {len(diff)} differ")
    for k in diff[:20]:
        print(f"  {k}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
