"""The beta dialect over the SDK's beta client (``OpenAI-Beta: realtime=v1``), validated with the
SDK's beta server-event union."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from openai import AsyncOpenAI
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from pydantic import Field, TypeAdapter

from tests.audio_clips import clip, stream

BETA_EVENT = TypeAdapter(Annotated[BetaServerEvent, Field(discriminator="type")])
TIMEOUT = 10.0


class BetaClient:
    """The SDK's beta connection plus validation of every server event."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send(event)

    async def next_event(self) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.connection.recv_bytes(), TIMEOUT))
        BETA_EVENT.validate_python(event, strict=True)
        self.events.append(event)
        return event

    async def collect_until(self, kind: str) -> list[dict[str, Any]]:
        collected = []
        async with asyncio.timeout(TIMEOUT):
            while True:
                collected.append(await self.next_event())
                if collected[-1]["type"] == kind:
                    return collected


@contextlib.asynccontextmanager
async def beta_client(base_url: str) -> AsyncIterator[BetaClient]:
    ws_url = base_url.replace("http://", "ws://") + "/v1"
    client = AsyncOpenAI(base_url=f"{base_url}/v1", websocket_base_url=ws_url, api_key="sk-test")
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        beta = BetaClient(connection)
        created = await beta.next_event()
        assert created["type"] == "session.created"
        assert created["session"]["modalities"] and "audio" not in created["session"]
        yield beta


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def add_text(client: BetaClient, text: str) -> dict[str, Any]:
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    return await client.collect_until("conversation.item.created")


async def test_beta_text_turn(server) -> None:
    async with beta_client(server.base_url) as client:
        await client.send(
            {"type": "session.update", "session": {"modalities": ["text"], "temperature": 0.8}}
        )
        updated = await client.collect_until("session.updated")
        assert updated[-1]["session"]["modalities"] == ["text"]
        created = await add_text(client, "hello beta")
        assert created[-1]["item"]["content"][0]["text"] == "hello beta"
        await client.send({"type": "response.create"})
        events = await client.collect_until("response.done")
        kinds = types_of(events)
        assert "response.text.delta" in kinds and "response.text.done" in kinds
        assert not any(k.startswith("response.output_") and "item" not in k for k in kinds)
        message = events[-1]["response"]["output"][0]
        assert message["content"][0] == {"type": "text", "text": "You said: hello beta"}


async def test_beta_audio_turn_and_formats(server) -> None:
    async with beta_client(server.base_url) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {"output_audio_format": "g711_ulaw", "voice": "echo"},
            }
        )
        session = (await client.collect_until("session.updated"))[-1]["session"]
        assert session["output_audio_format"] == "g711_ulaw" and session["voice"] == "echo"
        await add_text(client, "speak")
        await client.send({"type": "response.create"})
        events = await client.collect_until("response.done")
        audio = b"".join(
            base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
        )
        transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")
        assert len(audio) == 160 * len(transcript["transcript"])
        content = events[-1]["response"]["output"][0]["content"][0]
        assert content["type"] == "audio"


async def test_beta_manual_commit(server) -> None:
    async with beta_client(server.base_url) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "turn_detection": None,
                    "modalities": ["text"],
                    "input_audio_transcription": {"model": "whisper-1"},
                },
            }
        )
        await client.collect_until("session.updated")
        await stream(client, clip("go_forward_human.wav")[: 1000 * 48], speed=0)
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.collect_until("input_audio_buffer.committed")
        item_id = committed[-1]["item_id"]
        done = await client.collect_until("conversation.item.input_audio_transcription.completed")
        assert done[-1]["transcript"] == "audio of 1000 ms" and done[-1]["item_id"] == item_id
        await client.send({"type": "response.create"})
        events = await client.collect_until("response.done")
        assert events[-1]["response"]["output"][0]["content"][0]["text"] == (
            "You said: audio of 1000 ms"
        )


async def test_beta_server_vad_turn(server) -> None:
    async with beta_client(server.base_url) as client:
        await client.send(
            {
                "type": "session.update",
                "session": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}},
            }
        )
        await client.collect_until("session.updated")
        await stream(client, clip("go_forward_human.wav"), speed=0)
        events = await client.collect_until("response.done")
        kinds = types_of(events)
        assert (
            kinds.index("input_audio_buffer.speech_started")
            < kinds.index("input_audio_buffer.speech_stopped")
            < kinds.index("input_audio_buffer.committed")
            < kinds.index("response.created")
        )
        assert events[-1]["response"]["status"] == "completed"


async def test_beta_tool_call(server) -> None:
    tool = {
        "type": "function",
        "name": "lookup",
        "description": "Look something up.",
        "parameters": {"type": "object", "properties": {}},
    }
    async with beta_client(server.base_url) as client:
        await client.send(
            {"type": "session.update", "session": {"tools": [tool], "modalities": ["text"]}}
        )
        await client.collect_until("session.updated")
        await add_text(client, "please lookup cats")
        await client.send({"type": "response.create"})
        events = await client.collect_until("response.done")
        args = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        call = events[-1]["response"]["output"][0]
        assert call["type"] == "function_call" and call["call_id"] == args["call_id"]
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": "meow",
                },
            }
        )
        await client.collect_until("conversation.item.created")
        await client.send({"type": "response.create"})
        events = await client.collect_until("response.done")
        assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Tool result: meow"


async def test_beta_errors_keep_the_session(server) -> None:
    async with beta_client(server.base_url) as client:
        await client.send({"type": "session.update", "event_id": "e1", "session": {"bogus": 1}})
        error = (await client.collect_until("error"))[-1]["error"]
        assert error["code"] == "unknown_parameter" and error["event_id"] == "e1"
        await client.send({"type": "session.update", "session": {"temperature": 2.0}})
        error = (await client.collect_until("error"))[-1]["error"]
        assert error["code"] == "decimal_above_max_value"
        await client.send({"type": "input_audio_buffer.commit"})
        error = (await client.collect_until("error"))[-1]["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        await add_text(client, "still here")
        await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
        events = await client.collect_until("response.done")
        assert events[-1]["response"]["status"] == "completed"
