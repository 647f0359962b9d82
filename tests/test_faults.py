"""Faults: a request that fails for good is its job's error and the run goes on; only an endpoint
that cannot be used at all stops the run (exit 3), and then every job says why it did not run.
The embedded server's death is told with its signal, its log and what to do."""

import json
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import run_dirs
from openai_server import ScriptedOpenAI, fill, schema_of
from pipeline.model import server as embedded
from test_run import good


def finnish(body: dict) -> bool:
    return "suomeksi" in body["messages"][0]["content"]


def email(body: dict) -> bool:
    return "subject" in schema_of(body).get("properties", {})


def cfo(body: dict) -> bool:
    return "Finance directors" in json.dumps(body["messages"])


def results_of(ws: Path) -> dict:
    return json.loads((run_dirs(ws)[-1] / "run_results.json").read_text())


def by_job(results: dict) -> dict[tuple[str, str], dict]:
    return {(r["segment"], r["channel"]): r for r in results["results"]}


def test_one_segment_400_another_503_forever_are_job_errors_and_the_rest_finish(workspace, cli):
    """The outside tester's run: Finnish requests get 400 (say, context length), the English
    email's get 503 for ever; every other job finishes, exit 1, reasons in run_results and the log."""

    def faults(body):
        if finnish(body):
            return {"status": 400}
        if email(body) and cfo(body):
            return {"status": 503}
        return None

    with ScriptedOpenAI(good, faults=faults) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url)
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr + result.output
    results = results_of(workspace)
    assert results["status"] == "complete"
    jobs = by_job(results)
    assert jobs.pop(("cfo", "email"))["note"] == "request failed: the endpoint answered 503 after 5 tries: scripted"
    for (segment, _), job in jobs.items():
        if segment == "yrittajat":
            assert job["status"] == "error", job
            # a 400 is not retried, and the job stops at once: one call, not a draft per revision round
            assert job["note"] == "request failed: the endpoint answered 400: scripted"
            assert job["model_calls"] == 0 and job["output"] is None
        else:
            assert job["status"] in ("passed", "failed"), job
    assert results["summary"]["errors"] == 1 + sum(s == "yrittajat" for s, _ in jobs)
    db = sqlite3.connect(run_dirs(workspace)[-1].parent / "ladder.db")
    logged = dict(db.execute("select job_id, error from calls where error is not null"))
    assert any("answered 503 after 5 tries" in e for e in logged.values())
    assert any(job.endswith("yrittajat.sms") and "answered 400" in e for job, e in logged.items())


@pytest.mark.parametrize("action, reason", [
    ({"status": 422}, "the endpoint answered 422: scripted"),
    ({"status": 500}, "the endpoint answered 500 after 5 tries: scripted"),
    ({"content": None, "html": True}, "not a chat completion"),
])
def test_a_failing_request_is_that_jobs_error(workspace, cli, action, reason):
    def faults(body):
        if email(body) and cfo(body):
            return {"html": True} if action.get("html") else action
        return None

    with ScriptedOpenAI(good, faults=faults) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo")
    assert result.exit_code == 1, result.stderr
    jobs = by_job(results_of(workspace))
    assert jobs[("cfo", "email")]["status"] == "error" and reason in jobs[("cfo", "email")]["note"]
    assert jobs[("cfo", "landing_hero")]["status"] == "passed"


def test_a_failing_revision_keeps_the_job_an_error_with_its_drafts(workspace, cli):
    """The draft fails its check; the revision's request fails for good: an error, the draft kept."""
    calls = []

    def faults(body):
        calls.append(body)
        return {"status": 400} if len(calls) > 1 else None

    with ScriptedOpenAI(lambda b: fill(b, "Buy now!!! The best deal ever!!!"), faults=faults) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--segment", "cfo",
                     "--channel", "landing_hero")
    assert result.exit_code == 1
    job = by_job(results_of(workspace))[("cfo", "landing_hero")]
    assert job["status"] == "error" and job["note"].startswith("request failed: the endpoint answered 400")
    assert job["attempts"] >= 1 and job["model_calls"] == 1


@pytest.mark.parametrize("status, words", [(401, "refused the request (401): check the API key"),
                                           (403, "refused the request (403)"),
                                           (404, "not found (404), is the model name or the base URL wrong?")])
def test_an_endpoint_that_cannot_be_used_stops_the_run_and_every_job_says_why(workspace, cli, status, words):
    with ScriptedOpenAI(good, faults=lambda body: {"status": status}) as server:
        result = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--concurrency", "1")
        assert len(server.requests) == 1  # not retried, and no other job asks
    assert result.exit_code == 3
    assert words in result.stderr and "Traceback" not in result.stderr
    results = results_of(workspace)
    assert results["status"] == "interrupted"
    for job in results["results"]:
        assert job["status"] == "interrupted" and job["note"].startswith("not run: ") and words in job["note"]


