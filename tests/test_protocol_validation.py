"""Tests for parse_client_event: valid GA events pass, bad ones fail the way the API fails them."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from protocol import ClientEvent
from protocol.errors import ProtocolError
from protocol.validation import (
    CLIENT_EVENT_TYPES,
    MAX_AUDIO_APPEND_BYTES,
    parse_client_event,
    validate_client_event,
)

PROTOCOL_DIR = Path(__file__).resolve().parent.parent / "protocol"

# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def reject(event: dict[str, Any] | str | bytes) -> ProtocolError:
    """Parse an event that must fail and return the error."""
    raw = event if isinstance(event, (str, bytes)) else json.dumps(event)
    with pytest.raises(ProtocolError) as info:
        parse_client_event(raw)
    return info.value


def accept(event: dict[str, Any]) -> dict[str, Any]:
    """Parse an event that must pass; it comes back exactly as sent."""
    parsed = parse_client_event(json.dumps(event)).data
    assert parsed == event
    return parsed


def session_update(**session: Any) -> dict[str, Any]:
    return {"type": "session.update", "session": {"type": "realtime", **session}}


def turn_detection(**fields: Any) -> dict[str, Any]:
    return session_update(audio={"input": {"turn_detection": {"type": "server_vad", **fields}}})


def item_create(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": item, **extra}


AUDIO_100MS = base64.b64encode(bytes(4800)).decode()

FULL_SESSION: dict[str, Any] = {
    "type": "realtime",
    "model": "gpt-realtime",
    "instructions": "You are a helpful assistant. Be brief.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "noise_reduction": {"type": "near_field"},
            "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en", "prompt": ""},
            "turn_detection": None,
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.1},
    },
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Get the weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
    "include": ["item.input_audio_transcription.logprobs"],
}

# ------------------------------------------------------------------------------------------------
# Valid events of every GA type
# ------------------------------------------------------------------------------------------------


VALID_EVENTS: list[dict[str, Any]] = [
    {"type": "session.update", "event_id": "evt_1", "session": FULL_SESSION},
    session_update(
        audio={
            "input": {
                "format": {"type": "audio/pcma"},
                "noise_reduction": None,
                "transcription": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            }
        }
    ),
    session_update(
        audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}},
        tool_choice={"type": "function", "name": "get_weather"},
        tools=[],
        instructions="",
        max_output_tokens=4096,
        output_modalities=["text"],
    ),
    session_update(audio={"output": {"voice": {"id": "voice_123"}, "speed": 0.25}}),
    {
        "type": "session.update",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "whisper-1", "language": "de"},
                    "turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000},
                    "noise_reduction": {"type": "far_field"},
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
    },
    {"type": "input_audio_buffer.append", "audio": AUDIO_100MS, "event_id": "evt_2"},
    {"type": "input_audio_buffer.append", "audio": ""},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear", "event_id": "evt_3"},
    item_create(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        previous_item_id="root",
    ),
    item_create(
        {
            "id": "item_user_audio",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": AUDIO_100MS, "transcript": "hello"}],
        }
    ),
    item_create(
        {
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hello! How can I help?"}],
        },
        previous_item_id="item_user_audio",
    ),
    item_create(
        {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Speak French."}],
        }
    ),
    item_create({"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'}),
    item_create(
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}
    ),
    {"type": "conversation.item.retrieve", "item_id": "item_1"},
    {
        "type": "conversation.item.truncate",
        "item_id": "item_1",
        "content_index": 0,
        "audio_end_ms": 1500,
    },
    {"type": "conversation.item.delete", "item_id": "item_1", "event_id": "evt_4"},
    {"type": "response.create"},
    {"type": "response.create", "response": {}},
    {
        "type": "response.create",
        "event_id": "evt_5",
        "response": {
            "conversation": "none",
            "input": [
                {"type": "item_reference", "id": "item_1"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Summarize the above."}],
                },
            ],
            "metadata": {"topic": "summary"},
            "instructions": "Answer in one sentence.",
            "output_modalities": ["text"],
            "max_output_tokens": 200,
            "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
            "tool_choice": "required",
            "audio": {"output": {"voice": "alloy", "format": {"type": "audio/pcm"}}},
        },
    },
    {"type": "response.create", "response": {"conversation": "auto", "input": []}},
    {"type": "response.cancel"},
    {"type": "response.cancel", "response_id": "resp_123"},
    {"type": "output_audio_buffer.clear", "event_id": "evt_6"},
]


@pytest.mark.parametrize("event", VALID_EVENTS, ids=lambda e: e["type"])
def test_valid_events_pass_unchanged(event: dict[str, Any]) -> None:
    accept(event)


def test_every_ga_event_type_has_a_valid_example() -> None:
    assert {event["type"] for event in VALID_EVENTS} == set(CLIENT_EVENT_TYPES)


def test_result_is_plain_json_data() -> None:
    event = item_create(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    )
    parsed = parse_client_event(json.dumps(event)).data
    assert type(parsed["item"]["content"]) is list
    assert json.loads(json.dumps(parsed)) == event


def test_speed_stays_an_integer_as_sent() -> None:
    parsed = accept(session_update(audio={"output": {"speed": 1}}))
    assert type(parsed["session"]["audio"]["output"]["speed"]) is int


def test_append_audio_arrives_decoded() -> None:
    pcm = bytes(range(256)) * 20
    audio = base64.b64encode(pcm).decode()
    event = {"type": "input_audio_buffer.append", "event_id": "evt_7", "audio": audio}
    parsed = parse_client_event(json.dumps(event))
    assert parsed == ClientEvent("input_audio_buffer.append", event, pcm)
    assert parsed.event_id == "evt_7"
    assert parse_client_event('{"type": "input_audio_buffer.append", "audio": ""}').audio == b""


def test_only_an_append_carries_audio() -> None:
    parsed = parse_client_event(json.dumps({"type": "input_audio_buffer.commit"}))
    assert (parsed.type, parsed.audio, parsed.event_id) == ("input_audio_buffer.commit", None, None)


def test_validate_client_event_takes_parsed_data() -> None:
    event = {"type": "input_audio_buffer.append", "audio": AUDIO_100MS}
    parsed = validate_client_event(event)
    assert parsed.data is event
    assert parsed.audio == bytes(4800)
    with pytest.raises(ProtocolError) as info:
        validate_client_event({"type": "response.cancel", "event_id": "e1", "bogus": 1})
    assert (info.value.code, info.value.param, info.value.event_id) == (
        "unknown_parameter",
        "bogus",
        "e1",
    )


# ------------------------------------------------------------------------------------------------
# The package's own structure
# ------------------------------------------------------------------------------------------------


def _private_names_imported(path: Path) -> list[str]:
    """``from protocol.x import _y``, and ``x._y`` on a name imported from ``protocol``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()  # local names bound to modules of the protocol package
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").split(".")[0] == "protocol"
        ):
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "protocol":
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if private and ast.unparse(node.value).split(".")[0] in modules:
            found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize(
    "path", sorted(PROTOCOL_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(PROTOCOL_DIR))
)
def test_no_module_uses_a_private_name_of_another(path: Path) -> None:
    assert _private_names_imported(path) == []


