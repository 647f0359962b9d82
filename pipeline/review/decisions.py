"""Reviewers' decisions: approve, reject or ask for changes, per draft, kept in the workspace's
SQLite file (``ladder.db``) with the run, the comment, and the hashes of what was reviewed.

The next run acts on the latest decision for each draft id (``run.py``): an approved draft is
kept unless its inputs changed (then it is redrafted and flagged for re-review), "changes" sends
it through revision with the comment as an instruction, and a rejected one is drafted afresh.
Decisions come one at a time (``ladder review set``) or from a filled export sheet
(``ladder review import``); a sheet with any bad row is refused whole, every problem listed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pipeline.errors import InvalidWorkspace, Problem
from pipeline.runs.artifacts import Draft, Run, load_run, plain_id, run_ids
from pipeline.store import Store
from pipeline.workspace.models import Plan, Review

DECISIONS = ("approve", "reject", "changes")
ALIASES = {"approved": "approve", "ok": "approve", "rejected": "reject", "change": "changes",
           "hyväksy": "approve", "hyväksytty": "approve", "hylkää": "reject", "hylätty": "reject",
           "muutoksia": "changes", "muutos": "changes"}


class Decision(BaseModel):
    run_id: str
    draft_id: str
    decision: str
    comment: str = ""
    content_hash: str | None = None
    inputs_hash: str | None = None
    source: str = "cli"
    decided_at: float = 0.0


def normalise(value: str) -> str | None:
    value = value.strip().lower()
    value = ALIASES.get(value, value)
    return value if value in DECISIONS else None


def record(store: Store, run: Run, draft_id: str, decision: str, comment: str = "", source: str = "cli") -> Decision:
    draft = run.draft(draft_id)
    if draft is None:
        raise InvalidWorkspace([Problem("DRAFT_ID", None, "", f"no draft '{draft_id}' in run {run.id}")])
    if decision == "changes" and not comment.strip():
        raise InvalidWorkspace([Problem("--comment", None, "", "a 'changes' decision needs a comment: "
                                        "it is the instruction the next run revises with")])
    d = Decision(run_id=run.id, draft_id=draft_id, decision=decision, comment=comment.strip(),
                 content_hash=draft.content_hash, inputs_hash=draft.inputs_hash, source=source, decided_at=time.time())
    save(store, [d])
    return d


def save(store: Store, decisions: list[Decision]) -> None:
    """All or nothing, in one transaction."""
    store.add_decisions([d.model_dump() for d in decisions])


def _all(store: Store) -> list[Decision]:
    return [Decision(**row) for row in store.decisions()]


def for_run(store: Store, run: Run) -> dict[str, Decision]:
    """The decision on each of ``run``'s drafts: the latest one made on that very content (a
    decision follows the content, so an approved draft a later run kept is still approved), or
    on that run's draft when it has no content."""
    hashes = {d.id: d.content_hash for d in run.drafts}
    out: dict[str, Decision] = {}
    for d in _all(store):
        if d.draft_id in hashes and (d.content_hash == hashes[d.draft_id] if hashes[d.draft_id] else d.run_id == run.id):
            out[d.draft_id] = d
    return out


def for_next_run(store: Store, runs_dir: Path, job_ids: set[str]) -> dict[str, tuple[Decision, Draft]]:
    """What a new run acts on: for each job, the latest decision on its newest draft (in the
    newest earlier run that has it), with that draft."""
    decisions = _all(store)
    if not decisions:
        return {}
    latest_on: dict[tuple[str, str | None], Decision] = {(d.draft_id, d.content_hash): d for d in decisions}
    wanted = job_ids & {d.draft_id for d in decisions}
    out: dict[str, tuple[Decision, Draft]] = {}
    for run_id in reversed(run_ids(runs_dir)):
        if not wanted:
            break
        try:
            run = load_run(runs_dir, run_id)
        except InvalidWorkspace:
            continue  # an unreadable old run: skip it
        for draft in run.drafts:
            if draft.id in wanted and draft.text is not None:
                wanted.discard(draft.id)
                if (d := latest_on.get((draft.id, draft.content_hash))) is not None:
                    out[draft.id] = (d, draft)
    return out


def next_run_reviews(runs_dir: Path, plan: Plan) -> dict[str, Review]:
    """Reviewers' decisions on the latest drafts of ``plan``'s jobs, as the next run acts on
    them (runs/runner.py): with the reviewed draft and the inputs it was made from."""
    if not Store.path_in(runs_dir).is_file():
        return {}
    with Store.at(runs_dir) as store:
        found = for_next_run(store, runs_dir, {j.id for j in plan.jobs})
    return {job_id: Review(decision=d.decision, comment=d.comment, run_id=d.run_id, inputs_hash=draft.inputs_hash,
                           previous=draft.chosen) for job_id, (d, draft) in found.items() if draft.chosen}


