"""Base forms of words, so inflected forms count: `asiakkaillemme` → `asiakas`, `companies` → `company`.

Finnish uses Voikko (Debian's libvoikko1 + voikko-fi; the `libvoikko` Python binding loads it)
when the system has it: a full morphological analyser, 40/40 on inflected marketing words in our
measurements, ~30k words/s, ~5 MB. Without it a suffix-stripping fallback runs, and
``backend("fi")`` says so, so the CLI and reports can tell the user.
English uses a small rule-based lemmatiser (plurals, -ing, -ed, possessives, irregular forms).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

_voikko = None
_voikko_error: str | None = None
# libvoikko's handle is not thread-safe: concurrent analyses from the run's worker threads
# corrupted its heap. Every call into it holds this lock (analyses are cached, so it is rarely held).
_voikko_lock = threading.RLock()


def _analyze(v, word: str) -> list[dict]:
    with _voikko_lock:
        return v.analyze(word)


def _get_voikko():
    if _voikko is not None or _voikko_error is not None:  # settled: no lock (every lemma asks)
        return _voikko
    with _voikko_lock:
        return _init_voikko()


def _init_voikko():
    global _voikko, _voikko_error
    if _voikko is None and _voikko_error is None:
        if os.environ.get("LADDER_VOIKKO") == "0":
            _voikko_error = "turned off by LADDER_VOIKKO=0"
            return None
        try:
            import libvoikko

            class Voikko(libvoikko.Voikko):
                def __del__(self):  # a half-made handle (no libvoikko.so) must not print a traceback at exit
                    with contextlib.suppress(AttributeError):
                        super().__del__()

            _voikko = Voikko("fi")
        except Exception as e:  # missing binding, missing libvoikko.so or missing dictionary
            _voikko_error = f"{type(e).__name__}: {e}"
    return _voikko


F = TypeVar("F", bound=Callable[..., Any])
_DEPENDENTS: list = []  # the caches of results made from base forms, here and in other modules


def cached(maxsize: int) -> Callable[[F], F]:
    """``lru_cache`` for a result made from base forms, which ``reset`` clears with this module's
    own caches: a cache that outlived a change of backend would answer with the old one's forms."""
    def wrap(fn: F) -> F:
        kept = lru_cache(maxsize=maxsize)(fn)
        _DEPENDENTS.append(kept)
        return kept  # type: ignore[return-value]

    return wrap


def reset() -> None:
    """Forget the Voikko handle (or why there is none) and every cached analysis, and every
    result made from one: the next call looks again, reading LADDER_VOIKKO afresh."""
    global _voikko, _voikko_error
    with _voikko_lock:
        _voikko, _voikko_error = None, None
        for kept in _DEPENDENTS:
            kept.cache_clear()


def backend(language: str) -> str:
    if language == "fi":
        return "voikko" if _get_voikko() is not None else "suffix-fallback"
    return "rules" if language == "en" else "none"


def fallback_reason() -> str | None:
    _get_voikko()
    return _voikko_error


def lemmas(word: str, language: str, heads: bool = False) -> frozenset[str]:
    """Every plausible base form of ``word`` (lower case); the word itself when none is known.
    With ``heads``, a Finnish compound also yields its head ("kaukolämmöstä" → kaukolämpö, lämpö):
    right for the words of a text, wrong for a term (an avoided compound must not match its head)."""
    return _lemmas(word.lower(), language, heads)


@cached(200_000)
def _lemmas(w: str, language: str, heads: bool) -> frozenset[str]:
    if language == "fi":
        v = _get_voikko()
        if v is not None:
            return _voikko_lemmas(v, w, heads)
        return frozenset({w, fi_stem(w)})
    if language == "en":
        return frozenset(_en_lemmas(w))
    return frozenset({w})


_WORDBASE = re.compile(r"\+([^+(]+)(?:\(([^)]*)\))?")


