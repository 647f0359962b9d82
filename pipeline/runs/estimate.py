"""What a run will cost before anything is spent: calls, tokens and USD for a plan.

Three figures per model. *At least*: every first draft passes (and first drafts already in the
reply cache cost nothing: a rerun replays the cached chain). *At most*: every job uses all its revision rounds and every reply is
re-asked the most times allowed, each call writing its full ``max_tokens``. *Expected*: the
calls per job, characters per token and completion tokens per call this model showed in the
workspace's call log (``ladder.db``); without a log, 4 characters a token, half of
``max_tokens`` per reply and half the revision rounds, and the basis says so.
"""

from __future__ import annotations

from typing import Any

from pipeline.model.config import ModelConfig, request_params, shipped_prices
from pipeline.model.replies import schema_of
from pipeline.stages.draft import max_tokens, messages, parts_model
from pipeline.store import Store, cache_key
from pipeline.workspace.models import Plan, Workspace

JUDGE_MAX_TOKENS = 900  # judge.py asks for at most this much


def calibration(store: Store | None, model: str) -> dict[str, Any] | None:
    """Characters per token, completion tokens per call and calls per job, from this model's
    past calls that reached the endpoint (cached replays count towards calls per job only)."""
    if store is None:
        return None
    rows, calls, jobs = store.calibration_calls(model)
    if not rows or not jobs:
        return None
    chars = sum(len(m["content"]) for r in rows for m in r[0])
    return {
        "calls": len(rows),
        "chars_per_token": chars / sum(r[1] for r in rows),
        "completion_per_call": sum(r[2] for r in rows) / len(rows),
        "calls_per_job": calls / jobs,
    }


def estimate(ws: Workspace, plan: Plan, config: ModelConfig, store: Store | None = None,
             batch: bool = False) -> dict[str, Any]:
    rounds, reasks = ws.config.revise_rounds, config.reasks
    endpoint = config.public()["endpoint"]
    cal = calibration(store, config.model)
    cpt = cal["chars_per_token"] if cal else 4.0
    per_job = []  # (prompt tokens of the first draft, max_tokens, cached?)
    for job in plan.jobs:
        channel = ws.channel(job.channel)
        msgs = messages(ws, job, "draft.j2")
        limit = max_tokens(channel)
        params = request_params(config, msgs, limit, schema_of(parts_model(channel)))
        cached = store is not None and store.get(cache_key(endpoint, params)) is not None
        per_job.append((sum(len(m["content"]) for m in msgs) / cpt + 4 * len(msgs), limit, cached))

    discount = shipped_prices().get("batch_discount", 1.0) if batch else 1.0
    max_calls_per_job = (1 + rounds) * (1 + reasks)
    expected_calls_per_job = cal["calls_per_job"] if cal else 1 + rounds / 2

    def figures(calls: float, prompt: float, out: float, price) -> dict[str, Any]:
        cost = None if price is None else round((prompt * price[0] + out * price[1]) / 1e6 * discount, 4)
        return {"calls": round(calls), "prompt_tokens": round(prompt), "completion_tokens": round(out), "cost_usd": cost}

    def rows(price, cal: dict | None, judge: bool = False) -> dict[str, Any]:
        def completion(limit: int) -> float:
            return cal["completion_per_call"] if cal else limit / 2

        least = [(0 if cached else 1, p, lim) for p, lim, cached in per_job]
        # a revision's prompt carries the previous draft: about max_tokens more
        most = [(max_calls_per_job, p + rounds / (1 + rounds) * lim, lim) for p, lim, _ in per_job]
        if judge:  # every checked version is judged once; the judge reads the draft, writes up to 900 tokens
            least = [(n, p + lim, JUDGE_MAX_TOKENS) for n, p, lim in least]
            most = [(n, p + lim, JUDGE_MAX_TOKENS) for n, p, lim in most]
        # a job whose first draft is cached replays its whole chain from the cache (the same draft
        # gets the same findings, so the same revision request): expected to cost nothing
        expected = [(0 if cached else expected_calls_per_job, p, lim) for (_, p, lim), (_, _, cached) in zip(least, per_job)]
        return {
            "at_least": figures(sum(n for n, _, _ in least), sum(n * p for n, p, _ in least),
                                sum(n * completion(lim) for n, _, lim in least), price),
            "expected": figures(sum(n for n, _, _ in expected), sum(n * p for n, p, _ in expected),
                                sum(n * completion(lim) for n, _, lim in expected), price),
            "at_most": figures(sum(n for n, _, _ in most), sum(n * p for n, p, _ in most),
                               sum(n * lim for n, _, lim in most), price),
        }

    price = config.price()
    result: dict[str, Any] = {
        "model": config.model,
        "endpoint": endpoint,
        "jobs": len(plan.jobs),
        "cached_first_drafts": sum(c for _, _, c in per_job),
        "price": _price_info(config, config.model, discount),
        "basis": ({"source": "call log", **{k: round(v, 2) for k, v in cal.items()}} if cal else
                  {"source": "assumed", "chars_per_token": 4.0, "completion_per_call": "max_tokens / 2",
                   "calls_per_job": expected_calls_per_job}),
        **rows(price, cal),
    }
    if config.judge_model:
        result["judge"] = {"model": config.judge_model, "price": _price_info(config, config.judge_model, discount),
                           **rows(config.price(config.judge_model), calibration(store, config.judge_model), judge=True)}
    return result


def _price_info(config: ModelConfig, model: str, discount: float) -> dict[str, Any] | None:
    price = config.price(model)
    if price is None:
        return None
    return {"input_per_1m": price[0], "output_per_1m": price[1], "batch_discount": discount if discount != 1 else None}
