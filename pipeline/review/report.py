"""The reviewer's report: one self-contained HTML file per run (no CDN, no external file; it
works from disk or a static host). Per channel, the segments' variants side by side; in each,
the piece with the segment's own terms, avoided terms and unsupported claims marked, target and
primary step, score, verdict, findings, revisions and the reviewer's decision; the run's metrics
in the header; filters by segment, channel, language, verdict and decision (kept in the URL's
fragment, so a filtered view can be shared as a link).

Every piece of model output is escaped: it is text, never markup.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from pipeline.lang import text
from pipeline.review.decisions import Decision
from pipeline.runs.artifacts import Draft, Run
from pipeline.runs.metrics import compute
from pipeline.stages.check import value_types
from pipeline.workspace.models import Workspace

MARKS = ("avoid", "claim", "own")  # where marks overlap, the first wins


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["pct"] = lambda v: "–" if v is None else f"{v * 100:.0f} %"
    return env


def spans(draft: Draft, ws: Workspace | None) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, note) over the rendered piece: own terms, avoided terms, unsupported claims."""
    body, lang = draft.text or "", draft.job.language
    found: list[tuple[int, int, str, str]] = []
    seg = next((s for s in ws.segments if s.id == draft.job.segment), None) if ws else None
    if seg is not None:
        for term in seg.vocabulary.use:
            found += [(a, b, "own", f"the segment's own term: {term}") for a, b in text.find_term(body, term, lang)]
        for avoid in seg.vocabulary.avoid:
            found += [(a, b, "avoid", f"avoided term; use: {avoid.replacement}")
                      for a, b in text.find_term(body, avoid.term, lang)]
    for f in draft.findings:
        if f.span and f.rule in ("claims.unsupported", "vocabulary.avoid", "vocabulary.borrowed"):
            kind = "claim" if f.rule == "claims.unsupported" else "avoid"
            start = body.find(f.span)
            while start >= 0:
                found.append((start, start + len(f.span), kind, f.message))
                start = body.find(f.span, start + 1)
    return found


def highlight(body: str, marks: list[tuple[int, int, str, str]]) -> Markup:
    """``body`` escaped, with non-overlapping <mark> elements (the stronger kind wins)."""
    chosen: list[tuple[int, int, str, str]] = []
    for a, b, kind, note in sorted(marks, key=lambda m: (MARKS.index(m[2]), m[0], -(m[1] - m[0]))):
        if a < b and all(b <= x or a >= y for x, y, _, _ in chosen):
            chosen.append((a, b, kind, note))
    out, pos = [], 0
    for a, b, kind, note in sorted(chosen):
        out.append(escape(body[pos:a]))
        out.append(Markup('<mark class="{}" title="{}">{}</mark>').format(kind, note, body[a:b]))
        pos = b
    out.append(escape(body[pos:]))
    return Markup("").join(out)


def cells(run: Run, ws: Workspace | None, decisions: dict[str, Decision]) -> dict[str, list[dict[str, Any]]]:
    flagged = {(p["channel"], s) for p in run.metrics.get("distinctiveness", {}).get("not_personalised", [])
               for s in p["segments"]}
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for d in sorted(run.drafts, key=lambda d: (d.job.channel, d.job.segment)):
        seg = next((s for s in ws.segments if s.id == d.job.segment), None) if ws else None
        by_channel.setdefault(d.job.channel, []).append({
            "draft": d,
            "segment_name": seg.name if seg else d.job.segment,
            "body": highlight(d.text or "", spans(d, ws)) if d.text else None,
            "decision": decisions.get(d.id),
            "verdict": d.status,
            "not_personalised": (d.job.channel, d.job.segment) in flagged,
            # the value types (DOMAIN.md §3) the piece speaks to, against the segment's drivers
            "value_types": value_types(d.text, d.job.language) if d.text else {},
            "drivers": list(seg.value_drivers) if seg else [],
        })
    return by_channel


def report(run: Run, ws: Workspace | None, decisions: dict[str, Decision]) -> str:
    """The run's report as one HTML page. A run that stopped before its metrics were recorded
    (interrupted, or from an older ladder) has them computed here when the workspace is given."""
    if not run.metrics and ws is not None:
        run = run.model_copy(update={"metrics": compute(ws, run.drafts, run.summary)})
    channels = {c.id: c.name for c in ws.channels} if ws else {}
    by_channel = cells(run, ws, decisions)
    values = {
        "segment": sorted({d.job.segment for d in run.drafts}),
        "channel": sorted(by_channel),
        "language": sorted({d.job.language for d in run.drafts}),
        "verdict": sorted({d.status for d in run.drafts}),
        "decision": ["approve", "changes", "reject", "none"],
    }
    steps = {s.step: s.name.get("en", s.key) for s in ws.ladder.steps} if ws else {}
    return _env().get_template("report.html.j2").render(
        run=run, by_channel=by_channel, channel_names=channels, filters=values, steps=steps,
        metrics=run.metrics, summary=run.summary, model=run.manifest.model)


def compare(a: Run, b: Run) -> list[dict[str, Any]]:
    """Per draft id in either run: status, score and a unified diff of the rendered piece."""
    rows = []
    for draft_id in sorted({d.id for d in a.drafts} | {d.id for d in b.drafts}):
        x, y = a.draft(draft_id), b.draft(draft_id)
        old, new = (x.text or "") if x else "", (y.text or "") if y else ""
        diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), a.id, b.id, lineterm="", n=1))
        rows.append({
            "id": draft_id,
            "status": (x.status if x else None, y.status if y else None),
            "score": (x.score if x else None, y.score if y else None),
            "delta": (y.score - x.score) if x and y and x.score is not None and y.score is not None else None,
            "changed": old != new,
            "diff": diff,
        })
    return rows


def compare_html(a: Run, b: Run, rows: list[dict[str, Any]]) -> str:
    return _env().get_template("compare.html.j2").render(a=a, b=b, rows=rows)