def _voikko_lemmas(v, w: str, heads: bool) -> frozenset[str]:
    out = set()
    for analysis in _analyze(v, w):
        base = (analysis.get("BASEFORM") or "").lower()
        if not base:
            continue
        out.add(base)
        if heads:
            # WORDBASES: "+kauko+lämpö(lämpö)"; "(+u)" marks a derivational suffix, not a member
            members = [m for m, b in _WORDBASE.findall(analysis.get("WORDBASES", "")) if not b.startswith("+")]
            if len(members) > 1 and (at := base.rfind(members[-1].lower())) > 0:
                out.add(base[at:])
    if not out:
        out.add(w)
    return frozenset(out)


def members(word: str, language: str) -> frozenset[str]:
    """The base forms of a compound's parts, the whole word's included: "kuukausihinnasta" →
    kuukausihinta, kuu, kausi, hinta; "price-match" → price-match, price, match. For rules that
    look for a word inside compounds (a price word in a piece that must not sell)."""
    return _members(word.lower(), language)


@cached(200_000)
def _members(w: str, language: str) -> frozenset[str]:
    out = set(lemmas(w, language, heads=True))
    if "-" in w:
        for part in w.split("-"):
            if part:
                out |= lemmas(part, language, heads=True)
    if language == "fi":
        v = _get_voikko()
        if v is not None:
            for analysis in _analyze(v, w):
                for _, b in _WORDBASE.findall(analysis.get("WORDBASES", "")):
                    if b and not b.startswith("+"):
                        out.add(b.lower())
    return frozenset(out)


@cached(200_000)
def analyses(w: str) -> tuple[dict, ...]:
    """Voikko's analyses of a lower-case word (BASEFORM, CLASS…); none without Voikko."""
    v = _get_voikko()
    return tuple(_analyze(v, w)) if v is not None else ()


def address_forms(words: list[str], clause_initial: list[bool]) -> list[str | None]:
    """How each word of a Finnish text addresses the reader: "2sg" (sinä), "2pl" (te) or None.

    Decided from what the forms are, not from a tag any analysis offers:
    - a negative verb is address only as "et"/"älä" (2sg) or "ette"/"älkää" (2pl); "en", "ei",
      "emme", "eivät" are not, and the verb after any negative verb is its connegative
      ("ei nouse"), never an imperative;
    - a form that is both an imperative and something else (*käy*: goes / go!; *varaa*: books /
      book!) is an imperative only where it opens a clause;
    - a possessive suffix or a personal verb ending counts only when every analysis agrees
      (*vuosi* is a year, not a stream of yours);
    - third person and passive are never address.
    """
    v = _get_voikko()
    out: list[str | None] = []
    negated = 0  # words since a non-address negative verb, within its clause
    for word, initial in zip(words, clause_initial):
        if initial:
            negated = 0
        w = word.lower()
        tag = None
        if v is None:
            tag = next((t for t, forms in _FI_PRONOUNS.items() if w in forms and t != "1pl"), None)
            if tag is None and len(w) > 5 and w.endswith(("tte", "ttä", "kaa", "kää")):
                tag = "2pl"
            out.append(tag)
            continue
        found = analyses(w)
        neg = [a for a in found if a.get("CLASS") == "kieltosana"]
        if neg:
            person = (neg[0].get("PERSON"), neg[0].get("NUMBER"))
            tag = {("2", "singular"): "2sg", ("2", "plural"): "2pl"}.get(person)
            negated = 0 if tag else 3
            out.append(tag)
            continue
        if negated:
            negated -= 1
        verbs = [a for a in found if a.get("CLASS") == "teonsana"]
        pron = [a for a in found if a.get("CLASS") == "asemosana"]
        poss = {a.get("POSSESSIVE") for a in found}
        persons = {_PERSON.get((a.get("PERSON"), a.get("NUMBER"))) for a in verbs}
        if pron and any(a.get("BASEFORM") in ("sinä", "te") for a in pron):
            tag = "2sg" if any(a.get("BASEFORM") == "sinä" for a in pron) else "2pl"
        elif len(poss) == 1 and (p := next(iter(poss))) in ("2s", "2p"):
            tag = "2sg" if p == "2s" else "2pl"
        elif verbs and persons == {"2sg"} and all(a.get("MOOD") == "indicative" for a in verbs):
            tag = "2sg"  # voit, säästät: a noun reading (voit, "butters") does not make it less address
        elif verbs and persons <= {"2sg"} and None not in persons and len(verbs) == len(found):
            imperative_only = all(a.get("MOOD") == "imperative" for a in verbs)
            if not imperative_only:
                tag = "2sg"  # säästät, voit
            elif not negated and (initial or all(a.get("NEGATIVE") != "both" for a in verbs)):
                tag = "2sg"  # an imperative that opens its clause: Laske, Katso
            elif not negated and len(found) == len(verbs) and initial is not False and initial:
                tag = "2sg"
        elif verbs and persons == {"2pl"} and len(verbs) == len(found):
            tag = "2pl"  # säästätte, varatkaa
        elif initial and not negated and verbs and any(
                a.get("MOOD") == "imperative" and a.get("PERSON") == "2" for a in verbs):
            tag = "2sg"  # Käy, Soita: an imperative reading where a clause opens
        elif initial and not negated and any(
                a.get("MOOD") == "indicative" and a.get("PERSON") == "3" and a.get("NUMBER") == "singular"
                and a.get("NEGATIVE") == "both" for a in verbs):
            tag = "2sg"  # Varaa, Tilaa: the -ata verbs' imperative is spelt as their third person
        out.append(tag)
    return out


