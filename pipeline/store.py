"""The model layer's SQLite file (``<outputs>/ladder.db``): a reply cache and a call log.

Cache: every reply is stored under the SHA-256 of the canonical JSON of the request, so a rerun
with unchanged inputs makes no model call. The canonical form is
``json.dumps({"endpoint": E, "model": M, "params": P, "messages": MSGS}, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` where E is the endpoint with credentials and query
string removed ("embedded" for the embedded model), P every request parameter except ``model``
and ``messages`` (temperature, seed, max_tokens, response_format...), and MSGS the messages as
sent. The n-th identical request within one run (n ≥ 1) is stored under SHA-256 of
"<key>#<n>", so a revision round that asks exactly the same again gets a fresh sample, and a rerun
replays the same sequence. Only complete replies are cached (finish_reason "stop"); a reply cut off or filtered is
asked again next time.

Decisions: reviewers' approve / reject / changes per draft, with the run, comment and the
hashes of the content and inputs they saw (review.py). Published: the publish ledger, one row per
piece and content version delivered to a URL (publish.py).

Batches: each batch a run submitted (``--batch``), so a resumed run polls the one it left
instead of submitting again.

Call log: every request, cached or not, with its parameters, messages, reply, usage, duration,
transport attempts, run and job. API keys are never part of a request's parameters and are never
stored.

All SQL lives here: the stages call ``Store``'s methods. The schema's version is SQLite's
``PRAGMA user_version``; ``MIGRATIONS`` are applied in order, each in its own transaction, when a
file is opened. Migration 1 is the schema ladder 0.1 created without a version, so a ``ladder.db``
from before migrations (user_version 0 with ladder's tables) is recognised by its tables and
stamped, not rebuilt. A file from a newer ladder (a higher version) is refused, not downgraded.
"""

from __future__ import annotations

import errno
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from pipeline.errors import CannotWrite, InvalidWorkspace, Problem
from pipeline.files import writing

# (name, SQL): append only, never edit one that has shipped.
MIGRATIONS: list[tuple[str, str]] = [("initial: replies, calls, decisions, published, batches", """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    content TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    run_id TEXT,
    job_id TEXT,
    endpoint TEXT,
    model TEXT NOT NULL,
    params TEXT NOT NULL,
    messages TEXT NOT NULL,
    reply TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL,
    attempts INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    cache_key TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS calls_run_job ON calls (run_id, job_id);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    draft_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject', 'changes')),
    comment TEXT NOT NULL DEFAULT '',
    content_hash TEXT,
    inputs_hash TEXT,
    source TEXT NOT NULL,
    decided_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_draft ON decisions (draft_id, id);
CREATE TABLE IF NOT EXISTS published (
    url TEXT NOT NULL,
    piece_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    run_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    published_at REAL NOT NULL,
    PRIMARY KEY (url, piece_id, content_hash)
);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    input_file_id TEXT NOT NULL,
    requests INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    closed_at REAL
);
""")]


def _statements(sql: str) -> list[str]:
    return [part.strip() for part in sql.split(";") if part.strip()]


