"""Lemmas: inflected forms count as the term, in Finnish (Voikko) and English; the fallback is reported."""

import pytest

from conftest import needs_voikko
from pipeline.lang import lemma, text

FI = [("asiakkaillemme", "asiakas"), ("palveluistamme", "palvelu"), ("taloyhtiöille", "taloyhtiö"),
      ("lämmityskulujen", "lämmityskulu"), ("isännöitsijöille", "isännöitsijä"), ("halvin", "halpa")]


@needs_voikko
@pytest.mark.parametrize("form, base", FI)
def test_finnish_forms_with_voikko(form, base):
    assert base in lemma.lemmas(form, "fi")
    assert text.find_term(f"Kiitos {form}!", base, "fi") == [(7, 7 + len(form))]


@needs_voikko
def test_a_compound_counts_as_its_head_in_text_but_not_as_a_term():
    assert text.find_term("pois kaukolämmöstä", "lämpö", "fi")  # the text's compound holds the term
    assert not text.find_term("lämpö riittää", "kaukolämpö", "fi")  # the term's compound is not its head


@needs_voikko
def test_voikko_features():
    assert "you-verb" in lemma.features("säästät", "fi")
    assert "question" in lemma.features("oletko", "fi")
    assert "our" in lemma.features("asiakkaamme", "fi")


@pytest.mark.parametrize("form, base", [("companies", "company"), ("saving", "save"), ("planned", "plan"),
                                        ("boxes", "box"), ("customers'", "customer"), ("children", "child")])
def test_english_forms(form, base):
    assert base in lemma.lemmas(form, "en")


def test_without_voikko_the_fallback_still_matches_regular_forms_and_says_so(no_voikko):
    assert lemma.backend("fi") == "suffix-fallback"
    assert "LADDER_VOIKKO=0" in lemma.fallback_reason()
    assert text.find_term("kirjanpitosi on valmis", "kirjanpito", "fi")
    assert text.find_term("palveluistamme", "palvelu", "fi")


def test_a_run_tells_the_user_about_the_fallback(no_voikko, workspace, cli):
    from openai_server import ScriptedOpenAI

    with ScriptedOpenAI() as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "yrittajat",
                     "--channel", "sms", "--revise-rounds", "0")
    assert "note: Finnish terms are matched with a suffix fallback" in result.stderr
    assert "apt-get install libvoikko1 voikko-fi" in result.stderr


@needs_voikko
def test_turning_voikko_off_leaves_no_cache_answering_with_its_forms(monkeypatch):
    """reset() clears every cache made from base forms, in this module and in the modules that
    build on it, so no answer outlives the backend that gave it."""
    from pipeline.discover import vocab

    word = "halvin"  # Voikko: halpa; the suffix fallback cannot know it
    toks = text.tokens(word)
    with_voikko = (lemma.lemmas(word, "fi"), lemma.analyses(word), text.lemma_set(toks, "fi"),
                   vocab.lemma_of(word, "fi"))
    assert "halpa" in with_voikko[0] and with_voikko[1]
    monkeypatch.setenv("LADDER_VOIKKO", "0")
    lemma.reset()
    try:
        without = (lemma.lemmas(word, "fi"), lemma.analyses(word), text.lemma_set(toks, "fi"),
                   vocab.lemma_of(word, "fi"))
        assert lemma.backend("fi") == "suffix-fallback"
        assert "halpa" not in without[0] and without[1] == () and "halpa" not in without[2]
        assert without[3] != with_voikko[3]
    finally:
        monkeypatch.delenv("LADDER_VOIKKO")
        lemma.reset()
    assert lemma.lemmas(word, "fi") == with_voikko[0]
