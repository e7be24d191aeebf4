"""Tests of the beta dialect edge (``protocol.beta``): beta client events in, GA to the core, and
the core's GA server events back out as beta.

Client side: every beta client event type translates into an event the GA validator accepts, and
bad beta events fail with the GA validator's codes but beta ``param`` paths. Server side: a
``RealtimeSession`` is driven through the edge exactly as a beta connection would drive it, and
every beta event produced is validated against the SDK's beta union in strict mode, with a check
that no GA-only field leaks through as an "extra".
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import pytest
import typing_extensions
from openai.types import realtime as ga_types
from openai.types.beta import realtime as beta_types
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from pydantic import BaseModel, Field, TypeAdapter

from protocol import ClientEvent
from protocol.beta import (
    BETA_CLIENT_EVENT_TYPES,
    DROPPED_SERVER_EVENT_TYPES,
    BetaServerTranslator,
    beta_param,
    parse_beta_client_event,
)
from protocol.errors import ProtocolError
from protocol.validation import parse_client_event
from realtime_session import RealtimeSession
from realtime_session.defaults import DEFAULT_INSTRUCTIONS
from realtime_session.signals import (
    IDLE_TIMER,
    ResponseAudio,
    ResponseDone,
    ResponseFunctionCall,
    ResponseText,
    SpeechStarted,
    SpeechStopped,
    TimerExpired,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)
from tests.realtime_client import validate_server_event

BETA_SERVER_EVENT = TypeAdapter(Annotated[BetaServerEvent, Field(discriminator="type")])

# Fields the beta models do not declare but the translator sends on purpose: the real beta API
# reported ``object`` / ``expires_at`` on sessions; transcription sessions carry ``include`` (and,
# in ``transcription_session.updated``, whose model is sparser, ``id``, the noise reduction and a
# semantic VAD's ``eagerness``), all of which a beta client can set or read.
ALLOWED_EXTRAS = {
    "session.object",
    "session.expires_at",
    "session.include",
    "session.id",
    "session.input_audio_noise_reduction",
    "session.turn_detection.eagerness",
}

AUDIO_100MS = base64.b64encode(bytes(4800)).decode()
PCM_20MS = b"\x00" * 960

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}

# =============================================================================================
# Helpers
# =============================================================================================


def to_core(event: dict[str, Any]) -> ClientEvent:
    """Parse a beta client event that must pass; its GA form must pass the GA validator."""
    parsed = parse_beta_client_event(json.dumps(event))
    assert parse_client_event(json.dumps(parsed.data)).data == parsed.data
    return parsed


def translate(event: dict[str, Any]) -> dict[str, Any]:
    """The GA form of a beta client event that must pass."""
    return to_core(event).data


def reject(event: dict[str, Any] | str | bytes) -> ProtocolError:
    """Parse a beta client event that must fail and return the error."""
    raw = event if isinstance(event, (str, bytes)) else json.dumps(event)
    with pytest.raises(ProtocolError) as info:
        parse_beta_client_event(raw)
    return info.value


def session_update(**session: Any) -> dict[str, Any]:
    return {"type": "session.update", "event_id": "evt_beta_1", "session": session}


def ga_session(event: dict[str, Any]) -> dict[str, Any]:
    return translate(event)["session"]


def extras(model: Any, path: str = "") -> list[str]:
    """Paths of every field a validated model holds that its class does not declare."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{path}.{name}".lstrip(".") for name in model.model_extra or {}]
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        for entry in model:
            found += extras(entry, path)
    return found


def validate_beta(event: dict[str, Any]) -> None:
    """Raise unless ``event`` is a valid beta server event with no unexpected extra fields."""
    model = BETA_SERVER_EVENT.validate_python(event, strict=True)
    leaked = [p for p in extras(model) if p not in ALLOWED_EXTRAS]
    assert not leaked, f"GA-only fields in {event['type']}: {leaked}"


def types(events: list[dict[str, Any]]) -> list[str]:
    """The event types, without ``rate_limits.updated`` (its position is not fixed)."""
    return [e["type"] for e in events if e["type"] != "rate_limits.updated"]


def one(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matching = [e for e in events if e["type"] == kind]
    assert len(matching) == 1, types(events)
    return matching[0]


class BetaConnection:
    """A ``RealtimeSession`` behind the beta edge, as the server wires a beta connection."""

    def __init__(self, **kwargs: Any) -> None:
        self.core = RealtimeSession(**kwargs)
        self.translator = BetaServerTranslator()
        self.ga_events: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def out(self, outputs: list[Any]) -> list[dict[str, Any]]:
        """Validate the core's GA events, translate them, validate the beta ones; return those."""
        produced: list[dict[str, Any]] = []
        for output in outputs:
            if not isinstance(output, dict):
                continue  # a pipeline command
            validate_server_event(output)
            self.ga_events.append(output)
            for event in self.translator.translate(output):
                validate_beta(event)
                produced.append(event)
        self.events += produced
        return produced

    def start(self) -> list[dict[str, Any]]:
        return self.out(self.core.start())

    def send(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        """Send one beta client event through the edge into the core."""
        return self.out(self.core.handle(to_core({"type": kind, **fields})))

    def respond(
        self, text: list[str], audio: bool = False, call: tuple[str, str] | None = None
    ) -> tuple[str, list[dict[str, Any]]]:
        """``response.create``, then the pipeline produces ``text`` (and audio, a tool call)."""
        events = self.send("response.create")
        response_id = one(events, "response.created")["response"]["id"]
        for delta in text:
            events += self.out(self.core.receive(ResponseText(response_id, delta)))
            if audio:
                events += self.out(self.core.receive(ResponseAudio(response_id, PCM_20MS)))
        if call is not None:
            events += self.out(
                self.core.receive(ResponseFunctionCall(response_id, *call, "call_1"))
            )
        events += self.out(self.core.receive(ResponseDone(response_id)))
        return response_id, events


# =============================================================================================
# Client events: every type translates into a GA event the GA validator accepts
# =============================================================================================

FULL_BETA_SESSION: dict[str, Any] = {
    "model": "gpt-4o-realtime-preview",
    "modalities": ["text", "audio"],
    "instructions": "Be brief.",
    "voice": "verse",
    "input_audio_format": "g711_ulaw",
    "output_audio_format": "g711_alaw",
    "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": "hi"},
    "input_audio_noise_reduction": {"type": "far_field"},
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 200,
        "silence_duration_ms": 400,
        "create_response": False,
        "interrupt_response": False,
    },
    "tools": [TOOL],
    "tool_choice": "required",
    "temperature": 0.7,
    "max_response_output_tokens": 512,
    "speed": 1.2,
    "tracing": {"workflow_name": "demo", "group_id": "g1", "metadata": {"k": "v"}},
    "client_secret": {"expires_after": {"anchor": "created_at", "seconds": 600}},
}

