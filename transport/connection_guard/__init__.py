"""Connection limits at the HTTP layer: what one client can cost the server before any route runs.

uvicorn (0.54) alone lets a client hold a connection, that is a file descriptor and some memory,
for ever without sending a request: it has no deadline for an incomplete request and no limit on
open connections (``limit_concurrency`` answers 503 only to *complete* HTTP requests and never
applies to WebSocket upgrades, so silent sockets still pile up). A few hundred silent or slowloris
connections from one address could exhaust the process's open files and lock every other client
out. Its WebSocket implementation also never sends the reply websockets makes for an upgrade request
it refuses (HTTP 431 for a header line over 8 KiB), leaving the socket open; and a connection whose
client does not read never finishes closing, so neither does server shutdown.

This package wraps uvicorn's httptools and websockets-sansio protocols (``main.py`` passes them as
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

Modules, by role: ``limits`` (the limits, fitted to the open-file limit), ``guard`` (the
bookkeeping: open and waiting connections, who goes at the limit), ``http_protocol`` and
``ws_protocol`` (the wrapped uvicorn protocols), ``closing`` (refusal replies, closing deadlines),
``tls`` (https and wss with the handshake under the guard), ``log`` (rate-limited logging).
"""

from __future__ import annotations

import ssl

from config import Settings
from transport.connection_guard.guard import ConnectionGuard, GuardHolder
from transport.connection_guard.http_protocol import GuardedHttpToolsProtocol
from transport.connection_guard.http_protocol import _end_of_head as _end_of_head
from transport.connection_guard.limits import EdgeLimits, fit_to_open_file_limit
from transport.connection_guard.log import RateLimitedLog
from transport.connection_guard.tls import TLSConfigError, announce_https, tls_server_context
from transport.connection_guard.ws_protocol import GuardedWebSocketsProtocol

__all__ = [
    "ConnectionGuard",
    "EdgeLimits",
    "GuardedHttpToolsProtocol",
    "GuardedWebSocketsProtocol",
    "RateLimitedLog",
    "TLSConfigError",
    "fit_to_open_file_limit",
    "guarded_protocols",
    "tls_server_context",
]


def guarded_protocols(
    settings: Settings, tls: ssl.SSLContext | None = None
) -> tuple[type[GuardedHttpToolsProtocol], type[GuardedWebSocketsProtocol]]:
    """The HTTP and WebSocket protocol classes for one server, sharing one guard; with ``tls``
    (from :func:`tls_server_context`) they serve https and wss themselves: give uvicorn no
    ``ssl`` then (``tls.py`` says why)."""
    shared = GuardHolder(lambda: settings, tls)
    shared.guard()  # fit the limits and log them now, before the first client
    if tls is not None:
        announce_https()

    class ServerHttpProtocol(GuardedHttpToolsProtocol):
        holder = shared

    class ServerWebSocketsProtocol(GuardedWebSocketsProtocol):
        holder = shared

    return ServerHttpProtocol, ServerWebSocketsProtocol
