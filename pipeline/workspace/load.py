"""Stage 1, load: read a workspace's files into a validated ``Workspace``.

Every problem is collected, never just the first, and each names the file, the line and the
key path (``segments/cfo.yaml:14 vocabulary.avoid[2].replacement: field required``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import Problem
from pipeline.files import outside_workspace
from pipeline.workspace import templating
from pipeline.workspace.models import (
    STEPS,
    ID_PATTERN,
    LANGUAGE_PATTERN,
    CampaignConfig,
    Channel,
    ChannelsFile,
    CoreStatement,
    Ladder,
    Segment,
    Workspace,
)

CONFIG_FILE = "ladder.yaml"
CHANNELS_FILE = "channels.yaml"
CORE_FILE = "segments/core.yaml"
SHEET_SUFFIXES = (".csv", ".xlsx")
LIST_SEPARATOR = ";"


# --- YAML with line numbers ------------------------------------------------------------------

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class YamlError(Exception):
    def __init__(self, line: int | None, message: str):
        self.line, self.message = line, message


# Bounds for what a workspace file may make the parser do: PyYAML composes nested values
# recursively, and an alias re-uses a value, so a small file could nest or expand without end.
MAX_DEPTH = 100
MAX_ALIAS_VALUES = 10_000  # values that aliases may add beyond the file's own
MAX_FILE_BYTES = 5 * 1024 * 1024
# brackets outside quotes and comments: a quick look at flow nesting, which PyYAML's scanner
# reads ahead in quadratic time before the composer could stop it
FLOW_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|(?:^|\s)#[^\n]*|[\[\]{}]""")
# what YAML 1.1 allows in a stream (PyYAML's reader refuses the rest, without a line)
NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses values nested deeper than MAX_DEPTH while composing."""

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = 0
        self.composed = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):  # an alias makes no new node
            return super().compose_node(parent, index)
        self.depth += 1
        self.composed += 1
        try:
            if self.depth > MAX_DEPTH:
                raise YamlError(self.peek_event().start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML into plain data plus a map from key path to 1-based line.

    Control characters, nesting deeper than MAX_DEPTH, an alias that contains itself and
    aliases expanding to more than MAX_ALIAS_VALUES values are refused with their line."""
    bad = NOT_PRINTABLE.search(text)
    if bad:
        what = "a NUL byte" if bad.group() == "\0" else f"the control character U+{ord(bad.group()):04X}"
        raise YamlError(text.count("\n", 0, bad.start()) + 1, f"{what}: YAML text may not contain control characters")
    depth = 0
    for token in FLOW_TOKENS.finditer(text):
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(token.group(), 0)
        if depth > 2 * MAX_DEPTH:
            raise YamlError(text.count("\n", 0, token.start()) + 1, f"nested more than {MAX_DEPTH} levels deep")
    lines: dict[Loc, int] = {}
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        budget = loader.composed + MAX_ALIAS_VALUES
        built = 0
        open_nodes: set[int] = set()

        def build(node: yaml.Node, loc: Loc) -> Any:
            nonlocal built
            built += 1
            if built > budget:
                raise YamlError(node.start_mark.line + 1, f"aliases expand to more than {MAX_ALIAS_VALUES:,} values")
            lines[loc] = node.start_mark.line + 1
            if isinstance(node, yaml.ScalarNode):
                return loader.construct_object(node, deep=True)
            if id(node) in open_nodes:
                raise YamlError(node.start_mark.line + 1, "recursive alias: a value that contains itself")
            open_nodes.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    out: dict[Any, Any] = {}
                    for key_node, value_node in node.value:
                        key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                        if not isinstance(key, str | int | float | bool):
                            raise YamlError(key_node.start_mark.line + 1, "a key must be a plain value")
                        if key in out:
                            raise YamlError(key_node.start_mark.line + 1, f"duplicate key '{key}'")
                        out[key] = build(value_node, (*loc, str(key)))
                        lines[(*loc, str(key))] = key_node.start_mark.line + 1
                    return out
                return [build(item, (*loc, i)) for i, item in enumerate(node.value)]
            finally:
                open_nodes.discard(id(node))

        return build(node, ()), lines
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = e.problem or ""
        if e.context:
            started = e.context_mark.line + 1 if e.context_mark else None
            context = f"{e.context} started at line {started}" if started and mark and started != mark.line + 1 else e.context
            message = f"{context}: {message}"
        raise YamlError(mark.line + 1 if mark else None, f"YAML syntax error: {message}") from None
    except yaml.YAMLError as e:  # pragma: no cover - unmarked errors are rare
        raise YamlError(None, f"YAML syntax error: {e}") from None
    finally:
        loader.dispose()


