"""Stage 4, check: deterministic rules on a draft's parts, Vale-style.

Each rule is a function ``(CheckContext) -> Iterable[Finding]``; a finding has the rule's name,
a level, a message, the matched span and the concrete instruction a revision follows (``fix``).
Errors gate the verdict; warnings and suggestions only lower the score. What the rules look
for, word lists and patterns per language, is declared in ``check_rules.yaml``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from pipeline.lang import en, fi, lemma, text
from pipeline.stages import numbers, reader
from pipeline.stages.classify import STEP_KEYS, StepReading, classify
from pipeline.workspace.models import Channel, CheckResult, CoreStatement, Finding, Job, Segment, Workspace

PENALTY = {"error": 25, "warning": 10, "suggestion": 3}


@dataclass
class CheckContext:
    """What the rules see. A draft in the pipeline has all of it; free text given to
    ``ladder check`` may have no channel or segment, and rules that need them stand aside."""

    language: str
    step: int | None
    parts: dict[str, str]
    kind: str = "ladder"
    channel: Channel | None = None
    segment: Segment | None = None
    core: CoreStatement | None = None
    others: list[Segment] = field(default_factory=list)  # the campaign's other segments
    policy: dict[str, str] = field(default_factory=dict)  # rule -> level, from ladder.yaml's checks:

    @cached_property
    def support(self) -> str:
        """What a claim may rest on: the core statement's sentence, offer, differentiators and
        proof points, and the channel's call to action, in the draft's language."""
        if self.core is None:
            return ""
        lang, core = self.language, self.core
        texts = [core.core.get(lang, ""), core.offer.get(lang, ""), *core.differentiators.get(lang, [])]
        texts += [p.claim.get(lang) or " ".join(p.claim.values()) for p in core.proof_points]
        texts += [self.channel.call_to_action.get(lang, "")] if self.channel else []
        return "\n".join(t for t in texts if t)

    @cached_property
    def body(self) -> str:
        """All parts as one text, in the channel's order."""
        names = [p.name for p in self.channel.parts] if self.channel else list(self.parts)
        return "\n\n".join(self.parts[n] for n in names if self.parts.get(n))

    @cached_property
    def part_tokens(self) -> dict[str, tuple[str, Sequence[text.Token]]]:
        """Each part with its tokens, tokenised once for every term rule."""
        return {name: (value, text.tokens(value)) for name, value in self.parts.items()}

    @cached_property
    def body_tokens(self) -> Sequence[text.Token]:
        return text.tokens(self.body)

    @cached_property
    def body_lemmas(self) -> frozenset[str]:
        return text.lemma_set(self.body_tokens, self.language)

    def has_term(self, term: str) -> list[tuple[int, int]]:
        """Spans of ``term`` in the body, any inflected form."""
        if not text.may_contain(self.body_lemmas, term, self.language):
            return []
        return text.find_term_in(self.body_tokens, term, self.language)

    @cached_property
    def reading(self) -> StepReading:
        return classify(self.body, self.language)


Rule = Callable[[CheckContext], Iterable[Finding]]


def required_parts(ctx: CheckContext) -> Iterable[Finding]:
    for part in ctx.channel.parts if ctx.channel else []:
        if part.required and not ctx.parts.get(part.name, "").strip():
            yield Finding(rule="parts.required", level="error", part=part.name,
                          message=f"the required part '{part.name}' is missing or empty",
                          fix=f"write the '{part.name}'" + (f": {part.description}" if part.description else ""))


def part_limits(ctx: CheckContext) -> Iterable[Finding]:
    for part in ctx.channel.parts if ctx.channel else []:
        value = ctx.parts.get(part.name, "")
        if part.max_chars and len(value) > part.max_chars:
            yield Finding(rule="parts.limit", level="error", part=part.name, span=value[part.max_chars:][:80],
                          message=f"'{part.name}' has {len(value)} characters; the limit is {part.max_chars}",
                          fix=f"shorten '{part.name}' to at most {part.max_chars} characters")
        words = len(text.tokens(value))
        if part.max_words and words > part.max_words:
            yield Finding(rule="parts.limit", level="error", part=part.name,
                          message=f"'{part.name}' has {words} words; the limit is {part.max_words}",
                          fix=f"shorten '{part.name}' to at most {part.max_words} words")


def avoided_terms(ctx: CheckContext) -> Iterable[Finding]:
    for avoid in ctx.segment.vocabulary.avoid if ctx.segment else []:
        for name, (value, toks) in ctx.part_tokens.items():
            for start, end in text.find_term_in(toks, avoid.term, ctx.language):
                yield Finding(rule="vocabulary.avoid", level="error", part=name, span=value[start:end],
                              message=f"'{value[start:end]}' is a term this segment avoids: use '{avoid.replacement}'",
                              fix=f"replace '{value[start:end]}' with '{avoid.replacement}'"
                                  + (f" ({avoid.reason})" if avoid.reason else ""))


def own_terms(ctx: CheckContext) -> Iterable[Finding]:
    if ctx.kind == "not_for_you" or ctx.segment is None:
        return
    terms = ctx.segment.vocabulary.use
    used = [t for t in terms if ctx.has_term(t)]
    if not used:
        yield Finding(rule="vocabulary.own", level="error",
                      message=f"uses none of the segment's own terms ({', '.join(terms)})",
                      fix=f"use their own words: {', '.join(terms)}")
    elif len(used) < min(2, len(terms)):
        missing = [t for t in terms if t not in used]
        yield Finding(rule="vocabulary.own", level="suggestion",
                      message=f"uses {len(used)} of the segment's terms; also fits: {', '.join(missing[:3])}",
                      fix=f"also use: {', '.join(missing[:3])}")


