"""The optional LLM judge against a scripted OpenAI-protocol server on loopback: quotes are
verified, invented ones void the verdict, and the result says whether the rules or the judge decided."""

import json

import pytest

from conftest import run_dirs
from openai_server import ScriptedOpenAI, fill

EN = "Is your month-end close late again? See cash flow and an audit trail by the 5th."  # step 3 for cfo


def is_judge(body) -> bool:
    return "You judge marketing copy" in body["messages"][-1]["content"]


def judgement(target_score=80, quotes=("Is your month-end close late again?",), primary=3):
    steps = [{"step": s, "quotes": [], "score": 10} for s in range(1, 6)]
    steps[2] = {"step": 3, "quotes": list(quotes), "score": target_score}
    return {"steps": steps, "primary_step": primary}


def server_for(verdict, draft=EN):
    return ScriptedOpenAI(lambda body: json.dumps(verdict) if is_judge(body) else fill(body, draft))


def run_check(cli, server, *args):
    with open("draft.txt", "w", encoding="utf-8") as f:
        f.write(EN)
    result = cli("check", "draft.txt", "--step", "3", "--language", "en", "--json",
                 "--judge-model", "judge-1", "--base-url", server.base_url, *args)
    return result, json.loads(result.stdout.splitlines()[0])


def test_a_grounded_verdict_decides_with_the_rules(cli):
    with server_for(judgement()) as server:
        result, record = run_check(cli, server)
    assert result.exit_code == 0
    assert record["passed"] and record["decided_by"] == "rules and judge"
    assert record["judge"]["step_scores"]["3"] == 80 and record["judge"]["voided"] == []
    (request,) = server.requests
    assert request["model"] == "judge-1" and request["temperature"] == 0
    assert EN in request["messages"][-1]["content"]  # the rubric prompt carries the draft


def test_an_invented_quote_voids_the_verdict_and_the_rules_decide(cli):
    with server_for(judgement(target_score=5, quotes=("Our award-winning team closes in a day",))) as server:
        result, record = run_check(cli, server)
    assert record["judge"]["voided"] == [3]
    assert record["judge"]["invented"] == ["our award-winning team closes in a day"]
    assert record["decided_by"] == "rules" and record["passed"]  # the judge's low score was not used
    assert result.exit_code == 0


def test_a_high_score_without_evidence_is_void(cli):
    with server_for(judgement(target_score=95, quotes=())) as server:
        _, record = run_check(cli, server)
    assert record["judge"]["voided"] == [3] and record["decided_by"] == "rules"


def test_the_judge_can_fail_a_draft_the_rules_pass(cli):
    with server_for(judgement(target_score=20, quotes=("See cash flow",), primary=2)) as server:
        result, record = run_check(cli, server)
    assert result.exit_code == 1 and not record["passed"]
    assert record["decided_by"] == "judge"
    (finding,) = [f for f in record["findings"] if f["level"] == "error"]
    assert finding["rule"] == "judge.step" and "scores step 3" in finding["message"]


def test_an_unusable_judge_reply_leaves_the_rules_deciding(cli):
    with ScriptedOpenAI(lambda body: "no json here") as server:
        result, record = run_check(cli, server)
    assert record["decided_by"] == "rules" and record["judge"]["error"].startswith("no valid reply")
    assert len(server.requests) == 3  # the first ask and two re-asks


@pytest.mark.parametrize("judge_model", [None, "judge-1"])
def test_in_a_run_every_version_is_judged_and_its_calls_counted(workspace, cli, judge_model):
    args = ["--judge-model", judge_model] if judge_model else []
    with server_for(judgement()) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo",
                     "--channel", "landing_hero", *args)
    assert result.exit_code == 0, result.output
    (run,) = run_dirs(workspace)
    record = json.loads((run / "cfo" / "landing_hero.json").read_text())
    (attempt,) = record["attempts"]
    if judge_model is None:
        assert attempt["check"]["judge"] is None and attempt["model_calls"] == 1
        assert len(server.requests) == 1
    else:
        assert attempt["check"]["decided_by"] == "rules and judge"
        assert attempt["model_calls"] == 2 and [r["model"] for r in server.requests] == ["gpt-4o-mini", "judge-1"]
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["model"]["judge_model"] == "judge-1"


def test_check_asks_the_judge_as_a_run_does_not_of_a_piece_for_outsiders(workspace, cli, monkeypatch):
    """``ladder check`` and ``ladder run`` share one check sequence: a segment outside the
    target gets a "not for you" piece, whose step the judge is not asked to read."""
    monkeypatch.chdir(workspace)
    outsider = next(p.stem for p in (workspace / "segments").glob("*.yaml")
                    if "role: outside_target" in p.read_text(encoding="utf-8"))
    with server_for(judgement()) as server:
        _, record = run_check(cli, server, "--segment", outsider, "-w", str(workspace))
        assert server.requests == [] and "judge" not in record and record["step"] == 1
        _, record = run_check(cli, server)  # the same text, no segment: a ladder piece, judged
        assert len(server.requests) == 1 and record["decided_by"] == "rules and judge"