def line_for(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest existing prefix of ``loc``."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


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


def default_ladder() -> Ladder:
    data = yaml.safe_load((Path(__file__).parent / "ladder.yaml").read_text(encoding="utf-8"))
    return Ladder.model_validate(data)


@dataclass
class Source:
    file: str
    lines: dict[Loc, int]
    base: Loc = ()  # where the object sits inside its file

    def line(self, *loc: str | int) -> int | None:
        return line_for(self.lines, (*self.base, *loc))


class Loader:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []
        self.hashes: dict[str, str] = {}
        self.sources: dict[int, Source] = {}  # id(model) -> where it came from

    def problem(self, file: str, line: int | None, path: str, message: str, level="error") -> None:
        self.problems.append(Problem(file, line, path, message, level))

    def read(self, rel: str) -> str | None:
        data = self.read_bytes(rel)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            self.problem(rel, data.count(b"\n", 0, e.start) + 1, "",
                         f"not UTF-8 text ({e.reason} at byte {e.start}): save the file as UTF-8")
            return None

    def read_bytes(self, rel: str) -> bytes | None:
        """A file's bytes, hashed; None (and a problem) when it cannot be read, is not a plain
        file, is larger than MAX_FILE_BYTES or is a link to a file outside the workspace."""
        path = self.root / rel
        why = outside_workspace(self.root, path)
        if why:
            self.problem(rel, None, "", why)
            return None
        try:
            if path.is_dir():
                self.problem(rel, None, "", "is a folder, not a file")
                return None
            if path.stat().st_size > MAX_FILE_BYTES:
                self.problem(rel, None, "", f"larger than {MAX_FILE_BYTES // 2**20} MiB: not a workspace file")
                return None
            data = path.read_bytes()
        except FileNotFoundError:
            self.problem(rel, None, "", "file not found")
            return None
        except OSError as e:
            self.problem(rel, None, "", f"cannot read: {e.strerror or e}")
            return None
        self.hashes[rel] = hashlib.sha256(data).hexdigest()
        return data

    def model_from_yaml(self, rel: str, model: type[BaseModel]) -> Any:
        text = self.read(rel)
        if text is None:
            return None
        try:
            data, lines = parse_yaml(text)
        except YamlError as e:
            self.problem(rel, e.line, "", e.message)
            return None
        return self.validate(data, model, Source(rel, lines))

    def validate(self, data: Any, model: type[BaseModel], source: Source) -> Any:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem(source.file, source.line(), format_path(source.base), "expected a mapping of keys")
            return None
        try:
            obj = model.model_validate(data)
        except ValidationError as e:
            for p in validation_problems(e, source.file, source.lines, model):
                self.problems.append(p)
            return None
        self.sources[id(obj)] = source
        return obj

    def where(self, obj: BaseModel, *loc: str | int) -> tuple[str, int | None]:
        src = self.sources[id(obj)]
        return src.file, src.line(*loc)

    # segments may come from YAML files or from spreadsheets
    def segments(self) -> list[Segment]:
        folder = self.root / "segments"
        out: list[Segment] = []
        if not folder.is_dir():
            self.problem("segments/", None, "", "folder not found")
            return out
        for path in sorted(folder.iterdir()):
            rel = path.relative_to(self.root).as_posix()
            if rel == CORE_FILE or path.name.startswith("."):
                continue
            if path.suffix in (".yaml", ".yml"):
                seg = self.model_from_yaml(rel, Segment)
                if seg:
                    out.append(seg)
            elif path.suffix in SHEET_SUFFIXES:
                out.extend(self.sheet_segments(rel))
        if not out and not any(p.file.startswith("segments/") for p in self.problems):
            self.problem("segments/", None, "", "no segments: add a segments/<id>.yaml or a .csv/.xlsx sheet")
        return out

    def sheet_segments(self, rel: str) -> list[Segment]:
        import pandas as pd  # only when a sheet is present: pandas takes a while to import

        data = self.read_bytes(rel)
        if data is None:
            return []
        try:
            if rel.endswith(".csv"):
                text = self.csv_text(rel, data)
                if text is None:
                    return []
                frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, index_col=False)
            else:
                frame = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False)
        except Exception as e:  # pandas raises many kinds for a bad sheet
            self.problem(rel, None, "", f"cannot read sheet: {e}")
            return []
        known = set(SHEET_COLUMNS)
        for col in frame.columns:
            if str(col) not in known:
                self.problem(rel, 1, str(col), f"unknown column (allowed: {', '.join(SHEET_COLUMNS)})")
        out = []
        for i, row in enumerate(frame.to_dict("records")):
            line = i + 2  # the header is line 1
            data: dict[str, Any] = {}
            for col, cell in row.items():
                col = str(col)
                cell = str(cell).strip()
                if col not in known or not cell:
                    continue
                _put(data, col.split("."), SHEET_COLUMNS[col](cell))
            lines = {(): line}
            seg = self.validate(data, Segment, Source(rel, lines))
            if seg:
                out.append(seg)
        return out


    def csv_text(self, rel: str, data: bytes) -> str | None:
        """A CSV sheet's text: UTF-8, no row longer than the header (pandas would shift it)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            self.problem(rel, data.count(b"\n", 0, e.start) + 1, "",
                         f"not UTF-8 text ({e.reason} at byte {e.start}): save the sheet as UTF-8 CSV")
            return None
        reader = csv.reader(io.StringIO(text))
        header = next(reader, [])
        long = [(reader.line_num, len(row)) for row in reader if len(row) > len(header)]
        for line, cells in long:
            self.problem(rel, line, "", f"{cells} cells, but the header has {len(header)} columns")
        return None if long else text


def _split(cell: str) -> list[str]:
    return [v.strip() for v in cell.split(LIST_SEPARATOR) if v.strip()]


def _pairs(cell: str) -> list[tuple[str, str]]:
    return [tuple(v.strip() for v in item.split("=", 1)) if "=" in item else (item, "") for item in _split(cell)]


SHEET_COLUMNS = {
    "id": str,
    "name": str,
    "language": str,
    "role": str,
    "priority": str,
    "current_step": str,
    "target_step": str,
    "needs": _split,
    "objections": _split,
    "value_drivers": _split,
    "channels": _split,
    "vocabulary.use": _split,
    "vocabulary.avoid": lambda c: [{"term": t, "replacement": r} for t, r in _pairs(c)],
    "vocabulary.concepts": lambda c: dict(_pairs(c)),
    "tone.formality": str,
    "tone.address": str,
    "tone.energy": str,
    "tone.sentence_length": str,
    "tone.examples": _split,
}


def _put(data: dict, keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        data = data.setdefault(key, {})
    data[keys[-1]] = value


# --- the whole workspace -------------------------------------------------------------------


def load_workspace(root: str | Path) -> tuple[Workspace | None, list[Problem]]:
    """Load and cross-check a workspace. Returns it (or None) and every problem found."""
    root = Path(root)
    ld = Loader(root)
    if not (root / CONFIG_FILE).is_file():
        ld.problem(CONFIG_FILE, None, "", f"not a ladder workspace: {root} has no {CONFIG_FILE} (see `ladder init`)")
        return None, ld.problems
    config: CampaignConfig | None = ld.model_from_yaml(CONFIG_FILE, CampaignConfig)
    channels_file: ChannelsFile | None = ld.model_from_yaml(CHANNELS_FILE, ChannelsFile)
    core: CoreStatement | None = ld.model_from_yaml(CORE_FILE, CoreStatement)
    segments = ld.segments()
    channels = channels_file.channels if channels_file else []
    if channels_file:
        src = ld.sources[id(channels_file)]
        for i, ch in enumerate(channels):
            ld.sources[id(ch)] = Source(src.file, src.lines, ("channels", i))

    ladder = default_ladder()
    if config:
        ladder = _apply_overrides(ladder, config)
    _cross_check(ld, core, segments, channels)
    if config and core and channels:
        _check_templates(ld, segments, channels)

    errors = [p for p in ld.problems if p.level == "error"]
    problems = sorted(set(ld.problems), key=lambda p: (p.file, p.line or 0, p.path, p.message))
    if errors or not (config and core and channels and segments):
        return None, problems
    ws = Workspace(
        root=str(root),
        config=config,
        core=core,
        segments=segments,
        channels=channels,
        ladder=ladder,
        input_hashes=dict(sorted(ld.hashes.items())),
    )
    return ws, problems


def _apply_overrides(ladder: Ladder, config: CampaignConfig) -> Ladder:
    steps = list(ladder.steps)
    for o in config.ladder:
        s = steps[o.step - 1]
        steps[o.step - 1] = s.model_copy(update={"name": {**s.name, **o.name}, "job": {**s.job, **o.job}})
    return Ladder(steps=steps)


def _duplicates(ld: Loader, items: list[Any], what: str) -> None:
    seen: dict[str, Any] = {}
    for item in items:
        if item.id in seen:
            first_file, first_line = ld.where(seen[item.id], "id")
            file, line = ld.where(item, "id")
            ld.problem(file, line, "id", f"duplicate {what} id '{item.id}' (first in {first_file}:{first_line})")
        else:
            seen[item.id] = item


def _cross_check(ld: Loader, core: CoreStatement | None, segments: list[Segment], channels: list[Channel]) -> None:
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


def _check_templates(ld: Loader, segments: list[Segment], channels: list[Channel]) -> None:
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
