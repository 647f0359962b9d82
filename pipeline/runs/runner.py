"""The run: each planned job goes draft → check → (fix → check, revise → check)* → render → write.

This module only sequences the stages; each stage lives in its own module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import BudgetExhausted, RequestFailed
from pipeline.model.chat import Chat, job_scope
from pipeline.model.config import ModelConfig
from pipeline.runs.reuse import reusable, reuse_key, template_files
from pipeline.runs.writer import RunWriter, job_inputs_hashes
from pipeline.stages.check import context
from pipeline.stages.draft import draft
from pipeline.stages.judge import checked as checked_by
from pipeline.stages.render import render, suffix
from pipeline.stages.revise import fix, revise
from pipeline.workspace.models import Attempt, Finding, Job, JobResult, Plan, Review, Usage, Workspace, best_attempt


def run_job(ws: Workspace, job: Job, chat: Chat, rounds: int, judge_chat: Chat | None = None,
            review: Review | None = None, inputs: str | None = None) -> JobResult:
    """Draft, check; while the best version fails: the safe fixes (no model call), then at most
    ``rounds`` model revisions of the best version so far. With a judge, every version is
    also judged, and the judge's calls count in the version's usage.

    A reviewer's decision on the job's earlier draft changes the start: "approve" (inputs
    unchanged) keeps that draft as it is, no call; "changes" revises it with the reviewer's
    comment as an instruction; "reject" drafts afresh, past the reply cache. ``inputs``: the
    job's inputs hash when the caller has it (writer.job_inputs_hashes)."""
    started = time.perf_counter()
    attempts: list[Attempt] = []
    inputs = inputs or job_inputs_hashes(ws, [job])[job.id]
    if review is not None and review.decision == "approve" and review.inputs_hash == inputs:
        kept = _previous(review).model_copy(update={"n": 1})
        return JobResult(job=job, status="passed" if kept.check and kept.check.passed else "failed", attempts=[kept],
                         note=f"approved in run {review.run_id}: kept as it is", inputs_hash=inputs)

    def checked(attempt: Attempt) -> Attempt:
        update: dict = {"n": len(attempts) + 1}
        if attempt.error is None:
            result, verdict = checked_by(context(ws, job, attempt.parts), judge_chat, ws.root, ws.ladder)
            if verdict is not None:
                update |= {"usage": attempt.usage + verdict.usage, "model_calls": attempt.model_calls + verdict.model_calls}
            update["check"] = result
        attempt = attempt.model_copy(update=update)
        attempts.append(attempt)
        return attempt

    note, skipped, failed = _review_note(review), False, False
    try:
        if review is not None and review.decision == "changes":
            previous = checked(_previous(review))
            asked = Finding(rule="review.changes", level="error", fix=review.comment,
                            message=f"a reviewer asked for changes: {review.comment}")
            # the reviewed version failed review: it is revised first, and never chosen over a revision
            attempts[-1] = previous = previous.model_copy(update={"check": previous.check.model_copy(
                update={"passed": False, "score": 0, "findings": [asked, *previous.check.findings]})})
            attempt = checked(revise(ws, job, chat, previous))
        else:
            attempt = checked(draft(ws, job, chat))
        for revision in range(rounds + 1):
            if attempt.check is not None and not attempt.check.passed and (fixed := fix(ws, job, attempt)):
                checked(fixed)
            best = best_attempt(attempts)
            if (best is not None and best.check.passed) or revision == rounds:
                break
            # revise the best version so far; a reply that failed validation gets its round too
            attempt = checked(revise(ws, job, chat, best) if best else draft(ws, job, chat))
    except BudgetExhausted as e:  # keep what was made; a job with nothing checked is skipped
        note = f"stopped: {e}"
        skipped = True
    except RequestFailed as e:  # this job's error; the run goes on with the others
        note, failed = f"request failed: {e}", True
    result = JobResult(job=job, status="skipped" if skipped else "error", attempts=attempts, note=note,
                       inputs_hash=inputs, seconds=time.perf_counter() - started)
    if result.best is not None and not failed:
        result.status = "passed" if result.best.check.passed else "failed"
    return result


def _previous(review: Review) -> Attempt:
    """The reviewed draft as this run's starting version: made before, so it cost this run nothing."""
    return review.previous.model_copy(update={"source": "previous", "usage": Usage(), "model_calls": 0,
                                              "seconds": 0.0, "fixes": []})


def _review_note(review: Review | None) -> str | None:
    if review is None:
        return None
    if review.decision == "approve":  # kept above unless the inputs changed
        return f"approved in run {review.run_id}, but its inputs changed since: redrafted, review it again"
    if review.decision == "changes":
        return f"changes asked in run {review.run_id}: revised with the reviewer's comment"
    return f"rejected in run {review.run_id}: drafted afresh"


def run_scoped(ws: Workspace, job: Job, chat: Chat, judge_chat: Chat | None, review: Review | None,
               inputs: str | None = None) -> JobResult:
    """``run_job`` with its calls attributed to the job; a rejected draft's job skips the cache."""
    with job_scope(job.id, fresh=review is not None and review.decision == "reject"):
        return run_job(ws, job, chat, ws.config.revise_rounds, judge_chat, review, inputs)


def rendered(ws: Workspace, result: JobResult) -> str | None:
    """The job's piece: its best version in the channel's layout; None when there is none."""
    best = result.best
    return render(ws, result.job, best.parts) if best is not None else None


