"""Batch mode against a loopback server that implements the Batch API's endpoints (files upload
and content, batches create and retrieve): rounds of batches until every job is done, per-request
failures, and a killed run resumed by its batch id."""

import json
import os
import signal
import subprocess
import sys
import time

from conftest import REPO, run_dirs
from openai_server import ScriptedOpenAI, fill
from test_judge import is_judge, judgement
from test_scale import EN, job_of, many_segments


def uploaded(server) -> list[list[dict]]:
    """The JSONL files the run uploaded, as lists of request lines."""
    return [[json.loads(x) for x in server.files[f].decode().splitlines()] for f in server.uploads]


def test_a_batch_run_drafts_every_job_through_one_batch(tmp_path, cli):
    ws = many_segments(tmp_path, 10)  # 20 jobs
    with ScriptedOpenAI(lambda b: fill(b, EN)) as server:
        result = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "gpt-4o-mini",
                     "--batch", "--batch-poll", "0")
        assert result.exit_code == 0, result.output + result.stderr
        assert server.requests == []  # no direct chat completion: everything went through the batch
        (lines,) = uploaded(server)
        assert len(lines) == 20 and len({x["custom_id"] for x in lines}) == 20
        assert all(x["method"] == "POST" and x["url"] == "/v1/chat/completions" for x in lines)
        assert server.batches["batch_1"]["metadata"] == {"ladder_run": run_dirs(ws)[0].name}
        s = json.loads((run_dirs(ws)[0] / "run_results.json").read_text())["summary"]
        assert s["passed"] == 20 and s["model_calls"] == 20 and s["prompt_tokens"] == 2000
        # gpt-4o-mini's list price, halved for the Batch API
        assert s["cost_usd"] == round(20 * (100 * 0.15 + 20 * 0.60) / 1e6 * 0.5, 6)
        # the batch's replies went into the reply cache: a rerun asks nothing and submits nothing
        again = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "gpt-4o-mini", "--batch")
        assert again.exit_code == 0 and len(server.uploads) == 1 and server.requests == []


def test_revisions_and_the_judge_go_in_later_batches_one_model_each(tmp_path, cli):
    ws = many_segments(tmp_path, 4)  # 8 jobs

    def respond(body):
        if is_judge(body):
            return json.dumps(judgement())
        revising = "Revise this" in body["messages"][-1]["content"]
        return fill(body, EN if revising else "Hello.")  # every first draft fails its check

    with ScriptedOpenAI(respond) as server:
        result = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "writer",
                     "--judge-model", "judge", "--batch", "--batch-poll", "0", "--revise-rounds", "1")
    assert result.exit_code == 0, result.output + result.stderr
    files = uploaded(server)
    # drafts; their verdicts; the revisions; theirs
    assert [{x["body"]["model"] for x in f} for f in files] == [{"writer"}, {"judge"}, {"writer"}, {"judge"}]
    # the judge sees only the draft and the step: the same two drafts (one per channel) in eight
    # jobs are one request each, asked once
    assert [len(f) for f in files] == [8, 2, 8, 2]
    assert all("Revise this" in x["body"]["messages"][-1]["content"] for x in files[2])
    answered = [json.dumps(b, sort_keys=True) for b in server.answered]
    assert len(answered) == len(set(answered)) == 20  # no request asked twice
    results = json.loads((run_dirs(ws)[0] / "run_results.json").read_text())["results"]
    assert all(r["status"] == "passed" and r["attempts"] == 2 for r in results)


def test_failed_requests_are_retried_in_the_next_batch_or_fail_their_job(tmp_path, cli):
    ws = many_segments(tmp_path, 3)  # 6 jobs
    seen: set[str] = set()

    def faults(body):
        job = job_of(body)
        if job == ("g0002", "email"):
            return {"status": 400}  # not worth retrying: that job's error
        key = json.dumps(body, sort_keys=True)
        if job[1] == "landing_hero" and key not in seen:  # a server error, the first time only
            seen.add(key)
            return {"status": 500}
        return {}

    with ScriptedOpenAI(lambda b: fill(b, EN), faults=faults) as server:
        result = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "m", "--batch",
                     "--batch-poll", "0", "--revise-rounds", "0")
    assert result.exit_code == 1
    assert [len(f) for f in uploaded(server)] == [6, 3]  # the three 500s went again in a second batch
    results = {r["job_id"]: r for r in json.loads((run_dirs(ws)[0] / "run_results.json").read_text())["results"]}
    bad = results.pop("testcamp.g0002.email")
    assert bad["status"] == "error" and "batch request failed: 400" in bad["errors"][0]
    assert all(r["status"] == "passed" for r in results.values())


def test_a_killed_batch_run_resumes_by_polling_its_batch(tmp_path):
    ws = many_segments(tmp_path, 5)  # 10 jobs
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with ScriptedOpenAI(lambda b: fill(b, EN)) as server:
        server.batch_polls = 10**9  # the batch stays in progress
        args = [sys.executable, "-m", "pipeline.cli", "run", "-w", str(ws), "--base-url", server.base_url,
                "--model", "m", "--batch", "--batch-poll", "0.05"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and not any(b["polls"] > 2 for b in server.batches.values()):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert list(server.batches) == ["batch_1"] and not server.batch_requests  # killed while it waited
        server.batch_polls = 0  # the batch finishes
        resumed = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "polling the batch this run submitted before" in resumed.stderr
    assert len(server.uploads) == 1 and list(server.batches) == ["batch_1"]  # nothing submitted twice
    assert len(server.batch_requests) == 10 and server.requests == []
    (run,) = run_dirs(ws)
    results = json.loads((run / "run_results.json").read_text())
    assert results["status"] == "complete" and results["summary"]["passed"] == 10


def test_batch_mode_needs_an_endpoint_and_no_cap(workspace, cli):
    result = cli("run", "-w", str(workspace), "--batch")
    assert result.exit_code == 2 and "needs an endpoint with the Batch API" in result.stderr
    result = cli("run", "-w", str(workspace), "--batch", "--base-url", "http://127.0.0.1:9/v1", "--max-cost", "1")
    assert result.exit_code == 2 and "cannot be capped" in result.stderr
