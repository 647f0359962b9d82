"""The chat: every model call goes through the openai client (chat completions), with the reply
cache and call log (store.py), the budget and rate limits (limits.py) and the one backoff (retry.py).

Two loops, kept apart:
- transport retries (tenacity): rate limit, connection, timeout and 5xx, with jittered
  exponential backoff that honours ``Retry-After``; the openai client's own retries are off;
- re-asks: a reply that is not valid JSON for the expected parts goes back to the model
  with the error, a bounded number of times.

With no endpoint configured, the embedded server (server.py) is the endpoint, so the same code
path runs offline; replies are parsed into typed objects by replies.py.

The openai package is imported where a call or its failure needs it, not with this module:
importing it takes about 0.9 s, and a rerun whose jobs are all reused calls no model at all.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tenacity import Retrying

from pipeline import retry
from pipeline.errors import ModelUnavailable, RequestFailed
from pipeline.lang import privacy
from pipeline.model.config import ModelConfig, request_params
from pipeline.model.limits import Budget, Limiter, estimate_prompt_tokens
from pipeline.model.replies import Reply, T, clean_text, parse_reply, schema_of
from pipeline.store import Store, cache_key, repeat_key
from pipeline.workspace.models import Usage

if TYPE_CHECKING:
    import openai


class InvalidReply(Exception):
    """The model did not give a valid reply within the allowed re-asks."""

    def __init__(self, message: str, usage: Usage, calls: int, last_reply: str | None):
        super().__init__(message)
        self.usage, self.calls, self.last_reply = usage, calls, last_reply


# --- chat ------------------------------------------------------------------------------------


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


def _retryable(exc: BaseException) -> bool:
    import openai

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
        self.base_url = base_url
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()
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

    @property
    def client(self) -> openai.OpenAI:
        """The openai client, made at the first request (one for all threads: one connection pool)."""
        with self._client_lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=self.config.api_key or "not-needed",
                    max_retries=0,  # tenacity retries; two retry loops would multiply
                    timeout=self.config.timeout,
                )
            return self._client

    def answer_from(self, answers: dict[str, dict[str, Any]], discount: float = 1.0) -> None:
        """Batch mode: take replies from ``answers`` (by cache key, filled as batches finish)
        instead of sending requests; a request with no answer yet is Deferred. ``discount``
        scales what the answers cost (the Batch API's price)."""
        self.answers, self.discount = answers, discount

    def _observe(self, failure: BaseException | None) -> None:
        import openai

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
            client = self.client
            for attempt in self.retrying():
                with attempt:
                    attempts += 1
                    # the typed call, not ``client.post``: its param transform costs ~1 ms of CPU a
                    # call (20 % of the layer's own cost on loopback, nothing beside a real
                    # endpoint's latency), and it keeps what the SDK does for this endpoint
                    response = client.chat.completions.create(**params)
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
        import openai

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
        return repeat_key(key, n)

    def _log(self, params: dict[str, Any], reply: Reply, key: str | None, error: str | None = None) -> None:
        if self.store is None:
            return
        self.store.log(params, run_id=self.run_id, job_id=current_job.get(),
                       endpoint=self.endpoint, model=self.config.model, reply=reply.content,
                       finish_reason=reply.finish_reason, prompt_tokens=reply.usage.prompt_tokens,
                       completion_tokens=reply.usage.completion_tokens, seconds=round(reply.seconds, 4),
                       attempts=reply.transport_attempts, cached=reply.cached, cache_key=key, error=error)

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
        for calls in range(1, self.config.reasks + 2):  # noqa: B007 - the count is reported after the loop
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