BETA_EXAMPLES: list[dict[str, Any]] = [
    session_update(**FULL_BETA_SESSION),
    {
        "type": "transcription_session.update",
        "event_id": "evt_t",
        "session": {
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "de"},
            "input_audio_noise_reduction": {"type": "near_field"},
            "turn_detection": {"type": "server_vad", "threshold": 0.4, "silence_duration_ms": 300},
            "include": ["item.input_audio_transcription.logprobs"],
            "modalities": ["text"],
            "client_secret": {"expires_at": {"anchor": "created_at", "seconds": 60}},
        },
    },
    {"type": "input_audio_buffer.append", "event_id": "evt_a", "audio": AUDIO_100MS},
    {"type": "input_audio_buffer.commit", "event_id": "evt_c"},
    {"type": "input_audio_buffer.clear"},
    {
        "type": "conversation.item.create",
        "event_id": "evt_i",
        "previous_item_id": "root",
        "item": {
            "id": "item_a",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "text", "text": "Hello."}, {"type": "audio", "transcript": "x"}],
        },
    },
    {"type": "conversation.item.retrieve", "item_id": "item_a"},
    {
        "type": "conversation.item.truncate",
        "item_id": "item_a",
        "content_index": 0,
        "audio_end_ms": 100,
    },
    {"type": "conversation.item.delete", "event_id": "evt_d", "item_id": "item_a"},
    {
        "type": "response.create",
        "event_id": "evt_r",
        "response": {
            "modalities": ["text"],
            "instructions": "Answer in French.",
            "voice": "ash",
            "output_audio_format": "g711_ulaw",
            "tools": [TOOL],
            "tool_choice": "get_weather",
            "temperature": 0.9,
            "max_response_output_tokens": "inf",
            "conversation": "none",
            "metadata": {"topic": "weather"},
            "input": [
                {"type": "item_reference", "id": "item_a"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "?"}],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "text", "text": "!"}],
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
            ],
        },
    },
    {"type": "response.cancel", "response_id": "resp_1"},
    {"type": "output_audio_buffer.clear", "event_id": "evt_o"},
]


@pytest.mark.parametrize("event", BETA_EXAMPLES, ids=lambda e: e["type"])
def test_every_beta_event_translates_to_a_valid_ga_event(event: dict[str, Any]) -> None:
    ga = translate(event)
    assert ga.get("event_id") == event.get("event_id")


def test_every_beta_event_type_has_an_example() -> None:
    assert {e["type"] for e in BETA_EXAMPLES} == set(BETA_CLIENT_EVENT_TYPES)
    assert set(BETA_CLIENT_EVENT_TYPES) == {
        "session.update",
        "transcription_session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
    }


@pytest.mark.parametrize(
    ("beta", "ga"),
    [
        (beta_types.InputAudioBufferAppendEventParam, ga_types.InputAudioBufferAppendEventParam),
        (beta_types.InputAudioBufferCommitEventParam, ga_types.InputAudioBufferCommitEventParam),
        (beta_types.InputAudioBufferClearEventParam, ga_types.InputAudioBufferClearEventParam),
        (
            beta_types.ConversationItemRetrieveEventParam,
            ga_types.ConversationItemRetrieveEventParam,
        ),
        (
            beta_types.ConversationItemTruncateEventParam,
            ga_types.ConversationItemTruncateEventParam,
        ),
        (beta_types.ConversationItemDeleteEventParam, ga_types.ConversationItemDeleteEventParam),
        (beta_types.ResponseCancelEventParam, ga_types.ResponseCancelEventParam),
        (
            beta_types.realtime_client_event_param.OutputAudioBufferClear,
            ga_types.OutputAudioBufferClearEventParam,
        ),
    ],
)
def test_pass_through_events_have_identical_schemas(beta: type, ga: type) -> None:
    """Why ``protocol.beta`` passes these events on unchanged, without a GA re-check."""
    hints = typing_extensions.get_type_hints
    assert hints(beta, include_extras=True) == hints(ga, include_extras=True)


@pytest.mark.parametrize(
    "event",
    [e for e in BETA_EXAMPLES if e["type"].startswith(("input_audio", "output_audio"))]
    + [e for e in BETA_EXAMPLES if e["type"].endswith((".retrieve", ".truncate", ".delete"))]
    + [e for e in BETA_EXAMPLES if e["type"] == "response.cancel"],
    ids=lambda e: e["type"],
)
def test_pass_through_events_are_unchanged(event: dict[str, Any]) -> None:
    assert translate(event) == event


