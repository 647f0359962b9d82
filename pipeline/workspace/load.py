"""Stage 1, load: read a workspace's files into a validated ``Workspace``.

Every problem is collected, never just the first, and each names the file, the line and the
key path (``segments/cfo.yaml:14 vocabulary.avoid[2].replacement: field required``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import Problem
from pipeline.files import outside_workspace
from pipeline.workspace import crosscheck, sheets
from pipeline.workspace.messages import validation_problems
from pipeline.workspace.models import (
    CHANNELS_FILE,
    CONFIG_FILE,
    CORE_FILE,
    SHEET_SUFFIXES,
    CampaignConfig,
    ChannelsFile,
    CoreStatement,
    Ladder,
    Segment,
    Workspace,
)
from pipeline.workspace.yaml_lines import MAX_FILE_BYTES, Source, YamlError, format_path, parse_yaml


def default_ladder() -> Ladder:
    data = yaml.safe_load((Path(__file__).parent / "ladder.yaml").read_text(encoding="utf-8"))
    return Ladder.model_validate(data)


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
                out.extend(sheets.sheet_segments(self, rel))
        if not out and not any(p.file.startswith("segments/") for p in self.problems):
            self.problem("segments/", None, "", "no segments: add a segments/<id>.yaml or a .csv/.xlsx sheet")
        return out

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
        first: dict[int, int | None] = {}
        for i, o in enumerate(config.ladder):
            line = ld.where(config, "ladder", i, "step")[1]
            if o.step in first:
                ld.problem(CONFIG_FILE, line, f"ladder[{i}].step", f"step {o.step} is reworded twice (first at line "
                           f"{first[o.step]}): give each step's name and job once")
            first.setdefault(o.step, line)
    crosscheck.cross_check(ld, core, segments, channels)
    if config and core and channels:
        crosscheck.check_templates(ld, segments, channels)

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


