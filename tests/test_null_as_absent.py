"""``null`` for an optional field means "not set" (docs/protocol.md §2), in both dialects.

The fields are those :mod:`protocol.absent_nulls` computes from the SDK. For each one an event is
generated from the mirrored schema (the field set to ``null`` inside an otherwise minimal event)
and must be handled exactly like the same event without the field. Then a few real-world cases
through the core (what LiveKit Agents and pydantic-based clients send): the session keeps its
value, the clearable fields still clear, and what stays strict stays strict.
"""

from __future__ import annotations

import copy
import json
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import typing_extensions
from openai.types import realtime as ga_params
from openai.types.beta import realtime as beta_params
from openai.types.realtime import (
    realtime_response_create_params_with_references_param as response_params,
)

from protocol import ClientEvent
from protocol.beta import parse_beta_client_event
from protocol.beta.schema import BETA_SCHEMAS
from protocol.errors import ProtocolError
from protocol.event_schemas import EventSchemas
from protocol.schema_mirror import absent_when_null, discriminator_of, mirrored_hints, strip_none
from protocol.validation import GA_SCHEMAS, parse_client_event
from realtime_session import StartResponse
from tests.test_core_session import TOOL, Core, commands

Parse = Callable[[str], ClientEvent]
DIALECTS: dict[str, tuple[EventSchemas, Parse]] = {
    "ga": (GA_SCHEMAS, parse_client_event),
    "beta": (BETA_SCHEMAS, parse_beta_client_event),
}

# ------------------------------------------------------------------------------------------------
# Events generated from the mirrored schema
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """An event with one absent-when-null field set to null, and the same event without it."""

    owner: Any  # the mirrored TypedDict that has the field
    name: str
    path: str
    with_null: dict[str, Any]
    without: dict[str, Any]


# What an item of each type needs besides its schema's required fields: beta's item TypedDict is
# flat (all optional), and its GA re-check wants these.
ITEM_NEEDS: dict[str, dict[str, Any]] = {
    "message": {"role": "user", "content": []},
    "function_call_output": {"call_id": "call_1", "output": ""},
}


def _minimal(tp: Any) -> Any:
    """A small value of a mirrored type: required fields only, the first member of a union, the
    first value of a literal, empty strings, lists and objects."""
    tp = strip_none(tp)
    discriminator = discriminator_of(tp)
    if discriminator is not None:
        return _minimal(discriminator.objects[0].schema)
    origin = typing.get_origin(tp)
    if origin is Literal:
        return typing.get_args(tp)[0]
    if origin in (typing.Union, types.UnionType):
        return _minimal(typing.get_args(tp)[0])
    if origin is list:
        return []
    if origin is dict or tp is object:
        return {}
    if typing_extensions.is_typeddict(tp):
        return _variants(tp)[0]
    return {str: "", int: 1, float: 1.0, bool: True}[tp]


def _variants(tp: Any) -> list[dict[str, Any]]:
    """Minimal objects of a mirrored TypedDict, one for each value its ``type`` may take."""
    required = {
        name: _minimal(typing.get_args(hint)[0])
        for name, hint in mirrored_hints(tp).items()
        if typing.get_origin(hint) is typing_extensions.Required
    }
    hint = mirrored_hints(tp).get("type")
    inner = strip_none(typing.get_args(hint)[0]) if hint is not None else None
    kinds = typing.get_args(inner) if typing.get_origin(inner) is Literal else (None,)
    variants = [required if kind is None else {**required, "type": kind} for kind in kinds]
    return [{**ITEM_NEEDS.get(str(v.get("type")), {}), **v} for v in variants]


def _nulls(tp: Any, seen: set[Any]) -> Iterator[tuple[Any, Any, Any, str, str]]:
    """(value with the null, value without it, owner, field, path) for every absent-when-null
    field reachable in a mirrored type, each in a minimal value of that type."""
    tp = strip_none(tp)
    discriminator = discriminator_of(tp)
    origin = typing.get_origin(tp)
    if discriminator is not None:
        for member in discriminator.members.values():
            yield from _nulls(member, seen)
    elif origin in (typing.Union, types.UnionType):
        for member in typing.get_args(tp):
            yield from _nulls(member, seen)
    elif origin is list:
        for with_null, without, owner, name, path in _nulls(typing.get_args(tp)[0], seen):
            yield [with_null], [without], owner, name, f"[0]{path}"
    elif origin is dict:
        for with_null, without, owner, name, path in _nulls(typing.get_args(tp)[1], seen):
            yield {"k": with_null}, {"k": without}, owner, name, f".k{path}"
    elif typing_extensions.is_typeddict(tp) and tp not in seen:
        for base in _variants(tp):
            for name in sorted(absent_when_null(tp)):
                without = {k: v for k, v in base.items() if k != name}
                yield {**base, name: None}, without, tp, name, f".{name}"
            for name, hint in mirrored_hints(tp).items():
                inner = typing.get_args(hint)[0]
                for with_null, without, owner, field, path in _nulls(inner, seen | {tp}):
                    yield (
                        {**base, name: with_null},
                        {**base, name: without},
                        owner,
                        field,
                        f".{name}{path}",
                    )


