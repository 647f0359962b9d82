"""How fast ``ladder vocab`` analyses a group's texts, and how much memory it holds.

Makes N short documents per segment (default 10,000) by recombining the shipped example's sample
sentences with numbers, personal data and filler words drawn with a fixed seed (so the vocabulary
grows as in real texts), writes them as JSON lines, and times ``vocab.analyse`` for one segment
against one reference segment of the same language, on one core. Prints documents per second and
the peak resident memory, for N and for N/4 (memory that grows with the vocabulary, not with N,
shows as nearly the same peak).

    python bench/vocab_speed.py              # fi (Voikko), 10,000 documents
    python bench/vocab_speed.py --lang en --n 10000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAIRS = {"fi": ("residents", "board"), "en": ("engineers", "investors")}
FILLER = {"fi": "aamu ilta kevät syksy rappu piha sauna parveke ikkuna ovi hissi kellari kesä vuosi viikko".split(),
          "en": "morning evening spring autumn stair yard sauna balcony window door lift cellar summer year week".split()}


def make(path: Path, segment: str, lang: str, n: int, seed: int) -> None:
    from pipeline.discover.vocab import read_documents

    rng = random.Random(seed)
    sents = [s for p in (ROOT / "segments" / "samples" / segment).glob("*") for d in read_documents(p)
             for s in d.split(". ") if s]
    with path.open("w", encoding="utf-8") as f:
        for _ in range(n):
            k = rng.randint(1, 3)
            doc = ". ".join(rng.choice(sents) for _ in range(k))
            doc += f" {rng.choice(FILLER[lang])}{rng.randint(1, 500)} {rng.choice(FILLER[lang])}."
            if rng.random() < 0.1:
                doc += f" Puh. 040 {rng.randint(100, 999)} {rng.randint(1000, 9999)}." if lang == "fi" else \
                    f" Call +44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}."
            f.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")


def child(group: str, ref: str, lang: str) -> None:
    from pipeline.discover import vocab

    t = time.perf_counter()
    a = vocab.analyse(lambda: vocab.documents([Path(group)], field="text"), lang, "bench",
                      {"ref": lambda: vocab.documents([Path(ref)], field="text")})
    secs = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"docs": a.docs, "ref_docs": None, "seconds": secs, "peak_mb": peak, "terms": len(a.terms)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lang", choices=["fi", "en"], default="fi")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    seg, ref = PAIRS[args.lang]
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.n // 4, args.n):
            g, r = Path(tmp) / f"g{n}.jsonl", Path(tmp) / f"r{n}.jsonl"
            make(g, seg, args.lang, n, 1)
            make(r, ref, args.lang, n, 2)
            out = subprocess.run([sys.executable, __file__, "--child", str(g), str(r), args.lang],
                                 capture_output=True, text=True, check=True, env={"OMP_NUM_THREADS": "1",
                                                                                   **__import__("os").environ})
            res = json.loads(out.stdout.strip().splitlines()[-1])
            total = 2 * n
            print(f"{args.lang}: {n:,} documents of the segment + {n:,} of a reference: {res['seconds']:.1f} s "
                  f"({total / res['seconds']:,.0f} documents/s counted, both passes), peak RSS {res['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
