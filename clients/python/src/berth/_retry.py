"""Retries with backoff, only for calls that never reached the database.

A one-shot statement (``query``, a ``stream`` before its first answer) or a session's opening is
sent again after ``UNAVAILABLE`` / ``RESOURCE_EXHAUSTED`` when Berth said why and the reason means
nothing ran (the pool is exhausted, the database is not answering, a rate limit), or gRPC could not
connect at all. A lost connection mid-statement, anything inside a session or transaction, and
every other status are never retried: the statement may have run.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

from .errors import BerthError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts the first try (1 = no retry). Delays grow from ``initial_backoff``
    by ``multiplier`` up to ``max_backoff`` seconds, with full jitter; a server's ``retry_after``
    (rate limits) is waited instead when longer. No retry starts past the call's deadline."""

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def delay(self, attempt: int, err: BerthError) -> float:
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        jittered = random.uniform(base / 2, base)
        return max(jittered, err.retry_after or 0.0)


NO_RETRY = RetryPolicy(max_attempts=1)


def _sleep(seconds: float, _err: BerthError) -> None:
    time.sleep(seconds)


def with_retries(
    policy: RetryPolicy,
    deadline: Optional[float],
    attempt_fn: Callable[[], T],
    sleep: Callable[[float, BerthError], None] = _sleep,
) -> T:
    """Runs ``attempt_fn`` until it succeeds or fails in a way a retry cannot help. ``sleep`` waits
    between attempts (given the pause and the error; a client waits for its channel instead)."""
    attempt = 1
    while True:
        try:
            return attempt_fn()
        except BerthError as err:
            if attempt >= policy.max_attempts or not err.never_reached_database:
                raise
            pause = policy.delay(attempt, err)
            if deadline is not None and time.monotonic() + pause >= deadline:
                raise
            sleep(pause, err)
            attempt += 1
