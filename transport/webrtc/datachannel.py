"""The ``oai-events`` data channel: the call's event stream, exactly the WebSocket's events.

Client events arrive as data channel messages and go to the call's driver as client frames, the
way the WebSocket reader hands over its frames (same validation, same errors, same limits).
Server events leave as JSON text messages (translated first on a beta call).

Two things differ from a socket and are handled here:

- the channel opens a moment after the SDP answer, so events made before that (``session.created``)
  wait and are sent when it opens; an offer without a data channel never gets one, so its events
  are not kept (a sideband may still be listening);
- SCTP has a maximum message size (the peer's ``a=max-message-size``, 64 KiB when it says none):
  an event over it (a long audio item in ``conversation.item.retrieved``) cannot be sent, so the
  peer gets an ``error`` (``event_too_large``) in its place; the sideband WebSocket has no such
  limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCDataChannel
from loguru import logger

from protocol import ProtocolError
from protocol.beta import BetaServerTranslator

EVENTS_LABEL = "oai-events"
MAX_PENDING_INBOUND_BYTES = 32 * 1024 * 1024
"""Client events received but not yet taken by the driver; a peer past this is flooding."""


def to_json(event: dict[str, Any]) -> str:
    """Compact, strictly valid JSON (no NaN/Infinity)."""
    return json.dumps(event, separators=(",", ":"), allow_nan=False)


class DataChannelEvents:
    """Both directions of the ``oai-events`` channel for one call."""

    def __init__(
        self,
        *,
        beta: bool,
        max_unsent_bytes: int,
        on_overflow: Callable[[str], None],
    ) -> None:
        self._beta = BetaServerTranslator() if beta else None
        self._expect_channel = True
        self._max_unsent = max_unsent_bytes
        self._on_overflow = on_overflow
        self._channel: RTCDataChannel | None = None
        self._pending: deque[str] = deque()
        self._pending_bytes = 0
        self._inbound: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._inbound_bytes = 0
        self._flushed = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return self._channel is not None and self._channel.readyState == "open"

    def expect_channel(self, expected: bool) -> None:
        """Whether the offer has a data channel (else events are not kept for one)."""
        self._expect_channel = expected
        if not expected:
            self._pending.clear()
            self._pending_bytes = 0

    def attach(self, channel: RTCDataChannel) -> None:
        """Adopt the peer's ``oai-events`` channel (other channels are not ours)."""
        if channel.label != EVENTS_LABEL or self._channel is not None:
            return
        self._channel = channel
        channel.on("message", self._received)
        channel.on("bufferedamountlow", self._flushed.set)
        if channel.readyState == "open":
            self._open()
        else:
            channel.on("open", self._open)

    # --- outbound ---------------------------------------------------------------------------------

    def send(self, event: dict[str, Any]) -> None:
        """Send one server event (never waits: the channel and SCTP buffer it)."""
        events = [event] if self._beta is None else self._beta.translate(event)
        for outgoing in events:
            text = to_json(outgoing)
            if self.is_open:
                self._send_text(text)
            elif self._expect_channel and (self._channel is None or not self._closed()):
                self._pending.append(text)
                self._pending_bytes += len(text)
                if self._pending_bytes > self._max_unsent:
                    self._on_overflow("events not read: the data channel never opened")

    def _open(self) -> None:
        while self._pending:
            text = self._pending.popleft()
            self._pending_bytes -= len(text)
            self._send_text(text)

    def _send_text(self, text: str) -> None:
        assert self._channel is not None
        try:
            self._channel.send(text)
        except ValueError:  # over the peer's maximum message size
            kind = json.loads(text).get("type")
            message = (
                f"A server event ({kind}, {len(text)} bytes) is larger than this data channel's "
                "maximum message size, so it was not sent. Join the call with the sideband "
                "WebSocket (/v1/realtime?call_id=...) to receive events of any size."
            )
            self._channel.send(to_json(ProtocolError("event_too_large", message).to_event()))
            return
        except Exception as exc:  # closed under us: the call is ending
            logger.debug(f"data channel send failed: {exc}")
            return
        if self._channel.bufferedAmount > self._max_unsent:
            self._on_overflow("slow consumer: events not read")

    def _closed(self) -> bool:
        return self._channel is not None and self._channel.readyState in ("closing", "closed")

    async def drain(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until what was sent has left SCTP's buffer."""
        if not self.is_open or self._channel is None or self._channel.bufferedAmount == 0:
            return
        self._flushed.clear()
        self._channel.bufferedAmountLowThreshold = 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flushed.wait(), timeout_s)

    # --- inbound ----------------------------------------------------------------------------------

    def _received(self, message: str | bytes) -> None:
        self._inbound_bytes += len(message)
        if self._inbound_bytes > MAX_PENDING_INBOUND_BYTES:
            self._on_overflow("client events arrive faster than they can be applied")
            return
        self._inbound.put_nowait(message)

    async def pump(self, feed: Callable[[str | bytes], Awaitable[None]]) -> None:
        """Hand the client events to the driver in arrival order (runs until cancelled)."""
        while True:
            message = await self._inbound.get()
            self._inbound_bytes -= len(message)
            await feed(message)
