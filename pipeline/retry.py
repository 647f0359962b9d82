"""The one backoff: transport retries for the model's endpoint (model/chat.py) and the CMS
(review/publish.py). Only what ``retryable`` says is retried; between tries a full-jitter
exponential wait (``backoff`` × 2ⁿ, at most a minute) that honours a Retry-After the server sent
(up to five minutes)."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

MAX_DELAY = 60.0  # seconds: the longest jittered wait
MAX_ASKED = 300.0  # seconds: the longest Retry-After honoured


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After header's seconds: a number, or an HTTP date from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


def delay(backoff: float, attempt: int, asked: float | None = None) -> float:
    """How long to wait after failed try number ``attempt`` (1-based)."""
    jittered = random.uniform(0, min(backoff * 2 ** (attempt - 1), MAX_DELAY))  # full jitter
    return max(jittered, min(asked, MAX_ASKED)) if asked is not None else jittered


def retrying(retryable: Callable[[BaseException], bool], tries: int, backoff: float,
             retry_after: Callable[[BaseException | None], float | None] = lambda e: getattr(e, "retry_after", None),
             observe: Callable[[BaseException | None], None] | None = None) -> Retrying:
    """A tenacity loop over one call: ``tries`` in all; the last failure is re-raised.
    ``observe`` sees each failure before its wait (the chat notes that the endpoint answered)."""

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if observe is not None:
            observe(failure)
        return delay(backoff, state.attempt_number, retry_after(failure))

    return Retrying(retry=retry_if_exception(retryable), stop=stop_after_attempt(tries), wait=wait, reraise=True)
