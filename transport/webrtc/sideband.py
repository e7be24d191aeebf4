"""The sideband: an app's own server joins a call's event stream over ``WS /v1/realtime?call_id=``.

The browser holds the call (audio and the ``oai-events`` channel); the app's server, which holds
a real API key, can connect to the same session to watch it, update it and run its tools without
the client ever seeing them. It receives the same server events as the data channel from the
moment it joins (no ``session.created``: the session already exists; send ``session.update`` to
get its configuration) and its client events go to the call's driver like the peer's. It ends
when the call ends (close 1000) or when it disconnects (the call goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from starlette.websockets import WebSocket, WebSocketState

from protocol.beta import BetaServerTranslator
from transport.webrtc.datachannel import to_json

SLOW_CONSUMER_CLOSE_CODE = 1008
CALL_ENDED_CLOSE_CODE = 1000
_CLOSE = object()


class Sideband:
    """One joined WebSocket: a writer for the call's events, a reader for its client events."""

    def __init__(
        self,
        websocket: WebSocket,
        feed: Callable[[str | bytes], Awaitable[None]],
        *,
        beta: bool,
        max_outbox_bytes: int,
    ) -> None:
        self._ws = websocket
        self._feed = feed
        self._beta = BetaServerTranslator() if beta else None
        self._max_outbox = max_outbox_bytes
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._outbox_bytes = 0
        self._close_code = CALL_ENDED_CLOSE_CODE
        self._done = asyncio.Event()

    def send(self, event: dict[str, Any]) -> None:
        """Queue a server event for this sideband (never waits)."""
        if self._done.is_set():
            return
        events = [event] if self._beta is None else self._beta.translate(event)
        for outgoing in events:
            text = to_json(outgoing)
            self._outbox_bytes += len(text)
            self._outbox.put_nowait(text)
        if self._outbox_bytes > self._max_outbox:
            logger.warning("closing a sideband that does not read its events")
            self._close_code = SLOW_CONSUMER_CLOSE_CODE
            self._done.set()

    def end(self) -> None:
        """The call ended: send what is queued, then close."""
        self._outbox.put_nowait(_CLOSE)

    async def run(self) -> None:
        """Until the socket goes away, the call ends, or the sideband stops reading."""
        reader = asyncio.create_task(self._read_loop())
        writer = asyncio.create_task(self._write_loop())
        done = asyncio.create_task(self._done.wait())
        try:
            await asyncio.wait({reader, writer, done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._done.set()
            for task in (reader, done):
                task.cancel()
            if not writer.done():
                self._outbox.put_nowait(_CLOSE)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(writer, 2.0)
                writer.cancel()
            if self._ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._ws.close(code=self._close_code), 2.0)

    async def _read_loop(self) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await self._feed(raw)

    async def _write_loop(self) -> None:
        while True:
            text = await self._outbox.get()
            if text is _CLOSE or self._ws.application_state != WebSocketState.CONNECTED:
                return
            if self._close_code == SLOW_CONSUMER_CLOSE_CODE:
                return
            try:
                await self._ws.send_text(text)
            except Exception as exc:
                logger.debug(f"sideband send failed: {exc}")
                return
            self._outbox_bytes -= len(text)
