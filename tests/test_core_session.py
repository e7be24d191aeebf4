"""Unit tests of the sans-I/O core: ``RealtimeSession`` driven directly, no sockets, no models.

The pipeline is simulated by calling the session's ``on_*`` signals by hand. Every server event the
core emits is validated against the SDK's strict union and run through the same cross-event
invariant checker the socket tests use (docs/protocol.md §6).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from protocol import ProtocolError
from protocol.validation import parse_client_event
from realtime_session import (
    CancelResponse,
    ConfigureInput,
    FeedAudio,
    RealtimeSession,
    SessionLimits,
    StartResponse,
    TranscribeAudio,
)
from realtime_session.signals import (
    ResponseAudio,
    ResponseDone,
    ResponseFailed,
    ResponseFunctionCall,
    ResponseText,
    SpeechStarted,
    SpeechStopped,
    TranscriptCompleted,
    TranscriptFailed,
)
from tests.helpers_audio import b64, tone
from tests.realtime_client import InvariantChecker, validate_server_event

PCM_BYTES_PER_MS = 48

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def handle_raw(session: RealtimeSession, raw: str) -> list[Any]:
    """Validate a frame and apply it, the way the connection's driver does."""
    try:
        event = parse_client_event(raw)
    except ProtocolError as error:
        return [error.to_event()]
    return session.handle(event)