def _expected_columns(version: int) -> dict[str, set[str]]:
    """Each of ladder's tables and its columns at schema ``version``."""
    want = sqlite3.connect(":memory:")
    try:
        for _, sql in MIGRATIONS[:version]:
            for statement in _statements(sql):
                want.execute(statement)
        tables = [r[0] for r in want.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: {r[1] for r in want.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        want.close()


def _foreign_tables(db: sqlite3.Connection) -> str | None:
    """Which of ladder's tables (as migration 1 made them: the unversioned release's) an existing
    file has with other columns (another program's SQLite file), or None."""
    odd = [t for t, columns in _expected_columns(1).items()
           if (have := {r[1] for r in db.execute(f"PRAGMA table_info({t})")}) and not columns <= have]
    return f"table(s) {', '.join(odd)} lack ladder's columns" if odd else None


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file to the latest schema version, one named migration at a time. A file at
    version 0 with ladder's tables (made before migrations) is checked by its tables first."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise _not_ours(path, f"schema version {version}, made by a newer ladder; this one knows up to "
                              f"{len(MIGRATIONS)}: upgrade ladder")
    if version == 0 and (wrong := _foreign_tables(db)):
        raise _not_ours(path, wrong)
    while version < len(MIGRATIONS):
        db.execute("BEGIN IMMEDIATE")  # one process migrates; another waits, then finds it done
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < len(MIGRATIONS):
                for statement in _statements(MIGRATIONS[version][1]):
                    db.execute(statement)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _not_ours(path: Path, why: str) -> InvalidWorkspace:
    return InvalidWorkspace([Problem(str(path), None, "", f"not a ladder database ({why})")])


def canonical(endpoint: str, params: dict[str, Any]) -> str:
    body = {k: v for k, v in params.items() if k not in ("model", "messages")}
    return json.dumps({"endpoint": endpoint, "model": params["model"], "params": body,
                       "messages": params["messages"]}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(endpoint: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(endpoint, params).encode("utf-8")).hexdigest()


def repeat_key(key: str, n: int) -> str:
    """The key of the ``n``-th repeat (from 0) within a run of the request whose key is ``key``."""
    return key if n == 0 else hashlib.sha256(f"{key}#{n}".encode()).hexdigest()


# the call log's columns, in the order ``log`` writes them (the table's own id is SQLite's)
_CALL_COLUMNS = ("at", "run_id", "job_id", "endpoint", "model", "params", "messages", "reply", "finish_reason",
                 "prompt_tokens", "completion_tokens", "seconds", "attempts", "cached", "cache_key", "error")


class Store:
    """One connection shared by the run's threads, serialised by a lock; WAL so a reader
    (``ladder logs``) never blocks a run."""

    NAME = "ladder.db"  # beside the run folders, in outputs/

    @classmethod
    def path_in(cls, runs_dir: Path) -> Path:
        """Where the store of the run folders in ``runs_dir`` is."""
        return runs_dir / cls.NAME

    @classmethod
    def at(cls, runs_dir: Path) -> Store:
        """The store beside the run folders in ``runs_dir``, made (and migrated) if need be."""
        return cls(cls.path_in(runs_dir))

    def __init__(self, path: Path):
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.Lock()
        self.db = None
        try:
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            migrate(self.db, path)
        except InvalidWorkspace:
            self.db.close()
            raise
        except sqlite3.DatabaseError as e:
            if self.db is not None:
                self.db.close()
            if isinstance(e, sqlite3.OperationalError) and any(
                    why in str(e) for why in ("unable to open", "readonly", "full", "disk I/O", "locked")):
                # a read-only folder, a folder named ladder.db, a full disk
                raise CannotWrite(path, OSError(errno.ENOSPC if "full" in str(e) else errno.EACCES, str(e))) from e
            raise _not_ours(path, str(e)) from None  # garbage, or another program's SQLite file

    @property
    def version(self) -> int:
        with self.lock:
            return self.db.execute("PRAGMA user_version").fetchone()[0]

    def get(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(
                "SELECT content, finish_reason, prompt_tokens, completion_tokens FROM replies WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return {"content": row[0], "finish_reason": row[1], "prompt_tokens": row[2], "completion_tokens": row[3]}

    def put(self, key: str, model: str, content: str, finish_reason: str | None, prompt_tokens: int,
            completion_tokens: int) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (key, model, content, finish_reason, prompt_tokens, completion_tokens, time.time()))

    def log(self, params: dict[str, Any], *, run_id: str | None, job_id: str | None, endpoint: str, model: str,
            reply: str | None, finish_reason: str | None, prompt_tokens: int, completion_tokens: int, seconds: float,
            attempts: int, cached: bool, cache_key: str | None, error: str | None = None) -> None:
        """One call: its request ``params`` (messages are stored apart) and what came of it."""
        rest = {k: v for k, v in params.items() if k not in ("model", "messages")}
        row = (time.time(), run_id, job_id, endpoint, model, json.dumps(rest, ensure_ascii=False),
               json.dumps(params["messages"], ensure_ascii=False), reply, finish_reason, prompt_tokens,
               completion_tokens, seconds, attempts, int(cached), cache_key, error)
        with self.lock:
            self.db.execute(f"INSERT INTO calls ({', '.join(_CALL_COLUMNS)}) VALUES ({', '.join('?' * len(row))})", row)

    def calls(self, run_id: str | None = None, job_id: str | None = None, model: str | None = None,
              limit: int = 50) -> list[dict[str, Any]]:
        """The latest ``limit`` calls (oldest first), each a dict of the call log's columns with
        its params and messages as JSON values."""
        where, args = [], []
        for column, value in (("run_id", run_id), ("job_id", job_id), ("model", model)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM calls" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
        with self.lock:
            cur = self.db.execute(sql, (*args, limit))
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row)) for row in cur.fetchall()][::-1]
        for r in rows:
            r["params"], r["messages"] = json.loads(r["params"]), json.loads(r["messages"])
        return rows

    def batch_opened(self, batch_id: str, run_id: str, model: str, input_file_id: str, requests: int) -> None:
        with self.lock:
            self.db.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?, 'submitted', ?, NULL)",
                            (batch_id, run_id, model, input_file_id, requests, time.time()))

    def batch_closed(self, batch_id: str, status: str) -> None:
        with self.lock:
            self.db.execute("UPDATE batches SET status = ?, closed_at = ? WHERE id = ?", (status, time.time(), batch_id))

    def open_batch(self, run_id: str, model: str) -> str | None:
        """A batch this run submitted for ``model`` and has not collected: a resumed run polls it."""
        with self.lock:
            row = self.db.execute("SELECT id FROM batches WHERE run_id = ? AND model = ? AND closed_at IS NULL "
                                  "ORDER BY created_at LIMIT 1", (run_id, model)).fetchone()
        return row[0] if row else None

    # --- review decisions (review/decisions.py) ---------------------------------------------

    DECISION_COLUMNS = ("run_id", "draft_id", "decision", "comment", "content_hash", "inputs_hash", "source",
                        "decided_at")

    def add_decisions(self, rows: list[dict[str, Any]]) -> None:
        """All or nothing, in one transaction."""
        names = self.DECISION_COLUMNS
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self.db.executemany(f"INSERT INTO decisions ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                    [tuple(r[n] for n in names) for r in rows])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def decisions(self) -> list[dict[str, Any]]:
        """Every decision, oldest first."""
        names = self.DECISION_COLUMNS
        with self.lock:
            rows = self.db.execute(f"SELECT {', '.join(names)} FROM decisions ORDER BY id").fetchall()
        return [dict(zip(names, row)) for row in rows]

    # --- the publish ledger (review/publish.py) ----------------------------------------------

    def is_published(self, url: str, piece_id: str, content_hash: str) -> bool:
        with self.lock:
            return self.db.execute("SELECT 1 FROM published WHERE url = ? AND piece_id = ? AND content_hash = ?",
                                   (url, piece_id, content_hash)).fetchone() is not None

    def mark_published(self, url: str, piece_id: str, content_hash: str, run_id: str, status: int) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO published VALUES (?, ?, ?, ?, ?, ?)",
                            (url, piece_id, content_hash, run_id, status, time.time()))

    # --- what estimates learn from the call log (runs/estimate.py) ---------------------------

    def calibration_calls(self, model: str, limit: int = 500) -> tuple[list[tuple[list[dict], int, int]], int, int]:
        """This model's latest calls that reached the endpoint (messages, prompt and completion
        tokens), and its count of calls and of distinct jobs, cached or not."""
        with self.lock:
            rows = self.db.execute(
                "SELECT messages, prompt_tokens, completion_tokens FROM calls WHERE model = ? AND cached = 0 "
                "AND error IS NULL AND prompt_tokens > 0 ORDER BY id DESC LIMIT ?", (model, limit)).fetchall()
            calls, jobs = self.db.execute(
                "SELECT count(*), count(DISTINCT coalesce(run_id, '') || '/' || job_id) FROM calls "
                "WHERE model = ? AND job_id IS NOT NULL", (model,)).fetchone()
        return [(json.loads(m), p, c) for m, p, c in rows], calls, jobs

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self.lock:
            self.db.close()
