"""Wire conformance: the running mock server, driven through the official SDK.

Every server event is validated against the SDK's strict union and the cross-event invariants by
``RealtimeTestClient``. The mock profile is deterministic (see ``pipeline_manager/mock.py``): a
committed audio item is transcribed ``audio of N ms``, the reply to user text T is ``You said: T``,
and the TTS speaks 20 ms of tone per character. Tests that append audio turn server VAD off.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from typing import Any

import pytest

from tests.conftest import ServerProcess, open_client
from tests.helpers_audio import (
    BYTES_PER_MS,
    b64,
    duration_ms,
    mock_reply_bytes,
    session_format,
    tone,
)
from tests.realtime_client import RealtimeTestClient, audio_of, sdk_client, types_of

pytestmark = pytest.mark.timeout(60)

MANUAL_TURNS = {"input": {"turn_detection": None}}
TEXT_ONLY = {"output_modalities": ["text"]}
TURN_TIMEOUT = 10.0

COMMIT_EMPTY = (
    "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
    "but buffer only has {ms:.2f}ms of audio."
)


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


# Optional events whose position is not fixed (docs/protocol.md §6): validated, then skipped.
OPTIONAL_EVENTS = {"rate_limits.updated"}


async def next_event(rt: RealtimeTestClient) -> dict[str, Any]:
    """The next server event that is not an optional one."""
    async with asyncio.timeout(TURN_TIMEOUT):
        while True:
            event = await rt.next_event()
            if event["type"] not in OPTIONAL_EVENTS:
                return event


def essential(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events without the optional ones."""
    return [e for e in events if e["type"] not in OPTIONAL_EVENTS]


