"""Stage 7, write: outputs/<run-id>/ with a file per draft, manifest.json and run_results.json.

The manifest says what was planned (inputs' hashes, model and parameters, prompt and template
hashes, jobs); run_results says what happened per job. Both carry a schema version and are
written atomically; run_results is rewritten after every job, so an interrupted run still
leaves a complete, readable file with the unfinished jobs marked.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.files import atomic_write, writing
from pipeline.lang import lemma
from pipeline.runs import artifacts
from pipeline.runs.artifacts import JobRecord, Manifest, ResultRow, RunResults
from pipeline.workspace import templating
from pipeline.workspace.models import Job, JobResult, Plan, Usage, Workspace


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique without coordination: 20261123T143100Z-3fa9c1."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template_hashes(ws: Workspace, plan: Plan) -> dict[str, dict[str, str]]:
    prompts, layouts = templating.prompt_env(ws.root), templating.layout_env(ws.root)
    used_prompts = sorted({f"{j.language}/{p}" for j in plan.jobs for p in templating.PROMPTS})
    used_layouts = sorted({ws.channel(j.channel).template for j in plan.jobs})
    return {
        "prompts": {n: _sha(templating.source_of(prompts, n)[0]) for n in used_prompts},
        "templates": {n: _sha(templating.source_of(layouts, n)[0]) for n in used_layouts},
    }


def job_inputs_hashes(ws: Workspace, jobs: list[Job]) -> dict[str, str]:
    """What each job's draft depends on, by job id: its segment, channel, the core statement, its
    ladder step, the campaign settings, and the prompts and layout it renders. A reviewer's
    approval holds while this is unchanged. Each template is read and each input dumped once
    for all the jobs."""
    prompts, layouts = templating.prompt_env(ws.root), templating.layout_env(ws.root)
    texts = {lang: [templating.source_of(prompts, f"{lang}/{p}")[0] for p in templating.PROMPTS]
             for lang in {j.language for j in jobs}}
    channels = {c: ws.channel(c) for c in {j.channel for j in jobs}}
    layouts_of = {c.template: templating.source_of(layouts, c.template)[0] for c in channels.values()}
    dumped = {c: channel.model_dump(mode="json") for c, channel in channels.items()}
    segments = {s: ws.segment(s).model_dump(mode="json") for s in {j.segment for j in jobs}}
    steps = {n: ws.ladder[n].model_dump(mode="json") for n in {j.step for j in jobs}}
    core = ws.core.model_dump(mode="json")
    return {job.id: _sha(json.dumps({
        "job": job.model_dump(),
        "segment": segments[job.segment],
        "channel": dumped[job.channel],
        "core": core,
        "step": steps[job.step],
        "revise_rounds": ws.config.revise_rounds,
        "prompts": texts[job.language],
        "layout": layouts_of[channels[job.channel].template],
    }, sort_keys=True, ensure_ascii=False)) for job in jobs}


def manifest(ws: Workspace, plan: Plan, run_id: str, model: dict[str, Any], arguments: dict[str, Any]) -> Manifest:
    return Manifest(
        ladder_version=__version__,
        run_id=run_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        campaign=ws.config.campaign,
        arguments=arguments,
        model=model,
        revise_rounds=ws.config.revise_rounds,
        inputs=ws.input_hashes,
        **template_hashes(ws, plan),
        ladder=_sha(ws.ladder.model_dump_json()),
        lemmatizers={lang: lemma.backend(lang) for lang in sorted({s.language for s in ws.segments})},
        jobs=plan.jobs,
        skipped=plan.skipped,
    )


def summarise(results: list[JobResult], seconds: float) -> dict[str, Any]:
    usage = [r.usage for r in results]
    return {
        "jobs": len(results),
        "passed": sum(r.status == "passed" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "errors": sum(r.status == "error" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "not_run": sum(r.status in ("pending", "interrupted") for r in results),
        "revised": sum(len(r.attempts) > 1 for r in results),
        "model_calls": sum(a.model_calls for r in results for a in r.attempts),
        "prompt_tokens": sum(u.prompt_tokens for u in usage),
        "completion_tokens": sum(u.completion_tokens for u in usage),
        "cost_usd": _total_cost(usage),
        "seconds": round(seconds, 2),
    }


def _total_cost(usage: list[Usage]) -> float | None:
    """USD, rounded to a millionth; None when a model without a price was used."""
    costs = [u.cost_usd for u in usage]
    return None if None in costs else round(sum(costs), 6)


class RunWriter:
    """Writes a run's files as jobs finish. run_results.json is rewritten at most every
    ``interval`` seconds while running, and no more often than keeps its rewriting under about
    5 % of the run's time (a run of thousands of jobs has a file of megabytes); the per-job
    files are the record of what finished, a resumed run reads them. It is always written at
    the end."""

    def __init__(self, out_dir: Path, run_id: str, manifest_data: Manifest | None, plan: Plan, interval: float = 1.0):
        self.dir = out_dir
        self.run_id = run_id
        self.started_at = datetime.now(UTC)
        self.interval, self.next_write = interval, 0.0
        self.results: dict[str, JobResult] = {}
        self.rows: dict[str, ResultRow] = {}  # each job's run_results row, built once per change
        for j in plan.jobs:
            self._set(JobResult(job=j, status="pending"))
        if manifest_data is not None:  # a resumed run keeps its manifest
            artifacts.write(self.dir / "manifest.json", manifest_data)
        self.write_results("running")

    def _set(self, result: JobResult) -> None:
        # the row first: an interruption while it is built leaves the job as it was in both
        row = self._row(result)
        self.rows[result.job.id] = row
        self.results[result.job.id] = result

    def restore(self, result: JobResult) -> None:
        """A job a resumed run finished before."""
        self._set(result)

    def job_done(self, result: JobResult, rendered: str | None, suffix: str) -> JobResult:
        """Write a finished job's files; only once they are written does run_results count it.
        Returns the job's result as written: with its piece's path and hash."""
        job = result.job
        record = artifacts.job_record_path(self.dir, job)
        if rendered is not None:
            piece = record.with_suffix(suffix)
            result = result.model_copy(update={"output": piece.relative_to(self.dir).as_posix(),
                                               "content_hash": _sha(rendered)})
            with writing(piece):
                atomic_write(piece, rendered, sync=False)
        with writing(record):
            artifacts.write(record, self._job_record(result), sync=False)
        self._set(result)
        if time.monotonic() >= self.next_write:
            self.write_results("running")
        return result

    @staticmethod
    def _job_record(r: JobResult) -> JobRecord:
        return JobRecord(job=r.job, status=r.status, note=r.note, inputs_hash=r.inputs_hash, output=r.output,
                         content_hash=r.content_hash, chosen_attempt=r.chosen, attempts=r.attempts,
                         reuse_key=r.reuse_key)

    @staticmethod
    def _row(r: JobResult) -> ResultRow:
        best = r.best
        check = best.check if best else None
        return ResultRow(
            job_id=r.job.id,
            segment=r.job.segment,
            channel=r.job.channel,
            language=r.job.language,
            step=r.job.step,
            kind=r.job.kind,
            status=r.status,
            note=r.note,
            inputs_hash=r.inputs_hash,
            output=r.output,
            content_hash=r.content_hash,
            primary_step=check.primary_step if check else None,
            chosen_attempt=best.n if best else None,
            attempts=len(r.attempts),
            score=check.score if check else None,
            findings=[f.model_dump(exclude_none=True)
                      for f in (check.findings if check else [])],
            errors=[a.error for a in r.attempts if a.error],
            usage=r.usage,
            model_calls=sum(a.model_calls for a in r.attempts),
            seconds=round(r.seconds, 3),
        )

    def write_results(self, status: str) -> RunResults:
        began = time.monotonic()
        now = datetime.now(UTC)
        results = list(self.results.values())
        data = RunResults(
            ladder_version=__version__,
            run_id=self.run_id,
            status=status,
            started_at=self.started_at.isoformat(timespec="seconds"),
            updated_at=now.isoformat(timespec="seconds"),
            summary=summarise(results, (now - self.started_at).total_seconds()),
            results=list(self.rows.values()),
        )
        artifacts.write(self.dir / "run_results.json", data)
        done = time.monotonic()
        self.next_write = done + max(self.interval, 20 * (done - began))
        return data

    def finish(self, interrupted: BaseException | None = None) -> RunResults:
        """The final results; a run ``interrupted`` by an exception marks each unfinished job with
        why it did not run (the exception's first line)."""
        if interrupted is not None:
            reason = (str(interrupted).splitlines() or ["interrupted"])[0]
            for r in list(self.results.values()):
                if r.status == "pending":
                    self._set(r.model_copy(update={"status": "interrupted", "note": f"not run: {reason}"}))
        return self.write_results("complete" if interrupted is None else "interrupted")