# --- Finnish fallback: strip the commonest case, number and possessive endings ------------

_FI_SUFFIXES = sorted(
    """
    ssamme ssanne ssaan ssään staan stään llamme llanne llaan llään ltaan ltään lleen kseen
    ssa ssä sta stä lla llä lta ltä lle ksi na nä ta tä tta ttä a ä n t
    mme nne nsa nsä si ni
    ille ilta iltä illa illä issa issä ista istä iin ien ina inä iksi ita itä ja jä
    kin kaan kään han hän
    """.split(),
    key=len,
    reverse=True,
)


def fi_stem(w: str) -> str:
    """Crude: peel clitics, possessives and case endings, then a final vowel. Marks a stem,
    not a lemma, and misses consonant gradation (asiakkaat vs asiakas)."""
    for _ in range(3):
        for suffix in _FI_SUFFIXES:
            if w.endswith(suffix) and len(w) - len(suffix) >= 4:
                w = w[: -len(suffix)]
                break
        else:
            break
    return w[:-1] if len(w) > 4 and w[-1] in "aeiouyäö" else w


# --- English -----------------------------------------------------------------------------

_EN_IRREGULAR = {
    "children": "child", "people": "person", "men": "man", "women": "woman", "feet": "foot",
    "better": "good", "best": "good", "worse": "bad", "worst": "bad", "was": "be", "were": "be",
    "is": "be", "are": "be", "been": "be", "has": "have", "had": "have", "did": "do", "does": "do",
    "made": "make", "paid": "pay", "bought": "buy", "sold": "sell", "saved": "save", "built": "build",
    "kept": "keep", "got": "get", "gave": "give", "told": "tell", "ran": "run", "running": "run",
    "data": "data", "analyses": "analysis", "criteria": "criterion", "lives": "life", "leaves": "leave",
}
_EN_KEEP = ("ss", "us", "is", "ous", "ness", "sis")


