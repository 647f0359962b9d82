"""What a run may spend and how fast: the token or cost budget, and client-side rate limits."""

from __future__ import annotations

import threading
import time
from collections import deque

from pipeline.errors import BudgetExhausted
from pipeline.workspace.models import Usage


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
