"""Stage 2, plan: the segment × channel matrix as jobs, each aimed at a ladder step.

Role rules (DOMAIN.md §2): customer-experience channels reach only customers; a segment outside
the target group gets only a short, honest brand message that the offer is not for them.
"""

from __future__ import annotations

from pipeline.errors import InvalidWorkspace, Problem
from pipeline.workspace.models import Job, Plan, Skipped, Workspace


def plan(ws: Workspace) -> Plan:
    jobs: list[Job] = []
    skipped: list[Skipped] = []
    for seg in sorted(ws.segments, key=lambda s: (s.priority, s.id)):
        for ch in ws.channels:
            if seg.channels is not None and ch.id not in seg.channels:
                continue
            skip = None
            kind = "ladder"
            step = seg.step
            if seg.role not in ch.roles:
                skip = f"channel serves {', '.join(ch.roles)}; segment is {seg.role}"
            elif seg.role == "outside_target":
                if ch.purpose != "brand":
                    skip = "outside the target group: brand channels only"
                kind, step = "not_for_you", 1
            elif step not in ch.steps:
                skip = f"channel serves steps {', '.join(map(str, ch.steps))}; segment's target step is {step}"
            if skip:
                skipped.append(Skipped(segment=seg.id, channel=ch.id, reason=skip))
                continue
            jobs.append(
                Job(
                    id=f"{ws.config.campaign}.{seg.id}.{ch.id}",
                    segment=seg.id,
                    channel=ch.id,
                    language=seg.language,
                    step=step,
                    kind=kind,
                )
            )
    return Plan(jobs=jobs, skipped=skipped)


def only(plan: Plan, segments: tuple[str, ...] = (), channels: tuple[str, ...] = ()) -> Plan:
    """The plan's jobs for these segments and channels (none given: all of them); a name the
    workspace does not have is an InvalidWorkspace naming every such name."""
    known_s = {j.segment for j in plan.jobs} | {s.segment for s in plan.skipped}
    known_c = {j.channel for j in plan.jobs} | {s.channel for s in plan.skipped}
    problems = [Problem("--segment", None, "", f"unknown segment '{s}'") for s in segments if s not in known_s]
    problems += [Problem("--channel", None, "", f"unknown channel '{c}'") for c in channels if c not in known_c]
    if problems:
        raise InvalidWorkspace(problems)
    jobs = [j for j in plan.jobs if (not segments or j.segment in segments) and (not channels or j.channel in channels)]
    return plan.model_copy(update={"jobs": jobs})
