"""Publishing to a CMS on loopback: upserts keyed by the stable id, a ledger so a re-publish sends
only what changed, retries, and a crash halfway resumed without duplicates."""

from cms_server import CMS
from conftest import SECRET, run_dirs
from openai_server import ScriptedOpenAI, fill
from test_run import good


def drafted(cli, ws):
    with ScriptedOpenAI(good) as server:
        assert cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted").exit_code == 0
    return run_dirs(ws)[-1]


def publish(cli, ws, cms, *args):
    return cli("publish", "-w", str(ws), "--to", cms.url, *args)


def test_publishing_twice_sends_each_piece_once(workspace, cli, monkeypatch):
    run = drafted(cli, workspace)
    monkeypatch.setenv("CMS_TOKEN", SECRET)
    with CMS() as cms:
        first = publish(cli, workspace, cms, "--token-env", "CMS_TOKEN")
        assert first.exit_code == 0, first.output + first.stderr
        assert "7 sent, 0 unchanged, 0 failed" in first.output
        again = publish(cli, workspace, cms, "--token-env", "CMS_TOKEN")
        assert "0 sent, 7 unchanged" in again.output
    assert len(cms.requests) == 7 and all(len(v) == 1 for v in cms.versions.values()) and len(cms.versions) == 7
    assert all(r["headers"]["Authorization"] == f"Bearer {SECRET}" for r in cms.requests)
    doc = cms.versions["testcamp.cfo.email"][0]
    assert doc["id"] == "testcamp.cfo.email" and doc["body"] == (run / "cfo" / "email.md").read_text()
    assert doc["content_hash"] and doc["run_id"] == run.name
    assert SECRET.encode() not in (workspace / "outputs" / "ladder.db").read_bytes()


def test_a_failure_halfway_and_a_rerun_deliver_every_piece_exactly_once(workspace, cli):
    drafted(cli, workspace)
    with CMS() as cms:
        cms.script.extend([{"status": 429, "headers": {"Retry-After": "0"}}, {"drop": "before"}, {},
                           {"drop": "after"}])  # retried; retried; fine; stored but unheard: retried
        cms.fail_from = 9  # then the CMS goes down for good
        down = publish(cli, workspace, cms)
        assert down.exit_code == 3 and "could not run" in down.stderr and "Traceback" not in down.stderr
        stored = sum(len(v) for v in cms.versions.values())
        assert 0 < stored < 7
        cms.fail_from = None  # back up
        rerun = publish(cli, workspace, cms)
        assert rerun.exit_code == 0, rerun.output + rerun.stderr
    assert len(cms.versions) == 7 and all(len(v) == 1 for v in cms.versions.values())  # exactly once each
    # the piece whose reply was lost was retried with the same key, not stored twice
    keys = [r["key"] for r in cms.requests]
    assert len(set(keys)) == 7


def test_a_changed_piece_is_sent_again_and_only_it(workspace, cli):
    drafted(cli, workspace)
    with CMS() as cms:
        publish(cli, workspace, cms)
        other = "Is your month-end close late? Cash flow and an audit trail by the 5th, every month."
        with ScriptedOpenAI(lambda b: fill(b, other) if "Finance directors" in b["messages"][-1]["content"]
                            else good(b)) as server:
            cli("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted", "--refresh")
        result = publish(cli, workspace, cms)
    sent = {line.split(":")[0].strip() for line in result.stderr.splitlines() if line.endswith(": sent")}
    assert sent == {"testcamp.cfo.email", "testcamp.cfo.landing_hero"}
    assert len(cms.versions["testcamp.cfo.email"]) == 2 and len(cms.versions["testcamp.yrittajat.email"]) == 1


def test_approved_only_and_a_rejected_piece(workspace, cli):
    drafted(cli, workspace)
    cli("review", "set", "testcamp.cfo.email", "approve", "-w", str(workspace))
    with CMS() as cms:
        cms.script.append({"status": 422})  # the CMS refuses the one piece: reported, exit 1
        result = publish(cli, workspace, cms, "--approved-only")
    assert result.exit_code == 1 and "testcamp.cfo.email: HTTP 422" in result.stderr
    assert [r["id"] for r in cms.requests] == ["testcamp.cfo.email"]
    assert not cms.versions


def test_a_missing_token_variable_is_a_clear_error(workspace, cli):
    drafted(cli, workspace)
    result = cli("publish", "-w", str(workspace), "--to", "http://127.0.0.1:9/x", "--token-env", "NOPE_TOKEN")
    assert result.exit_code == 2 and "$NOPE_TOKEN is not set" in result.stderr
