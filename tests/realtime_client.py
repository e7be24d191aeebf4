"""A test client over the official ``openai`` SDK that validates every server event.

Each event is checked against the SDK's discriminated union of server events in strict mode, and the
protocol invariants that span events (unique event ids, one ``response.done`` per response, deltas
inside their content part and concatenating to the ``.done`` text) are checked as events arrive.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import defaultdict
from typing import Annotated, Any

from openai import AsyncOpenAI
from openai.types.realtime import RealtimeServerEvent
from pydantic import Field, TypeAdapter

SERVER_EVENT = TypeAdapter(Annotated[RealtimeServerEvent, Field(discriminator="type")])
DEFAULT_TIMEOUT = 10.0


def validate_server_event(event: dict[str, Any]) -> None:
    """Raise unless ``event`` is a valid GA server event under the SDK's strict union."""
    SERVER_EVENT.validate_python(event, strict=True)


class InvariantChecker:
    """Checks the cross-event rules of docs/protocol.md §6 on a stream of server events."""

    def __init__(self) -> None:
        self.event_ids: set[str] = set()
        self.created: set[str] = set()
        self.done: set[str] = set()
        self.open_parts: set[tuple[str, str, int]] = set()
        self.deltas: dict[tuple[str, str, int], str] = defaultdict(str)

    def check(self, event: dict[str, Any]) -> None:
        event_id = event["event_id"]
        assert event_id not in self.event_ids, f"duplicate event_id {event_id}"
        self.event_ids.add(event_id)
        kind = event["type"]
        if kind == "response.created":
            self.created.add(event["response"]["id"])
        elif kind == "response.done":
            response_id = event["response"]["id"]
            assert response_id in self.created, "response.done without response.created"
            assert response_id not in self.done, "two response.done for one response"
            self.done.add(response_id)
            assert not any(p[0] == response_id for p in self.open_parts), "part left open"
        elif kind == "response.content_part.added":
            self.open_parts.add(_part_key(event))
        elif kind == "response.content_part.done":
            key = _part_key(event)
            assert key in self.open_parts, "content_part.done without added"
            self.open_parts.discard(key)
            part = event["part"]
            text = part.get("transcript") if part["type"] == "audio" else part.get("text")
            assert text == self.deltas.get(key, ""), "deltas do not add up to the part's text"
        elif kind in ("response.output_text.delta", "response.output_audio_transcript.delta"):
            key = _part_key(event)
            assert key in self.open_parts, f"{kind} outside its content part"
            self.deltas[key] += event["delta"]
        elif kind == "response.output_audio.delta":
            assert _part_key(event) in self.open_parts, "audio delta outside its content part"
        elif kind in ("response.output_text.done", "response.output_audio_transcript.done"):
            text = event.get("text", event.get("transcript"))
            assert text == self.deltas.get(_part_key(event), ""), f"{kind} text != deltas"


def _part_key(event: dict[str, Any]) -> tuple[str, str, int]:
    return (event["response_id"], event["item_id"], event["content_index"])


class EventWaiting:
    """``wait_for`` and ``collect_until`` for any test client that has ``next_event``."""

    async def next_event(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        raise NotImplementedError

    async def wait_for(self, kind: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Read events until one of type ``kind`` arrives and return it."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event(timeout)
                if event["type"] == kind:
                    return event

    async def collect_until(
        self, kind: str, timeout: float = DEFAULT_TIMEOUT
    ) -> list[dict[str, Any]]:
        """All events up to and including the first of type ``kind``."""
        collected: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event(timeout)
                collected.append(event)
                if event["type"] == kind:
                    return collected


class RealtimeTestClient(EventWaiting):
    """An SDK connection plus a validated, invariant-checked log of everything the server sent."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.session: dict[str, Any] = {}
        """The ``session.created`` session (set by ``tests.conftest.open_client``)."""
        self.events: list[dict[str, Any]] = []
        self.invariants = InvariantChecker()

    async def send(self, event: dict[str, Any]) -> None:
        """Send a client event through the SDK."""
        await self.connection.send(event)

    async def send_raw(self, data: str | bytes) -> None:
        """Send a raw frame, bypassing the SDK's serialisation (for malformed-input tests)."""
        await self.connection._connection.send(data)

    async def next_event(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next server event, validated."""
        raw = await asyncio.wait_for(self.connection.recv_bytes(), timeout)
        event = json.loads(raw)
        validate_server_event(event)
        self.invariants.check(event)
        self.events.append(event)
        return event

    async def expect_no_event(self, within: float = 0.3) -> None:
        """Assert that nothing arrives for ``within`` seconds (used sparingly)."""
        try:
            event = await self.next_event(within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected event {event['type']}: {event}")

    async def update_session(self, **session: Any) -> dict[str, Any]:
        """``session.update`` and wait for ``session.updated``."""
        session.setdefault("type", "realtime")
        await self.send({"type": "session.update", "session": session})
        return await self.wait_for("session.updated")

    async def append_audio(self, pcm: bytes, chunk_bytes: int = 4800) -> None:
        """Append audio in chunks (as fast as the socket takes it)."""
        for start in range(0, len(pcm), chunk_bytes):
            chunk = pcm[start : start + chunk_bytes]
            await self.send(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()}
            )


def audio_of(events: list[dict[str, Any]]) -> bytes:
    """The concatenated audio of all ``response.output_audio.delta`` events."""
    return b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )


def types_of(events: list[dict[str, Any]]) -> list[str]:
    """The event types, in order."""
    return [e["type"] for e in events]


def sdk_client(base_url: str) -> AsyncOpenAI:
    """An SDK client pointed at our server."""
    return AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test", max_retries=0)
