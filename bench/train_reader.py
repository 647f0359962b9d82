"""Rebuild the learned ladder reader (``pipeline/stages/reader_model.json``) from the real labelled copy.

    python bench/train_reader.py [--data PATH ...] [--out PATH] [--fold-cs-from-model]

Deterministic and seeded: 5 folds grouped by web domain, C chosen per fold by an inner grouped
CV over a fixed grid (0.3, 1, 3) on the temperature-scaled log loss, the temperature fitted on
out-of-fold logits, the gate's two thresholds picked on out-of-fold probabilities (false
rejections ≤ 5 %), then one model trained on every real text plus the project's own sets in ``bench/data``
(at half weight). Targets are soft: the labelled step, the labellers' runner-up step and the
neighbouring steps share each text's weight (``reader_train.targets``). Prints the cross-validated figures and writes them into the model file. The
texts are read from ``../shared/data`` (or ``--data`` / ``LADDER_REAL_DATA``) and nothing of
them is written: the model holds weights over signal names, shape features, WordLlama
dimensions, crc32 buckets of lemmas and the Finnish floret rows folded with their weights.
Needs the ``train`` extra (``spacy-fi-experimental-web-md``, the Finnish vectors).
``--fold-cs-from-model`` reuses the committed model's per-fold C instead of searching again
(the same choices, made by the inner CV; ~10× faster).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.stages import reader_train as rt  # noqa: E402
from pipeline.stages.reader import MODEL_FILE, FeatureConfig  # noqa: E402

CONFIG = FeatureConfig(buckets=1 << 14, lemmas=True, bigrams=False, chars=None, signals=True, rules=True,
                       shape=True, embed=3.0, fi_vectors=4.0)


def build(rows: list[dict], fold_cs: list[float] | None = None, log=print) -> tuple[dict, dict]:
    t0 = time.time()
    cv = rt.cross_validate(rows, CONFIG, fold_cs=fold_cs or None, log=log)
    pred = cv["logits"].argmax(1) + 1
    y = cv["y"]
    lang = np.array([r["language"] for r in rows])
    figures = {scope: {k: v for k, v in rt.table(y[sel], pred[sel]).items() if k in ("n", "exact", "within_one", "macro_f1")}
               for scope, sel in (("all", np.ones(len(y), bool)), ("en", lang == "en"), ("fi", lang == "fi"))}
    thresholds = rt.choose_thresholds(cv["proba"], y)
    gate = rt.simulate_gate(cv["proba"], y, thresholds)
    figures.update({"fold_Cs": cv["Cs"], "calibration": {k: v for k, v in rt.calibration(cv["proba"], y).items() if k != "reliability"},
                    "gate": {k: gate[k] for k in ("thresholds", "false_rejection", "detection_below2", "detection_far")},
                    "gate_nested": rt.gate_nested(cv["proba"], y, cv["folds"])})
    model = rt.final_model(cv, CONFIG, sorted(set(lang.tolist())), figures)
    model["gate"] = gate["thresholds"]
    log(f"built in {time.time() - t0:.0f}s")
    return model, figures


def load_or_exit(data: list[str] | None) -> list[dict]:
    """The labelled texts of every file, or every problem with its file and line and exit 2."""
    paths = rt.real_data_paths(data)
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"no labelled data at {', '.join(map(str, missing))}: pass --data or set LADDER_REAL_DATA", file=sys.stderr)
        sys.exit(2)
    try:
        return rt.load_real(paths)
    except rt.DataProblems as e:
        print("\n".join(e.problems), file=sys.stderr)
        print(f"{len(e.problems)} problem{'s' * (len(e.problems) != 1)} in the labelled data; nothing was learned",
              file=sys.stderr)
        sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", help="a labelled jsonl; repeat it to learn from several "
                    "(default: LADDER_REAL_DATA, paths joined by the OS's path separator, else ../shared/data/ladder_real.jsonl)")
    ap.add_argument("--out", default=str(MODEL_FILE))
    ap.add_argument("--fold-cs-from-model", action="store_true")
    args = ap.parse_args()
    rows = load_or_exit(args.data)
    fold_cs = json.loads(MODEL_FILE.read_text())["cross_validated"]["fold_Cs"] if args.fold_cs_from_model else None
    model, figures = build(rows, fold_cs)
    out = Path(args.out)
    out.write_text(json.dumps(model, separators=(",", ":"), ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(model['weights'])} features, C={model['C']}, "
          f"T={model['temperature']}, gate error_below={model['gate']['error_below']} "
          f"error_two_below={model['gate']['error_two_below']})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
