"""`ladder vocab`: the scoring on small samples with known answers (en, fi), the readers, the
suggestion file and --apply round-trip (comments and order kept), and the command on the shipped example."""

from __future__ import annotations

import json
import math

import pytest

from conftest import make_workspace, needs_voikko
from pipeline.discover import vocab


def test_log_odds_matches_the_formula():
    # Monroe et al. eq. 16–22 by hand: y_i=10 of n_i=100, y_j=5 of n_j=1000, α_w=1, α_0=10
    delta, z = vocab.log_odds(10, 100, 5, 1000, 1.0, 10.0)
    want = math.log(11 / (100 + 10 - 11)) - math.log(6 / (1000 + 10 - 6))
    assert delta == pytest.approx(want)
    assert z == pytest.approx(want / math.sqrt(1 / 11 + 1 / 6))
    # the same ratio seen in ten times the data is more certain
    assert vocab.log_odds(100, 1000, 50, 10000, 1.0, 10.0)[1] > z


EN_GROUP = [
    "We drilled the borehole last week and the borehole log looks fine.",
    "Borehole depth matters more than the pump.",
    "Check the borehole spacing in the design.",
    "The radiator network needs balancing before winter.",
    "A radiator network from the sixties runs hot water.",
    "Balance the radiator network first, then the borehole.",
    "The weather was nice today.",
]
EN_OTHER = [
    "The portfolio return was fine this year.",
    "Our portfolio holds ten buildings and the weather was nice.",
    "The fund reports the portfolio every quarter.",
    "Net operating income grew in the portfolio.",
]


def test_a_groups_own_words_rank_first_in_english():
    a = vocab.analyse(lambda: EN_GROUP, "en", "eng", {"inv": lambda: EN_OTHER}, top=10)
    terms = [t.lemmas for t in a.terms]
    assert terms[0] == "borehole"  # in 4 documents, 5 times; never in the reference
    assert "radiator network" in terms  # a phrase, said as a phrase
    assert "radiator" not in terms  # its word alone is the phrase's
    assert not {"weather", "nice", "portfolio"} & set(terms)  # shared, or the other group's
    top = a.terms[0]
    assert top.count == 5 and top.docs == 4 and len(top.contexts) == 3
    # the other way round, the reference's word is its own
    b = vocab.analyse(lambda: EN_OTHER, "en", "inv", {"eng": lambda: EN_GROUP}, top=10)
    assert b.terms[0].lemmas == "portfolio"


def test_one_use_in_one_document_is_not_a_term():
    docs = EN_GROUP + ["A single mention of geothermal here."]
    a = vocab.analyse(lambda: docs, "en", "eng", {"inv": lambda: EN_OTHER})
    assert "geothermal" not in [t.lemmas for t in a.terms]


FI_GROUP = [
    "Vastike ei saa nousta, sanoi naapuri.",
    "Nouseeko vastike lämmityksen takia?",
    "Vastikkeet pysyvät ennallaan, kiitos.",
    "Koti on lämmin ja naapuri tyytyväinen.",
    "Naapurit kysyivät samaa.",
    "Sää oli tänään hyvä.",
]
FI_OTHER = [
    "Hallitus päätti hankkeesta.",
    "Hanke esitellään yhtiökokouksessa, ja sää oli hyvä.",
    "Yhtiökokous hyväksyi hankkeen.",
]


@needs_voikko
def test_a_groups_own_words_rank_first_in_finnish_on_lemmas():
    a = vocab.analyse(lambda: FI_GROUP, "fi", "res", {"board": lambda: FI_OTHER}, top=10)
    terms = [t.lemmas for t in a.terms]
    assert set(terms[:2]) == {"vastike", "naapuri"}  # every inflected form counts for its lemma
    assert a.terms[terms.index("vastike")].count == 3
    assert a.terms[0].term in ("vastike", "naapuri")  # shown in base form
    assert not {"sää", "hyvä", "hanke"} & set(terms)


