"""The revise stage's safe fixes, made without a model call and recorded; and the run using them."""

import json

import pytest

from conftest import make_workspace, needs_voikko, run_dirs
from openai_server import ScriptedOpenAI
from pipeline.lang import lemma
from pipeline.stages.check import check
from pipeline.stages.plan import plan
from pipeline.stages.revise import fix, replace_term, trim
from pipeline.workspace.load import load_workspace
from pipeline.workspace.models import Attempt, Part

CTA_CHANNELS = {"channels.yaml": """\
channels:
  - id: landing_hero
    name: Landing page hero
    template: landing_hero.md.j2
    parts:
      - {name: headline, max_chars: 60}
      - {name: subheadline, max_chars: 150}
      - {name: call_to_action, max_chars: 30}
    call_to_action: {en: Book a call, fi: Varaa aika}
  - id: sms
    name: SMS
    template: sms.txt.j2
    format: text
    purpose: customer_experience
    roles: [customer]
    parts:
      - {name: text, max_chars: 160}
    call_to_action: {fi: Varaa aika}
"""}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    workspace, problems = load_workspace(make_workspace(tmp_path_factory.mktemp("ws"), files=CTA_CHANNELS))
    assert workspace is not None, problems
    return workspace


def fixed(ws, segment, channel, parts):
    job = next(j for j in plan(ws).jobs if (j.segment, j.channel) == (segment, channel))
    attempt = Attempt(n=1, parts=parts, check=check(ws, job, parts))
    return fix(ws, job, attempt), job


# --- avoided terms, in the same inflected form ----------------------------------------------

@needs_voikko
@pytest.mark.parametrize("before, after", [
    ("Investoinnista päätetään keväällä.", "Päätöksestä päätetään keväällä."),
    ("Emme tarjoa halpaa ratkaisua.", "Emme tarjoa edullista ratkaisua."),
    ("Halvalla ei saa hyvää.", "Edullisella ei saa hyvää."),
    ("Investointiin ei tarvita lainaa.", "Päätökseen ei tarvita lainaa."),
])
def test_finnish_replacement_in_the_same_case(before, after):
    term, replacement = ("investointi", "päätös") if "nvest" in before else ("halpa", "edullinen")
    value, (made,) = replace_term(before, term, replacement, "fi")
    assert value == after and made.after is not None and made.note == ""


@needs_voikko
def test_a_form_that_cannot_be_made_safely_is_flagged_not_guessed():
    value, (made,) = replace_term("Halpoja ratkaisuja on monia.", "halpa", "edullinen", "fi")  # plural partitive
    assert value == "Halpoja ratkaisuja on monia."
    assert made.after is None and "needs a human" in made.note and "Halpoja" in made.note


def test_without_voikko_only_the_base_form_is_replaced(no_voikko):
    assert lemma.backend("fi") == "suffix-fallback"
    value, fixes = replace_term("Halpa ja halpaa.", "halpa", "edullinen", "fi")
    assert value == "Edullinen ja halpaa."
    assert [f.after for f in fixes] == ["Edullinen", None]


@pytest.mark.parametrize("before, after", [
    ("Cheap books. No cheap tricks.", "Cost-efficient books. No cost-efficient tricks."),
    ("Loans are slow.", "Financing options are slow."),
])
def test_english_replacement(before, after):
    term, replacement = ("cheap", "cost-efficient") if "heap" in before else ("loan", "financing option")
    assert replace_term(before, term, replacement, "en")[0] == after
    assert replace_term("Cheaper than ever.", "cheap", "cost-efficient", "en")[1][0].after is None  # flagged


def test_a_fix_makes_a_failing_draft_pass_and_is_recorded(ws):
    parts = {"headline": "Close by the 5th", "call_to_action": "Book a call",
             "subheadline": "Is your month-end close late again? A cheap way to see cash flow and an audit trail by the 5th."}
    attempt, job = fixed(ws, "cfo", "landing_hero", parts)
    assert not check(ws, job, parts).passed
    assert attempt.source == "fix" and attempt.model_calls == 0 and attempt.n == 2
    assert "A cost-efficient way" in attempt.parts["subheadline"]
    assert check(ws, job, attempt.parts).passed


# --- trimming at a sentence boundary ---------------------------------------------------------

def test_trim_keeps_whole_sentences():
    part = Part(name="text", max_chars=40)
    assert trim("First sentence here. Second one is longer than the rest.", part) == "First sentence here."
    assert trim("One very long sentence that never ends before the limit of the part", part) is None
    assert trim("Yksi. Kaksi! Kolme? Neljä viisi kuusi seitsemän kahdeksan.", Part(name="t", max_words=3)) == "Yksi. Kaksi! Kolme?"


def test_over_the_limit_is_trimmed_or_flagged(ws):
    long = ("Kiitos, yrittäjä: kirjanpitosi on valmis ja tilitoimisto piti lupauksensa. "
            "Varaa aika. " + "Lisäksi kerromme kaikesta muustakin mitä teemme ja miksi " * 3)
    attempt, job = fixed(ws, "yrittajat", "sms", {"text": long})
    (trimmed,) = [f for f in attempt.fixes if f.rule == "parts.limit"]
    assert trimmed.after == attempt.parts["text"] and attempt.parts["text"].endswith("Varaa aika.")
    assert len(attempt.parts["text"]) <= 160
    no_boundary, _ = fixed(ws, "yrittajat", "sms", {"text": "kirjanpito " * 30})
    assert no_boundary is None  # nothing safe to do: the model revision gets it


# --- the call to action ----------------------------------------------------------------------

def test_an_empty_cta_part_is_filled_and_a_missing_cta_appended(ws):
    attempt, _ = fixed(ws, "cfo", "landing_hero", {"headline": "Close by the 5th", "call_to_action": "",
                                                   "subheadline": "Is your month-end close late again?"})
    assert attempt.parts["call_to_action"] == "Book a call"
    sms, job = fixed(ws, "yrittajat", "sms", {"text": "Kiitos, yrittäjä: kirjanpitosi on valmis."})
    assert sms.parts["text"] == "Kiitos, yrittäjä: kirjanpitosi on valmis. Varaa aika"
    assert not [f for f in check(ws, job, sms.parts).findings if f.rule == "call_to_action"]


# --- in a run ----------------------------------------------------------------------------------

def test_a_run_where_the_fix_passes_makes_no_revision_call(tmp_path, cli):
    workspace = make_workspace(tmp_path, files=CTA_CHANNELS)
    text = "Is your month-end close late again? A cheap way to see cash flow and an audit trail by the 5th."
    parts = {"headline": "Close by the 5th", "subheadline": text, "call_to_action": "Book a call"}
    with ScriptedOpenAI(lambda b: parts) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo",
                     "--channel", "landing_hero")
    assert result.exit_code == 0, result.output
    (run,) = run_dirs(workspace)
    record = json.loads((run / "cfo" / "landing_hero.json").read_text())
    assert [a["source"] for a in record["attempts"]] == ["draft", "fix"]
    assert record["status"] == "passed" and len(server.requests) == 1
    assert "cost-efficient" in (run / record["output"]).read_text()
