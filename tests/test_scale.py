"""The model layer at scale, against a scripted OpenAI-protocol server on loopback: the reply
cache and call log, concurrency, random faults over many jobs, and resuming a killed run."""

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, SECRET, make_workspace, run_dirs
from openai_server import ScriptedOpenAI, fill

EN = "Is your month-end close late again? See cash flow and an audit trail by the 5th."


def many_segments(tmp_path: Path, n: int) -> Path:
    """A workspace with ``n`` generated English prospect segments (a CSV sheet) on two channels."""
    rows = ["id,name,language,role,current_step,vocabulary.use,tone.formality,tone.address,channels"]
    rows += [f"g{i:04d},Group {i:04d},en,prospect,2,month-end close;cash flow,formal,you,email;landing_hero"
             for i in range(n)]
    ws = make_workspace(tmp_path, files={"segments/groups.csv": "\n".join(rows) + "\n"})
    for name in ("cfo.yaml", "yrittajat.yaml", "outsiders.yaml"):
        (ws / "segments" / name).unlink()
    return ws


def job_of(body: dict) -> tuple[str, str] | None:
    """(group, channel) of a request, from its prompt (re-asks carry the first prompt too)."""
    prompt = " ".join(m["content"] for m in body["messages"])
    m = re.search(r"Group (\d{4})", prompt)
    return (f"g{m.group(1)}", "email" if "Write a Email" in prompt or "this Email" in prompt else "landing_hero") if m else None


def results_of(ws: Path) -> dict:
    (run,) = run_dirs(ws)
    return json.loads((run / "run_results.json").read_text())


# --- cache and call log ----------------------------------------------------------------------