def test_the_private_name_scan_finds_them(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from protocol.validation import _SCHEMAS, parse_client_event\n"
        "from protocol import validation\n"
        "from .frames import _nesting_depth\n"
        "validation._SCHEMAS.check_type({})\n"
        "validation.parse_client_event.__doc__\n"
    )
    assert sorted(_private_names_imported(sample)) == [
        "frames._nesting_depth",
        "protocol.validation._SCHEMAS",
        "validation._SCHEMAS",
    ]


@pytest.mark.parametrize(
    "path", sorted(PROTOCOL_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(PROTOCOL_DIR))
)
def test_modules_are_small_and_say_why_they_exist(path: Path) -> None:
    source = path.read_text()
    assert ast.get_docstring(ast.parse(source)), f"{path.name} has no module docstring"
    assert source.count("\n") < 400
    assert "PROTOCOL" + ".md" not in source  # the wire reference is docs/protocol.md


# ------------------------------------------------------------------------------------------------
# Frame-level errors
# ------------------------------------------------------------------------------------------------


def test_binary_frame_is_invalid_event() -> None:
    error = reject(b'{"type": "input_audio_buffer.commit"}')
    assert error.code == "invalid_event"
    assert error.message == "Expected a text WebSocket message; binary frames are not supported."
    assert error.param is None


