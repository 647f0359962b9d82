"""A rerun with unchanged inputs reuses each job's checked result (runs/reuse.py) instead of
drafting and checking again; any change to what a result depends on runs the job again."""

import json

import pytest

from conftest import needs_voikko, run_dirs
from openai_server import ScriptedOpenAI
from pipeline.stages import judge
from test_run import good


@pytest.fixture
def counted(monkeypatch):
    """How often the check ran (a spy: the real check still runs)."""
    calls = []
    real = judge.evaluate

    def evaluate(ctx, *args, **kw):
        calls.append(ctx)
        return real(ctx, *args, **kw)

    monkeypatch.setattr(judge, "evaluate", evaluate)  # the one check sequence (judge.checked)
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


@needs_voikko
def test_a_change_of_lemmatiser_does_not_reuse(workspace, cli, counted, monkeypatch):
    """Checked with Voikko's base forms, then without Voikko: the checks run again."""
    from pipeline.lang import lemma

    with ScriptedOpenAI(good) as server:
        args = ("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted")
        cli(*args)
        before = len(counted)
        monkeypatch.setenv("LADDER_VOIKKO", "0")
        lemma.reset()
        try:
            cli(*args)
        finally:
            monkeypatch.delenv("LADDER_VOIKKO")
            lemma.reset()
        assert len(counted) > before


def test_a_rerun_renders_no_prompt_of_a_reused_job_and_a_broken_template_still_stops_a_run(workspace, cli,
                                                                                            monkeypatch):
    """The run renders the prompts and layouts of the jobs it will draft before any model call;
    a job it takes from the latest run rendered them there, unchanged, so it is not rendered
    again. A template that cannot render stops the run with exit 2 and no run folder."""
    from pipeline.stages import draft

    rendered = []
    real = draft.messages
    monkeypatch.setattr(draft, "messages", lambda ws, job, *a, **kw: (rendered.append(job.id), real(ws, job, *a, **kw))[1])
    with ScriptedOpenAI(good) as server:
        args = ("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted")
        cli(*args)
        jobs = {r["job_id"] for r in results(run_dirs(workspace)[0])["results"] if r["status"] in ("passed", "failed")}
        assert jobs and jobs <= set(rendered)
        rendered.clear()
        cli(*args)
        assert rendered == []  # every job reused: nothing rendered, nothing asked

        prompt = workspace / "prompts" / "en" / "draft.j2"
        prompt.parent.mkdir(parents=True, exist_ok=True)
        prompt.write_text("{{ segment.budget }}\n", encoding="utf-8")
        asked = len(server.requests)
        broken = cli(*args)
        assert broken.exit_code == 2 and "prompts/en/draft.j2:1" in broken.output, broken.output
        assert len(server.requests) == asked and len(run_dirs(workspace)) == 2


def test_a_prompt_a_workspace_adds_later_is_read_by_the_same_process(workspace):
    """A process that rendered the shipped prompt (a test run, an application running ladder
    several times) reads the workspace's own copy made after it: its rendering and its hash,
    which decides whether a job's result may be reused."""
    from pipeline.runs.writer import job_inputs_hashes
    from pipeline.stages.draft import messages
    from pipeline.stages.plan import plan
    from pipeline.workspace.load import load_workspace

    ws, _ = load_workspace(workspace)
    job = next(j for j in plan(ws).jobs if j.language == "en")
    previous = {p.name: "x" for p in ws.channel(job.channel).parts}
    hashed = job_inputs_hashes(ws, [job])
    for n, name in enumerate(("draft.j2", "revise.j2")):  # a new folder, then a new file in it
        shipped = messages(ws, job, name, previous=previous)[1]["content"]  # read (and compiled) before
        path = workspace / "prompts" / "en" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Own prompt {n} for {{{{ segment.name }}}}.\n", encoding="utf-8")
        ws, problems = load_workspace(workspace)
        assert ws is not None, problems
        own = messages(ws, job, name, previous=previous)[1]["content"]
        assert own.startswith(f"Own prompt {n} for") and own != shipped
    assert job_inputs_hashes(ws, [job]) != hashed


def test_an_included_template_that_changes_runs_the_job_again(workspace, cli):
    """A layout's included file is part of what a job's result depends on: changed, the jobs
    run again (and a broken one stops the run with exit 2 and no run folder), never a traceback."""
    from pathlib import Path

    shipped = (Path(__file__).resolve().parents[1] / "templates" / "sms.txt.j2").read_text(encoding="utf-8")
    (workspace / "templates").mkdir(exist_ok=True)
    (workspace / "templates" / "sms.txt.j2").write_text(shipped + '{% include "footer.j2" %}\n', encoding="utf-8")
    footer = workspace / "templates" / "footer.j2"
    footer.write_text("Lämpövirta\n", encoding="utf-8")
    with ScriptedOpenAI(good) as server:
        args = ("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted")
        assert cli(*args).exit_code in (0, 1)
        footer.write_text("Lämpövirta Oy\n", encoding="utf-8")
        cli(*args)
        second = results(run_dirs(workspace)[1])["results"]
        assert not any((r["note"] or "").startswith("reused") for r in second)
        sms = next(r for r in second if r["output"] and r["output"].endswith(".txt"))
        assert "Lämpövirta Oy" in (run_dirs(workspace)[1] / sms["output"]).read_text(encoding="utf-8")

        footer.write_text("{{ segment.budget }}\n", encoding="utf-8")
        broken = cli(*args)
        assert broken.exit_code == 2 and "templates/footer.j2:1" in broken.output, broken.output
        assert len(run_dirs(workspace)) == 2


def test_a_broken_template_stops_a_run_before_it_makes_anything(workspace, cli):
    """A template error is reported like every other input problem: exit 2, file and line, and
    nothing written, not even the outputs folder or its lock."""
    (workspace / "prompts" / "en").mkdir(parents=True)
    # what only rendering finds (the load's static check of the variables passes it)
    (workspace / "prompts" / "en" / "draft.j2").write_text("{{ segment.name }}\n{{ 1 // 0 }}\n", encoding="utf-8")
    with ScriptedOpenAI(good) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted")
        assert result.exit_code == 2 and "prompts/en/draft.j2:2" in result.output, result.output
        assert "ZeroDivisionError" in result.output
        assert server.requests == [] and not (workspace / "outputs").exists()
