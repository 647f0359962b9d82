"""A run's drafts out of ladder: a sheet for reviewers (xlsx, csv: one row per draft, with empty
``decision`` and ``comment`` columns to fill in and import back), and documents for a CMS (md with
YAML front matter, json, jsonl: the same fields; ``publish.py`` sends the json form).

Everything is written atomically: a file through a temporary file and a rename, a folder of
documents built beside its target and renamed into place, so a reader never sees half an export.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from pipeline.files import atomic_write, follow_umask
from pipeline.review.decisions import Decision, inert
from pipeline.runs.artifacts import Draft, Run

FORMATS = ("xlsx", "csv", "md", "json", "jsonl")
SHEET_COLUMNS = ("id", "run_id", "segment", "channel", "language", "target_step", "primary_step", "verdict",
                 "score", "revisions", "findings", "text", "content_hash", "decision", "comment")


def document(run: Run, draft: Draft, decision: Decision | None, exported_at: str | None = None) -> dict[str, Any]:
    """A piece as the CMS receives it: the stable id, its facts, and the rendered body. Nothing in
    it comes from the clock unless ``exported_at`` is given (files do; a publish does not, so the
    same content version is the same body under the same idempotency key, retried or resent)."""
    doc = {
        "id": draft.id,
        "campaign": run.campaign,
        "language": draft.job.language,
        "segment": draft.job.segment,
        "channel": draft.job.channel,
        "target_step": draft.job.step,
        "primary_step": draft.primary_step,
        "verdict": draft.status,
        "score": draft.score,
        "decision": decision.decision if decision else None,
        "content_hash": draft.content_hash,
        "run_id": run.id,
        "created_at": run.created_at,
        "exported_at": exported_at,
        "format": Path(draft.output).suffix.lstrip(".") if draft.output else None,
        "body": draft.text,
    }
    if exported_at is None:
        del doc["exported_at"]
    return doc


def pieces(run: Run, decisions: dict[str, Decision], approved_only: bool) -> list[Draft]:
    """Drafts with a rendered piece; with ``approved_only``, those whose latest decision on this
    run approves this very content."""
    out = [d for d in run.drafts if d.text is not None]
    if approved_only:
        out = [d for d in out if (x := decisions.get(d.id)) and x.decision == "approve"
               and x.content_hash == d.content_hash]
    return out


def export(run: Run, decisions: dict[str, Decision], fmt: str, dest: Path, approved_only: bool = False) -> int:
    drafts = pieces(run, decisions, approved_only)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if fmt in ("xlsx", "csv"):
        _sheet(run, drafts, decisions, fmt, dest)
    elif fmt == "jsonl":
        atomic_write(dest, "".join(json.dumps(document(run, d, decisions.get(d.id), now), ensure_ascii=False) + "\n"
                                   for d in drafts))
    else:
        _folder(dest, {f"{d.id}.{fmt}": _md(document(run, d, decisions.get(d.id), now)) if fmt == "md" else
                       json.dumps(document(run, d, decisions.get(d.id), now), ensure_ascii=False, indent=2) + "\n"
                       for d in drafts})
    return len(drafts)


def _md(doc: dict[str, Any]) -> str:
    front = {k: v for k, v in doc.items() if k != "body"}
    return "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n\n" + (doc["body"] or "")


def _sheet(run: Run, drafts: list[Draft], decisions: dict[str, Decision], fmt: str, dest: Path) -> None:
    import pandas as pd

    rows = []
    for d in drafts:
        x = decisions.get(d.id)
        rows.append({
            "id": d.id, "run_id": run.id, "segment": d.job.segment, "channel": d.job.channel,
            "language": d.job.language, "target_step": d.job.step, "primary_step": d.primary_step,
            "verdict": d.status, "score": d.score, "revisions": d.revisions,
            "findings": "\n".join(f"{f.level}: {f.rule}: {f.message}" for f in d.findings),
            "text": d.text, "content_hash": d.content_hash,
            "decision": x.decision if x else "", "comment": x.comment if x else "",
        })
    frame = pd.DataFrame([{k: inert(v) for k, v in r.items()} for r in rows], columns=list(SHEET_COLUMNS))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=f".{fmt}")
    try:
        follow_umask(fd)
        os.close(fd)
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                frame.to_excel(writer, index=False, sheet_name="drafts")
                sheet = writer.sheets["drafts"]
                for row in sheet.iter_rows(min_row=2):
                    for cell in row:
                        if isinstance(cell.value, str):
                            cell.data_type = "s"  # text, never a formula, whatever it starts with
                for col, width in zip("ABCDEFGHIJKLMNO", (38, 24, 14, 14, 6, 6, 6, 9, 6, 6, 50, 70, 16, 12, 40)):
                    sheet.column_dimensions[col].width = width
                sheet.freeze_panes = "B2"
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _folder(dest: Path, files: dict[str, str]) -> None:
    """Write ``files`` into a new folder beside ``dest``, then swap it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        follow_umask(tmp, directory=True)
        for name, content in files.items():
            (tmp / name).write_text(content, encoding="utf-8")
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
