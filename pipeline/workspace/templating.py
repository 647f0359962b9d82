"""Jinja2 for prompts and channel layouts: one sandboxed environment each, StrictUndefined.

A workspace's own ``prompts/`` and ``templates/`` override the defaults shipped with ladder.
Before any model call, ``undeclared`` finds every variable (and attribute of an input) that a
template uses and the inputs do not provide, with its line.
"""

from __future__ import annotations

import operator
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateAssertionError,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
    nodes,
)
from jinja2.defaults import DEFAULT_FILTERS as FILTERS
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from pydantic import BaseModel, ConfigDict

from pipeline.workspace.models import Channel, CoreStatement, Finding, Job, Ladder, LadderStep, Segment

# The prompts each language needs, under prompts/<lang>/.
PROMPTS = ("system.j2", "draft.j2", "revise.j2")

def model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_in(arg)
        if found:
            return found
    return None


class PromptContext(BaseModel):
    """What a prompt may use: the one declaration. ``draft.prompt_context`` fills it for each
    job, and the check for undeclared variables reads it (``PROMPT_CONTEXT``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    core: CoreStatement
    segment: Segment
    channel: Channel
    job: Job
    step: LadderStep
    ladder: Ladder
    lang: Any
    company: Any
    offer: Any
    core_sentence: Any
    differentiators: Any
    proof_points: Any
    concepts: Any
    call_to_action: Any
    findings: list[Finding] = []
    previous: Any = None


def _checked(annotation: Any) -> Any:
    """What ``undeclared`` checks a variable's attributes against: a model class (its fields),
    a list of models, or None (not checked further)."""
    return annotation if model_in(annotation) is not None else None


# What a prompt may use: a model class (its fields are checked), a set of known keys, or None.
PROMPT_CONTEXT: dict[str, Any] = {name: _checked(f.annotation) for name, f in PromptContext.model_fields.items()}


# What the optional judge prompt (prompts/<lang>/judge.j2) may use.
JUDGE_CONTEXT: dict[str, Any] = {"draft": None, "ladder": Ladder, "step": LadderStep, "lang": None}


def layout_context_types(channel: Channel) -> dict[str, Any]:
    return {
        "parts": frozenset(p.name for p in channel.parts),
        "segment": Segment,
        "channel": Channel,
        "core": CoreStatement,
        "job": Job,
        "step": LadderStep,
    }


MAX_RANGE = 10_000  # items a template's range() may make
MAX_SIZE = 1_000_000  # items or characters a template may make with *, % or a padding filter


class TemplateFileError(TemplateError):
    """A template file that may not or cannot be read: a link out of the workspace, not UTF-8."""

    def __init__(self, file: str, line: int | None, message: str):
        super().__init__(message)
        self.file, self.lineno = file, line


class WorkspaceLoader(FileSystemLoader):
    """Reads a template only from inside its workspace (no links out of it), strictly as UTF-8."""

    def get_source(self, environment, template):
        pieces = split_template_path(template)
        paths = [Path(folder, *pieces) for folder in self.searchpath]
        at = next((i for i, p in enumerate(paths) if p.is_file()), None)
        if at is None:
            raise TemplateNotFound(template)
        folder, path = self.searchpath[at], paths[at]
        # a file that would now come first (a workspace's own copy of a shipped prompt, made
        # after this one was read) makes the compiled template stale too
        before = paths[:at]
        from pipeline.files import outside_workspace

        shown = display_path(environment, str(path))
        why = outside_workspace(Path(folder).parent, path)  # the workspace (or the example)
        if why:
            raise TemplateFileError(shown, None, why)
        try:
            data = path.read_bytes()
            mtime = path.stat().st_mtime
        except OSError as e:
            raise TemplateFileError(shown, None, f"cannot read: {e.strerror or e}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TemplateFileError(shown, data.count(b"\n", 0, e.start) + 1,
                                    f"not UTF-8 text ({e.reason} at byte {e.start}): save the file as UTF-8") from None

        def uptodate() -> bool:
            try:
                return path.stat().st_mtime == mtime and not any(p.is_file() for p in before)
            except OSError:
                return False

        return text, os.path.normpath(path), uptodate


# a printf-style width or precision that would make a huge string: "%999999999d"
HUGE_FORMAT = re.compile(r"%[-#0 +]*(\*|\d{7,}|\d*\.(\*|\d{7,}))")
TOO_LARGE = f"a value of more than {MAX_SIZE:,} items or characters is too large for a template"


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox, where range(), ``**``, ``*``, ``%`` and the padding filters may not make
    huge values, so rendering a template cannot hang or fill memory."""

    intercepted_binops = frozenset(["**", "*", "%"])

    def __init__(self, roots: tuple[Path, Path] | None = None, **options: Any):
        super().__init__(**options)
        self.ladder_roots = roots  # (workspace, shipped example): for showing paths to users
        self.globals["range"] = _range
        del self.globals["lipsum"]  # lipsum(10**9) would not end
        self.filters.update({name: _bounded_filter(FILTERS[name]) for name in ("center", "indent", "format")})

    def call_binop(self, context, operator_: str, left, right):
        if operator_ == "**":
            if isinstance(right, int) and isinstance(left, int | float) and abs(left) > 1 and (
                    abs(right) > 64 or isinstance(left, int) and left.bit_length() * abs(right) > 100_000):
                raise SecurityError(f"a power of {right} is too large for a template")
            return operator.pow(left, right)
        if operator_ == "%":
            if isinstance(left, str) and HUGE_FORMAT.search(left):
                raise SecurityError(TOO_LARGE)
            return operator.mod(left, right)
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_SIZE:
                raise SecurityError(TOO_LARGE)
        return operator.mul(left, right)


