"""Reviewers: the HTML report in a real headless Chromium, run metrics, compare, the spreadsheet
round trip (export → fill in → import), and decisions driving the next run."""

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from conftest import SECRET, run_dirs
from openai_server import ScriptedOpenAI, fill
from test_run import EN, good
from test_scale import many_segments

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)")
SCRIPT = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"


def dom(html: Path, fragment: str = "") -> str:
    """The page's DOM after its scripts ran, from a real headless Chromium."""
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          f"{html.resolve().as_uri()}{fragment}"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def articles(page: str) -> dict[str, str]:
    """article id → its opening tag, from a dumped DOM."""
    return {m.group(1): m.group(0) for m in re.finditer(r'<article class="variant[^"]*" id="([^"]+)"[^>]*>', page)}


def run(cli, ws: Path, responder=good, *args: str, server: ScriptedOpenAI | None = None):
    """Run against ``server`` (the same one keeps the reply cache's endpoint) or a new one."""
    if server is None:
        with ScriptedOpenAI(responder) as server:
            return run(cli, ws, responder, *args, server=server)
    result = cli("run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted", *args)
    assert result.exit_code in (0, 1), result.output + result.stderr
    return server, run_dirs(ws)[-1]


@needs_chromium
def test_the_report_shows_every_variant_escaped_and_filters_in_chromium(workspace, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def hostile(body):  # the cfo email carries markup; it must stay text
        prompt = body["messages"][-1]["content"]
        if "Finance directors" in prompt and "Email" in prompt:
            return fill(body, SCRIPT + " " + EN)
        return good(body)

    _, run_dir = run(cli, workspace, hostile)
    result = cli("report", "-w", str(workspace))
    assert result.exit_code == 0, result.output
    html = run_dir / "report.html"
    source = html.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', source)  # self-contained: nothing fetched
    assert source.count("<script") == 1 and SECRET not in source  # ladder's own filter script only

    page = dom(html)
    jobs = json.loads((run_dir / "run_results.json").read_text())["results"]
    assert set(articles(page)) == {r["job_id"] for r in jobs}  # every variant, each once
    assert "<title>ladder · testcamp" in page and "pwned</title>" not in page  # the injected script never ran
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in page  # shown as text
    assert "<img" not in page
    assert '<mark class="own"' in page and "month-end close" in page  # the segment's own terms marked
    assert "7 of 7 drafts" in page

    # filters, as a shareable link: only cfo's variants stay visible
    cfo = dom(html, "#segment=cfo")
    shown = {i for i, tag in articles(cfo).items() if "hidden" not in tag}
    assert shown == {r["job_id"] for r in jobs if r["segment"] == "cfo"} and shown
    assert f"{len(shown)} of 7 drafts" in cfo
    fi = dom(html, "#language=fi&verdict=passed")
    assert {i for i, t in articles(fi).items() if "hidden" not in t} == {
        r["job_id"] for r in jobs if r["language"] == "fi" and r["status"] == "passed"}


def test_metrics_flag_variants_that_are_not_personalised(tmp_path, cli):
    ws = many_segments(tmp_path, 3)  # three English groups, each on email and landing_hero

    def responder(body):  # g0002 gets its own piece; g0000 and g0001 the same one
        if "Group 0002" in body["messages"][-1]["content"]:
            return fill(body, "Group 0002: your month-end close, done by the 5th with cash flow you can trust.")
        return fill(body, "Month-end close by the 5th: cash flow and an audit trail, whoever reads this.")

    _, run_dir = run(cli, ws, responder, "--revise-rounds", "0")
    metrics = json.loads((run_dir / "run_results.json").read_text())["metrics"]
    assert metrics["drafts"] == 6 and 0 <= metrics["pass_rate"] <= 1 and metrics["tokens"] == 6 * 120
    pairs = metrics["distinctiveness"]["pairs"]
    assert len(pairs) == 6  # three pairs per channel
    flagged = {(p["channel"], tuple(p["segments"])) for p in metrics["distinctiveness"]["not_personalised"]}
    assert flagged == {("email", ("g0000", "g0001")), ("landing_hero", ("g0000", "g0001"))}
    assert all(p["similarity"] < 0.6 for p in pairs if "g0002" in p["segments"])
    assert metrics["vocabulary_coverage"]["g0002"] == {"terms": 2, "used": 2, "share": 1.0, "unused": []}


def test_export_fill_import_and_the_next_run_acts_on_the_decisions(workspace, cli):
    with ScriptedOpenAI(good) as server:
        _decide_and_run_again(workspace, cli, server)


def _decide_and_run_again(workspace, cli, server):
    _, first = run(cli, workspace, server=server)
    asked = len(server.requests)
    sheet = workspace / "review.xlsx"
    assert cli("export", "-w", str(workspace), "--format", "xlsx", "--to", str(sheet)).exit_code == 0
    book = openpyxl.load_workbook(sheet)
    rows = list(book["drafts"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:3] == ("id", "run_id", "segment") and header[-2:] == ("decision", "comment")
    assert len(body) == 7 and all(r[-2] is None for r in body)
    ids = [r[0] for r in body]
    approve, changes, reject = "testcamp.cfo.email", "testcamp.yrittajat.email", "testcamp.yrittajat.sms"
    col = {name: header.index(name) + 1 for name in ("decision", "comment")}
    for draft_id, decision, comment in ((approve, "approve", ""), (changes, "changes", "Mention the spring deadline."),
                                        (reject, "Reject", "Off tone.")):
        r = ids.index(draft_id) + 2
        book["drafts"].cell(r, col["decision"], decision)
        book["drafts"].cell(r, col["comment"], comment)
    book.save(sheet)
    imported = cli("review", "import", str(sheet), "-w", str(workspace))
    assert imported.exit_code == 0, imported.output
    assert "3 decisions imported" in imported.output

    # the report shows them
    cli("report", "-w", str(workspace))
    report = (first / "report.html").read_text()
    assert 'data-decision="approve"' in report and "Mention the spring deadline." in report

    # change nothing, run again: the approved draft is kept (no call), "changes" is revised with the
    # comment, the rejected one is drafted afresh although its reply is cached
    again = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--model", "scripted")
    assert again.exit_code == 0, again.output + again.stderr
    assert "1 approve, 1 changes, 1 reject" in again.stderr
    prompts = [" ".join(m["content"] for m in b["messages"]) for b in server.requests[asked:]]
    assert len(prompts) == 2  # everything else replayed from the cache
    assert any("Mention the spring deadline." in p and "Korjaa tämä teksti" in p for p in prompts)
    second = run_dirs(workspace)[-1]
    records = {r["job_id"]: r for r in json.loads((second / "run_results.json").read_text())["results"]}
    assert records[approve]["note"].startswith("approved in run") and records[approve]["model_calls"] == 0
    assert (second / "cfo" / "email.md").read_text() == (first / "cfo" / "email.md").read_text()
    assert records[changes]["note"].startswith("changes asked") and records[changes]["attempts"] == 2
    assert records[reject]["note"].startswith("rejected") and records[reject]["model_calls"] == 1
    # the approval follows the kept content into the new run: an approved-only export carries it
    out = workspace / "approved.jsonl"
    assert cli("export", "-w", str(workspace), "--format", "jsonl", "--approved-only", "--to", str(out)).exit_code == 0
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [approve]


def test_an_approved_draft_whose_inputs_changed_is_redrafted_and_flagged(workspace, cli):
    with ScriptedOpenAI(good) as server:
        run(cli, workspace, server=server)
        assert cli("review", "set", "testcamp.cfo.email", "approve", "-w", str(workspace)).exit_code == 0
        seg = workspace / "segments" / "cfo.yaml"
        seg.write_text(seg.read_text().replace("a reliable month-end close", "a month-end close the board trusts"))
        asked = len(server.requests)
        _, second = run(cli, workspace, good, "--segment", "cfo", "--channel", "email", server=server)
    record = json.loads((second / "run_results.json").read_text())["results"][0]
    assert record["note"].startswith("approved in run") and "inputs changed" in record["note"]
    assert len(server.requests) == asked + 1  # drafted again


def test_a_bad_sheet_is_refused_whole_with_every_problem(workspace, cli):
    _, first = run(cli, workspace)
    sheet = workspace / "review.csv"
    assert cli("export", "-w", str(workspace), "--format", "csv", "--to", str(sheet)).exit_code == 0
    with sheet.open(newline="") as f:
        rows = list(csv.DictReader(f))
    # row 2: a decision that does not exist; row 3: "changes" without a comment; row 4: fine
    rows[0]["decision"], rows[1]["decision"], rows[2]["decision"] = "maybe", "changes", "approve"
    with sheet.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = cli("review", "import", str(sheet), "-w", str(workspace))
    assert result.exit_code == 2
    assert f"{sheet}:2 N2 decision: 'maybe' is not a decision" in result.stderr
    assert f"{sheet}:3 O3 comment: a 'changes' decision needs a comment" in result.stderr
    assert "Traceback" not in result.stderr
    # nothing was applied, not even the good row
    cli("report", "-w", str(workspace))
    assert 'data-decision="approve"' not in (first / "report.html").read_text()


def test_export_documents_for_a_cms(workspace, cli):
    _, run_dir = run(cli, workspace)
    assert cli("export", "-w", str(workspace), "--format", "md").exit_code == 0
    files = sorted((run_dir / "export.md").iterdir())
    assert len(files) == 7
    text = (run_dir / "export.md" / "testcamp.cfo.email.md").read_text()
    front = text.split("---\n")[1]
    for key in ("id: testcamp.cfo.email", "language: en", "segment: cfo", "channel: email", "target_step: 3",
                "verdict: passed", "content_hash: ", "run_id: ", "decision: null"):
        assert key in front
    assert text.split("---\n", 2)[2].strip() == (run_dir / "cfo" / "email.md").read_text().strip()
    assert cli("export", "-w", str(workspace), "--format", "json").exit_code == 0
    doc = json.loads((run_dir / "export.json" / "testcamp.cfo.email.json").read_text())
    assert doc["id"] == "testcamp.cfo.email" and doc["body"] == (run_dir / "cfo" / "email.md").read_text()


def test_compare_two_runs(workspace, cli, tmp_path):
    first = run(cli, workspace)[1]
    seg = workspace / "segments" / "cfo.yaml"
    seg.write_text(seg.read_text().replace("Finance directors", "Finance leads"))
    other = "Month-end close late? Cash flow and an audit trail by the 5th, for finance leads."
    second = run(cli, workspace, lambda b: fill(b, other) if "Finance leads" in b["messages"][-1]["content"] else good(b))[1]
    html = tmp_path / "compare.html"
    result = cli("compare", first.name, second.name, "-w", str(workspace), "--html", str(html), "--diff")
    assert result.exit_code == 0, result.output
    changed = {line.split()[0] for line in result.output.splitlines() if line.endswith("changed")}
    assert changed == {"testcamp.cfo.email", "testcamp.cfo.landing_hero"}
    assert "+" + other[:30] in result.output
    assert "2 of 7 drafts changed" in result.output
    assert html.read_text().count('class="changed"') == 2
    # runs by position: latest~1 is the one before the latest (the default RUN_B)
    assert "2 of 7 drafts changed" in cli("compare", "latest~1", "-w", str(workspace)).output
    bad = cli("compare", "latest~x", "-w", str(workspace))
    assert bad.exit_code == 2 and "no run 'latest~x'" in bad.stderr
