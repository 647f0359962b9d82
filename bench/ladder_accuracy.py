"""How well the rule-based ladder classifier finds a text's step, on the labelled dev set.

    python bench/ladder_accuracy.py [--data bench/data/ladder_dev.jsonl] [--errors]

Prints exact and within-one accuracy, per-step precision and recall, and the confusion matrix,
per language and overall, then one line of JSON with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import lemma  # noqa: E402
from pipeline.classify import classify  # noqa: E402

STEPS = [1, 2, 3, 4, 5]


def report(name: str, rows: list[tuple[int, int]]) -> dict:
    n = len(rows)
    exact = sum(g == p for g, p in rows) / n
    within = sum(abs(g - p) <= 1 for g, p in rows) / n
    print(f"\n== {name}: n={n}  exact={exact:.3f}  within_one={within:.3f}")
    print("step  precision  recall  n")
    for s in STEPS:
        tp = sum(g == p == s for g, p in rows)
        predicted = sum(p == s for _, p in rows)
        gold = sum(g == s for g, _ in rows)
        print(f"{s:>4}  {tp / predicted if predicted else 0:>9.2f}  {tp / gold if gold else 0:>6.2f}  {gold}")
    counts = Counter(rows)
    print("confusion (rows gold, columns predicted)")
    print("      " + "".join(f"{s:>4}" for s in STEPS))
    for g in STEPS:
        print(f"{g:>4}  " + "".join(f"{counts[(g, p)]:>4}" for p in STEPS))
    return {"exact": round(exact, 3), "within_one": round(within, 3), "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).parent / "data" / "ladder_dev.jsonl"))
    ap.add_argument("--errors", action="store_true", help="list every misclassified text")
    args = ap.parse_args()
    items = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    by_lang: dict[str, list[tuple[int, int]]] = {}
    for item in items:
        reading = classify(item["text"], item["lang"])
        by_lang.setdefault(item["lang"], []).append((item["step"], reading.primary_step))
        if args.errors and reading.primary_step != item["step"]:
            print(f"{item['id']}: gold {item['step']} got {reading.primary_step} {reading.step_scores} "
                  f"{ {s: v for s, v in reading.signals.items() if v} }\n    {item['text']}")
    figures = {"finnish_lemmas": lemma.backend("fi")}
    for lang, rows in sorted(by_lang.items()):
        r = report(lang, rows)
        figures.update({f"{lang}_exact": r["exact"], f"{lang}_within_one": r["within_one"], f"{lang}_n": r["n"]})
    overall = report("all", [row for rows in by_lang.values() for row in rows])
    print(json.dumps({**overall, **figures}))


if __name__ == "__main__":
    main()
