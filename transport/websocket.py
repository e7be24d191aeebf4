"""The WebSocket transport: one :class:`RealtimeConnection` per client connection.

It reads client frames and hands them to the session's :class:`~transport.driver.SessionDriver`,
and sends the server events the driver emits through a single writer task (so they leave in the
order the core made them). When the socket closes, the driver, its pipeline and every task go
with it.

Two limits live here because they concern the connection rather than the protocol: the session's
maximum duration (an ``error`` with code ``session_expired``, then close 1000) and slow consumers (a
client that stops reading while more than ``max_outbox_bytes`` of events wait is disconnected with
close 1008, so it cannot make the server buffer without bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from loguru import logger
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from fairness import FairShare
from model_catalog import ModelEntry
from protocol import ProtocolError
from protocol.beta import BetaServerTranslator, parse_beta_client_event
from protocol.validation import parse_client_event
from transport.driver import Closure, SessionDriver
from transport.session_log import SessionLog, close_description
from transport.session_parts import (
    driver_limits,
    note_server_event,
    open_session,
    session_limits,
)

__all__ = [
    "RealtimeConnection",
    "choose_subprotocol",
    "driver_limits",  # re-exported: they used to live here
    "session_limits",
    "wants_beta",
]

BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
SESSION_EXPIRED_CLOSE_CODE = 1000
SLOW_CONSUMER_CLOSE_CODE = 1008
_CLOSE = object()


def choose_subprotocol(offered: list[str]) -> str | None:
    """Browsers offer ``realtime`` (+ ``openai-insecure-api-key.<key>``): we must select it."""
    return "realtime" if "realtime" in offered else None


def wants_beta(headers: Any, offered: list[str]) -> bool:
    """Beta dialect: ``OpenAI-Beta: realtime=v1`` header or ``openai-beta.realtime-v1`` protocol."""
    beta_header = headers.get("openai-beta", "")
    return "realtime=v1" in beta_header.replace(" ", "") or BETA_SUBPROTOCOL in offered


def _to_json(event: dict[str, Any]) -> str:
    """Compact, strictly valid JSON (no NaN/Infinity, which JSON does not have)."""
    return json.dumps(event, separators=(",", ":"), allow_nan=False)


class RealtimeConnection:
    """Serves one Realtime session over one accepted WebSocket."""

    def __init__(
        self,
        websocket: WebSocket,
        entry: ModelEntry,
        *,
        model: str,
        session_type: str = "realtime",
        beta: bool = False,
        initial_session: dict[str, Any] | None = None,
    ) -> None:
        """Make the session of ``entry`` (a local pipeline or a relay)."""
        self._ws = websocket
        self._entry = entry
        self._settings = settings = entry.settings
        # The beta dialect is translated at the edge: the core only ever sees GA events.
        self._beta = BetaServerTranslator() if beta else None
        self.core, make_backend = open_session(
            entry,
            settings,
            model=model,
            session_type=session_type,
            initial_session=initial_session,
            transport="websocket",
        )
        self.driver = SessionDriver(
            self.core,
            make_backend,
            parse=parse_beta_client_event if beta else parse_client_event,
            emit=self._enqueue,
            limits=driver_limits(settings),
        )
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._outbox_bytes = 0
        self._reader: asyncio.Task[None] | None = None
        self._close: tuple[int, str] | None = None
        self._closed_under: tuple[int | None, str] | None = None
        self._log = SessionLog(
            self.core.session_id, transport="websocket", model=model, entry=entry.name
        )
        self._details = ", ".join(
            detail
            for detail, wanted in (
                ("transcription session", session_type == "transcription"),
                ("beta dialect", beta),
            )
            if wanted
        )

    async def run(self) -> None:
        """Serve the session until the client goes away or a limit ends it; always cleans up.

        Every line logged meanwhile names the session; its last says how it ended.
        """
        with self._log.context():
            self._log.started(self._details)
            failed = False
            try:
                failed = await self._serve()
            finally:
                self._log.ended(self._how_it_ended(failed))

    def _how_it_ended(self, failed: bool) -> str:
        if self._close is not None:
            return close_description(*self._close, by_server=True)
        if self._closed_under is not None:
            return close_description(*self._closed_under, by_server=False)
        return "the session failed (logged above)" if failed else "the server stopped it"

    async def _serve(self) -> bool:
        """Serve the session; True if it failed."""
        failed = False
        writer = asyncio.create_task(self._write_loop())
        driving: asyncio.Task[Closure] | None = None
        try:
            await self.driver.start()
            self._reader = asyncio.create_task(self._read_loop())
            driving = asyncio.create_task(self.driver.run())
            done, _ = await asyncio.wait(
                {self._reader, driving},
                timeout=self._settings.max_session_duration_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                self._expire()
            elif driving in done:
                closure = driving.result()  # raises if the driver failed: logged below
                self._close = (closure.code, closure.reason)
            else:
                with contextlib.suppress(WebSocketDisconnect, asyncio.CancelledError):
                    self._reader.result()
        except Exception:
            failed = True
            logger.exception("session failed")
        finally:
            for task in (self._reader, driving):
                if task is not None and not task.done():
                    task.cancel()
            await self.driver.close()
            self._outbox.put_nowait(_CLOSE)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(writer, 2.0)
            if not writer.done():
                writer.cancel()
            await self._close_socket()
        return failed

    def _expire(self) -> None:
        minutes = self._settings.max_session_duration_s / 60
        error = ProtocolError(
            "session_expired", f"Your session hit the maximum duration of {minutes:g} minutes."
        )
        self._enqueue(error.to_event())
        self._close = (SESSION_EXPIRED_CLOSE_CODE, "session expired")

    async def _close_socket(self) -> None:
        if self._close is None or self._ws.application_state != WebSocketState.CONNECTED:
            return
        code, reason = self._close
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(code=code, reason=reason), 2.0)

    def _enqueue(self, event: dict[str, Any]) -> None:
        note_server_event(self._entry, event)
        self._log.note(event)
        events = [event] if self._beta is None else self._beta.translate(event)
        for outgoing in events:
            text = _to_json(outgoing)
            self._outbox_bytes += len(text)
            self._outbox.put_nowait(text)
        if self._outbox_bytes > self._settings.max_outbox_bytes and self._close is None:
            logger.warning(
                f"closing the session: the client is not reading "
                f"({self._outbox_bytes} bytes of events waiting)"
            )
            self._close = (SLOW_CONSUMER_CLOSE_CODE, "slow consumer: events not read")
            if self._reader is not None:
                self._reader.cancel()

    async def _read_loop(self) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                self._closed_under = (message.get("code"), message.get("reason") or "")
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await self.driver.feed_frame(raw)

    async def _write_loop(self) -> None:
        # A slow reader lets a backlog of events build up; sending it all in one go would keep
        # the event loop from every other session, so the writer takes fair shares too.
        share = FairShare()
        while True:
            text = await self._outbox.get()
            if text is _CLOSE or self._ws.application_state != WebSocketState.CONNECTED:
                return
            if self._close is not None and self._close[0] == SLOW_CONSUMER_CLOSE_CODE:
                return
            try:
                await self._ws.send_text(text)
            except Exception as exc:  # the peer is gone; the reader will notice
                logger.debug(f"send failed, dropping the rest of the session's events: {exc}")
                return
            self._outbox_bytes -= len(text)
            await share.spend()
