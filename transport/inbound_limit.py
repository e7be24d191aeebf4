"""A per-session limit on client events: a token bucket, so bursts pass and floods do not.

Real clients send tens of events a second (20-100 ms audio chunks); a client that sends thousands
only costs this session: events beyond the rate are dropped before they are parsed, and the client
is told so with an ``error`` event (``rate_limit_exceeded``), at most once a second so that the
answer to a flood is not itself a flood.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import ProtocolError

ERROR_INTERVAL_S = 1.0


@dataclass
class InboundLimit:
    """Token bucket over client events: ``rate`` a second on average, ``burst`` at once."""

    rate: float
    burst: float
    _tokens: float = -1.0
    _updated: float = 0.0
    _dropped: int = 0
    _last_error: float = float("-inf")

    def admit(self, now: float) -> bool:
        """Take one token if there is one (``now`` is a monotonic clock in seconds)."""
        if self._tokens < 0:
            self._tokens = self.burst
        else:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self._dropped += 1
        return False

    def refusal(self, now: float) -> ProtocolError | None:
        """The error to send for the events dropped so far, at most once per interval."""
        if now - self._last_error < ERROR_INTERVAL_S:
            return None
        self._last_error = now
        dropped, self._dropped = self._dropped, 0
        return ProtocolError(
            "rate_limit_exceeded",
            f"Too many client events: this session accepts {self.rate:g} a second on average "
            f"(bursts of {self.burst:g}); {dropped} event(s) were dropped.",
        )
