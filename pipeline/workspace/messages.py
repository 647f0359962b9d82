"""pydantic's validation errors as problems a person can act on: file:line key.path, the allowed
keys or values named."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from pipeline.errors import Problem
from pipeline.workspace import templating
from pipeline.workspace.models import (
    ID_PATTERN,
    LANGUAGE_PATTERN,
    STEPS,
)
from pipeline.workspace.yaml_lines import Loc, format_path, line_for


def validation_problems(
    error: ValidationError, file: str, lines: dict[Loc, int], model: type[BaseModel]
) -> list[Problem]:
    problems = []
    for err in error.errors(include_url=False):
        loc: Loc = tuple(p for p in err["loc"] if p != "[key]")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            msg = "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
        elif err["type"] == "missing":
            msg = "field required"
        elif err["type"] == "string_pattern_mismatch":
            msg = PATTERN_MESSAGES.get(err["ctx"]["pattern"], msg).format(err["input"])
        elif err["type"].startswith(("less_than", "greater_than")) and _is_step(loc):
            msg = f"unknown ladder step {err['input']!r} (the steps are {STEP_NAMES})"
        problems.append(Problem(file, line_for(lines, loc), format_path(loc), msg[:1].lower() + msg[1:]))
    return problems


PATTERN_MESSAGES = {
    ID_PATTERN: "'{}' is not a valid id: use lower-case letters, digits, '-' and '_'",
    LANGUAGE_PATTERN: "'{}' is not a language code: use two lower-case letters, e.g. en or fi",
}
STEP_NAMES = ", ".join(f"{n} {key}" for n, key in STEPS.items())


def _is_step(loc: Loc) -> bool:
    named = [p for p in loc if isinstance(p, str)]
    return bool(named) and named[-1] in ("current_step", "target_step", "step", "steps")


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the sub-model at ``loc``, for 'unknown key' messages."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) else None
        if field is None:
            return []
        current = templating.model_in(field.annotation)
        if current is None:
            return []
    return list(current.model_fields) if current else []
