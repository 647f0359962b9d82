"""Which value-ladder step a text does the work of, with the evidence — no model needed.

Signals (``ladder_signals.yaml``) are patterns, base forms and, for Finnish, grammatical
features from Voikko. Each step gets a strength from the signals found; the primary step is the
strongest, ties going to the higher step (a piece that proves also explains). A text with no
notable signal of steps 2–5 is an awareness piece: it at most says what is on offer.

Numbers are read in context: a figure attributed to customers, a survey or a track record is
proof (step 5); an unattributed figure is a promised outcome (step 2).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from pipeline.lang import lemma, text
from pipeline.stages import reader
from pipeline.workspace.models import STEPS

AWARENESS_FLOOR = 0.75  # below this, steps 2–5 are not being worked on
STEP_PRIOR = 0.1  # how much more a step's evidence weighs than the step's below
STEP_KEYS = STEPS  # step number → key

FIGURE = re.compile(
    r"\d[\d\s.,]*\s?(%|prosent\w*|percent|per cent|hours?|tuntia|tunnissa|minutes?|minuu\w+|"
    r"€|eur\w*|x\b|times|kertaa|/\s?5|out of)",
    re.I,
)
ATTRIBUTION = {
    "en": re.compile(r"\b(customers?|clients?|survey|rated|nps|csat|case study|we kept|last year|in 20\d\d|"
                     r"according to|respondents|said|says|users? (report|say)|our \w+ (saved|cut))\b", re.I),
    "fi": re.compile(r"\b(asiak\w+|kysely\w*|vastaaj\w+|arvio\w*|arvosan\w+|nps|viime vuonna|vuonna 20\d\d|"
                     r"mukaan|kertoo|sanoo|pidimme|säästi)\b", re.I),
}


@dataclass(frozen=True)
class Signal:
    step: int
    name: str
    weight: float
    pattern: re.Pattern | None = None
    lemmas: frozenset[str] = frozenset()
    feature: str | None = None


@dataclass(frozen=True)
class Hit:
    step: int
    signal: str
    weight: float
    start: int
    end: int


class StepReading(BaseModel):
    """How strongly a text does each step's work, and where it says so."""

    language: str
    primary_step: int
    step_scores: dict[int, int]  # 0–100 per step
    evidence: dict[int, list[str]]  # quoted spans per step
    signals: dict[int, list[str]]  # signal names per step
    # the learned reader's calibrated probability per step (sums to 1); empty for the rules-only reading
    probabilities: dict[int, float] = {}
    reader: str = "rules"  # "learned" when primary_step and probabilities come from reader_model.json

    def probability(self, step: int) -> float:
        return self.probabilities.get(step, 0.0)

    def strength(self, step: int) -> int:
        return self.step_scores.get(step, 0)


@lru_cache(maxsize=1)
def signals() -> dict[str, list[Signal]]:
    data = yaml.safe_load((Path(__file__).parent / "ladder_signals.yaml").read_text(encoding="utf-8"))
    out: dict[str, list[Signal]] = {}
    for lang, steps in data.items():
        out[lang] = [
            Signal(
                step=int(step),
                name=s["name"],
                weight=float(s["weight"]),
                pattern=re.compile(s["pattern"], re.I | re.M) if "pattern" in s else None,
                lemmas=frozenset(s.get("lemmas", [])),
                feature=s.get("feature"),
            )
            for step, items in steps.items()
            for s in items
        ]
    return out


@cache  # one entry per language
def _lemma_signals(language: str) -> dict[str, tuple[int, ...]]:
    """Base form → the positions (in ``signals()[language]``) of the lemma signals that list it."""
    index: dict[str, list[int]] = {}
    for i, sig in enumerate(signals().get(language, [])):
        if sig.pattern is None:
            for base in sig.lemmas:
                index.setdefault(base, []).append(i)
    return {base: tuple(at) for base, at in index.items()}


