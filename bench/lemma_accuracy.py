"""Does a vocabulary term match its inflected forms? Accuracy and speed of ladder's lemma layer.

    python bench/lemma_accuracy.py [--repeat N]

A form counts as matched when the term (the base form) is found in it by ``text.find_term``,
the matcher every vocabulary rule uses. ``LADDER_VOIKKO=0`` measures the fallback.
Prints per-language accuracy, the misses, words/s, and one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.lang import lemma, text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2000, help="passes over the forms for the speed figure")
    args = ap.parse_args()
    rows = [line.split("\t") for line in (Path(__file__).parent / "data" / "lemma_forms.tsv").read_text(
        encoding="utf-8").splitlines() if line and not line.startswith("#")]
    figures: dict = {"fi_backend": lemma.backend("fi")}
    for lang in ("fi", "en"):
        items = [(f, b) for f, b, lg in rows if lg == lang]
        misses = [(f, b, sorted(lemma.lemmas(f, lang))) for f, b in items if not text.find_term(f, b, lang)]
        acc = 1 - len(misses) / len(items)
        print(f"{lang} ({lemma.backend(lang)}): {len(items) - len(misses)}/{len(items)} = {acc:.3f}")
        for f, b, got in misses:
            print(f"  miss: {f} -> {got} (expected {b})")
        # speed without the cache: the analyser's own rate on fresh calls
        words = [f for f, _ in items]
        start = time.perf_counter()
        for _ in range(max(1, args.repeat // 100)):
            lemma._lemmas.cache_clear()
            for w in words:
                lemma.lemmas(w, lang)
        n = len(words) * max(1, args.repeat // 100)
        rate = n / (time.perf_counter() - start)
        print(f"  {rate:,.0f} words/s uncached")
        figures.update({f"{lang}_accuracy": round(acc, 3), f"{lang}_n": len(items), f"{lang}_words_per_s": round(rate)})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
