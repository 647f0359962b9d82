"""The store's migrations: a ``ladder.db`` made by ladder 0.1 (no schema version; its tables made
with ``CREATE TABLE IF NOT EXISTS``) opens with the migrating store with nothing lost, a fresh
file gets every migration, and a file from a newer ladder is refused."""

import sqlite3
import time

import pytest

from pipeline import store as store_module
from pipeline.errors import InvalidWorkspace
from pipeline.review.decisions import Decision, _all
from pipeline.store import MIGRATIONS, Store

# pipeline/store.py's SCHEMA as ladder 0.1 shipped it (commit 56dfeef), frozen here on purpose.
RELEASE_0_1_SCHEMA = """
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
"""


def release_db(path):
    """A ladder.db as ladder 0.1 left it: its schema, a row or two in every table, user_version 0."""
    db = sqlite3.connect(path)
    db.executescript(RELEASE_0_1_SCHEMA)
    now = time.time()
    db.execute("INSERT INTO replies VALUES ('k1', 'gpt-x', '{\"body\": \"hei\"}', 'stop', 12, 5, ?)", (now,))
    db.execute("INSERT INTO replies VALUES ('k2', 'gpt-x', 'ok', NULL, 1, 1, ?)", (now,))
    db.execute("INSERT INTO calls (at, run_id, job_id, endpoint, model, params, messages, reply, finish_reason, "
               "prompt_tokens, completion_tokens, seconds, attempts, cached, cache_key, error) VALUES "
               "(?, 'r1', 'c.cfo.email', 'http://x/v1', 'gpt-x', '{}', '[{\"role\": \"user\", \"content\": \"hi\"}]', "
               "'ok', 'stop', 12, 5, 0.5, 1, 0, 'k1', NULL)", (now,))
    db.execute("INSERT INTO decisions (run_id, draft_id, decision, comment, content_hash, inputs_hash, source, "
               "decided_at) VALUES ('r1', 'c.cfo.email', 'changes', 'shorter', 'h1', 'i1', 'cli', ?)", (now,))
    db.execute("INSERT INTO decisions (run_id, draft_id, decision, comment, content_hash, inputs_hash, source, "
               "decided_at) VALUES ('r1', 'c.cfo.sms', 'approve', '', 'h2', 'i2', 'sheet', ?)", (now,))
    db.execute("INSERT INTO published VALUES ('http://cms/pieces', 'c.cfo.email', 'h1', 'r1', 201, ?)", (now,))
    db.execute("INSERT INTO batches VALUES ('batch_1', 'r1', 'gpt-x', 'file_1', 4, 'submitted', ?, NULL)", (now,))
    db.commit()
    dump = {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            for t in ("replies", "calls", "decisions", "published", "batches")}
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()
    return dump


def test_a_release_database_opens_with_nothing_lost(tmp_path):
    path = tmp_path / "ladder.db"
    before = release_db(path)
    with Store(path) as store:
        assert store.version == len(MIGRATIONS)
        assert store.get("k1") == {"content": '{"body": "hei"}', "finish_reason": "stop", "prompt_tokens": 12,
                                   "completion_tokens": 5}
        (call,) = store.calls(run_id="r1")
        assert call["job_id"] == "c.cfo.email" and call["cache_key"] == "k1" and call["prompt_tokens"] == 12
        assert [(d.draft_id, d.decision, d.comment) for d in _all(store)] == [
            ("c.cfo.email", "changes", "shorter"), ("c.cfo.sms", "approve", "")]
        assert isinstance(_all(store)[0], Decision)
        assert store.is_published("http://cms/pieces", "c.cfo.email", "h1")
        assert store.open_batch("r1", "gpt-x") == "batch_1"
    db = sqlite3.connect(path)
    after = {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in before}
    db.close()
    assert after == before
    with Store(path) as again:  # opening again changes nothing
        assert again.version == len(MIGRATIONS) and again.get("k2")["content"] == "ok"


def test_a_fresh_database_gets_every_migration(tmp_path):
    with Store(tmp_path / "ladder.db") as store:
        assert store.version == len(MIGRATIONS)
        store.add_decisions([{"run_id": "r", "draft_id": "d", "decision": "approve", "comment": "",
                              "content_hash": "h", "inputs_hash": None, "source": "cli", "decided_at": 1.0}])
        assert store.decisions()[0]["draft_id"] == "d"


def test_migrations_apply_in_order_each_once(tmp_path, monkeypatch):
    path = tmp_path / "ladder.db"
    release_db(path)
    extra = ("a note column on decisions", "ALTER TABLE decisions ADD COLUMN note TEXT")
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, extra])
    with Store(path) as store:
        assert store.version == 2
    with Store(path) as store:  # not applied twice (ALTER TABLE would fail)
        assert store.version == 2
        assert len(store.decisions()) == 2


def test_a_database_from_a_newer_ladder_is_refused(tmp_path):
    path = tmp_path / "ladder.db"
    release_db(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(InvalidWorkspace, match="made by a newer ladder"):
        Store(path)


def test_a_foreign_file_is_left_untouched(tmp_path):
    path = tmp_path / "ladder.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE decisions (id INTEGER PRIMARY KEY, note TEXT)")
    db.close()
    with pytest.raises(InvalidWorkspace, match="not a ladder database"):
        Store(path)
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["decisions"]
    db.close()
