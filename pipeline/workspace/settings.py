"""The model settings a command runs with: flags over the environment over ladder.yaml.

Whatever its source, every value passes the same ``ModelSettings`` rules as ladder.yaml's, so
``LADDER_TEMPERATURE=abc`` or ``--temperature 9`` is refused before anything runs, each problem
named after where the value came from (``$LADDER_TEMPERATURE: input should be a valid number``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from pipeline.errors import InvalidWorkspace, Problem
from pipeline.workspace.load import CONFIG_FILE
from pipeline.workspace.models import ModelSettings

# the environment variable of each setting that has one
ENV = {
    "base_url": "LADDER_BASE_URL",
    "model": "LADDER_MODEL",
    "gguf": "LADDER_GGUF",
    "temperature": "LADDER_TEMPERATURE",
    "seed": "LADDER_SEED",
    "timeout": "LADDER_TIMEOUT",
    "max_retries": "LADDER_MAX_RETRIES",
    "backoff": "LADDER_BACKOFF",
    "reasks": "LADDER_REASKS",
    "judge_model": "LADDER_JUDGE_MODEL",
    "concurrency": "LADDER_CONCURRENCY",
    "requests_per_minute": "LADDER_RPM",
    "tokens_per_minute": "LADDER_TPM",
    "max_tokens_total": "LADDER_MAX_TOKENS_TOTAL",
    "max_cost": "LADDER_MAX_COST",
    "batch_poll": "LADDER_BATCH_POLL",
}
# flags not spelled --<setting-name>
FLAGS = {"requests_per_minute": "--rpm", "tokens_per_minute": "--tpm"}
# settings whose value a message may repeat (a URL may carry credentials, so not those)
NUMBERS = {"temperature", "seed", "timeout", "max_retries", "backoff", "reasks", "concurrency", "requests_per_minute",
           "tokens_per_minute", "max_tokens_total", "max_cost", "batch_poll"}


def effective_settings(
    settings: ModelSettings, flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> ModelSettings:
    """ladder.yaml's settings with the environment's (non-empty) values and the flags' (not
    None) values over them, validated together; every bad value at once as InvalidWorkspace."""
    data = settings.model_dump()
    sources: dict[str, str] = {}
    for name, var in ENV.items():
        if environ.get(var):
            data[name], sources[name] = environ[var], f"${var}"
    for name, value in flags.items():
        if value is not None and name in ModelSettings.model_fields:
            data[name], sources[name] = value, FLAGS.get(name, "--" + name.replace("_", "-"))
    try:
        return ModelSettings.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors(include_url=False):
            name = str(err["loc"][0])
            message = err["msg"].removeprefix("Value error, ")
            message = message[:1].lower() + message[1:]
            if name in NUMBERS and name in sources:
                message += f" (got {err['input']!r})"
            if name in sources:
                problems.append(Problem(sources[name], None, "", message))
            else:  # pragma: no cover - ladder.yaml's own values were validated when it was loaded
                problems.append(Problem(CONFIG_FILE, None, f"model.{'.'.join(map(str, err['loc']))}", message))
        raise InvalidWorkspace(problems) from None
