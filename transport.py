"""The WebSocket adapter: one :class:`RealtimeConnection` per client connection.

It reads client frames, feeds them to the sans-I/O core, sends the core's server events through a
single writer task (so events leave in the order the core made them), and hands the core's commands
to the session's Pipecat pipeline. When the socket closes, the pipeline and every task go with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from loguru import logger
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from config import Settings
from pipeline_manager import ServiceFactory, SessionPipeline
from protocol import ProtocolError
from protocol.beta import BetaServerTranslator, parse_beta_client_event
from realtime_session import Command, Output, RealtimeSession

_CLOSE = object()


BETA_SUBPROTOCOL = "openai-beta.realtime-v1"


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
    """Drives one Realtime session over one accepted WebSocket."""

    def __init__(
        self,
        websocket: WebSocket,
        services: ServiceFactory,
        settings: Settings,
        *,
        model: str,
        session_type: str = "realtime",
        beta: bool = False,
    ) -> None:
        self._ws = websocket
        self._settings = settings
        # The beta dialect is translated at the edge: the core only ever sees GA events.
        self._beta = BetaServerTranslator() if beta else None
        self.core = RealtimeSession(model=model, session_type=session_type)
        self.pipeline = SessionPipeline(services, self.core, self.dispatch, settings)
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Serve the session until the client goes away; always cleans up."""
        self._writer = asyncio.create_task(self._write_loop())
        try:
            await self.pipeline.start()
            await self.dispatch(self.core.start())
            await self._read_loop()
        except WebSocketDisconnect:
            pass
        finally:
            await self.pipeline.close()
            self._outbox.put_nowait(_CLOSE)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._writer, 2.0)
            if not self._writer.done():
                self._writer.cancel()

    async def dispatch(self, outputs: list[Output]) -> None:
        """Queue the events in order, then carry out the commands in order."""
        commands: list[Command] = []
        for output in outputs:
            if isinstance(output, dict):
                self._outbox.put_nowait(output)
            else:
                commands.append(output)
        for command in commands:
            await self.pipeline.execute(command)

    async def _read_loop(self) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await self.dispatch(self._handle(raw))

    def _handle(self, raw: str | bytes) -> list[Output]:
        if self._beta is None:
            return self.core.handle_raw(raw)
        try:
            event = parse_beta_client_event(raw)
        except ProtocolError as error:
            return [error.to_event()]
        return self.core.handle_raw(json.dumps(event))

    async def _write_loop(self) -> None:
        while True:
            event = await self._outbox.get()
            if event is _CLOSE or self._ws.application_state != WebSocketState.CONNECTED:
                return
            events = [event] if self._beta is None else self._beta.translate(event)
            try:
                for outgoing in events:
                    await self._ws.send_text(_to_json(outgoing))
            except Exception as exc:
                logger.debug(f"send failed, dropping the rest of the session's events: {exc}")
                return