def _bounded_filter(f):
    """A filter whose number arguments (a width) and format string may not be huge."""

    def bounded(*args, **kwargs):
        for a in (*args[1:], *kwargs.values()):
            if isinstance(a, int) and a > MAX_SIZE or isinstance(a, str) and HUGE_FORMAT.search(a):
                raise SecurityError(TOO_LARGE)
        if f is FILTERS["format"] and isinstance(args[0], str) and HUGE_FORMAT.search(args[0]):
            raise SecurityError(TOO_LARGE)
        return f(*args, **kwargs)

    bounded.jinja_pass_arg = getattr(f, "jinja_pass_arg", None)
    return bounded


def _range(*args: int) -> range:
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise SecurityError(f"range() of {len(items):,} items: templates may make at most {MAX_RANGE:,}")
    return items


@lru_cache(maxsize=32)
def _env(root: Path, folder: str) -> SandboxedEnvironment:
    """One environment per workspace folder, so templates compile once (jinja reloads a
    template whose file changed, or that a workspace file now overrides; the workspace's folder
    is searched even if it is made after this)."""
    from pipeline.files import example_dir

    return BoundedSandbox(
        roots=(root, example_dir()),
        loader=WorkspaceLoader([str(root / folder), str(example_dir() / folder)]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def prompt_env(root: Path) -> SandboxedEnvironment:
    return _env(Path(root), "prompts")


def layout_env(root: Path) -> SandboxedEnvironment:
    return _env(Path(root), "templates")


def exists(env: SandboxedEnvironment, name: str) -> bool:
    try:
        env.loader.get_source(env, name)
        return True
    except TemplateNotFound:
        return False
    except TemplateFileError:  # there, but unreadable: `undeclared` says why
        return True


def source_of(env: SandboxedEnvironment, name: str) -> tuple[str, str]:
    """(text, path shown to users) of a template."""
    text, filename, _ = env.loader.get_source(env, name)
    return text, display_path(env, filename)


def display_path(env: SandboxedEnvironment, filename: str | None) -> str:
    """A template's path as users should see it: relative to the workspace, or marked as
    one of ladder's defaults."""
    if not filename:
        return "?"
    workspace, defaults = (Path(r).resolve() for r in env.ladder_roots)
    path = Path(filename).parent.resolve() / Path(filename).name  # the file itself, even when it is a link
    if path.is_relative_to(workspace):
        return path.relative_to(workspace).as_posix()
    if path.is_relative_to(defaults):
        return f"(default) {path.relative_to(defaults).as_posix()}"
    return str(path)


def undeclared(env: SandboxedEnvironment, name: str, context: dict[str, Any]) -> list:
    """Problems for every variable or input attribute the template uses but the inputs lack."""
    from pipeline.errors import Problem

    try:
        text, shown = source_of(env, name)
    except TemplateFileError as e:
        return [Problem(e.file, e.lineno, "", str(e))]
    try:
        ast = env.parse(text, name=name, filename=shown)
        found = meta.find_undeclared_variables(ast)  # compiles: an unknown filter or test fails here
    except TemplateSyntaxError as e:
        what = "template error" if isinstance(e, TemplateAssertionError) else "template syntax error"
        return [Problem(shown, e.lineno, "", f"{what}: {e.message}")]
    problems = []
    missing = sorted(found - set(context) - set(env.globals))
    for var in missing:
        line = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == var), None)
        problems.append(Problem(shown, line, var, f"the inputs provide no variable '{var}'"
                                f" (available: {', '.join(sorted(context))})"))
    seen = set(missing)
    for node in ast.find_all(nodes.Getattr):
        chain = _chain(node)
        if chain is None or chain[0] not in context:
            continue
        bad = _first_unknown(context[chain[0]], chain[1:])
        path = ".".join(chain[: bad + 2]) if bad is not None else None
        if path and path not in seen:
            seen.add(path)
            problems.append(Problem(shown, node.lineno, path, f"the inputs provide no '{path}'"))
    return sorted(problems)


def _chain(node: nodes.Getattr) -> list[str] | None:
    """``a.b.c`` as ['a', 'b', 'c'] for a chain rooted at a name; None otherwise."""
    attrs = []
    while isinstance(node, nodes.Getattr):
        attrs.append(node.attr)
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    return [node.name, *reversed(attrs)]


def _first_unknown(tp: Any, attrs: list[str]) -> int | None:
    for i, attr in enumerate(attrs):
        if isinstance(tp, frozenset):
            if attr not in tp:
                return i
            return None
        if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
            return None  # not a model: nothing more to check
        if attr in tp.model_fields:
            tp = model_in(tp.model_fields[attr].annotation)
            if tp is None:
                return None  # a plain value, list or mapping: not checked further
        elif hasattr(tp, attr):
            return None  # a property or method
        else:
            return i
    return None


def render(env: SandboxedEnvironment, name: str, context: dict[str, Any]) -> str:
    return env.get_template(name).render(**context)
