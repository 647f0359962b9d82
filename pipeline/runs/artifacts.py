"""The run folder's files, typed and versioned, in one place: ``manifest.json`` (what was
planned), ``run_results.json`` (what happened, one row per job) and one record per job
(``<segment>/<channel>.json``, every attempt). The writer writes them through ``write``; every
reader (the report, export, review, compare, publish, resume, metrics) reads them through
``read`` or ``load_run``. Reading checks ``schema_version``: an older file is upgraded step by
step (``UPGRADES``), one newer than this ladder knows or with no upgrade path is refused with a
message naming the file and its version (exit 2). Nothing here calls a model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.errors import InvalidWorkspace, Problem
from pipeline.files import atomic_write
from pipeline.workspace.models import Attempt, Finding, Job, Skipped, Usage

SCHEMA_VERSION = 1

# version n → a function that turns a version-n file's data into version n+1's. Version 1 is the
# first; a change to the files' shape bumps SCHEMA_VERSION and adds its step here, so files that
# earlier ladders wrote keep loading.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class Artifact(BaseModel):
    """A run file. Unknown keys are kept (a newer ladder's additions survive a rewrite)."""

    model_config = ConfigDict(extra="allow")
    FILE: ClassVar[str] = ""  # the file's name, for messages
    REQUIRED: ClassVar[dict[str, type]] = {}  # the keys a file must have to be this kind at all

    schema_version: int = SCHEMA_VERSION


class Manifest(Artifact):
    """What a run planned: inputs' hashes, model and parameters, prompt and template hashes, jobs."""

    ladder_version: str = ""
    run_id: str
    created_at: str
    campaign: str
    arguments: dict[str, Any] = {}
    model: dict[str, Any] = {}
    revise_rounds: int | None = None
    inputs: dict[str, str] = {}
    prompts: dict[str, str] = {}
    templates: dict[str, str] = {}
    ladder: str | None = None
    lemmatizers: dict[str, str] = {}
    jobs: list[Job] = []
    skipped: list[Skipped] = []

    def model_arguments(self) -> dict[str, Any]:
        """The flags a resumed run keeps: the model's, not the job selection's."""
        return {k: v for k, v in self.arguments.items() if k not in ("segments", "channels", "revise_rounds")}


class ResultRow(BaseModel):
    """One job's line in run_results.json: enough for a table without opening its record."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    segment: str
    channel: str
    language: str
    step: int
    kind: str = "ladder"
    status: str
    note: str | None = None
    inputs_hash: str | None = None
    output: str | None = None
    content_hash: str | None = None
    primary_step: int | None = None
    chosen_attempt: int | None = None
    attempts: int = 0
    score: int | None = None
    findings: list[dict[str, Any]] = []
    errors: list[str] = []
    usage: Usage = Usage()
    model_calls: int = 0
    seconds: float = 0.0

    @property
    def job(self) -> Job:
        return Job(id=self.job_id, segment=self.segment, channel=self.channel, language=self.language,
                   step=self.step, kind=self.kind)


class RunResults(Artifact):
    """What happened: the run's status, a summary and a row per job (plus metrics once computed)."""

    ladder_version: str = ""
    run_id: str = ""
    status: str = "complete"
    started_at: str = ""
    updated_at: str = ""
    summary: dict[str, Any]
    results: list[ResultRow]


class JobRecord(Artifact):
    """One job's file: every attempt, and which one was chosen."""

    job: Job | None = None
    status: str | None = None
    note: str | None = None
    inputs_hash: str | None = None
    output: str | None = None
    content_hash: str | None = None
    chosen_attempt: int | None = None
    attempts: list[Attempt] = []
    reuse_key: str | None = None  # runs/reuse.py


Manifest.FILE, Manifest.REQUIRED = "manifest.json", {"run_id": str, "campaign": str, "created_at": str}
RunResults.FILE, RunResults.REQUIRED = "run_results.json", {"results": list, "summary": dict}
JobRecord.FILE = "<segment>/<channel>.json"

A = TypeVar("A", bound=Artifact)


def dump(artifact: BaseModel) -> str:
    """Indented JSON, UTF-8 as it is; pydantic's serializer writes what ``json.dumps(...,
    ensure_ascii=False, indent=2)`` of the model's JSON dump would, several times faster."""
    return artifact.model_dump_json(indent=2) + "\n"


def write(path: Path, artifact: Artifact, sync: bool = True) -> None:
    """Write a run file atomically (temp file, then rename)."""
    atomic_write(path, dump(artifact), sync=sync)


def read(path: Path, kind: type[A]) -> A:
    """A run file as ``kind``, upgraded to this ladder's schema version; anything that is not
    such a file (damaged, another shape, a version this ladder cannot read) is an
    InvalidWorkspace naming the file and what is wrong."""
    data = read_json(path)
    if kind.REQUIRED and not set(kind.REQUIRED) & set(data):  # none of its keys: another program's JSON
        _require(path, data, kind.REQUIRED)
    data = upgrade(path, data)
    _require(path, data, kind.REQUIRED)  # after the upgrade: an upgrade may rename one of them
    try:
        return kind.model_validate(data)
    except ValidationError as e:
        raise InvalidWorkspace([Problem(str(path), None, ".".join(map(str, err["loc"])), f"not a ladder run file: "
                                        f"{err['msg']}") for err in e.errors()[:5]]) from None


def upgrade(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The file's data at SCHEMA_VERSION, or refused: too new, or too old for any upgrade."""
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidWorkspace([Problem(str(path), None, "schema_version", f"'{version}' is not a schema version "
                                        f"this ladder knows (it reads 1 to {SCHEMA_VERSION})")])
    if version > SCHEMA_VERSION:
        raise InvalidWorkspace([Problem(str(path), None, "schema_version", f"written by a newer ladder (schema "
                                        f"version {version}; this one reads up to {SCHEMA_VERSION}): upgrade ladder "
                                        "to read it")])
    while version < SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise InvalidWorkspace([Problem(str(path), None, "schema_version", f"schema version {version} cannot "
                                            f"be upgraded to {SCHEMA_VERSION}: rerun with this ladder")])
        data = {**step(data), "schema_version": version + 1}
        version += 1
    return data


class Draft(BaseModel):
    """One job's outcome as reviewers and the CMS see it: the chosen version, rendered."""

    id: str  # the stable id: campaign.segment.channel
    job: Job
    status: str
    note: str | None = None
    score: int | None = None
    passed: bool = False
    primary_step: int | None = None
    findings: list[Finding] = []
    attempts: int = 0
    revisions: int = 0
    parts: dict[str, str] = {}
    text: str | None = None  # the rendered piece
    output: str | None = None  # its path in the run folder
    content_hash: str | None = None
    inputs_hash: str | None = None
    usage: Usage = Usage()
    chosen: Attempt | None = None


class Run(BaseModel):
    id: str
    dir: Path
    campaign: str
    created_at: str
    manifest: Manifest
    results: RunResults
    summary: dict[str, Any]
    metrics: dict[str, Any] = {}
    drafts: list[Draft]

    def draft(self, draft_id: str) -> Draft | None:
        return next((d for d in self.drafts if d.id == draft_id), None)


def run_ids(runs_dir: Path) -> list[str]:
    """Run folders under ``runs_dir``, oldest first (ids from the same second do not sort)."""
    if not runs_dir.is_dir():
        return []
    manifests = sorted(runs_dir.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime_ns)
    return [p.parent.name for p in manifests]


def resolve(runs_dir: Path, ref: str | None) -> Path:
    """A run folder from an id, ``latest`` (or None), ``latest~N`` (the one N before it) or a path."""
    ref = ref or "latest"
    ids = run_ids(runs_dir)
    if ref == "latest" or (ref.startswith("latest~") and ref[7:].isdigit()):
        back = int(ref[7:] or 0)
        if len(ids) > back:
            return runs_dir / ids[-1 - back]
    elif (runs_dir / ref / "manifest.json").is_file():
        return runs_dir / ref
    elif (Path(ref) / "manifest.json").is_file():
        return Path(ref)
    known = f" (runs: {', '.join(ids[-5:])})" if ids else ""
    raise InvalidWorkspace([Problem("RUN", None, "", f"no run '{ref}' in {runs_dir}{known}")])


def plain_id(ref: str) -> bool:
    """A bare run folder name (what a sheet row or ``--resume`` may name): no path, no ``..``."""
    return bool(ref) and ref not in (".", "..") and not any(c in ref for c in "/\\\0:") and not Path(ref).is_absolute()


def load_run(runs_dir: Path, ref: str | None = None) -> Run:
    """The run ``ref`` names, read back; a damaged file is an InvalidWorkspace naming it."""
    folder = resolve(runs_dir, ref)
    manifest = read(folder / "manifest.json", Manifest)
    results = read(folder / "run_results.json", RunResults)
    drafts = [_draft(folder, row) for row in results.results]
    metrics = getattr(results, "metrics", None)
    return Run(id=manifest.run_id, dir=folder, campaign=manifest.campaign, created_at=manifest.created_at,
               manifest=manifest, results=results, summary=results.summary,
               metrics=metrics if isinstance(metrics, dict) else {}, drafts=drafts)


def job_record_path(folder: Path, job: Job) -> Path:
    return folder / job.segment / f"{job.channel}.json"


def _draft(folder: Path, row: ResultRow) -> Draft:
    where = str(folder / "run_results.json")
    try:
        job = row.job
    except ValidationError as e:
        raise InvalidWorkspace([Problem(where, None, row.job_id, f"not a job result: {_why(e)}")]) from None
    record_file = job_record_path(folder, job)
    record = read(record_file, JobRecord) if record_file.is_file() else JobRecord()
    attempts = record.attempts
    chosen = next((a for a in attempts if a.n == record.chosen_attempt), None)
    text = read_output(folder, job.id, row.output) if row.output else None
    usage = Usage()
    for a in attempts:
        usage = usage + a.usage
    return Draft(
        id=job.id, job=job, status=row.status, note=row.note, score=row.score,
        passed=bool(chosen and chosen.check and chosen.check.passed),
        primary_step=chosen.check.primary_step if chosen and chosen.check else None,
        findings=chosen.check.findings if chosen and chosen.check else [],
        attempts=len(attempts), revisions=sum(a.source == "revision" for a in attempts),
        parts=chosen.parts if chosen else {}, text=text, output=row.output,
        content_hash=row.content_hash, inputs_hash=row.inputs_hash, usage=usage, chosen=chosen,
    )


def output_problem(folder: Path, output: Any) -> str | None:
    """Why a job's ``output`` (a path relative to its run folder) may not be read, or None: it
    must name a file inside the run folder (no absolute path, no ``..`` out, no link out)."""
    if not isinstance(output, str) or not output.strip():
        return "output is not a file name"
    try:
        inside = not Path(output).is_absolute() and (folder / output).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):  # a NUL byte, a loop of links
        inside = False
    return None if inside else f"output '{output}' is outside the run folder: not read"


def read_output(folder: Path, job_id: str, output: Any) -> str:
    """A job's rendered piece, read only from inside its run folder."""
    where = str(folder / "run_results.json")
    if why := output_problem(folder, output):
        raise InvalidWorkspace([Problem(where, None, job_id, why)])
    try:
        return (folder / output).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidWorkspace([Problem(where, None, job_id, f"output '{output}' is missing")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidWorkspace([Problem(where, None, job_id, f"cannot read output '{output}': "
                                        f"{getattr(e, 'strerror', None) or e}")]) from None


def read_json(path: Path) -> dict[str, Any]:
    """A run file's JSON object; anything else (missing, truncated, garbage, another shape) is
    an InvalidWorkspace naming the file and what is wrong."""
    def bad(message: str) -> InvalidWorkspace:
        return InvalidWorkspace([Problem(str(path), None, "", message)])

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad("missing: not a complete run folder") from None
    except UnicodeDecodeError:
        raise bad("not valid JSON (not UTF-8 text)") from None
    except OSError as e:
        raise bad(f"cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise bad(f"not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}") from None
    except RecursionError:
        raise bad("not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise bad(f"not a ladder run file: a JSON {type(data).__name__}, not an object")
    return data


def _require(path: Path, data: dict[str, Any], fields: dict[str, type]) -> None:
    """Refuse a run file without ``fields`` of these types, naming the file and the field."""
    for name, kind in fields.items():
        if not isinstance(data.get(name), kind):
            raise InvalidWorkspace([Problem(str(path), None, "", f"not a ladder run file: '{name}' is " + (
                "missing" if name not in data else f"a {type(data[name]).__name__}, not a {kind.__name__}"))])


def _why(e: Exception) -> str:
    if isinstance(e, KeyError):
        return f"'{e.args[0]}' is missing"
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        return f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}"
    return str(e)