def test_append_audio_arrives_decoded() -> None:
    event = {"type": "input_audio_buffer.append", "event_id": "evt_a", "audio": AUDIO_100MS}
    parsed = parse_beta_client_event(json.dumps(event))
    assert parsed.type == "input_audio_buffer.append"
    assert (parsed.data, parsed.audio) == (event, bytes(4800))


def test_translated_event_is_a_ga_client_event() -> None:
    parsed = parse_beta_client_event(
        json.dumps({"type": "transcription_session.update", "event_id": "e9", "session": {}})
    )
    assert (parsed.type, parsed.event_id, parsed.audio) == ("session.update", "e9", None)
    assert parsed.data["session"] == {"type": "transcription"}


# =============================================================================================
# Client events: the field mapping
# =============================================================================================


def test_full_session_update_mapping() -> None:
    assert translate(session_update(**FULL_BETA_SESSION)) == {
        "type": "session.update",
        "event_id": "evt_beta_1",
        "session": {
            "type": "realtime",
            "model": "gpt-4o-realtime-preview",
            "instructions": "Be brief.",
            "tools": [TOOL],
            "tracing": {"workflow_name": "demo", "group_id": "g1", "metadata": {"k": "v"}},
            "tool_choice": "required",
            "output_modalities": ["audio"],
            "max_output_tokens": 512,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": "whisper-1", "language": "en", "prompt": "hi"},
                    "noise_reduction": {"type": "far_field"},
                    "turn_detection": FULL_BETA_SESSION["turn_detection"],
                },
                "output": {"format": {"type": "audio/pcma"}, "voice": "verse", "speed": 1.2},
            },
        },
    }


def test_empty_session_update_is_a_realtime_session_update() -> None:
    assert translate({"type": "session.update", "session": {}}) == {
        "type": "session.update",
        "session": {"type": "realtime"},
    }


@pytest.mark.parametrize(
    ("modalities", "output_modalities"),
    [
        (["audio", "text"], ["audio"]),
        (["text", "audio"], ["audio"]),
        (["audio"], ["audio"]),
        (["text"], ["text"]),
    ],
)
def test_modalities(modalities: list[str], output_modalities: list[str]) -> None:
    assert ga_session(session_update(modalities=modalities))["output_modalities"] == (
        output_modalities
    )
    response = translate({"type": "response.create", "response": {"modalities": modalities}})
    assert response["response"]["output_modalities"] == output_modalities


@pytest.mark.parametrize(
    ("name", "ga_format"),
    [
        ("pcm16", {"type": "audio/pcm", "rate": 24000}),
        ("g711_ulaw", {"type": "audio/pcmu"}),
        ("g711_alaw", {"type": "audio/pcma"}),
    ],
)
def test_audio_formats(name: str, ga_format: dict[str, Any]) -> None:
    audio = ga_session(session_update(input_audio_format=name, output_audio_format=name))["audio"]
    assert audio == {"input": {"format": ga_format}, "output": {"format": ga_format}}


def test_temperature_is_validated_then_dropped() -> None:
    assert ga_session(session_update(temperature=0.8)) == {"type": "realtime"}
    response = translate({"type": "response.create", "response": {"temperature": 1.2}})
    assert response == {"type": "response.create", "response": {}}


def test_max_response_output_tokens() -> None:
    assert ga_session(session_update(max_response_output_tokens="inf"))["max_output_tokens"] == (
        "inf"
    )
    assert ga_session(session_update(max_response_output_tokens=1))["max_output_tokens"] == 1


@pytest.mark.parametrize(
    ("choice", "ga_choice"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_weather", {"type": "function", "name": "get_weather"}),
    ],
)
def test_tool_choice(choice: str, ga_choice: Any) -> None:
    assert ga_session(session_update(tools=[TOOL], tool_choice=choice))["tool_choice"] == ga_choice


@pytest.mark.parametrize(
    ("turn_detection", "ga_turn_detection"),
    [
        (None, None),
        ({"silence_duration_ms": 700}, {"type": "server_vad", "silence_duration_ms": 700}),
        (
            {"type": "server_vad", "eagerness": "high", "threshold": 0.3},
            {"type": "server_vad", "threshold": 0.3},
        ),
        (
            {"type": "semantic_vad", "eagerness": "low", "threshold": 0.3, "create_response": True},
            {"type": "semantic_vad", "eagerness": "low", "create_response": True},
        ),
    ],
)
def test_turn_detection(
    turn_detection: dict[str, Any] | None, ga_turn_detection: dict[str, Any] | None
) -> None:
    audio = ga_session(session_update(turn_detection=turn_detection))["audio"]
    assert audio == {"input": {"turn_detection": ga_turn_detection}}


def test_nullable_session_fields() -> None:
    session = ga_session(
        session_update(
            input_audio_transcription=None, input_audio_noise_reduction=None, tracing=None
        )
    )
    assert session == {
        "type": "realtime",
        "tracing": None,
        "audio": {"input": {"transcription": None, "noise_reduction": None}},
    }


def test_transcription_session_update_becomes_a_transcription_session_update() -> None:
    transcription = next(e for e in BETA_EXAMPLES if e["type"] == "transcription_session.update")
    assert translate(transcription) == {
        "type": "session.update",
        "event_id": "evt_t",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "de"},
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.4,
                        "silence_duration_ms": 300,
                    },
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
    }