def _compile(entry: dict) -> dict:
    for key in ("pattern", "not"):
        if key in entry:
            entry[key] = re.compile(entry[key], re.I)
    entry["lemmas"] = frozenset(entry.get("lemmas", []))
    return entry


@lru_cache(maxsize=1)
def lexicon() -> dict[str, dict[str, dict]]:
    data = yaml.safe_load((Path(__file__).parent / "check_rules.yaml").read_text(encoding="utf-8"))
    values = data.pop("value", {})
    for entries in data.values():
        for entry in entries.values():
            _compile(entry)
    data["value"] = {lang: {kind: _compile(entry) for kind, entry in kinds.items()} for lang, kinds in values.items()}
    return data


@lru_cache(maxsize=64)
def _company_pattern(template: str, company: str) -> re.Pattern:
    """A rule's pattern with ``{company}`` as the company's name or its first word ("Acme Oy", "Acme")."""
    names = sorted({company.strip(), company.split()[0]}, key=len, reverse=True)
    return re.compile(template.replace("{company}", "(" + "|".join(map(re.escape, names)) + ")"), re.I)


def _entry_hits(t: text.Token, language: str, entry: dict) -> bool:
    if entry["lemmas"]:
        forms = lemma.members(t.text, language) if entry.get("parts") else lemma.lemmas(t.text, language, heads=True)
        if forms & entry["lemmas"]:
            return True
    return "feature" in entry and entry["feature"] in lemma.features(t.text, language)


def matches(value: str, language: str, name: str, entry: dict | None = None,
            company: str | None = None) -> list[tuple[int, int]]:
    """Spans of a ``check_rules.yaml`` entry: its pattern, its base forms (with ``parts: true``,
    also the parts of a compound: "kuukausihinta" has "hinta"), its Voikko feature, and with a
    ``company`` its pattern that names the company."""
    entry = entry if entry is not None else lexicon().get(language, {}).get(name)
    if entry is None:
        return []
    spans = [m.span() for m in entry["pattern"].finditer(value)] if "pattern" in entry else []
    if company and "company" in entry:
        spans += [m.span() for m in _company_pattern(entry["company"], company).finditer(value)]
    if entry["lemmas"] or "feature" in entry:
        for t in text.tokens(value):
            if _entry_hits(t, language, entry):
                spans.append((t.start, t.end))
    if "not" in entry:
        spans = [(a, b) for a, b in spans if not entry["not"].fullmatch(value[a:b])]
    return sorted(set(spans))


def _present(toks: Sequence[text.Token], sentences: list[Sequence[text.Token]], term: str, language: str) -> bool:
    """The term as a phrase, or all its content words within one sentence ("huolto kuuluu
    palveluun" is carried by "palveluun kuuluu myös huolto")."""
    if text.find_term_in(toks, term, language):
        return True
    words = [w for w in text.tokens(term) if w.lower not in text.STOP_WORDS.get(language, ()) and len(w.text) > 2]
    if not words:
        return False
    present = text.lemma_set(toks, language)  # cached per text: a quick no before the sentence-by-sentence search
    if not all(text.may_contain(present, w.text, language) for w in words):
        return False
    return any(all(text.find_term_in(s, w.text, language) for w in words) for s in sentences)


def core_concepts(ctx: CheckContext) -> Iterable[Finding]:
    """Every key concept of the core statement, said in the segment's own term for it."""
    if ctx.segment is None or ctx.core is None or ctx.kind == "not_for_you":
        return
    sentences = [text.tokens(s) for s in text.sentences(ctx.body)]
    for concept in ctx.core.key_concepts:
        term = ctx.segment.vocabulary.concepts.get(concept.id)
        if term and not _present(ctx.body_tokens, sentences, term, ctx.language):
            yield Finding(rule="core.concepts", level="error",
                          message=f"does not carry the core's '{concept.name}' in this segment's words ('{term}')",
                          fix=f"carry the core's '{concept.name}', in their words: '{term}'")


def borrowed_voice(ctx: CheckContext) -> Iterable[Finding]:
    """Another segment's own terms in this segment's piece, unless the words are shared:
    in this segment's definition or the core statement. A "not for you" piece may name whom the
    offer is for in their own words: that is its job."""
    if ctx.segment is None or ctx.kind == "not_for_you" or ctx.segment.role == "outside_target":
        return
    seg = ctx.segment
    own = set(seg.vocabulary.use)
    others: dict[str, Segment] = {}  # each term once, however many segments use it
    for other in ctx.others:
        if other.id != seg.id and other.language == ctx.language:
            for term in other.vocabulary.use:
                if term not in own:
                    others.setdefault(term, other)
    candidates = [(term, other, spans[0]) for term, other in others.items() if (spans := ctx.has_term(term))]
    if not candidates:
        return
    shared = " ".join([*seg.vocabulary.use, *seg.vocabulary.concepts.values(), *seg.needs, *seg.objections,
                       *seg.tone.examples, ctx.support])
    for term, other, (start, end) in candidates:
        if text.find_term(shared, term, ctx.language):
            continue
        yield Finding(rule="vocabulary.borrowed", level="error", span=ctx.body[start:end],
                      message=f"'{ctx.body[start:end]}' is {other.name}'s word, not this segment's",
                      fix=f"replace '{ctx.body[start:end]}' with this segment's own words "
                          f"({', '.join(seg.vocabulary.use[:4])})")


