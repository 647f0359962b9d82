"""General word frequencies per lemma (from wordfreq, mapped to lemmas at build time by
bench/build_data.py and shipped in data/): the background a group's own words stand out from."""

from __future__ import annotations

import gzip
import threading
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


_READING = threading.Lock()


def background(language: str) -> dict[str, float]:
    """A general frequency per lemma (relative, summing to about 1), or empty for a language
    without one. Read once, by one thread: a run's job threads all ask for it at their first
    check, and each reading the file itself cost a run 32 readings of it."""
    with _READING:
        return _read(language)


@lru_cache(maxsize=4)
def _read(language: str) -> dict[str, float]:
    path = DATA / f"freq_{language}.tsv.gz"
    out: dict[str, float] = {}
    if not path.exists():
        return out
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            lem, _, p = line.rstrip("\n").partition("\t")
            out[lem] = float(p)
    return out