def test_assistant_content_types_are_renamed_and_others_kept() -> None:
    assistant = next(e for e in BETA_EXAMPLES if e["type"] == "conversation.item.create")
    assert translate(assistant)["item"]["content"] == [
        {"type": "output_text", "text": "Hello."},
        {"type": "output_audio", "transcript": "x"},
    ]
    user = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hi"}, {"type": "input_audio"}],
        },
    }
    assert translate(user) == user
    call = {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
    }
    assert translate(call) == call


def test_response_create_mapping() -> None:
    response = next(e for e in BETA_EXAMPLES if e["type"] == "response.create")
    assert translate(response) == {
        "type": "response.create",
        "event_id": "evt_r",
        "response": {
            "conversation": "none",
            "instructions": "Answer in French.",
            "metadata": {"topic": "weather"},
            "tools": [TOOL],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "input": [
                {"type": "item_reference", "id": "item_a"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "?"}],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "!"}],
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
            ],
            "output_modalities": ["text"],
            "max_output_tokens": "inf",
            "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "ash"}},
        },
    }
    assert translate({"type": "response.create"}) == {"type": "response.create"}


# =============================================================================================
# Client events: errors
# =============================================================================================


def test_binary_frame_is_invalid_event() -> None:
    error = reject(b'{"type": "input_audio_buffer.clear"}')
    assert (error.code, error.param) == ("invalid_event", None)


def test_unparseable_text_is_invalid_json() -> None:
    assert reject("{not json").code == "invalid_json"


def test_unknown_type_lists_the_beta_types() -> None:
    error = reject({"type": "session.updat", "event_id": "evt_x"})
    assert (error.code, error.param, error.event_id) == ("invalid_value", "type", "evt_x")
    assert "'transcription_session.update'" in error.message
    assert error.message.startswith("Invalid value: 'session.updat'. Supported values are: ")


def test_ga_only_shapes_are_refused() -> None:
    error = reject({"type": "session.update", "session": {"type": "realtime"}})
    assert (error.code, error.param) == ("unknown_parameter", "session.type")
    error = reject(session_update(output_modalities=["audio"]))
    assert (error.code, error.param) == ("unknown_parameter", "session.output_modalities")


def test_unknown_field_reports_its_beta_path() -> None:
    error = reject(session_update(bogus_field=1))
    assert (error.code, error.param, error.event_id) == (
        "unknown_parameter",
        "session.bogus_field",
        "evt_beta_1",
    )
    assert error.message == "Unknown parameter: 'session.bogus_field'."
    error = reject(session_update(turn_detection={"type": "server_vad", "idle_timeout_ms": 5}))
    assert (error.code, error.param) == (
        "unknown_parameter",
        "session.turn_detection.idle_timeout_ms",
    )


def test_missing_required_parameter() -> None:
    error = reject({"type": "session.update", "event_id": "evt_m"})
    assert (error.code, error.param, error.event_id) == (
        "missing_required_parameter",
        "session",
        "evt_m",
    )
    error = reject(session_update(tools=[{"type": "function"}]))
    assert (error.code, error.param) == ("missing_required_parameter", "session.tools[0].name")
    error = reject({"type": "conversation.item.create", "item": {"role": "user"}})
    assert (error.code, error.param) == ("missing_required_parameter", "item.type")


@pytest.mark.parametrize(
    ("session", "param", "expected"),
    [
        ({"instructions": 5}, "session.instructions", "a string"),
        ({"modalities": "text"}, "session.modalities", "an array"),
        ({"speed": "fast"}, "session.speed", "a decimal"),
        (
            {"turn_detection": {"create_response": "yes"}},
            "session.turn_detection.create_response",
            "a boolean",
        ),
        ({"tool_choice": {"type": "function", "name": "f"}}, "session.tool_choice", "a string"),
    ],
)
def test_invalid_type(session: dict[str, Any], param: str, expected: str) -> None:
    error = reject(session_update(**session))
    assert (error.code, error.param, error.event_id) == ("invalid_type", param, "evt_beta_1")
    assert f"expected {expected}" in error.message


@pytest.mark.parametrize(
    ("session", "param", "value"),
    [
        ({"input_audio_format": "pcm"}, "session.input_audio_format", "'pcm'"),
        ({"output_audio_format": "audio/pcm"}, "session.output_audio_format", "'audio/pcm'"),
        ({"modalities": ["video"]}, "session.modalities[0]", "'video'"),
        (
            {"turn_detection": {"type": "push_to_talk"}},
            "session.turn_detection.type",
            "'push_to_talk'",
        ),
        ({"max_response_output_tokens": "all"}, "session.max_response_output_tokens", "'all'"),
        ({"model": "gpt-5"}, "session.model", "'gpt-5'"),
    ],
)
def test_invalid_enum_value(session: dict[str, Any], param: str, value: str) -> None:
    error = reject(session_update(**session))
    assert (error.code, error.param, error.event_id) == ("invalid_value", param, "evt_beta_1")
    assert error.message.startswith(f"Invalid value: {value}. Supported values are: ")


def test_input_audio_format_lists_beta_names() -> None:
    error = reject(session_update(input_audio_format="pcm"))
    assert error.message == (
        "Invalid value: 'pcm'. Supported values are: 'pcm16', 'g711_ulaw', 'g711_alaw'."
    )


@pytest.mark.parametrize(
    ("settings", "code", "param"),
    [
        ({"temperature": 0.5}, "decimal_below_min_value", "temperature"),
        ({"temperature": 1.3}, "decimal_above_max_value", "temperature"),
        (
            {"max_response_output_tokens": 0},
            "integer_below_min_value",
            "max_response_output_tokens",
        ),
        (
            {"max_response_output_tokens": 4097},
            "integer_above_max_value",
            "max_response_output_tokens",
        ),
        ({"modalities": []}, "invalid_value", "modalities"),
    ],
)
@pytest.mark.parametrize("where", ["session", "response"])
def test_generation_setting_ranges(
    settings: dict[str, Any], code: str, param: str, where: str
) -> None:
    event = {"type": f"{where}.{'update' if where == 'session' else 'create'}", "event_id": "e9"}
    error = reject({**event, where: settings})
    assert (error.code, error.param, error.event_id) == (code, f"{where}.{param}", "e9")


