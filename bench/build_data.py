"""Build the small data files ladder ships in ``pipeline/lang/data/`` (run once; the files are committed).

- ``freq_en.tsv.gz``, ``freq_fi.tsv.gz``: a general background frequency per *lemma*, from the
  ``wordfreq`` package's word lists (its wheel carries them; nothing is downloaded). Each of the
  most frequent 120,000 word forms is mapped to its base form with the lemmatiser ladder uses at
  run time (``pipeline.discover.vocab.lemma_of``: Voikko for Finnish), and the forms' frequencies summed.
  Mapping at build time keeps ``ladder vocab`` fast (no 700,000-word lemmatisation at run time)
  and ``wordfreq`` out of the runtime dependencies.
- ``names_en.txt``: English first and family names from Faker's en_US, en_GB, en_IE and en_NZ
  person providers, one ``kind<TAB>name`` a line (kind: f first, l family, c also a common word,
  i.e. a Zipf frequency of 4.8 or more in wordfreq: "will", "mark", "brown").

    pip install wordfreq faker && python bench/build_data.py
"""

from __future__ import annotations

import gzip
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import wordfreq  # noqa: E402

from pipeline.discover.vocab import lemma_of  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "pipeline" / "lang" / "data"
TOP = 120_000
LOCALES = ("en_US", "en_GB", "en_IE", "en_NZ")


def build_freq(language: str) -> None:
    freq: dict[str, float] = defaultdict(float)
    for word in wordfreq.top_n_list(language, TOP):
        if not any(c.isalpha() for c in word):
            continue
        freq[lemma_of(word, language)] += wordfreq.word_frequency(word, language)
    rows = sorted(freq.items(), key=lambda kv: -kv[1])
    with gzip.open(OUT / f"freq_{language}.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as f:
        f.write(f"# lemma frequencies from wordfreq {wordfreq.__version__ if hasattr(wordfreq, '__version__') else ''}"
                f" top {TOP} forms of '{language}', lemmatised by pipeline.discover.vocab.lemma_of\n")
        for lem, p in rows:
            f.write(f"{lem}\t{p:.3g}\n")
    print(language, len(rows), "lemmas")


def build_names() -> None:
    import importlib

    first, last = set(), set()
    for m in [importlib.import_module(f"faker.providers.person.{loc}") for loc in LOCALES]:
        p = m.Provider
        first |= {n.lower() for n in getattr(p, "first_names", ()) if n.isalpha()}
        last |= {n.lower() for n in getattr(p, "last_names", ()) if n.replace("'", "").isalpha()}
    lines = ["# English first (f) and family (l) names from Faker's en_US/en_GB/en_IE/en_CA providers;",
             "# c: also a common English word (wordfreq Zipf >= 4.8), a name only in a name's context"]
    for name in sorted(first | last):
        kind = ("f" if name in first else "") + ("l" if name in last else "")
        if wordfreq.zipf_frequency(name, "en") >= 4.8:
            kind += "c"
        lines.append(f"{kind}\t{name}")
    (OUT / "names_en.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("names", len(first), len(last))


if __name__ == "__main__":
    build_names()
    for lang in ("en", "fi"):
        build_freq(lang)