@pytest.mark.parametrize("raw", ["{", "not json", "", '{"type": "response.create",}', "NaN"])
def test_unparseable_text_is_invalid_json(raw: str) -> None:
    error = reject(raw)
    assert error.code == "invalid_json"
    assert error.message.startswith("Invalid event: failed to parse JSON value.")


def test_nan_inside_an_object_is_invalid_json() -> None:
    assert reject('{"type": "response.create", "x": NaN}').code == "invalid_json"


@pytest.mark.parametrize(
    ("raw", "got"), [("[]", "an array"), ('"hi"', "a string"), ("1", "an integer")]
)
def test_json_that_is_not_an_object_is_invalid_type(raw: str, got: str) -> None:
    error = reject(raw)
    assert error.code == "invalid_type"
    assert error.message == f"Invalid event: expected a JSON object, but got {got} instead."


# ------------------------------------------------------------------------------------------------
# The event type
# ------------------------------------------------------------------------------------------------


def test_missing_type() -> None:
    error = reject({"event_id": "evt_1"})
    assert (error.code, error.param) == ("missing_required_parameter", "type")
    assert error.message == "Missing required parameter: 'type'."


def test_unknown_type_lists_supported_values() -> None:
    error = reject({"type": "transcription_session.update"})
    assert (error.code, error.param) == ("invalid_value", "type")
    assert error.message.startswith("Invalid value: 'transcription_session.update'. Supported")
    for event_type in CLIENT_EVENT_TYPES:
        assert f"'{event_type}'" in error.message


def test_non_string_type() -> None:
    error = reject({"type": 7})
    assert (error.code, error.param) == ("invalid_type", "type")


# ------------------------------------------------------------------------------------------------
# Schema errors
# ------------------------------------------------------------------------------------------------


def test_unknown_parameter_in_realtime_session_reports_only_that_field() -> None:
    error = reject(session_update(bogus_field=1))
    assert error.code == "unknown_parameter"
    assert error.message == "Unknown parameter: 'session.bogus_field'."
    assert error.param == "session.bogus_field"


def test_unknown_top_level_parameter() -> None:
    error = reject({"type": "input_audio_buffer.commit", "extra": True})
    assert (error.code, error.param) == ("unknown_parameter", "extra")


def test_realtime_only_field_in_transcription_session_is_unknown() -> None:
    event = {"type": "session.update", "session": {"type": "transcription", "instructions": "x"}}
    error = reject(event)
    assert (error.code, error.param) == ("unknown_parameter", "session.instructions")


def test_missing_session_type() -> None:
    error = reject({"type": "session.update", "session": {"instructions": "hi"}})
    assert error.code == "missing_required_parameter"
    assert error.message == "Missing required parameter: 'session.type'."
    assert error.param == "session.type"


