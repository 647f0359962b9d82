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
from pipeline.workspace.models import CONFIG_FILE, ModelSettings


def _declared(key: str) -> dict[str, str]:
    return {name: extra[key] for name, f in ModelSettings.model_fields.items()
            if isinstance(extra := f.json_schema_extra, dict) and key in extra}


# the environment variable of each setting that has one, and the flags not spelled --<name>:
# both read from ModelSettings, where each setting is declared
ENV = _declared("env")
FLAGS = {name: flag if isinstance(flag, str) else "--" + name.replace("_", "-") for name, flag in _declared("flag").items()}
# what else ladder reads from the environment (credentials, logging, the lemmatiser, the reader's
# labelled copy when it is trained)
OTHER_ENV = ("LADDER_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "LADDER_LOG_FORMAT", "LADDER_VOIKKO",
             "LADDER_REAL_DATA")
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


def reference() -> str:
    """docs/settings.md's table: every model setting, its default, variable and flag."""
    rows = ["| ladder.yaml `model:` | default | environment | flag | what it does |", "|---|---|---|---|---|"]
    for name, f in ModelSettings.model_fields.items():
        default = "" if f.default in (None, {}) else f"`{f.default}`"
        env = f"`{ENV[name]}`" if name in ENV else ""
        flag = f"`{FLAGS[name]}`" if name in FLAGS else ""
        rows.append(f"| `{name}` | {default} | {env} | {flag} | {f.description or ''} |")
    return "\n".join(rows) + "\n"
