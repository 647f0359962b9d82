"""What no single file can say: duplicates, references between files (segments, channels, the
core statement) and the templates each language and channel needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from pipeline.errors import Problem
from pipeline.workspace import templating
from pipeline.workspace.models import (
    CHANNELS_FILE,
    CORE_FILE,
    Channel,
    CoreStatement,
    Segment,
)


class Checking(Protocol):
    """What the cross-checks need of the loader: where each object came from, and its problems."""

    root: Path
    problems: list[Problem]

    def problem(self, file: str, line: int | None, path: str, message: str, level: str = "error") -> None: ...
    def where(self, obj: BaseModel, *loc: str | int) -> tuple[str, int | None]: ...


def _duplicates(ld: Checking, items: list[Any], what: str) -> None:
    seen: dict[str, Any] = {}
    for item in items:
        if item.id in seen:
            first_file, first_line = ld.where(seen[item.id], "id")
            file, line = ld.where(item, "id")
            ld.problem(file, line, "id", f"duplicate {what} id '{item.id}' (first in {first_file}:{first_line})")
        else:
            seen[item.id] = item


def cross_check(ld: Checking, core: CoreStatement | None, segments: list[Segment], channels: list[Channel]) -> None:
    _duplicates(ld, segments, "segment")
    _duplicates(ld, channels, "channel")
    by_id = {c.id: c for c in channels}
    concept_ids = [k.id for k in core.key_concepts] if core else []
    for seg in segments:
        file, _ = ld.where(seg)
        if not seg.vocabulary.use:
            ld.problem(file, ld.where(seg, "vocabulary", "use")[1], "vocabulary.use",
                       "empty vocabulary: list the terms this segment uses itself")
        for i, ch_id in enumerate(seg.channels or []):
            line = ld.where(seg, "channels", i)[1]
            ch = by_id.get(ch_id)
            if channels and ch is None:
                ld.problem(file, line, f"channels[{i}]", f"unknown channel '{ch_id}' (known: {', '.join(by_id)})")
            elif ch and seg.role not in ch.roles:
                meant = "customers" if ch.roles == ["customer"] else ", ".join(ch.roles)
                ld.problem(file, line, f"channels[{i}]",
                           f"{seg.role} segment '{seg.id}' is on channel '{ch_id}', which is meant for {meant}")
        if core:
            for concept in seg.vocabulary.concepts:
                if concept not in concept_ids:
                    ld.problem(file, ld.where(seg, "vocabulary", "concepts", concept)[1],
                               f"vocabulary.concepts.{concept}",
                               f"unknown key concept '{concept}' (core has: {', '.join(concept_ids)})")
            for concept in concept_ids if seg.role != "outside_target" else []:
                if concept not in seg.vocabulary.concepts:
                    ld.problem(file, ld.where(seg, "vocabulary", "concepts")[1], "vocabulary.concepts",
                               f"no term for key concept '{concept}': the core's own name will be used",
                               level="warning")
            for field in ("offer", "core"):
                if seg.language not in getattr(core, field):
                    ld.problem(CORE_FILE, ld.where(core, field)[1], field,
                               f"no '{seg.language}' text, needed by segment '{seg.id}'")
            for pp in core.proof_points:
                if seg.language not in pp.claim:
                    ld.problem(CORE_FILE, ld.where(core, "proof_points")[1], f"proof_points.{pp.id}.claim",
                               f"no '{seg.language}' text, needed by segment '{seg.id}'", level="warning")


def check_templates(ld: Checking, segments: list[Segment], channels: list[Channel]) -> None:
    root = ld.root
    prompts = templating.prompt_env(root)
    layouts = templating.layout_env(root)
    for lang in sorted({s.language for s in segments}):
        missing = [n for n in templating.PROMPTS if not templating.exists(prompts, f"{lang}/{n}")]
        if missing:
            first = next(s for s in segments if s.language == lang)
            file, line = ld.where(first, "language")
            ld.problem(file, line, "language",
                       f"no prompt for language '{lang}': add {', '.join(missing)} to prompts/{lang}/")
        for name in templating.PROMPTS:
            if name not in missing:
                ld.problems.extend(templating.undeclared(prompts, f"{lang}/{name}", templating.PROMPT_CONTEXT))
        if templating.exists(prompts, f"{lang}/judge.j2"):  # optional: used with a judge model
            ld.problems.extend(templating.undeclared(prompts, f"{lang}/judge.j2", templating.JUDGE_CONTEXT))
    for i, ch in enumerate(channels):
        if not templating.exists(layouts, ch.template):
            ld.problem(CHANNELS_FILE, ld.where(ch, "template")[1], f"channels[{i}].template",
                       f"template '{ch.template}' does not exist in templates/")
            continue
        for p in templating.undeclared(layouts, ch.template, templating.layout_context_types(ch)):
            ld.problems.append(p)