def import_sheet(store: Store, runs_dir: Path, path: Path) -> list[Decision]:
    """Decisions from a filled ``ladder export --format xlsx|csv`` sheet: every row with a
    decision. Each decision is bound to what that row showed the reviewer: its run_id and
    content_hash, which must name that draft's content in that run of this workspace (a blank
    one is refused, never read as "the latest"). Any bad row refuses the whole sheet, every
    problem listed with its row and column."""
    import pandas as pd

    try:
        frame = (pd.read_excel(path, dtype=str) if path.suffix.lower() in (".xlsx", ".xlsm")
                 else pd.read_csv(path, dtype=str, keep_default_na=False))
    except FileNotFoundError:
        raise InvalidWorkspace([Problem(str(path), None, "", "file not found")]) from None
    except Exception as e:  # a corrupt or foreign file: say so, no traceback
        raise InvalidWorkspace([Problem(str(path), None, "", f"cannot read the sheet: {e}")]) from None
    frame = frame.fillna("")
    missing = [c for c in ("id", "run_id", "content_hash", "decision", "comment") if c not in frame.columns]
    if missing:
        raise InvalidWorkspace([Problem(str(path), 1, "", f"missing column(s): {', '.join(missing)} "
                                        "(use a sheet written by `ladder export --format xlsx|csv`)")])
    problems: list[Problem] = []
    decisions: list[Decision] = []
    runs: dict[str, Run] = {}
    col = {name: _column(list(frame.columns).index(name))
           for name in ("id", "decision", "comment", "run_id", "content_hash")}
    for i, row in frame.iterrows():
        line = int(i) + 2  # the header is row 1
        row = {k: live(str(v)) for k, v in row.items()}
        raw = str(row["decision"]).strip()
        if not raw:
            continue
        decision = normalise(raw)
        if decision is None:
            problems.append(Problem(str(path), line, f"{col['decision']}{line} decision",
                                    f"'{raw}' is not a decision (use one of: {', '.join(DECISIONS)})"))
            continue
        run_id, content_hash = str(row["run_id"]).strip(), str(row["content_hash"]).strip()
        blank = [name for name, value in (("run_id", run_id), ("content_hash", content_hash)) if not value]
        for name in blank:
            problems.append(Problem(str(path), line, f"{col[name]}{line} {name}", f"blank: the decision must name the "
                                    f"{name.replace('_', ' ')} the reviewer read (use the sheet `ladder export` wrote)"))
        if blank:
            continue
        if not plain_id(run_id) or run_id.startswith("latest"):  # an id of this workspace's runs, not a path
            problems.append(Problem(str(path), line, f"{col['run_id']}{line} run_id",
                                    f"'{run_id}' is not a run id in {runs_dir}"))
            continue
        try:
            if run_id not in runs:
                runs[run_id] = load_run(runs_dir, run_id)
            run = runs[run_id]
        except InvalidWorkspace as e:
            damaged = [str(p) for p in e.problems if p.file != "RUN"]
            problems.append(Problem(str(path), line, f"{col['run_id']}{line} run_id",
                                    f"run '{run_id}' cannot be read: {'; '.join(damaged)}" if damaged
                                    else f"no run '{run_id}' in {runs_dir}"))
            continue
        draft = run.draft(str(row["id"]).strip())
        if draft is None:
            problems.append(Problem(str(path), line, f"{col['id']}{line} id", f"no draft '{row['id']}' in run {run_id}"))
            continue
        if draft.content_hash != content_hash:
            problems.append(Problem(str(path), line, f"{col['content_hash']}{line} content_hash",
                                    f"not the content of {draft.id} in run {run_id}: the sheet and the run disagree"))
            continue
        comment = str(row["comment"]).strip()
        if decision == "changes" and not comment:
            problems.append(Problem(str(path), line, f"{col['comment']}{line} comment",
                                    "a 'changes' decision needs a comment: the instruction for the revision"))
            continue
        decisions.append(Decision(run_id=run.id, draft_id=draft.id, decision=decision, comment=comment,
                                  content_hash=content_hash, inputs_hash=draft.inputs_hash,
                                  source=f"sheet:{path.name}", decided_at=time.time()))
    if problems:
        raise InvalidWorkspace(problems)
    save(store, decisions)
    return decisions


def _column(index: int) -> str:
    """A spreadsheet column's letters: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# --- sheet cells: what export writes and import reads back ----------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as a formula (OWASP)
def inert(value: Any) -> Any:
    """A sheet cell that no spreadsheet evaluates: text starting like a formula gets a leading
    apostrophe (OWASP CSV injection); ``live`` undoes it for what is read back."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def live(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value
