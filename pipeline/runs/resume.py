"""Resuming a run: what it planned and what it finished, read back from its folder, so only the
jobs that did not finish (or failed with an error) run again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.errors import InvalidWorkspace, Problem
from pipeline.runs.artifacts import JobRecord, Manifest, job_record_path, output_problem, plain_id, read, run_ids
from pipeline.workspace.models import JobResult, Plan, Workspace


def resume_state(runs_dir: Path, resume: str, ws: Workspace) -> tuple[str, Plan, dict[str, JobResult], dict[str, Any]]:
    """The run to resume: its id, its plan, the jobs it finished (read back from their files)
    and the model arguments it ran with. Refused when the inputs changed since."""
    if resume != "latest" and not plain_id(resume):  # only a run of this workspace, under its lock
        raise InvalidWorkspace([Problem("--resume", None, "", f"'{resume}' is not a run id: name a run in "
                                        f"{runs_dir} by its id (or latest), not by a path")])
    runs = run_ids(runs_dir)
    run_id = (runs[-1] if runs else None) if resume == "latest" else resume
    folder = runs_dir / (run_id or "")
    if not run_id or not (folder / "manifest.json").is_file() or folder.resolve().parent != runs_dir.resolve():
        raise InvalidWorkspace([Problem("--resume", None, "", f"no run '{resume}' in {runs_dir}"
                                        + (f" (runs: {', '.join(runs[-5:])})" if runs else ""))])
    earlier = read(folder / "manifest.json", Manifest)
    changed = sorted(k for k in set(earlier.inputs) | set(ws.input_hashes)
                     if earlier.inputs.get(k) != ws.input_hashes.get(k))
    if changed:
        raise InvalidWorkspace([Problem(name, None, "", f"changed since run {run_id}: start a new run instead of "
                                        "resuming") for name in changed])
    plan = Plan(jobs=earlier.jobs, skipped=earlier.skipped)
    done = {}
    for job in plan.jobs:
        record_file = job_record_path(folder, job)
        if not record_file.is_file():
            continue
        record = read(record_file, JobRecord)
        if record.status in ("passed", "failed"):  # jobs in error are tried again
            if record.output and (why := output_problem(folder, record.output)):
                raise InvalidWorkspace([Problem(str(record_file), None, "output", why)])
            try:
                done[job.id] = JobResult(job=job, status=record.status, attempts=record.attempts, output=record.output,
                                         note=record.note, inputs_hash=record.inputs_hash,
                                         content_hash=record.content_hash)
            except ValidationError as e:
                raise InvalidWorkspace([Problem(str(record_file), None, "", f"not a job record: {e}")]) from None
    return run_id, plan, done, earlier.model_arguments()
