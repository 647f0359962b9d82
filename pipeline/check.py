"""Stage 4, check: deterministic rules on a draft's parts, Vale-style.

Each rule is a function ``(CheckContext) -> Iterable[Finding]``; a finding has the rule's name,
a level, a message, the matched span and the concrete instruction a revision follows (``fix``).
Errors gate the verdict; warnings and suggestions only lower the score. What the rules look
for, word lists and patterns per language, is declared in ``check_rules.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from . import lemma, reader, text
from .classify import STEP_KEYS, StepReading, classify
from .models import Channel, CheckResult, CoreStatement, Finding, Job, Segment, Workspace

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


@lru_cache(maxsize=1)
def lexicon() -> dict[str, dict[str, dict]]:
    data = yaml.safe_load((Path(__file__).parent / "check_rules.yaml").read_text(encoding="utf-8"))
    for entries in data.values():
        for entry in entries.values():
            for key in ("pattern", "not"):
                if key in entry:
                    entry[key] = re.compile(entry[key], re.I)
            entry["lemmas"] = frozenset(entry.get("lemmas", []))
    return data


def matches(value: str, language: str, name: str) -> list[tuple[int, int]]:
    """Spans of a ``check_rules.yaml`` entry: its pattern, its base forms, its Voikko feature."""
    entry = lexicon().get(language, {}).get(name)
    if entry is None:
        return []
    spans = [m.span() for m in entry["pattern"].finditer(value)] if "pattern" in entry else []
    if entry["lemmas"] or "feature" in entry:
        for t in text.tokens(value):
            if (lemma.lemmas(t.text, language, heads=True) & entry["lemmas"]
                    or entry.get("feature") in lemma.features(t.text, language)):
                spans.append((t.start, t.end))
    if "not" in entry:
        spans = [(a, b) for a, b in spans if not entry["not"].fullmatch(value[a:b])]
    return sorted(set(spans))


def _present(toks: Sequence[text.Token], sentences: list[Sequence[text.Token]], term: str, language: str) -> bool:
    """The term as a phrase, or all its content words within one sentence ("huolto kuuluu
    palveluun" is carried by "palveluun kuuluu myös huolto")."""
    if text.find_term_in(toks, term, language):
        return True
    words = [w for w in text.tokens(term) if w.lower not in text.FUNCTION_WORDS.get(language, ()) and len(w.text) > 2]
    return bool(words) and any(all(text.find_term_in(s, w.text, language) for w in words) for s in sentences)


def core_concepts(ctx: CheckContext) -> Iterable[Finding]:
    """Every key concept of the core statement, said in the segment's own term for it."""
    if ctx.segment is None or ctx.core is None or ctx.kind == "not_for_you":
        return
    sentences = [text.tokens(s) for s in text.sentences(ctx.body)]
    for concept in ctx.core.key_concepts:
        term = ctx.segment.vocabulary.concepts.get(concept.id)
        if term and not _present(ctx.body_tokens, sentences, term, ctx.language):
            yield Finding(rule="core.concepts", level="warning",
                          message=f"does not carry the core's '{concept.name}' in this segment's words ('{term}')",
                          fix=f"carry the core's '{concept.name}', in their words: '{term}'")


def borrowed_voice(ctx: CheckContext) -> Iterable[Finding]:
    """Another segment's own terms in this segment's piece, unless the words are shared:
    in this segment's definition or the core statement."""
    if ctx.segment is None:
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
        yield Finding(rule="vocabulary.borrowed", level="warning", span=ctx.body[start:end],
                      message=f"'{ctx.body[start:end]}' is {other.name}'s word, not this segment's",
                      fix=f"replace '{ctx.body[start:end]}' with this segment's own words "
                          f"({', '.join(seg.vocabulary.use[:4])})")


NUMBER = re.compile(r"(?<![\w])\d+(?:[.,]\d+)?")


def _number(found: str) -> str:
    return found.replace(",", ".")  # 4,6 and 4.6 are one figure


def claims(ctx: CheckContext) -> Iterable[Finding]:
    """Every number, guarantee and superlative must trace to the core statement (its proof
    points, differentiators and sentence); an invented figure or promise is an error."""
    if ctx.core is None:
        return
    lang, support = ctx.language, ctx.support
    known = {_number(m.group()) for m in NUMBER.finditer(support)}
    guarantees_given = bool(matches(support, lang, "guarantee"))
    proof = "; ".join(f"{p.id}: {p.text(lang)}" for p in ctx.core.proof_points)
    use_proof = f"use only the facts of the proof points ({proof})" if proof else "remove it: the core has no proof points"
    support_lemmas = {b for t in text.tokens(support) for b in lemma.lemmas(t.text, lang, heads=True)}
    for name, (value, _) in ctx.part_tokens.items():
        for m in NUMBER.finditer(value):
            if _number(m.group()) not in known:
                yield Finding(rule="claims.unsupported", level="error", part=name, span=m.group(),
                              message=f"the figure '{m.group()}' traces to no proof point of the core statement",
                              fix=f"remove the figure '{m.group()}' or {use_proof}")
        if not guarantees_given:
            for a, b in matches(value, lang, "guarantee")[:1]:
                yield Finding(rule="claims.unsupported", level="error", part=name, span=value[a:b],
                              message=f"'{value[a:b]}' promises a guarantee the core statement does not give",
                              fix=f"remove the promise '{value[a:b]}'")
        for a, b in matches(value, lang, "superlative"):
            words = text.tokens(value[a:b])
            if words and not lemma.lemmas(words[-1].text, lang, heads=True) & support_lemmas:
                yield Finding(rule="claims.unsupported", level="warning", part=name, span=value[a:b],
                              message=f"the superlative '{value[a:b]}' traces to no proof point or differentiator",
                              fix=f"drop '{value[a:b]}' or back it with a differentiator of the core statement")


ADDRESS_TAGS = {"you": "2", "sinä": "2sg", "te": "2pl"}
EN_YOU = frozenset({"you", "your", "yours", "yourself", "you're", "you'll", "you've"})
EN_WE = frozenset({"we", "our", "ours", "us", "we're", "we'll", "we've"})
SENTENCE_WORDS = {"en": {"short": 12, "medium": 20, "long": 28}, "fi": {"short": 8, "medium": 13, "long": 19}}
HYPE_ALLOWED = {"calm": 0, "steady": 1, "lively": 2}


def _persons(toks: Sequence[text.Token], language: str) -> dict[str, Sequence[text.Token]]:
    out: dict[str, Sequence[text.Token]] = {"2sg": [], "2pl": [], "2": [], "1pl": []}
    for t in toks:
        if language == "en":
            word = t.lower.replace("’", "'")
            out["2"] += [t] if word in EN_YOU else []
            out["1pl"] += [t] if word in EN_WE else []
        else:
            tags = lemma.features(t.text, language)
            for tag in ("2sg", "2pl", "1pl"):
                out[tag] += [t] if tag in tags else []
            out["2"] += [t] if tags & {"2sg", "2pl"} else []
    return out


def tone(ctx: CheckContext) -> Iterable[Finding]:
    """The segment's tone: how the reader is addressed (you; sinä or te), talk of us against
    talk of the reader, sentence length, and exclamations and hype against the tone's energy."""
    if ctx.segment is None or not ctx.body:
        return
    want, lang = ctx.segment.tone, ctx.language
    toks = ctx.body_tokens
    persons = _persons(toks, lang)
    if lang == "fi":
        other = "sinä" if want.address == "te" else "te"
        wrong, right = persons[ADDRESS_TAGS[other]], persons[ADDRESS_TAGS[want.address]]
        if len(wrong) > len(right):
            yield Finding(rule="tone.address", level="warning", span=wrong[0].text,
                          message=f"addresses the reader as '{other}' ('{wrong[0].text}'); this segment is addressed as '{want.address}'",
                          fix=f"address the reader as '{want.address}' throughout, not '{other}'")
    if ctx.kind != "not_for_you" and len(toks) >= 12:
        you, we = len(persons["2"]), len(persons["1pl"])
        if you == 0:
            yield Finding(rule="tone.address", level="suggestion", message="never speaks to the reader",
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
        yield Finding(rule="tone.hype", level="warning", span=hype[0],
                      message=f"{len(hype)} hype word(s) ({', '.join(hype[:3])}) in a {want.energy} tone",
                      fix=f"remove the hype ({', '.join(hype[:3])}): say what the reader gets instead")
    if bangs > allowed + (len(sentences) // 3 if want.energy == "lively" else 0):
        yield Finding(rule="tone.hype", level="suggestion", span="!",
                      message=f"{bangs} exclamation mark(s) in a {want.energy} tone",
                      fix="end sentences with full stops, not exclamation marks")


def roles(ctx: CheckContext) -> Iterable[Finding]:
    """A piece for a group outside the target must not sell; customer-only content (proof,
    referral and loyalty) does not go to prospects."""
    seg = ctx.segment
    if ctx.kind == "not_for_you" or (seg is not None and seg.role == "outside_target"):
        for a, b in matches(ctx.body, ctx.language, "selling")[:1]:
            yield Finding(rule="role.sells", level="error", span=ctx.body[a:b],
                          message=f"sells ('{ctx.body[a:b]}') to a group the offer is not for",
                          fix="do not sell: say kindly and plainly who the offer is for, with no offer, price or call to buy")
    if seg is None or seg.role != "prospect":
        return
    if ctx.channel is not None and ctx.channel.purpose == "customer_experience":
        yield Finding(rule="role.customer_only", level="error",
                      message=f"'{ctx.channel.id}' is a customer-experience channel; this segment is a prospect")
    signals = set(ctx.reading.signals[5])
    if signals & {"referral", "loyalty"}:
        yield Finding(rule="role.customer_only", level="warning", span=(ctx.reading.evidence[5] or [None])[0],
                      message="thanks, loyalty or referral talk aimed at a prospect, who is not a customer yet",
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
    fail a draft: an error only when the reader is confident the draft reads below its target
    (``reader.gate``; threshold picked on cross-validated figures, see bench/ladder_accuracy.py);
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
        level = reader.gate(reading.probabilities, target)
        below = sum(p for s, p in reading.probabilities.items() if s < target)
        sure = f" ({below:.0%} sure it reads below step {target})"
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


RULES: list[Rule] = [required_parts, part_limits, avoided_terms, own_terms, borrowed_voice, core_concepts, claims,
                     tone, roles, call_to_action, language_matches, ladder_step]


def context(ws: Workspace, job: Job, parts: dict[str, str]) -> CheckContext:
    return CheckContext(language=job.language, step=job.step, parts=parts, kind=job.kind,
                        channel=ws.channel(job.channel), segment=ws.segment(job.segment), core=ws.core,
                        others=ws.segments)


def check(ws: Workspace, job: Job, parts: dict[str, str], rules: list[Rule] = RULES) -> CheckResult:
    return evaluate(context(ws, job, parts), rules)


def evaluate(ctx: CheckContext, rules: list[Rule] = RULES) -> CheckResult:
    findings = [f for rule in rules for f in rule(ctx)]
    score = max(0, 100 - sum(PENALTY[f.level] for f in findings))
    primary = ctx.reading.primary_step if ctx.body else None
    return CheckResult(passed=not any(f.level == "error" for f in findings), score=score, findings=findings,
                       primary_step=primary)
