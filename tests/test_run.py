"""`ladder run` end to end against a scripted OpenAI-protocol server on loopback."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, SECRET, run_dirs
from openai_server import ScriptedOpenAI, fill

EN = "Is your month-end close late again? See cash flow and an audit trail by the 5th."  # step 3 for cfo
# step 5 for yrittajat; since issue 12 it carries the core concept ("valmiina viidenteen mennessä", a
# missing concept is an error) and promises nothing the core does not ("piti lupauksensa" was one)
FI = "Kiitos, yrittäjä: kirjanpitosi oli taas valmiina viidenteen mennessä, ja tilitoimisto hoiti sen."


def good(body: dict) -> dict:
    """A reply that passes the basic checks for the base fixture's segments."""
    finnish = "suomeksi" in body["messages"][0]["content"]
    return fill(body, FI if finnish else EN)


def run_dir(ws: Path) -> Path:
    (run,) = run_dirs(ws)
    return run


def test_a_run_writes_a_draft_check_and_rendered_file_for_every_job(workspace, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ScriptedOpenAI(good) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted")
    assert result.exit_code == 0, result.output + result.stderr
    run = run_dir(workspace)
    manifest = json.loads((run / "manifest.json").read_text())
    results = json.loads((run / "run_results.json").read_text())
    jobs = manifest["jobs"]
    assert len(jobs) == 7 and len(results["results"]) == 7
    for job in jobs:
        record = json.loads((run / job["segment"] / f"{job['channel']}.json").read_text())
        assert record["status"] == "passed"
        assert record["attempts"][0]["check"]["passed"] is True
        rendered = (run / record["output"]).read_text()
        assert (FI if job["language"] == "fi" else EN)[:20] in rendered
    assert (run / "yrittajat" / "sms.txt").is_file()  # plain text for SMS
    assert results["status"] == "complete"
    assert results["summary"] | {"seconds": 0} == {
        "jobs": 7, "passed": 7, "failed": 0, "errors": 0, "not_run": 0, "revised": 0, "model_calls": 7,
        "prompt_tokens": 700, "completion_tokens": 140, "seconds": 0, "skipped": 0,
        "cost_usd": None,  # the scripted model has no price
    }
    assert manifest["schema_version"] == 1 and results["schema_version"] == 1
    assert set(manifest["inputs"]) == {"ladder.yaml", "channels.yaml", "segments/core.yaml", "segments/cfo.yaml",
                                       "segments/outsiders.yaml", "segments/yrittajat.yaml"}
    assert set(manifest["prompts"]) == {f"{lang}/{p}" for lang in ("en", "fi") for p in ("system.j2", "draft.j2", "revise.j2")}
    assert manifest["model"]["endpoint"] == server.base_url and manifest["model"]["model"] == "scripted"
    # the key went to the server, and nowhere else
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"
    for path in run.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(), path
    assert SECRET not in result.output + result.stderr
    assert "7 jobs: 7 passed, 0 failed, 0 errors, 0 revised" in result.stdout


def test_failing_drafts_are_revised_with_the_findings_and_every_attempt_is_kept(workspace, cli):
    with ScriptedOpenAI(lambda b: fill(b, "A cheap fix for the month-end close, with cash flow in view.")) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo",
                     "--channel", "email", "--revise-rounds", "2")
    assert result.exit_code == 1
    record = json.loads((run_dir(workspace) / "cfo" / "email.json").read_text())
    assert record["status"] == "failed"
    attempts = record["attempts"]
    assert [(a["n"], a["source"], a["model_calls"]) for a in attempts] == [
        (1, "draft", 1), (2, "fix", 0), (3, "revision", 1), (4, "fix", 0), (5, "revision", 1), (6, "fix", 0)]
    assert len(server.requests) == 3  # fixes need no model call
    assert all(not a["check"]["passed"] for a in attempts)
    # the avoided term is replaced without the model, and the fix is recorded
    assert attempts[1]["fixes"][0] | {"part": "body"} == {"rule": "vocabulary.avoid", "part": "body", "before": "cheap",
                                                          "after": "cost-efficient", "note": ""}
    assert attempts[1]["parts"]["body"].startswith("A cost-efficient fix")
    assert not any(f["rule"] == "vocabulary.avoid" for f in attempts[1]["check"]["findings"])
    # the model revises the best version so far, with each remaining finding as an instruction
    revise_prompt = server.requests[1]["messages"][-1]["content"]
    assert "cost-efficient fix" in revise_prompt and "cheap fix" not in revise_prompt
    assert "name the reader's group and a need" in revise_prompt
    assert (run_dir(workspace) / "cfo" / "email.md").is_file()  # the best attempt is still rendered


