"""Connection limits at the HTTP layer: what one client can cost the server before any route runs.

uvicorn (0.54) alone lets a client hold a connection, that is a file descriptor and some memory,
for ever without sending a request: it has no deadline for an incomplete request and no limit on
open connections (``limit_concurrency`` answers 503 only to *complete* HTTP requests and never
applies to WebSocket upgrades, so silent sockets still pile up). A few hundred silent or slowloris
connections from one address could exhaust the process's open files and lock every other client
out. Its WebSocket implementation also never sends the reply websockets makes for an upgrade request
it refuses (HTTP 431 for a header line over 8 KiB), leaving the socket open; and a connection whose
client does not read never finishes closing, so neither does server shutdown.

This module wraps uvicorn's httptools and websockets-sansio protocols (``main.py`` passes them as
uvicorn's ``http=`` and ``ws=``; with the uvicorn CLI use ``--http
transport.connection_guard:GuardedHttpToolsProtocol --ws
transport.connection_guard:GuardedWebSocketsProtocol``) so that:

- a connection must deliver a complete request within ``REALTIME_REQUEST_TIMEOUT_S`` of opening
  (or of starting its next request on a keep-alive connection); else it is closed, after an HTTP
  408 if it sent part of one;
- a request line plus headers over ``REALTIME_MAX_HEADER_BYTES`` gets HTTP 431, on every route;
- at most ``REALTIME_MAX_CONNECTIONS`` connections are open. At the limit the oldest connection
  still *waiting* (no complete request yet, or idle between keep-alive requests) is closed to make
  room; only when every connection is busy (a request being served, a live WebSocket) is the
  newcomer refused, with HTTP 503. A newcomer never costs an established session its connection;
- one client address may hold at most ``REALTIME_MAX_WAITING_PER_ADDRESS`` waiting connections;
  beyond it that address's oldest (if it has waited over a second) is closed, so a flood costs its
  sender and no one else;
- a connection that is closing (refused, its session over, a keepalive ping unanswered, or the
  server shutting down after close 1012) is aborted if its client has not taken the last bytes
  within ``REALTIME_CLOSE_TIMEOUT_S``: shutdown always finishes;
- a connection whose client takes none of the bytes the server is sending for
  ``REALTIME_SEND_TIMEOUT_S`` is aborted, so a client that stops reading holds nothing for long.

uvicorn's own options are used where they do the job (``main.py``): ``timeout_keep_alive`` for
idle keep-alive connections, ``timeout_graceful_shutdown`` as a backstop that cancels application
tasks still running after the connections are gone. ``h11_max_incomplete_event_size`` would bound
headers, but only in the h11 implementation; httptools, which uvicorn picks, has no limit at all.

Refusals (408, 431, 503) are written, then the connection is half-closed and drained until the
client closes (at most ``REALTIME_CLOSE_TIMEOUT_S``), so the client reads the reply rather than a
reset. Each kind of event is logged at most once a minute per client address, then counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, cast

from loguru import logger
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from config import Settings, get_settings
from transport.ws_protocol import FairWebSocketProtocol

__all__ = [
    "ConnectionGuard",
    "EdgeLimits",
    "GuardedHttpToolsProtocol",
    "GuardedWebSocketsProtocol",
    "RateLimitedLog",
    "fit_to_open_file_limit",
    "guarded_protocols",
]

LOG_WINDOW_S = 60.0
PER_ADDRESS_GRACE_S = 1.0
"""Over the per-address cap, a waiting connection younger than this is never closed."""
MAX_LINGERING_REFUSALS = 64
"""Connections refused with a 503 that may linger (up to the close timeout) so the client reads
it; beyond that, a refused connection is dropped at once: it holds a file descriptor uncounted."""
OPEN_FILE_RESERVE = 128
"""Files kept free for everything that is not a client connection: models, logs, the listening
socket, connections to remote providers, the connections being refused or evicted right now."""


@dataclass(frozen=True)
class EdgeLimits:
    """The limits this module enforces (see ``config.py``, section "connection limits")."""

    request_timeout_s: float = 10.0
    max_connections: int = 1000
    max_waiting_per_address: int = 32
    max_header_bytes: int = 16 * 1024
    close_timeout_s: float = 5.0
    send_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeLimits:
        """The settings' limits, with the connection limit fitted to the open-file limit."""
        return cls(
            request_timeout_s=settings.request_timeout_s,
            max_connections=fit_to_open_file_limit(settings.max_connections),
            max_waiting_per_address=settings.max_waiting_per_address,
            max_header_bytes=settings.max_header_bytes,
            close_timeout_s=settings.close_timeout_s,
            send_timeout_s=settings.send_timeout_s,
        )


