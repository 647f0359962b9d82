"""Reusing checked results: a job of a new run whose inputs, model settings, check policy and
ladder version are all what they were for that job in the latest run takes that run's checked
result instead of drafting and checking again. Its replies would come from the reply cache and
its checks would come out the same, so this only skips work, not decisions.

The key (``reuse_key``) is a SHA-256 over every workspace file's hash (a check reads other
segments too), every prompt and layout file (one may include another), the job's own inputs
(``job_inputs_hashes``: its prompts and layout included), the
settings that shape a reply, ladder's version and its rule data. It is written in each job
record; a run with --refresh, --no-cache or --batch, and a job a reviewer decided on, reuse
nothing."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.files import example_dir
from pipeline.lang import lemma
from pipeline.runs.artifacts import JobRecord, job_record_path, read, run_ids
from pipeline.workspace.models import Job, JobResult, Usage, Workspace

# The model settings that shape a reply (the rest: how fast, how often, how much; not what).
CONTENT_SETTINGS = ("endpoint", "model", "gguf", "temperature", "seed", "structured_output", "reasks", "judge_model")
STAGES = Path(__file__).resolve().parents[1] / "stages"


@lru_cache(maxsize=1)
def _rule_data() -> str:
    """The check's data files, hashed: the rules' word lists, the ladder signals, the reader's weights."""
    h = hashlib.sha256()
    for name in ("check_rules.yaml", "ladder_signals.yaml", "reader_model.json"):
        path = STAGES / name
        h.update(path.read_bytes() if path.is_file() else b"")
    return h.hexdigest()


def template_files(ws: Workspace) -> str:
    """A hash of every file in the prompt and layout folders, the workspace's and the shipped
    ones: a template a prompt or layout includes (``{% include %}``) counts as much as the
    template itself."""
    h = hashlib.sha256()
    for root in dict.fromkeys((Path(ws.root), example_dir())):
        for folder in ("prompts", "templates"):
            for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
                if path.is_file():
                    try:
                        digest = hashlib.sha256(path.read_bytes()).digest()
                    except OSError:  # unreadable: counted by its name (a template that reads it fails in preflight)
                        digest = b"unreadable"
                    h.update(f"{path.relative_to(root).as_posix()}\0".encode() + digest)
    return h.hexdigest()


def reuse_key(ws: Workspace, inputs_hash: str, model: dict[str, Any], judge: dict[str, Any] | None,
              templates: str) -> str:
    """The key of a job whose own inputs hash to ``inputs_hash`` (writer.job_inputs_hashes);
    ``templates``: ``template_files(ws)``, computed once for all the jobs."""
    data = {
        "workspace": ws.input_hashes,
        "templates": templates,
        "job": inputs_hash,
        "checks": ws.config.model_dump(mode="json", include={"checks", "revise_rounds"}),
        "model": {k: model.get(k) for k in CONTENT_SETTINGS},
        "judge": {k: judge.get(k) for k in CONTENT_SETTINGS} if judge else None,
        "ladder": __version__,
        "rules": _rule_data(),
        "lemmas": lemma.backend("fi"),  # Voikko installed or removed since: the checks read other base forms
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def reusable(runs_dir: Path, this_run: str, keys: dict[str, str], jobs: list[Job]) -> dict[str, JobResult]:
    """The jobs of the latest other run whose record carries the same key and a checked result
    (passed or failed), as this run's results: no usage, no model calls, a note saying so."""
    earlier = [r for r in run_ids(runs_dir) if r != this_run]
    if not earlier:
        return {}
    folder = runs_dir / earlier[-1]
    found = {}
    for job in jobs:
        path = job_record_path(folder, job)
        if job.id not in keys or not path.is_file():
            continue
        record = read(path, JobRecord)
        if record.reuse_key != keys[job.id] or record.status not in ("passed", "failed") or not record.attempts:
            continue
        attempts = [a.model_copy(update={"usage": Usage(), "model_calls": 0, "seconds": 0.0}) for a in record.attempts]
        found[job.id] = JobResult(job=job, status=record.status, attempts=attempts, inputs_hash=record.inputs_hash,
                                  note=f"reused from run {earlier[-1]}: inputs, settings and rules unchanged",
                                  reuse_key=keys[job.id])
    return found