def _en_lemmas(w: str) -> set[str]:
    """Candidate base forms; matching needs only one to meet, so over-generating is cheap."""
    w = w.replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    elif w.endswith("s'"):
        w = w[:-1]
    out = {w}
    if w in _EN_IRREGULAR:
        return out | {_EN_IRREGULAR[w]}
    if len(w) <= 3 or w.endswith(_EN_KEEP):
        return out
    if w.endswith("ies") and len(w) > 4:
        out.add(w[:-3] + "y")
    elif w.endswith("es"):
        out |= {w[:-1], w[:-2]}
    elif w.endswith("s"):
        out.add(w[:-1])
    elif w.endswith("ied"):
        out.add(w[:-3] + "y")
    elif w.endswith("ing") and len(w) > 5:
        out |= _stem_forms(w[:-3])
    elif w.endswith("ed") and len(w) > 4:
        out |= _stem_forms(w[:-2]) | {w[:-1]}
    elif w.endswith("er") and len(w) > 5:
        out |= _stem_forms(w[:-2]) | {w[:-1]}  # comparatives: cheaper → cheap, safer → safe
    elif w.endswith("est") and len(w) > 6:
        out |= _stem_forms(w[:-3]) | {w[:-2]}
    return out


def _stem_forms(stem: str) -> set[str]:
    """'plann' → plan, 'sav' → save, 'cost' → cost."""
    out = {stem, stem + "e"}
    if len(stem) > 2 and stem[-1] == stem[-2]:
        out.add(stem[:-1])
    return out


def features(word: str, language: str) -> frozenset[str]:
    """Grammatical tags the ladder classifier reads (Finnish, with Voikko only):
    ``you-verb`` (2nd person indicative), ``you-imperative``, ``question`` (the -ko/-kö clitic),
    ``our`` (1st person plural possessive, as in *asiakkaamme*), ``your`` (*kotisi*); and for the
    tone rules the reader's address: ``2sg`` (sinä, *säästät*, *kotisi*), ``2pl`` (te, *säästätte*,
    *taloyhtiönne*, *varatkaa*), ``1pl`` (me, *tarjoamme*, *asiakkaamme*), ``superlative``."""
    if language != "fi":
        return frozenset()
    return _features(word.lower())


@cached(200_000)
def _features(w: str) -> frozenset[str]:
    v = _get_voikko()
    if v is None:
        tags = set()
        if w.endswith(("ko", "kö")) and len(w) > 4:
            tags.add("question")
        if w.endswith("mme") and len(w) > 5:
            tags |= {"our", "1pl"}
        for tag, forms in _FI_PRONOUNS.items():
            if w in forms or (tag == "2pl" and len(w) > 5 and w.endswith(("tte", "ttä", "nne", "kaa", "kää"))):
                tags.add(tag)
        return frozenset(tags)
    tags = set()
    for a in _analyze(v, w):
        if a.get("KYSYMYSLIITE") == "true":
            tags.add("question")
        if a.get("CLASS") == "teonsana" and a.get("PERSON") == "2" and a.get("NUMBER") == "singular":
            tags.add("you-verb" if a.get("MOOD") == "indicative" else "you-imperative")
        if a.get("POSSESSIVE") == "1p":
            tags.add("our")
        if a.get("POSSESSIVE") in ("2s", "2p"):
            tags.add("your")
        if a.get("COMPARISON") == "superlative":
            tags.add("superlative")
        person = _PERSON.get((a.get("PERSON"), a.get("NUMBER"))) if a.get("CLASS") == "teonsana" else None
        person = person or _PERSON_POSSESSIVE.get(a.get("POSSESSIVE"))
        if a.get("CLASS") == "asemosana":
            person = next((t for t, forms in _FI_PRONOUN_BASES.items() if a.get("BASEFORM") in forms), person)
        if person:
            tags.add(person)
    return frozenset(tags)


_PERSON = {("2", "singular"): "2sg", ("2", "plural"): "2pl", ("1", "plural"): "1pl"}
_PERSON_POSSESSIVE = {"2s": "2sg", "2p": "2pl", "1p": "1pl"}
_FI_PRONOUN_BASES = {"2sg": {"sinä"}, "2pl": {"te"}, "1pl": {"me"}}
_FI_PRONOUNS = {  # without Voikko: the pronouns' case forms
    "2sg": set("sinä sinun sinua sinulle sinulla sinulta sinusta sinuun sinut sinuna".split()),
    "2pl": set("te teidän teitä teille teillä teiltä teistä teihin teidät teinä".split()),
    "1pl": set("me meidän meitä meille meillä meiltä meistä meihin meidät".split()),
}


