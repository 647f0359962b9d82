"""A rerun with unchanged inputs reuses each job's checked result (runs/reuse.py) instead of
drafting and checking again; any change to what a result depends on runs the job again."""

import json

import pytest

from conftest import run_dirs
from openai_server import ScriptedOpenAI
from pipeline.runs import runner
from test_run import good


@pytest.fixture
def counted(monkeypatch):
    """How often the check ran."""
    calls = []
    real = runner.evaluate

    def evaluate(ctx, *args, **kw):
        calls.append(ctx)
        return real(ctx, *args, **kw)

    monkeypatch.setattr(runner, "evaluate", evaluate)
    return calls


def results(folder):
    return json.loads((folder / "run_results.json").read_text(encoding="utf-8"))


def test_a_rerun_reuses_checked_results_and_a_change_runs_again(workspace, cli, counted):
    with ScriptedOpenAI(good) as server:
        args = ("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted")
        first = cli(*args)
        checks_first, asked_first = len(counted), len(server.requests)
        second = cli(*args)
        assert len(counted) == checks_first and len(server.requests) == asked_first  # nothing checked, nothing asked
        a, b = (results(d) for d in run_dirs(workspace))
        assert first.exit_code == second.exit_code
        assert [(r["job_id"], r["status"], r["score"], r["content_hash"]) for r in a["results"]] == \
               [(r["job_id"], r["status"], r["score"], r["content_hash"]) for r in b["results"]]
        assert all(r["note"].startswith(f"reused from run {a['run_id']}") for r in b["results"] if r["status"] != "skipped")
        assert b["summary"]["model_calls"] == 0 and b["summary"]["prompt_tokens"] == 0
        for r in b["results"]:  # the pieces are there, as before
            if r["output"]:
                assert (run_dirs(workspace)[1] / r["output"]).read_text(encoding="utf-8") == \
                       (run_dirs(workspace)[0] / r["output"]).read_text(encoding="utf-8")

        # a segment changes: every job is checked again (a check reads the other segments too)
        seg = workspace / "segments" / "cfo.yaml"
        seg.write_text(seg.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        before = len(counted)
        cli(*args)
        assert len(counted) > before
        assert not any((r["note"] or "").startswith("reused") for r in results(run_dirs(workspace)[2])["results"])

        # --refresh asks again, and checks again
        before = len(counted)
        cli(*args, "--refresh")
        assert len(counted) > before


def test_other_model_settings_do_not_reuse(workspace, cli, counted):
    with ScriptedOpenAI(good) as server:
        cli("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted")
        before = len(counted)
        cli("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted", "--temperature", "0")
        assert len(counted) > before
