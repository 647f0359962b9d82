"""A whole ``ladder run``, wired once: its endpoint (the embedded model when none is set), then the
store, the limits and the budget, the chats, the writer; the jobs, concurrently (runner.py) or
through the Batch API (batch.py); then the run's metrics. The CLI says what happens and exits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.model.chat import Chat
from pipeline.model.config import ModelConfig, shipped_prices
from pipeline.model.limits import Limiter
from pipeline.model.server import embedded_server
from pipeline.runs.artifacts import RunResults
from pipeline.runs.batch import execute_batched
from pipeline.runs.metrics import record as record_metrics
from pipeline.runs.runner import Prepared, execute
from pipeline.runs.writer import RunWriter, manifest
from pipeline.store import Store
from pipeline.workspace.models import JobResult, Plan, Review, Workspace


@contextmanager
def endpoint(config: ModelConfig) -> Iterator[tuple[str, Callable[[], str | None] | None]]:
    """The endpoint a command asks: its base URL and, for the embedded model (started here,
    stopped on leaving), the check that says why its process died."""
    if config.embedded:
        with embedded_server(config.gguf) as server:
            yield server.base_url, server.died
    else:
        yield config.base_url, None


def run(ws: Workspace, plan: Plan, config: ModelConfig, out_dir: Path, base: str, *, arguments: dict[str, Any],
        health: Callable[[], str | None] | None = None, resume: bool = False,
        done: dict[str, JobResult] | None = None, reviews: dict[str, Review] | None = None,
        prepared: Prepared | None = None, cache: str = "use", batch: bool = False, batch_poll: float = 30.0,
        on_job: Callable[[JobResult], None] = lambda r: None,
        on_batch: Callable[[str], None] = lambda m: None) -> RunResults:
    """Run ``plan``'s jobs into ``out_dir`` (outputs/<run-id>; the store is outputs/ladder.db)
    against the endpoint at ``base`` (``endpoint``; ``health`` says why an embedded one died)
    and return the final run_results.json, metrics included. A ``resume``d run keeps its
    manifest and the ``done`` jobs; ``arguments`` (what the run was asked, credentials scrubbed)
    go into a new run's manifest. ``on_job`` hears of each finished job, ``on_batch`` of each
    batch's progress."""
    run_id = out_dir.name
    store = Store.at(out_dir.parent)
    try:
        shared = {"store": store, "cache": cache, "run_id": run_id, "budget": config.budget(),
                  "limiter": Limiter(config.requests_per_minute, config.tokens_per_minute)}
        chat = Chat(config, base, **shared, health=health)
        judge_chat = Chat(config.judge(), base, **shared, health=health) if config.judge_model else None
        writer = RunWriter(out_dir, run_id, None if resume else manifest(ws, plan, run_id, config.public(), arguments),
                           plan)
        if batch:
            results = execute_batched(ws, plan, chat, writer, store, on_job=on_job, judge_chat=judge_chat,
                                      done=done, reviews=reviews, poll=batch_poll, say=on_batch,
                                      discount=shipped_prices().get("batch_discount", 1.0))
        else:
            results = execute(ws, plan, chat, writer, on_job=on_job, judge_chat=judge_chat,
                              concurrency=config.concurrency, done=done, reviews=reviews, prepared=prepared)
    finally:
        store.close()
    return record_metrics(ws, out_dir, results, list(writer.results.values()))
