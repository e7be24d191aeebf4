"""One Realtime connection as the check and the chat use it: raw events, one reply at a time.

The check wants to see the server's JSON exactly as sent (not the SDK's parsed models, which
would hide unknown or malformed fields), and to wait for one event type while keeping the others
for later; :class:`Session` does that, and :meth:`Session.collect_reply` gathers one response
into a :class:`Reply`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clients.events import (
    AUDIO_DELTA_TYPE,
    TEXT_DELTA_TYPES,
    decode_audio,
    describe_server_error,
    response_create,
)
from clients.wav import duration_ms


class StepFailed(Exception):
    """A check failed; the message says why."""


@dataclass
class Reply:
    """What one response produced."""

    status: str = "none"
    text: str = ""
    audio: bytes = b""
    function_calls: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_delta_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def audio_ms(self) -> int:
        """Length of the reply audio in whole ms."""
        return duration_ms(len(self.audio))


class Session:
    """One SDK connection with a raw-event reader (events are plain dicts)."""

    def __init__(self, connection: Any, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout
        self.backlog: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        """Send one client event."""
        await self.connection.send(event)

    async def next_event(self) -> dict[str, Any]:
        """The next server event (backlog first); ``StepFailed`` on timeout or close."""
        if self.backlog:
            return self.backlog.pop(0)
        try:
            raw = await asyncio.wait_for(self.connection.recv_bytes(), self.timeout)
        except TimeoutError as error:
            raise StepFailed(f"no event from the server within {self.timeout:.0f} s") from error
        except Exception as error:  # websockets' ConnectionClosed and friends
            raise StepFailed(f"connection closed: {error}") from error
        event: dict[str, Any] = json.loads(raw)
        return event

    async def wait_for(self, kind: str) -> dict[str, Any]:
        """Skip events until one of type ``kind``; keep the skipped ones; fail on ``error``."""
        skipped: list[dict[str, Any]] = []
        try:
            while True:
                event = await self.next_event()
                if event["type"] == kind:
                    return event
                if event["type"] == "error":
                    raise StepFailed(f"server error: {describe_server_error(event['error'])}")
                skipped.append(event)
        finally:
            self.backlog = skipped + self.backlog

    async def update(self, **session: Any) -> dict[str, Any]:
        """``session.update`` and wait for ``session.updated``."""
        await self.send({"type": "session.update", "session": {"type": "realtime", **session}})
        updated: dict[str, Any] = (await self.wait_for("session.updated"))["session"]
        return updated

    async def say(self, text: str) -> None:
        """Add a user text message and ask for a response."""
        content = [{"type": "input_text", "text": text}]
        item = {"type": "message", "role": "user", "content": content}
        await self.send({"type": "conversation.item.create", "item": item})
        await self.send(response_create())

    async def collect_reply(self, on_text: Callable[[str], None] | None = None) -> Reply:
        """Read one response to its ``response.done``; keep the events that belong to others."""
        reply, started, others = Reply(), time.perf_counter(), []
        seen_created = False
        while True:
            event = await self.next_event()
            kind = event["type"]
            if kind == "response.created":
                seen_created = True
            elif kind == "error":
                reply.errors.append(describe_server_error(event["error"]))
                if not seen_created:  # the response was refused: nothing more will come
                    reply.status = "refused"
                    break
            elif kind in TEXT_DELTA_TYPES:
                reply.first_delta_s = reply.first_delta_s or time.perf_counter() - started
                reply.text += event["delta"]
                if on_text is not None:
                    on_text(event["delta"])
            elif kind == AUDIO_DELTA_TYPE:
                reply.first_delta_s = reply.first_delta_s or time.perf_counter() - started
                reply.audio += decode_audio(event["delta"])
            elif kind == "response.function_call_arguments.done":
                reply.function_calls.append(event)
            elif kind == "response.done":
                reply.status = event["response"]["status"]
                reply.details = event["response"].get("status_details") or {}
                break
            else:
                others.append(event)
        self.backlog = others + self.backlog
        return reply
