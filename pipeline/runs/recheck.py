"""A run's drafts checked again with today's rules and levels, each in its job's whole context."""

from __future__ import annotations

from pydantic import BaseModel

from pipeline.runs.artifacts import Draft, Run
from pipeline.stages.check import context, evaluate
from pipeline.workspace.models import CheckResult, Workspace


class Recheck(BaseModel):
    """A run's draft checked again with today's rules and its job's whole context."""

    draft: Draft
    result: CheckResult | None = None  # None: nothing to check (no draft, or its job is gone)
    note: str | None = None

    @property
    def changed(self) -> bool:
        return self.result is not None and (self.result.passed != self.draft.passed
                                            or self.result.score != self.draft.score)


def recheck(ws: Workspace, run: Run) -> list[Recheck]:
    """Every chosen draft of ``run`` checked again in its job's context (segment, channel,
    core statement, the workspace's levels): what changing the rules or the levels does to
    drafts already made. No model is called."""
    segments, channels = {s.id for s in ws.segments}, {c.id for c in ws.channels}
    out = []
    for d in run.drafts:
        if d.chosen is None or not d.parts:
            out.append(Recheck(draft=d, note=f"no draft to check ({d.status})"))
        elif d.job.segment not in segments or d.job.channel not in channels:
            out.append(Recheck(draft=d, note="its segment or channel is no longer in the workspace"))
        else:
            out.append(Recheck(draft=d, result=evaluate(context(ws, d.job, d.parts))))
    return out
