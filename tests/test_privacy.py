"""Personal data out, provably: the scrubber per kind (en, fi), its checksums, what it must leave
alone (the shipped example's prompts, the company's name), the check rule, and a run against the
scripted loopback server in which no seeded datum reaches a prompt, the call log, an output or the report."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import REPO, make_workspace, needs_voikko, run_dirs
from openai_server import ScriptedOpenAI, fill
from pipeline.lang import privacy
from pipeline.stages import check, draft, plan
from pipeline.workspace import load


@pytest.mark.parametrize("language, text, kind, datum", [
    ("fi", "Lähetä kuitti osoitteeseen matti.meikalainen@example.fi kiitos", "EMAIL", "matti.meikalainen@example.fi"),
    ("en", "write to j.doe+hvac@mail.example.com today", "EMAIL", "j.doe+hvac@mail.example.com"),
    ("fi", "Soita 040 123 4567 iltaisin", "PHONE", "040 123 4567"),
    ("fi", "numero +358 40 1234567 toimii", "PHONE", "+358 40 1234567"),
    ("fi", "toimisto (09) 1234 567 auki", "PHONE", "(09) 1234 567"),
    ("en", "call +44 20 7946 0958 after six", "PHONE", "+44 20 7946 0958"),
    ("en", "call (555) 123-4567 after six", "PHONE", "(555) 123-4567"),
    ("fi", "hetu 131052-308T lomakkeessa", "HETU", "131052-308T"),
    ("fi", "hetu 010105A1230 lomakkeessa", "HETU", None),  # computed below: a valid 2000s code
    ("fi", "tili FI49 5000 9420 0287 30 maksuun", "IBAN", "FI49 5000 9420 0287 30"),
    ("en", "account GB82 WEST 1234 5698 7654 32 please", "IBAN", "GB82 WEST 1234 5698 7654 32"),
    ("en", "card 4111 1111 1111 1111 expired", "CARD", "4111 1111 1111 1111"),
    ("fi", "asun Mannerheimintie 12 B 5, 00100 Helsinki nykyään", "ADDRESS", "Mannerheimintie 12 B 5, 00100 Helsinki"),
    ("fi", "kävin Hämeenkadulla 3 eilen", "ADDRESS", "Hämeenkadulla 3"),
    ("en", "send it to 221B Baker Street, London please", "ADDRESS", "221B Baker Street, London"),
    ("en", "see https://www.linkedin.com/in/jane-doe-123 for me", "URL", "https://www.linkedin.com/in/jane-doe-123"),
    ("fi", "kuvat www.example.fi/matti.meikalainen/kuvat täällä", "URL", "www.example.fi/matti.meikalainen/kuvat"),
    ("fi", "Kysyin asiaa Mikko Virtaselta eilen.", "NAME", "Mikko Virtaselta"),
    ("fi", "Terveisin,\nAino Laine", "NAME", "Aino Laine"),
    ("en", "Yesterday Emily Johnson asked about the radiators.", "NAME", "Emily Johnson"),
    ("en", "Thanks for the help. Regards, Tom", "NAME", "Tom"),
])
@needs_voikko
def test_each_kind_becomes_its_placeholder(language, text, kind, datum):
    if datum is None:  # a henkilötunnus of someone born 1 Jan 2005, with its check character
        body = "010105123"
        datum = f"010105A123{privacy.HETU_CHECK[int(body) % 31]}"
        text = f"hetu {datum} lomakkeessa"
    out = privacy.scrub(text, language)
    assert datum not in out and f"[{kind}]" in out, out


@pytest.mark.parametrize("text", [
    "hetu 131052-308A lomakkeessa",  # wrong check character
    "tili FI49 5000 9420 0287 31 maksuun",  # fails mod-97
    "kortti 4111 1111 1111 1112",  # fails Luhn
])
def test_checksums_decide(text):
    assert privacy.scrub(text, "fi") == text


@pytest.mark.parametrize("text", [
    "Lämpövirta Oy siirtää taloyhtiön pois kaukolämmöstä ilman alkuinvestointia.",
    "Asennus kestää 10–14 viikkoa, eikä lämpö ole poissa koskaan yli 8 tuntia.",
    "Asukkaat arvioivat asumismukavuuden 4,6/5 vuoden 2025 kyselyssämme (412 vastausta).",
    "Heating cost fell by 32 % on average in the 14 housing companies (2025 metering).",
    "Show me the COP in January, not in May.",
    "See lampovirta.fi/laskuri for the calculator.",
    "Anna palautetta!",
    "Virtanen Oy asentaa laitteet.",
])
@needs_voikko
def test_clean_text_is_left_alone(text):
    assert privacy.scrub(text) == text


@needs_voikko
def test_the_shipped_examples_prompts_are_unchanged():
    ws, problems = load.load_workspace(REPO)
    assert ws is not None, problems
    for job in plan.plan(ws).jobs:
        for prompt in ("draft.j2", "revise.j2"):
            msgs = draft.messages(ws, job, prompt)
            assert privacy.scrub_messages(msgs) is msgs, (job.id, privacy.find(msgs[1]["content"]))


@needs_voikko
def test_the_privacy_rule_names_the_kind_never_the_datum():
    ctx = check.CheckContext(language="fi", step=None,
                             parts={"body": "Soita Mikko Virtaselle: 040 123 4567 tai mikko@example.fi."})
    findings = [f for f in check.evaluate(ctx).findings if f.rule == "privacy"]
    assert len(findings) == 1 and findings[0].level == "error"
    f = findings[0]
    assert "EMAIL" in f.message and "PHONE" in f.message and "NAME" in f.message
    assert f.span is None
    for datum in ("Mikko", "Virtaselle", "040 123 4567", "mikko@example.fi"):
        assert datum not in f.model_dump_json()
    clean = check.CheckContext(language="fi", step=None, parts={"body": "Lämmin koti, vaikka pakkanen paukkuu."})
    assert not [f for f in check.evaluate(clean).findings if f.rule == "privacy"]


SEEDED = {
    "EMAIL": "sarah.whitaker@example.com", "PHONE": "+44 20 7946 0958", "CARD": "4111 1111 1111 1111",
    "IBAN": "GB82 WEST 1234 5698 7654 32", "ADDRESS": "221B Baker Street", "NAME": "Sarah Whitaker",
    "URL": "https://www.linkedin.com/in/sarah-whitaker-77",
    "FI_EMAIL": "matti.meikalainen@example.fi", "FI_PHONE": "040 765 4321", "HETU": "131052-308T",
    "FI_IBAN": "FI49 5000 9420 0287 30", "FI_ADDRESS": "Mannerheimintie 12 B 5", "FI_NAME": "Matti Meikäläinen",
}

CFO = """id: cfo
name: Finance directors
language: en
role: prospect
current_step: 2
needs: [a reliable month-end close, "a call back: Sarah Whitaker, +44 20 7946 0958, sarah.whitaker@example.com"]
objections: ["paid by card 4111 1111 1111 1111 from GB82 WEST 1234 5698 7654 32, office at 221B Baker Street"]
value_drivers: [economic]
vocabulary:
  use: [month-end close, cash flow, audit trail]
  avoid:
    - {term: cheap, replacement: cost-efficient}
  concepts:
    fast_close: month-end close by the 5th
