"""Scheduled runs (cron, systemd timers, CI): one run per workspace at a time, machine-readable
logs, and exit codes a scheduler can act on."""

import json
import os
import subprocess
import sys
import time

from conftest import REPO, run_dirs
from openai_server import ScriptedOpenAI, fill
from pipeline.files import workspace_lock
from test_run import good
from test_scale import EN, many_segments


def test_a_second_run_on_a_busy_workspace_exits_3_and_touches_nothing(tmp_path):
    ws = many_segments(tmp_path, 5)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with ScriptedOpenAI(lambda b: fill(b, EN), latency=0.2) as server:
        args = [sys.executable, "-m", "pipeline.cli", "run", "-w", str(ws), "--base-url", server.base_url,
                "--concurrency", "1"]
        first = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not server.requests:
            time.sleep(0.05)
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 3, second.stderr
        assert "is in use: `ladder run` (pid " in second.stderr and "Traceback" not in second.stderr
        assert len(run_dirs(ws)) == 1  # the second run wrote nothing
        assert first.wait(timeout=120) == 0, first.stderr.read()
        # the lock goes with the process that held it: the next run goes ahead
        third = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0, third.stderr
    assert len(run_dirs(ws)) == 2


def test_the_lock_is_released_however_the_holder_ends(workspace, cli):
    with workspace_lock(workspace / "outputs", "publish"):
        busy = cli("run", "-w", str(workspace), "--base-url", "http://127.0.0.1:9/v1")
    assert busy.exit_code == 3 and "`ladder publish`" in busy.stderr
    with ScriptedOpenAI(good) as server:
        assert cli("run", "-w", str(workspace), "--base-url", server.base_url).exit_code == 0


def test_json_logs_and_exit_codes(workspace, cli):
    with ScriptedOpenAI(good) as server:
        ok = cli("--log-format", "json", "run", "-w", str(workspace), "--base-url", server.base_url)
    assert ok.exit_code == 0
    events = [json.loads(line) for line in ok.stderr.splitlines()]  # every line is JSON
    assert all({"time", "level", "event", "message"} <= set(e) for e in events)
    assert [e["event"] for e in events][:2] == ["start", "model"]
    jobs = [e for e in events if e["event"] == "job"]
    assert len(jobs) == 7 and all(e["status"] == "passed" and e["score"] is not None for e in jobs)
    out = json.loads(ok.stdout)  # stdout: one object with the summary and metrics
    assert out["summary"]["passed"] == 7 and out["metrics"]["drafts"] == 7 and out["run_id"] == run_dirs(workspace)[0].name

    with ScriptedOpenAI(lambda b: fill(b, "Hello.")) as server:  # drafts that fail their checks: exit 1
        failed = cli("--log-format", "json", "run", "-w", str(workspace), "--base-url", server.base_url,
                     "--revise-rounds", "0")
    assert failed.exit_code == 1 and json.loads(failed.stdout)["summary"]["failed"] > 0

    (workspace / "channels.yaml").write_text("channels: []\n")  # bad input: exit 2, problems as events
    bad = cli("--log-format", "json", "run", "-w", str(workspace))
    assert bad.exit_code == 2
    problems = [json.loads(line) for line in bad.stderr.splitlines()]
    assert problems[0]["event"] == "problem" and problems[0]["file"] == "channels.yaml" and problems[0]["line"]
