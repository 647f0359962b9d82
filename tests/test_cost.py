"""Cost control against a scripted OpenAI-protocol server on loopback: the estimate before a run,
and the token and cost caps that stop a run cleanly."""

import json
from pathlib import Path

from conftest import run_dirs
from openai_server import ScriptedOpenAI, fill
from test_scale import EN, job_of, many_segments


def estimate(cli, ws: Path, *args: str) -> dict:
    result = cli("plan", "-w", str(ws), "--estimate", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_estimate_bounds_a_run_and_learns_from_the_call_log(tmp_path, cli):
    ws = many_segments(tmp_path, 6)  # 12 jobs; the fixture has revise_rounds 1, reasks default 2
    before = estimate(cli, ws, "--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o-mini")
    assert before["jobs"] == 12 and before["cached_first_drafts"] == 0
    assert before["basis"]["source"] == "assumed"
    assert before["at_least"]["calls"] == 12 and before["at_most"]["calls"] == 12 * 2 * 3
    least, most = before["at_least"], before["at_most"]
    assert 0 < least["prompt_tokens"] < before["expected"]["prompt_tokens"] < most["prompt_tokens"]
    # shipped list price of gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens
    assert least["cost_usd"] == round((least["prompt_tokens"] * 0.15 + least["completion_tokens"] * 0.60) / 1e6, 4)
    assert estimate(cli, ws, "--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o-mini", "--batch")[
        "at_most"]["cost_usd"] == round(most["cost_usd"] / 2, 4)

    with ScriptedOpenAI(lambda b: fill(b, EN)) as server:  # every draft passes: one call a job, 100 prompt tokens
        assert cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted").exit_code == 0
    again = estimate(cli, ws, "--base-url", server.base_url, "--model", "scripted")
    assert again["cached_first_drafts"] == 12  # a rerun costs nothing
    assert again["at_least"]["calls"] == again["expected"]["calls"] == 0
    assert again["price"] is None and again["expected"]["cost_usd"] is None  # no price for "scripted"

    # new inputs for two groups: the log says one call a job and ~100 prompt tokens a call
    sheet = ws / "segments" / "groups.csv"
    sheet.write_text(sheet.read_text().replace("Group 0000,", "Group 0000 North,").replace("Group 0001,", "Group 0001 North,"))
    changed = estimate(cli, ws, "--base-url", server.base_url, "--model", "scripted")
    assert changed["basis"]["source"] == "call log" and changed["basis"]["calls_per_job"] == 1.0
    assert changed["cached_first_drafts"] == 8 and changed["expected"]["calls"] == 4
    assert 300 < changed["expected"]["prompt_tokens"] < 500  # four calls of about 100 tokens
    assert changed["expected"]["completion_tokens"] == 4 * 20


def test_a_token_cap_stops_the_run_cleanly_and_resume_finishes_it(tmp_path, cli):
    ws = many_segments(tmp_path, 10)  # 20 jobs
    with ScriptedOpenAI(lambda b: fill(b, EN)) as server:  # 120 tokens a call (100 prompt, 20 completion)
        capped = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted",
                     "--concurrency", "1", "--max-tokens-total", "1500")
        asked = len(server.requests)
        (run,) = run_dirs(ws)
        results = json.loads((run / "run_results.json").read_text())
        s = results["summary"]
        assert capped.exit_code == 1 and "skipped at the cap" in capped.stderr
        assert results["status"] == "complete" and s["jobs"] == 20
        assert s["passed"] >= 1 and s["skipped"] >= 1 and s["passed"] + s["skipped"] == 20
        assert s["prompt_tokens"] + s["completion_tokens"] <= 1500 and asked == s["passed"]
        skipped = {r["job_id"] for r in results["results"] if r["status"] == "skipped"}
        assert all("cap reached" in r["note"] for r in results["results"] if r["status"] == "skipped")
        done_before = {(r["segment"], r["channel"]) for r in results["results"] if r["status"] == "passed"}

        resumed = cli("run", "-w", str(ws), "--resume", "--max-tokens-total", "100000")
        assert resumed.exit_code == 0, resumed.output
        assert {job_of(b) for b in server.requests[asked:]} == {tuple(j.split(".")[1:]) for j in skipped}
        assert not {job_of(b) for b in server.requests[asked:]} & done_before
    final = json.loads((run / "run_results.json").read_text())["summary"]
    assert final["passed"] == 20 and final["skipped"] == 0


def test_a_cost_cap_needs_a_price_and_stops_at_it(tmp_path, cli):
    ws = many_segments(tmp_path, 5)
    with ScriptedOpenAI(lambda b: fill(b, EN)) as server:
        unpriced = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted", "--max-cost", "1")
        assert unpriced.exit_code == 2 and "no price for model 'scripted'" in unpriced.stderr
        assert not server.requests and not (ws / "outputs").exists()  # refused before anything
        cfg = ws / "ladder.yaml"
        # $10 per 1M tokens both ways: a call of 120 tokens costs $0.0012
        cfg.write_text(cfg.read_text() + "model:\n  prices:\n    scripted: {input: 10, output: 10}\n")
        capped = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted",
                     "--concurrency", "1", "--max-cost", "0.01")
    s = json.loads((run_dirs(ws)[0] / "run_results.json").read_text())["summary"]
    assert capped.exit_code == 1 and s["skipped"] >= 1 and s["passed"] >= 1
    assert s["cost_usd"] == round(s["passed"] * 0.0012, 6) and s["cost_usd"] <= 0.01