def test_a_rerun_with_unchanged_inputs_makes_no_model_call(workspace, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ScriptedOpenAI(lambda b: fill(b, EN)) as server:
        first = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo")
        calls_first = len(server.requests)
        second = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo")
        assert len(server.requests) == calls_first  # every reply came from the cache
        cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo", "--refresh")
        assert len(server.requests) == 2 * calls_first
        cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo", "--no-cache")
        assert len(server.requests) == 3 * calls_first
    assert first.exit_code == second.exit_code == 0
    a, b = (json.loads((d / "run_results.json").read_text()) for d in run_dirs(workspace)[:2])
    assert [r["score"] for r in a["results"]] == [r["score"] for r in b["results"]]
    assert b["summary"]["model_calls"] == 0 and b["summary"]["prompt_tokens"] == 0  # nothing spent
    # the call log has every call, cached or not, and never the key
    db = workspace / "outputs" / "ladder.db"
    with sqlite3.connect(db) as con:
        cached = con.execute("SELECT cached, count(*) FROM calls GROUP BY cached ORDER BY cached").fetchall()
        jobs = {row[0] for row in con.execute("SELECT DISTINCT job_id FROM calls")}
    # the second run reused the first's checked results (runs/reuse.py): not even a cached call
    assert cached == [(0, 3 * calls_first)]
    assert all(r["note"].startswith("reused from run ") for r in b["results"])
    assert jobs == {"testcamp.cfo.email", "testcamp.cfo.landing_hero"}
    for path in db.parent.glob("ladder.db*"):
        assert SECRET.encode() not in path.read_bytes()


def test_ladder_logs_lists_and_filters_calls(workspace, cli):
    with ScriptedOpenAI(lambda b: fill(b, EN)) as server:
        cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo")
    (run,) = run_dirs(workspace)
    table = cli("logs", "-w", str(workspace), "--run", run.name)
    assert table.exit_code == 0 and "testcamp.cfo.email" in table.output and "stop" in table.output
    lines = cli("logs", "-w", str(workspace), "--job", "testcamp.cfo.landing_hero", "--json").output.splitlines()
    (call,) = [json.loads(line) for line in lines]
    assert call["job_id"] == "testcamp.cfo.landing_hero" and call["messages"][0]["role"] == "system"
    assert json.loads(call["reply"])["headline"]
    missing = cli("logs", "-w", str(workspace / "nowhere"))
    assert missing.exit_code == 2 and "no call log yet" in missing.stderr


# --- concurrency -----------------------------------------------------------------------------

def test_requests_run_concurrently_up_to_the_bound(tmp_path, cli):
    ws = many_segments(tmp_path, 8)  # 16 jobs
    with ScriptedOpenAI(lambda b: fill(b, EN), latency=0.2) as server:
        result = cli("run", "-w", str(ws), "--base-url", server.base_url, "--revise-rounds", "0",
                     "--concurrency", "4")
    assert result.exit_code in (0, 1), result.output
    assert server.max_in_flight == 4  # never more than the bound, and it was reached
    assert results_of(ws)["summary"]["jobs"] == 16


# --- 1000 jobs, 20 % random faults -----------------------------------------------------------

FAULTS = [
    {"status": 429, "headers": {"retry-after": "0"}}, {"status": 500}, {"status": 503}, {"reset": True},
    {"content": "{not json"}, {"content": '{"subject": "cut', "finish_reason": "length"}, {"content": ""},
    {"content": "", "finish_reason": "content_filter"},
]


def test_a_thousand_jobs_with_random_faults_none_lost_none_repeated(tmp_path, cli):
    ws = many_segments(tmp_path, 500)  # 1000 jobs
    rng = random.Random(7)
    with ScriptedOpenAI(lambda b: fill(b, EN), faults=lambda b: rng.choice(FAULTS) if rng.random() < 0.2 else None) as server:
        result = cli("run", "-w", str(ws), "--base-url", server.base_url, "--revise-rounds", "0",
                     "--concurrency", "16")
    assert result.exit_code in (0, 1), result.output
    results = results_of(ws)
    assert results["status"] == "complete" and len(results["results"]) == 1000
    statuses = [r["status"] for r in results["results"]]
    assert set(statuses) <= {"passed", "failed", "error"}  # completed or reported, none lost
    for r in results["results"]:
        if r["status"] == "error":
            # a job that failed says why: an attempt's error, or (a request that failed for good,
            # after every transport retry, before any attempt) the job's note
            assert r["errors"] or (r["note"] or "").startswith("request failed: "), r
    # none asked twice after a complete reply: every answered request body is distinct
    answered = [json.dumps(b["messages"], sort_keys=True) for b in server.answered]
    assert len(answered) == len(set(answered))
    # a job that completed had a complete reply
    answered_jobs = {job_of(b) for b in server.answered}
    assert {(r["segment"], r["channel"]) for r in results["results"] if r["status"] != "error"} <= answered_jobs


# --- kill -9 and resume ----------------------------------------------------------------------

def test_a_killed_run_resumes_without_asking_again_for_finished_jobs(tmp_path):
    ws = many_segments(tmp_path, 20)  # 40 jobs
    env = {**os.environ, "PYTHONPATH": str(REPO), "LADDER_BACKOFF": "0.01"}
    with ScriptedOpenAI(lambda b: fill(b, EN), latency=0.1) as server:
        args = [sys.executable, "-m", "pipeline.cli", "run", "-w", str(ws), "--base-url", server.base_url,
                "--revise-rounds", "0", "--concurrency", "2"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and len(list(ws.glob("outputs/*/g*/*.json"))) < 6:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # finished: a passed or failed record (a job in error, say a request that timed out on a
        # loaded machine, is tried again by design)
        finished = {(p.parent.name, p.stem) for p in ws.glob("outputs/*/g*/*.json")
                    if json.loads(p.read_text())["status"] in ("passed", "failed")}
        (run,) = run_dirs(ws)
        assert json.loads((run / "run_results.json").read_text())["status"] == "running"  # killed mid-run
        assert 6 <= len(list(ws.glob("outputs/*/g*/*.json"))) < 40
        before = len(server.requests)
        resumed = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode in (0, 1), resumed.stderr
    assert f"resuming {run.name}" in resumed.stderr
    assert run_dirs(ws) == [run]  # the same run folder, completed
    results = json.loads((run / "run_results.json").read_text())
    assert results["status"] == "complete" and len(results["results"]) == 40
    assert all(r["status"] in ("passed", "failed") for r in results["results"])
    # the resumed run asked nothing about a job that had finished before the kill
    asked_again = {job_of(b) for b in server.requests[before:]} & finished
    assert not asked_again, f"asked again for finished jobs: {sorted(asked_again)}"
    # only the requests in flight at the kill (at most the concurrency, 2) were asked again
    answered = [json.dumps(b["messages"], sort_keys=True) for b in server.answered]
    assert len(answered) - len(set(answered)) <= 2, f"{len(answered) - len(set(answered))} replies asked twice"


def test_resume_refuses_changed_inputs(workspace, cli):
    with ScriptedOpenAI(lambda b: fill(b, EN)) as server:
        cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo")
    seg = workspace / "segments" / "cfo.yaml"
    seg.write_text(seg.read_text() + "priority: 2\n")
    result = cli("run", "-w", str(workspace), "--resume")
    assert result.exit_code == 2 and "segments/cfo.yaml: changed since run" in result.stderr
    assert cli("run", "-w", str(workspace), "--resume", "20990101T000000Z-000000").exit_code == 2
