"""``rate_limits.updated``: the budgets a client may pace itself by.

This server enforces no rate limits of its own, so it reports a fixed per-minute budget per session
(documented in the README: 1,000 requests and 1,000,000 tokens a minute) and what the session has
used of it in the current 60-second window. Clients that read these values (as the OpenAI SDK's
examples do) therefore see sensible, decreasing numbers that reset every minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from realtime_session.events import server_event

REQUESTS_PER_MINUTE = 1_000
TOKENS_PER_MINUTE = 1_000_000
WINDOW_S = 60.0


class RateLimitTracker:
    """Counts one session's responses and tokens in fixed one-minute windows."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._window_start = clock()
        self._requests = 0
        self._tokens = 0

    def record(self, tokens: int) -> dict[str, Any]:
        """Count a finished response and return the ``rate_limits.updated`` event."""
        now = self._clock()
        if now - self._window_start >= WINDOW_S:
            self._window_start, self._requests, self._tokens = now, 0, 0
        self._requests += 1
        self._tokens += tokens
        reset = round(max(0.0, WINDOW_S - (now - self._window_start)), 3)
        return server_event(
            "rate_limits.updated",
            rate_limits=[
                {
                    "name": "requests",
                    "limit": REQUESTS_PER_MINUTE,
                    "remaining": max(0, REQUESTS_PER_MINUTE - self._requests),
                    "reset_seconds": reset,
                },
                {
                    "name": "tokens",
                    "limit": TOKENS_PER_MINUTE,
                    "remaining": max(0, TOKENS_PER_MINUTE - self._tokens),
                    "reset_seconds": reset,
                },
            ],
        )