def test_a_revision_that_passes_ends_the_loop(workspace, cli):
    def responder(body):
        revising = "Revise this" in body["messages"][-1]["content"]
        return fill(body, EN if revising else "Cheap books, cheap books.")

    with ScriptedOpenAI(responder) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo",
                     "--channel", "landing_hero")
    assert result.exit_code == 0
    results = json.loads((run_dir(workspace) / "run_results.json").read_text())
    (job,) = results["results"]
    assert (job["status"], job["attempts"], job["chosen_attempt"]) == ("passed", 3, 3)  # draft, fix, revision
    assert results["summary"]["revised"] == 1
    assert len(server.requests) == 2


def test_invalid_json_then_valid_inside_a_run(workspace, cli):
    with ScriptedOpenAI(good) as server:
        server.script.append({"content": "{not json"})
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo",
                     "--channel", "email")
    assert result.exit_code == 0
    (job,) = json.loads((run_dir(workspace) / "run_results.json").read_text())["results"]
    assert job["model_calls"] == 2 and job["status"] == "passed"


def test_a_job_whose_replies_never_validate_is_an_error_and_others_go_on(workspace, cli):
    with ScriptedOpenAI(good) as server:
        server.script.extend([{"content": "nope"}] * 9)  # draft + 2 revision rounds, 3 calls each
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo",
                     "--concurrency", "1")  # the script's replies go to the jobs in plan order
    assert result.exit_code == 1
    results = json.loads((run_dir(workspace) / "run_results.json").read_text())
    statuses = {r["channel"]: r["status"] for r in results["results"]}
    assert statuses == {"email": "error", "landing_hero": "passed"}
    email = next(r for r in results["results"] if r["channel"] == "email")
    assert email["output"] is None and "no valid reply after 3 calls" in email["errors"][0]


def test_an_unreachable_endpoint_exits_3_without_a_traceback(workspace, cli):
    with ScriptedOpenAI() as server:
        url = server.base_url
    result = cli("run", "-w", str(workspace), "--base-url", url)
    assert result.exit_code == 3
    assert result.stderr.startswith("run ") and f"error: could not run: cannot reach {url}" in result.stderr
    assert "Traceback" not in result.stderr
    results = json.loads((run_dir(workspace) / "run_results.json").read_text())
    assert results["status"] == "interrupted"
    assert {r["status"] for r in results["results"]} == {"interrupted"}
    assert all(r["note"].startswith(f"not run: cannot reach {url}") for r in results["results"])


def test_an_interrupted_run_leaves_complete_results_with_unfinished_jobs_marked(workspace):
    with ScriptedOpenAI(good) as server:
        for _ in range(50):
            server.script.append({"sleep": 0.4})
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "run", "-w", str(workspace), "--base-url", server.base_url,
             "--concurrency", "1"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        results_file = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            files = list((workspace / "outputs").glob("*/run_results.json"))
            if files and len(list(files[0].parent.glob("*/*.json"))) >= 2:  # two jobs written
                results_file = files[0]
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert results_file is not None
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    results = json.loads(results_file.read_text())
    statuses = [r["status"] for r in results["results"]]
    assert results["status"] == "interrupted"
    assert statuses.count("passed") >= 2 and "interrupted" in statuses
    assert set(statuses) <= {"passed", "interrupted"}
    leftovers = [p for p in results_file.parent.rglob("*.tmp")]
    assert leftovers == []


def test_plan_applies_the_role_rules(workspace, cli):
    result = cli("plan", "-w", str(workspace), "--json")
    plan = json.loads(result.stdout)
    jobs = {(j["segment"], j["channel"]): j for j in plan["jobs"]}
    assert ("cfo", "sms") not in jobs  # customer-experience channel: customers only
    assert ("yrittajat", "sms") in jobs
    assert {j["kind"] for (s, _), j in jobs.items() if s == "outsiders"} == {"not_for_you"}
    assert jobs[("cfo", "email")]["step"] == 3  # current step + 1
    assert jobs[("yrittajat", "email")]["id"] == "testcamp.yrittajat.email"
    assert {(s["segment"], s["channel"]) for s in plan["skipped"]} == {("cfo", "sms"), ("outsiders", "sms")}


def test_init_scaffolds_a_valid_workspace(tmp_path, cli):
    result = cli("init", str(tmp_path / "new"))
    assert result.exit_code == 0
    assert cli("validate", "-w", str(tmp_path / "new")).exit_code == 0
    again = cli("init", str(tmp_path / "new"))
    assert again.exit_code == 2 and "already a workspace" in again.stderr