def test_missing_required_top_level_field() -> None:
    error = reject({"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0})
    assert (error.code, error.param) == ("missing_required_parameter", "audio_end_ms")
    assert error.message == "Missing required parameter: 'audio_end_ms'."


def test_bad_session_type_is_invalid_value() -> None:
    error = reject({"type": "session.update", "session": {"type": "conversation"}})
    assert (error.code, error.param) == ("invalid_value", "session.type")
    assert error.message == (
        "Invalid value: 'conversation'. Supported values are: 'realtime', 'transcription'."
    )


def test_wrong_type_for_content() -> None:
    error = reject(item_create({"type": "message", "role": "user", "content": "hello"}))
    assert error.code == "invalid_type"
    assert error.param == "item.content"
    assert error.message == (
        "Invalid type for 'item.content': expected an array, but got a string instead."
    )


@pytest.mark.parametrize(
    ("session", "param", "expected", "got"),
    [
        ({"instructions": 5}, "session.instructions", "a string", "an integer"),
        (
            {"audio": {"output": {"speed": "fast"}}},
            "session.audio.output.speed",
            "a decimal",
            "a string",
        ),
        (
            {"audio": {"output": {"speed": True}}},
            "session.audio.output.speed",
            "a decimal",
            "a boolean",
        ),
        ({"audio": "pcm16"}, "session.audio", "an object", "a string"),
        ({"tools": {}}, "session.tools", "an array", "an object"),
        ({"max_output_tokens": 1.5}, "session.max_output_tokens", "an integer", "a decimal"),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "create_response": 1}}}},
            "session.audio.input.turn_detection.create_response",
            "a boolean",
            "an integer",
        ),
    ],
)
def test_invalid_type(session: dict[str, Any], param: str, expected: str, got: str) -> None:
    error = reject(session_update(**session))
    assert (error.code, error.param) == ("invalid_type", param)
    assert (
        error.message == f"Invalid type for '{param}': expected {expected}, but got {got} instead."
    )


def test_null_for_a_required_field() -> None:
    error = reject({"type": "input_audio_buffer.append", "audio": None})
    assert (error.code, error.param) == ("invalid_type", "audio")
    assert error.message == "Invalid type for 'audio': expected a string, but got null instead."


def test_null_for_an_optional_field_means_not_set() -> None:
    # LiveKit Agents sends this with every generate_reply(); the SDK's own response model has
    # ``instructions: Optional[str]`` (tests/test_null_as_absent.py covers every such field).
    # The null is taken out of the data; other types stay wrong.
    event = {"type": "response.create", "response": {"instructions": None, "metadata": {"k": "v"}}}
    parsed = parse_client_event(json.dumps(event)).data
    assert parsed == {"type": "response.create", "response": {"metadata": {"k": "v"}}}
    error = reject({"type": "response.create", "response": {"instructions": 5}})
    assert (error.code, error.param) == ("invalid_type", "response.instructions")


def test_event_id_must_be_a_string() -> None:
    error = reject({"type": "input_audio_buffer.clear", "event_id": 12})
    assert (error.code, error.param) == ("invalid_type", "event_id")
    assert error.event_id is None


def test_invalid_enum_value() -> None:
    event = session_update(audio={"input": {"noise_reduction": {"type": "studio"}}})
    error = reject(event)
    assert error.code == "invalid_value"
    assert error.param == "session.audio.input.noise_reduction.type"
    assert (
        error.message == "Invalid value: 'studio'. Supported values are: 'near_field', 'far_field'."
    )


def test_invalid_audio_format_type() -> None:
    error = reject(session_update(audio={"output": {"format": {"type": "pcm16"}}}))
    assert (error.code, error.param) == ("invalid_value", "session.audio.output.format.type")
    assert "'audio/pcm', 'audio/pcmu', 'audio/pcma'" in error.message


def test_rate_on_pcmu_is_unknown() -> None:
    error = reject(
        session_update(audio={"input": {"format": {"type": "audio/pcmu", "rate": 8000}}})
    )
    assert (error.code, error.param) == ("unknown_parameter", "session.audio.input.format.rate")


def test_unknown_turn_detection_type() -> None:
    error = reject(turn_detection(type="push_to_talk"))
    assert (error.code, error.param) == ("invalid_value", "session.audio.input.turn_detection.type")
    assert error.message == (
        "Invalid value: 'push_to_talk'. Supported values are: 'server_vad', 'semantic_vad'."
    )


