"""Loading: YAML with line numbers, segments from spreadsheets, ladder overrides."""

from pathlib import Path

import pandas as pd
import pytest

from conftest import make_workspace
from pipeline.workspace import yaml_lines
from pipeline.workspace.load import load_workspace
from pipeline.workspace.yaml_lines import YamlError, parse_yaml

ROOT = Path(__file__).resolve().parents[1]

SHEET = [
    {"id": "shops", "name": "Shop owners", "language": "en", "role": "prospect", "current_step": "2",
     "needs": "fewer stock-outs; faster reorders", "vocabulary.use": "shop; till; stock",
     "vocabulary.avoid": "cheap=cost-efficient; hack=tip", "vocabulary.concepts": "fast_close=quick books",
     "tone.formality": "casual", "tone.address": "you", "channels": "email"},
    {"id": "kaupat", "name": "Kauppiaat", "language": "fi", "role": "customer", "current_step": "4",
     "target_step": "5", "needs": "", "vocabulary.use": "kauppias; kassa", "vocabulary.avoid": "",
     "vocabulary.concepts": "fast_close=kirjat kunnossa", "tone.formality": "casual", "tone.address": "sinä",
     "channels": ""},
]


def test_yaml_lines_follow_keys_and_items():
    data, lines = parse_yaml("a: 1\nb:\n  - x\n  - y: 2\n    z: 3\n")
    assert data == {"a": 1, "b": ["x", {"y": 2, "z": 3}]}
    assert lines[("a",)] == 1 and lines[("b", 1, "z")] == 5 and lines[("b", 0)] == 3


def test_duplicate_yaml_keys_are_errors():
    with pytest.raises(YamlError) as e:
        parse_yaml("a: 1\nb: 2\na: 3\n")
    assert (e.value.line, e.value.message) == (3, "duplicate key 'a'")


def test_libyaml_and_pyyaml_read_every_shipped_file_alike():
    """Valid files are parsed by libyaml (4× faster) under the same composer: the same values and
    the same lines as PyYAML's pure-Python parser; refused files get PyYAML's message."""
    if yaml_lines._FastLoader is None:
        pytest.skip("PyYAML was built without libyaml")
    files = [*ROOT.glob("*.yaml"), *(ROOT / "segments").rglob("*.yaml"), *(ROOT / "pipeline").rglob("*.yaml")]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert yaml_lines._parse(text, yaml_lines._FastLoader) == yaml_lines._parse(text, yaml_lines._BoundedLoader), path
    with pytest.raises(YamlError) as e:
        parse_yaml("a: [1, 2\nb: 3\n")
    assert "while parsing a flow sequence" in e.value.message  # PyYAML's words, not libyaml's
    with pytest.raises(YamlError) as e:
        parse_yaml("a:\n\t- 1\n")  # a tab libyaml would take: PyYAML's refusal, with its line
    assert e.value.line == 2 and "'\\t'" in e.value.message
    def outcome(parse):
        try:
            return parse()
        except YamlError as e:
            return ("refused", e.line, e.message)

    # what libyaml reads otherwise (a comment glued to a block header, a byte-order mark inside): PyYAML alone
    for text in ("a: >-#  x\n  y\n", "tone:\n  formality: casual\n\ufeff address: sinä\n"):
        assert outcome(lambda t=text: parse_yaml(t)) == outcome(lambda t=text: yaml_lines._parse(t, yaml_lines._BoundedLoader))
        assert outcome(lambda t=text: parse_yaml(t)) != outcome(lambda t=text: yaml_lines._parse(t, yaml_lines._FastLoader))


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_segments_from_a_spreadsheet(tmp_path, suffix):
    ws_dir = make_workspace(tmp_path)
    frame = pd.DataFrame(SHEET)
    path = ws_dir / "segments" / f"more.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_excel(path, index=False)
    ws, problems = load_workspace(ws_dir)
    assert [p for p in problems if p.level == "error"] == []
    shops = ws.segment("shops")
    assert shops.needs == ["fewer stock-outs", "faster reorders"]
    assert [(a.term, a.replacement) for a in shops.vocabulary.avoid] == [("cheap", "cost-efficient"), ("hack", "tip")]
    assert shops.vocabulary.concepts == {"fast_close": "quick books"} and shops.channels == ["email"]
    kaupat = ws.segment("kaupat")
    assert (kaupat.step, kaupat.channels, kaupat.vocabulary.use) == (5, None, ["kauppias", "kassa"])
    assert f"segments/more.{suffix}" in ws.input_hashes


def test_sheet_errors_name_the_row_line_and_column(tmp_path):
    ws_dir = make_workspace(tmp_path)
    bad = [dict(SHEET[0]), dict(SHEET[1], **{"tone.address": "you"})]
    pd.DataFrame(bad).to_csv(ws_dir / "segments" / "more.csv", index=False)
    ws, problems = load_workspace(ws_dir)
    assert ws is None
    assert [str(p) for p in problems if p.level == "error"] == [
        "segments/more.csv:3 tone: address 'you' does not fit language 'fi' (use one of: sinä, te)"
    ]


def test_a_step_reworded_twice_is_named_with_both_lines(tmp_path):
    ws_dir = make_workspace(tmp_path, files={"ladder.yaml": (
        "campaign: testcamp\nladder:\n  - step: 3\n    job: {en: One.}\n  - step: 3\n    job: {en: Two.}\n")})
    ws, problems = load_workspace(ws_dir)
    assert ws is None
    assert [(p.file, p.line, p.path) for p in problems] == [("ladder.yaml", 5, "ladder[1].step")]
    assert "first at line 3" in problems[0].message


def test_the_shipped_ladder_is_five_steps_in_order():
    from pydantic import ValidationError

    from pipeline.workspace.load import default_ladder
    from pipeline.workspace.models import Ladder

    steps = default_ladder().model_dump()["steps"]
    with pytest.raises(ValidationError, match="in this order"):
        Ladder.model_validate({"steps": [steps[0], steps[2], steps[2], steps[3], steps[4]]})


def test_a_workspace_may_reword_a_ladder_step(tmp_path):
    ws_dir = make_workspace(tmp_path, files={"ladder.yaml": (
        "campaign: testcamp\nladder:\n  - step: 3\n    job: {en: Tie it to the spring price rise.}\n")})
    ws, _ = load_workspace(ws_dir)
    assert ws.ladder[3].job["en"] == "Tie it to the spring price rise."
    assert ws.ladder[3].job["fi"].startswith("Sido hyöty")  # other wording kept
    assert ws.ladder[3].name["en"] == "relevance"
