"""The model a command runs with: settings resolved (flags over environment over ladder.yaml),
the API key, prices, and the request each call sends (also what the cache is keyed on)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.errors import Problem
from pipeline.model.limits import Budget
from pipeline.workspace.models import ModelSettings
from pipeline.workspace.urls import scrub_url

EMBEDDED_MODEL = "smollm2-135m-instruct"
SHIPPED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

@dataclass(frozen=True)
class ModelConfig:
    """Resolved settings. The API key is held here only, never written anywhere."""

    base_url: str | None
    model: str
    api_key: str | None = field(repr=False)
    temperature: float
    seed: int | None
    timeout: float
    structured_output: str
    gguf: str | None
    max_retries: int = 4
    backoff: float = 1.0
    reasks: int = 2
    judge_model: str | None = None
    concurrency: int = 4
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_tokens_total: int | None = None
    max_cost: float | None = None
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict, compare=False)

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    def price(self, model: str | None = None) -> tuple[float, float] | None:
        """(input, output) USD per 1M tokens for ``model`` (default: the drafting model): its own
        entry, else the longest entry it starts with (a dated version); None when unknown."""
        model = model or self.model
        if self.embedded and model == self.model:
            return (0.0, 0.0)  # runs here
        if model in self.prices:
            return self.prices[model]
        names = [n for n in self.prices if model.startswith(n + "-")]
        return self.prices[max(names, key=len)] if names else None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = self.price()
        return None if price is None else (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6

    def budget(self) -> Budget | None:
        if self.max_tokens_total is None and self.max_cost is None:
            return None
        return Budget(self.max_tokens_total, self.max_cost)

    def problems(self, batch: bool = False) -> list[Problem]:
        """What these settings cannot do, as flag problems: a cost cap needs every model's price;
        a batch needs a real endpoint and no cap (a batch is paid as a whole)."""
        out = []
        if self.max_cost is not None:
            out += [Problem("--max-cost", None, "", f"no price for model '{m}': add it under model.prices in "
                            "ladder.yaml ({input: USD, output: USD} per 1M tokens)")
                    for m in (self.model, self.judge_model) if m and self.price(m) is None]
        if batch and self.embedded:
            out.append(Problem("--batch", None, "", "needs an endpoint with the Batch API (--base-url)"))
        elif batch and self.budget():
            out.append(Problem("--batch", None, "", "cannot be capped (a batch is paid as a whole): see "
                               "`ladder plan --estimate --batch` first, and drop --max-tokens-total/--max-cost"))
        return out

    def public(self) -> dict[str, Any]:
        """What the manifest may record: everything but the key."""
        return {
            "endpoint": "embedded" if self.embedded else scrub_url(self.base_url),
            "model": self.model,
            "gguf": Path(self.gguf).name if self.gguf else None,
            "temperature": self.temperature,
            "seed": self.seed,
            "timeout": self.timeout,
            "structured_output": self.structured_output,
            "max_retries": self.max_retries,
            "reasks": self.reasks,
            "judge_model": self.judge_model,
            "concurrency": self.concurrency,
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "max_tokens_total": self.max_tokens_total,
            "max_cost": self.max_cost,
        }

    def judge(self) -> ModelConfig | None:
        """The judge's settings: the same endpoint, the judge model, temperature 0."""
        if not self.judge_model:
            return None
        return dataclasses.replace(self, model=self.judge_model, temperature=0.0)


def resolve_config(
    settings: ModelSettings, flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> ModelConfig:
    """Flags win over the environment, which wins over the workspace's ladder.yaml; every value
    is validated as ladder.yaml's are (settings.py), bad ones raise InvalidWorkspace."""
    from pipeline.workspace.settings import effective_settings

    s = effective_settings(settings, flags, environ)
    base_url, gguf, model = s.base_url, s.gguf, s.model
    api_key = environ.get("LADDER_API_KEY") or environ.get(settings.api_key_env)
    if base_url and not model:
        model = "gpt-4o-mini"
    return ModelConfig(
        base_url=base_url,
        model=model or (Path(gguf).stem if gguf else EMBEDDED_MODEL),
        api_key=api_key,
        temperature=s.temperature,
        seed=s.seed,
        timeout=s.timeout,
        structured_output=settings.structured_output if base_url else "json_object",
        gguf=gguf,
        max_retries=s.max_retries,
        backoff=s.backoff,
        reasks=s.reasks,
        judge_model=s.judge_model,
        # the embedded server answers one request at a time
        concurrency=1 if not base_url else s.concurrency,
        requests_per_minute=s.requests_per_minute,
        tokens_per_minute=s.tokens_per_minute,
        max_tokens_total=s.max_tokens_total,
        max_cost=s.max_cost,
        prices=price_table(settings),
    )


@lru_cache(maxsize=1)
def shipped_prices() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((Path(__file__).parent / "prices.yaml").read_text(encoding="utf-8"))


def price_table(settings: ModelSettings) -> dict[str, tuple[float, float]]:
    """The shipped list prices, with the workspace's own over them."""
    table = {name: (p["input"], p["output"]) for name, p in shipped_prices()["prices"].items()}
    return table | {name: (p.input, p.output) for name, p in settings.prices.items()}


def request_params(config: ModelConfig, messages: list[dict[str, str]], max_tokens: int,
                   schema: dict | None = None) -> dict[str, Any]:
    """The chat-completions request for ``messages``, as sent (and as keyed in the cache)."""
    params: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "temperature": config.temperature,
        "max_tokens": max_tokens,
    }
    if config.seed is not None:
        params["seed"] = config.seed
    if schema is not None and config.structured_output == "json_schema":
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": schema.get("title", "parts"), "schema": schema},
        }
    elif schema is not None and config.structured_output == "json_object":
        # llama.cpp's servers take the schema here and constrain decoding with it
        params["response_format"] = {"type": "json_object", "schema": schema}
    return params