NUMBER = numbers.DIGITS

# Words that carry no content of their own in a claim: they cannot tie a claim to its backing.
CLAIM_STOP = {
    "en": frozenset("service services company housing building buildings customer customers year years month "
                    "months every all each any our your their its it this that will can also very much "
                    "more most just only even still".split()),
    "fi": frozenset("palvelu yhtiö vuosi kuukausi kaikki jokainen joka oma meidän teidän sinun olla tulla "
                    "voida saada myös vain jo aina nyt heti".split()),
}
WINDOW = 6  # content words either side of a claim's marker that say what it is about


@dataclass(frozen=True)
class Claim:
    """A sentence's promise or outcome: its marker and what it is about (base forms near it)."""

    kind: str  # promise | outcome
    span: tuple[int, int]
    about: frozenset[str]
    sentence: tuple[int, int]


def _content(t: text.Token, language: str) -> frozenset[str]:
    if t.lower in text.STOP_WORDS.get(language, ()) or len(t.text) < 3:
        return frozenset()
    forms = lemma.lemmas(t.text, language) | {t.lower}
    return frozenset(f for f in forms if f not in CLAIM_STOP.get(language, ()) and len(f) > 2)


CLAUSE_WORDS = {"en": frozenset("and but so while whereas because".split()),
                "fi": frozenset("ja mutta joten eikä koska kun vaan".split())}


def _clause(sentence: str, toks: Sequence[text.Token], first: int, last: int, language: str) -> tuple[int, int]:
    """The token range of the clause around tokens first..last, at most WINDOW either side: a
    claim is about what its own clause says ("we run the plant and guarantee a lower cost": the
    guarantee is about the cost, not the plant)."""
    def boundary(i: int) -> bool:  # between tokens i-1 and i
        return bool(re.search(r"[,;:–—()]", sentence[toks[i - 1].end:toks[i].start])) or \
            toks[i].lower in CLAUSE_WORDS.get(language, ())
    lo = first
    while lo > 0 and first - lo < WINDOW and not boundary(lo):
        lo -= 1
    hi = last + 1
    while hi < len(toks) and hi - last <= WINDOW and (hi == last + 1 or not boundary(hi)):
        hi += 1  # "we promise, that ...": what is promised follows the comma
    return lo, hi


def claims_in(value: str, language: str) -> list[Claim]:
    """Every promise and outcome claim of a text, sentence by sentence."""
    return list(_claims_in(value, language))


@lemma.cached(20_000)
def _claims_in(value: str, language: str) -> tuple[Claim, ...]:
    out = []
    lex = lexicon().get(language, {})
    offset = 0
    for sentence in text.sentences(value):
        offset = value.find(sentence, offset)
        if sentence.rstrip().endswith("?"):  # a question asserts nothing (its figures are read apart)
            offset += len(sentence)
            continue
        toks = text.tokens(sentence)
        content = [_content(t, language) for t in toks]
        for kind in ("promise", "outcome"):
            entry = lex.get(kind)
            if entry is None:
                continue
            for a, b in matches(sentence, language, kind, entry):
                at = [i for i, t in enumerate(toks) if t.start < b and t.end > a]
                if not at:
                    continue
                lo, hi = _clause(sentence, toks, at[0], at[-1], language)
                about = frozenset(f for i in range(lo, hi) if i not in at for f in content[i])
                out.append(Claim(kind, (offset + a, offset + b), about, (offset, offset + len(sentence))))
        offset += len(sentence)
    return tuple(out)


@lemma.cached(256)
def _backing(units: tuple[str, ...], terms: tuple[str, ...], language: str) -> tuple[
        tuple[frozenset[str], ...], tuple[frozenset[str], ...], tuple]:
    """What claims may rest on: for promises, what each promise of the core is about; for
    outcomes, what each promise or outcome of the core (and each concept term) is about; the
    figures the core states."""
    promises, outcomes, known = [], [], []
    for unit in (*units, *terms):  # the segment's own words for the core's concepts say what the core does
        for c in claims_in(unit, language):
            (promises if c.kind == "promise" else outcomes).append(c.about)
            if c.kind == "promise":
                outcomes.append(c.about)
        for f in numbers.figures(unit, language):
            known.append((f.values, _figure_context(unit, f, language)))
    return tuple(promises), tuple(outcomes), tuple(known)


def _figure_context(value: str, f: numbers.Figure, language: str) -> frozenset[str]:
    """What a figure counts: the content words (base forms) near it in its sentence."""
    a = max(value.rfind(".", 0, f.start), value.rfind("!", 0, f.start), value.rfind("?", 0, f.start)) + 1
    ends = [i for i in (value.find(".", f.end), value.find("!", f.end), value.find("?", f.end)) if i >= 0]
    before, after = text.tokens(value[a:f.start]), text.tokens(value[f.end:min(ends, default=len(value))])
    near = [*before[-WINDOW:], *after[:WINDOW]]
    words = {x for t in near if t.lower not in text.STOP_WORDS.get(language, ()) and len(t.text) > 2
             for x in _noun_forms(t.text, language)}
    # and the words that frame it, function words too: "by the 5th" is "by the fifth"
    prev = [t.lower for t in before if t.lower not in ("the", "a", "an")][-1:]
    nxt = [t for t in after if t.lower not in text.STOP_WORDS.get(language, ())][:1]
    words |= {f"<{w}" for w in prev} | {f">{x}" for t in nxt for x in _noun_forms(t.text, language)}
    return frozenset(words)