def test_temperature_message() -> None:
    error = reject(session_update(temperature=1.5))
    assert error.message == (
        "Invalid 'session.temperature': decimal above maximum value. Expected a value less than or "
        "equal to 1.2, but got 1.5 instead."
    )
    for ok in (0.6, 1, 1.2):
        translate(session_update(temperature=ok))


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"speed": 0.2}, "decimal_below_min_value", "session.speed"),
        ({"speed": 1.6}, "decimal_above_max_value", "session.speed"),
        (
            {"turn_detection": {"threshold": 1.1}},
            "decimal_above_max_value",
            "session.turn_detection.threshold",
        ),
        (
            {"turn_detection": {"threshold": -0.1}},
            "decimal_below_min_value",
            "session.turn_detection.threshold",
        ),
        (
            {"turn_detection": {"silence_duration_ms": -1}},
            "integer_below_min_value",
            "session.turn_detection.silence_duration_ms",
        ),
        (
            {"turn_detection": {"prefix_padding_ms": -1}},
            "integer_below_min_value",
            "session.turn_detection.prefix_padding_ms",
        ),
    ],
)
def test_session_ranges(session: dict[str, Any], code: str, param: str) -> None:
    error = reject(session_update(**session))
    assert (error.code, error.param) == (code, param)


def test_transcription_session_errors() -> None:
    base = {"type": "transcription_session.update", "event_id": "evt_t"}
    error = reject({**base, "session": {"input_audio_transcription": {"model": "gpt-5"}}})
    assert (error.code, error.param, error.event_id) == (
        "invalid_value",
        "session.input_audio_transcription.model",
        "evt_t",
    )
    error = reject({**base, "session": {"voice": "alloy"}})
    assert (error.code, error.param) == ("unknown_parameter", "session.voice")
    error = reject({**base, "session": {"turn_detection": {"threshold": 2.0}}})
    assert (error.code, error.param) == (
        "decimal_above_max_value",
        "session.turn_detection.threshold",
    )


def test_item_errors_keep_their_paths() -> None:
    """Item paths are the same in both dialects, including errors only the GA check finds."""
    user_text = {"type": "message", "role": "user", "content": [{"type": "text", "text": "hi"}]}
    error = reject({"type": "conversation.item.create", "event_id": "e1", "item": user_text})
    assert (error.code, error.param, error.event_id) == (
        "invalid_value",
        "item.content[0].type",
        "e1",
    )
    error = reject(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "robot", "content": []},
        }
    )
    assert (error.code, error.param) == ("invalid_value", "item.role")
    error = reject(
        {
            "type": "response.create",
            "response": {
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "x": 1}]}
                ]
            },
        }
    )
    assert (error.code, error.param) == ("unknown_parameter", "response.input[0].content[0].x")