def fit_to_open_file_limit(wanted: int) -> int:
    """``wanted`` connections, or fewer if the process may not open that many files.

    The soft open-file limit is first raised to the hard limit (as Go's runtime does): every
    socket is a file, and the 1,024 many systems default to is a limit nobody chose for a server.
    What is left after the files already open and :data:`OPEN_FILE_RESERVE` bounds the
    connections, so a full server still has the files to answer ``/health`` and refuse politely.
    """
    try:
        import resource
    except ImportError:  # not a Unix system
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY
    if soft != infinity and (hard == infinity or soft < hard):
        target = hard if hard != infinity else max(soft, wanted + 4 * OPEN_FILE_RESERVE)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == infinity:
        return wanted
    room = soft - _open_file_count() - OPEN_FILE_RESERVE
    fitted = max(1, min(wanted, room))
    if fitted < wanted:
        logger.warning(
            f"REALTIME_MAX_CONNECTIONS {wanted} lowered to {fitted}: the open-file limit is {soft} "
            "(raise it with ulimit -n)"
        )
    return fitted


def _open_file_count() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


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


class _GuardHolder:
    """One server's guard, built on first use (after the settings are final)."""

    def __init__(self, settings: Callable[[], Settings]) -> None:
        self._settings = settings
        self._guard: ConnectionGuard | None = None

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


_DEFAULT_HOLDER = _GuardHolder(get_settings)