def _noun_forms(word: str, language: str) -> frozenset[str]:
    """A word's forms for telling what a figure counts: Finnish base forms; English the word and
    its singular, not its stems ("heating" is not "heat")."""
    w = word.lower()
    if language == "en":
        return frozenset({w, w[:-1] if w.endswith("s") and len(w) > 3 else w})
    return lemma.lemmas(w, language) | {w}


def _figure_backed(value: str, f: numbers.Figure, known, language: str) -> bool:
    """A figure is backed by a figure of the core of the same value about the same thing: "15
    years" backs "fifteen years" and "a fixed fee for 15 years", not "15 engineers"."""
    ctx = None
    for values, about in known:
        if numbers.backed(f, values):
            ctx = ctx if ctx is not None else _figure_context(value, f, language)
            if ctx & about or not ctx:
                return True
    return False


@lemma.cached(256)
def _support_lemmas(support: str, language: str) -> frozenset[str]:
    return frozenset(b for t in text.tokens(support) for b in lemma.lemmas(t.text, language, heads=True))


@lemma.cached(64)
def _name_lemmas(name: str, language: str) -> frozenset[str]:
    """A name's words in every form the claims read them in."""
    return frozenset(f for t in text.tokens(name) for f in lemma.lemmas(t.text, language) | {t.lower})


@lemma.cached(256)
def _offer_lemmas(company: str, offer: str, language: str) -> frozenset[str]:
    return frozenset(f for t in text.tokens(f"{company} {offer}") for f in lemma.lemmas(t.text, language)) - set(
        text.STOP_WORDS.get(language, ()))


def _ours(ctx: CheckContext, sentence: str) -> bool:
    """Is a sentence about what we or the offer do for the reader? It speaks to the reader or of
    us, or names the company or the offer."""
    lang = ctx.language
    offer = _offer_lemmas(ctx.core.company, ctx.core.offer.get(lang, ""), lang)
    for t in text.tokens(sentence):
        if lemma.lemmas(t.text, lang, heads=True) & offer:
            return True
        if lang == "en" and t.lower.replace("’", "'") in en.YOU | en.WE:
            return True
        if lang == "fi" and (lemma.features(t.text, lang) & {"2sg", "2pl", "1pl"} or t.lower in fi.YOU | fi.WE):
            return True
    return False


def claims(ctx: CheckContext) -> Iterable[Finding]:
    """Every figure (in digits or words), promise, outcome and superlative must trace to the
    core statement: a figure to a figure of it, a promise to a promise of it and an outcome to
    a promise or outcome of it about the same thing (their content words meet), a superlative
    to a differentiator. Checked claim by claim: one guarantee in the core does not back another."""
    if ctx.core is None:
        return
    lang, support = ctx.language, ctx.support
    units = tuple(support.split("\n"))
    terms = tuple(ctx.segment.vocabulary.concepts.values()) if ctx.segment else ()
    promises, outcomes, known = _backing(units, terms, lang)
    proof = "; ".join(f"{p.id}: {p.text(lang)}" for p in ctx.core.proof_points)
    use_proof = f"use only the facts of the proof points ({proof})" if proof else "remove it: the core has no proof points"
    support_lemmas = _support_lemmas(support, lang)
    company = _name_lemmas(ctx.core.company, lang)
    for name, (value, _) in ctx.part_tokens.items():
        for f in numbers.figures(value, lang):
            if (not _figure_backed(value, f, known, lang) and not numbers.counts_the_piece(value, f, lang)
                    and not numbers.approximate(value, f, lang)):
                yield Finding(rule="claims.unsupported", level="error", part=name, span=f.text,
                              message=f"the figure '{f.text}' traces to no proof point of the core statement",
                              fix=f"remove the figure '{f.text}' or {use_proof}")
        said = set()
        for c in claims_in(value, lang):
            backing = promises if c.kind == "promise" else outcomes
            about = c.about - company  # our name is in every claim of ours: it ties none to its backing
            if not about or any(about & b for b in backing):
                continue
            if c.kind == "outcome" and not _ours(ctx, value[c.sentence[0]:c.sentence[1]]):
                continue  # the market's news ("district heating prices rise"), not a claim of ours
            span = value[c.span[0]:c.span[1]]
            if span in said:
                continue
            said.add(span)
            if c.kind == "promise":
                yield Finding(rule="claims.unsupported", level="error", part=name, span=span,
                              message=f"'{span}' promises what no promise of the core statement gives",
                              fix=f"remove the promise '{span}' or keep to what the core guarantees")
            else:
                yield Finding(rule="claims.unsupported", level="error", part=name, span=span,
                              message=f"the outcome '{span}' ({', '.join(sorted(about)[:3])}) traces to no "
                                      "proof point, differentiator or core sentence",
                              fix=f"drop the outcome '{span}' or {use_proof}")
        for a, b in matches(value, lang, "superlative"):
            words = text.tokens(value[a:b])
            if words and not lemma.lemmas(words[-1].text, lang, heads=True) & support_lemmas:
                yield Finding(rule="claims.unsupported", level="error", part=name, span=value[a:b],
                              message=f"the superlative '{value[a:b]}' traces to no proof point or differentiator",
                              fix=f"drop '{value[a:b]}' or back it with a differentiator of the core statement")