# --- Finnish: put a replacement word in another word's form (generate, then verify) ----------

_FI_ENDINGS = [
    "", "n", "a", "ä", "ta", "tä", "tta", "ttä", "ssa", "ssä", "sta", "stä", "lla", "llä", "lta", "ltä",
    "lle", "na", "nä", "ksi", "seen", "t",
]
_GRADATION = [("kk", "k"), ("pp", "p"), ("tt", "t"), ("nk", "ng"), ("mp", "mm"), ("lt", "ll"), ("nt", "nn"),
              ("rt", "rr"), ("p", "v"), ("t", "d"), ("k", "")]


def _fi_stems(word: str) -> set[str]:
    """Plausible inflection stems of a Finnish word; Voikko's analysis sorts out the right one."""
    stems = {word, word[:-1]}
    if word.endswith("nen"):
        stems |= {word[:-3] + "se", word[:-3] + "s"}
    elif word.endswith("s"):
        stems |= {word[:-1] + "kse", word[:-1] + "ks", word + "e", word[:-1] + word[-2], word[:-1] + "de"}
    elif word.endswith("i"):
        stems |= {word[:-1] + "e"}
    elif word[-1] not in "aeiouyäö":
        stems |= {word + "i", word + "e"}
    for stem in list(stems):
        # consonant gradation in the last syllable, both ways
        head, tail = stem[:-1], stem[-1:]
        for strong, weak in _GRADATION:
            for a, b in ((strong, weak), (weak, strong)):
                if a and head.endswith(a):
                    stems.add(head[: len(head) - len(a)] + b + tail)
    return {s for s in stems if len(s) >= 2}


def _form(a: dict) -> tuple:
    return a.get("SIJAMUOTO"), a.get("NUMBER"), a.get("POSSESSIVE"), a.get("FOCUS"), a.get("KYSYMYSLIITE")


def inflect_like(form: str, base: str, replacement: str, language: str) -> str | None:
    """``replacement`` in the grammatical form ``form`` has as an inflection of ``base``:
    ("investoinnista", "investointi", "päätös") → "päätöksestä". Candidates are generated from
    stems and case endings and kept only when Voikko analyses one back to exactly that form;
    None when no verified form exists (no Voikko, a multi-word replacement, a possessive or
    clitic, an unusual stem). The caller flags those for a human rather than guess."""
    if form.lower() == base.lower():
        return _same_case(form, replacement)
    if language == "en":  # a plural noun: pluralise the replacement's last word
        b = base.lower()
        if form.lower() in {b + "s", b + "es", b[:-1] + "ies"}:
            last = replacement.split()[-1]
            plural = last[:-1] + "ies" if re.search(r"[^aeiou]y$", last) else last + ("es" if last.endswith(("s", "x", "ch", "sh")) else "s")
            return _same_case(form, replacement[: len(replacement) - len(last)] + plural)
        return None
    v = _get_voikko() if language == "fi" else None
    if v is None or " " in replacement.strip():
        return None
    wanted = {_form(a) for a in _analyze(v, form.lower()) if (a.get("BASEFORM") or "").lower() == base.lower()}
    if not wanted or any(w[2] or w[3] or w[4] for w in wanted):
        return None
    word = replacement.lower()
    stems = _fi_stems(word)
    candidates = sorted({s + e for s in stems for e in _FI_ENDINGS}
                        | {s + s[-1] + "n" for s in stems} | {s + "h" + s[-1] + "n" for s in stems})
    for candidate in sorted(candidates, key=len):
        for a in _analyze(v, candidate):
            if (a.get("BASEFORM") or "").lower() == word and _form(a) in wanted:
                return _same_case(form, candidate)
    return None


def _same_case(model: str, word: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word
