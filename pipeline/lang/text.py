"""Text helpers shared by the checks: tokens, language identification, term matching.

Term matching works on base forms (``lemma``), so "features" matches "feature" and
"asiakkaillemme" matches "asiakas".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
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

    @property
    def lower(self) -> str:
        return self.text.lower()


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[Token, ...]:
    """The words of a text with their offsets; cached, as terms and the core statement are
    tokenised for every draft."""
    return tuple(Token(m.group(), m.start(), m.end()) for m in WORD.finditer(text))


def detect_language(text: str) -> tuple[str | None, float]:
    """Guess en or fi from function words, letters and endings. Returns (language, confidence)."""
    words = [t.lower for t in tokens(text)]
    if len(words) < 4:
        return None, 0.0
    score = {"en": 0.0, "fi": 0.0}
    for w in words:
        for lang, vocab in STOP_WORDS.items():
            if w in vocab:
                score[lang] += 1
        if "ä" in w or "ö" in w:
            score["fi"] += 1
        elif len(w) > 5 and w.endswith(fi.CASE_ENDINGS):
            score["fi"] += 0.5
    total = score["en"] + score["fi"]
    if total == 0:
        return None, 0.0
    lang = max(score, key=score.get)
    return lang, score[lang] / total


def _word_matches(token: str, term_word: str, language: str) -> bool:
    if token == term_word:
        return True
    if lemma.lemmas(token, language, heads=True) & lemma.lemmas(term_word, language):
        return True
    if language == "fi" and lemma.backend("fi") != "voikko":
        # without Voikko: a Finnish form starts with its word's stem (final vowel dropped)
        stem = term_word[:-1] if len(term_word) > 4 and term_word[-1] in "aeiouyäö" else term_word
        return len(stem) >= 4 and token.startswith(stem)
    return False


def find_term(text: str, term: str, language: str) -> list[tuple[int, int]]:
    """Character spans where ``term`` (one or more words) occurs, in any inflected form."""
    return find_term_in(tokens(text), term, language)


def find_term_in(toks: Sequence[Token], term: str, language: str) -> list[tuple[int, int]]:
    words = [t.lower for t in tokens(term)]
    if not words:
        return []
    spans = []
    for i in range(len(toks) - len(words) + 1):
        if all(_word_matches(toks[i + j].lower, w, language) for j, w in enumerate(words)):
            spans.append((toks[i].start, toks[i + len(words) - 1].end))
    return spans


@lru_cache(maxsize=4096)
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