ADDRESS_TAGS = {"you": "2", "sinä": "2sg", "te": "2pl"}
SENTENCE_WORDS = {"en": {"short": 12, "medium": 20, "long": 28}, "fi": {"short": 8, "medium": 13, "long": 19}}
HYPE_ALLOWED = {"calm": 0, "steady": 1, "lively": 2}


def _clause_initial(value: str, toks: Sequence[text.Token]) -> list[bool]:
    """For each token: does it open a clause (start of the text, or after . ! ? : ; , – or a line break)?"""
    out, prev = [], 0
    for i, t in enumerate(toks):
        out.append(i == 0 or bool(re.search(r"[.!?:;,\n–—(\"]", value[prev:t.start])))
        prev = t.end
    return out


def _persons(ctx: CheckContext) -> dict[str, list[text.Token]]:
    """The reader's address in the draft, part by part: "2" (any you), "2sg", "2pl", and "1pl"
    (we). The channel's own call to action is left out, and so is a button (the part
    ``call_to_action``): a Finnish button speaks in the singular imperative ("Varaa", "Laske
    säästösi") whatever the text's address, and the channel fixes its wording."""
    out: dict[str, list[text.Token]] = {"2sg": [], "2pl": [], "2": [], "1pl": []}
    cta = ctx.channel.call_to_action.get(ctx.language) if ctx.channel else None
    for name, (value, toks) in ctx.part_tokens.items():
        if name == "call_to_action" and ctx.language == "fi":
            continue
        fixed = [span for span in text.find_term_in(toks, cta, ctx.language)] if cta else []
        toks = [t for t in toks if not any(a <= t.start < b for a, b in fixed)]
        if ctx.language == "en":
            for t in toks:
                word = t.lower.replace("’", "'")
                out["2"] += [t] if word in en.YOU else []
                out["1pl"] += [t] if word in en.WE else []
            continue
        if ctx.language != "fi":
            continue
        tags = lemma.address_forms([t.text for t in toks], _clause_initial(value, toks))
        for t, tag in zip(toks, tags):
            if tag:
                out[tag].append(t)
                out["2"].append(t)
            if "1pl" in lemma.features(t.text, "fi"):
                out["1pl"].append(t)
    return out