def test_resume_tries_the_jobs_in_error_again_and_only_them(workspace, cli):
    with ScriptedOpenAI(good, faults=lambda body: {"status": 400} if finnish(body) else None) as server:
        assert cli("run", "-w", str(workspace), "--base-url", server.base_url).exit_code == 1
    first = by_job(results_of(workspace))
    errors = {k for k, r in first.items() if r["status"] == "error"}
    assert errors and all(segment == "yrittajat" for segment, _ in errors)
    with ScriptedOpenAI(good) as server:
        resumed = cli("run", "-w", str(workspace), "--base-url", server.base_url, "--resume")
        assert resumed.exit_code == 0, resumed.stderr
        assert all(finnish(body) for body in server.requests)  # only the jobs in error asked again
    after = by_job(results_of(workspace))
    assert all(after[k]["status"] == "passed" for k in errors)


# --- the embedded server -------------------------------------------------------------------------

FAKE_SERVER = textwrap.dedent('''
    """Answers /v1/models like llama-cpp-python's server; dies as a bad native build does."""
    import http.server, os, signal, sys

    port, when, sig = int(sys.argv[1]), sys.argv[2], getattr(signal, sys.argv[3])
    print("llama_model_loader: loaded meta data with 33 key-value pairs", flush=True)
    if when == "start":
        print("ggml_cpu: using the haswell variant", flush=True)
        os.kill(os.getpid(), sig)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b'{"object": "list", "data": [{"id": "fake"}]}'
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            print("ggml_compute_forward: general protection fault", flush=True)
            os.kill(os.getpid(), sig)

    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
''')


@pytest.fixture
def crashing_server(tmp_path, monkeypatch):
    """The embedded server's command swapped for one that crashes (a real process, a real signal)."""
    script = tmp_path / "fake_llama_server.py"
    script.write_text(FAKE_SERVER)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")

    def use(when: str, sig: str = "SIGSEGV") -> str:
        monkeypatch.setattr(embedded, "server_command",
                            lambda path, port, n_ctx: [sys.executable, str(script), str(port), when, sig])
        return str(gguf)

    return use


def test_an_embedded_server_that_dies_on_the_first_completion_is_explained(workspace, cli, crashing_server):
    gguf = crashing_server("request", "SIGSEGV")
    result = cli("run", "-w", str(workspace), "--gguf", gguf)
    assert result.exit_code == 3, result.stderr
    err = result.stderr
    assert "the embedded model server died of SIGSEGV (a crash)" in err
    assert "  | ggml_compute_forward: general protection fault" in err  # its log's last lines
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF' in err and "pip install --force-reinstall --no-cache-dir" in err
    assert "Traceback" not in err
    results = results_of(workspace)
    assert {r["status"] for r in results["results"]} == {"interrupted"}
    assert all("died of SIGSEGV" in r["note"] for r in results["results"])


CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse sse2 {}\nbugs\t\t:\n"


def test_the_rebuild_hint_turns_off_what_this_cpu_lacks(monkeypatch):
    haswell = embedded.cpu_flags(CPUINFO.format("ssse3 sse4_1 sse4_2 avx avx2 bmi2 fma f16c"))
    assert {"avx2", "fma", "f16c"} <= haswell
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install' in embedded.rebuild_hint(haswell)
    sandy = embedded.cpu_flags(CPUINFO.format("sse4_2 avx"))  # AVX without AVX2 (Sandy Bridge)
    hint = embedded.rebuild_hint(sandy)
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF" pip' in hint
    assert "this CPU lacks AVX2, BMI2, FMA, F16C" in hint
    qemu64 = embedded.cpu_flags(CPUINFO.format("pni cx16"))  # QEMU's default CPU model: SSE2 only
    assert "-DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF" in embedded.rebuild_hint(qemu64)
    two = CPUINFO.format("sse4_2 avx avx2 bmi2 fma f16c") + CPUINFO.format("sse4_2 avx")  # every processor counts
    assert "-DGGML_AVX2=OFF" in embedded.rebuild_hint(embedded.cpu_flags(two))
    assert embedded.cpu_flags("Features\t: fp asimd\n") is None  # ARM: no x86 flags
    monkeypatch.setattr(embedded.platform, "machine", lambda: "x86_64")  # an x86 host whose flags are unknown
    unknown = embedded.rebuild_hint(None)
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip' in unknown and "on a CPU without AVX2, add -DGGML_AVX2=OFF" in unknown
    monkeypatch.setattr(embedded.platform, "machine", lambda: "aarch64")
    assert "AVX" not in embedded.rebuild_hint(None)


def test_an_embedded_server_that_dies_at_start_is_explained(workspace, cli, crashing_server):
    gguf = crashing_server("start", "SIGILL")
    result = cli("run", "-w", str(workspace), "--gguf", gguf)
    assert result.exit_code == 3
    assert ("the embedded model server did not start: it died of SIGILL (an instruction this CPU does not have)"
            in result.stderr)
    assert "  | ggml_cpu: using the haswell variant" in result.stderr
    assert "GGML_NATIVE=OFF" in result.stderr and "Traceback" not in result.stderr
