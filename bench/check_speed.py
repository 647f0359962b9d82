"""How fast the full deterministic check is, on one core, and how much memory it takes.

    python bench/check_speed.py [--repeat 5] [--data bench/data/ladder_dev.jsonl ...]

Every labelled text is checked as a draft of the shipped example's segment of its language
(board in Finnish, investors in English) with every rule of the check stage: parts and
limits, vocabulary and borrowed voice, core concepts, claims, tone, roles, language and
the ladder step. Prints drafts/s for a cold pass (empty lemma caches) and warm passes, the
ladder classifier alone as the baseline, the full check's cost as a ratio to it, and peak
memory; then one line of JSON with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.files import example_dir
from pipeline.lang import lemma  # noqa: E402
from pipeline.stages.check import RULES, CheckContext, evaluate  # noqa: E402
from pipeline.stages.classify import classify  # noqa: E402
from pipeline.workspace.load import load_workspace  # noqa: E402

DATA = Path(__file__).parent / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=[str(p) for p in sorted(DATA.glob("ladder_*.jsonl"))])
    ap.add_argument("--repeat", type=int, default=5, help="warm passes over the texts")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    items = [json.loads(line) for f in args.data for line in Path(f).read_text(encoding="utf-8").splitlines()
             if line.strip()]
    ws, problems = load_workspace(example_dir())
    assert ws is not None, problems
    segment = {"fi": ws.segment("board"), "en": ws.segment("investors")}
    channel = ws.channel("linkedin")

    def contexts():
        return [CheckContext(language=i["lang"], step=segment[i["lang"]].step, parts={"post": i["text"]},
                             channel=channel, segment=segment[i["lang"]], core=ws.core, others=ws.segments)
                for i in items]

    def timed(fn) -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    cold = timed(lambda: [evaluate(c, RULES) for c in contexts()])
    warm = min(timed(lambda: [evaluate(c, RULES) for c in contexts()]) for _ in range(args.repeat))
    base = min(timed(lambda: [classify(i["text"], i["lang"]) for i in items]) for _ in range(args.repeat))
    n = len(items)
    words = sum(len(i["text"].split()) for i in items)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "drafts": n,
        "words_per_draft": round(words / n, 1),
        "finnish_lemmas": lemma.backend("fi"),
        "cold_drafts_per_s": round(n / cold, 1),
        "warm_drafts_per_s": round(n / warm, 1),
        "classify_only_drafts_per_s": round(n / base, 1),
        "full_check_cost_ratio": round(warm / base, 2),
        "peak_rss_mb": round(peak_mb, 1),
    }
    print(f"{n} drafts ({figures['words_per_draft']} words each), Finnish lemmas: {figures['finnish_lemmas']}, one core")
    print(f"full check, cold caches: {figures['cold_drafts_per_s']:>8} drafts/s")
    print(f"full check, warm:        {figures['warm_drafts_per_s']:>8} drafts/s")
    print(f"classifier alone:        {figures['classify_only_drafts_per_s']:>8} drafts/s (baseline)")
    print(f"full check / classifier: {figures['full_check_cost_ratio']:>8}× the time")
    print(f"peak memory (RSS):       {figures['peak_rss_mb']:>8} MB")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