def tone(ctx: CheckContext) -> Iterable[Finding]:
    """The segment's tone: how the reader is addressed (you; sinä or te), talk of us against
    talk of the reader, sentence length, and exclamations and hype against the tone's energy."""
    if ctx.segment is None or not ctx.body:
        return
    want, lang = ctx.segment.tone, ctx.language
    toks = ctx.body_tokens
    persons = _persons(ctx)
    if lang == "fi":
        other = "sinä" if want.address == "te" else "te"
        wrong = persons[ADDRESS_TAGS[other]]
        if wrong:  # one wrong form is a mixed address: a reviewer sends it back
            yield Finding(rule="tone.address", level="error", span=wrong[0].text,
                          message=f"addresses the reader as '{other}' ('{', '.join(t.text for t in wrong[:3])}'); "
                                  f"this segment is addressed as '{want.address}'",
                          fix=f"address the reader as '{want.address}' throughout, not '{other}'")
    if ctx.kind != "not_for_you" and len(toks) >= 12:
        you, we = len(persons["2"]), len(persons["1pl"])
        if you == 0:
            # English has one address, "you": a piece that never uses it talks about the reader,
            # not to them. Finnish may speak in the passive; there it is a hint.
            yield Finding(rule="tone.address", level="error" if lang == "en" else "suggestion",
                          message="never speaks to the reader",
                          fix=f"speak to the reader directly ('{want.address}')")
        elif we > 2 * you + 1:
            yield Finding(rule="tone.address", level="suggestion",
                          message=f"talks about us ({we}×) more than to the reader ({you}×)",
                          fix="talk less about us and more about what the reader gets")
    sentences = text.sentences(ctx.body)
    counted = [(s, len(text.tokens(s))) for s in sentences]
    running = [(s, n) for s, n in counted if n >= 4]  # not headlines or buttons
    limits = SENTENCE_WORDS.get(lang)
    if limits and running:
        lengths = [n for _, n in running]
        average, limit = sum(lengths) / len(lengths), limits[want.sentence_length]
        if average > limit or max(lengths) > 2 * limit:
            longest = running[lengths.index(max(lengths))][0]
            yield Finding(rule="tone.sentence_length", level="suggestion", span=longest[:80],
                          message=f"sentences average {average:.0f} words; this segment's {want.sentence_length} "
                                  f"sentences are at most about {limit}",
                          fix=f"split long sentences: at most about {limit} words each")
    hype = [ctx.body[a:b] for a, b in matches(ctx.body, lang, "hype")]
    bangs = ctx.body.count("!")
    allowed = HYPE_ALLOWED[want.energy]
    if len(hype) > allowed:
        yield Finding(rule="tone.hype", level="error", span=hype[0],
                      message=f"{len(hype)} hype word(s) ({', '.join(hype[:3])}) in a {want.energy} tone",
                      fix=f"remove the hype ({', '.join(hype[:3])}): say what the reader gets instead")
    if bangs > allowed + (len(sentences) // 3 if want.energy == "lively" else 0):
        yield Finding(rule="tone.hype", level="error" if want.energy == "calm" else "suggestion", span="!",
                      message=f"{bangs} exclamation mark(s) in a {want.energy} tone",
                      fix="end sentences with full stops, not exclamation marks")


def roles(ctx: CheckContext) -> Iterable[Finding]:
    """A piece for a group outside the target must not sell: no offer, price or call to buy, in
    any inflection or inside a compound ("kuukausihinta"), and none of the channel's calls to
    action. Customer-only content (referral and loyalty asks) does not go to prospects, in any
    person or number ("suosittele", "suositelkaa", "suositellaan", "recommend us")."""
    seg = ctx.segment
    if ctx.kind == "not_for_you" or (seg is not None and seg.role == "outside_target"):
        found = [ctx.body[a:b] for a, b in matches(ctx.body, ctx.language, "selling")[:1]]
        found += [ctx.body[a:b] for a, b in matches(ctx.body, ctx.language, "selling_words")[:1]]
        for cta in (ctx.channel.call_to_action.values() if ctx.channel else []):
            found += [ctx.body[a:b] for a, b in text.find_term_in(ctx.body_tokens, cta, ctx.language)[:1]]
        if found:
            yield Finding(rule="role.sells", level="error", span=found[0],
                          message=f"sells ('{', '.join(dict.fromkeys(found))}') to a group the offer is not for",
                          fix="do not sell: say kindly and plainly who the offer is for, with no offer, price or call to buy")
    if seg is None or seg.role != "prospect":
        return
    if ctx.channel is not None and ctx.channel.purpose == "customer_experience":
        yield Finding(rule="role.customer_only", level="error",
                      message=f"'{ctx.channel.id}' is a customer-experience channel; this segment is a prospect")
    company = ctx.core.company if ctx.core else None
    asks = [ctx.body[a:b] for kind in ("referral", "loyalty")
            for a, b in matches(ctx.body, ctx.language, kind, company=company)]
    if asks:
        yield Finding(rule="role.customer_only", level="error", span=asks[0],
                      message=f"referral or loyalty talk ('{asks[0]}') aimed at a prospect, who is not a customer yet",
                      fix="drop the thanks, loyalty and referral talk: the reader is not a customer yet")


def call_to_action(ctx: CheckContext) -> Iterable[Finding]:
    """A channel's call to action, where it has one and no part of its own for it, is in the text."""
    cta = ctx.channel.call_to_action.get(ctx.language) if ctx.channel else None
    if not cta or ctx.kind == "not_for_you" or "call_to_action" in ctx.parts:
        return
    if not text.find_term(ctx.body, cta, ctx.language):
        yield Finding(rule="call_to_action", level="warning", message=f"does not end with the call to action '{cta}'",
                      fix=f"end with the call to action: '{cta}'")


def language_matches(ctx: CheckContext) -> Iterable[Finding]:
    lang, confidence = text.detect_language(ctx.body)
    if lang is not None and lang != ctx.language and confidence >= 0.6:
        yield Finding(rule="language", level="error",
                      message=f"the draft reads as '{lang}' ({confidence:.0%} of signals); its language should be '{ctx.language}'",
                      fix=f"write the whole piece in '{ctx.language}'")


VALUE_NAMES = {"en": {"economic": "money (cost, savings, capital)", "productive": "time and work saved",
                       "symbolic": "image and standing (reporting, reputation, responsibility)",
                       "emotional": "feelings (comfort, peace of mind, home)"},
               "fi": {"economic": "rahaa (kulut, säästö, vastike)", "productive": "aikaa ja vaivaa",
                      "symbolic": "mainetta ja asemaa (perustelut, vastuullisuus)",
                      "emotional": "tunteita (lämpö, mukavuus, huolettomuus)"}}


def value_types(body: str, language: str) -> dict[str, list[str]]:
    """Which value types (DOMAIN.md §3) a text speaks to, each with the words that say so."""
    found: dict[str, list[str]] = {}
    for t in text.tokens(body):
        for kind in _value_kinds(t.text.lower(), language):
            if t.text not in found.setdefault(kind, []):
                found[kind].append(t.text)
    return {k: found[k] for k in ("economic", "productive", "symbolic", "emotional") if k in found}


@lemma.cached(100_000)
def _value_kinds(word: str, language: str) -> tuple[str, ...]:
    cues = lexicon().get("value", {}).get(language, {})
    tok = text.Token(word, 0, len(word))
    return tuple(kind for kind, entry in cues.items() if _entry_hits(tok, language, entry))


def value_drivers(ctx: CheckContext) -> Iterable[Finding]:
    """The segment buys for its value drivers (economic, productive, symbolic, emotional): a
    piece that speaks to none of them speaks past the reader."""
    seg = ctx.segment
    if seg is None or not seg.value_drivers or ctx.kind == "not_for_you" or not ctx.body:
        return
    spoken = value_types(ctx.body, ctx.language)
    if not set(spoken) & set(seg.value_drivers):
        names = VALUE_NAMES.get(ctx.language, VALUE_NAMES["en"])
        heard = f"; it speaks to {', '.join(spoken)}" if spoken else ""
        yield Finding(rule="value.drivers", level="warning",
                      message=f"speaks to none of the segment's value drivers ({', '.join(seg.value_drivers)}){heard}",
                      fix="say what it is worth to them in " + " or ".join(names[d] for d in seg.value_drivers))


PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def placeholders(ctx: CheckContext) -> Iterable[Finding]:
    """A placeholder a part's description asks for ("including the link placeholder {link}")
    is in the part, exactly once."""
    for part in ctx.channel.parts if ctx.channel else []:
        value = ctx.parts.get(part.name)
        if value is None:
            continue
        for ph in dict.fromkeys(PLACEHOLDER.findall(part.description)):
            if ph not in value:
                yield Finding(rule="parts.placeholder", level="error", part=part.name,
                              message=f"'{part.name}' lacks the placeholder {ph}",
                              fix=f"put the placeholder {ph} in '{part.name}', as it is")


STEP_HINTS = {
    1: "say plainly what is on offer and that it is available",
    2: "show the outcome for the reader: what they get, save or stop doing",
    3: "name the reader's group and a need or a timely trigger (deadline, season, rule), or ask a diagnostic question",
    4: "set the offer against the reader's alternatives: unlike, the only, instead of, and why that matters to them",
    5: "show the promise kept: a customer's voice, an attributed result, a guarantee, or an invitation to recommend",
}
STEP_FLOOR = 50  # the target step's strength (0–100) a draft needs to count as doing its work


def ladder_step(ctx: CheckContext) -> Iterable[Finding]:
    """Does the draft do the work of its target step? Read by ``classify`` (the learned reader's
    probabilities, the signals' evidence). The ladder is cumulative, so only falling short can
    fail a draft: an error only when the reader is confident the draft reads below its target, or
    fairly sure it reads two or more below (``reader.gate``; thresholds picked on cross-validated
    figures, see bench/ladder_accuracy.py);
    a warning when it reads two or more steps above; a suggestion when it likely reads below."""
    if ctx.step is None or ctx.kind == "not_for_you" or not ctx.body:
        return
    reading, target = ctx.reading, ctx.step
    primary = reading.primary_step
    name = STEP_KEYS[target]
    need = ""
    if ctx.segment is not None and ctx.segment.needs and target in (2, 3):
        need = f"; address the segment's need: {ctx.segment.needs[0]}"
    if reading.probabilities:
        thresholds = reader.GateThresholds.shipped()
        level = reader.gate(reading.probabilities, target, thresholds)
        sure = f" ({reader.sureness(reading.probabilities, target, thresholds)})"
    else:  # the rules alone: the target step's strength against a floor, as before
        level = ("error" if reading.strength(target) < STEP_FLOOR else
                 "warning" if primary > target + 1 else "suggestion" if primary < target else None)
        sure = ""
    span = (reading.evidence[primary] or [None])[0]
    if level == "error":
        yield Finding(rule="ladder.step", level="error", span=span,
                      message=f"does not do the work of step {target} ({name}): {STEP_HINTS[target]}"
                      + (f"; it reads as step {primary} ({STEP_KEYS[primary]})" if primary != target else "") + sure,
                      fix=STEP_HINTS[target] + need + _proof_hint(ctx, target))
    elif level == "warning":
        yield Finding(rule="ladder.step", level="warning", span=span,
                      message=f"reads as step {primary} ({STEP_KEYS[primary]}), beyond its target step {target} ({name})",
                      fix=f"stay at step {target}: {STEP_HINTS[target]}")
    elif level == "suggestion":
        yield Finding(rule="ladder.step", level="suggestion", span=span,
                      message=f"reads mostly as step {primary} ({STEP_KEYS[primary]}); make step {target} carry it: {STEP_HINTS[target]}",
                      fix=STEP_HINTS[target] + need + _proof_hint(ctx, target))
    if ctx.segment is not None and ctx.segment.role == "prospect" and primary == 5 and target < 5:
        yield Finding(rule="role.prospect", level="warning", span=(reading.evidence[5] or [None])[0],
                      message="customer-delivery content (proof of a promise kept) aimed at a prospect",
                      fix=f"keep to step {target}: {STEP_HINTS[target]}")


def _proof_hint(ctx: CheckContext, step: int) -> str:
    """Steps 4 and 5 rest on the core's differentiators and proof points: name them."""
    if ctx.core is None:
        return ""
    lang = ctx.language
    if step == 5 and ctx.core.proof_points:
        p = ctx.core.proof_points[0]
        return f"; add the evidence of proof point {p.id}: {p.text(lang)}"
    if step == 4 and ctx.core.differentiators.get(lang):
        return f"; say what sets us apart: {ctx.core.differentiators[lang][0]}"
    return ""


RULES: list[Rule] = [required_parts, part_limits, placeholders, avoided_terms, own_terms, borrowed_voice, core_concepts,
                     claims, tone, roles, call_to_action, language_matches, value_drivers, ladder_step]


# Each rule's level out of the box: what a reviewer would reject is an error. A workspace sets
# its own in ladder.yaml (``checks: {tone.hype: warning, value.drivers: off}``), as Vale does.
# A rule's hints (findings below its level, e.g. "uses only one of the segment's terms") keep
# their level unless the setting is lower still.
DEFAULT_LEVELS: dict[str, str] = {
    "parts.required": "error", "parts.limit": "error", "parts.placeholder": "error",
    "vocabulary.avoid": "error", "vocabulary.own": "error", "vocabulary.borrowed": "error",
    "core.concepts": "error", "claims.unsupported": "error", "tone.address": "error",
    "tone.sentence_length": "suggestion", "tone.hype": "error", "role.sells": "error",
    "role.customer_only": "error", "role.prospect": "warning", "call_to_action": "warning", "language": "error",
    "value.drivers": "warning", "ladder.step": "error", "privacy": "error",
}
LEVEL_ORDER = {"off": 0, "suggestion": 1, "warning": 2, "error": 3}


def apply_policy(findings: list[Finding], policy: dict[str, str]) -> list[Finding]:
    """Each finding at its rule's level under the workspace's setting; ``off`` drops the rule."""
    out = []
    for f in findings:
        want = policy.get(f.rule)
        if want is None:
            out.append(f)
            continue
        if want == "off":
            continue
        default = DEFAULT_LEVELS.get(f.rule, f.level)
        if LEVEL_ORDER[f.level] >= LEVEL_ORDER[default]:
            level = want
        else:  # a hint: never raised, lowered with the rule
            level = min(f.level, want, key=LEVEL_ORDER.get)
        out.append(f if level == f.level else f.model_copy(update={"level": level}))
    return out


def context(ws: Workspace, job: Job, parts: dict[str, str]) -> CheckContext:
    return CheckContext(language=job.language, step=job.step, parts=parts, kind=job.kind,
                        channel=ws.channel(job.channel), segment=ws.segment(job.segment), core=ws.core,
                        others=ws.segments, policy=dict(ws.config.checks))


def text_context(body: str, step: int | None, language: str = "auto", segment: Segment | None = None,
                 channel: Channel | None = None, ws: Workspace | None = None) -> CheckContext:
    """A text given to ``ladder check``, as the rules see it. ``language`` "auto": the segment's,
    else the text's own (English when it cannot tell). With a ``channel``, a text that is a JSON
    object of strings gives the channel's parts; plain text is the channel's main part (its
    largest), and the other parts are not asked for. A segment outside the target makes it a
    "not for you" piece, whose target step is 1. ``ws`` gives the core statement, the other
    segments and the workspace's rule levels."""
    if language == "auto":
        language = segment.language if segment else (text.detect_language(body)[0] or "en")
    parts = {"text": body}
    if channel is not None:
        try:
            loaded = json.loads(body)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict) and all(isinstance(v, str) for v in loaded.values()):
            parts = loaded
        else:
            main = max(channel.parts, key=lambda p: (p.max_words or 0, p.max_chars or 0))
            parts = {main.name: body}
            channel = channel.model_copy(update={"parts": [main]})
    kind = "not_for_you" if segment is not None and segment.role == "outside_target" else "ladder"
    if kind == "not_for_you" and step:
        step = 1
    return CheckContext(language=language, step=step, parts=parts, kind=kind, segment=segment, channel=channel,
                        core=ws.core if ws and (segment or channel) else None,
                        others=ws.segments if ws and segment else [], policy=dict(ws.config.checks) if ws else {})


