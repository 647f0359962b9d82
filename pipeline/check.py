"""Stage 4, check: deterministic rules on a draft's parts, Vale-style.

Each rule has a name, a level and a message, and returns findings with the matched span.
Errors gate the verdict; warnings and suggestions only lower the score.

The rules are a list (``RULES``): the ladder-step judgement and further segment-aware rules
join it as functions of the same shape, ``(CheckContext) -> Iterable[Finding]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import text
from .models import Channel, CheckResult, Finding, Job, Segment, Workspace

PENALTY = {"error": 25, "warning": 10, "suggestion": 3}


@dataclass(frozen=True)
class CheckContext:
    ws: Workspace
    job: Job
    segment: Segment
    channel: Channel
    parts: dict[str, str]

    @property
    def body(self) -> str:
        """All parts as one text, in the channel's order."""
        return "\n\n".join(self.parts.get(p.name, "") for p in self.channel.parts if self.parts.get(p.name))


Rule = Callable[[CheckContext], Iterable[Finding]]


def required_parts(ctx: CheckContext) -> Iterable[Finding]:
    for part in ctx.channel.parts:
        if part.required and not ctx.parts.get(part.name, "").strip():
            yield Finding(rule="parts.required", level="error", part=part.name,
                          message=f"the required part '{part.name}' is missing or empty")


def part_limits(ctx: CheckContext) -> Iterable[Finding]:
    for part in ctx.channel.parts:
        value = ctx.parts.get(part.name, "")
        if part.max_chars and len(value) > part.max_chars:
            yield Finding(rule="parts.limit", level="error", part=part.name, span=value[part.max_chars:][:80],
                          message=f"'{part.name}' has {len(value)} characters; the limit is {part.max_chars}")
        words = len(text.tokens(value))
        if part.max_words and words > part.max_words:
            yield Finding(rule="parts.limit", level="error", part=part.name,
                          message=f"'{part.name}' has {words} words; the limit is {part.max_words}")


def avoided_terms(ctx: CheckContext) -> Iterable[Finding]:
    for avoid in ctx.segment.vocabulary.avoid:
        for name, value in ctx.parts.items():
            for start, end in text.find_term(value, avoid.term, ctx.job.language):
                yield Finding(rule="vocabulary.avoid", level="error", part=name, span=value[start:end],
                              message=f"'{value[start:end]}' is a term this segment avoids: use '{avoid.replacement}'")


def own_terms(ctx: CheckContext) -> Iterable[Finding]:
    if ctx.job.kind == "not_for_you":
        return
    terms = ctx.segment.vocabulary.use
    used = [t for t in terms if text.find_term(ctx.body, t, ctx.job.language)]
    if not used:
        yield Finding(rule="vocabulary.own", level="error",
                      message=f"uses none of the segment's own terms ({', '.join(terms)})")
    elif len(used) < min(2, len(terms)):
        missing = [t for t in terms if t not in used]
        yield Finding(rule="vocabulary.own", level="suggestion",
                      message=f"uses {len(used)} of the segment's terms; also fits: {', '.join(missing[:3])}")


def language_matches(ctx: CheckContext) -> Iterable[Finding]:
    lang, confidence = text.detect_language(ctx.body)
    if lang is not None and lang != ctx.job.language and confidence >= 0.6:
        yield Finding(rule="language", level="error",
                      message=f"the draft reads as '{lang}' ({confidence:.0%} of signals); the segment's language is '{ctx.job.language}'")


RULES: list[Rule] = [required_parts, part_limits, avoided_terms, own_terms, language_matches]


def check(ws: Workspace, job: Job, parts: dict[str, str], rules: list[Rule] = RULES) -> CheckResult:
    ctx = CheckContext(ws, job, ws.segment(job.segment), ws.channel(job.channel), parts)
    findings = [f for rule in rules for f in rule(ctx)]
    score = max(0, 100 - sum(PENALTY[f.level] for f in findings))
    return CheckResult(passed=not any(f.level == "error" for f in findings), score=score, findings=findings)
