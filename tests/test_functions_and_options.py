"""Function calling, per-response options, usage and the voice lock, over the official SDK."""

from __future__ import annotations

import json
from typing import Any

from tests.realtime_client import RealtimeTestClient, audio_of, types_of

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": []},
}
TIME_TOOL = {**WEATHER_TOOL, "name": "get_time", "description": "The time."}


def user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


async def respond(client: RealtimeTestClient, **response: Any) -> list[dict[str, Any]]:
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    await client.send(event)
    return await client.collect_until("response.done")


async def say(client: RealtimeTestClient, text: str, **response: Any) -> list[dict[str, Any]]:
    await client.send(user_text(text))
    await client.wait_for("conversation.item.done")
    return await respond(client, **response)


async def test_tool_call_round_trip(rt: RealtimeTestClient) -> None:
    await rt.update_session(tools=[WEATHER_TOOL], output_modalities=["text"])
    events = await say(rt, "what does get_weather say for Paris")
    done = events[-1]["response"]
    assert done["status"] == "completed"
    (call,) = done["output"]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert call["call_id"].startswith("call_")
    assert json.loads(call["arguments"]) == {"text": "what does get_weather say for Paris"}
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    deltas = "".join(
        e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
    )
    assert args_done["call_id"] == call["call_id"] and args_done["name"] == "get_weather"
    assert deltas == args_done["arguments"] == call["arguments"]
    # No response starts by itself: the client runs the tool and asks for the next response.
    await rt.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
        }
    )
    added = await rt.wait_for("conversation.item.added")
    assert added["previous_item_id"] == call["id"]
    events = await respond(rt)
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Tool result: sunny"


async def test_tool_choice_none_suppresses_the_call(rt: RealtimeTestClient) -> None:
    await rt.update_session(tools=[WEATHER_TOOL], tool_choice="none", output_modalities=["text"])
    events = await say(rt, "get_weather please")
    (message,) = events[-1]["response"]["output"]
    assert message["type"] == "message"
    assert message["content"][0]["text"] == "You said: get_weather please"


async def test_tool_choice_required_and_named(rt: RealtimeTestClient) -> None:
    await rt.update_session(tools=[WEATHER_TOOL, TIME_TOOL], output_modalities=["text"])
    required = await say(rt, "hello", tool_choice="required")
    assert required[-1]["response"]["output"][0]["name"] == "get_weather"
    named = await respond(rt, tool_choice={"type": "function", "name": "get_time"})
    assert named[-1]["response"]["output"][0]["name"] == "get_time"


async def test_response_tools_override_session_tools(rt: RealtimeTestClient) -> None:
    await rt.update_session(output_modalities=["text"])
    events = await say(rt, "use get_time now", tools=[TIME_TOOL])
    assert events[-1]["response"]["output"][0]["name"] == "get_time"


async def test_unknown_call_id_is_an_error(rt: RealtimeTestClient) -> None:
    await rt.send(
        {
            "type": "conversation.item.create",
            "event_id": "evt_1",
            "item": {"type": "function_call_output", "call_id": "call_nope", "output": "x"},
        }
    )
    error = await rt.wait_for("error")
    assert error["error"]["param"] == "item.call_id"
    assert error["error"]["event_id"] == "evt_1"


async def test_per_response_options(rt: RealtimeTestClient) -> None:
    events = await say(
        rt,
        "hi",
        output_modalities=["text"],
        metadata={"topic": "greeting"},
        instructions="Be brief.",
    )
    done = events[-1]["response"]
    assert done["output_modalities"] == ["text"]
    assert done["metadata"] == {"topic": "greeting"}
    assert "response.output_text.delta" in types_of(events)
    events = await respond(
        rt, audio={"output": {"format": {"type": "audio/pcmu"}, "voice": "verse"}}
    )
    done = events[-1]["response"]
    transcript = done["output"][0]["content"][0]["transcript"]
    assert done["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "verse"}
    assert len(audio_of(events)) == 160 * len(transcript)  # 20 ms per character at 8 kHz G.711


async def test_max_output_tokens_ends_incomplete(rt: RealtimeTestClient) -> None:
    events = await say(rt, "one two three four five six", max_output_tokens=2)
    done = events[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["output"][0]["content"][0]["transcript"] == "You said:"
    assert done["output"][0]["status"] == "incomplete"


async def test_out_of_band_response_with_input_and_references(rt: RealtimeTestClient) -> None:
    await rt.send(user_text("kept in the conversation"))
    kept = await rt.wait_for("conversation.item.done")
    events = await respond(
        rt,
        conversation="none",
        output_modalities=["text"],
        input=[
            {"type": "item_reference", "id": kept["item"]["id"]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "oob"}]},
        ],
    )
    assert not any(e["type"].startswith("conversation.item") for e in events)
    done = events[-1]["response"]
    assert done["conversation_id"] is None
    assert done["output"][0]["content"][0]["text"] == "You said: oob"
    await rt.send({"type": "conversation.item.retrieve", "item_id": done["output"][0]["id"]})
    assert (await rt.wait_for("error"))["error"]["code"] == "item_not_found"


async def test_usage_is_present_and_consistent(rt: RealtimeTestClient) -> None:
    events = await say(rt, "count my tokens please")
    usage = events[-1]["response"]["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    details = usage["output_token_details"]
    assert details["text_tokens"] + details["audio_tokens"] == usage["output_tokens"]
    assert details["audio_tokens"] > 0
    limits = await rt.wait_for("rate_limits.updated")
    names = {limit["name"]: limit for limit in limits["rate_limits"]}
    assert names["tokens"]["remaining"] == names["tokens"]["limit"] - usage["total_tokens"]
    assert names["requests"]["remaining"] == names["requests"]["limit"] - 1


async def test_voice_is_locked_after_assistant_audio(rt: RealtimeTestClient) -> None:
    updated = await rt.update_session(audio={"output": {"voice": "marin"}})
    assert updated["session"]["audio"]["output"]["voice"] == "marin"
    await say(rt, "speak")
    await rt.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}},
        }
    )
    error = await rt.wait_for("error")
    assert error["error"]["code"] == "cannot_update_voice"
    assert error["error"]["param"] == "session.audio.output.voice"
    same = await rt.update_session(audio={"output": {"voice": "marin"}}, instructions="Still fine.")
    assert same["session"]["instructions"] == "Still fine."
