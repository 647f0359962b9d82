"""`ladder validate`: every broken fixture gives its exact messages, all at once, exit 2."""

from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, make_workspace

CASES = sorted(p.name for p in (FIXTURES / "invalid").iterdir() if p.is_dir())


def overlay(case: str) -> dict[str, str]:
    folder = FIXTURES / "invalid" / case
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in folder.rglob("*")
        if p.is_file() and p.name != "expected.txt"
    }


@pytest.mark.parametrize("case", CASES)
def test_broken_fixture_gives_its_exact_messages(case, tmp_path, cli):
    (tmp_path / "ws").mkdir()
    ws = make_workspace(tmp_path / "ws", files=overlay(case))
    result = cli("validate", "-w", str(ws))
    expected = (FIXTURES / "invalid" / case / "expected.txt").read_text(encoding="utf-8")
    assert result.stderr == expected
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr


def test_every_message_names_file_line_and_key(tmp_path, cli):
    for case in CASES:
        for line in (FIXTURES / "invalid" / case / "expected.txt").read_text().splitlines()[:-1]:
            where = line.split(" ", 1)[0]
            file, _, lineno = where.rstrip(":").partition(":")
            assert Path(file).suffix in (".yaml", ".csv", ".j2"), line
            assert lineno.isdigit(), line


def test_the_shipped_example_is_valid(cli):
    result = cli("validate", "-w", str(REPO))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: 6 segments, 8 channels, 19 jobs planned")


def test_the_base_fixture_is_valid(workspace, cli):
    result = cli("validate", "-w", str(workspace))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_a_folder_without_ladder_yaml(tmp_path, cli):
    result = cli("validate", "-w", str(tmp_path))
    assert result.exit_code == 2
    assert "ladder.yaml: not a ladder workspace" in result.stderr


def test_run_refuses_invalid_input_before_any_model_call(tmp_path, cli):
    from openai_server import ScriptedOpenAI

    ws = tmp_path / "ws"
    ws.mkdir()
    make_workspace(ws, files=overlay("missing_field"))
    with ScriptedOpenAI() as server:
        result = cli("run", "-w", str(ws), "--base-url", server.base_url)
    assert result.exit_code == 2
    assert "vocabulary.avoid[1].replacement: field required" in result.stderr
    assert server.requests == []
    assert not (ws / "outputs").exists() or not any((ws / "outputs").iterdir())
