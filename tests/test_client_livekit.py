"""LiveKit Agents' OpenAI plugin (``livekit-plugins-openai``) against the mock server.

``RealtimeModel(base_url="http://127.0.0.1:PORT/v1")`` is driven the way ``AgentSession`` drives
it, without a LiveKit server or room: a ``RealtimeSession`` from ``model.session()``, then
``update_instructions``, ``update_tools``, ``update_chat_ctx`` and ``generate_reply`` (which sends
``"instructions": null`` in every ``response.create``). Every server event the session received (its
own ``openai_server_event_received`` event) is validated against the SDK's strict GA union and the
protocol invariants. Every await has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import llm
from livekit.agents.llm import function_tool
from livekit.plugins.openai.realtime import RealtimeModel, RealtimeSession

from tests.audio_clips import clip
from tests.conftest import ServerProcess
from tests.helpers_audio import mock_reply_bytes
from tests.realtime_client import InvariantChecker, validate_server_event

pytestmark = pytest.mark.timeout(60)

WAIT_S = 10.0
RATE = 24000


@dataclass
class Wire:
    """The session's own record of the traffic, checked as it arrives."""

    client_events: list[dict[str, Any]] = field(default_factory=list)
    server_events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    invariants: InvariantChecker = field(default_factory=InvariantChecker)

    def on_client_event(self, event: Any) -> None:
        data = event if isinstance(event, dict) else event.model_dump(exclude_unset=True)
        self.client_events.append(json.loads(json.dumps(data, default=str)))

    def on_server_event(self, event: dict[str, Any]) -> None:
        self.server_events.append(event)
        try:
            validate_server_event(event)
            self.invariants.check(event)
        except Exception as error:  # recorded, asserted on by the test
            self.problems.append(f"{event.get('type')}: {error}")

    def sent(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.client_events if e["type"] == kind]

    def received(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.server_events if e["type"] == kind]

    def assert_clean(self) -> None:
        assert not self.problems, self.problems
        assert not self.received("error"), self.received("error")
        assert not self.errors, self.errors


@contextlib.asynccontextmanager
async def livekit_session(server: ServerProcess, **options: Any) -> AsyncIterator[Session]:
    """A ``RealtimeSession`` of a ``RealtimeModel`` pointed at ``server``."""
    model = RealtimeModel(base_url=f"{server.base_url}/v1", api_key="sk-test", **options)
    session = model.session()
    wire = Wire()
    session.on("openai_client_event_queued", wire.on_client_event)
    session.on("openai_server_event_received", wire.on_server_event)
    session.on("error", wire.errors.append)
    try:
        yield Session(session, wire)
    finally:
        await asyncio.wait_for(session.aclose(), WAIT_S)
        await asyncio.wait_for(model.aclose(), WAIT_S)


@dataclass
class Reply:
    """What one generation delivered through the plugin's streams."""

    text: str
    audio: bytes
    function_calls: list[llm.FunctionCall]


@dataclass
class Session:
    session: RealtimeSession
    wire: Wire

    async def add_user_message(self, text: str) -> None:
        chat_ctx = self.session.chat_ctx.copy()
        chat_ctx.add_message(role="user", content=text)
        await asyncio.wait_for(self.session.update_chat_ctx(chat_ctx), WAIT_S)

    async def reply(self, **options: Any) -> Reply:
        """``generate_reply()`` and read everything it produces."""
        generation = await asyncio.wait_for(self.session.generate_reply(**options), WAIT_S)
        assert generation.user_initiated
        return await asyncio.wait_for(read(generation), WAIT_S)


async def read(generation: llm.GenerationCreatedEvent) -> Reply:
    """Drain a generation's message, text, audio and function-call streams."""

    async def message(msg: llm.MessageGeneration) -> tuple[str, bytes]:
        async def text() -> str:
            return "".join([chunk async for chunk in msg.text_stream])

        async def audio() -> bytes:
            return b"".join([bytes(frame.data) async for frame in msg.audio_stream])

        return await asyncio.gather(text(), audio())

    async def messages() -> list[tuple[str, bytes]]:
        return [await message(msg) async for msg in generation.message_stream]

    async def calls() -> list[llm.FunctionCall]:
        return [call async for call in generation.function_stream]

    got, function_calls = await asyncio.gather(messages(), calls())
    return Reply(
        "".join(text for text, _ in got), b"".join(audio for _, audio in got), function_calls
    )