tone:
  formality: formal
  address: you
  examples: ["What does this do to the close?", "see https://www.linkedin.com/in/sarah-whitaker-77"]
"""


@needs_voikko
def test_no_seeded_datum_reaches_a_prompt_the_call_log_an_output_or_the_report(tmp_path, cli):
    ws = make_workspace(tmp_path, files={"segments/cfo.yaml": CFO})
    yrittajat = (ws / "segments" / "yrittajat.yaml").read_text(encoding="utf-8")
    yrittajat += ("\nobjections: [\"soita Matti Meikäläinen 040 765 4321, hetu 131052-308T, "
                  "tili FI49 5000 9420 0287 30, Mannerheimintie 12 B 5, matti.meikalainen@example.fi\"]\n")
    (ws / "segments" / "yrittajat.yaml").write_text(yrittajat, encoding="utf-8")
    en = "Is your month-end close late again? See cash flow and an audit trail by the 5th."
    fi = "Kiitos, yrittäjä: kirjanpitosi oli taas valmiina viidenteen mennessä, ja tilitoimisto hoiti sen."
    with ScriptedOpenAI(lambda b: fill(b, fi if "suomeksi" in b["messages"][0]["content"] else en)) as server:
        result = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted")
    assert result.exit_code in (0, 1), result.output
    report = tmp_path / "report.html"
    assert cli("report", "-w", str(ws), "--html", str(report)).exit_code == 0
    sent = "\n".join(m["content"] for body in server.requests for m in body.get("messages", []))
    assert "[NAME]" in sent and "[PHONE]" in sent and "[HETU]" in sent  # the prompts carried the placeholders
    with sqlite3.connect(ws / "outputs" / "ladder.db") as db:
        log = "\n".join(str(v) for table, in db.execute("select name from sqlite_master where type='table'")
                        for row in db.execute(f"select * from {table}") for v in row)
    outputs = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                        for run in run_dirs(ws) for p in run.rglob("*") if p.is_file())
    for kind, datum in SEEDED.items():
        for where, text in (("a prompt", sent), ("the call log", log), ("an output", outputs),
                            ("the report", report.read_text(encoding="utf-8"))):
            assert datum not in text, f"{kind} reached {where}"


def test_patterns_tried_at_digits_only_find_what_a_full_scan_finds():
    """The digit-bearing patterns are tried only where a run of digits begins (or just before,
    for an IBAN's letters and a phone's + or parenthesis): on seeded random text made of the
    pieces these patterns are built from, the matches are exactly ``finditer``'s."""
    import random

    rng = random.Random(3)
    pieces = [*"0123456789 +-()./,ABFIXYKSTabcdeä\n", "FI", "GB", "040", "+358", "(09)", "00358", " Street",
              " Road", "Mannerheimintie ", "00100 Helsinki", "131052-308T", "4111 1111 1111 1111", "x", "_", "–",
              "FI49 5000 9420 0287 30", "GB82 WEST 1234 5698 7654 32", "221B Baker Street, London", "12 Elm Road"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(4000)]
    for name, kind in [("IBAN", "IBAN"), ("CARD", "CARD"), ("HETU", "HETU"), ("PHONE", "PHONE"),
                       ("FI_POSTAL", "ADDRESS"), ("EN_STREET", "ADDRESS")]:
        pattern, found = getattr(privacy, name), 0
        for t in texts:
            digits = [m.start() for m in privacy.RUN_START.finditer(t)]
            full = [m.span() for m in pattern.finditer(t)]
            assert [m.span() for m in privacy._at_digits(pattern, kind, t, digits)] == full, (name, t)
            found += bool(full)
        assert found >= 100, (name, found)  # the text exercises the pattern


