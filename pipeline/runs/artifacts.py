"""A finished run, read back from its folder: what the report, export, review, compare and
publish stages work from. The run folder is the record (manifest.json, run_results.json, one
JSON file and one rendered piece per job); nothing here calls a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pipeline.errors import InvalidWorkspace, Problem
from pipeline.workspace.models import Attempt, Finding, Job, Usage


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
    manifest: dict[str, Any]
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
    manifest = read_json(folder / "manifest.json", {"run_id": str, "campaign": str, "created_at": str})
    results = read_json(folder / "run_results.json", {"results": list, "summary": dict})
    drafts = [_draft(folder, i, row) for i, row in enumerate(results["results"])]
    metrics = results.get("metrics") if isinstance(results.get("metrics"), dict) else {}
    return Run(id=manifest["run_id"], dir=folder, campaign=manifest["campaign"], created_at=manifest["created_at"],
               manifest=manifest, summary=results["summary"], metrics=metrics, drafts=drafts)


def _draft(folder: Path, i: int, row: Any) -> Draft:
    where = str(folder / "run_results.json")
    try:
        job = Job(**{k: row[k] for k in ("segment", "channel", "language", "step", "kind")}, id=row["job_id"])
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidWorkspace([Problem(where, None, f"results[{i}]", f"not a job result: {_why(e)}")]) from None
    record_file = folder / job.segment / f"{job.channel}.json"
    record = read_json(record_file) if record_file.is_file() else {"attempts": [], "chosen_attempt": None}
    try:
        attempts = [Attempt(**a) for a in record.get("attempts") or []]
    except (TypeError, ValueError) as e:
        raise InvalidWorkspace([Problem(str(record_file), None, "attempts", f"not a job record: {_why(e)}")]) from None
    chosen = next((a for a in attempts if a.n == record.get("chosen_attempt")), None)
    output = row.get("output")
    text = read_output(folder, job.id, output) if output else None
    usage = Usage()
    for a in attempts:
        usage = usage + a.usage
    try:
        return Draft(
            id=job.id, job=job, status=row["status"], note=row.get("note"), score=row.get("score"),
            passed=bool(chosen and chosen.check and chosen.check.passed),
            primary_step=chosen.check.primary_step if chosen and chosen.check else None,
            findings=chosen.check.findings if chosen and chosen.check else [],
            attempts=len(attempts), revisions=sum(a.source == "revision" for a in attempts),
            parts=chosen.parts if chosen else {}, text=text, output=output,
            content_hash=row.get("content_hash"), inputs_hash=row.get("inputs_hash"), usage=usage, chosen=chosen,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidWorkspace([Problem(where, None, job.id, f"not a job result: {_why(e)}")]) from None


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


def read_json(path: Path, fields: dict[str, type] | None = None) -> dict[str, Any]:
    """A run file's JSON object, with ``fields`` of these types; anything else (missing,
    truncated, garbage, another shape) is an InvalidWorkspace naming the file and what is wrong."""
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
    for name, kind in (fields or {}).items():
        if not isinstance(data.get(name), kind):
            raise bad(f"not a ladder run file: '{name}' is " + ("missing" if name not in data else
                      f"a {type(data[name]).__name__}, not a {kind.__name__}"))
    return data


def _why(e: Exception) -> str:
    if isinstance(e, KeyError):
        return f"'{e.args[0]}' is missing"
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        return f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}"
    return str(e)
