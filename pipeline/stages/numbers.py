"""Figures in a text, in digits and in words, with the values they stand for.

A claim is a claim whether it says "32 %", "a third", "double", "puolet" or "neljässätoista
taloyhtiössä", so the claims rule reads all of them. Each figure is a set of values it may mean:
a cardinal or ordinal its number; a fraction both the ratio and the percentage ("half" is 0.5
and 50); a multiplier the factor, its percentage and the increase ("double" is 2, 200 and 100).
A figure is backed when one of its values is near a value in the core statement (``near``:
"a third" is backed by "32 %", as a copywriter would round it).

Finnish reads its numerals through Voikko's analysis (class *lukusana*, base form
*neljätoista*), so every case form counts; without Voikko a list of stems does.

Words that are numbers but rarely claims are left out: "one"/"yksi" (one contract, the one
who), "second"/"toinen" (another) and "first"/"ensimmäinen" (our first winter; "the first to"
is a superlative, and the superlative rule reads it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.lang import lemma, text

DIGITS = re.compile(r"(?<![\w])\d+(?:[.,]\d+)?")

_EN_UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1_000_000, "billion": 1_000_000_000, "dozen": 12,
}
_EN_ORDINALS = {  # "first" is left to the superlative rule ("the first to ..."): "our first winter" is no claim
    "fourth": 4, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
    "eleventh": 11, "twelfth": 12, "fifteenth": 15, "twentieth": 20, "hundredth": 100,
}
_EN_FRACTIONS = {"half": 0.5, "halves": 0.5, "third": 1 / 3, "thirds": 1 / 3, "quarter": 0.25, "quarters": 0.25,
                 "fifth": 0.2, "fifths": 0.2}
_EN_MULTIPLIERS = {
    "double": 2, "doubles": 2, "doubled": 2, "doubling": 2, "twice": 2, "twofold": 2, "triple": 3, "triples": 3,
    "tripled": 3, "tripling": 3, "treble": 3, "threefold": 3, "thrice": 3, "quadruple": 4, "fourfold": 4,
    "fivefold": 5, "tenfold": 10, "halve": 0.5, "halves": 0.5, "halved": 0.5, "halving": 0.5,
}

_FI_UNITS = {"nolla": 0, "kaksi": 2, "kolme": 3, "neljä": 4, "viisi": 5, "kuusi": 6, "seitsemän": 7,
             "kahdeksan": 8, "yhdeksän": 9, "kymmenen": 10}
_FI_ORDINALS = {"kolmas": 3, "neljäs": 4, "viides": 5, "kuudes": 6, "seitsemäs": 7,
                "kahdeksas": 8, "yhdeksäs": 9, "kymmenes": 10, "sadas": 100, "tuhannes": 1000}
_FI_FRACTIONS = {"puolet": 0.5, "puolikas": 0.5, "kolmannes": 1 / 3, "neljännes": 0.25, "viidennes": 0.2,
                 "kymmenesosa": 0.1, "kymmenys": 0.1}
_FI_MULT_PREFIX = {"kaksin": 2, "kolmin": 3, "nelin": 4, "viisin": 5, "kuusin": 6, "kymmenen": 10, "tupla": 2}
# forms of "puoli" that mean half; "puolesta", "puolella" (on behalf of, on the side of) do not
_FI_HALF = re.compile(r"^(puolet|puolta|puoleen|puolikas\w*|puolitta\w*|puolittu\w*|puoliks\w*|puoli)$")
_FI_MULT = re.compile(r"^(kaksin|kolmin|nelin|viisin|kuusin|kymmenen|tupla)(kertai\w*|kertaist\w*)$|^tuplat?\w*$")
# without Voikko: stems of the commonest numerals
_FI_STEMS = [("kahdeksa", 8), ("yhdeksä", 9), ("seitsemä", 7), ("kymmene", 10), ("kymmen", 10), ("kahde", 2),
             ("kaksi", 2), ("kolme", 3), ("neljä", 4), ("viisi", 5), ("viide", 5), ("kuusi", 6), ("kuude", 6)]


@dataclass(frozen=True)
class Figure:
    start: int
    end: int
    text: str
    values: frozenset[float]
    in_words: bool


def figures(value: str, language: str) -> list[Figure]:
    """Every figure of ``value``: digits, and numbers, ordinals, fractions and multipliers in words."""
    out = [Figure(m.start(), m.end(), m.group(), frozenset({float(m.group().replace(",", "."))}), False)
           for m in DIGITS.finditer(value)]
    for t in text.tokens(value):
        values = word_values(t.text, language)
        if values:
            out.append(Figure(t.start, t.end, t.text, values, True))
    return sorted(out, key=lambda f: f.start)


def word_values(word: str, language: str) -> frozenset[float]:
    return _word_values(word.lower(), language)


@lemma.cached(100_000)
def _word_values(w: str, language: str) -> frozenset[float]:
    if language == "en":
        return _en(w)
    if language == "fi":
        return _fi(w)
    return frozenset()


def _ratio(f: float) -> frozenset[float]:
    return frozenset({f, f * 100})


def _factor(m: float) -> frozenset[float]:
    return frozenset({m, m * 100, abs(m - 1) * 100})


def _en(w: str) -> frozenset[float]:
    w = w.replace("’", "'").removesuffix("'s")
    if w in _EN_MULTIPLIERS:
        return _factor(_EN_MULTIPLIERS[w])
    if w in _EN_FRACTIONS:  # "third", "fifth" are ordinals too: both readings
        f = _EN_FRACTIONS[w]
        return _ratio(f) | ({3.0} if w == "third" else {5.0} if w == "fifth" else set())
    if w in _EN_ORDINALS:
        return frozenset({float(_EN_ORDINALS[w])})
    if w.endswith("fold") and w[:-4] in _EN_UNITS:
        return _factor(_EN_UNITS[w[:-4]])
    parts = w.split("-")
    if all(p in _EN_UNITS for p in parts):  # twenty-five
        return frozenset({float(sum(_EN_UNITS[p] for p in parts))})
    if len(parts) == 2 and parts[0] in _EN_UNITS and (parts[1] in _EN_ORDINALS or parts[1] in ("third", "fifth")):
        return frozenset({float(_EN_UNITS[parts[0]] + (_EN_ORDINALS.get(parts[1]) or (3 if parts[1] == "third" else 5)))})
    return frozenset()


def _fi(w: str) -> frozenset[float]:
    if _FI_HALF.match(w):
        return _ratio(0.5)
    m = _FI_MULT.match(w)
    if m:
        return _factor(_FI_MULT_PREFIX.get(m.group(1) or "tupla", 2))
    if lemma.backend("fi") != "voikko":
        for stem, n in _FI_STEMS:
            if w.startswith(stem) and len(w) <= len(stem) + 6:
                return frozenset({float(n)})
        return frozenset()
    values: set[float] = set()
    for a in lemma.analyses(w):
        base = (a.get("BASEFORM") or "").lower()
        if base in _FI_FRACTIONS:
            values |= _ratio(_FI_FRACTIONS[base])
        elif base in _FI_ORDINALS:
            values.add(float(_FI_ORDINALS[base]))
        elif a.get("CLASS") == "lukusana" and (n := fi_cardinal(base)) is not None:
            values.add(float(n))
    return frozenset(values)


def fi_cardinal(base: str) -> int | None:
    """A Finnish cardinal's base form as a number: kaksikymmentäviisi → 25. "yksi" is left out."""
    total, rest = 0, base
    for word, scale in (("tuhatta", 1000), ("tuhat", 1000), ("sataa", 100), ("sata", 100),
                        ("kymmentä", 10)):
        at = rest.find(word)
        if at >= 0:
            head = rest[:at]
            n = 1 if not head else _FI_UNITS.get(head, 1 if head == "yksi" else None)
            if n is None:
                return None
            total += n * scale
            rest = rest[at + len(word):]
    if rest.endswith("toista"):
        n = 1 if rest[:-6] == "yksi" else _FI_UNITS.get(rest[:-6])
        return None if n is None else total + 10 + n
    if rest:
        n = _FI_UNITS.get(rest)
        if n is None:
            return None
        total += n
    return total if base and base != "yksi" else None


