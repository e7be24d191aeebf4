"""The HTTP side: uvicorn's httptools protocol with admission (on accepting, before any TLS
handshake), a request deadline and a header limit, whose refusals (408, 431, 503) are written and
then half-closed so the client reads them."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.server import ServerState

from transport.connection_guard.closing import ClosingTimers, TransportView, http_response
from transport.connection_guard.guard import DEFAULT_HOLDER, GuardHolder
from transport.connection_guard.tls import start_tls

MAX_LINGERING_REFUSALS = 64
"""Connections refused with a 503 that may linger (up to the close timeout) so the client reads
it; beyond that, a refused connection is dropped at once: it holds a file descriptor uncounted."""


def _end_of_head(buffer: bytes) -> int:
    """The offset just past the blank line ending a request's head in ``buffer``, or -1."""
    ends = [
        found + len(blank) for blank in (b"\r\n\r\n", b"\n\n") if (found := buffer.find(blank)) >= 0
    ]
    return min(ends, default=-1)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request deadline, a header limit and admission."""

    holder: ClassVar[GuardHolder] = DEFAULT_HOLDER

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
        self._timers: ClosingTimers | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._discarding = False
        self._refused = False  # at the connection limit: a 503, never admitted
        self._serving = False  # uvicorn has the connection (after any TLS handshake)
        self._opened_at = 0.0
        self._raw_transport: asyncio.Transport | None = None
        self._handshake: asyncio.Task[None] | None = None  # held: the loop keeps weak references
        # The head (request line + headers) of the request being received, measured on the wire.
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._messages = 0
        self._message_started = False

    # --- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._opened_at = self.loop.time()
        self._raw_transport = transport
        remote = get_remote_addr(transport)
        if remote:
            self.address = str(remote[0])
        if not self.guard.admit(transport, self.address):
            # Not counted as open, so the time it may linger to deliver its 503 is rationed.
            if self.guard.refusals_lingering >= MAX_LINGERING_REFUSALS:
                transport.abort()
                return
            self.guard.refusals_lingering += 1
            self._refused = True
        context = self.holder.tls
        if context is None:
            self._serve(transport)
            return
        # TLS: counted from now; the handshake must fit in the request deadline (tls.py).
        transport.pause_reading()  # the first bytes are the handshake's: not for the parser
        self._handshake = self.loop.create_task(self._start_tls(transport, context))

    def _serve(self, transport: asyncio.Transport) -> None:
        """Hand the connection (plain, or TLS once its handshake is done) to uvicorn."""
        self._serving = True
        super().connection_made(transport)
        self._timers = ClosingTimers(transport, self.loop, self.guard, self.address)
        if self._refused:
            self._reply_and_close(503, "The server is at its connection limit. Try again shortly.")
            return
        elapsed = self.loop.time() - self._opened_at
        self._arm_deadline(max(0.0, self.limits.request_timeout_s - elapsed))

    async def _start_tls(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        if raw.is_closing():  # gone (or closed to make room) before its handshake began
            self._abandon(raw)
            return
        try:
            done = await start_tls(self.loop, raw, context, self.limits.request_timeout_s)
        except asyncio.CancelledError:  # the server is stopping
            self._abandon(raw)
            raise
        except Exception as error:  # timed out, not TLS, a protocol error: the loop closed it
            self.guard.log(
                "TLS handshakes failed",
                self.address,
                f"closed a connection from {self.address} whose TLS handshake failed or did not "
                f"finish within {self.limits.request_timeout_s:g} s: {error!r}",
            )
            done = None
        if done is None:
            self._abandon(raw)
            return
        tls, early = done
        if not self._refused and not self.guard.rekey(raw, tls):
            tls.abort()  # closed to make room while it was finishing its handshake
            self._abandon(raw)
            return
        tls.set_protocol(self)
        self._serve(tls)
        if early:
            self.data_received(early)

    def _read_before_tls(self) -> None:
        self.guard.log(
            "TLS connections read before their handshake",
            "any address",
            "closed a connection that delivered bytes before its TLS handshake: the event loop "
            "does not honour pause_reading() in connection_made (uvloop); run with loop='asyncio'",
            level="WARNING",
        )
        if self._raw_transport is not None:
            self._raw_transport.abort()

    def _abandon(self, raw: asyncio.Transport) -> None:
        """The connection ends before it was served (idempotent)."""
        self.guard.release(raw)
        if self._refused:
            self._refused = False
            self.guard.refusals_lingering -= 1
        if not raw.is_closing():
            raw.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._serving:  # refused outright, never served
            if self._raw_transport is not None:
                self._abandon(self._raw_transport)
            return
        self._disarm_deadline()
        if self._timers is not None:
            self._timers.lost()
        if self._refused:
            self.guard.refusals_lingering -= 1
        self.guard.release(self.transport)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._serving:  # bytes of a TLS handshake: only a loop that ignored the pause
            self._read_before_tls()
            return
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
            self.cycle.transport = TransportView(self.transport, self._close_after_response)

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

    def _arm_deadline(self, delay_s: float | None = None) -> None:
        self._disarm_deadline()
        self._deadline = self.loop.call_later(
            self.limits.request_timeout_s if delay_s is None else delay_s, self._request_timed_out
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
        self.transport.write(http_response(status, message))
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
