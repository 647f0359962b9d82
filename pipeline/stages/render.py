"""Stage 6, render: the channel's layout template turns the parts into the finished piece."""

from __future__ import annotations

from pipeline.workspace import templating
from pipeline.workspace.models import Job, Workspace

SUFFIX = {"markdown": ".md", "text": ".txt"}


def render(ws: Workspace, job: Job, parts: dict[str, str]) -> str:
    channel = ws.channel(job.channel)
    env = templating.layout_env(ws.root)
    filled = {p.name: parts.get(p.name, "") for p in channel.parts}
    text = templating.render(env, channel.template, {
        "parts": filled,
        "segment": ws.segment(job.segment),
        "channel": channel,
        "core": ws.core,
        "job": job,
        "step": ws.ladder[job.step],
    })
    return text.strip() + "\n"


def suffix(ws: Workspace, job: Job) -> str:
    return SUFFIX[ws.channel(job.channel).format]