async def test_text_turn(server: ServerProcess) -> None:
    async with livekit_session(server, modalities=["text"]) as lk:
        await lk.session.update_instructions("Answer briefly.")
        await lk.add_user_message("Hello from LiveKit")
        reply = await lk.reply()
        assert reply.text == "You said: Hello from LiveKit"
        assert reply.audio == b""
        assert reply.function_calls == []
        # The plugin's mirror of the server conversation has both messages.
        messages = [(m.role, m.text_content) for m in lk.session.chat_ctx.messages()]
        assert messages == [
            ("user", "Hello from LiveKit"),
            ("assistant", "You said: Hello from LiveKit"),
        ]
        lk.wire.assert_clean()
    wire = lk.wire
    assert wire.received("session.updated")[-1]["session"]["instructions"] == "Answer briefly."
    # The response.create the server used to reject (issue 14): instructions null.
    (create,) = wire.sent("response.create")
    assert create["response"]["instructions"] is None
    (done,) = wire.received("response.done")
    assert done["response"]["status"] == "completed"
    assert done["response"]["metadata"] == {"client_event_id": create["event_id"]}


async def test_reply_with_instructions(server: ServerProcess) -> None:
    """``generate_reply(instructions=...)`` sends the session's and the reply's instructions."""
    async with livekit_session(server, modalities=["text"]) as lk:
        await lk.session.update_instructions("Answer briefly.")
        await lk.add_user_message("Hi")
        reply = await lk.reply(instructions="Greet the user.")
        assert reply.text == "You said: Hi"
        lk.wire.assert_clean()
    (create,) = lk.wire.sent("response.create")
    assert create["response"]["instructions"] == "Answer briefly.\nGreet the user."


@function_tool
async def get_weather(text: str) -> str:
    """The weather in a city.

    Args:
        text: what the user asked
    """
    return json.dumps({"city": "Paris", "temperature_c": 21})


async def test_tool_turn(server: ServerProcess) -> None:
    question = "What is the weather in Paris? Please use get_weather."
    async with livekit_session(server, modalities=["text"]) as lk:
        await asyncio.wait_for(lk.session.update_tools([get_weather]), WAIT_S)
        await lk.add_user_message(question)
        first = await lk.reply()
        (call,) = first.function_calls
        assert call.name == "get_weather"
        assert json.loads(call.arguments) == {"text": question}
        assert first.text == ""

        # What AgentSession does with a tool's result: add the output to the chat context,
        # sync it to the server, and ask for the reply.
        output = await get_weather(**json.loads(call.arguments))
        chat_ctx = lk.session.chat_ctx.copy()
        chat_ctx.items.append(
            llm.FunctionCallOutput(
                call_id=call.call_id, name=call.name, output=output, is_error=False
            )
        )
        await asyncio.wait_for(lk.session.update_chat_ctx(chat_ctx), WAIT_S)
        second = await lk.reply(tool_choice="auto")
        assert second.text == f"Tool result: {output}"
        assert second.function_calls == []
        lk.wire.assert_clean()
    wire = lk.wire
    tools = wire.received("session.updated")[-1]["session"]["tools"]
    assert [(t["type"], t["name"]) for t in tools] == [("function", "get_weather")]
    assert tools[0]["parameters"]["properties"]["text"]["type"] == "string"
    outputs = [e["item"] for e in wire.sent("conversation.item.create")]
    assert [o["type"] for o in outputs] == ["message", "function_call_output"]
    assert outputs[1]["call_id"] == call.call_id
    assert outputs[1]["output"] == output
    assert [c["response"].get("tool_choice") for c in wire.sent("response.create")] == [
        None,
        "auto",
    ]


async def test_audio_turn(server: ServerProcess) -> None:
    """``push_audio`` with the plugin's defaults (semantic VAD, transcription, text and audio)."""
    async with livekit_session(server) as lk:
        created: asyncio.Queue[llm.GenerationCreatedEvent] = asyncio.Queue()
        transcribed: asyncio.Queue[llm.InputTranscriptionCompleted] = asyncio.Queue()
        lk.session.on("generation_created", created.put_nowait)
        lk.session.on("input_audio_transcription_completed", transcribed.put_nowait)

        pcm = clip("go_forward_human.wav")
        chunk = RATE * 2 // 10  # 100 ms
        for start in range(0, len(pcm), chunk):
            data = pcm[start : start + chunk]
            lk.session.push_audio(rtc.AudioFrame(data, RATE, 1, len(data) // 2))

        generation = await asyncio.wait_for(created.get(), WAIT_S)
        assert not generation.user_initiated  # the server's VAD started it
        reply = await asyncio.wait_for(read(generation), WAIT_S)
        transcript = (await asyncio.wait_for(transcribed.get(), WAIT_S)).transcript
        assert re.fullmatch(r"audio of \d+ ms", transcript), transcript
        assert reply.text == f"You said: {transcript}"
        assert len(reply.audio) == mock_reply_bytes(reply.text)
        lk.wire.assert_clean()
    session = lk.wire.received("session.updated")[-1]["session"]
    assert session["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert session["output_modalities"] == ["audio"]
    assert not lk.wire.sent("response.create")
    assert not lk.wire.sent("input_audio_buffer.commit")
