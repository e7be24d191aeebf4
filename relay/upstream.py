"""The I/O half of a relay: one WebSocket to the upstream realtime API per session.

:class:`UpstreamLink` is the relayed session's backend (the driver's ``Backend``): ``start``
connects, ``execute`` carries out the session's :mod:`relay.commands`, ``close`` hangs up. What
arrives is reported through the driver's inbox as :mod:`relay.signals`, never applied here: the
session core decides what it means. The upstream key travels in this connection's headers and
nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from relay.commands import NoteUpstream, SendUpstream
from relay.signals import UpstreamClosed, UpstreamEvent, UpstreamRefused

MAX_UPSTREAM_MESSAGE_BYTES = 32 * 1024 * 1024
CLOSE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class UpstreamTarget:
    """Where and how to connect: the URL (query included) and the headers (the key among them)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    subprotocols: tuple[str, ...] = ()
    connect_timeout_s: float = 10.0

    def __repr__(self) -> str:  # never print the headers: they hold the upstream key
        return f"UpstreamTarget({self.url!r})"


@dataclass(frozen=True)
class EntryHooks:
    """What the session's model entry keeps: whether its upstream answers (``/health``)."""

    note_upstream: Callable[[bool, str], None] = lambda ok, detail: None


class UpstreamLink:
    """One session's WebSocket to the upstream (see the module docstring)."""

    def __init__(
        self,
        target: UpstreamTarget,
        report: Callable[[Any], None],
        hooks: EntryHooks | None = None,
    ) -> None:
        self._target = target
        self._report = report
        self._hooks = hooks or EntryHooks()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect; a refusal is reported (the session tells the client), never raised."""
        target = self._target
        try:
            self._ws = await connect(
                target.url,
                additional_headers=target.headers,
                subprotocols=[*target.subprotocols] or None,  # type: ignore[list-item]
                open_timeout=target.connect_timeout_s,
                max_size=MAX_UPSTREAM_MESSAGE_BYTES,
                compression=None,  # base64 audio barely compresses; deflate would cost latency
                close_timeout=CLOSE_TIMEOUT_S,
                proxy=None,
            )
        except InvalidStatus as refused:
            status = refused.response.status_code
            self._report(UpstreamRefused(status, f"HTTP {status}"))
            return
        except Exception as error:  # refused, reset, DNS, TLS, timeout, a bad URL
            detail = f"{type(error).__name__}: {error}"
            logger.warning(f"upstream {target.url} unreachable: {detail}")
            self._report(UpstreamRefused(None, detail))
            return
        self._reader = asyncio.create_task(self._read(self._ws), name="relay-upstream-reader")

    async def execute(self, command: Any) -> None:
        """Send an event upstream, or pass the upstream's health on to the model entry."""
        if isinstance(command, SendUpstream):
            if self._ws is not None:
                with contextlib.suppress(ConnectionClosed):  # the reader reports the close
                    await self._ws.send(json.dumps(command.event, separators=(",", ":")))
        elif isinstance(command, NoteUpstream):
            self._hooks.note_upstream(command.ok, command.detail)
        else:
            logger.warning(f"relay: unexpected command {type(command).__name__}")

    async def close(self) -> None:
        """Hang up (bounded) and stop reading."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT_S)
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                try:
                    data = json.loads(message)
                except ValueError:
                    logger.warning("relay: the upstream sent a frame that is not JSON; dropped")
                    continue
                if isinstance(data, dict):
                    self._report(UpstreamEvent(data))
        except ConnectionClosed:
            pass
        code = ws.close_code if ws.close_code is not None else 1006
        self._report(UpstreamClosed(code, ws.close_reason or ""))
