"""Text helpers shared by the checks: tokens, language identification, term matching.

Term matching works on base forms (``lemma``), so "features" matches "feature" and
"asiakkaillemme" matches "asiakas".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from pipeline.lang import en, fi, lemma

WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)

# Each language's stop words (lang/en.py, lang/fi.py): left out where content words count (terms,
# claims, similarity), and counted to tell the languages apart.
STOP_WORDS = {"en": en.STOP_WORDS, "fi": fi.STOP_WORDS}


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    lower: str = field(init=False, compare=False, repr=False)  # asked for every term of every check

    def __post_init__(self) -> None:
        object.__setattr__(self, "lower", self.text.lower())


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[Token, ...]:
    """The words of a text with their offsets; cached, as terms and the core statement are
    tokenised for every draft."""
    return tuple(Token(m.group(), m.start(), m.end()) for m in WORD.finditer(text))


def detect_language(text: str) -> tuple[str | None, float]:
    """Guess en or fi from function words, letters and endings. Returns (language, confidence)."""
    return decide_language(*language_scores(text))


def language_scores(text: str) -> tuple[float, float, int]:
    """The evidence ``detect_language`` weighs: English and Finnish scores and the word count.
    Each word adds to them on its own, so a text's are the sums of its lines'."""
    en_score = fi_score = 0.0
    n = 0
    for m in WORD.finditer(text):  # a prompt's tokens need no cache
        w = m.group().lower()
        n += 1
        if w in STOP_WORDS["en"]:
            en_score += 1
        if w in STOP_WORDS["fi"]:
            fi_score += 1
        if "ä" in w or "ö" in w:
            fi_score += 1
        elif len(w) > 5 and w.endswith(fi.CASE_ENDINGS):
            fi_score += 0.5
    return en_score, fi_score, n


def decide_language(en_score: float, fi_score: float, words: int) -> tuple[str | None, float]:
    if words < 4 or en_score + fi_score == 0:
        return None, 0.0
    lang, score = ("fi", fi_score) if fi_score > en_score else ("en", en_score)  # a tie: en, as max() chose
    return lang, score / (en_score + fi_score)


def find_term(text: str, term: str, language: str) -> list[tuple[int, int]]:
    """Character spans where ``term`` (one or more words) occurs, in any inflected form."""
    return find_term_in(tokens(text), term, language)


def find_term_in(toks: Sequence[Token], term: str, language: str) -> list[tuple[int, int]]:
    """A token matches a term word when it is that word, or they share a base form (the token's
    compound head included). The term's base forms are looked up once, and each distinct token is
    tested once per term word."""
    words = [t.lower for t in tokens(term)]
    if not words:
        return []
    wanted = [lemma.lemmas(w, language) for w in words]
    stems = None
    if language == "fi" and lemma.backend("fi") != "voikko":
        # without Voikko: a Finnish form starts with its word's stem (final vowel dropped)
        stems = [w[:-1] if len(w) > 4 and w[-1] in "aeiouyäö" else w for w in words]

    def matches(token: str, j: int) -> bool:
        return (token == words[j] or bool(lemma.lemmas(token, language, heads=True) & wanted[j])
                or (stems is not None and len(stems[j]) >= 4 and token.startswith(stems[j])))

    lowers = [t.lower for t in toks]
    first = {t for t in set(lowers) if matches(t, 0)}  # each distinct token tested once
    n = len(words)
    starts = [i for i in range(len(toks) - n + 1) if lowers[i] in first]
    if n == 1 or not starts:
        return [(toks[i].start, toks[i + n - 1].end) for i in starts]
    known: dict[tuple[str, int], bool] = {}

    def later(token: str, j: int) -> bool:
        if (token, j) not in known:
            known[token, j] = matches(token, j)
        return known[token, j]

    return [(toks[i].start, toks[i + n - 1].end) for i in starts
            if all(later(lowers[i + j], j) for j in range(1, n))]


@lemma.cached(4096)
def lemma_set(toks: Sequence[Token], language: str) -> frozenset[str]:
    """Every base form of every token: a quick test before matching a term word by word."""
    return frozenset(b for t in toks for b in lemma.lemmas(t.text, language, heads=True) | {t.lower})


def may_contain(lemmas: frozenset[str], term: str, language: str) -> bool:
    """False when some word of ``term`` surely does not occur (its base forms are all absent).
    Without Voikko, Finnish matching is by prefix, so this cannot rule anything out."""
    if language == "fi" and lemma.backend("fi") != "voikko":
        return True
    return all(lemma.lemmas(w.text, language) & lemmas or w.lower in lemmas for w in tokens(term))


# A sentence ends at . ! ? or … before a space or the end, or at a paragraph break (a blank
# line); with ``lines``, at every line break (headings, list items).
SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")


def sentence_spans(text: str, lines: bool = False) -> list[tuple[int, int]]:
    """The one sentence splitter: (start, end) of each sentence, end-to-end over ``text`` (the
    whitespace after a sentence stays with it), empty ones left out."""
    breaks = re.compile(SENTENCE_END.pattern + (r"|\n" if lines else r"|\n\s*\n"))
    ends = [m.end() for m in breaks.finditer(text)]
    spans, start = [], 0
    for end in [*ends, len(text)]:
        if end > start and text[start:end].strip():
            spans.append((start, end))
        start = max(start, end)
    return spans


def sentences(text: str) -> list[str]:
    return [text[a:b].strip() for a, b in sentence_spans(text)]
