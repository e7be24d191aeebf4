"""uvicorn's WebSocket protocol, made to parse a socket read in fair shares of the event loop.

uvicorn's sans-I/O WebSocket protocol parses everything one socket read returns (up to 256 KiB)
inside that read's callback. For a client flooding tiny events that is thousands of messages in
one step of the event loop: 0.1-0.2 s during which every other session waits (py-spy and a
per-callback CPU count in bench/isolation.py's flood: ``_SelectorSocketTransport._read_ready``,
up to 184 ms a call). The session's driver taking fair shares cannot help: the stall happens
before any message reaches it.

:class:`FairWebSocketProtocol` feeds the parser in pieces of ``PIECE_BYTES`` and, once a step has
parsed for ``MAX_SECONDS``, leaves the rest for the next turn of the loop, with reading paused
until the backlog is parsed. A flooding client is then slowed down by TCP (its sends wait) instead
of stalling the others; ordinary reads (a few events, or one big audio append parsed within the
time share) go through exactly as before. ``main.py`` serves with it; under a bare
``uvicorn main:app`` pass ``--ws transport.ws_protocol:FairWebSocketProtocol``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

PIECE_BYTES = 1024
"""Bytes handed to the parser at a time: ~15 tiny events, well under ``MAX_SECONDS`` of work."""

MAX_SECONDS = 0.0005
"""Parsing per step of the event loop before the rest of a read waits for the next step (the same
share as a task's, fairness.py)."""


class FairWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol, parsing each socket read in time-bounded steps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backlog = bytearray()
        """Bytes read but not parsed yet (reading is paused while there are any)."""
        self._next_share: asyncio.Handle | None = None

    def data_received(self, data: bytes) -> None:
        """Parse what this step's share allows; keep the rest, in order, for the next steps."""
        if self._backlog or len(data) > PIECE_BYTES:
            self._backlog += data
            if self._next_share is None:
                self._parse_share()
            return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Parse the whole backlog first: the app sees every message before the disconnect."""
        if self._next_share is not None:
            self._next_share.cancel()
            self._next_share = None
        if self._backlog:
            data, self._backlog = bytes(self._backlog), bytearray()
            super().data_received(data)
        super().connection_lost(exc)

    async def receive(self) -> Any:
        """uvicorn's ``receive``, except that reading stays paused while a backlog is parsed."""
        message = await self.queue.get()
        if self.read_paused and self.queue.empty() and not self._backlog:
            self.read_paused = False
            self.transport.resume_reading()
        return message

    def _parse_share(self) -> None:
        self._next_share = None
        began = time.perf_counter()
        while self._backlog and time.perf_counter() - began < MAX_SECONDS:
            if self.conn.parser_exc is not None or self.transport.is_closing():
                self._backlog.clear()  # the connection failed: uvicorn has closed it
                return
            piece = bytes(self._backlog[:PIECE_BYTES])
            del self._backlog[:PIECE_BYTES]
            super().data_received(piece)
        if self._backlog:
            self.transport.pause_reading()
            self._next_share = self.loop.call_soon(self._parse_share)
            return
        if self.read_paused and not self.queue.empty():
            return  # as in uvicorn: reading resumes once the app has taken those (receive)
        self.read_paused = False
        if not self.transport.is_closing():
            self.transport.resume_reading()