def near(a: float, b: float) -> bool:
    """Two values that a reader takes for the same figure: equal, or a rounded share of it."""
    if a == b:
        return True
    big = max(abs(a), abs(b))
    return big >= 10 and abs(a - b) <= max(1.5, 0.02 * big)


def backed(figure: Figure, known: frozenset[float]) -> bool:
    if not figure.in_words:
        return any(v in known for v in figure.values)
    return any(near(v, k) for v in figure.values for k in known)


# A figure that counts the piece's own items ("three questions", "5 vinkkiä") is its structure,
# not a claim about the offer.
_STRUCTURE = {
    "en": frozenset("question questions tip tips step steps reason reasons way ways thing things point points "
                    "lesson lessons myth myths mistake mistakes".split()),
    "fi": frozenset("kysymys vinkki askel syy tapa asia kohta oppi myytti virhe".split()),
}


def counts_the_piece(value: str, figure: Figure, language: str) -> bool:
    after = text.tokens(value[figure.end:figure.end + 40])
    if not after:
        return False
    return bool(lemma.lemmas(after[0].text, language) & _STRUCTURE.get(language, frozenset()))


# "one or two flats", "kaksi tai kolme asuntoa": a rough count of the reader's situation, not a
# claim. Only numbers in words, joined by "or"/"tai": "2 or 3 %" is still a figure.
_OR = {"en": "or", "fi": "tai"}
_ONE = {"en": frozenset({"one", "a", "few", "couple"}), "fi": frozenset({"yksi", "pari", "muutama"})}


def approximate(value: str, figure: Figure, language: str) -> bool:
    """``figure`` (in words) is one side of "X or Y" between numbers in words."""
    if not figure.in_words or language not in _OR:
        return False
    toks = text.tokens(value)
    at = next((i for i, t in enumerate(toks) if t.start == figure.start), None)
    if at is None:
        return False

    def number(i: int) -> bool:
        if not 0 <= i < len(toks):
            return False
        w = toks[i].text
        return bool(word_values(w, language)) or bool(lemma.lemmas(w, language) & _ONE[language])

    def joined(i: int, j: int) -> bool:  # tokens i < j with only "or" between them
        return j == i + 2 and toks[i + 1].lower == _OR[language] and " " in value[toks[i].end:toks[j].start]

    return (number(at + 2) and joined(at, at + 2)) or (number(at - 2) and joined(at - 2, at))

