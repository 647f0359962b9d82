"""Does ``ladder vocab`` find what the example's segments say by hand? For each segment of the
shipped example, run the analysis on its sample texts (``segments/samples/<id>/``) and count how
many of its hand-written own terms (``vocabulary.use``) are among the top K own-term suggestions,
and how many of its concept terms (``vocabulary.concepts``) are among the top K own terms or the
top 5 suggestions for that concept.

A hand-written term counts as found when a suggestion's content lemmas (function words dropped)
equal the term's, or make up at least two of the term's content lemmas and nothing else
("lower energy cost per MWh" is found by "lower energy cost"), or hold the term's lemmas
("radiator network" finds "radiator network"; "radiator" alone does not).

    python bench/vocab_example.py [--top 20]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.discover import vocab  # noqa: E402
from pipeline.workspace import load  # noqa: E402


def content(term: str, lang: str) -> tuple[str, ...]:
    stop = vocab.stopwords(lang)
    lems = [vocab.lemma_of(m.group(), lang) for m in vocab.TOKEN.finditer(term)]
    return tuple(w for w in lems if w not in stop) or tuple(lems)


def found(term: str, suggestions: list[str], lang: str) -> str | None:
    want = content(term, lang)
    for s in suggestions:
        have = content(s, lang)
        if have == want or (set(have) <= set(want) and len(have) >= 2) or (set(want) <= set(have) and len(want) >= 1
                                                                               and len(have) <= len(want) + 1):
            return s
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    ws, _ = load.load_workspace(ROOT)
    samples = ROOT / "segments" / "samples"
    print(f"hand-written terms among the top {args.top} own-term suggestions (concepts: or the top 5 for the concept)\n")
    print(f"{'segment':11} {'lang':4} {'docs':>4} {'own terms':>10} {'concept terms':>14}  found / missed")
    figures: dict[str, dict[str, int]] = {}
    for seg in ws.segments:
        if not (samples / seg.id).is_dir():
            continue
        refs = {s.id: (lambda d=samples / s.id: vocab.documents([d])) for s in ws.segments
                if s.id != seg.id and s.language == seg.language and (samples / s.id).is_dir()}
        a = vocab.analyse(lambda d=samples / seg.id: vocab.documents([d]), seg.language, seg.id, refs,
                          vocab.anchors_for(ws, seg.id, seg.language), None, vocab.keep_words(ws), top=args.top)
        top = [t.term for t in a.terms]
        own = {t: found(t, top, seg.language) for t in seg.vocabulary.use}
        conc = {c: found(t, top + [x.term for x in a.concepts.get(c, [])], seg.language)
                for c, t in seg.vocabulary.concepts.items()}
        o = sum(v is not None for v in own.values())
        c = sum(v is not None for v in conc.values())
        figures[seg.id] = {"own_found": o, "own": len(own), "concepts_found": c, "concepts": len(conc)}
        print(f"{seg.id:11} {seg.language:4} {a.docs:>4} {o:>5} / {len(own):<3} {c:>7} / {len(conc):<4}  "
              + "; ".join([f"{t} ✓" if v else f"{t} ✗" for t, v in own.items()]
                          + [f"{seg.vocabulary.concepts[k]} ✓ ({v})" if v else f"{seg.vocabulary.concepts[k]} ✗"
                             for k, v in conc.items()]))
    print(json.dumps({"top": args.top, "segments": figures}))


if __name__ == "__main__":
    main()