def test_reading_line_by_line_finds_what_reading_the_whole_text_finds():
    """``find`` reads a text line by line, each line cached with the context the name finder sees
    beyond it; on seeded random multi-line text (names, sign-offs and company suffixes across
    line breaks, every kind of datum) and the example's prompts, it finds exactly what
    ``find_whole`` does, for each language setting, with and without names and kept words."""
    import random

    rng = random.Random(5)
    pieces = ["Mikko", "Virtanen", "Oy", "Aino", "Laine", "Emily", "Johnson", "Grace", "Tom", "Anna", "Kallio",
              "Regards,", "Terveisin,", "Thanks", "ystävällisin terveisin", "Dr.", "herra", "Priya", "Donnelly",
              "Ltd", "Inc", "the", "ja", "and", "board", "taloyhtiö", "hallitus", "040 123 4567", "+358 40 1234567",
              "matti@example.fi", "www.example.fi/matti.meikalainen/kuvat", "131052-308T", "FI49 5000 9420 0287 30",
              "Mannerheimintie 12 B 5, 00100 Helsinki", "221B Baker Street, London", "4111 1111 1111 1111",
              "Hämeenkadulla 3", *".,!?:-—\"", "\n", "\n", "\n\n", " ", " ", "\t"]
    texts = ["".join(rng.choice(pieces) + (" " if rng.random() < 0.6 else "") for _ in range(rng.randint(1, 40)))
             for _ in range(1500)]
    ws, _ = load.load_workspace(REPO)
    texts += [m["content"] for job in plan.plan(ws).jobs[:6] for m in draft.messages(ws, job, "draft.j2")]
    texts += [" ".join(texts[:20]).replace("\n", " "),  # one line longer than privacy.CACHED_LINE: read, not cached
              "Hei,\n" + "12.50 ; 99.00 ; 2024\n" * 200 + "Terveisin,\nAino Laine Oy"]  # lines without words
    assert len(texts[-2]) > privacy.CACHED_LINE
    found = 0
    for i, text in enumerate(texts):
        keep = ["Virtanen"] if i % 5 == 0 else []
        for language in (None, "fi", "en"):
            for names in (True, False):
                whole = privacy.find_whole(text, language, keep, names)
                assert privacy.find(text, language, keep, names) == whole, (text, language, names)
                found += bool(whole)
    assert found > 5000  # the text exercises the finder
