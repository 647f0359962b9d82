"""A finished run, read back from its folder: what the report, export, review, compare and
publish stages work from. The run folder is the record (manifest.json, run_results.json, one
JSON file and one rendered piece per job); nothing here calls a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .load import InvalidWorkspace, Problem
from .models import Attempt, Finding, Job, Usage


class Draft(BaseModel):
    """One job's outcome as reviewers and the CMS see it: the chosen version, rendered."""

    id: str  # the stable id: campaign.segment.channel
    job: Job
    status: str
    note: str | None = None
    score: int | None = None
    passed: bool = False
    primary_step: int | None = None
    findings: list[Finding] = []
    attempts: int = 0
    revisions: int = 0
    parts: dict[str, str] = {}
    text: str | None = None  # the rendered piece
    output: str | None = None  # its path in the run folder
    content_hash: str | None = None
    inputs_hash: str | None = None
    usage: Usage = Usage()
    chosen: Attempt | None = None


class Run(BaseModel):
    id: str
    dir: Path
    campaign: str
    created_at: str
    manifest: dict[str, Any]
    summary: dict[str, Any]
    metrics: dict[str, Any] = {}
    drafts: list[Draft]

    def draft(self, draft_id: str) -> Draft | None:
        return next((d for d in self.drafts if d.id == draft_id), None)


def run_ids(runs_dir: Path) -> list[str]:
    """Run folders under ``runs_dir``, oldest first (ids from the same second do not sort)."""
    if not runs_dir.is_dir():
        return []
    manifests = sorted(runs_dir.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime_ns)
    return [p.parent.name for p in manifests]


def resolve(runs_dir: Path, ref: str | None) -> Path:
    """A run folder from an id, ``latest`` (or None), ``latest~N`` (the one N before it) or a path."""
    ref = ref or "latest"
    ids = run_ids(runs_dir)
    if ref == "latest" or (ref.startswith("latest~") and ref[7:].isdigit()):
        back = int(ref[7:] or 0)
        if len(ids) > back:
            return runs_dir / ids[-1 - back]
    elif (runs_dir / ref / "manifest.json").is_file():
        return runs_dir / ref
    elif (Path(ref) / "manifest.json").is_file():
        return Path(ref)
    known = f" (runs: {', '.join(ids[-5:])})" if ids else ""
    raise InvalidWorkspace([Problem("RUN", None, "", f"no run '{ref}' in {runs_dir}{known}")])


def load_run(runs_dir: Path, ref: str | None = None) -> Run:
    folder = resolve(runs_dir, ref)
    manifest = _read(folder / "manifest.json")
    results = _read(folder / "run_results.json")
    drafts = []
    for row in results["results"]:
        job = Job(**{k: row[k] for k in ("segment", "channel", "language", "step", "kind")}, id=row["job_id"])
        record_file = folder / job.segment / f"{job.channel}.json"
        record = _read(record_file) if record_file.is_file() else {"attempts": [], "chosen_attempt": None}
        attempts = [Attempt(**a) for a in record["attempts"]]
        chosen = next((a for a in attempts if a.n == record.get("chosen_attempt")), None)
        text = (folder / row["output"]).read_text(encoding="utf-8") if row.get("output") else None
        usage = Usage()
        for a in attempts:
            usage = usage + a.usage
        drafts.append(Draft(
            id=job.id, job=job, status=row["status"], note=row.get("note"), score=row.get("score"),
            passed=bool(chosen and chosen.check and chosen.check.passed),
            primary_step=chosen.check.primary_step if chosen and chosen.check else None,
            findings=chosen.check.findings if chosen and chosen.check else [],
            attempts=len(attempts), revisions=sum(a.source == "revision" for a in attempts),
            parts=chosen.parts if chosen else {}, text=text, output=row.get("output"),
            content_hash=row.get("content_hash"), inputs_hash=row.get("inputs_hash"), usage=usage, chosen=chosen,
        ))
    return Run(id=manifest["run_id"], dir=folder, campaign=manifest["campaign"], created_at=manifest["created_at"],
               manifest=manifest, summary=results["summary"], metrics=results.get("metrics", {}), drafts=drafts)


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidWorkspace([Problem(str(path), None, "", "missing: not a complete run folder")]) from None
    except json.JSONDecodeError as e:
        raise InvalidWorkspace([Problem(str(path), e.lineno, "", f"not valid JSON: {e.msg}")]) from None