def hits(body: str, language: str) -> list[Hit]:
    found: list[Hit] = []
    toks = text.tokens(body)
    index = _lemma_signals(language)
    by_signal: dict[int, list[text.Token]] = {}  # each token's base forms looked up once, not per signal
    for t in toks:
        for i in {i for base in lemma.lemmas(t.text, language, heads=True) for i in index.get(base, ())}:
            by_signal.setdefault(i, []).append(t)
    for i, sig in enumerate(signals().get(language, [])):
        if sig.pattern is not None:
            found += [Hit(sig.step, sig.name, sig.weight, m.start(), m.end())
                      for m in sig.pattern.finditer(body) if m.end() > m.start()]
        elif sig.lemmas:
            found += [Hit(sig.step, sig.name, sig.weight, t.start, t.end) for t in by_signal.get(i, ())]
        elif sig.feature:
            found += [Hit(sig.step, sig.name, sig.weight, t.start, t.end)
                      for t in toks if sig.feature in lemma.features(t.text, language)]
    found += _figures(body, language)
    return found


def _figures(body: str, language: str) -> list[Hit]:
    out = []
    attribution = ATTRIBUTION.get(language)
    # a figure is attributed when its sentence (a line break ends one too) names who says it
    for a, b in text.sentence_spans(body, lines=True):
        s = body[a:b]
        for m in FIGURE.finditer(s):
            attributed = attribution is not None and attribution.search(s) is not None
            start, end = a + m.start(), a + m.end()
            out.append(Hit(5, "attributed-figure", 1.0, start, end) if attributed
                       else Hit(2, "figure", 0.5, start, end))
    return out


def classify(body: str, language: str) -> StepReading:
    """The reading the check uses: the learned reader's probabilities and primary step
    (``reader.py``) over the signals' evidence; the rules alone where no model is shipped
    or the language has none."""
    found = hits(body, language)
    rules, raw = _classify_rules(body, language, found)
    m = reader.model()
    if m is None or language not in m.data.get("languages", ()):
        return rules
    p = m.proba(m.features(body, language, (rules, raw, found)))
    probs = {s: round(p[s - 1], 4) for s in STEP_KEYS}
    primary = max(STEP_KEYS, key=lambda s: (p[s - 1], s))
    return rules.model_copy(update={"primary_step": primary, "probabilities": probs, "reader": "learned"})


def rules_reading(body: str, language: str) -> tuple[StepReading, dict[int, float], list[Hit]]:
    """What the learned reader reads on top of: the rules' reading, raw strengths and hits."""
    found = hits(body, language)
    return (*_classify_rules(body, language, found), found)


def classify_rules(body: str, language: str, with_raw: bool = False):
    """The rules-only reading: signal strengths, the decision by weight, the evidence.
    With ``with_raw`` also the unsquashed strength per step (the learned reader's input)."""
    reading, raw = _classify_rules(body, language, hits(body, language))
    return (reading, raw) if with_raw else reading


def _classify_rules(body: str, language: str, found: list[Hit]) -> tuple[StepReading, dict[int, float]]:
    raw = {s: 0.0 for s in STEP_KEYS}
    per_signal: dict[tuple[int, str], list[Hit]] = {}
    for h in found:
        per_signal.setdefault((h.step, h.signal), []).append(h)
    for (step, _), group in per_signal.items():
        w = group[0].weight
        raw[step] += w + 0.25 * w * min(len(group) - 1, 2)
    upper = {s: r for s, r in raw.items() if s > 1}
    if max(upper.values()) < AWARENESS_FLOOR:
        primary = 1
    else:
        # the ladder is cumulative: a piece that proves also explains, so a higher step's
        # evidence counts a little more (10 % a step) than the same amount of a lower step's
        primary = max(raw, key=lambda s: (round(raw[s] * (1 + STEP_PRIOR * (s - 1)), 6), s))
    evidence: dict[int, list[str]] = {s: [] for s in STEP_KEYS}
    names: dict[int, list[str]] = {s: [] for s in STEP_KEYS}
    for h in sorted(found, key=lambda h: h.start):
        span = body[h.start:h.end].strip()
        if span and span not in evidence[h.step]:
            evidence[h.step].append(span)
        if h.signal not in names[h.step]:
            names[h.step].append(h.signal)
    return StepReading(
        language=language,
        primary_step=primary,
        step_scores={s: round(100 * (1 - math.exp(-r))) for s, r in raw.items()},
        evidence=evidence,
        signals=names,
    ), raw
