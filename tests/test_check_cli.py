"""`ladder check` on any text: JSON lines, Vale-like lines, exit codes."""

import json

import pytest

EN_5 = '"They answered on a Sunday and fixed it by morning," says Maria, one of our customers. Rated 4.8 out of 5.'
FI_2 = "Säästät aikaa: kirjanpito valmistuu kahdessa päivässä, joten kuun loppu jää päätöksille."


@pytest.fixture
def files(tmp_path):
    (tmp_path / "en.txt").write_text(EN_5, encoding="utf-8")
    (tmp_path / "fi.txt").write_text(FI_2, encoding="utf-8")
    return tmp_path


def test_json_has_the_reading_for_every_input(files, cli):
    result = cli("check", "--json", str(files / "en.txt"), str(files / "fi.txt"))
    assert result.exit_code == 0
    en, fi = (json.loads(line) for line in result.stdout.splitlines())
    assert (en["language"], en["primary_step"]) == ("en", 5)
    assert (fi["language"], fi["primary_step"]) == ("fi", 2)
    assert set(en["step_scores"]) == {"1", "2", "3", "4", "5"} and en["step_scores"]["5"] > 50
    assert "says" in en["evidence"]["5"] and "passed" not in en
    assert any("Säästät" in e or "säästät" in e.lower() for e in fi["evidence"]["2"])


def test_step_gives_a_verdict_and_exit_1_on_failure(files, cli):
    ok = cli("check", "--json", "--step", "5", str(files / "en.txt"))
    assert ok.exit_code == 0 and json.loads(ok.stdout)["passed"] is True
    bad = cli("check", "--json", "--step", "4", str(files / "fi.txt"))
    record = json.loads(bad.stdout)
    assert bad.exit_code == 1 and record["passed"] is False
    assert record["findings"][0]["rule"] == "ladder.step" and record["findings"][0]["level"] == "error"


def test_vale_like_lines_with_positions(files, workspace, cli):
    (files / "cheap.txt").write_text("Is your close late?\nA cheap fix for the month-end close.\n", encoding="utf-8")
    result = cli("check", "--step", "3", "--segment", "cfo", "-w", str(workspace), str(files / "cheap.txt"))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{files / 'cheap.txt'}:2:3 vocabulary.avoid 'cheap' is a term this segment avoids: use 'cost-efficient'" in lines
    assert lines[-1].startswith(f"{files / 'cheap.txt'}: reads as step 3 (relevance)")
    assert lines[-1].endswith("target 3: failed, score 72")


def test_stdin_and_bad_input(cli):
    ok = cli("check", "--json", "-", input="Introducing our new app, now available for iOS and Android.")
    assert json.loads(ok.stdout)["primary_step"] == 1 and json.loads(ok.stdout)["file"] == "<stdin>"
    missing = cli("check", "no-such-file.txt")
    assert missing.exit_code == 2 and "no-such-file.txt: cannot read" in missing.stderr
    unknown = cli("check", "--segment", "nobody", "-", input="x")
    assert unknown.exit_code == 2


def test_check_run_rechecks_every_draft_in_its_jobs_context_and_shows_what_changed(workspace, cli):
    """After changing the levels (or the rules), `ladder check RUN` shows what that does to the
    drafts a run already made, each checked with its segment, channel and core statement."""
    from openai_server import ScriptedOpenAI
    from test_run import good

    with ScriptedOpenAI(good) as server:
        ran = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo")
    assert ran.exit_code == 0, ran.stderr
    same = cli("check", "latest", "-w", str(workspace), "--json")
    rows = [json.loads(line) for line in same.stdout.splitlines()]
    assert same.exit_code == 0 and len(rows) == 2
    assert all(r["now"]["passed"] and not r["changed"] for r in rows)  # same rules: the recorded verdicts
    assert all(f["rule"] == "value.drivers" and f["level"] == "warning" for r in rows for f in r["now"]["findings"])
    ladder_yaml = workspace / "ladder.yaml"  # the workspace makes that rule an error
    ladder_yaml.write_text(ladder_yaml.read_text() + "checks:\n  value.drivers: error\n")
    stricter = cli("check", "latest", "-w", str(workspace))
    assert stricter.exit_code == 1, stricter.stderr
    lines = stricter.stdout.splitlines()
    assert [line.split(":")[0] for line in lines if "→" in line] == ["testcamp.cfo.email", "testcamp.cfo.landing_hero"]
    assert all("passed 90 → failed " in line for line in lines if "→" in line)
    assert sum(line.startswith("  value.drivers ") for line in lines) == 2
    assert lines[-1].endswith("re-checked: 0 pass, 2 fail, 2 changed")


def test_check_of_an_unknown_run_or_file_is_bad_input(workspace, cli):
    result = cli("check", "latest", "-w", str(workspace))
    assert result.exit_code == 2 and "latest: cannot read" in result.stderr
