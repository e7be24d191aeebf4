"""The bookkeeping: which connections are open, which are waiting for a request, which one goes
when there are too many; and the per-server holder that builds the guard from the settings."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable

from loguru import logger

from config import Settings, get_settings
from transport.connection_guard.limits import EdgeLimits
from transport.connection_guard.log import RateLimitedLog

PER_ADDRESS_GRACE_S = 1.0
"""Over the per-address cap, a waiting connection younger than this is never closed."""

_MISSING = object()


class ConnectionGuard:
    """Counts a server's open connections and decides which one goes when there are too many.

    Connections are keyed by their transport, which stays the same when an HTTP connection is
    upgraded to a WebSocket. A connection is *waiting* from when it opens, or finishes a response,
    until it has sent a complete request's headers; it is *busy* otherwise. Only waiting
    connections are ever closed to make room, oldest first.

    Over the per-address cap, only a connection that has waited more than
    :data:`PER_ADDRESS_GRACE_S` is closed: a client (or a proxy, or a benchmark) that opens many
    connections at once has its requests on the wire within milliseconds, and must not lose the
    first ones of its burst before the server has even read them. A flood's connections are
    older than that by the time the next ones arrive.
    """

    def __init__(
        self,
        limits: EdgeLimits,
        log: RateLimitedLog | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.log = log or RateLimitedLog()
        self._clock = clock
        self._open: dict[asyncio.BaseTransport, str] = {}
        # transport -> when it started waiting, oldest first
        self._waiting: OrderedDict[asyncio.BaseTransport, float] = OrderedDict()
        self._waiting_by_address: dict[str, OrderedDict[asyncio.BaseTransport, float]] = {}
        self._stalled: set[asyncio.BaseTransport] = set()
        self.refusals_lingering = 0
        """Connections refused at the limit (not counted as open) still delivering their 503."""

    @property
    def open_count(self) -> int:
        """Connections open now."""
        return len(self._open)

    @property
    def waiting_count(self) -> int:
        """Open connections without a complete request."""
        return len(self._waiting)

    def admit(self, transport: asyncio.BaseTransport, address: str) -> bool:
        """Take a new connection in (as waiting), making room if needed; False: refuse it."""
        limit = self.limits.max_connections
        if len(self._open) >= limit:
            victim = next(iter(self._waiting), None)
            if victim is None:
                self.log(
                    "connections refused at the connection limit",
                    "any address",
                    f"refused a connection from {address}: REALTIME_MAX_CONNECTIONS ({limit}) "
                    "are open and busy (HTTP 503)",
                    level="WARNING",
                )
                return False
            victim_address = self._open[victim]
            self.log(
                "waiting connections closed at the connection limit",
                victim_address,
                f"closed a connection from {victim_address} that had not sent a complete "
                f"request, to make room: REALTIME_MAX_CONNECTIONS ({limit}) are open",
            )
            self._drop(victim)
        self._open[transport] = address
        self.waiting(transport)
        return True

    def waiting(self, transport: asyncio.BaseTransport) -> None:
        """The connection is waiting for (the rest of) a request: it may be closed for room."""
        address = self._open.get(transport)
        if address is None:
            return
        now = self._clock()
        self.busy(transport)  # (re)enters the queues at their young end
        self._waiting[transport] = now
        mine = self._waiting_by_address.setdefault(address, OrderedDict())
        mine[transport] = now
        cap = self.limits.max_waiting_per_address
        grace = min(PER_ADDRESS_GRACE_S, self.limits.request_timeout_s / 2)
        while cap and len(mine) > cap:
            oldest, since = next(iter(mine.items()))
            if now - since < grace:
                break  # the rest of a burst: its requests are probably on the wire
            self.log(
                "waiting connections closed over the per-address cap",
                address,
                f"closed the oldest connections from {address} that had not sent a complete "
                f"request: over REALTIME_MAX_WAITING_PER_ADDRESS ({cap})",
            )
            self._drop(oldest)

    def busy(self, transport: asyncio.BaseTransport) -> None:
        """The connection has sent a complete request (or is a WebSocket): it is never evicted."""
        if self._waiting.pop(transport, _MISSING) is _MISSING:
            return
        address = self._open[transport]
        mine = self._waiting_by_address.get(address)
        if mine is not None:
            mine.pop(transport, None)
            if not mine:
                del self._waiting_by_address[address]

    def release(self, transport: asyncio.BaseTransport) -> None:
        """The connection is gone (idempotent)."""
        self.busy(transport)
        self._open.pop(transport, None)
        self._stalled.discard(transport)

    def rekey(self, old: asyncio.BaseTransport, new: asyncio.BaseTransport) -> bool:
        """The connection ``old`` goes on as ``new`` (its TLS transport, once the handshake is
        done), waiting for its request from now. False if ``old`` is no longer open: it was
        closed to make room meanwhile."""
        address = self._open.get(old)
        if address is None:
            return False
        self.release(old)
        self._open[new] = address
        self.waiting(new)
        return True

    def sending_stalled(self, transport: asyncio.BaseTransport, stalled: bool) -> None:
        """Whether the server's writes to this connection are piling up (for the figures)."""
        if stalled and transport in self._open:
            self._stalled.add(transport)
        else:
            self._stalled.discard(transport)

    @property
    def stalled_count(self) -> int:
        """Open connections whose client is not taking what the server sends."""
        return len(self._stalled)

    def _drop(self, transport: asyncio.BaseTransport) -> None:
        self.release(transport)
        if isinstance(transport, asyncio.Transport):
            transport.abort()
        else:
            transport.close()


class GuardHolder:
    """One server's guard, built on first use (after the settings are final), and its TLS context
    when the guarded protocols terminate TLS themselves (``tls.py``)."""

    def __init__(self, settings: Callable[[], Settings], tls: ssl.SSLContext | None = None) -> None:
        self._settings = settings
        self._guard: ConnectionGuard | None = None
        self.tls = tls

    def guard(self) -> ConnectionGuard:
        if self._guard is None:
            limits = EdgeLimits.from_settings(self._settings())
            self._guard = ConnectionGuard(limits)
            logger.info(
                f"connection limits: {limits.max_connections} connections, "
                f"{limits.max_waiting_per_address or 'any number'} waiting per address, "
                f"requests complete within {limits.request_timeout_s:g} s, headers up to "
                f"{limits.max_header_bytes} bytes, closes take at most "
                f"{limits.close_timeout_s:g} s, a client that reads nothing is dropped after "
                f"{limits.send_timeout_s:g} s"
            )
        return self._guard


DEFAULT_HOLDER = GuardHolder(get_settings)
"""The holder of the protocol classes used without ``guarded_protocols`` (the uvicorn CLI)."""