def outcome(parse: Parse, event: dict[str, Any]) -> Any:
    """What the validator makes of an event: its data, or its error."""
    try:
        return parse(json.dumps(event)).data
    except ProtocolError as error:
        return (error.code, error.param, error.message)


def is_error(parse: Parse, event: dict[str, Any]) -> bool:
    return isinstance(outcome(parse, event), tuple)


def examples(dialect: str) -> list[Example]:
    """One example per absent-when-null field: the first one generated whose event without the
    null is valid, else the first one generated."""
    schemas, parse = DIALECTS[dialect]
    chosen: dict[tuple[Any, str], Example] = {}
    for event_type in schemas.types:
        for with_null, without, owner, name, path in _nulls(schemas.schema(event_type), set()):
            example = Example(owner, name, f"{event_type}:{path[1:]}", with_null, without)
            first = chosen.get((owner, name))
            if first is None or (is_error(parse, first.without) and not is_error(parse, without)):
                chosen[(owner, name)] = example
    return list(chosen.values())


EXAMPLES = [(dialect, example) for dialect in DIALECTS for example in examples(dialect)]


@pytest.mark.parametrize(("dialect", "example"), EXAMPLES, ids=[e.path for _, e in EXAMPLES])
def test_null_is_handled_as_the_field_left_out(dialect: str, example: Example) -> None:
    parse = DIALECTS[dialect][1]
    assert outcome(parse, copy.deepcopy(example.with_null)) == outcome(parse, example.without)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_field_of_the_rule_has_an_example(dialect: str) -> None:
    schemas, parse = DIALECTS[dialect]
    generated = [e for d, e in EXAMPLES if d == dialect]
    assert len(generated) == len(schemas.absent_when_null)
    # The examples are real: the event without the null is valid, but for fields whose absence
    # is itself an error in every minimal event (the text of a system message's input_text).
    invalid = sorted(e.path for e in generated if is_error(parse, e.without))
    assert invalid == NO_VALID_EXAMPLE[dialect]


NO_VALID_EXAMPLE: dict[str, list[str]] = {
    # A system message's only part type is input_text, whose text is required (§5): without it,
    # and so with it null, the event fails with missing_required_parameter.
    "ga": ["conversation.item.create:item.content[0].text"],
    "beta": [],
}


# ------------------------------------------------------------------------------------------------
# What clients send, through the core
# ------------------------------------------------------------------------------------------------

LIVEKIT_RESPONSE = {  # livekit-plugins-openai's generate_reply(), fields it did not set
    "instructions": None,
    "tools": None,
    "tool_choice": None,
    "max_output_tokens": None,
    "metadata": None,
}


def test_null_response_fields_leave_the_session_settings_in_force() -> None:
    core = Core(instructions="Talk like a pirate.", tools=[TOOL], max_output_tokens=50)
    core.update(tool_choice="required")
    core.user_text("hello")
    produced = core.outputs("response.create", event_id=None, response=LIVEKIT_RESPONSE)
    (start,) = commands(produced, StartResponse)
    assert produced[0]["response"]["metadata"] is None
    assert produced[0]["response"]["max_output_tokens"] == 50
    request = core.request(start.response_id)
    assert request is not None
    assert request.messages[0] == {"role": "system", "content": "Talk like a pirate."}
    assert (request.tools, request.tool_choice) == ([TOOL], "required")
    assert request.max_output_tokens == 50
    core.done(start.response_id)


def test_a_null_response_is_the_default_response() -> None:
    core = Core(instructions="Talk like a pirate.")
    core.user_text("hello")
    response_id = core.create_response(conversation=None, input=None, output_modalities=None)
    request = core.request(response_id)
    assert request is not None
    assert request.messages[-1] == {"role": "user", "content": "hello"}
    assert request.modalities == ("audio",)
    core.done(response_id)
    produced = core.outputs("response.create", response=None)
    assert commands(produced, StartResponse)


def test_null_session_fields_keep_the_session_values() -> None:
    core = Core(instructions="Be brief.", tools=[TOOL], max_output_tokens=50)
    before = core.update(tool_choice="required", audio={"output": {"voice": "ash"}})
    after = core.update(
        instructions=None,
        tools=None,
        tool_choice=None,
        max_output_tokens=None,
        output_modalities=None,
        audio={"input": {"format": None}, "output": {"voice": None, "speed": None}},
    )
    assert after == before


