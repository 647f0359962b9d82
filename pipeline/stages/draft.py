"""Stage 3, draft: render the prompts for a job and ask the model for the channel's parts.

The parts come back as structured output: a pydantic model made from the channel's parts,
whose JSON schema goes to the endpoint where it supports one.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from pipeline.model.chat import Chat, InvalidReply
from pipeline.workspace import templating
from pipeline.workspace.models import Attempt, Channel, Finding, Job, Workspace


def parts_model(channel: Channel) -> type[BaseModel]:
    """The structured output for a channel: one string field per part (built once per channel)."""
    return _parts_model(channel.model_dump_json())


@lru_cache(maxsize=256)
def _parts_model(channel_json: str) -> type[BaseModel]:
    channel = Channel.model_validate_json(channel_json)
    fields: dict[str, Any] = {}
    for p in channel.parts:
        limit = f" At most {p.max_chars} characters." if p.max_chars else ""
        limit += f" At most {p.max_words} words." if p.max_words else ""
        # maxLength lets endpoints that constrain decoding (llama.cpp) keep to the limit;
        # the check enforces it for every endpoint.
        fields[p.name] = (str, Field(description=(p.description + limit).strip(),
                                          json_schema_extra={"maxLength": p.max_chars} if p.max_chars else None))
    return create_model(f"{channel.id.title().replace('_', '').replace('-', '')}Parts",
                        __config__=ConfigDict(extra="ignore"), **fields)


def max_tokens(channel: Channel) -> int:
    """A reply budget from the channel's limits: at worst about 2 characters a token, plus JSON."""
    chars = sum(p.max_chars or (p.max_words or 60) * 8 for p in channel.parts)
    return max(128, min(4096, chars // 2 + 16 * len(channel.parts) + 16))


def prompt_context(
    ws: Workspace, job: Job, findings: list[Finding] | None = None, previous: dict[str, str] | None = None
) -> dict[str, Any]:
    seg, ch, lang = ws.segment(job.segment), ws.channel(job.channel), job.language
    core = ws.core
    return dict(templating.PromptContext(
        core=core,
        segment=seg,
        channel=ch,
        job=job,
        step=ws.ladder[job.step],
        ladder=ws.ladder,
        lang=lang,
        company=core.company,
        offer=core.offer[lang],
        core_sentence=core.core[lang],
        differentiators=core.differentiators.get(lang, []),
        proof_points=[{"id": p.id, "claim": p.text(lang)} for p in core.proof_points],
        concepts=[{"id": k.id, "name": k.name, "term": seg.vocabulary.concepts.get(k.id, k.name)}
                  for k in core.key_concepts],
        call_to_action=ch.call_to_action.get(lang, ""),
        findings=findings or [],
        previous=previous or {},
    ))


def messages(ws: Workspace, job: Job, prompt: str, **extra: Any) -> list[dict[str, str]]:
    env = templating.prompt_env(ws.root)
    ctx = prompt_context(ws, job, **extra)
    return [
        {"role": "system", "content": templating.render(env, f"{job.language}/system.j2", ctx).strip()},
        {"role": "user", "content": templating.render(env, f"{job.language}/{prompt}", ctx).strip()},
    ]


def ask(ws: Workspace, job: Job, chat: Chat, msgs: list[dict[str, str]], n: int) -> Attempt:
    channel = ws.channel(job.channel)
    started = time.perf_counter()
    try:
        parts, usage, calls = chat.structured(msgs, parts_model(channel), max_tokens(channel))
    except InvalidReply as e:
        return Attempt(n=n, parts={}, usage=e.usage, model_calls=e.calls,
                       seconds=time.perf_counter() - started, error=str(e))
    clean = {k: v.strip() for k, v in parts.model_dump().items()}
    return Attempt(n=n, parts=clean, usage=usage, model_calls=calls, seconds=time.perf_counter() - started)


def draft(ws: Workspace, job: Job, chat: Chat) -> Attempt:
    return ask(ws, job, chat, messages(ws, job, "draft.j2"), n=1)
