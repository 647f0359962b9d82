"""Stage 4, check: deterministic rules on a draft's parts, Vale-style.

Each rule has a name, a level and a message, and returns findings with the matched span.
Errors gate the verdict; warnings and suggestions only lower the score.

The rules are a list (``RULES``): the ladder-step judgement and further segment-aware rules
join it as functions of the same shape, ``(CheckContext) -> Iterable[Finding]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from functools import cached_property

from . import text
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

    @cached_property
    def body(self) -> str:
        """All parts as one text, in the channel's order."""
        names = [p.name for p in self.channel.parts] if self.channel else list(self.parts)
        return "\n\n".join(self.parts[n] for n in names if self.parts.get(n))

    @cached_property
    def part_tokens(self) -> dict[str, tuple[str, list[text.Token]]]:
        """Each part with its tokens, tokenised once for every term rule."""
        return {name: (value, text.tokens(value)) for name, value in self.parts.items()}

    @cached_property
    def reading(self) -> StepReading:
        return classify(self.body, self.language)


Rule = Callable[[CheckContext], Iterable[Finding]]


def required_parts(ctx: CheckContext) -> Iterable[Finding]:
    for part in ctx.channel.parts if ctx.channel else []:
        if part.required and not ctx.parts.get(part.name, "").strip():
            yield Finding(rule="parts.required", level="error", part=part.name,
                          message=f"the required part '{part.name}' is missing or empty")


def part_limits(ctx: CheckContext) -> Iterable[Finding]:
    for part in ctx.channel.parts if ctx.channel else []:
        value = ctx.parts.get(part.name, "")
        if part.max_chars and len(value) > part.max_chars:
            yield Finding(rule="parts.limit", level="error", part=part.name, span=value[part.max_chars:][:80],
                          message=f"'{part.name}' has {len(value)} characters; the limit is {part.max_chars}")
        words = len(text.tokens(value))
        if part.max_words and words > part.max_words:
            yield Finding(rule="parts.limit", level="error", part=part.name,
                          message=f"'{part.name}' has {words} words; the limit is {part.max_words}")


def avoided_terms(ctx: CheckContext) -> Iterable[Finding]:
    for avoid in ctx.segment.vocabulary.avoid if ctx.segment else []:
        for name, (value, toks) in ctx.part_tokens.items():
            for start, end in text.find_term_in(toks, avoid.term, ctx.language):
                yield Finding(rule="vocabulary.avoid", level="error", part=name, span=value[start:end],
                              message=f"'{value[start:end]}' is a term this segment avoids: use '{avoid.replacement}'")


def own_terms(ctx: CheckContext) -> Iterable[Finding]:
    if ctx.kind == "not_for_you" or ctx.segment is None:
        return
    terms = ctx.segment.vocabulary.use
    body = text.tokens(ctx.body)
    used = [t for t in terms if text.find_term_in(body, t, ctx.language)]
    if not used:
        yield Finding(rule="vocabulary.own", level="error",
                      message=f"uses none of the segment's own terms ({', '.join(terms)})")
    elif len(used) < min(2, len(terms)):
        missing = [t for t in terms if t not in used]
        yield Finding(rule="vocabulary.own", level="suggestion",
                      message=f"uses {len(used)} of the segment's terms; also fits: {', '.join(missing[:3])}")


def language_matches(ctx: CheckContext) -> Iterable[Finding]:
    lang, confidence = text.detect_language(ctx.body)
    if lang is not None and lang != ctx.language and confidence >= 0.6:
        yield Finding(rule="language", level="error",
                      message=f"the draft reads as '{lang}' ({confidence:.0%} of signals); its language should be '{ctx.language}'")


STEP_HINTS = {
    1: "say plainly what is on offer and that it is available",
    2: "show the outcome for the reader: what they get, save or stop doing",
    3: "name the reader's group and a need or a timely trigger (deadline, season, rule), or ask a diagnostic question",
    4: "set the offer against the reader's alternatives: unlike, the only, instead of, and why that matters to them",
    5: "show the promise kept: a customer's voice, an attributed result, a guarantee, or an invitation to recommend",
}
STEP_FLOOR = 50  # the target step's strength (0–100) a draft needs to count as doing its work


def ladder_step(ctx: CheckContext) -> Iterable[Finding]:
    """Does the draft do the work of its target step? Read by ``classify``, with its evidence."""
    if ctx.step is None or ctx.kind == "not_for_you" or not ctx.body:
        return
    reading, target = ctx.reading, ctx.step
    primary = reading.primary_step
    name = STEP_KEYS[target]
    if reading.strength(target) < STEP_FLOOR:
        yield Finding(rule="ladder.step", level="error",
                      message=f"does not do the work of step {target} ({name}): {STEP_HINTS[target]}"
                      + (f"; it reads as step {primary} ({STEP_KEYS[primary]})" if primary != target else ""))
    elif primary > target + 1:
        yield Finding(rule="ladder.step", level="warning", span=(reading.evidence[primary] or [None])[0],
                      message=f"reads as step {primary} ({STEP_KEYS[primary]}), beyond its target step {target} ({name})")
    elif primary < target:
        yield Finding(rule="ladder.step", level="suggestion",
                      message=f"reads mostly as step {primary} ({STEP_KEYS[primary]}); make step {target} carry it: {STEP_HINTS[target]}")
    if ctx.segment is not None and ctx.segment.role == "prospect" and primary == 5 and target < 5:
        yield Finding(rule="role.prospect", level="warning", span=(reading.evidence[5] or [None])[0],
                      message="customer-delivery content (proof of a promise kept) aimed at a prospect")


RULES: list[Rule] = [required_parts, part_limits, avoided_terms, own_terms, language_matches, ladder_step]


def context(ws: Workspace, job: Job, parts: dict[str, str]) -> CheckContext:
    return CheckContext(language=job.language, step=job.step, parts=parts, kind=job.kind,
                        channel=ws.channel(job.channel), segment=ws.segment(job.segment), core=ws.core)


def check(ws: Workspace, job: Job, parts: dict[str, str], rules: list[Rule] = RULES) -> CheckResult:
    return evaluate(context(ws, job, parts), rules)


def evaluate(ctx: CheckContext, rules: list[Rule] = RULES) -> CheckResult:
    findings = [f for rule in rules for f in rule(ctx)]
    score = max(0, 100 - sum(PENALTY[f.level] for f in findings))
    return CheckResult(passed=not any(f.level == "error" for f in findings), score=score, findings=findings)