def _response(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    body = message.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _ClosingTimers:
    """One connection's last-resort deadlines: it is aborted if it takes none of the bytes the
    server is sending for ``send_timeout_s``, or has not finished closing ``close_timeout_s``
    after it started to. Without them a client that stops reading holds its connection (and,
    once the server shuts down, the whole process) for ever: asyncio's ``close()`` waits until
    every byte is taken."""

    def __init__(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        guard: ConnectionGuard,
        address: str,
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._guard = guard
        self._address = address
        self._stall: asyncio.TimerHandle | None = None
        self._closer: asyncio.TimerHandle | None = None
        self._lost = False

    def writing_paused(self) -> None:
        if self._stall is None and not self._lost:
            self._guard.sending_stalled(self._transport, True)
            self._stall = self._loop.call_later(
                self._guard.limits.send_timeout_s, self._abort, "send"
            )

    def writing_resumed(self) -> None:
        self._guard.sending_stalled(self._transport, False)
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def closing(self) -> None:
        """The connection is closing: it has ``close_timeout_s`` to finish."""
        if self._closer is None and not self._lost:
            self._closer = self._loop.call_later(
                self._guard.limits.close_timeout_s, self._abort, "close"
            )

    def half_close(self) -> None:
        """Send what is written, then FIN, and drain: the client's own close ends it (or the
        close timeout). Closing outright with the client's request still unread would send a
        reset, which can destroy the reply before the client reads it."""
        if self._transport.can_write_eof():
            self._transport.write_eof()
        else:  # TLS: no half-close
            self._transport.close()
        self.closing()

    def cancel(self) -> None:
        """No more deadlines (an upgraded protocol takes over)."""
        for timer in (self._stall, self._closer):
            if timer is not None:
                timer.cancel()
        self._stall = self._closer = None

    def lost(self) -> None:
        """The connection is gone: no deadline now or later (the application may still be
        finishing and call ``closing``)."""
        self._lost = True
        self.cancel()

    def _abort(self, why: str) -> None:
        limits = self._guard.limits
        if why == "send":
            self._guard.log(
                "connections dropped for not reading",
                self._address,
                f"dropped a connection from {self._address} that took none of the server's "
                f"bytes for {limits.send_timeout_s:g} s",
            )
        else:
            self._guard.log(
                "closing connections aborted",
                self._address,
                f"dropped a connection from {self._address} that did not finish closing within "
                f"{limits.close_timeout_s:g} s",
            )
        self._transport.abort()


class _TransportView(asyncio.Transport):
    """A transport as one of uvicorn's objects sees it: everything passes through to the real
    one except ``close``, which calls ``on_close`` (uvicorn calls ``close()`` from many places;
    this is the one place to learn that the connection is closing)."""

    def __init__(self, transport: asyncio.Transport, on_close: Callable[[], None]) -> None:
        super().__init__()
        self._transport = transport
        self._on_close = on_close

    def close(self) -> None:
        self._on_close()

    def write(self, data: bytes | bytearray | memoryview[int]) -> None:
        self._transport.write(data)

    def write_eof(self) -> None:
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def abort(self) -> None:
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)


def _end_of_head(buffer: bytes) -> int:
    """The offset just past the blank line ending a request's head in ``buffer``, or -1."""
    ends = [
        found + len(blank) for blank in (b"\r\n\r\n", b"\n\n") if (found := buffer.find(blank)) >= 0
    ]
    return min(ends, default=-1)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request deadline, a header limit and admission."""

    holder: ClassVar[_GuardHolder] = _DEFAULT_HOLDER

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = self.holder.guard()
        self.limits = self.guard.limits
        self.address = "local"
        self._timers: _ClosingTimers | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._discarding = False
        self._refused = False  # at the connection limit: a 503, never admitted
        # The head (request line + headers) of the request being received, measured on the wire.
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._messages = 0
        self._message_started = False

    # --- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.client:
            self.address = str(self.client[0])
        self._timers = _ClosingTimers(transport, self.loop, self.guard, self.address)
        if not self.guard.admit(transport, self.address):
            # Not counted as open, so the time it may linger to deliver its 503 is rationed.
            if self.guard.refusals_lingering >= MAX_LINGERING_REFUSALS:
                transport.abort()
                return
            self.guard.refusals_lingering += 1
            self._refused = True
            self._reply_and_close(503, "The server is at its connection limit. Try again shortly.")
            return
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        if self._timers is not None:
            self._timers.lost()
        if self._refused:
            self.guard.refusals_lingering -= 1
        self.guard.release(self.transport)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return  # draining after a refusal, until the client closes
        if self._in_head and not self._head_fits(data):
            limit = self.limits.max_header_bytes
            self.guard.log(
                "requests refused for oversized headers",
                self.address,
                f"refused a request from {self.address}: request line and headers over "
                f"{limit} bytes (HTTP 431)",
            )
            self._reply_and_close(431, f"Request line and headers over {limit} bytes.")
            return
        super().data_received(data)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._timers is not None:
            self._timers.writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._timers is not None:
            self._timers.writing_resumed()

    def shutdown(self) -> None:
        try:
            super().shutdown()
        except Exception:  # never let one connection stop the server's shutdown
            self.transport.abort()
            return
        if self._timers is not None:
            self._timers.closing()

    # --- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._messages:  # the next request on a keep-alive connection: a new head
            self._in_head = True
            self._head_bytes = 0
            self._head_tail = b""
        self._messages += 1
        self._message_started = True
        if self._deadline is None:
            self._arm_deadline()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self.guard.busy(self.transport)
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a request for the application
            self.cycle.transport = _TransportView(self.transport, self._close_after_response)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._message_started = False
        self._disarm_deadline()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self.guard.waiting(self.transport)  # idle keep-alive: uvicorn's own timer ends it

    def handle_websocket_upgrade(self) -> None:
        self._disarm_deadline()
        if self._timers is not None:
            self._timers.cancel()  # the WebSocket protocol keeps its own
        self._in_head = False
        self._message_started = False
        self.guard.busy(self.transport)
        super().handle_websocket_upgrade()

    # --- internals --------------------------------------------------------------------------

    def _head_fits(self, data: bytes) -> bool:
        """Whether the head stays within the limit with ``data``: exact for a connection's first
        request; for later pipelined ones, measured from the first read after they begin."""
        window = self._head_tail + data
        end = _end_of_head(window)
        size = self._head_bytes + (end - len(self._head_tail) if end >= 0 else len(data))
        self._head_bytes += len(data)
        self._head_tail = window[-3:]
        return size <= self.limits.max_header_bytes

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._deadline = self.loop.call_later(
            self.limits.request_timeout_s, self._request_timed_out
        )

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _request_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        self.guard.log(
            "incomplete requests closed",
            self.address,
            f"closed a connection from {self.address} that did not send a complete request "
            f"within {self.limits.request_timeout_s:g} s",
        )
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:  # its body is late
            if cycle.response_started:
                self._close()
                return
            cycle.disconnected = True  # the application sees http.disconnect, sends nothing
            cycle.message_event.set()
        elif not self._message_started:  # not one byte of a request: nothing to answer
            self._close()
            return
        self._reply_and_close(408, "The request was not completed in time.")

    def _close(self) -> None:
        self.transport.close()
        if self._timers is not None:
            self._timers.closing()

    def _reply_and_close(self, status: int, message: str) -> None:
        self._discarding = True
        self._disarm_deadline()
        self.transport.write(_response(status, message))
        if self._timers is not None:
            self._timers.half_close()

    def _close_after_response(self) -> None:
        """uvicorn closes the connection after a response that ends it. If the request's body
        is still arriving (a 413 sent before reading it all), closing now would reset the
        connection under the client's feet: half-close and discard the rest instead."""
        if self._timers is None:
            self.transport.close()
        elif self._message_started and not self._discarding and not self.transport.is_closing():
            self._discarding = True
            self._disarm_deadline()
            self._timers.half_close()
        else:
            self._close()


class GuardedWebSocketsProtocol(FairWebSocketProtocol):
    """uvicorn's websockets-sansio protocol that sends its own refusals and always finishes
    closing: uvicorn closes the transport on a keepalive timeout, a protocol error, a close
    from either side or at shutdown, and each close gets ``REALTIME_CLOSE_TIMEOUT_S``.

    The connection stays counted by the guard (it was admitted as HTTP) until it is lost.
    """

    holder: ClassVar[_GuardHolder] = _DEFAULT_HOLDER

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = self.holder.guard()
        self.limits = self.guard.limits
        self._timers: _ClosingTimers | None = None
        self._raw_transport: asyncio.Transport | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw = cast(asyncio.Transport, transport)
        address = "local"
        peer = raw.get_extra_info("peername")
        if isinstance(peer, (tuple, list)) and peer:
            address = str(peer[0])
        self._raw_transport = raw
        self._timers = timers = _ClosingTimers(raw, self.loop, self.guard, address)

        def close() -> None:
            raw.close()
            timers.closing()

        super().connection_made(_TransportView(raw, close))

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # draining after a refusal, until the client closes
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            # websockets refused the upgrade request itself (a header line over 8 KiB: 431,
            # a request line over 8 KiB: 414, more than 128 headers, a malformed request) and
            # queued its reply, which uvicorn never sends. Send it, then close.
            self._refused = True
            address = str(self.client[0]) if self.client else "local"
            self.guard.log(
                "WebSocket upgrades refused by websockets",
                address,
                f"refused a WebSocket upgrade from {address}: {self.conn.handshake_exc}",
            )
            reply = b"".join(self.conn.data_to_send())
            if reply:
                self.transport.write(reply)
            if self._timers is not None:
                self._timers.half_close()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._timers is not None:
            self._timers.writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._timers is not None:
            self._timers.writing_resumed()

    def shutdown(self) -> None:
        if self._refused:
            self.transport.abort()
            return
        try:
            super().shutdown()  # close 1012 to a session, 500 to an unfinished handshake
        except Exception:  # never let one connection stop the server's shutdown
            self.transport.abort()
            return
        if self._timers is not None:
            self._timers.closing()

    def on_task_complete(self, task: asyncio.Task[None]) -> None:
        super().on_task_complete(task)
        # The application is done with the socket; the client has a moment to take the close.
        if self._timers is not None:
            self._timers.closing()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._timers is not None:
            self._timers.lost()
        if self._raw_transport is not None:
            self.guard.release(self._raw_transport)


def guarded_protocols(
    settings: Settings,
) -> tuple[type[GuardedHttpToolsProtocol], type[GuardedWebSocketsProtocol]]:
    """The HTTP and WebSocket protocol classes for one server, sharing one guard."""
    shared = _GuardHolder(lambda: settings)
    shared.guard()  # fit the limits and log them now, before the first client

    class ServerHttpProtocol(GuardedHttpToolsProtocol):
        holder = shared

    class ServerWebSocketsProtocol(GuardedWebSocketsProtocol):
        holder = shared

    return ServerHttpProtocol, ServerWebSocketsProtocol
