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