def test_null_item_id_and_previous_item_id_are_left_out() -> None:
    core = Core()
    first = core.user_text("one")
    item = {
        "id": None,
        "type": "message",
        "role": "user",
        "status": None,
        "object": None,
        "content": [{"type": "input_text", "text": "two", "audio": None, "transcript": None}],
    }
    (added, _) = core.send("conversation.item.create", previous_item_id=None, item=item)
    assert added["previous_item_id"] == first
    assert added["item"]["id"].startswith("item_")
    assert added["item"]["content"] == [{"type": "input_text", "text": "two"}]
    assert core.item_ids() == [first, added["item"]["id"]]


def test_response_cancel_with_a_null_id_cancels_the_current_response() -> None:
    core = Core()
    core.user_text("hello")
    response_id = core.create_response()
    (done,) = core.send("response.cancel", response_id=None)
    assert (done["type"], done["response"]["id"]) == ("response.done", response_id)


def test_the_clearable_fields_still_clear() -> None:
    core = Core()
    core.update(
        audio={
            "input": {
                "transcription": {"model": "whisper-1"},
                "noise_reduction": {"type": "near_field"},
                "turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000},
            }
        }
    )
    audio_input = core.update(
        audio={"input": {"transcription": None, "noise_reduction": None, "turn_detection": None}}
    )["audio"]["input"]
    assert (audio_input["transcription"], audio_input["noise_reduction"]) == (None, None)
    assert audio_input["turn_detection"] is None
    audio_input = core.update(
        audio={"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": None}}}
    )["audio"]["input"]
    assert audio_input["turn_detection"]["idle_timeout_ms"] is None


def test_the_rule_leaves_out_clearing_and_discriminating_fields() -> None:
    ga_session = ga_params.realtime_session_create_request_param.RealtimeSessionCreateRequestParam
    ga_input = ga_params.realtime_audio_config_input_param.RealtimeAudioConfigInputParam
    never = {
        *((ga_input, name) for name in ("turn_detection", "transcription", "noise_reduction")),
        (ga_params.realtime_audio_input_turn_detection_param.ServerVad, "idle_timeout_ms"),
        (ga_session, "tracing"),
        (ga_session, "prompt"),
        (response_params.RealtimeResponseCreateParamsWithReferencesParam, "metadata"),
    }
    assert not GA_SCHEMAS.absent_when_null & never
    beta_session = beta_params.session_update_event_param.Session
    clearable = ("turn_detection", "input_audio_transcription", "input_audio_noise_reduction")
    never = {(beta_session, name) for name in (*clearable, "tracing")}
    assert not BETA_SCHEMAS.absent_when_null & never
    for schemas in (GA_SCHEMAS, BETA_SCHEMAS):
        assert not {name for _, name in schemas.absent_when_null} & {"type", "role"}


def test_beta_nulls_are_left_out_before_translation() -> None:
    parsed = parse_beta_client_event(
        json.dumps(
            {
                "type": "session.update",
                "session": {"voice": None, "tool_choice": None, "turn_detection": None},
            }
        )
    )
    audio = {"input": {"turn_detection": None}}
    assert parsed.data["session"] == {"type": "realtime", "audio": audio}
    response = {"instructions": None, "modalities": None}
    parsed = parse_beta_client_event(json.dumps({"type": "response.create", "response": response}))
    assert parsed.data == {"type": "response.create", "response": {}}


# ------------------------------------------------------------------------------------------------
# What stays strict
# ------------------------------------------------------------------------------------------------


def reject(event: dict[str, Any], parse: Parse = parse_client_event) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(json.dumps(event))
    return info.value


@pytest.mark.parametrize(
    ("event", "param"),
    [
        ({"type": "input_audio_buffer.append", "audio": None}, "audio"),
        ({"type": "conversation.item.delete", "item_id": None}, "item_id"),
        (
            {"type": "session.update", "session": {"type": "realtime", "tools": [{"type": None}]}},
            "session.tools[0].type",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call", "name": "f", "arguments": "", "call_id": None},
            },
            "item.call_id",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "instructions": 5}},
            "session.instructions",
        ),
    ],
)
def test_null_for_a_required_or_discriminating_field_and_wrong_types_stay_errors(
    event: dict[str, Any], param: str
) -> None:
    error = reject(event)
    assert (error.code, error.param) == ("invalid_type", param)


def test_null_session_instructions_are_no_longer_an_error_but_other_types_are() -> None:
    error = reject({"type": "response.create", "response": {"instructions": []}})
    assert error.message == (
        "Invalid type for 'response.instructions': expected a string, but got an array instead."
    )


# ------------------------------------------------------------------------------------------------
# Content parts
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("role", ["user", "system"])
def test_null_text_of_an_input_text_part_is_missing_text(dialect: str, role: str) -> None:
    parse = DIALECTS[dialect][1]
    part = {"type": "input_text", "text": None}
    item = {"type": "message", "role": role, "content": [part]}
    error = reject({"type": "conversation.item.create", "item": item}, parse)
    assert (error.code, error.param) == ("missing_required_parameter", "item.content[0].text")