def test_input_text_needs_its_text() -> None:
    """Found by the GA re-check of the translated event, reported at the same path."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text"}]}
    error = reject({"type": "conversation.item.create", "item": item})
    assert (error.code, error.param) == ("missing_required_parameter", "item.content[0].text")
    error = reject({"type": "response.create", "response": {"input": [item]}})
    assert error.param == "response.input[0].content[0].text"


def test_pass_through_event_errors() -> None:
    error = reject({"type": "input_audio_buffer.append", "event_id": "e2", "audio": "%%%"})
    assert (error.code, error.param, error.event_id) == ("invalid_value", "audio", "e2")
    error = reject({"type": "conversation.item.truncate", "item_id": "i", "content_index": 0})
    assert (error.code, error.param) == ("missing_required_parameter", "audio_end_ms")
    error = reject(
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": 0,
            "audio_end_ms": -1,
        }
    )
    assert (error.code, error.param) == ("integer_below_min_value", "audio_end_ms")


@pytest.mark.parametrize(
    ("ga", "beta"),
    [
        ("session.audio.input.format", "session.input_audio_format"),
        ("session.audio.input.format.type", "session.input_audio_format.type"),
        ("session.audio.input.turn_detection.threshold", "session.turn_detection.threshold"),
        ("session.audio.input.transcription.model", "session.input_audio_transcription.model"),
        ("session.audio.output.voice", "session.voice"),
        ("session.output_modalities[0]", "session.modalities[0]"),
        ("session.max_output_tokens", "session.max_response_output_tokens"),
        ("response.audio.output.format", "response.output_audio_format"),
        ("response.max_output_tokens", "response.max_response_output_tokens"),
        ("session.instructions", "session.instructions"),
        ("session.audio.input.formats", "session.audio.input.formats"),  # not a path boundary
        ("item.content[0].type", "item.content[0].type"),
        (None, None),
    ],
)
def test_beta_param(ga: str | None, beta: str | None) -> None:
    assert beta_param(ga) == beta


# =============================================================================================
# Server events: sessions
# =============================================================================================


def test_session_created_is_flattened() -> None:
    connection = BetaConnection()
    (created,) = connection.start()
    session = created["session"]
    ga = connection.ga_events[0]["session"]
    assert created["type"] == "session.created"
    assert session == {
        "id": ga["id"],
        "object": "realtime.session",
        "expires_at": ga["expires_at"],
        "model": "gpt-realtime",
        "modalities": ["text", "audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "input_audio_format": "pcm16",
        "input_audio_transcription": None,
        "input_audio_noise_reduction": None,
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
            "create_response": True,
            "interrupt_response": True,
        },
        "voice": "alloy",
        "output_audio_format": "pcm16",
        "speed": 1.0,
        "tools": [],
        "tool_choice": "auto",
        "max_response_output_tokens": "inf",
        "tracing": None,
    }


def test_model_outside_the_beta_schema_is_left_out() -> None:
    connection = BetaConnection(model="local-llm")
    (created,) = connection.start()
    assert "model" not in created["session"]


def test_session_update_round_trip() -> None:
    """What a beta client sets comes back in beta terms in ``session.updated``."""
    connection = BetaConnection()
    connection.start()
    sent = {k: v for k, v in FULL_BETA_SESSION.items() if k not in ("temperature", "client_secret")}
    sent["tool_choice"] = "get_weather"
    (updated,) = connection.send("session.update", session=sent)
    assert updated["type"] == "session.updated"
    session = updated["session"]
    for name, value in sent.items():
        if name == "modalities":
            assert session[name] == ["text", "audio"]
        else:
            assert session[name] == value, name
    assert "temperature" not in session


def test_semantic_vad_session_update() -> None:
    connection = BetaConnection()
    connection.start()
    (updated,) = connection.send(
        "session.update", session={"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}
    )
    assert updated["session"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": True,
    }


def test_transcription_session() -> None:
    connection = BetaConnection(session_type="transcription")
    (created,) = connection.start()
    # The beta union has no transcription_session.created: session.created carries its fields.
    assert created["type"] == "session.created"
    assert created["session"]["object"] == "realtime.transcription_session"
    assert created["session"]["input_audio_format"] == "pcm16"
    assert "modalities" not in created["session"]
    (updated,) = connection.send(
        "transcription_session.update",
        session={
            "input_audio_format": "g711_alaw",
            "input_audio_transcription": {"model": "gpt-4o-mini-transcribe", "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 600},
            "include": ["item.input_audio_transcription.logprobs"],
        },
    )
    session = updated["session"]
    assert updated["type"] == "transcription_session.updated"
    assert session["client_secret"] == {"value": "", "expires_at": created["session"]["expires_at"]}
    assert session["input_audio_format"] == "g711_alaw"
    assert session["input_audio_transcription"] == {
        "model": "gpt-4o-mini-transcribe",
        "language": "en",
    }
    assert session["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 600,
    }
    assert session["include"] == ["item.input_audio_transcription.logprobs"]


def test_transcription_model_outside_the_beta_schema_is_left_out() -> None:
    translator = BetaServerTranslator()
    session = {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "id": "sess_1",
        "expires_at": 1,
        "audio": {"input": {"transcription": {"model": "parakeet", "language": "en"}}},
    }
    (event,) = translator.translate(
        {"type": "session.updated", "event_id": "e", "session": session}
    )
    validate_beta(event)
    assert event["session"]["input_audio_transcription"] == {"language": "en"}


def test_session_errors_get_beta_params() -> None:
    """``cannot_update_voice`` from the core names ``session.voice`` for a beta client."""
    connection = BetaConnection()
    connection.start()
    connection.send("session.update", session={"turn_detection": None})
    connection.respond(["Hi"], audio=True)
    (error,) = connection.send("session.update", event_id="evt_v", session={"voice": "ash"})
    assert error["type"] == "error"
    assert error["error"]["code"] == "cannot_update_voice"
    assert error["error"]["param"] == "session.voice"
    assert error["error"]["event_id"] == "evt_v"


# =============================================================================================
# Server events: full turns through the edge
# =============================================================================================


def test_text_turn_in_beta_shape() -> None:
    connection = BetaConnection()
    connection.start()
    connection.send("session.update", session={"modalities": ["text"], "turn_detection": None})
    created = connection.send(
        "conversation.item.create",
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
    )
    # GA's item.added + item.done become one conversation.item.created.
    assert types(created) == ["conversation.item.created"]
    assert created[0]["previous_item_id"] is None
    user_item_id = created[0]["item"]["id"]

    response_id, events = connection.respond(["Hello", " there."])
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.text.delta",
        "response.text.delta",
        "response.text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    response = one(events, "response.created")["response"]
    assert response["modalities"] == ["text"]
    assert response["status"] == "in_progress"
    assert response["output_audio_format"] == "pcm16"
    assert response["max_output_tokens"] == "inf"
    assistant = one(events, "conversation.item.created")
    assert assistant["previous_item_id"] == user_item_id
    assert one(events, "response.text.done")["text"] == "Hello there."
    assert one(events, "response.content_part.done")["part"] == {
        "type": "text",
        "text": "Hello there.",
    }
    done = one(events, "response.done")["response"]
    assert done["id"] == response_id
    assert done["status"] == "completed"
    (item,) = done["output"]
    assert item["content"] == [{"type": "text", "text": "Hello there."}]
    assert item["role"] == "assistant"
    assert done["usage"]["output_token_details"] == {"text_tokens": 3, "audio_tokens": 0}


def test_audio_turn_in_beta_shape() -> None:
    connection = BetaConnection()
    connection.start()
    connection.send(
        "session.update",
        session={
            "turn_detection": None,
            "voice": "coral",
            "input_audio_transcription": {"model": "whisper-1"},
        },
    )
    for _ in range(3):
        assert connection.send("input_audio_buffer.append", audio=AUDIO_100MS) == []
    committed = connection.send("input_audio_buffer.commit", event_id="evt_commit")
    assert types(committed) == ["input_audio_buffer.committed", "conversation.item.created"]
    user_item = committed[1]["item"]
    assert user_item["content"] == [{"type": "input_audio", "transcript": None}]
    transcript = connection.out(
        connection.core.receive(TranscriptDelta(user_item["id"], "What time"))
    ) + connection.out(
        connection.core.receive(TranscriptCompleted(user_item["id"], "What time is it?", 0.3))
    )
    assert types(transcript) == [
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
    ]

    _, events = connection.respond(["It is", " noon."], audio=True)
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.audio_transcript.delta",
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.delta",
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert one(events, "response.content_part.added")["part"] == {"type": "audio", "transcript": ""}
    assert one(events, "response.audio_transcript.done")["transcript"] == "It is noon."
    done = one(events, "response.done")["response"]
    assert (done["modalities"], done["voice"], done["output_audio_format"]) == (
        ["text", "audio"],
        "coral",
        "pcm16",
    )
    (item,) = done["output"]
    assert item["content"] == [{"type": "audio", "transcript": "It is noon."}]
    assert one(events, "response.output_item.done")["item"] == item

    # retrieve: the assistant audio item, with its audio, in beta content types
    (retrieved,) = connection.send("conversation.item.retrieve", item_id=item["id"])
    assert retrieved["type"] == "conversation.item.retrieved"
    (part,) = retrieved["item"]["content"]
    assert part["type"] == "audio"
    assert base64.b64decode(part["audio"]) == PCM_20MS * 2
    # truncate and delete pass through
    (truncated,) = connection.send(
        "conversation.item.truncate", item_id=item["id"], content_index=0, audio_end_ms=10
    )
    assert truncated == {**truncated, "type": "conversation.item.truncated", "audio_end_ms": 10}
    (deleted,) = connection.send("conversation.item.delete", item_id=user_item["id"])
    assert (deleted["type"], deleted["item_id"]) == ("conversation.item.deleted", user_item["id"])


def test_function_call_turn() -> None:
    connection = BetaConnection()
    connection.start()
    connection.send(
        "session.update", session={"turn_detection": None, "tools": [TOOL], "modalities": ["text"]}
    )
    _, events = connection.respond(["Let me check."], call=("get_weather", '{"city": "Oslo"}'))
    done_args = one(events, "response.function_call_arguments.done")
    assert "name" not in done_args  # the beta event has no name
    assert (done_args["call_id"], done_args["arguments"]) == ("call_1", '{"city": "Oslo"}')
    call_item = [e for e in events if e["type"] == "response.output_item.done"][-1]["item"]
    assert call_item["type"] == "function_call"
    assert call_item["name"] == "get_weather"
    assert [i["type"] for i in one(events, "response.done")["response"]["output"]] == [
        "message",
        "function_call",
    ]
    created = connection.send(
        "conversation.item.create",
        item={"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 12}'},
    )
    assert types(created) == ["conversation.item.created"]
    assert created[0]["previous_item_id"] == call_item["id"]


def test_cancel_and_out_of_band_response() -> None:
    connection = BetaConnection()
    connection.start()
    connection.send("session.update", session={"turn_detection": None})
    started = connection.send("response.create", response={"modalities": ["text"]})
    response_id = started[0]["response"]["id"]
    connection.out(connection.core.receive(ResponseText(response_id, "Hel")))
    cancelled = connection.send("response.cancel")
    done = one(cancelled, "response.done")["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"

    out_of_band = connection.send(
        "response.create",
        response={
            "conversation": "none",
            "modalities": ["text"],
            "metadata": {"purpose": "summary"},
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Sum up"}],
                }
            ],
        },
    )
    created = one(out_of_band, "response.created")["response"]
    assert created["conversation_id"] is None
    assert created["metadata"] == {"purpose": "summary"}
    events = connection.out(connection.core.receive(ResponseText(created["id"], "Done.")))
    events += connection.out(connection.core.receive(ResponseDone(created["id"])))
    assert "conversation.item.created" not in types(events)


def test_errors_pass_with_the_client_event_id() -> None:
    connection = BetaConnection()
    connection.start()
    (error,) = connection.send("input_audio_buffer.commit", event_id="evt_c")
    assert error["type"] == "error"
    assert error["error"]["code"] == "input_audio_buffer_commit_empty"
    assert error["error"]["event_id"] == "evt_c"


def test_server_vad_turn_and_idle_timeout() -> None:
    connection = BetaConnection()
    connection.start()
    connection.send("input_audio_buffer.append", audio=AUDIO_100MS * 5)
    events = connection.out(
        connection.core.receive(SpeechStarted(connection.core.state.epoch, 100))
    )
    events += connection.out(
        connection.core.receive(SpeechStopped(connection.core.state.epoch, 400))
    )
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
        "response.created",
    ]
    assert events[0]["item_id"] == events[3]["item"]["id"]
    connection.out(connection.core.receive(ResponseDone(events[4]["response"]["id"])))

    # idle timeout: GA's timeout_triggered has no beta form; the commit and response still go.
    ga_before = len(connection.ga_events)
    events = connection.out(connection.core.receive(TimerExpired(IDLE_TIMER)))
    ga_after = [e["type"] for e in connection.ga_events[ga_before:]]
    assert ga_after[0] == "input_audio_buffer.timeout_triggered"
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.created",
        "response.created",
    ]


def test_transcription_failed_passes() -> None:
    connection = BetaConnection()
    connection.start()
    connection.send(
        "session.update",
        session={"turn_detection": None, "input_audio_transcription": {"model": "whisper-1"}},
    )
    connection.send("input_audio_buffer.append", audio=AUDIO_100MS)
    committed = connection.send("input_audio_buffer.commit")
    item_id = committed[0]["item_id"]
    (failed,) = connection.out(connection.core.receive(TranscriptFailed(item_id, "STT down")))
    assert failed["type"] == "conversation.item.input_audio_transcription.failed"
    assert failed["error"]["message"] == "STT down"


def test_every_ga_event_of_a_session_is_translated_or_deliberately_dropped() -> None:
    """Over the turns above, every GA event type maps to beta or is in the dropped list."""
    connection = BetaConnection()
    connection.start()
    connection.send("session.update", session={"turn_detection": None})
    connection.send("input_audio_buffer.append", audio=AUDIO_100MS)
    connection.send("input_audio_buffer.commit")
    connection.respond(["Hi"], audio=True)
    for event in connection.ga_events:
        translated = connection.translator.translate(event)
        assert translated or event["type"] in DROPPED_SERVER_EVENT_TYPES, event["type"]


# =============================================================================================
# Server events: synthetic GA events the core does not produce today
# =============================================================================================


def beta_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    events = BetaServerTranslator().translate({"event_id": "event_1", **event})
    for beta in events:
        validate_beta(beta)
    return events


@pytest.mark.parametrize("kind", sorted(DROPPED_SERVER_EVENT_TYPES))
def test_dropped_events(kind: str) -> None:
    assert beta_of({"type": kind, "item_id": "item_1"}) == []


def test_unknown_event_is_dropped() -> None:
    assert beta_of({"type": "response.reasoning.delta"}) == []
    assert BetaServerTranslator().translate({"no": "type"}) == []


@pytest.mark.parametrize(
    "event",
    [
        {
            "type": "rate_limits.updated",
            "rate_limits": [
                {"name": "requests", "limit": 10, "remaining": 9, "reset_seconds": 1.5}
            ],
        },
        {"type": "output_audio_buffer.started", "response_id": "resp_1"},
        {"type": "output_audio_buffer.cleared", "response_id": "resp_1"},
        {
            "type": "conversation.created",
            "conversation": {"id": "conv_1", "object": "realtime.conversation"},
        },
        {"type": "input_audio_buffer.cleared"},
    ],
    ids=lambda e: e["type"],
)
def test_common_events_pass_unchanged(event: dict[str, Any]) -> None:
    assert beta_of(event) == [{"event_id": "event_1", **event}]


def test_ga_only_fields_are_removed() -> None:
    (completed,) = beta_of(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "item_1",
            "content_index": 0,
            "transcript": "hi",
            "usage": {"type": "duration", "seconds": 1.0},
            "languages": ["en"],
        }
    )
    assert "languages" not in completed


def test_mcp_items_are_dropped_and_filtered() -> None:
    mcp_item = {
        "id": "item_m",
        "type": "mcp_call",
        "server_label": "s",
        "name": "n",
        "arguments": "{}",
    }
    assert beta_of({"type": "conversation.item.added", "item": mcp_item}) == []
    assert (
        beta_of(
            {
                "type": "response.output_item.added",
                "response_id": "r",
                "output_index": 0,
                "item": mcp_item,
            }
        )
        == []
    )
    message = {
        "id": "item_u",
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            {"type": "input_text", "text": "What is this?"},
        ],
    }
    (done,) = beta_of(
        {
            "type": "response.done",
            "response": {
                "id": "r",
                "object": "realtime.response",
                "status": "completed",
                "output": [mcp_item, message],
            },
        }
    )
    assert done["response"]["output"] == [
        {
            "id": "item_u",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What is this?"}],
        }
    ]


def test_custom_voice_and_mcp_tools_in_a_session() -> None:
    (updated,) = beta_of(
        {
            "type": "session.updated",
            "session": {
                "type": "realtime",
                "id": "sess_1",
                "tools": [TOOL, {"type": "mcp", "server_label": "s"}],
                "tool_choice": {"type": "mcp", "server_label": "s"},
                "audio": {"output": {"voice": {"id": "voice_custom"}}},
            },
        }
    )
    assert updated["session"] == {"id": "sess_1", "voice": "voice_custom", "tools": [TOOL]}


def test_function_tool_choice_round_trips() -> None:
    (updated,) = beta_of(
        {
            "type": "session.updated",
            "session": {
                "type": "realtime",
                "tool_choice": {"type": "function", "name": "get_weather"},
            },
        }
    )
    assert updated["session"]["tool_choice"] == "get_weather"


@pytest.mark.parametrize(
    ("ga_format", "name"),
    [
        ({"type": "audio/pcm", "rate": 24000}, "pcm16"),
        ({"type": "audio/pcmu"}, "g711_ulaw"),
        ({"type": "audio/pcma"}, "g711_alaw"),
    ],
)
def test_formats_back_to_beta_names(ga_format: dict[str, Any], name: str) -> None:
    (created,) = beta_of(
        {
            "type": "response.created",
            "response": {
                "id": "r",
                "status": "in_progress",
                "output_modalities": ["audio"],
                "audio": {"output": {"format": ga_format, "voice": "marin"}},
                "usage": None,
            },
        }
    )
    assert created["response"] == {
        "id": "r",
        "status": "in_progress",
        "modalities": ["text", "audio"],
        "voice": "marin",
        "output_audio_format": name,
        "usage": None,
    }


def test_error_param_is_mapped_in_message_too() -> None:
    (error,) = beta_of(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "Invalid value for 'session.audio.input.format': bad.",
                "param": "session.audio.input.format",
                "event_id": "evt_9",
            },
        }
    )
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Invalid value for 'session.input_audio_format': bad.",
        "param": "session.input_audio_format",
        "event_id": "evt_9",
    }
