"""Rate-limited logging: an attack makes thousands of identical events a minute, the log shows two
lines."""

from __future__ import annotations

import asyncio

from loguru import logger

LOG_WINDOW_S = 60.0


class RateLimitedLog:
    """Logs an event at most once a minute per (kind, client address); counts the rest.

    An attack makes thousands of identical events a minute: one line says it started, and one
    line a minute later says how many more there were.
    """

    def __init__(self, window_s: float = LOG_WINDOW_S) -> None:
        self._window_s = window_s
        self._suppressed: dict[tuple[str, str], int] = {}

    def __call__(self, kind: str, address: str, message: str, level: str = "INFO") -> None:
        """Log ``message`` unless a ``kind`` event from ``address`` was logged in the window."""
        key = (kind, address)
        if key in self._suppressed:
            self._suppressed[key] += 1
            return
        self._suppressed[key] = 0
        logger.opt(depth=1).log(level, message)
        asyncio.get_running_loop().call_later(self._window_s, self._flush, key, level)

    def _flush(self, key: tuple[str, str], level: str) -> None:
        more = self._suppressed.pop(key, 0)
        if more:
            kind, address = key
            window = f"{self._window_s:g} s"
            logger.log(level, f"... and {more} more '{kind}' from {address} in the last {window}")