class Core:
    """A ``RealtimeSession`` plus helpers that validate everything it emits."""

    def __init__(
        self, limits: SessionLimits | None = None, transport: str = "websocket", **session: Any
    ) -> None:
        self.session = RealtimeSession(limits=limits, transport=transport)
        self.checker = InvariantChecker()
        self.events: list[dict[str, Any]] = []
        self.started: dict[str, StartResponse] = {}
        opened = self._take(self.session.start())
        assert [o["type"] for o in opened if isinstance(o, dict)] == ["session.created"]
        audio = session.pop("audio", {})
        audio_input = {"turn_detection": None, **audio.get("input", {})}
        self.update(audio={**audio, "input": audio_input}, **session)

    # --- plumbing ------------------------------------------------------------------------------

    def _take(self, outputs: list[Any]) -> list[Any]:
        for output in outputs:
            if isinstance(output, dict):
                validate_server_event(output)
                self.checker.check(output)
                self.events.append(output)
            elif isinstance(output, StartResponse):
                self.started[output.response_id] = output
        return outputs

    def outputs(self, kind: str, **fields: Any) -> list[Any]:
        """Send one client event; return everything the core produced (events and commands)."""
        return self._take(handle_raw(self.session, json.dumps({"type": kind, **fields})))

    def request(self, response_id: str) -> Any:
        """The LLM request a response was started with (``None`` if it has not started)."""
        start = self.started.get(response_id)
        return start.request if start is not None else None

    def send(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        """Send one client event; return only the server events."""
        return events(self.outputs(kind, **fields))

    def error(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a client event that must fail; return the ``error`` object of the only event."""
        produced = self.outputs(kind, **fields)
        assert types(produced) == ["error"], produced
        assert not commands(produced)
        return produced[0]["error"]

    def signal(self, outputs: list[Any]) -> list[dict[str, Any]]:
        """Pass what an ``on_*`` pipeline signal returned through validation; events only."""
        return events(self._take(outputs))

    # --- shortcuts ------------------------------------------------------------------------------

    def update(self, **session: Any) -> dict[str, Any]:
        session.setdefault("type", "realtime")
        produced = self.send("session.update", session=session)
        assert types(produced) == ["session.updated"], produced
        return produced[0]["session"]

    def user_text(self, text: str, **extra: Any) -> str:
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        produced = self.send("conversation.item.create", item=item, **extra)
        assert types(produced) == ["conversation.item.added", "conversation.item.done"], produced
        return produced[0]["item"]["id"]

    def create_response(self, **params: Any) -> str:
        fields = {"response": params} if params else {}
        produced = self.outputs("response.create", **fields)
        assert types(produced) == ["response.created"], produced
        (start,) = commands(produced, StartResponse)
        assert start.response_id == produced[0]["response"]["id"]
        return start.response_id

    def text(self, response_id: str, delta: str) -> list[dict[str, Any]]:
        return self.signal(self.session.receive(ResponseText(response_id, delta)))

    def audio(self, response_id: str, audio: bytes) -> list[dict[str, Any]]:
        return self.signal(self.session.receive(ResponseAudio(response_id, audio)))

    def done(self, response_id: str) -> list[dict[str, Any]]:
        return self.signal(self.session.receive(ResponseDone(response_id)))

    def reply(self, text: str, *, audio: bool = False, **params: Any) -> list[dict[str, Any]]:
        """A whole response: ``response.create``, one text (+ audio) delta per word, done."""
        response_id = self.create_response(**params)
        produced: list[dict[str, Any]] = []
        for index, word in enumerate(text.split(" ")):
            delta = word if index == 0 else " " + word
            produced += self.text(response_id, delta)
            if audio:
                produced += self.audio(response_id, tone(20 * len(delta)))
        return produced + self.done(response_id)

    def retrieve(self, item_id: str) -> dict[str, Any]:
        produced = self.send("conversation.item.retrieve", item_id=item_id)
        assert types(produced) == ["conversation.item.retrieved"], produced
        return produced[0]["item"]

    def messages(self, **params: Any) -> list[dict[str, Any]]:
        """The LLM messages a new response would get (the response is then finished)."""
        response_id = self.create_response(**params)
        request = self.request(response_id)
        assert request is not None
        self.done(response_id)
        return request.messages

    def receive(self, signal: Any) -> list[dict[str, Any]]:
        """Apply a pipeline signal; return the server events it produced."""
        return self.signal(self.session.receive(signal))

    def transcribed(self, item_id: str, transcript: str) -> list[Any]:
        """Report an item's transcript; return everything the core produced."""
        return self._take(self.session.receive(TranscriptCompleted(item_id, transcript)))

    def item_ids(self) -> list[str]:
        return [record.id for record in self.session.conversation.records()]


# ``rate_limits.updated`` is optional and its position is not fixed (docs/protocol.md §6): it is
# validated with everything else but left out of the sequences the tests compare.
OPTIONAL_EVENTS = {"rate_limits.updated"}


def events(outputs: list[Any]) -> list[dict[str, Any]]:
    return [o for o in outputs if isinstance(o, dict) and o["type"] not in OPTIONAL_EVENTS]


def commands(outputs: list[Any], kind: type | None = None) -> list[Any]:
    found = [o for o in outputs if not isinstance(o, dict)]
    return [c for c in found if kind is None or isinstance(c, kind)]


def types(outputs: list[Any]) -> list[str]:
    return [o["type"] for o in events(outputs)]


def non_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["role"] != "system"]


# ------------------------------------------------------------------------------------------------
# Response event sequences (docs/protocol.md §6)
# ------------------------------------------------------------------------------------------------


def test_text_response_exact_sequence() -> None:
    core = Core(output_modalities=["text"])
    user_id = core.user_text("hello")
    response_id = core.create_response()
    created = core.events[-1]["response"]
    assert created["status"] == "in_progress"
    assert created["output"] == []
    assert created["usage"] is None
    assert created["object"] == "realtime.response"
    assert created["conversation_id"] == core.session.conversation.id

    produced = core.text(response_id, "You said:") + core.text(response_id, " hello")
    produced += core.done(response_id)
    assert types(produced) == [
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    added, conv_added, part_added = produced[0], produced[1], produced[2]
    item_id = added["item"]["id"]
    assert added["response_id"] == response_id
    assert added["output_index"] == 0
    assert added["item"]["role"] == "assistant"
    assert added["item"]["status"] == "in_progress"
    assert added["item"]["content"] == []
    assert conv_added["previous_item_id"] == user_id
    assert conv_added["item"] == added["item"]
    assert part_added["part"] == {"type": "text", "text": ""}
    for event in produced[2:7]:
        assert (event["response_id"], event["item_id"], event["content_index"]) == (
            response_id,
            item_id,
            0,
        )
        assert event["output_index"] == 0
    assert produced[5]["text"] == "You said: hello"
    assert produced[6]["part"] == {"type": "text", "text": "You said: hello"}
    final_item = produced[8]["item"]
    assert final_item["status"] == "completed"
    assert final_item["content"] == [{"type": "output_text", "text": "You said: hello"}]
    assert produced[7]["item"] == final_item
    done = produced[9]["response"]
    assert done["id"] == response_id
    assert done["status"] == "completed"
    assert done["output"] == [final_item]
    assert done["usage"]["total_tokens"] > 0
    assert core.session.active_response_ids == []


def test_audio_response_exact_sequence() -> None:
    core = Core()
    core.user_text("hi")
    response_id = core.create_response()
    produced = core.text(response_id, "Hi")
    produced += core.audio(response_id, tone(40))
    produced += core.text(response_id, " there")
    produced += core.audio(response_id, tone(120))
    produced += core.done(response_id)
    assert types(produced) == [
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    assert produced[2]["part"] == {"type": "audio", "transcript": ""}
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in produced if e["type"] == "response.output_audio.delta"
    )
    assert audio == tone(40) + tone(120)
    assert produced[8]["transcript"] == "Hi there"
    assert produced[9]["part"] == {"type": "audio", "transcript": "Hi there"}
    item = produced[11]["item"]
    assert item["status"] == "completed"
    assert item["content"] == [{"type": "output_audio", "transcript": "Hi there"}]
    done = produced[12]["response"]
    assert done["status"] == "completed"
    assert done["output"] == [item]
    assert "audio" not in json.dumps(done["output"]).replace("output_audio", "")
    assert done["usage"]["output_token_details"]["audio_tokens"] >= 1
    # The full audio is kept server-side and comes back on retrieve.
    retrieved = core.retrieve(item["id"])
    assert base64.b64decode(retrieved["content"][0]["audio"]) == audio


def test_response_create_commands_and_overrides() -> None:
    core = Core(audio={"output": {"voice": "marin", "format": {"type": "audio/pcmu"}}})
    core.user_text("hello")
    produced = core.outputs("response.create")
    (start,) = commands(produced, StartResponse)
    assert start.modalities == ("audio",)
    assert start.voice == "marin"
    assert start.output_format.kind == "audio/pcmu"
    assert start.request.messages[-1] == {"role": "user", "content": "hello"}
    core.done(start.response_id)

    produced = core.outputs(
        "response.create",
        response={
            "output_modalities": ["text"],
            "instructions": "Be terse.",
            "metadata": {"k": "v"},
        },
    )
    (start,) = commands(produced, StartResponse)
    assert start.modalities == ("text",)
    assert produced[0]["response"]["metadata"] == {"k": "v"}
    request = core.request(start.response_id)
    assert request is not None
    assert request.messages[0] == {"role": "system", "content": "Be terse."}
    core.done(start.response_id)


def test_null_response_instructions_use_the_session_instructions() -> None:
    core = Core(instructions="Talk like a pirate.")
    core.user_text("hello")
    response_id = core.create_response(instructions=None)
    request = core.request(response_id)
    assert request is not None
    assert request.messages[0] == {"role": "system", "content": "Talk like a pirate."}
    core.done(response_id)


def test_function_call_after_preamble_is_two_output_items() -> None:
    core = Core(tools=[TOOL])
    core.user_text("weather in Paris?")
    response_id = core.create_response()
    request = core.request(response_id)
    assert request is not None
    assert [t["name"] for t in request.tools] == ["get_weather"]

    produced = core.text(response_id, "Let me check.")
    produced += core.audio(response_id, tone(100))
    assert (
        core.signal(
            core.session.receive(
                ResponseFunctionCall(response_id, "get_weather", '{"city":"Paris"}', "call_1")
            )
        )
        == []
    )
    produced += core.done(response_id)
    assert types(produced) == [
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    message_id = produced[0]["item"]["id"]
    assert produced[9]["output_index"] == 0
    call_added = produced[10]
    assert call_added["output_index"] == 1
    call_item = call_added["item"]
    assert call_item["type"] == "function_call"
    assert call_item["name"] == "get_weather"
    assert call_item["call_id"] == "call_1"
    assert call_item["arguments"] == ""
    assert produced[11]["previous_item_id"] == message_id
    args_done = produced[13]
    assert args_done["call_id"] == "call_1"
    assert args_done["name"] == "get_weather"
    assert args_done["arguments"] == '{"city":"Paris"}'
    assert args_done["output_index"] == 1
    assert args_done["item_id"] == call_item["id"]
    assert produced[12]["delta"] == '{"city":"Paris"}'
    done = produced[16]["response"]
    assert [o["type"] for o in done["output"]] == ["message", "function_call"]
    assert done["output"][1]["arguments"] == '{"city":"Paris"}'
    assert done["output"][1]["status"] == "completed"

    # No response starts by itself; the client sends the output, then response.create.
    assert core.session.active_response_ids == []
    output_item = {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
    produced = core.send("conversation.item.create", item=output_item)
    assert types(produced) == ["conversation.item.added", "conversation.item.done"]
    assert produced[0]["previous_item_id"] == call_item["id"]
    messages = non_system(core.messages())
    assert messages[-2]["role"] == "assistant"
    assert messages[-2]["tool_calls"][0]["id"] == "call_1"
    assert messages[-2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


def test_function_call_without_preamble_is_output_zero() -> None:
    core = Core(output_modalities=["text"], tools=[TOOL])
    core.user_text("get_weather")
    response_id = core.create_response()
    core.receive(ResponseFunctionCall(response_id, "get_weather", "{}"))
    produced = core.done(response_id)
    assert types(produced) == [
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    assert produced[0]["output_index"] == 0
    assert produced[3]["call_id"].startswith("call_")


def test_function_call_output_needs_a_known_call_id() -> None:
    core = Core()
    error = core.error(
        "conversation.item.create",
        item={"type": "function_call_output", "call_id": "call_nope", "output": "x"},
    )
    assert error["param"] == "item.call_id"
    assert core.item_ids() == []


def test_max_output_tokens_makes_an_incomplete_response() -> None:
    core = Core(output_modalities=["text"], max_output_tokens=2)
    core.user_text("hello")
    response_id = core.create_response()
    core.text(response_id, "one")
    outputs = core.session.receive(ResponseText(response_id, " two"))
    produced = core.signal(outputs)
    assert CancelResponse(response_id) in commands(outputs)
    assert types(produced)[-1] == "response.done"
    done = produced[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"]["reason"] == "max_output_tokens"
    assert done["output"][0]["status"] == "incomplete"
    assert core.text(response_id, " three") == []
    assert core.session.active_response_ids == []


def test_failed_response_is_a_response_done_not_an_error() -> None:
    core = Core(output_modalities=["text"])
    core.user_text("hello")
    response_id = core.create_response()
    core.text(response_id, "partial")
    produced = core.signal(
        core.session.receive(ResponseFailed(response_id, "boom", code="timeout"))
    )
    assert "error" not in types(produced)
    done = produced[-1]["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["type"] == "failed"
    assert done["status_details"]["error"]["code"] == "timeout"
    assert done["output"][0]["status"] == "incomplete"


# ------------------------------------------------------------------------------------------------
# session.update
# ------------------------------------------------------------------------------------------------


def test_session_update_merges_only_the_fields_present() -> None:
    core = Core()
    before = core.session.config.to_dict()
    after = core.update(instructions="Be brief.")
    assert after["instructions"] == "Be brief."
    assert {k: v for k, v in after.items() if k != "instructions"} == {
        k: v for k, v in before.items() if k != "instructions"
    }
    after = core.update(audio={"output": {"voice": "ash"}})
    assert after["audio"]["output"]["voice"] == "ash"
    assert after["audio"]["output"]["format"] == before["audio"]["output"]["format"]
    assert after["audio"]["output"]["speed"] == before["audio"]["output"]["speed"]
    assert after["audio"]["input"] == before["audio"]["input"]
    assert after["instructions"] == "Be brief."
    # session.updated carries the FULL effective session.
    assert after == core.session.config.to_dict()
    assert after["id"] == before["id"]
    assert after["object"] == "realtime.session"


def test_session_update_clears_with_empty_and_null() -> None:
    core = Core(instructions="Talk like a pirate.", tools=[TOOL])
    assert core.messages()[0] == {"role": "system", "content": "Talk like a pirate."}

    session = core.update(instructions="")
    assert session["instructions"] == ""
    assert all(m["role"] != "system" for m in core.messages())

    assert session["tools"] == [TOOL]
    session = core.update(tools=[])
    assert session["tools"] == []
    response_id = core.create_response()
    request = core.request(response_id)
    assert request is not None
    assert request.tools == []
    core.done(response_id)

    produced = core.outputs(
        "session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
        },
    )
    assert types(produced) == ["session.updated"]
    assert produced[0]["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert [c.turn_detection["type"] for c in commands(produced, ConfigureInput)] == ["server_vad"]
    produced = core.outputs(
        "session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    assert produced[0]["session"]["audio"]["input"]["turn_detection"] is None
    assert [c.turn_detection for c in commands(produced, ConfigureInput)] == [None]

    session = core.update(
        audio={
            "input": {
                "transcription": {"model": "whisper-1"},
                "noise_reduction": {"type": "near_field"},
            }
        }
    )
    assert session["audio"]["input"]["transcription"]["model"] == "whisper-1"
    assert session["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
    session = core.update(audio={"input": {"transcription": None, "noise_reduction": None}})
    assert session["audio"]["input"]["transcription"] is None
    assert session["audio"]["input"]["noise_reduction"] is None


def test_turn_detection_merges_within_its_type() -> None:
    core = Core()
    session = core.update(
        audio={"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}}
    )
    detection = session["audio"]["input"]["turn_detection"]
    assert detection["silence_duration_ms"] == 800
    assert detection["threshold"] == 0.5
    assert detection["prefix_padding_ms"] == 300
    session = core.update(
        audio={"input": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}}
    )
    detection = session["audio"]["input"]["turn_detection"]
    assert (detection["threshold"], detection["silence_duration_ms"]) == (0.7, 800)
    session = core.update(audio={"input": {"turn_detection": {"type": "semantic_vad"}}})
    detection = session["audio"]["input"]["turn_detection"]
    assert detection["type"] == "semantic_vad"
    assert "silence_duration_ms" not in detection


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        (
            {"instructions": "changed", "audio": {"output": {"speed": 3.0}}},
            "decimal_above_max_value",
            "session.audio.output.speed",
        ),
        ({"instructions": "changed", "bogus_field": 1}, "unknown_parameter", "session.bogus_field"),
        (
            {"instructions": "changed", "output_modalities": ["video"]},
            "invalid_value",
            "session.output_modalities[0]",
        ),
        (
            {"instructions": "changed", "max_output_tokens": 0},
            "integer_below_min_value",
            "session.max_output_tokens",
        ),
        (
            {"instructions": "changed", "tools": [TOOL], "audio": {"input": {"format": "pcm"}}},
            "invalid_type",
            "session.audio.input.format",
        ),
    ],
)
def test_invalid_session_update_changes_nothing(
    session: dict[str, Any], code: str, param: str
) -> None:
    core = Core(instructions="original")
    before = core.session.config.to_dict()
    error = core.error("session.update", session={"type": "realtime", **session})
    assert (error["code"], error["param"]) == (code, param)
    assert core.session.config.to_dict() == before


def test_session_type_cannot_change() -> None:
    core = Core(instructions="original")
    before = core.session.config.to_dict()
    error = core.error("session.update", session={"type": "transcription"})
    assert error["param"] == "session.type"
    assert core.session.config.to_dict() == before
    assert core.session.config.type == "realtime"


def test_voice_is_locked_once_assistant_audio_exists() -> None:
    core = Core()
    assert core.update(audio={"output": {"voice": "ash"}})["audio"]["output"]["voice"] == "ash"
    # A text-only response makes no audio and does not lock the voice.
    core.user_text("hello")
    core.reply("You said: hello", output_modalities=["text"])
    assert core.update(audio={"output": {"voice": "coral"}})["audio"]["output"]["voice"] == "coral"

    core.reply("You said: hello", audio=True)
    before = core.session.config.to_dict()
    error = core.error(
        "session.update",
        session={
            "type": "realtime",
            "instructions": "new",
            "audio": {"output": {"voice": "verse"}},
        },
    )
    assert error["code"] == "cannot_update_voice"
    assert error["param"] == "session.audio.output.voice"
    assert core.session.config.to_dict() == before
    # Other fields (and the same voice) can still change.
    session = core.update(instructions="new", audio={"output": {"voice": "coral", "speed": 1.2}})
    assert session["instructions"] == "new"
    assert session["audio"]["output"]["speed"] == 1.2


# ------------------------------------------------------------------------------------------------
# Conversation items
# ------------------------------------------------------------------------------------------------


def test_previous_item_id_orders_the_conversation() -> None:
    core = Core()
    a = core.user_text("alpha")
    b = core.user_text("beta")
    produced = core.send(
        "conversation.item.create",
        previous_item_id=a,
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "g"}]},
    )
    c = produced[0]["item"]["id"]
    assert produced[0]["previous_item_id"] == a
    assert produced[1]["previous_item_id"] == a
    assert core.item_ids() == [a, c, b]

    produced = core.send(
        "conversation.item.create",
        previous_item_id="root",
        item={
            "id": "item_first",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "You are terse."}],
        },
    )
    assert produced[0]["item"]["id"] == "item_first"
    assert produced[0]["previous_item_id"] is None
    assert core.item_ids() == ["item_first", a, c, b]

    d = core.user_text("delta")
    assert core.events[-1]["previous_item_id"] == b
    assert core.item_ids() == ["item_first", a, c, b, d]
    messages = core.messages(instructions="")
    assert [m["content"] for m in messages] == ["You are terse.", "alpha", "g", "beta", "delta"]


def test_item_create_rejects_unknown_previous_item_and_duplicate_ids() -> None:
    core = Core()
    a = core.user_text("alpha", event_id="evt_1")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    error = core.error(
        "conversation.item.create", previous_item_id="item_nope", item=item, event_id="evt_2"
    )
    assert error["code"] == "item_not_found"
    assert error["param"] == "previous_item_id"
    assert error["event_id"] == "evt_2"
    error = core.error("conversation.item.create", item={**item, "id": a})
    assert error["code"] is not None
    assert core.item_ids() == [a]


def test_item_create_keeps_the_client_content() -> None:
    core = Core()
    item = {
        "id": "item_assistant",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Earlier answer."}],
    }
    produced = core.send("conversation.item.create", item=item)
    assert produced[1]["item"]["id"] == "item_assistant"
    assert produced[1]["item"]["status"] == "completed"
    assert produced[1]["item"]["content"] == item["content"]
    assert produced[1]["item"]["object"] == "realtime.item"
    assert core.retrieve("item_assistant")["content"] == item["content"]


def test_retrieve_returns_the_full_item_with_audio() -> None:
    core = Core()
    audio = tone(300)
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": b64(audio)}],
    }
    produced = core.outputs("conversation.item.create", item=item)
    assert types(produced) == ["conversation.item.added", "conversation.item.done"]
    item_id = produced[0]["item"]["id"]
    # Announcements never carry audio bytes.
    assert "audio" not in produced[0]["item"]["content"][0]
    (transcribe,) = commands(produced, TranscribeAudio)
    assert transcribe.item_id == item_id
    assert transcribe.audio == audio
    retrieved = core.retrieve(item_id)
    assert retrieved["id"] == item_id
    assert base64.b64decode(retrieved["content"][0]["audio"]) == audio


def test_delete_removes_the_item_and_unknown_ids_fail() -> None:
    core = Core()
    a = core.user_text("alpha")
    b = core.user_text("beta")
    produced = core.send("conversation.item.delete", item_id=a, event_id="evt_del")
    assert types(produced) == ["conversation.item.deleted"]
    assert produced[0]["item_id"] == a
    assert core.item_ids() == [b]
    for kind, fields in [
        ("conversation.item.delete", {"item_id": a}),
        ("conversation.item.retrieve", {"item_id": a}),
        ("conversation.item.retrieve", {"item_id": "item_never"}),
        (
            "conversation.item.truncate",
            {"item_id": "item_never", "content_index": 0, "audio_end_ms": 0},
        ),
    ]:
        error = core.error(kind, **fields)
        assert error["code"] == "item_not_found", (kind, error)
        assert error["param"] == "item_id"
    assert core.item_ids() == [b]


def _assistant_audio_item(core: Core, text: str, audio_ms: int) -> str:
    """A completed assistant audio reply of ``text`` with ``audio_ms`` of audio; its item id."""
    response_id = core.create_response()
    core.text(response_id, text)
    core.audio(response_id, tone(audio_ms))
    produced = core.done(response_id)
    return produced[-1]["response"]["output"][0]["id"]


def test_truncate_drops_unheard_audio_and_transcript() -> None:
    core = Core()
    core.user_text("hello")
    item_id = _assistant_audio_item(core, "one two three four five", 1000)
    produced = core.send(
        "conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=400
    )
    assert types(produced) == ["conversation.item.truncated"]
    assert produced[0]["item_id"] == item_id
    assert produced[0]["content_index"] == 0
    assert produced[0]["audio_end_ms"] == 400
    retrieved = core.retrieve(item_id)
    part = retrieved["content"][0]
    assert len(base64.b64decode(part["audio"])) == 400 * PCM_BYTES_PER_MS
    assert part["transcript"] == ""
    # The model only keeps what was heard.
    assistant = next(m for m in core.messages() if m["role"] == "assistant")
    assert assistant["content"] != "one two three four five"
    assert "one two three four five".startswith(assistant["content"])
    assert "five" not in assistant["content"]


def test_truncate_errors() -> None:
    core = Core()
    user_id = core.user_text("hello")
    item_id = _assistant_audio_item(core, "You said: hello", 300)
    before = core.retrieve(item_id)

    error = core.error(
        "conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=1000
    )
    assert error["param"] == "audio_end_ms"
    assert core.retrieve(item_id) == before

    error = core.error(
        "conversation.item.truncate", item_id=user_id, content_index=0, audio_end_ms=0
    )
    assert error["message"] == "Only model output audio messages can be truncated"

    text_reply = core.reply("A text reply.", output_modalities=["text"])
    text_item = text_reply[-1]["response"]["output"][0]["id"]
    error = core.error(
        "conversation.item.truncate", item_id=text_item, content_index=0, audio_end_ms=0
    )
    assert error["message"] == "Only model output audio messages can be truncated"

    # Truncating exactly at the end is allowed and keeps everything.
    produced = core.send(
        "conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=300
    )
    assert types(produced) == ["conversation.item.truncated"]
    assert base64.b64decode(core.retrieve(item_id)["content"][0]["audio"]) == tone(300)


# ------------------------------------------------------------------------------------------------
# Input audio buffer
# ------------------------------------------------------------------------------------------------


def commit_empty_message(ms: float) -> str:
    return (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        f"but buffer only has {ms:.2f}ms of audio."
    )


def test_commit_needs_100_ms() -> None:
    core = Core()
    error = core.error("input_audio_buffer.commit")
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["message"] == commit_empty_message(0)
    assert error["message"].endswith("but buffer only has 0.00ms of audio.")

    assert core.send("input_audio_buffer.append", audio=b64(tone(99))) == []
    error = core.error("input_audio_buffer.commit", event_id="evt_commit")
    assert error["message"] == commit_empty_message(99)
    assert error["event_id"] == "evt_commit"
    assert core.item_ids() == []

    assert core.send("input_audio_buffer.clear") == [core.events[-1]]
    assert types(core.events[-1:]) == ["input_audio_buffer.cleared"]
    core.send("input_audio_buffer.append", audio=b64(tone(100)))
    produced = core.outputs("input_audio_buffer.commit")
    assert types(produced) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]


def test_commit_creates_a_user_audio_item_and_never_a_response() -> None:
    core = Core()
    first = core.user_text("before")
    audio = tone(250)
    core.send("input_audio_buffer.append", audio=b64(audio[:4800]))
    core.send("input_audio_buffer.append", audio=b64(audio[4800:]))
    produced = core.outputs("input_audio_buffer.commit")
    committed, added, done = events(produced)
    assert committed["type"] == "input_audio_buffer.committed"
    item_id = committed["item_id"]
    assert committed["previous_item_id"] == first
    assert added["item"]["id"] == done["item"]["id"] == item_id
    assert added["previous_item_id"] == first
    assert added["item"]["role"] == "user"
    assert added["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    (transcribe,) = commands(produced, TranscribeAudio)
    assert isinstance(transcribe, TranscribeAudio)
    assert transcribe.audio == audio
    assert transcribe.audio_format.kind == "audio/pcm"
    assert core.session.conversation.get(item_id).transcription is None
    assert not commands(produced, StartResponse)
    assert core.session.active_response_ids == []
    # The buffer is empty after a commit.
    assert core.error("input_audio_buffer.commit")["message"] == commit_empty_message(0)


@pytest.mark.parametrize(("kind", "bytes_per_ms"), [("audio/pcmu", 8), ("audio/pcma", 8)])
def test_buffer_durations_use_the_session_format(kind: str, bytes_per_ms: int) -> None:
    core = Core(audio={"input": {"format": {"type": kind}}})
    core.send("input_audio_buffer.append", audio=b64(tone(50, kind)))
    assert core.session.audio_ms_total == 50
    assert core.error("input_audio_buffer.commit")["message"] == commit_empty_message(50)
    core.send("input_audio_buffer.append", audio=b64(tone(100, kind)))
    produced = core.outputs("input_audio_buffer.commit")
    (transcribe,) = commands(produced, TranscribeAudio)
    assert len(transcribe.audio) == 150 * bytes_per_ms
    assert transcribe.audio_format.kind == kind
    assert transcribe.audio_format.sample_rate == 8000
    assert core.session.audio_ms_total == 150


def test_audio_clock_keeps_growing_across_turns_and_formats() -> None:
    core = Core()
    core.send("input_audio_buffer.append", audio=b64(tone(200)))
    core.outputs("input_audio_buffer.commit")
    assert core.session.audio_ms_total == 200
    core.send("input_audio_buffer.append", audio=b64(tone(150)))
    core.send("input_audio_buffer.clear")
    assert core.session.audio_ms_total == 350
    core.update(audio={"input": {"format": {"type": "audio/pcmu"}}})
    core.send("input_audio_buffer.append", audio=b64(tone(300, "audio/pcmu")))
    assert core.session.audio_ms_total == 650
    produced = core.outputs("input_audio_buffer.commit")
    (transcribe,) = commands(produced, TranscribeAudio)
    assert len(transcribe.audio) == 300 * 8


def test_append_feeds_the_vad_only_when_turn_detection_is_on() -> None:
    core = Core()
    assert core.outputs("input_audio_buffer.append", audio=b64(tone(20))) == []
    core.update(audio={"input": {"turn_detection": {"type": "server_vad"}}})
    produced = core.outputs("input_audio_buffer.append", audio=b64(tone(20)))
    assert [type(c) for c in produced] == [FeedAudio]
    assert produced[0].audio == tone(20)


def _append_ms(core: Core, ms: int) -> None:
    for _ in range(ms // 100):
        core.outputs("input_audio_buffer.append", audio=b64(tone(100)))


def test_vad_turn_audio_times_use_the_session_clock() -> None:
    core = Core()
    core.update(
        output_modalities=["text"],
        audio={"input": {"turn_detection": {"type": "server_vad", "prefix_padding_ms": 300}}},
    )
    _append_ms(core, 1000)
    started = core.receive(SpeechStarted(core.session.state.epoch, 600))
    assert types(started) == ["input_audio_buffer.speech_started"]
    assert started[0]["audio_start_ms"] == 300  # onset minus prefix padding
    item_id = started[0]["item_id"]
    _append_ms(core, 1000)
    outputs = core.session.receive(SpeechStopped(core.session.state.epoch, 1800))
    produced = core.signal(outputs)
    assert types(produced) == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    assert produced[0]["audio_end_ms"] == 1800
    assert produced[0]["item_id"] == produced[1]["item_id"] == item_id
    assert produced[2]["item"]["id"] == item_id
    (transcribe,) = commands(outputs, TranscribeAudio)
    assert len(transcribe.audio) == (1800 - 300) * PCM_BYTES_PER_MS
    # The response starts once the transcript it depends on is in.
    assert not commands(outputs, StartResponse)
    (start,) = commands(core.transcribed(item_id, "audio of 1500 ms"), StartResponse)
    assert start.request.messages[-1] == {"role": "user", "content": "audio of 1500 ms"}
    core.done(start.response_id)

    # The clock keeps growing across turns; the start never reaches before the buffer.
    _append_ms(core, 1000)
    assert core.session.audio_ms_total == 3000
    started = core.receive(SpeechStarted(core.session.state.epoch, 1900))
    assert started[0]["audio_start_ms"] == 1800
    outputs = core.session.receive(SpeechStopped(core.session.state.epoch, 2900))
    assert core.signal(outputs)[0]["audio_end_ms"] == 2900
    (transcribe,) = commands(outputs, TranscribeAudio)
    assert len(transcribe.audio) == 1100 * PCM_BYTES_PER_MS

    # Speech during a response interrupts it (barge-in).
    (start,) = commands(core.transcribed(transcribe.item_id, "more"), StartResponse)
    core.text(start.response_id, "You said")
    produced = core.receive(SpeechStarted(core.session.state.epoch, 2950))
    assert types(produced)[0] == "input_audio_buffer.speech_started"
    done = produced[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}


def test_transcription_events_only_when_asked() -> None:
    core = Core()
    core.send("input_audio_buffer.append", audio=b64(tone(1000)))
    silent_id = core.send("input_audio_buffer.commit")[0]["item_id"]
    assert core.receive(TranscriptCompleted(silent_id, "audio of 1000 ms")) == []
    assert core.retrieve(silent_id)["content"][0]["transcript"] is None

    core.update(audio={"input": {"transcription": {"model": "whisper-1"}}})
    core.send("input_audio_buffer.append", audio=b64(tone(500)))
    produced = core.outputs("input_audio_buffer.commit")
    item_id = produced[0]["item_id"]
    assert commands(produced, TranscribeAudio)
    assert core.session.conversation.get(item_id).transcription == {"model": "whisper-1"}
    produced = core.signal(
        core.session.receive(TranscriptCompleted(item_id, "audio of 500 ms", 0.5))
    )
    assert types(produced) == ["conversation.item.input_audio_transcription.completed"]
    assert produced[0]["item_id"] == item_id
    assert produced[0]["content_index"] == 0
    assert produced[0]["transcript"] == "audio of 500 ms"
    assert core.retrieve(item_id)["content"][0]["transcript"] == "audio of 500 ms"


# ------------------------------------------------------------------------------------------------
# One active response; out-of-band responses
# ------------------------------------------------------------------------------------------------


def test_only_one_active_response_in_the_conversation() -> None:
    core = Core(output_modalities=["text"])
    core.user_text("hello")
    first = core.create_response()
    error = core.error("response.create", event_id="evt_second")
    assert error["code"] == "conversation_already_has_active_response"
    assert error["event_id"] == "evt_second"
    assert first in error["message"]
    assert core.session.active_response_ids == [first]
    core.text(first, "ok")
    core.done(first)
    second = core.create_response()
    assert second != first
    core.done(second)


def test_out_of_band_response_stays_out_of_the_conversation() -> None:
    core = Core(output_modalities=["text"])
    user_id = core.user_text("hello")
    default_id = core.create_response()
    before = core.item_ids()

    produced = core.outputs(
        "response.create",
        response={"conversation": "none", "metadata": {"purpose": "summary"}},
    )
    assert types(produced) == ["response.created"]
    created = produced[0]["response"]
    assert created["conversation_id"] is None
    assert created["metadata"] == {"purpose": "summary"}
    (start,) = commands(produced, StartResponse)
    oob_id = start.response_id
    assert sorted(core.session.active_response_ids) == sorted([default_id, oob_id])

    produced = core.text(oob_id, "Summary.") + core.done(oob_id)
    assert not [t for t in types(produced) if t.startswith("conversation.")]
    assert types(produced) == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    done = produced[-1]["response"]
    assert done["conversation_id"] is None
    oob_item = done["output"][0]["id"]
    assert core.item_ids() == before
    assert core.error("conversation.item.retrieve", item_id=oob_item)["code"] == "item_not_found"

    # The default response is unaffected and still the active one.
    assert core.session.active_response_ids == [default_id]
    produced = core.text(default_id, "You said: hello") + core.done(default_id)
    assert produced[1]["type"] == "conversation.item.added"
    assert produced[1]["previous_item_id"] == user_id


def test_out_of_band_input_sets_the_context() -> None:
    core = Core(output_modalities=["text"], instructions="")
    first = core.user_text("first")
    core.user_text("second")

    empty = core.messages(conversation="none", input=[])
    assert empty == []

    referenced = core.messages(conversation="none", input=[{"type": "item_reference", "id": first}])
    assert referenced == [{"role": "user", "content": "first"}]

    inline = core.messages(
        conversation="none",
        input=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
        ],
    )
    assert inline == [{"role": "user", "content": "x"}]
    assert len(core.item_ids()) == 2

    # Without input, an out-of-band response sees the whole conversation.
    assert [m["content"] for m in core.messages(conversation="none")] == ["first", "second"]

    error = core.error(
        "response.create",
        response={"conversation": "none", "input": [{"type": "item_reference", "id": "item_no"}]},
    )
    assert error["code"] == "item_not_found"
    assert core.session.active_response_ids == []


# ------------------------------------------------------------------------------------------------
# Cancel
# ------------------------------------------------------------------------------------------------


def test_cancel_closes_open_items_as_incomplete() -> None:
    core = Core()
    core.user_text("hello")
    response_id = core.create_response()
    core.text(response_id, "You said")
    core.audio(response_id, tone(100))
    produced = core.outputs("response.cancel")
    assert types(produced) == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    assert commands(produced, CancelResponse) == [CancelResponse(response_id)]
    assert produced[3]["item"]["status"] == "incomplete"
    assert produced[4]["item"]["status"] == "incomplete"
    done = events(produced)[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": "You said"}]
    # Late pipeline output for the cancelled response is dropped.
    assert core.text(response_id, " more") == []
    assert core.audio(response_id, tone(20)) == []
    assert core.done(response_id) == []
    # Nothing is active any more.
    error = core.error("response.cancel", event_id="evt_cancel")
    assert error["code"] == "response_cancel_not_active"
    assert error["message"] == "Cancellation failed: no active response found"
    assert error["event_id"] == "evt_cancel"
    # And a new response may start.
    core.done(core.create_response())


def test_cancel_before_any_output_and_by_id() -> None:
    core = Core(output_modalities=["text"])
    core.user_text("hello")
    response_id = core.create_response()
    error = core.error("response.cancel", response_id="resp_unknown")
    assert error["code"] == "response_cancel_not_active"
    produced = core.send("response.cancel", response_id=response_id)
    assert types(produced) == ["response.done"]
    assert produced[0]["response"]["status"] == "cancelled"
    assert produced[0]["response"]["output"] == []


def test_cancel_out_of_band_by_id_and_barge_in_reason() -> None:
    core = Core(output_modalities=["text"])
    core.user_text("hello")
    default_id = core.create_response()
    oob_id = commands(
        core.outputs("response.create", response={"conversation": "none"}), StartResponse
    )[0].response_id
    produced = core.send("response.cancel", response_id=oob_id)
    assert produced[-1]["response"]["id"] == oob_id
    assert core.session.active_response_ids == [default_id]
    produced = core.signal(core.session.cancel_response(default_id, "turn_detected"))
    assert produced[-1]["response"]["status_details"] == {
        "type": "cancelled",
        "reason": "turn_detected",
    }
    assert core.session.active_response_ids == []


def test_signals_for_unknown_ids_are_ignored() -> None:
    core = Core()
    assert core.session.receive(ResponseText("resp_x", "hi")) == []
    assert core.session.receive(ResponseAudio("resp_x", tone(20))) == []
    assert core.session.receive(ResponseFunctionCall("resp_x", "f", "{}")) == []
    assert core.session.receive(ResponseDone("resp_x")) == []
    assert core.session.receive(ResponseFailed("resp_x", "boom")) == []
    assert core.session.cancel_response("resp_x", "client_cancelled") == []
    assert core.session.receive(TranscriptCompleted("item_x", "text")) == []
    assert core.session.receive(TranscriptFailed("item_x", "boom")) == []
    assert core.request("resp_x") is None


# ------------------------------------------------------------------------------------------------
# The LLM context follows the conversation
# ------------------------------------------------------------------------------------------------


def test_llm_context_reflects_created_deleted_and_truncated_items() -> None:
    core = Core(instructions="Be nice.")
    assert core.messages() == [{"role": "system", "content": "Be nice."}]
    a = core.user_text("alpha")
    b = core.user_text("beta")
    assert non_system(core.messages()) == [
        {"role": "user", "content": "alpha"},
        {"role": "user", "content": "beta"},
    ]
    core.send("conversation.item.delete", item_id=a)
    assert non_system(core.messages()) == [{"role": "user", "content": "beta"}]

    reply_id = _assistant_audio_item(core, "You said: beta and more words here", 2000)
    messages = non_system(core.messages())
    assert messages[-1] == {"role": "assistant", "content": "You said: beta and more words here"}
    core.send("conversation.item.truncate", item_id=reply_id, content_index=0, audio_end_ms=500)
    heard = non_system(core.messages())[-1]
    assert heard["role"] == "assistant"
    assert len(heard["content"]) < len("You said: beta and more words here")
    assert "You said: beta and more words here".startswith(heard["content"])
    core.send("conversation.item.truncate", item_id=reply_id, content_index=0, audio_end_ms=0)
    assert non_system(core.messages())[-1] == {"role": "assistant", "content": ""}

    core.send("conversation.item.delete", item_id=reply_id)
    core.send("conversation.item.delete", item_id=b)
    assert non_system(core.messages()) == []


def test_llm_context_waits_for_and_uses_audio_transcripts() -> None:
    core = Core()
    core.send("input_audio_buffer.append", audio=b64(tone(1000)))
    item_id = core.send("input_audio_buffer.commit")[0]["item_id"]
    produced = core.outputs("response.create")
    assert types(produced) == ["response.created"]
    assert not commands(produced, StartResponse)
    (start,) = commands(core.transcribed(item_id, "audio of 1000 ms"), StartResponse)
    assert non_system(start.request.messages) == [{"role": "user", "content": "audio of 1000 ms"}]
    core.done(start.response_id)
    # A transcribed item is not awaited again.
    produced = core.outputs("response.create")
    assert commands(produced, StartResponse)


def test_llm_context_excludes_the_responses_own_output() -> None:
    core = Core(output_modalities=["text"])
    core.user_text("hello")
    response_id = core.create_response()
    core.text(response_id, "partial")
    request = core.request(response_id)
    assert request is not None
    assert non_system(request.messages) == [{"role": "user", "content": "hello"}]
    core.done(response_id)


def test_truncate_while_the_response_is_still_streaming() -> None:
    """A client that stops playback mid-response can truncate the item before response.done."""
    session = RealtimeSession()
    handle_raw(session, json.dumps({"type": "response.create"}))
    (response_id,) = session.active_response_ids
    session.receive(ResponseText(response_id, "one two three four"))
    events = session.receive(ResponseAudio(response_id, b"\x00" * 960 * 10))  # 200 ms
    item_id = next(e["item_id"] for e in events if e["type"] == "response.output_audio.delta")
    truncated = handle_raw(
        session,
        json.dumps(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 100,
            }
        ),
    )
    assert [e["type"] for e in truncated] == ["conversation.item.truncated"]
    session.receive(ResponseAudio(response_id, b"\x00" * 960 * 10))
    session.receive(ResponseDone(response_id))
    record = session.conversation.get(item_id)
    assert record.audio_ms == 100
    assert record.item["content"][0]["transcript"] == ""
    assert (
        record.llm_text == "one two three four"[: len("one two three four") // 2].rsplit(" ", 1)[0]
    )


# ------------------------------------------------------------------------------------------------
# Bounded sessions: stored audio, reply length, failed transcripts
# ------------------------------------------------------------------------------------------------


def test_stored_audio_beyond_the_budget_is_dropped_from_the_oldest_items() -> None:
    second_ms = 1000
    budget = 2 * second_ms * PCM_BYTES_PER_MS + 100  # room for two one-second items
    core = Core(limits=SessionLimits(max_stored_audio_bytes=budget))
    ids = []
    for _ in range(3):
        core.send("input_audio_buffer.append", audio=b64(tone(second_ms)))
        ids.append(core.send("input_audio_buffer.commit")[0]["item_id"])
    oldest = core.session.conversation.get(ids[0])
    assert oldest.audio is None  # the oldest item lost its audio, not its place
    assert core.item_ids() == ids
    assert "audio" not in core.retrieve(ids[0])["content"][0]
    assert base64.b64decode(core.retrieve(ids[2])["content"][0]["audio"]) == tone(second_ms)


def test_an_unlimited_reply_stops_at_the_servers_ceiling() -> None:
    core = Core(limits=SessionLimits(max_output_tokens=3), output_modalities=["text"])
    core.user_text("hello")
    response_id = core.create_response()
    assert core.text(response_id, "one")
    assert core.text(response_id, " two")
    produced = core.text(response_id, " three")
    done = produced[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["max_output_tokens"] == "inf"


def test_a_turn_whose_transcription_failed_is_not_answered() -> None:
    core = Core()
    core.send("input_audio_buffer.append", audio=b64(tone(500)))
    item_id = core.send("input_audio_buffer.commit")[0]["item_id"]
    created = core.outputs("response.create")
    assert types(created) == ["response.created"]
    produced = core.session.receive(TranscriptFailed(item_id, "STT down"))
    assert not commands(produced, StartResponse)
    done = core.signal(produced)[-1]["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["code"] == "transcription_failed"
    # A text turn after it is answered as usual.
    core.user_text("hello?")
    assert core.create_response()