def check(ws: Workspace, job: Job, parts: dict[str, str], rules: list[Rule] = RULES) -> CheckResult:
    return evaluate(context(ws, job, parts), rules)


def score(findings: Iterable[Finding]) -> int:
    """A draft's score: 100 less each finding's penalty by level, never below 0."""
    return max(0, 100 - sum(PENALTY[f.level] for f in findings))


def evaluate(ctx: CheckContext, rules: list[Rule] = RULES) -> CheckResult:
    findings = apply_policy([f for rule in rules for f in rule(ctx)], ctx.policy)
    primary = ctx.reading.primary_step if ctx.body else None
    return CheckResult(passed=not any(f.level == "error" for f in findings), score=score(findings), findings=findings,
                       primary_step=primary)


# --- personal data (issue 13) ------------------------------------------------------------------


def personal_data(ctx: CheckContext) -> Iterable[Finding]:
    """A piece holds no personal data (privacy.py's kinds; of names, full names). The finding names
    the kind and the part, never the datum: no span, so it is not echoed into results, logs or the report."""
    from collections import Counter

    from pipeline.lang import privacy

    keep = [ctx.core.company] if ctx.core else []
    if ctx.segment:
        keep += list(ctx.segment.vocabulary.use) + list(ctx.segment.vocabulary.concepts.values())
    for name, value in ctx.parts.items():
        # a lone first name ("says Maria") is how a piece attributes a customer's voice (a step-5
        # signal); a full name, or any other kind, is personal data in a piece
        found = Counter(h.kind for h in privacy.find(value, ctx.language, keep)
                        if h.kind != "NAME" or " " in value[h.start:h.end].strip())
        if found:
            what = ", ".join(f"{k} ({n})" if n > 1 else k for k, n in sorted(found.items()))
            yield Finding(rule="privacy", level="error", part=name,
                          message=f"personal data in '{name}': {what}",
                          fix="remove it; a piece speaks to a segment, never names or reaches a person")


RULES.append(personal_data)