async def expect_nothing(rt: RealtimeTestClient, within: float) -> None:
    """Nothing but optional events arrives for ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            event = await next_event(rt)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected event {event}")


def user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def add_user_text(rt: RealtimeTestClient, text: str, **extra: Any) -> dict[str, Any]:
    """Create a user text message; return its ``conversation.item.done``."""
    await rt.send({"type": "conversation.item.create", "item": user_message(text), **extra})
    added = await next_event(rt)
    assert added["type"] == "conversation.item.added", added
    done = await next_event(rt)
    assert done["type"] == "conversation.item.done", done
    assert done["item"]["id"] == added["item"]["id"]
    return done


async def respond(rt: RealtimeTestClient, **response: Any) -> list[dict[str, Any]]:
    """``response.create`` and every event up to its ``response.done``."""
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    await rt.send(event)
    return essential(await rt.collect_until("response.done", TURN_TIMEOUT))


async def expect_error(rt: RealtimeTestClient) -> dict[str, Any]:
    """The next event must be an ``error``; return its ``error`` object."""
    event = await next_event(rt)
    assert event["type"] == "error", event
    return event["error"]


def reply_text(events: list[dict[str, Any]]) -> str:
    """The text or transcript of the (single) assistant message in a response."""
    for event in events:
        if event["type"] == "response.output_text.done":
            return event["text"]
        if event["type"] == "response.output_audio_transcript.done":
            return event["transcript"]
    raise AssertionError(f"no text in {types_of(events)}")


def squashed(events: list[dict[str, Any]]) -> list[str]:
    """Event types with runs of the same type collapsed and ``rate_limits.updated`` dropped."""
    result: list[str] = []
    for kind in types_of(events):
        if kind != "rate_limits.updated" and (not result or result[-1] != kind):
            result.append(kind)
    return result


async def assert_turn_works(rt: RealtimeTestClient, text: str = "still here") -> None:
    """A normal text turn completes: the session survived whatever came before."""
    await add_user_text(rt, text)
    events = await respond(rt, output_modalities=["text"])
    done = events[-1]["response"]
    assert done["status"] == "completed", done
    assert reply_text(events) == f"You said: {text}"


async def append(rt: RealtimeTestClient, audio: bytes, chunk_ms: int = 100, kind: str = "") -> None:
    """Append audio in chunks of ``chunk_ms``."""
    await rt.append_audio(audio, chunk_bytes=chunk_ms * BYTES_PER_MS[kind or "audio/pcm"])


async def commit(rt: RealtimeTestClient) -> list[dict[str, Any]]:
    """``input_audio_buffer.commit``: committed, item added, item done (same item id)."""
    await rt.send({"type": "input_audio_buffer.commit"})
    events = essential(await rt.collect_until("conversation.item.done"))
    assert types_of(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    committed, added, done = events
    assert committed["item_id"] == added["item"]["id"] == done["item"]["id"]
    assert committed["previous_item_id"] == added["previous_item_id"]
    assert added["item"]["role"] == "user"
    assert added["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    return events


# ------------------------------------------------------------------------------------------------
# Session basics
# ------------------------------------------------------------------------------------------------


async def test_session_created_shape(rt: RealtimeTestClient) -> None:
    session = rt.session
    assert session["type"] == "realtime"
    assert session["object"] == "realtime.session"
    assert session["id"].startswith("sess_")
    assert abs(session["expires_at"] - (time.time() + 3600)) < 120
    assert session["model"] == "gpt-realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    detection = session["audio"]["input"]["turn_detection"]
    assert detection["type"] == "server_vad"
    assert detection["create_response"] is True


async def test_session_update_rules(rt: RealtimeTestClient) -> None:
    updated = await rt.update_session(instructions="Be brief.", audio={"output": {"voice": "ash"}})
    session = updated["session"]
    assert session["instructions"] == "Be brief."
    assert session["audio"]["output"]["voice"] == "ash"
    # Full effective session: untouched fields keep their values.
    assert session["audio"]["output"]["format"] == rt.session["audio"]["output"]["format"]
    assert session["audio"]["input"] == rt.session["audio"]["input"]
    assert session["id"] == rt.session["id"]

    # An invalid update is rejected whole.
    await rt.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": "changed",
                "audio": {"output": {"speed": 3.0}},
            },
        }
    )
    error = await expect_error(rt)
    assert error["code"] == "decimal_above_max_value"
    assert error["param"] == "session.audio.output.speed"
    # The session type cannot change.
    await rt.send({"type": "session.update", "session": {"type": "transcription"}})
    error = await expect_error(rt)
    assert error["param"] == "session.type"

    # Nothing of the rejected updates was applied.
    unchanged = (await rt.update_session())["session"]
    assert unchanged == session

    session = (await rt.update_session(instructions="", audio=MANUAL_TURNS))["session"]
    assert session["instructions"] == ""
    assert session["audio"]["output"]["voice"] == "ash"
    assert session["audio"]["output"]["speed"] == 1.0
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["type"] == "realtime"


# ------------------------------------------------------------------------------------------------
# Turns
# ------------------------------------------------------------------------------------------------


async def test_text_turn(rt: RealtimeTestClient) -> None:
    updated = await rt.update_session(**TEXT_ONLY)
    assert updated["session"]["output_modalities"] == ["text"]
    user = await add_user_text(rt, "hello world")
    events = await respond(rt)
    assert squashed(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    created = events[0]["response"]
    assert created["status"] == "in_progress"
    assert created["output"] == []
    assert created["conversation_id"] is not None
    by_type = {e["type"]: e for e in events}
    item = by_type["response.output_item.added"]["item"]
    assert item["role"] == "assistant"
    assert by_type["conversation.item.added"]["previous_item_id"] == user["item"]["id"]
    assert by_type["response.content_part.added"]["part"] == {"type": "text", "text": ""}
    assert reply_text(events) == "You said: hello world"
    done = events[-1]["response"]
    assert done["id"] == created["id"]
    assert done["status"] == "completed"
    assert done["output"][0]["id"] == item["id"]
    assert done["output"][0]["content"] == [
        {"type": "output_text", "text": "You said: hello world"}
    ]
    assert done["usage"] is not None
    assert not audio_of(events)


async def test_audio_turn(rt: RealtimeTestClient) -> None:
    await add_user_text(rt, "hi there")
    events = await respond(rt)
    kinds = squashed(events)
    assert kinds[:4] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert kinds[-6:] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    assert set(kinds[4:-6]) == {
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
    }
    transcript = reply_text(events)
    assert transcript == "You said: hi there"
    audio = audio_of(events)
    assert duration_ms(audio) == 20 * len(transcript)
    assert len(audio) == mock_reply_bytes(transcript)
    done = events[-1]["response"]
    assert done["status"] == "completed"
    item = done["output"][0]
    assert item["content"] == [{"type": "output_audio", "transcript": transcript}]
    # The stored item holds exactly the streamed audio.
    await rt.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
    retrieved = await rt.wait_for("conversation.item.retrieved")
    assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == audio


async def test_manual_audio_commit(rt: RealtimeTestClient) -> None:
    updated = await rt.update_session(audio=MANUAL_TURNS)
    assert updated["session"]["audio"]["input"]["turn_detection"] is None
    await append(rt, tone(1000))
    committed, _added, _done = await commit(rt)
    assert committed["previous_item_id"] is None
    # A commit never starts a response by itself.
    await expect_nothing(rt, 0.2)
    events = await respond(rt, output_modalities=["text"])
    assert reply_text(events) == "You said: audio of 1000 ms"


async def test_input_transcription_events(rt: RealtimeTestClient) -> None:
    await rt.update_session(
        audio={"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}
    )
    await append(rt, tone(600))
    item_id = (await commit(rt))[0]["item_id"]
    completed = await rt.wait_for("conversation.item.input_audio_transcription.completed")
    assert completed["item_id"] == item_id
    assert completed["content_index"] == 0
    assert completed["transcript"] == "audio of 600 ms"
    await rt.send({"type": "conversation.item.retrieve", "item_id": item_id})
    retrieved = (await rt.wait_for("conversation.item.retrieved"))["item"]
    assert retrieved["content"][0]["transcript"] == "audio of 600 ms"
    assert (
        len(base64.b64decode(retrieved["content"][0]["audio"])) == 600 * BYTES_PER_MS["audio/pcm"]
    )


async def test_audio_item_create_is_transcribed_for_the_model(rt: RealtimeTestClient) -> None:
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": b64(tone(400))}],
    }
    await rt.send({"type": "conversation.item.create", "item": item})
    added = await next_event(rt)
    assert added["type"] == "conversation.item.added"
    assert "audio" not in added["item"]["content"][0]
    assert (await next_event(rt))["type"] == "conversation.item.done"
    events = await respond(rt, output_modalities=["text"])
    assert reply_text(events) == "You said: audio of 400 ms"


async def test_commit_under_100_ms(rt: RealtimeTestClient) -> None:
    await rt.update_session(audio=MANUAL_TURNS)
    await rt.send({"type": "input_audio_buffer.commit", "event_id": "evt_empty"})
    error = await expect_error(rt)
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["message"] == COMMIT_EMPTY.format(ms=0)
    assert error["event_id"] == "evt_empty"

    await append(rt, tone(50))
    await rt.send({"type": "input_audio_buffer.commit"})
    error = await expect_error(rt)
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["message"] == COMMIT_EMPTY.format(ms=50)

    await rt.send({"type": "input_audio_buffer.clear"})
    assert (await next_event(rt))["type"] == "input_audio_buffer.cleared"
    await append(rt, tone(100))
    await commit(rt)
    await assert_turn_works(rt)


@pytest.mark.parametrize("kind", ["audio/pcmu", "audio/pcma"])
async def test_g711_in_and_out(rt: RealtimeTestClient, kind: str) -> None:
    fmt = session_format(kind)
    updated = await rt.update_session(
        audio={"input": {"format": fmt, "turn_detection": None}, "output": {"format": fmt}}
    )
    assert updated["session"]["audio"]["input"]["format"] == fmt
    assert updated["session"]["audio"]["output"]["format"] == fmt
    await append(rt, tone(700, kind), kind=kind)
    await commit(rt)
    events = await respond(rt)
    transcript = reply_text(events)
    assert transcript == "You said: audio of 700 ms"
    audio = audio_of(events)
    assert len(audio) == mock_reply_bytes(transcript, kind) == 160 * len(transcript)
    assert events[-1]["response"]["audio"]["output"]["format"]["type"] == kind


# ------------------------------------------------------------------------------------------------
# Responses: cancel, one active response, out-of-band
# ------------------------------------------------------------------------------------------------


async def test_cancel(slow_server: ServerProcess) -> None:
    async with open_client(slow_server.base_url) as rt:
        words = "one two three four five six seven eight nine ten eleven twelve"
        await add_user_text(rt, words)
        await rt.send({"type": "response.create"})
        created = await rt.wait_for("response.created")
        response_id = created["response"]["id"]
        await rt.wait_for("response.output_audio_transcript.delta")
        await rt.send({"type": "response.cancel", "event_id": "evt_cancel"})
        events = await rt.collect_until("response.done")
        done = events[-1]["response"]
        assert done["id"] == response_id
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert done["output"], "the open message must be in the output"
        assert all(item["status"] == "incomplete" for item in done["output"])
        # Deltas already in flight may precede them; then every open part and item is closed.
        assert squashed(events)[-6:] == [
            "response.output_audio.done",
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "conversation.item.done",
            "response.output_item.done",
            "response.done",
        ]
        item_done = next(e for e in events if e["type"] == "response.output_item.done")
        assert item_done["item"]["status"] == "incomplete"
        conv_done = next(e for e in events if e["type"] == "conversation.item.done")
        assert conv_done["item"]["status"] == "incomplete"
        transcript = done["output"][0]["content"][0]["transcript"]
        assert f"You said: {words}".startswith(transcript)
        assert transcript != f"You said: {words}"

        # Nothing more arrives for the cancelled response, and the session goes on.
        await add_user_text(rt, "ok")
        follow_up = await respond(rt, output_modalities=["text"])
        assert all(
            e.get("response_id") in (None, follow_up[0]["response"]["id"]) for e in follow_up
        )
        assert reply_text(follow_up) == "You said: ok"


async def test_response_right_after_cancel_gets_no_stale_audio(slow_server: ServerProcess) -> None:
    async with open_client(slow_server.base_url) as rt:
        await add_user_text(rt, "one two three four five six seven eight")
        await rt.send({"type": "response.create"})
        first = (await rt.wait_for("response.created"))["response"]["id"]
        await rt.wait_for("response.output_audio.delta")
        # Cancel and ask again back to back, without waiting for the cancellation to land.
        await rt.send({"type": "response.cancel"})
        await rt.send({"type": "response.create"})
        cancelled = await rt.collect_until("response.done")
        assert cancelled[-1]["response"]["id"] == first
        assert cancelled[-1]["response"]["status"] == "cancelled"
        events = essential(await rt.collect_until("response.done", TURN_TIMEOUT))
        second = events[-1]["response"]
        assert second["id"] != first
        assert second["status"] == "completed"
        assert all(e.get("response_id") in (None, second["id"]) for e in events)
        transcript = reply_text(events)
        assert transcript == "You said: one two three four five six seven eight"
        assert len(audio_of(events)) == mock_reply_bytes(transcript)


async def test_cancel_with_nothing_active(rt: RealtimeTestClient) -> None:
    await rt.send({"type": "response.cancel", "event_id": "evt_c1"})
    error = await expect_error(rt)
    assert error["code"] == "response_cancel_not_active"
    assert error["message"] == "Cancellation failed: no active response found"
    assert error["event_id"] == "evt_c1"
    await assert_turn_works(rt)
    await rt.send({"type": "response.cancel"})
    assert (await expect_error(rt))["code"] == "response_cancel_not_active"


async def test_second_response_while_one_is_active(slow_server: ServerProcess) -> None:
    async with open_client(slow_server.base_url) as rt:
        await add_user_text(rt, "one two three four")
        await rt.send({"type": "response.create", "response": TEXT_ONLY})
        first = (await rt.wait_for("response.created"))["response"]["id"]
        await rt.send({"type": "response.create", "event_id": "evt_again"})
        before_error = await rt.collect_until("error")
        assert "response.created" not in types_of(before_error)
        error = before_error[-1]["error"]
        assert error["code"] == "conversation_already_has_active_response"
        assert error["event_id"] == "evt_again"
        events = await rt.collect_until("response.done")
        assert "response.created" not in types_of(events)
        done = events[-1]["response"]
        assert done["id"] == first
        assert done["status"] == "completed"
        assert done["output"][0]["content"][0]["text"] == "You said: one two three four"


async def test_out_of_band_response_while_default_is_active(slow_server: ServerProcess) -> None:
    async with open_client(slow_server.base_url) as rt:
        await rt.update_session(**TEXT_ONLY)
        await add_user_text(rt, "hello")
        await rt.send({"type": "response.create"})
        default = (await rt.wait_for("response.created"))["response"]
        assert default["conversation_id"] is not None
        await rt.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "metadata": {"topic": "classification"},
                    "input": [user_message("banana")],
                },
            }
        )
        events: list[dict[str, Any]] = []
        done: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(TURN_TIMEOUT):
            while len(done) < 2:
                event = await next_event(rt)
                events.append(event)
                if event["type"] == "response.done":
                    done[event["response"]["id"]] = event["response"]
        assert "error" not in types_of(events)
        oob_created = next(
            e["response"]
            for e in events
            if e["type"] == "response.created" and e["response"]["id"] != default["id"]
        )
        oob_id = oob_created["id"]
        assert oob_created["conversation_id"] is None
        assert oob_created["metadata"] == {"topic": "classification"}
        oob = done[oob_id]
        assert oob["status"] == "completed"
        assert oob["conversation_id"] is None
        assert oob["output"][0]["content"][0]["text"] == "You said: banana"
        assert done[default["id"]]["output"][0]["content"][0]["text"] == "You said: hello"

        oob_items = {item["id"] for item in oob["output"]}
        conversation_events = [e for e in events if e["type"].startswith("conversation.item.")]
        assert not [e for e in conversation_events if e["item"]["id"] in oob_items]
        assert len(conversation_events) == 2  # the default response's message: added + done

        # The default conversation is unchanged: the out-of-band item is not in it, and the next
        # default response still answers the conversation's own last user message.
        await rt.send({"type": "conversation.item.retrieve", "item_id": next(iter(oob_items))})
        assert (await expect_error(rt))["code"] == "item_not_found"
        follow_up = await respond(rt)
        assert reply_text(follow_up) == "You said: hello"


async def test_out_of_band_input_references(rt: RealtimeTestClient) -> None:
    await rt.update_session(**TEXT_ONLY)
    first = (await add_user_text(rt, "first"))["item"]["id"]
    await add_user_text(rt, "second")

    events = await respond(rt, conversation="none", input=[{"type": "item_reference", "id": first}])
    assert not [e for e in events if e["type"].startswith("conversation.")]
    assert events[0]["response"]["conversation_id"] is None
    assert reply_text(events) == "You said: first"

    events = await respond(rt, conversation="none", input=[])
    text = reply_text(events)
    assert "first" not in text
    assert "second" not in text

    events = await respond(rt)
    assert reply_text(events) == "You said: second"


async def test_function_call_round_trip(rt: RealtimeTestClient) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    }
    await rt.update_session(tools=[tool], **TEXT_ONLY)
    await add_user_text(rt, "please get_weather now")
    events = await respond(rt)
    done = events[-1]["response"]
    assert done["status"] == "completed"
    calls = [item for item in done["output"] if item["type"] == "function_call"]
    assert len(calls) == 1, done["output"]
    call = calls[0]
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"text": "please get_weather now"}
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert (args_done["call_id"], args_done["name"], args_done["arguments"]) == (
        call["call_id"],
        "get_weather",
        call["arguments"],
    )
    assert args_done["item_id"] == call["id"]
    # No response starts by itself after a function call.
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
    await rt.send({"type": "conversation.item.create", "item": output})
    added = await next_event(rt)
    assert added["type"] == "conversation.item.added"
    assert added["previous_item_id"] == call["id"]
    assert (await next_event(rt))["type"] == "conversation.item.done"
    assert reply_text(await respond(rt)) == "Tool result: sunny"


async def test_max_output_tokens_ends_the_response_incomplete(rt: RealtimeTestClient) -> None:
    await add_user_text(rt, "one two three four five six")
    events = await respond(rt, max_output_tokens=2)
    done = events[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"]["reason"] == "max_output_tokens"
    assert done["output"][0]["status"] == "incomplete"
    assert len(audio_of(events)) <= mock_reply_bytes(reply_text(events))
    # The next (unlimited) response is whole, with exactly its own audio.
    events = await respond(rt)
    assert events[-1]["response"]["status"] == "completed"
    transcript = reply_text(events)
    assert transcript == "You said: one two three four five six"
    assert len(audio_of(events)) == mock_reply_bytes(transcript)


# ------------------------------------------------------------------------------------------------
# Conversation items
# ------------------------------------------------------------------------------------------------


async def test_item_create_retrieve_delete(rt: RealtimeTestClient) -> None:
    await rt.update_session(**TEXT_ONLY)
    a = (await add_user_text(rt, "alpha"))["item"]["id"]
    b = (await add_user_text(rt, "beta"))["item"]["id"]
    c_done = await add_user_text(rt, "gamma", previous_item_id=a)
    assert c_done["previous_item_id"] == a
    root_done = await add_user_text(rt, "zeta", previous_item_id="root")
    assert root_done["previous_item_id"] is None

    await rt.send({"type": "conversation.item.retrieve", "item_id": a, "event_id": "evt_r"})
    retrieved = await next_event(rt)
    assert retrieved["type"] == "conversation.item.retrieved"
    assert retrieved["item"]["id"] == a
    assert retrieved["item"]["content"] == [{"type": "input_text", "text": "alpha"}]

    # Order is zeta, alpha, gamma, beta: the last user message is beta.
    assert reply_text(await respond(rt)) == "You said: beta"

    await rt.send({"type": "conversation.item.delete", "item_id": b})
    deleted = await next_event(rt)
    assert deleted["type"] == "conversation.item.deleted"
    assert deleted["item_id"] == b
    # Order is zeta, alpha, gamma, (reply): the last user message is gamma.
    assert reply_text(await respond(rt)) == "You said: gamma"

    for event in (
        {"type": "conversation.item.retrieve", "item_id": b},
        {"type": "conversation.item.delete", "item_id": b},
        {"type": "conversation.item.retrieve", "item_id": "item_does_not_exist"},
        {
            "type": "conversation.item.truncate",
            "item_id": "item_does_not_exist",
            "content_index": 0,
            "audio_end_ms": 0,
        },
        {
            "type": "conversation.item.create",
            "previous_item_id": "item_does_not_exist",
            "item": user_message("lost"),
        },
    ):
        await rt.send({**event, "event_id": "evt_unknown"})
        error = await expect_error(rt)
        assert error["code"] == "item_not_found", (event, error)
        assert error["event_id"] == "evt_unknown"
    await assert_turn_works(rt)


async def test_truncate(rt: RealtimeTestClient) -> None:
    user = await add_user_text(rt, "hi")
    events = await respond(rt)
    transcript = reply_text(events)
    assert transcript == "You said: hi"
    item_id = events[-1]["response"]["output"][0]["id"]
    full_ms = 20 * len(transcript)

    await rt.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": full_ms + 1000,
        }
    )
    error = await expect_error(rt)
    assert error["param"] == "audio_end_ms"

    await rt.send(
        {
            "type": "conversation.item.truncate",
            "item_id": user["item"]["id"],
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    error = await expect_error(rt)
    assert error["message"] == "Only model output audio messages can be truncated"

    await rt.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 100,
        }
    )
    truncated = await next_event(rt)
    assert truncated["type"] == "conversation.item.truncated"
    assert (truncated["item_id"], truncated["content_index"], truncated["audio_end_ms"]) == (
        item_id,
        0,
        100,
    )
    await rt.send({"type": "conversation.item.retrieve", "item_id": item_id})
    part = (await rt.wait_for("conversation.item.retrieved"))["item"]["content"][0]
    assert len(base64.b64decode(part["audio"])) == 100 * BYTES_PER_MS["audio/pcm"]
    assert part["transcript"] == ""

    # Assistant audio now exists: the voice is locked.
    await rt.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"output": {"voice": "verse"}}},
        }
    )
    error = await expect_error(rt)
    assert error["code"] == "cannot_update_voice"
    assert error["param"] == "session.audio.output.voice"
    await assert_turn_works(rt)


# ------------------------------------------------------------------------------------------------
# Protocol errors
# ------------------------------------------------------------------------------------------------

PROTOCOL_ERRORS: list[tuple[str, str | bytes | dict[str, Any], str, str | None]] = [
    ("invalid_json", "{not json", "invalid_json", None),
    ("binary_frame", b"\x00\x01\x02", "invalid_event", None),
    ("unknown_type", {"type": "bogus.event"}, "invalid_value", "type"),
    (
        "unknown_parameter",
        {"type": "session.update", "session": {"type": "realtime", "bogus_field": 1}},
        "unknown_parameter",
        "session.bogus_field",
    ),
    (
        "missing_required",
        {"type": "session.update", "session": {"instructions": "x"}},
        "missing_required_parameter",
        "session.type",
    ),
    (
        "invalid_type",
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": "hi"},
        },
        "invalid_type",
        "item.content",
    ),
    (
        "invalid_enum",
        {"type": "session.update", "session": {"type": "realtime", "truncation": "bogus"}},
        "invalid_value",
        "session.truncation",
    ),
    (
        "decimal_range",
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"output": {"speed": 3.0}}},
        },
        "decimal_above_max_value",
        "session.audio.output.speed",
    ),
    (
        "integer_range",
        {"type": "response.create", "response": {"max_output_tokens": 0}},
        "integer_below_min_value",
        "response.max_output_tokens",
    ),
    (
        "missing_audio",
        {"type": "input_audio_buffer.append"},
        "missing_required_parameter",
        "audio",
    ),
]


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [case[1:] for case in PROTOCOL_ERRORS],
    ids=[case[0] for case in PROTOCOL_ERRORS],
)
async def test_protocol_error_then_normal_turn(
    rt: RealtimeTestClient, frame: str | bytes | dict[str, Any], code: str, param: str | None
) -> None:
    await rt.send_raw(json.dumps(frame) if isinstance(frame, dict) else frame)
    event = await next_event(rt)
    assert event["type"] == "error", event
    error = event["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert error["param"] == param
    assert error["message"]
    assert error["event_id"] is None
    await assert_turn_works(rt)


async def test_error_event_id_echo(rt: RealtimeTestClient) -> None:
    await rt.send_raw(
        json.dumps(
            {
                "type": "session.update",
                "event_id": "evt_client_42",
                "session": {"type": "realtime", "bogus_field": True},
            }
        )
    )
    event = await next_event(rt)
    assert event["type"] == "error"
    assert event["error"]["event_id"] == "evt_client_42"
    assert event["event_id"] != "evt_client_42"
    assert event["event_id"].startswith("event_")

    await rt.send({"type": "conversation.item.delete", "item_id": "nope", "event_id": "evt_43"})
    assert (await expect_error(rt))["event_id"] == "evt_43"

    await rt.send_raw(json.dumps({"type": "no.such.event", "event_id": "evt_44"}))
    assert (await expect_error(rt))["event_id"] == "evt_44"
    await assert_turn_works(rt)


# ------------------------------------------------------------------------------------------------
# Load and HTTP
# ------------------------------------------------------------------------------------------------


async def _one_session_turn(base_url: str, index: int) -> None:
    async with open_client(base_url) as rt:
        text = f"hello number {index}"
        await add_user_text(rt, text)
        events = await respond(rt, output_modalities=["text"])
        assert reply_text(events) == f"You said: {text}"
        assert not audio_of(events)
        events = await respond(rt)
        transcript = reply_text(events)
        assert transcript == f"You said: {text}"
        assert len(audio_of(events)) == mock_reply_bytes(transcript)
        assert events[-1]["response"]["status"] == "completed"


async def test_twenty_concurrent_sessions(server: ServerProcess) -> None:
    async with asyncio.timeout(30):
        await asyncio.gather(*(_one_session_turn(server.base_url, i) for i in range(20)))


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as reply:
        assert reply.status == 200
        return json.loads(reply.read())


async def test_health_and_models(server: ServerProcess) -> None:
    health = await asyncio.to_thread(_get_json, f"{server.base_url}/health")
    assert health["status"] == "healthy"
    assert isinstance(health["active_sessions"], int)
    assert health["active_sessions"] >= 0
    assert health["profile"] == "mock"
    assert health["degraded"] == []
    # Without --config: one default pipeline, from the REALTIME_* settings (model_catalog/).
    assert list(health["models"]) == ["gpt-realtime"]
    entry = health["models"]["gpt-realtime"]
    assert entry["kind"] == "pipeline"
    assert entry["ready"] is True
    assert entry["default"] is True
    assert entry["max_sessions"] is None
    assert isinstance(entry["sessions"], int)
    assert entry["models"] == {
        "stt": "mock-stt",
        "llm": "mock-llm",
        "tts": "mock-tts",
        "vad": "silero",
    }
    assert set(entry["usage"]) == {"total_tokens", "input_tokens", "output_tokens"}

    models = await asyncio.to_thread(_get_json, f"{server.base_url}/v1/models")
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["gpt-realtime"]
    for model in models["data"]:
        assert model["object"] == "model"
        assert isinstance(model["created"], int)
        assert model["owned_by"] == "realtime-server"
    # The SDK parses it too.
    async with asyncio.timeout(10):
        listed = [m.id async for m in sdk_client(server.base_url).models.list()]
    assert listed == ["gpt-realtime"]

    # An open session is counted.
    async with open_client(server.base_url):
        health = await asyncio.to_thread(_get_json, f"{server.base_url}/health")
        assert health["active_sessions"] >= 1
        assert health["models"]["gpt-realtime"]["sessions"] >= 1
