"""The WebSocket side: uvicorn's websockets-sansio protocol that sends the refusals websockets makes
of an upgrade request and always finishes closing."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

from uvicorn.config import Config
from uvicorn.server import ServerState

from transport.connection_guard.closing import ClosingTimers, TransportView
from transport.connection_guard.guard import DEFAULT_HOLDER, GuardHolder
from transport.ws_protocol import FairWebSocketProtocol


class GuardedWebSocketsProtocol(FairWebSocketProtocol):
    """uvicorn's websockets-sansio protocol that sends its own refusals and always finishes
    closing: uvicorn closes the transport on a keepalive timeout, a protocol error, a close
    from either side or at shutdown, and each close gets ``REALTIME_CLOSE_TIMEOUT_S``.

    The connection stays counted by the guard (it was admitted as HTTP) until it is lost.
    """

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
        self._timers: ClosingTimers | None = None
        self._raw_transport: asyncio.Transport | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw = cast(asyncio.Transport, transport)
        address = "local"
        peer = raw.get_extra_info("peername")
        if isinstance(peer, (tuple, list)) and peer:
            address = str(peer[0])
        self._raw_transport = raw
        self._timers = timers = ClosingTimers(raw, self.loop, self.guard, address)

        def close() -> None:
            raw.close()
            timers.closing()

        super().connection_made(TransportView(raw, close))

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