@dataclass(frozen=True)
class Prepared:
    """What a run knows of its jobs before it starts: each one's inputs hash and reuse key, and the
    checked results it takes from the latest run (runs/reuse.py)."""

    inputs: dict[str, str]
    keys: dict[str, str]
    reused: dict[str, JobResult]


def prepare(ws: Workspace, plan: Plan, runs_dir: Path, run_id: str, config: ModelConfig,
            judge: ModelConfig | None, done: dict[str, JobResult], reviews: dict[str, Review], reuse: bool) -> Prepared:
    """The jobs to run (those not ``done``), their keys, and with ``reuse`` what the latest run
    left that can be taken as it is (a job a reviewer decided on is never reused)."""
    model, judged = config.public(), judge.public() if judge else None
    inputs = job_inputs_hashes(ws, [job for job in plan.jobs if job.id not in done])
    templates = template_files(ws)
    keys = {job_id: reuse_key(ws, h, model, judged, templates) for job_id, h in inputs.items()}
    reused = reusable(runs_dir, run_id, {k: v for k, v in keys.items() if k not in reviews}, plan.jobs) if reuse else {}
    return Prepared(inputs, keys, reused)


def execute(
    ws: Workspace,
    plan: Plan,
    chat: Chat,
    writer: RunWriter,
    on_job: Callable[[JobResult], None] = lambda r: None,
    judge_chat: Chat | None = None,
    concurrency: int = 1,
    done: dict[str, JobResult] | None = None,
    reviews: dict[str, Review] | None = None,
    prepared: Prepared | None = None,
) -> dict:
    """Run every job not already ``done`` (a resumed run's finished jobs), ``concurrency`` at a
    time, writing each result as it finishes. ``prepared`` (``prepare``, as ``ladder run`` makes
    it before its preflight) says which jobs take the latest run's checked result instead
    (runs/reuse.py); without it, none do. On interruption the results file is completed with the
    unfinished jobs marked, then the interruption propagates."""
    done, reviews = done or {}, reviews or {}
    for result in done.values():
        writer.restore(result)
    if prepared is None:
        prepared = prepare(ws, plan, writer.dir.parent, writer.run_id, chat.config,
                           judge_chat.config if judge_chat else None, done, reviews, reuse=False)
    inputs, keys, reused = prepared.inputs, prepared.keys, prepared.reused

    stopping = threading.Event()  # the run is ending: jobs not yet started do not start

    def work(job: Job) -> tuple[JobResult, str | None] | None:
        if stopping.is_set():
            return None
        if job.id in reused:
            return reused[job.id], rendered(ws, reused[job.id])
        try:
            result = run_scoped(ws, job, chat, judge_chat, reviews.get(job.id), inputs[job.id])
        except BaseException:  # the endpoint cannot be used, or the run was interrupted
            stopping.set()
            raise
        result.reuse_key = keys[job.id]
        return result, rendered(ws, result)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="ladder-job")
    try:
        futures = [pool.submit(work, job) for job in plan.jobs if job.id not in done]
        for future in as_completed(futures):
            if (done_job := future.result()) is None:
                continue
            result, piece = done_job
            on_job(writer.job_done(result, piece, suffix(ws, result.job)))
    except BaseException as e:
        stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        writer.finish(interrupted=e)
        raise
    pool.shutdown()
    return writer.finish()


def preflight(ws: Workspace, plan: Plan, skip: Collection[str] = (), reused: Collection[str] = ()) -> list:
    """Render every prompt and layout for every planned job before any model call, so a
    variable the inputs do not provide fails here, with its file and line, not mid-run. Jobs in
    ``skip`` (finished ones a resumed run keeps) are not rendered; of jobs ``reused`` from the
    latest run, whose prompts, layouts and inputs are unchanged, only the layout (this run
    renders their pieces again)."""
    from jinja2 import TemplateError

    from pipeline.errors import Problem
    from pipeline.stages.draft import messages
    from pipeline.workspace import templating

    problems = set()
    for job in plan.jobs:
        if job.id in skip:
            continue
        channel = ws.channel(job.channel)
        renders = [] if job.id in reused else [
            (f"{job.language}/draft.j2", lambda job=job: messages(ws, job, "draft.j2")),
            (f"{job.language}/revise.j2", lambda job=job, channel=channel: messages(
                ws, job, "revise.j2", previous={p.name: "x" for p in channel.parts}))]
        renders.append((channel.template, lambda job=job, channel=channel: render(
            ws, job, {p.name: "x" for p in channel.parts})))
        for name, call in renders:
            try:
                call()
            except templating.TemplateFileError as e:
                problems.add(Problem(e.file, e.lineno, "", str(e)))
            except TemplateError as e:
                file, line = _template_frame(templating.prompt_env(ws.root), e)
                problems.add(Problem(file or name, line, f"job {job.id}", f"template error: {e.message or e}"))
            except Exception as e:  # noqa: BLE001 - a template's own runtime error: 1 / 0, a bad filter argument
                file, line = _template_frame(templating.prompt_env(ws.root), e)
                problems.add(Problem(file or name, line, f"job {job.id}",
                                     f"template error: {type(e).__name__}: {e}"))
    return sorted(problems)


def _template_frame(env, exc: BaseException) -> tuple[str | None, int | None]:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    from pipeline.workspace import templating

    found: tuple[str | None, int | None] = (None, getattr(exc, "lineno", None))
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (templating.display_path(env, filename), tb.tb_lineno)
        tb = tb.tb_next
    return found
