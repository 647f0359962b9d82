"""Stage 5, revise: a draft that failed its check is first fixed where a fix is safe and needs
no model, then goes back to the model with each remaining finding as a concrete instruction.

Safe fixes, each recorded on the attempt (``Attempt.fixes``):
- an avoided term replaced by the segment's replacement, in the same inflected form
  (``lemma.inflect_like``: generated and verified by Voikko for Finnish); a form that cannot be
  produced safely is recorded as flagged and left to the model and the reviewer;
- a part over its limit trimmed at the last sentence boundary that fits;
- the channel's call to action filled in or appended when it is missing.
"""

from __future__ import annotations

import re

from . import lemma, text
from .draft import ask, messages
from .llm import Chat
from .models import Attempt, Channel, Fix, Job, Part, Workspace

SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")


def revise(ws: Workspace, job: Job, chat: Chat, previous: Attempt) -> Attempt:
    """One model revision round: the previous parts and every finding on them, as instructions."""
    findings = previous.check.findings if previous.check else []
    msgs = messages(ws, job, "revise.j2", findings=findings, previous=previous.parts)
    return ask(ws, job, chat, msgs, n=previous.n + 1).model_copy(update={"source": "revision"})


def fix(ws: Workspace, job: Job, previous: Attempt) -> Attempt | None:
    """The safe deterministic fixes for a checked attempt's findings, as a new attempt; None when
    no fix applies."""
    findings = previous.check.findings if previous.check else []
    rules = {f.rule for f in findings}
    channel, segment = ws.channel(job.channel), ws.segment(job.segment)
    parts, fixes = dict(previous.parts), []
    if "vocabulary.avoid" in rules:
        for avoid in segment.vocabulary.avoid:
            for name in parts:
                parts[name], made = replace_term(parts[name], avoid.term, avoid.replacement, job.language)
                fixes += [f.model_copy(update={"part": name}) for f in made]
    cta = channel.call_to_action.get(job.language)
    for f in findings:
        if f.rule == "parts.required" and f.part == "call_to_action" and cta:
            fixes.append(Fix(rule=f.rule, part=f.part, before=parts.get(f.part, ""), after=cta,
                             note="the channel's call to action"))
            parts[f.part] = cta
    for part in channel.parts:
        if any(f.rule == "parts.limit" and f.part == part.name for f in findings):
            trimmed = trim(parts[part.name], part)
            fixes.append(Fix(rule="parts.limit", part=part.name, before=parts[part.name], after=trimmed,
                             note="trimmed at a sentence boundary" if trimmed is not None
                             else "no sentence boundary within the limit: left to the revision"))
            parts[part.name] = trimmed if trimmed is not None else parts[part.name]
    if "call_to_action" in rules and cta:
        fixes.append(append_cta(channel, parts, cta))
        parts[fixes[-1].part] = fixes[-1].after or parts[fixes[-1].part]
    if not any(f.after is not None for f in fixes):
        return None
    return Attempt(n=previous.n + 1, source="fix", parts=parts, fixes=fixes)


def replace_term(value: str, term: str, replacement: str, language: str) -> tuple[str, list[Fix]]:
    """Every occurrence of ``term`` (any inflected form) replaced by ``replacement`` in the same form."""
    fixes = []
    for start, end in reversed(text.find_term(value, term, language)):
        found = value[start:end]
        after = lemma.inflect_like(found, term, replacement, language)
        fixes.append(Fix(rule="vocabulary.avoid", part="", before=found, after=after,
                         note="" if after is not None else f"needs a human: '{found}' as a form of '{replacement}'"))
        if after is not None:
            value = value[:start] + after + value[end:]
    return value, fixes[::-1]


def trim(value: str, part: Part) -> str | None:
    """The longest run of whole sentences within the part's limits; None if not even one fits."""
    best = None
    for m in SENTENCE_END.finditer(value):
        head = value[: m.end()]
        if fits(head, part):
            best = head
    return best


def fits(value: str, part: Part) -> bool:
    return (not part.max_chars or len(value) <= part.max_chars) and (
        not part.max_words or len(text.tokens(value)) <= part.max_words)


def append_cta(channel: Channel, parts: dict[str, str], cta: str) -> Fix:
    """The call to action as the last sentence of the last filled part, if it fits there."""
    part = next((p for p in reversed(channel.parts) if parts.get(p.name, "").strip()), channel.parts[-1])
    before = parts.get(part.name, "")
    sep = "\n\n" if channel.format == "markdown" and "\n" in before else " "
    after = f"{before.rstrip()}{sep}{cta}".strip()
    if not fits(after, part):
        return Fix(rule="call_to_action", part=part.name, before=before, after=None,
                   note=f"the call to action does not fit within '{part.name}''s limit: left to the revision")
    return Fix(rule="call_to_action", part=part.name, before=before, after=after, note="appended the channel's call to action")
