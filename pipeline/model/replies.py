"""Replies as typed objects: the JSON schema asked for, and a reply parsed and cleaned into it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.workspace.models import Usage

T = TypeVar("T", bound=BaseModel)


@dataclass
class Reply:
    content: str
    finish_reason: str | None
    usage: Usage
    seconds: float
    transport_attempts: int
    cached: bool = False


@lru_cache(maxsize=256)
def schema_of(output: type[BaseModel]) -> dict:
    """A model's JSON schema, built once (pydantic takes ~1 ms to build one)."""
    return output.model_json_schema()


def clean_text(value: Any) -> Any:
    """Valid Unicode only: pair up surrogates that belong together, replace lone ones with U+FFFD.
    Small models emit broken UTF-8 and JSON escapes of half a character; nothing downstream
    (files, SQLite, HTML) should have to cope with that."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    return value


def parse_reply(reply: Reply, output: type[T]) -> T:
    """The reply as ``output``; ValueError with a message a model can act on otherwise."""
    if reply.finish_reason == "length":
        raise ValueError("the reply was cut off at the length limit; keep every field shorter")
    if reply.finish_reason == "content_filter":
        raise ValueError("the reply was stopped by the content filter")
    text = reply.content.strip()
    if not text:
        raise ValueError("the reply was empty")
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the reply held no JSON object")
    try:
        data = clean_text(json.loads(text[start : end + 1]))
    except json.JSONDecodeError as e:
        raise ValueError(f"the JSON was malformed: {e.msg} at character {e.pos}") from None
    try:
        return output.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'reply'}: {err['msg']}" for err in e.errors(include_url=False)
        )
        raise ValueError(f"the JSON did not match the expected fields: {problems}") from None
