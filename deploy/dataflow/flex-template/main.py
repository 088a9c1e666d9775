"""Flex Template entry point: template parameters -> ``kosmos-data run interleaved`` flags.

Dataflow passes every parameter as ``--name=value`` (names from ``metadata.json``, which
uses underscores) plus the runner options it adds itself. Job flags are spelled with
dashes, and booleans arrive as ``--resume=true``; this translates both and runs the job.
"""

from __future__ import annotations

import logging
import sys

# Template parameter name -> job flag (see metadata.json).
JOB_FLAGS = {
    "input": "--input",
    "output": "--output",
    "paths_prefix": "--paths-prefix",
    "max_files": "--max-files",
    "files_seed": "--files-seed",
    "languages": "--languages",
    "docs_shards": "--docs-shards",
    "dropped_fraction": "--dropped-fraction",
    "extractor": "--extractor",
    "config": "--config",
}
BOOLEAN_FLAGS = {"resume": "--resume", "overwrite": "--overwrite"}


def translate(argv: list[str]) -> list[str]:
    """Template-style ``--name=value`` arguments -> the job's flags; others pass through."""
    out: list[str] = []
    for arg in argv:
        name, sep, value = arg.removeprefix("--").partition("=")
        if arg.startswith("--") and name in JOB_FLAGS and sep:
            out += [JOB_FLAGS[name], value]
        elif arg.startswith("--") and name in BOOLEAN_FLAGS:
            if not sep or value.lower() in ("true", "1", "yes"):
                out.append(BOOLEAN_FLAGS[name])
        else:
            out.append(arg)
    return out


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    from pipelines import interleaved

    raise SystemExit(interleaved.main(translate(sys.argv[1:])))
