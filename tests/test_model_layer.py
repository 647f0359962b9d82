"""The model layer against a real HTTP server on loopback: retries, re-asks, faults."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import openai
import pytest
from pydantic import BaseModel

from openai_server import ScriptedOpenAI, fill
from pipeline.errors import RequestFailed
from pipeline.model.chat import Chat, InvalidReply, retry_after
from pipeline.model.config import ModelConfig, resolve_config
from pipeline.workspace.models import ModelSettings


class Parts(BaseModel):
    subject: str
    body: str


def config(**kw) -> ModelConfig:
    base = dict(base_url="http://unused", model="scripted", api_key="sk-test", temperature=0.0, seed=7,
                timeout=5.0, structured_output="json_schema", gguf=None, max_retries=3, backoff=0.01, reasks=2)
    return ModelConfig(**{**base, **kw})


def ask(server, **kw):
    chat = Chat(config(**kw), server.base_url)
    return chat.structured([{"role": "user", "content": "write"}], Parts, max_tokens=100)


@pytest.fixture
def server():
    with ScriptedOpenAI(lambda body: fill(body, "A fine line.")) as s:
        yield s


@pytest.mark.parametrize("fault", [
    {"status": 500},
    {"status": 502},
    {"status": 503},
    {"status": 429, "headers": {"Retry-After": "0"}},
    {"reset": True},
])
def test_retryable_faults_are_retried_then_succeed(server, fault):
    server.script.extend([fault, fault])
    parts, usage, calls = ask(server)
    assert parts.subject == "A fine line."
    assert len(server.requests) == 3  # two faults, then the reply
    assert calls == 1  # transport retries are not re-asks


def test_a_slow_reply_times_out_and_is_retried(server):
    server.script.append({"sleep": 1.5})
    parts, _, _ = ask(server, timeout=0.5)
    assert parts.body == "A fine line."
    assert len(server.requests) == 2


def test_retries_stop_at_the_limit(server):
    server.script.extend([{"status": 500}] * 5)
    with pytest.raises(RequestFailed, match="answered 500 after 3 tries") as failed:
        ask(server, max_retries=2)
    assert isinstance(failed.value.__cause__, openai.InternalServerError)
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server):
    server.script.append({"status": 400})
    with pytest.raises(RequestFailed, match="answered 400: scripted"):
        ask(server)
    assert len(server.requests) == 1


@pytest.mark.parametrize("bad, error", [
    ({"content": "Sure! Here is your email."}, "held no JSON object"),
    ({"content": '{"subject": "Hi", "body": '}, "held no JSON object"),
    ({"content": '{"subject": "Hi", "body": "x",}'}, "malformed"),
    ({"content": '{"subject": "Hi"}'}, "body: Field required"),
    ({"content": ""}, "empty"),
    ({"content": '{"subject": "Hi", "bo', "finish_reason": "length"}, "cut off at the length limit"),
    ({"content": "I can't help with that.", "finish_reason": "content_filter"}, "content filter"),
])
def test_an_unusable_reply_is_re_asked_with_the_error(server, bad, error):
    server.script.append(bad)
    parts, usage, calls = ask(server)
    assert parts.subject == "A fine line."
    assert calls == 2
    retry_messages = server.requests[1]["messages"]
    assert retry_messages[-2]["role"] == "assistant"
    assert error in retry_messages[-1]["content"]
    assert usage.prompt_tokens == 200  # both calls counted


def test_re_asks_are_bounded(server):
    server.script.extend([{"content": "no"}] * 10)
    with pytest.raises(InvalidReply) as info:
        ask(server, reasks=2)
    assert info.value.calls == 3
    assert len(server.requests) == 3
    assert info.value.last_reply == "no"


def test_fenced_json_is_accepted(server):
    server.script.append({"content": 'Here:\n```json\n{"subject": "S", "body": "B"}\n```'})
    parts, _, calls = ask(server)
    assert (parts.subject, parts.body, calls) == ("S", "B", 1)


def test_request_carries_schema_seed_and_key(server):
    ask(server)
    body = server.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert set(body["response_format"]["json_schema"]["schema"]["properties"]) == {"subject", "body"}
    assert body["seed"] == 7 and body["temperature"] == 0.0
    assert server.headers[0]["authorization"] == "Bearer sk-test"


def test_llama_cpp_style_schema_for_json_object_mode(server):
    ask(server, structured_output="json_object")
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_object" and "properties" in fmt["schema"]


def test_retry_after_forms():
    class Resp:
        def __init__(self, headers):
            self.headers = headers

    class Err(Exception):
        def __init__(self, headers):
            self.response = Resp(headers)

    assert retry_after(Err({"retry-after": "3"})) == 3.0
    assert retry_after(Err({"retry-after-ms": "250"})) == 0.25
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after(Err({"retry-after": later})) <= 30
    assert retry_after(Err({})) is None
    assert retry_after(ValueError()) is None


def test_config_precedence_flags_then_env_then_file():
    settings = ModelSettings(base_url="http://file/v1", model="file-model", temperature=0.3)
    env = {"LADDER_MODEL": "env-model", "OPENAI_API_KEY": "sk-env"}
    cfg = resolve_config(settings, {"temperature": 0.0}, env)
    assert (cfg.base_url, cfg.model, cfg.temperature, cfg.api_key) == ("http://file/v1", "env-model", 0.0, "sk-env")
    assert "sk-env" not in repr(cfg) and "sk-env" not in str(cfg.public())
    embedded = resolve_config(ModelSettings(), {}, {})
    assert embedded.embedded and embedded.structured_output == "json_object"


def test_public_config_scrubs_credentials_from_the_url():
    cfg = config(base_url="https://user:sk-secret@example.test/v1?api-key=sk-secret")
    assert "sk-secret" not in str(cfg.public())


def test_lone_surrogates_in_a_reply_become_replacement_characters(server):
    server.script.append({"content": '{"subject": "L\\udcbe\\ud83d\\ude00", "body": "ok \\ud800"}'})
    parts, _, _ = ask(server)
    assert parts.subject == "L\ufffd\U0001F600" and parts.body == "ok \ufffd"
    parts.subject.encode("utf-8")  # writable
