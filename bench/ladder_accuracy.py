"""How well the ladder reader finds a text's step on real published copy, cross-validated.

    python bench/ladder_accuracy.py [--data PATH ...] [--nested] [--learning-curve] [--judge-model M --base-url URL]

The real set (``../shared/data/ladder_real.jsonl``, or ``--data`` / ``LADDER_REAL_DATA``) is split
into 5 folds grouped by the source's web domain (no site in both train and test), seeded. The
learned reader is retrained on each training split (plus the project's own sets in bench/data)
and read on its test fold; each fold's C is the one the inner grouped CV chose
(``bench/train_reader.py``, recorded in the model file) or, with ``--nested``, searched again.
Beside it, in the same table: the rules-only reading (``classify_rules``) and a plain keyword
list from the rubric. Then calibration (Brier, ECE, reliability), and the ``ladder.step`` gate
simulated for every text × every target step 1–5 on out-of-fold probabilities.

With ``--judge-model`` the optional LLM judge (``pipeline/stages/judge.py``) reads every text and is
scored with the same table (no training involved, so no folds).

The self-written sets in bench/data are regression tests of particular signals (tests/), not
accuracy claims. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from train_reader import CONFIG, load_or_exit  # noqa: E402

from pipeline.lang import lemma  # noqa: E402
from pipeline.stages import reader_train as rt  # noqa: E402
from pipeline.stages.reader import MODEL_FILE  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def judge_steps(rows: list[dict], model: str, base_url: str) -> np.ndarray:
    """The judge's primary step per text; its API key from LADDER_API_KEY, as for `ladder check`."""
    from pipeline.model.chat import Chat
    from pipeline.model.config import resolve_config
    from pipeline.stages.judge import judge
    from pipeline.workspace.load import default_ladder
    from pipeline.workspace.models import ModelSettings

    ladder = default_ladder()
    config = resolve_config(ModelSettings(), {"base_url": base_url, "judge_model": model}).judge()
    chat = Chat(config, base_url)
    out = []
    for r in rows:
        verdict = judge(chat, ROOT, r["text"], r["language"], ladder, None)
        if verdict.primary_step:
            out.append(verdict.primary_step)
        elif verdict.step_scores:  # the primary step was voided: the highest standing score
            out.append(max(verdict.step_scores, key=lambda s: (verdict.step_scores[s], s)))
        else:
            out.append(1)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", help="a labelled jsonl; repeat it to measure on several "
                    "(default: LADDER_REAL_DATA, else ../shared/data/ladder_real.jsonl)")
    ap.add_argument("--nested", action="store_true", help="search each fold's C again by inner CV (slow)")
    ap.add_argument("--judge-model", help="also score the LLM judge with this model")
    ap.add_argument("--base-url", help="the judge's OpenAI-compatible endpoint")
    ap.add_argument("--skip-reader", action="store_true", help="only the baselines (and the judge)")
    ap.add_argument("--learning-curve", action="store_true",
                    help="also the reader's exact accuracy trained on a quarter, half and three quarters of each split")
    args = ap.parse_args()
    rows = load_or_exit(args.data)
    y = np.array([r["step"] for r in rows])
    print(f"{len(rows)} texts from {', '.join(p.name for p in rt.real_data_paths(args.data))}; "
          f"Finnish lemmas: {lemma.backend('fi')}")
    result: dict = {"n": len(rows), "finnish_lemmas": lemma.backend("fi")}
    print("\n== keyword baseline (rubric keyword lists)")
    result["keyword"] = rt.figures_for("keyword", rows, np.array([rt.keyword_step(r["text"], r["language"]) for r in rows]))
    print("\n== rules-only reader (classify_rules)")
    result["rules"] = rt.figures_for("rules", rows, np.array([rt.rules_step(r["text"], r["language"]) for r in rows]))
    if args.judge_model:
        if not args.base_url:
            sys.exit("--judge-model needs --base-url")
        print(f"\n== LLM judge ({args.judge_model})")
        result["judge"] = rt.figures_for("judge", rows, judge_steps(rows, args.judge_model, args.base_url))
    if not args.skip_reader:
        fold_cs = None if args.nested else json.loads(MODEL_FILE.read_text())["cross_validated"]["fold_Cs"]
        print(f"\n== learned reader, 5 folds grouped by domain ({'C by inner CV' if args.nested else f'C per fold {fold_cs}'})")
        cv = rt.cross_validate(rows, CONFIG, fold_cs=fold_cs)
        result["reader"] = rt.figures_for("reader", rows, cv["logits"].argmax(1) + 1)
        cal = rt.calibration(cv["proba"], y)
        print(f"\ncalibration (out-of-fold, temperature from the other folds): Brier={cal['brier']}  ECE={cal['ece']}")
        for b in cal["reliability"]:
            print(f"  top probability {b['bin']}: n={b['n']:<4} mean confidence={b['mean_confidence']:.2f}  accuracy={b['accuracy']:.2f}")
        th = rt.choose_thresholds(cv["proba"], y)
        gate = rt.simulate_gate(cv["proba"], y, th)
        nested = rt.gate_nested(cv["proba"], y, cv["folds"])
        print(f"\ngate (every text × target 1–5; error when P(reads below target) ≥ {th.below} "
              f"or P(reads two or more below) ≥ {th.two_below}):")
        print(f"  false rejections (error, gold == target):        {gate['false_rejection']:.3f}   (must be ≤ 0.05)")
        print(f"  detection (error, gold ≥ 2 steps below target):  {gate['detection_below2']:.3f}   (wanted ≥ 0.80)")
        print(f"  detection, gold ≥ 2 away either side (error):    {gate['detection_far']:.3f}   (above the target is a warning by design)")
        print(f"  flagged (error or warning), gold ≥ 2 above:      {gate['flagged_above2']:.3f}")
        print("  by target step (false rejections / detection):   " + "  ".join(
            f"{t}: {v['false_rejection']:.3f}/{'-' if v['detection_below2'] is None else format(v['detection_below2'], '.3f')}"
            for t, v in gate["by_target"].items()))
        print(f"  thresholds picked per fold on the other folds:    false rejections {nested['false_rejection']:.3f}, "
              f"detection {nested['detection_below2']:.3f}")
        result |= {"calibration": {k: cal[k] for k in ("brier", "ece")}, "gate": gate, "gate_nested": nested}
        if args.learning_curve:
            print("\nlearning curve (each training split cut to a share of its web domains, 3 draws; same test folds):")
            result["learning_curve"] = rt.learning_curve(cv)
            for point in result["learning_curve"]:
                print(f"  {point['share']:.0%} of the domains, ~{point['real_texts']} real texts: exact {point['exact']:.3f} "
                      f"(en {point['en']:.3f}, fi {point['fi']:.3f})")
    summary = {name: {scope: {k: v[scope][k] for k in ("exact", "within_one", "macro_f1")} for scope in ("all", "en", "fi")}
               for name, v in result.items() if name in ("keyword", "rules", "reader", "judge")}
    print(json.dumps({"n": result["n"], "finnish_lemmas": result["finnish_lemmas"], **summary,
                      **{k: result[k] for k in ("calibration", "gate", "gate_nested", "learning_curve") if k in result}}))


if __name__ == "__main__":
    main()