def test_semantic_vad_rejects_server_vad_fields() -> None:
    event = session_update(
        audio={"input": {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}}}
    )
    error = reject(event)
    assert error.code == "unknown_parameter"
    assert error.param == "session.audio.input.turn_detection.threshold"


def test_invalid_tool_choice_string() -> None:
    error = reject(session_update(tool_choice="always"))
    assert (error.code, error.param) == ("invalid_value", "session.tool_choice")
    assert (
        error.message
        == "Invalid value: 'always'. Supported values are: 'none', 'auto', 'required'."
    )


def test_max_output_tokens_string_other_than_inf() -> None:
    error = reject(session_update(max_output_tokens="infinite"))
    assert (error.code, error.param) == ("invalid_value", "session.max_output_tokens")
    assert error.message == "Invalid value: 'infinite'. Supported values are: 'inf'."


# ------------------------------------------------------------------------------------------------
# Parameter paths
# ------------------------------------------------------------------------------------------------


def test_param_path_with_list_index_and_role_discrimination() -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]}
    error = reject(item_create(item))
    assert (error.code, error.param) == ("invalid_value", "item.content[0].type")
    assert error.message == (
        "Invalid value: 'output_text'. Supported values are: 'input_text', 'input_audio', "
        "'input_image'."
    )


def test_assistant_content_accepts_output_types_only() -> None:
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "input_text", "text": "x"}],
    }
    error = reject(item_create(item))
    assert (error.code, error.param) == ("invalid_value", "item.content[0].type")
    assert "'output_text', 'output_audio'" in error.message


@pytest.mark.parametrize("role", ["user", "system"])
def test_input_text_needs_its_text(role: str) -> None:
    content = [{"type": "input_text", "text": "a"}, {"type": "input_text"}]
    item = {"type": "message", "role": role, "content": content}
    error = reject(item_create(item))
    assert (error.code, error.param) == ("missing_required_parameter", "item.content[1].text")
    assert error.message == "Missing required parameter: 'item.content[1].text'."
    error = reject({"type": "response.create", "response": {"input": [item]}})
    assert (error.code, error.param) == (
        "missing_required_parameter",
        "response.input[0].content[1].text",
    )


@pytest.mark.parametrize(
    ("role", "part"),
    [
        ("user", {"type": "input_text", "text": ""}),
        ("user", {"type": "input_audio", "transcript": "replayed history"}),
        ("user", {"type": "input_image"}),
        ("assistant", {"type": "output_text"}),
        ("assistant", {"type": "output_audio", "transcript": "hello"}),
    ],
)
def test_other_content_parts_need_no_payload(role: str, part: dict[str, Any]) -> None:
    accept(item_create({"type": "message", "role": role, "content": [part]}))