@needs_voikko
def test_personal_data_is_scrubbed_before_counting_and_in_contexts():
    docs = [f"Vastike nousee, soita Mikko Virtaselle 040 123 45{i:02d}." for i in range(5)]
    a = vocab.analyse(lambda: docs, "fi", "res", {"board": lambda: FI_OTHER})
    dump = json.dumps(a.public(), ensure_ascii=False)
    assert "Mikko" not in dump and "Virtase" not in dump and "040" not in dump
    assert "[NAME]" in dump and "[PHONE]" in dump


def test_readers_stream_text_csv_jsonl_and_xlsx(tmp_path):
    import openpyxl

    (tmp_path / "a.md").write_text("first doc\n---\nsecond doc\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,answer\n1,third doc\n2,\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text('{"body": "fourth doc"}\n\n{"body": "fifth doc"}\n', encoding="utf-8")
    wb = openpyxl.Workbook()
    wb.active.append(["id", "answer"])
    wb.active.append([1, "sixth doc"])
    wb.save(tmp_path / "d.xlsx")
    docs = list(vocab.documents([tmp_path / "a.md"])) + list(vocab.documents([tmp_path / "b.csv"], column="answer"))
    docs += list(vocab.documents([tmp_path / "c.jsonl"], field="body"))
    docs += list(vocab.documents([tmp_path / "d.xlsx"], column="answer"))
    assert docs == ["first doc", "second doc", "third doc", "fourth doc", "fifth doc", "sixth doc"]
    with pytest.raises(vocab.VocabError, match="no column 'text'"):
        list(vocab.documents([tmp_path / "b.csv"], column="text"))


SEGMENT = """# Residents: the people who live in the buildings.
id: residents
name: Residents
language: fi
role: customer
current_step: 4
vocabulary:
  use: [koti, lämpö]  # their own words
  avoid:
    - {term: lämpöpumppuratkaisu, replacement: maalämpö, reason: "asukkaat eivät puhu ratkaisuista"}
  concepts:
    lower_cost: vastike ei nouse lämmityksen takia
# tone last, on purpose
tone:
  formality: casual
  address: sinä
"""


def test_apply_merges_chosen_terms_keeping_comments_and_order(tmp_path):
    path = tmp_path / "residents.yaml"
    path.write_text(SEGMENT, encoding="utf-8")
    proposed = {"use": ["naapuri", "talvi", "koti"],
                "avoid": [{"term": "investointi", "replacement": "ei ylimääräistä vastiketta", "reason": "r"}],
                "concepts": {"lower_cost": "jotain muuta", "we_run_it": "huolehtivat laitteista"}}
    added = vocab.apply(path, proposed, ["naapuri", "huolehtivat laitteista", "investointi", "jotain muuta"])
    assert added == ["naapuri", "investointi", "huolehtivat laitteista"]  # an existing concept term stays
    text = path.read_text(encoding="utf-8")
    for comment in ("# Residents: the people", "# their own words", "# tone last, on purpose"):
        assert comment in text
    assert text.index("vocabulary:") < text.index("tone:")
    assert 'reason: "asukkaat eivät puhu ratkaisuista"' in text  # quoting kept
    import yaml

    data = yaml.safe_load(text)
    assert data["vocabulary"]["use"] == ["koti", "lämpö", "naapuri"]
    assert data["vocabulary"]["concepts"] == {"lower_cost": "vastike ei nouse lämmityksen takia",
                                              "we_run_it": "huolehtivat laitteista"}
    assert data["vocabulary"]["avoid"][1]["term"] == "investointi"
    assert vocab.apply(path, proposed, ["naapuri"]) == []  # again: nothing new, file untouched


@needs_voikko
def test_vocab_on_the_shipped_example_suggests_reviewable_terms_and_applies_them(tmp_path, cli):
    ws = make_workspace(tmp_path, base="example")
    html = tmp_path / "vocab.html"
    result = cli("vocab", "engineers", "-w", str(ws), "--html", str(html))
    assert result.exit_code == 0, result.output
    suggested = ws / "segments" / "suggested" / "engineers.yaml"
    import yaml

    data = yaml.safe_load(suggested.read_text(encoding="utf-8"))
    assert suggested.read_text(encoding="utf-8").startswith("# Suggested vocabulary")
    top = [t["term"] for t in data["evidence"]["terms"][:20]]
    assert {"borehole", "COP", "design", "radiator network"} <= set(top)
    assert all(t["contexts"] for t in data["evidence"]["terms"])
    page = html.read_text(encoding="utf-8")
    assert "radiator network" in page and "<script src" not in page and "http" not in page.split("</style>")[0]
    # the folder of samples and suggestions is no segment: the workspace still validates
    assert cli("validate", "-w", str(ws)).exit_code == 0
    before = (ws / "segments" / "engineers.yaml").read_text(encoding="utf-8")
    new = next(t for t in data["vocabulary"]["use"])
    result = cli("vocab", "engineers", "-w", str(ws), "--apply", new)
    assert result.exit_code == 0 and f"added 1: {new}" in result.output
    after = (ws / "segments" / "engineers.yaml").read_text(encoding="utf-8")
    assert after != before and new in after
    assert cli("validate", "-w", str(ws)).exit_code == 0


@pytest.mark.parametrize("content, where", [
    ("vocabulary: [unclosed\n", ":2"),
    ("- a\n- b\n", ":1: expected a mapping of keys"),  # the workspace loader's own words
    ("vocabulary: 5\n", ":1 vocabulary"),
    ("evidence: {}\nvocabulary:\n  use: 7\n  avoid:\n    - {term: x}\n  colour: red\n", None),
])
def test_apply_of_a_broken_suggestion_names_the_file_and_line_and_changes_nothing(tmp_path, cli, content, where):
    """A reviewer edits the suggestion file by hand: whatever they break is a clear error (exit 2),
    never a traceback, and the segment's file is left as it was."""
    ws = make_workspace(tmp_path, base="example")
    source = ws / "segments" / "suggested" / "engineers.yaml"
    source.parent.mkdir(parents=True)
    source.write_text(content, encoding="utf-8")
    before = (ws / "segments" / "engineers.yaml").read_text(encoding="utf-8")
    result = cli("vocab", "engineers", "-w", str(ws), "--apply")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    if where:
        assert f"{source}{where}" in result.stderr
    else:  # every problem at once, each with its line and key
        assert f"{source}:3 vocabulary.use" in result.stderr and f"{source}:5 vocabulary.avoid[0].replacement" in result.stderr
        assert f"{source}:6 vocabulary.colour" in result.stderr
    assert (ws / "segments" / "engineers.yaml").read_text(encoding="utf-8") == before


@pytest.mark.parametrize("name, content, message", [
    ("answers.xlsx", b"not a zip", "answers.xlsx: not an Excel workbook (BadZipFile"),
    ("answers.csv", b"text\n" + b"a" * 200_000 + b"\n", "answers.csv: not a readable CSV file (field larger"),
    ("answers.jsonl", b'{"text": "hei"}\n{bad\n', "answers.jsonl:2: not a JSON line"),
    ("answers.txt", b"\xb1\xff", "answers.txt: not UTF-8 text"),
])
def test_a_text_file_vocab_cannot_read_is_named_once_with_its_line(tmp_path, cli, name, content, message):
    (tmp_path / "ws").mkdir()
    ws = make_workspace(tmp_path / "ws", base="example")
    path = tmp_path / name
    path.write_bytes(content)
    result = cli("vocab", "engineers", str(path), "-w", str(ws))
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = [ln for ln in result.stderr.splitlines() if name in ln]
    assert line.startswith(str(tmp_path / message.split(":")[0])) and message.split(name)[1] in line
    assert line.count(name) == 1  # the file named once, not "file: file: ..."
