"""The segment-aware rules (core concepts, claims, tone, roles, borrowed voice), each with a
passing and a failing draft, in English and Finnish, on the test workspace."""

import pytest

from conftest import make_workspace, needs_voikko
from pipeline.stages.check import CheckContext, borrowed_voice, check, claims, core_concepts, roles, tone
from pipeline.stages.plan import plan
from pipeline.workspace.load import load_workspace

MORE_SEGMENTS = {
    "segments/isannoitsijat.yaml": """\
id: isannoitsijat
name: Isännöitsijät
language: fi
role: prospect
current_step: 2
vocabulary: {use: [isännöitsijä, kiinteistö, huoltoyhtiö]}
tone: {formality: neutral, address: te, energy: calm, sentence_length: short}
""",
    "segments/kuluttajat.yaml": """\
id: kuluttajat
name: Kuluttajat
language: fi
role: outside_target
current_step: 1
vocabulary: {use: [kotitalous]}
tone: {formality: casual, address: sinä}
""",
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    workspace, problems = load_workspace(make_workspace(tmp_path_factory.mktemp("ws"), files=MORE_SEGMENTS))
    assert workspace is not None, problems
    return workspace


def run(ws, segment, channel, parts, rule):
    job = next(j for j in plan(ws).jobs if (j.segment, j.channel) == (segment, channel))
    return check(ws, job, parts, [rule]).findings


def hero(text, headline="Kirjanpito", cta="Varaa aika"):
    return {"headline": headline, "subheadline": text, "call_to_action": cta}


# --- core concepts, in the segment's own term ------------------------------------------------

@pytest.mark.parametrize("segment, good, bad", [
    ("cfo", "Your month-end close by the 5th, every month.", "Your books, handled."),
    ("yrittajat", "Kirjanpitosi on valmiina viidenteen päivään mennessä.", "Kirjanpitosi hoituu."),
])
def test_core_concepts(ws, segment, good, bad):
    assert run(ws, segment, "landing_hero", hero(good), core_concepts) == []
    (finding,) = run(ws, segment, "landing_hero", hero(bad), core_concepts)
    assert finding.rule == "core.concepts" and finding.level == "error"  # an error out of the box since issue 12
    assert "fast month-end close" in finding.message and finding.fix


# --- claims trace to the core statement ------------------------------------------------------

@pytest.mark.parametrize("segment, good, bad, figure", [
    ("cfo", "Closed by the 5th in 98 % of months.", "Cut your close time by 45 %.", "45"),
    ("yrittajat", "Valmis 98 %:ssa kuukausista.", "Säästät 60 % ajasta.", "60"),
])
def test_unsupported_figures_are_errors(ws, segment, good, bad, figure):
    assert run(ws, segment, "landing_hero", hero(good), claims) == []
    # the figure, and (since issue 12) the outcome it measures, each traced on its own
    (finding,) = [f for f in run(ws, segment, "landing_hero", hero(bad), claims) if f.span == figure]
    assert (finding.rule, finding.level, finding.span) == ("claims.unsupported", "error", figure)
    assert "p1" in finding.fix  # the instruction names the proof points that may be used


@pytest.mark.parametrize("segment, text, figures", [
    ("cfo", "If you run one or two entities, the close is yours in a day.", []),
    ("cfo", "Teams of two or three close faster with us.", []),
    ("cfo", "Two clients closed faster.", ["Two"]),  # a count on its own is still a figure
    ("cfo", "We cut the close by 2 or 3 days.", ["2", "3"]),  # figures in digits stay figures
    pytest.param("yrittajat", "Jos omistat yhden tai kaksi asuntoa, kirjanpito on valmis.", [], marks=needs_voikko),
    ("yrittajat", "Kaksi tai kolme yrittäjää kysyy samaa.", []),
])
def test_a_rough_count_is_no_figure(ws, segment, text, figures):
    found = [f.span for f in run(ws, segment, "landing_hero", hero(text), claims) if f.message.startswith("the figure")]
    assert found == figures


@pytest.mark.parametrize("segment, text", [("cfo", "Accuracy guaranteed, or your money back."),
                                           ("yrittajat", "Takaamme virheettömän kirjanpidon.")])
def test_a_guarantee_the_core_does_not_give(ws, segment, text):
    (finding,) = run(ws, segment, "landing_hero", hero(text), claims)
    assert finding.rule == "claims.unsupported" and finding.level == "error"


def test_a_guarantee_the_core_gives_passes(tmp_path):
    core = (make_workspace(tmp_path) / "segments" / "core.yaml")
    core.write_text(core.read_text(encoding="utf-8").replace(
        "with no software to learn.", "with no software to learn, guaranteed."), encoding="utf-8")
    ws, problems = load_workspace(tmp_path)
    assert run(ws, "cfo", "landing_hero", hero("Your close, guaranteed."), claims) == []


@pytest.mark.parametrize("segment, text, span", [
    ("cfo", "The fastest close in the country.", "fastest"),
    pytest.param("yrittajat", "Suomen nopein tilitoimisto.", "nopein", marks=needs_voikko),
    ("yrittajat", "Alan johtava tilitoimisto.", "johtava"),
])
def test_superlatives_without_backing_are_errors(ws, segment, text, span):
    (finding,) = run(ws, segment, "landing_hero", hero(text), claims)
    assert (finding.level, finding.span) == ("error", span)  # any unbacked claim is an error (issue 12)


# --- tone: address, sentence length, hype ----------------------------------------------------

@needs_voikko
def test_finnish_address_sina_or_te(ws):
    sina = "Varaa aika, niin kirjanpitosi on valmis ja säästät aikaa."
    te = "Varatkaa aika, niin kirjanpitonne on valmis ja säästätte aikaa."
    assert [f for f in run(ws, "yrittajat", "landing_hero", hero(sina), tone) if f.rule == "tone.address"] == []
    (finding,) = [f for f in run(ws, "yrittajat", "landing_hero", hero(te), tone) if f.rule == "tone.address"]
    assert finding.level == "error" and "'sinä'" in finding.message  # an error out of the box since issue 12
    # and the other way round for a segment addressed as te
    assert [f.rule for f in run(ws, "isannoitsijat", "email", {"subject": "Kiinteistö", "body": sina,
                                                                  "call_to_action": "Varaa"}, tone)
            ].count("tone.address") == 1


def test_finnish_address_without_voikko(ws, no_voikko):
    te = "Teidän kirjanpitonne on valmis. Teille se tarkoittaa vähemmän työtä ja teidän yrityksenne kasvaa."
    assert any(f.rule == "tone.address" and f.level == "error"
               for f in run(ws, "yrittajat", "landing_hero", hero(te), tone))


@pytest.mark.parametrize("text, message, level", [
    # English has one address, "you": never using it is the wrong address, an error since issue 12
    ("The service closes the books by the 5th and keeps an audit trail for every month of the year.",
     "never speaks to the reader", "error"),
    ("We are proud of our team. We built our service for us and our partners, and we love our work. "
     "You may like it.", "talks about us", "suggestion"),
])
def test_english_address(ws, text, message, level):
    (finding,) = [f for f in run(ws, "cfo", "landing_hero", hero(text), tone) if f.rule == "tone.address"]
    assert finding.level == level and message in finding.message
    ok = "Your month-end close is done by the 5th, so you see cash flow before the board meets."
    assert [f for f in run(ws, "cfo", "landing_hero", hero(ok), tone) if f.rule == "tone.address"] == []


@pytest.mark.parametrize("segment, short, long", [
    ("cfo", "Your close is done by the 5th. You see cash flow early.",
     "Your close is done by the fifth of every month because our team of accountants works through the "
     "first days of the month with your ledgers, bank feeds and receipts, so that you see the cash flow early."),
    ("isannoitsijat", "Kiinteistön lämmitys hoituu. Te säästätte aikaa.",
     "Kiinteistön lämmitys hoituu jatkossa kokonaan meidän puolestamme, koska suunnittelemme, rakennamme ja "
     "ylläpidämme laitoksen itse ja seuraamme sen toimintaa etänä joka päivä ympäri vuoden."),
])
def test_sentence_length_against_the_tone(ws, segment, short, long):
    channel = "landing_hero" if segment == "cfo" else "email"
    parts = (lambda t: hero(t, "Close", "Book")) if segment == "cfo" else (
        lambda t: {"subject": "Kiinteistö", "body": t, "call_to_action": "Varaa"})
    assert [f for f in run(ws, segment, channel, parts(short), tone) if f.rule == "tone.sentence_length"] == []
    (finding,) = [f for f in run(ws, segment, channel, parts(long), tone) if f.rule == "tone.sentence_length"]
    assert finding.level == "suggestion" and finding.span


@pytest.mark.parametrize("segment, hype", [
    ("cfo", "An amazing, incredible, revolutionary close for you!!!"),
    ("yrittajat", "Mahtava ja uskomaton kirjanpito sinulle!!!"),
])
def test_hype_and_exclamations(ws, segment, hype):
    found = {(f.rule, f.level) for f in run(ws, segment, "landing_hero", hero(hype), tone)}
    assert {("tone.hype", "error"), ("tone.hype", "suggestion")} <= found  # hype words (error since issue 12); exclamations
    calm = "Your close is done by the 5th." if segment == "cfo" else "Kirjanpitosi on valmis viidenteen mennessä."
    assert not [f for f in run(ws, segment, "landing_hero", hero(calm), tone) if f.rule == "tone.hype"]


# --- roles -----------------------------------------------------------------------------------

@pytest.mark.parametrize("segment, kind_ok, sells", [
    ("outsiders", "This service is built for small firms, not for enterprise finance teams.",
     "Enterprise teams: buy now and get a discount."),
    ("kuluttajat", "Palvelumme on tehty pienyrityksille, ei kotitalouksille.",
     "Tilaa nyt kotitaloutesi kirjanpito alennuksella!"),
])
def test_outside_target_pieces_must_not_sell(ws, segment, kind_ok, sells):
    assert run(ws, segment, "landing_hero", hero(kind_ok, cta="Lue lisää"), roles) == []
    (finding,) = run(ws, segment, "landing_hero", hero(sells, cta="Lue lisää"), roles)
    assert (finding.rule, finding.level) == ("role.sells", "error")


@pytest.mark.parametrize("segment, text", [
    ("cfo", "Thank you for a year with us. Know someone who needs a faster close? Refer a friend."),
    ("isannoitsijat", "Kiitos yhteisestä vuodesta! Suosittele meitä toiselle isännöitsijälle."),
])
def test_customer_only_content_to_a_prospect(ws, segment, text):
    channel = "landing_hero" if segment == "cfo" else "email"
    parts = hero(text) if segment == "cfo" else {"subject": "Kiitos", "body": text, "call_to_action": "Varaa"}
    (finding,) = run(ws, segment, channel, parts, roles)
    assert (finding.rule, finding.level) == ("role.customer_only", "error")  # issue 12
    fine = "Your month-end close, by the 5th." if segment == "cfo" else "Kiinteistön kirjanpito valmiina."
    fine = {**parts, "subheadline": fine} if segment == "cfo" else {**parts, "subject": "Kiinteistö", "body": fine}
    assert run(ws, segment, channel, fine, roles) == []


# --- borrowed voice --------------------------------------------------------------------------

@pytest.mark.parametrize("segment, own, borrowed, word", [
    ("cfo", "Your month-end close and cash flow, by the 5th.", "An enterprise month-end close.", "enterprise"),
    ("yrittajat", "Yrittäjä, kirjanpitosi on valmis.", "Yrittäjä, isännöitsijäsi kiittää.", "isännöitsijäsi"),
])
def test_borrowed_voice(ws, segment, own, borrowed, word):
    assert run(ws, segment, "landing_hero", hero(own), borrowed_voice) == []
    (finding,) = run(ws, segment, "landing_hero", hero(borrowed), borrowed_voice)
    assert (finding.rule, finding.level, finding.span) == ("vocabulary.borrowed", "error", word)  # issue 12


@pytest.mark.parametrize("company", ["Acme Oy", "Lämpövirta Oy"])
def test_the_company_name_ties_no_claim_to_the_core_whatever_the_company(ws, company):
    """Our name is in every claim of ours: an outcome that meets the core statement only in the
    name is unsupported, for any company (the example's name was once a stop word of the rules)."""
    name = company.split()[0]
    core = ws.core.model_copy(update={"company": company,
                                      "core": {**ws.core.core, "en": f"{name} cuts the heating bill of every housing company."}})
    ctx = CheckContext(language="en", step=3, parts={"text": f"{name} improves your board meetings."}, core=core)
    assert [(f.rule, f.span) for f in claims(ctx)] == [("claims.unsupported", "improves")]
    backed = CheckContext(language="en", step=3, parts={"text": f"{name} cuts your heating bill."}, core=core)
    assert list(claims(backed)) == []


@pytest.mark.parametrize("company", ["Acme Oy", "Lämpövirta Oy"])
def test_asking_a_prospect_to_recommend_the_company_by_name_is_customer_only(ws, company):
    """"Recommend <company>" is a referral ask whatever the company is called (the example's
    name was once written into the rule's pattern)."""
    seg = next(s for s in ws.segments if s.id == "cfo")
    core = ws.core.model_copy(update={"company": company})
    ask = f"Happy with the close? Recommend {company.split()[0]}."
    ctx = CheckContext(language="en", step=3, parts={"text": ask}, segment=seg, core=core)
    assert [(f.rule, f.span) for f in roles(ctx)] == [("role.customer_only", f"Recommend {company.split()[0]}")]
    other = CheckContext(language="en", step=3, parts={"text": "Happy with the close? Recommend Initech."},
                         segment=seg, core=core)
    assert list(roles(other)) == []
