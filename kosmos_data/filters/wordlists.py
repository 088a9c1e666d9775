"""Word lists used by the quality filters, and how they are loaded.

* ``GOPHER_STOPWORDS``: the eight English stop words of Gopher's quality filter (Rae et al.
  2021, appendix A.1.1: "the, be, to, of, and, that, have, with"). A document must contain at
  least two of them.
* Flagged words: a plain-text file, one lower-case word per line, ``#`` comments. The default
  (``kosmos_data/assets/flagged_words_en.txt``) is a small list written for this project (see
  its header); pass another path through ``QualityConfig.flagged_words_path`` for a fuller list.

Lists are loaded once per process and path (``functools.lru_cache``), so a Beam worker pays the
file read once, not per element, and configs stay small and picklable (they carry a path, not
the set).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

#: Gopher's stop words (Rae et al. 2021, appendix A.1.1).
GOPHER_STOPWORDS: frozenset[str] = frozenset(
    ("the", "be", "to", "of", "and", "that", "have", "with")
)

#: Package-relative name of the default flagged-word list.
DEFAULT_FLAGGED_WORDS_ASSET = "assets/flagged_words_en.txt"


def _parse_wordlist(text: str) -> frozenset[str]:
    words = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if line:
            words.add(line)
    return frozenset(words)


@functools.lru_cache(maxsize=8)
def load_wordlist(path: str | None = None) -> frozenset[str]:
    """Load a word list from ``path``, or the bundled flagged-word list when ``path`` is None.

    Raises ``FileNotFoundError`` naming the path when the file does not exist.
    """
    if path is None:
        ref = resources.files("kosmos_data").joinpath(DEFAULT_FLAGGED_WORDS_ASSET)
        try:
            return _parse_wordlist(ref.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:  # pragma: no cover - broken install
            raise FileNotFoundError(
                f"bundled word list {DEFAULT_FLAGGED_WORDS_ASSET!r} is missing from the "
                "kosmos_data package (package-data not installed?)"
            ) from exc
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"word list not found: {path!r}")
    return _parse_wordlist(p.read_text(encoding="utf-8"))
