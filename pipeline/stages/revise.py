"""Stage 5, revise: a draft that failed its check is first fixed where a fix is safe and needs
no model, then goes back to the model with each remaining finding as a concrete instruction.

Safe fixes, each recorded on the attempt (``Attempt.fixes``):
- an avoided term replaced by the segment's replacement, in the same inflected form
  (``lemma.inflect_like``: generated and verified by Voikko for Finnish); a form that cannot be
  produced safely is recorded as flagged and left to the model and the reviewer;
- a part over its limit trimmed by whole sentences, dropping only sentences that hold none of
  the piece's required elements;
- the channel's call to action filled in or appended when it is missing.

A fix never breaks a piece: every required element (a placeholder such as ``{link}``, the call
to action, each core concept in the segment's words, the segment's own terms) that was in the
draft is in the fixed draft, or the fix is discarded and recorded as such (``lost_elements``).
"""

from __future__ import annotations

from pipeline.lang import lemma, text
from pipeline.model.chat import Chat
from pipeline.stages.check import PLACEHOLDER, _present
from pipeline.stages.draft import ask, messages
from pipeline.workspace.models import Attempt, Channel, Fix, Job, Part, Workspace


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
            keep = [e for e in elements(ws, job, parts) if e(parts[part.name])]
            trimmed = trim(parts[part.name], part, keep)
            fixes.append(Fix(rule="parts.limit", part=part.name, before=parts[part.name], after=trimmed,
                             note="trimmed at a sentence boundary" if trimmed is not None
                             else "no sentence boundary within the limit: left to the revision"))
            parts[part.name] = trimmed if trimmed is not None else parts[part.name]
    if "call_to_action" in rules and cta:
        fixes.append(append_cta(channel, parts, cta))
        parts[fixes[-1].part] = fixes[-1].after or parts[fixes[-1].part]
    lost = lost_elements(ws, job, previous.parts, parts)
    if lost:  # the re-check would find the piece broken: keep the draft as it was
        fixes = [f.model_copy(update={"after": None, "note": f"discarded: the fix removed {', '.join(lost)}"})
                 for f in fixes]
        parts = dict(previous.parts)
    if not any(f.after is not None for f in fixes):
        return None
    return Attempt(n=previous.n + 1, source="fix", parts=parts, fixes=fixes)


def elements(ws: Workspace, job: Job, parts: dict[str, str]) -> list:
    """The piece's required elements, as tests on a text (each with a ``name``): its placeholders,
    the channel's call to action, the core's concepts in the segment's words."""
    out = []
    body = "\n".join(parts.values())
    for ph in dict.fromkeys(PLACEHOLDER.findall(body)):
        out.append(_named(lambda v, ph=ph: ph in v, ph))
    cta = ws.channel(job.channel).call_to_action.get(job.language)
    if cta and text.find_term(body, cta, job.language):
        out.append(_named(lambda v: bool(text.find_term(v, cta, job.language)), f"the call to action '{cta}'"))
    if job.kind != "not_for_you":
        for term in ws.segment(job.segment).vocabulary.concepts.values():
            def has(v: str, term: str = term) -> bool:
                return _present(text.tokens(v), [text.tokens(s) for s in text.sentences(v)], term, job.language)
            out.append(_named(has, f"the concept '{term}'"))
    return out


def _named(test, name: str):
    test.name = name
    return test


def lost_elements(ws: Workspace, job: Job, before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The required elements ``before`` has and ``after`` does not."""
    a, b = "\n\n".join(before.values()), "\n\n".join(after.values())
    return [e.name for e in elements(ws, job, before) if e(a) and not e(b)]


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


def trim(value: str, part: Part, keep: list | None = None) -> str | None:
    """Whole sentences within the part's limits: sentences are dropped from the end, but never
    one that holds a required element (``keep``: tests on a text); None if it cannot fit."""
    keep = keep or []
    sentences = [value[a:b] for a, b in text.sentence_spans(value)]
    must = [any(e(s) for e in keep) for s in sentences]
    kept = list(range(len(sentences)))
    for i in reversed(range(len(sentences))):
        candidate = "".join(sentences[j] for j in kept).strip()
        if fits(candidate, part) and len(kept) < len(sentences):
            break
        if not must[i] and len(kept) > 1:
            kept.remove(i)
    result = "".join(sentences[j] for j in kept).strip()
    if not fits(result, part) or len(kept) == len(sentences):
        return None
    return result


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