def test_unknown_field_deep_in_a_list() -> None:
    content = [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b", "x": 1}]
    error = reject(item_create({"type": "message", "role": "system", "content": content}))
    assert (error.code, error.param) == ("unknown_parameter", "item.content[1].x")
    assert error.message == "Unknown parameter: 'item.content[1].x'."


def test_item_role_missing_and_invalid() -> None:
    error = reject(item_create({"type": "message", "content": []}))
    assert (error.code, error.param) == ("missing_required_parameter", "item.role")
    error = reject(item_create({"type": "message", "role": "bot", "content": []}))
    assert (error.code, error.param) == ("invalid_value", "item.role")
    assert "'system', 'user', 'assistant'" in error.message


def test_item_type_missing_and_invalid() -> None:
    error = reject(item_create({"role": "user", "content": []}))
    assert (error.code, error.param) == ("missing_required_parameter", "item.type")
    error = reject(item_create({"type": "item_reference", "id": "item_1"}))
    assert (error.code, error.param) == ("invalid_value", "item.type")


def test_function_call_output_missing_output() -> None:
    error = reject(item_create({"type": "function_call_output", "call_id": "call_1"}))
    assert (error.code, error.param) == ("missing_required_parameter", "item.output")


def test_tool_paths() -> None:
    tools = [{"type": "function", "name": "ok"}, {"type": "function", "description": "no name"}]
    error = reject(session_update(tools=tools))
    assert (error.code, error.param) == ("missing_required_parameter", "session.tools[1].name")
    error = reject(session_update(tools=[{"type": "code_interpreter"}]))
    assert (error.code, error.param) == ("invalid_value", "session.tools[0].type")


def test_response_input_paths() -> None:
    response = {"input": [{"type": "item_reference", "id": "item_1"}, {"type": "item_reference"}]}
    error = reject({"type": "response.create", "response": response})
    assert (error.code, error.param) == ("missing_required_parameter", "response.input[1].id")


def test_metadata_value_path() -> None:
    error = reject({"type": "response.create", "response": {"metadata": {"topic": 1}}})
    assert (error.code, error.param) == ("invalid_type", "response.metadata.topic")


# ------------------------------------------------------------------------------------------------
# Ranges and combinations the SDK types do not carry
# ------------------------------------------------------------------------------------------------


def test_speed_above_max() -> None:
    error = reject(session_update(audio={"output": {"speed": 3}}))
    assert error.code == "decimal_above_max_value"
    assert error.param == "session.audio.output.speed"
    assert error.message == (
        "Invalid 'session.audio.output.speed': decimal above maximum value. Expected a value less "
        "than or equal to 1.5, but got 3 instead."
    )


def test_speed_below_min() -> None:
    error = reject(session_update(audio={"output": {"speed": 0.1}}))
    assert (error.code, error.param) == ("decimal_below_min_value", "session.audio.output.speed")
    assert error.message == (
        "Invalid 'session.audio.output.speed': decimal below minimum value. Expected a value "
        "greater than or equal to 0.25, but got 0.1 instead."
    )


@pytest.mark.parametrize(
    ("fields", "code", "name"),
    [
        ({"threshold": 1.01}, "decimal_above_max_value", "threshold"),
        ({"threshold": -0.1}, "decimal_below_min_value", "threshold"),
        ({"prefix_padding_ms": -1}, "integer_below_min_value", "prefix_padding_ms"),
        ({"silence_duration_ms": -200}, "integer_below_min_value", "silence_duration_ms"),
        ({"idle_timeout_ms": -1}, "integer_below_min_value", "idle_timeout_ms"),
    ],
)
def test_server_vad_ranges(fields: dict[str, Any], code: str, name: str) -> None:
    error = reject(turn_detection(**fields))
    assert (error.code, error.param) == (code, f"session.audio.input.turn_detection.{name}")


def test_server_vad_range_in_transcription_session() -> None:
    session = {
        "type": "transcription",
        "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}},
    }
    error = reject({"type": "session.update", "session": session})
    assert error.code == "decimal_above_max_value"


def test_server_vad_bounds_are_inclusive() -> None:
    accept(turn_detection(threshold=0, prefix_padding_ms=0, silence_duration_ms=0))
    accept(turn_detection(threshold=1.0, idle_timeout_ms=0))


@pytest.mark.parametrize(
    ("value", "code"), [(0, "integer_below_min_value"), (4097, "integer_above_max_value")]
)
def test_session_max_output_tokens_range(value: int, code: str) -> None:
    error = reject(session_update(max_output_tokens=value))
    assert (error.code, error.param) == (code, "session.max_output_tokens")


def test_session_max_output_tokens_message() -> None:
    error = reject(session_update(max_output_tokens=5000))
    assert error.message == (
        "Invalid 'session.max_output_tokens': integer above maximum value. Expected a value less "
        "than or equal to 4096, but got 5000 instead."
    )


def test_response_max_output_tokens_range() -> None:
    error = reject({"type": "response.create", "response": {"max_output_tokens": 0}})
    assert (error.code, error.param) == ("integer_below_min_value", "response.max_output_tokens")
    assert error.message == (
        "Invalid 'response.max_output_tokens': integer below minimum value. Expected a value "
        "greater than or equal to 1, but got 0 instead."
    )


@pytest.mark.parametrize(
    "modalities", [["audio", "text"], ["text", "audio"], [], ["audio", "audio"]]
)
def test_output_modalities_must_be_audio_or_text(modalities: list[str]) -> None:
    error = reject(session_update(output_modalities=modalities))
    assert (error.code, error.param) == ("invalid_value", "session.output_modalities")
    assert error.message == (
        f"Invalid modalities: {modalities!r}. Supported combinations are: ['text'] and ['audio']."
    )


def test_response_output_modalities() -> None:
    event = {"type": "response.create", "response": {"output_modalities": ["audio", "text"]}}
    error = reject(event)
    assert (error.code, error.param) == ("invalid_value", "response.output_modalities")


def test_unknown_modality_is_an_invalid_value_with_index() -> None:
    error = reject(session_update(output_modalities=["video"]))
    assert (error.code, error.param) == ("invalid_value", "session.output_modalities[0]")


@pytest.mark.parametrize("field", ["content_index", "audio_end_ms"])
def test_truncate_negative_values(field: str) -> None:
    event = {
        "type": "conversation.item.truncate",
        "item_id": "i",
        "content_index": 0,
        "audio_end_ms": 0,
        field: -1,
    }
    error = reject(event)
    assert (error.code, error.param) == ("integer_below_min_value", field)
    assert error.message == (
        f"Invalid '{field}': integer below minimum value. Expected a value greater than or equal "
        "to 0, but got -1 instead."
    )


# ------------------------------------------------------------------------------------------------
# input_audio_buffer.append
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("audio", ["abc", "AAA=A", "AA AA", "AAAA\n", "ÄAAA", "AAA", "not base64!"])
def test_bad_base64(audio: str) -> None:
    error = reject({"type": "input_audio_buffer.append", "audio": audio, "event_id": "evt_9"})
    assert (error.code, error.param) == ("invalid_value", "audio")
    assert error.event_id == "evt_9"


def test_audio_must_be_a_string() -> None:
    error = reject({"type": "input_audio_buffer.append", "audio": [1, 2]})
    assert (error.code, error.param) == ("invalid_type", "audio")


def test_audio_limit_is_15_mib_of_decoded_audio() -> None:
    at_limit = base64.b64encode(bytes(MAX_AUDIO_APPEND_BYTES)).decode()
    accept({"type": "input_audio_buffer.append", "audio": at_limit})
    over = base64.b64encode(bytes(MAX_AUDIO_APPEND_BYTES + 1)).decode()
    error = reject({"type": "input_audio_buffer.append", "audio": over})
    assert (error.code, error.param) == ("string_above_max_length", "audio")


# ------------------------------------------------------------------------------------------------
# event_id echo
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"type": "nope"},
        {"type": "session.update", "session": {"type": "realtime", "bogus": 1}},
        {"type": "session.update", "session": {"type": "realtime", "max_output_tokens": 0}},
        {"type": "conversation.item.truncate", "item_id": "i"},
        {"type": "input_audio_buffer.append", "audio": "@@@@"},
    ],
)
def test_error_echoes_event_id(event: dict[str, Any]) -> None:
    error = reject({**event, "event_id": "client_evt_42"})
    assert error.event_id == "client_evt_42"
    assert error.to_event()["error"]["event_id"] == "client_evt_42"


def test_error_without_event_id_has_none() -> None:
    assert reject({"type": "nope"}).event_id is None


def test_error_event_shape() -> None:
    rendered = reject(session_update(bogus_field=1)).to_event()
    assert rendered["type"] == "error"
    assert rendered["error"] == {
        "type": "invalid_request_error",
        "code": "unknown_parameter",
        "message": "Unknown parameter: 'session.bogus_field'.",
        "param": "session.bogus_field",
        "event_id": None,
    }
