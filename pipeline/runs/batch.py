"""Batch mode (``ladder run --batch``): the same jobs, with their model calls sent through the
OpenAI Batch API (upload a JSONL file, create a batch, poll, download) at about half the price,
for large scheduled runs that can wait.

A job is a chain of calls (draft, check, maybe revise, ...), each depending on the one before. So
the run goes in rounds: every unfinished job is run until it needs a reply it does not have
(``Chat`` raises ``Deferred``); those requests go into one batch per model; when the batch is in,
the jobs run again from the start, replaying the replies they have, up to their next request.
The checks are cheap; the calls are the cost, and no call is made twice.

Each batch is recorded in ``ladder.db`` as soon as it is created, so ``ladder run --resume``
polls the batch a killed run left instead of submitting it again. A request the batch could not
answer for a reason worth retrying (429, 5xx, expired) goes into the next batch, at most
``max_retries`` times; any other failure is the job's error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pipeline.errors import ModelUnavailable
from pipeline.model.chat import Chat, Deferred
from pipeline.runs.runner import rendered, run_scoped
from pipeline.runs.writer import RunWriter, job_inputs_hashes
from pipeline.stages.render import suffix
from pipeline.store import Store
from pipeline.workspace.models import Job, JobResult, Plan, Review, Workspace

ENDPOINT = "/v1/chat/completions"


def execute_batched(
    ws: Workspace,
    plan: Plan,
    chat: Chat,
    writer: RunWriter,
    store: Store,
    on_job: Callable[[JobResult], None] = lambda r: None,
    judge_chat: Chat | None = None,
    done: dict[str, JobResult] | None = None,
    reviews: dict[str, Review] | None = None,
    poll: float = 30.0,
    say: Callable[[str], None] = lambda message: None,
    discount: float = 1.0,
) -> dict:
    done = done or {}
    for result in done.values():
        writer.restore(result)
    answers: dict[str, dict[str, Any]] = {}
    chats = {c.config.model: c for c in (chat, judge_chat) if c is not None}
    for c in chats.values():
        c.answer_from(answers, discount)
    tries: dict[str, int] = {}
    pending = [job for job in plan.jobs if job.id not in done]
    inputs = job_inputs_hashes(ws, pending)
    try:
        while pending:
            asked: dict[str, dict[str, dict]] = {}  # model -> key -> request
            waiting: list[Job] = []
            for job in pending:
                try:
                    result = run_scoped(ws, job, chat, judge_chat, (reviews or {}).get(job.id), inputs[job.id])
                except Deferred as d:
                    asked.setdefault(d.params["model"], {})[d.key] = d.params
                    waiting.append(job)
                    continue
                on_job(writer.job_done(result, rendered(ws, result), suffix(ws, job)))
            pending = waiting
            for model, requests in asked.items():
                collect(chats[model], store, requests, answers, tries, poll, say)
    except BaseException as e:
        writer.finish(interrupted=e)
        raise
    return writer.finish()


def collect(chat: Chat, store: Store, requests: dict[str, dict], answers: dict[str, dict], tries: dict[str, int],
            poll: float, say: Callable[[str], None]) -> None:
    """Get ``requests`` answered through one batch (the one a killed run left, if any) into
    ``answers``. Raises ModelUnavailable when the batch fails or answers nothing."""
    import openai  # with the client, not with this module (chat.py says why)

    client, model, run_id = chat.client, chat.config.model, chat.run_id or ""

    def call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        try:
            for attempt in chat.retrying():
                with attempt:
                    return fn(*args, **kw)
        except (openai.APIConnectionError, openai.APIStatusError) as e:
            raise ModelUnavailable(f"the Batch API failed: {type(e).__name__}: {e}") from e

    batch_id = store.open_batch(run_id, model)
    if batch_id:
        say(f"batch {batch_id}: polling the batch this run submitted before")
    else:
        lines = "".join(json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body},
                                   ensure_ascii=False) + "\n" for key, body in requests.items())
        upload = call(client.files.create, file=("ladder-batch.jsonl", lines.encode("utf-8")), purpose="batch")
        batch = call(client.batches.create, input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h",
                     metadata={"ladder_run": run_id})
        batch_id = batch.id
        store.batch_opened(batch_id, run_id, model, upload.id, len(requests))
        say(f"batch {batch_id}: {len(requests)} requests to {model} submitted")
    last = None
    while True:
        batch = call(client.batches.retrieve, batch_id)
        counts = batch.request_counts
        state = f"{batch.status}" + (f", {counts.completed + counts.failed} of {counts.total} done" if counts else "")
        if state != last:
            say(f"batch {batch_id}: {state}")
            last = state
        if batch.status in ("completed", "expired", "cancelled"):
            break
        if batch.status == "failed":
            store.batch_closed(batch_id, "failed")
            errors = "; ".join(f"{e.code}: {e.message}" for e in (batch.errors.data or [])) if batch.errors else ""
            raise ModelUnavailable(f"batch {batch_id} failed" + (f": {errors}" if errors else ""))
        time.sleep(poll)
    lines = 0
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            for line in call(client.files.content, file_id).text.splitlines():
                if line.strip():
                    lines += 1
                    _take(json.loads(line), answers, tries, chat.config.max_retries)
    store.batch_closed(batch_id, batch.status)
    if not lines:  # nothing to go on: asking again would loop
        raise ModelUnavailable(f"batch {batch_id} ({batch.status}) returned no results")


def _take(line: dict, answers: dict[str, dict], tries: dict[str, int], max_retries: int) -> None:
    """One line of a batch's output or error file into ``answers``; a failure worth retrying
    is left out (the job asks again in the next batch) until it has failed ``max_retries`` times."""
    key = line.get("custom_id")
    if not key or key in answers:
        return
    tries[key] = tries.get(key, 0) + 1
    response = line.get("response") or {}
    status = response.get("status_code")
    body = response.get("body") or {}
    if status == 200 and body.get("choices") is not None:
        choice = body["choices"][0] if body["choices"] else {}
        usage = body.get("usage") or {}
        answers[key] = {"content": (choice.get("message") or {}).get("content") or "",
                        "finish_reason": choice.get("finish_reason"), "tries": tries[key],
                        "prompt_tokens": usage.get("prompt_tokens", 0),
                        "completion_tokens": usage.get("completion_tokens", 0)}
        return
    error = line.get("error") or body.get("error") or {}
    message = f"{status or error.get('code') or 'error'}: {error.get('message') or 'no reply'}"
    retryable = status is None or status == 429 or status >= 500
    if not retryable or tries[key] > max_retries:
        answers[key] = {"error": message, "tries": tries[key]}
