"""Strict validation of GA client events, with errors worded the way the OpenAI Realtime API does.

:func:`parse_client_event` turns one WebSocket frame into a plain JSON ``dict`` or raises a
:class:`~protocol.errors.ProtocolError` (PROTOCOL.md sections 2, 3 and 6).

The schema is the installed SDK's client-event TypedDicts (``openai.types.realtime.*_param``). They
are not used as they are: at import they are *mirrored* into equivalent TypedDicts that pydantic can
validate the way the real API does. The mirror

- sets ``__pydantic_config__ = ConfigDict(extra="forbid", strict=True)`` on every TypedDict, so
  unknown fields and wrong JSON types are errors (a TypedDict cannot take
  ``TypeAdapter(config=...)``). Setting it on copies rather than on the SDK's own classes keeps
  this module free of side effects on anything else in the process that uses those classes;
- turns ``Iterable[X]`` / ``Sequence[X]`` into ``list[X]``: pydantic validates ``Iterable`` lazily
  (a ``ValidatorIterator`` that accepts even a string and only fails when consumed), so errors
  inside ``item.content`` would otherwise never surface;
- gives every union that holds objects a discriminator that picks the member from the JSON value
  (its ``type``, and ``role`` for messages), so a realtime session with a bogus field reports
  ``session.bogus_field`` instead of one error per union member;
- applies a few documented corrections where the SDK's types disagree with the API
  (:data:`_NULLABLE_FIELDS`, :data:`_REQUIRED_FIELDS`).

Numeric ranges and value combinations are not in the TypedDicts at all; :func:`_check_semantics`
adds them after the schema has passed. The caller always gets back the JSON data exactly as sent
(the validated copy is thrown away), so lists stay lists and ints stay ints.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Union

import typing_extensions
from openai.types.realtime import (
    realtime_audio_config_input_param,
    realtime_audio_formats_param,
    realtime_conversation_item_assistant_message_param,
    realtime_conversation_item_function_call_param,
    realtime_conversation_item_system_message_param,
    realtime_conversation_item_user_message_param,
    realtime_function_tool_param,
    realtime_transcription_session_audio_input_param,
)
from openai.types.realtime.conversation_item_create_event_param import (
    ConversationItemCreateEventParam,
)
from openai.types.realtime.conversation_item_delete_event_param import (
    ConversationItemDeleteEventParam,
)
from openai.types.realtime.conversation_item_retrieve_event_param import (
    ConversationItemRetrieveEventParam,
)
from openai.types.realtime.conversation_item_truncate_event_param import (
    ConversationItemTruncateEventParam,
)
from openai.types.realtime.input_audio_buffer_append_event_param import (
    InputAudioBufferAppendEventParam,
)
from openai.types.realtime.input_audio_buffer_clear_event_param import (
    InputAudioBufferClearEventParam,
)
from openai.types.realtime.input_audio_buffer_commit_event_param import (
    InputAudioBufferCommitEventParam,
)
from openai.types.realtime.output_audio_buffer_clear_event_param import (
    OutputAudioBufferClearEventParam,
)
from openai.types.realtime.response_cancel_event_param import ResponseCancelEventParam
from openai.types.realtime.response_create_event_with_references_param import (
    ResponseCreateEventWithReferencesParam,
)
from openai.types.realtime.session_update_event_param import SessionUpdateEventParam
from pydantic import ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError

from audio_utils import decode_base64_audio
from protocol.client_event import ClientEvent
from protocol.errors import ProtocolError

__all__ = ["CLIENT_EVENT_TYPES", "MAX_AUDIO_APPEND_BYTES", "parse_client_event"]

# The GA client events and the SDK TypedDict that describes each one. ``response.create`` uses the
# "with references" variant: it is what the SDK's own ``send()`` accepts, and it allows
# ``{"type": "item_reference", "id": ...}`` entries in ``response.input``.
_EVENT_SCHEMAS: dict[str, type] = {
    "session.update": SessionUpdateEventParam,
    "input_audio_buffer.append": InputAudioBufferAppendEventParam,
    "input_audio_buffer.commit": InputAudioBufferCommitEventParam,
    "input_audio_buffer.clear": InputAudioBufferClearEventParam,
    "conversation.item.create": ConversationItemCreateEventParam,
    "conversation.item.retrieve": ConversationItemRetrieveEventParam,
    "conversation.item.truncate": ConversationItemTruncateEventParam,
    "conversation.item.delete": ConversationItemDeleteEventParam,
    "response.create": ResponseCreateEventWithReferencesParam,
    "response.cancel": ResponseCancelEventParam,
    "output_audio_buffer.clear": OutputAudioBufferClearEventParam,
}

CLIENT_EVENT_TYPES: tuple[str, ...] = tuple(_EVENT_SCHEMAS)
"""The ``type`` values this server accepts, in the order the error message lists them."""

MAX_AUDIO_APPEND_BYTES = 15 * 1024 * 1024
"""Most decoded audio one ``input_audio_buffer.append`` may carry (15 MiB, as on the real API)."""

# Strict base64 has no whitespace and is padded to a multiple of 4 characters, so a string of at
# most this length decodes to at most MAX_AUDIO_APPEND_BYTES bytes (and every longer one to more).
_MAX_AUDIO_APPEND_CHARS = 4 * math.ceil(MAX_AUDIO_APPEND_BYTES / 3)

# ---------------------------------------------------------------------------------------------
# Corrections to the SDK's TypedDicts
# ---------------------------------------------------------------------------------------------

# Fields the API documents as clearable with ``null`` (PROTOCOL.md section 2, and the SDK's own
# session.update docstring) but whose SDK annotation does not include ``None``.
_NULLABLE_FIELDS: frozenset[tuple[type, str]] = frozenset(
    (owner, name)
    for owner in (
        realtime_audio_config_input_param.RealtimeAudioConfigInputParam,
        realtime_transcription_session_audio_input_param.RealtimeTranscriptionSessionAudioInputParam,
    )
    for name in ("noise_reduction", "transcription")
)

# Fields the SDK marks optional although the API cannot do without them: a content part without a
# ``type`` cannot be interpreted, and a function tool without a ``name`` cannot be called.
_REQUIRED_FIELDS: frozenset[tuple[type, str]] = frozenset(
    {
        (realtime_conversation_item_user_message_param.Content, "type"),
        (realtime_conversation_item_assistant_message_param.Content, "type"),
        (realtime_conversation_item_system_message_param.Content, "type"),
        (realtime_function_tool_param.RealtimeFunctionToolParam, "name"),
        # An audio format without its type would be guessed; a function call without call_id
        # could never be answered by a function_call_output.
        (realtime_audio_formats_param.AudioPCM, "type"),
        (realtime_audio_formats_param.AudioPCMU, "type"),
        (realtime_audio_formats_param.AudioPCMA, "type"),
        (
            realtime_conversation_item_function_call_param.RealtimeConversationItemFunctionCallParam,
            "call_id",
        ),
    }
)
MAX_NESTING_DEPTH = 64
"""Deeper JSON is refused up front: nothing in the protocol nests that deep, and deep values would
exhaust the stack of every later deep copy of the session."""

_STRICT = ConfigDict(extra="forbid", strict=True)

# ---------------------------------------------------------------------------------------------
# Mirroring the SDK types into validatable ones
# ---------------------------------------------------------------------------------------------

_SCALAR_TAG = "<scalar>"  # tag of the non-object members of a discriminated union
_NO_MATCH_TAG = "<no match>"  # returned when no member fits; pydantic reports union_tag_invalid
_DISCRIMINATING_FIELDS = ("type", "role")  # messages share type "message" and differ by role


@dataclass(eq=False)
class _ObjectMember:
    """One object (TypedDict) member of a union, with the values its discriminating fields take."""

    tag: str
    schema: Any
    # field name -> (allowed values, whether the field is required); only Literal-typed fields.
    literals: dict[str, tuple[tuple[Any, ...], bool]]

    def accepts(self, value: dict[str, Any], name: str) -> bool:
        """Whether ``value[name]`` (possibly absent) is compatible with this member."""
        if name not in self.literals:
            return True
        allowed, required = self.literals[name]
        return value[name] in allowed if name in value else not required


@dataclass(eq=False)  # compared and hashed by identity: it sits inside typing.Annotated metadata
class _UnionDiscriminator:
    """Picks the member of a union for a JSON value, the way the API tells union members apart.

    Objects are matched on ``type`` and then ``role``; anything else goes to the union's
    non-object members (or, if it has none, to its first object member, so pydantic reports
    "expected an object"). When no object member fits, :meth:`error` explains why.
    """

    objects: list[_ObjectMember]
    scalars: Any = None  # the non-object members (a type or a plain Union), if any
    members: dict[str, Any] = field(default_factory=dict)  # tag -> mirrored member type

    @property
    def __name__(self) -> str:  # pydantic names a callable discriminator in its errors
        return "type_and_role"

    def __call__(self, value: Any) -> str:
        if not isinstance(value, dict):
            return _SCALAR_TAG if self.scalars is not None else self.objects[0].tag
        candidates = self.objects
        for name in _DISCRIMINATING_FIELDS:
            candidates = [m for m in candidates if m.accepts(value, name)]
        return candidates[0].tag if candidates else _NO_MATCH_TAG

    def error(self, value: dict[str, Any], path: str) -> ProtocolError:
        """The error for an object that matches no member: its first bad discriminating field."""
        candidates = self.objects
        for name in _DISCRIMINATING_FIELDS:
            allowed = _unique(
                v for m in candidates if name in m.literals for v in m.literals[name][0]
            )
            matching = [m for m in candidates if m.accepts(value, name)]
            if allowed and not matching:
                param = _join(path, name)
                if name not in value:
                    return _missing(param)
                if not isinstance(value[name], str):
                    return _invalid_type(param, "a string", value[name])
                return _invalid_value(param, value[name], allowed)
            candidates = matching
        return ProtocolError("invalid_value", f"Invalid value for '{path}'.", param=path)


_MIRRORS: dict[type, type] = {}  # SDK TypedDict -> its mirror; filled at import


def _mirror(tp: Any) -> Any:
    """Return the validatable equivalent of an SDK type annotation (see the module docstring)."""
    origin = typing.get_origin(tp)
    if typing_extensions.is_typeddict(tp):
        return _mirror_typeddict(tp)
    if origin in (Union, types.UnionType):
        return _mirror_union(typing.get_args(tp))
    if origin in (list, Iterable, Sequence):
        (item,) = typing.get_args(tp)
        return list[_mirror(item)]
    if origin is dict:
        key, value = typing.get_args(tp)
        return dict[key, _mirror(value)]
    return tp  # str, int, float, bool, object, Literal[...]


def _mirror_typeddict(cls: type) -> type:
    """Copy an SDK TypedDict with mirrored field types, the overrides and the strict config."""
    if cls in _MIRRORS:
        return _MIRRORS[cls]
    fields: dict[str, Any] = {}
    # include_extras keeps Required[...]: the SDK modules use ``from __future__ import
    # annotations``, which leaves ``cls.__required_keys__`` empty on Python 3.11.
    for name, hint in typing_extensions.get_type_hints(cls, include_extras=True).items():
        required = typing.get_origin(hint) is typing_extensions.Required or (
            cls.__total__ and typing.get_origin(hint) is not typing_extensions.NotRequired
        )
        if typing.get_origin(hint) in (typing_extensions.Required, typing_extensions.NotRequired):
            (hint,) = typing.get_args(hint)
        mirrored = _mirror(hint)
        if (cls, name) in _NULLABLE_FIELDS:
            mirrored = mirrored | None
        required = required or (cls, name) in _REQUIRED_FIELDS
        wrapper = typing_extensions.Required if required else typing_extensions.NotRequired
        fields[name] = wrapper[mirrored]
    mirror = typing_extensions.TypedDict(cls.__name__, fields)  # type: ignore[operator]
    mirror.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]
    _MIRRORS[cls] = mirror
    return mirror


def _mirror_union(args: tuple[Any, ...]) -> Any:
    """Mirror a union; one that holds objects gets a :class:`_UnionDiscriminator`."""
    nullable = type(None) in args
    members = [_mirror(arg) for arg in args if arg is not type(None)]
    objects = [m for m in members if typing_extensions.is_typeddict(m)]
    scalars = [m for m in members if not typing_extensions.is_typeddict(m)]
    if len(members) == 1:
        result = members[0]
    elif not objects or (len(objects) == 1 and not scalars):
        result = _union_of(members)
    else:
        result = _discriminated_union(objects, scalars)
    return result | None if nullable else result


def _discriminated_union(objects: list[Any], scalars: list[Any]) -> Any:
    """``Annotated[Union[Annotated[member, Tag], ...], Discriminator]`` for a union with objects."""
    discriminator = _UnionDiscriminator(objects=[_object_member(cls) for cls in objects])
    discriminator.members = {member.tag: member.schema for member in discriminator.objects}
    if len(discriminator.members) != len(objects):  # tags are class names; they must differ
        raise RuntimeError(f"ambiguous union members: {[m.tag for m in discriminator.objects]}")
    if scalars:
        discriminator.scalars = _union_of(scalars)
        discriminator.members[_SCALAR_TAG] = discriminator.scalars
    tagged = tuple(typing.Annotated[tp, Tag(tag)] for tag, tp in discriminator.members.items())
    return typing.Annotated[_union_of(tagged), Discriminator(discriminator)]


def _union_of(members: Sequence[Any]) -> Any:
    """``members[0] | members[1] | ...``, built at runtime (a single member stays itself)."""
    return functools.reduce(operator.or_, members)


@functools.cache
def _mirrored_hints(cls: type) -> dict[str, Any]:
    """The field annotations of a mirrored TypedDict (each ``Required[X]`` / ``NotRequired[X]``)."""
    return typing_extensions.get_type_hints(cls, include_extras=True)


def _object_member(cls: Any) -> _ObjectMember:
    """Describe a mirrored TypedDict as a union member (its tag is its class name)."""
    literals: dict[str, tuple[tuple[Any, ...], bool]] = {}
    hints = _mirrored_hints(cls)
    for name in _DISCRIMINATING_FIELDS:
        hint = hints.get(name)
        if hint is None:
            continue
        # Every mirrored field is Required[...] or NotRequired[...] around the real type.
        (inner,) = typing.get_args(hint)
        if typing.get_origin(inner) is Literal:
            required = typing.get_origin(hint) is typing_extensions.Required
            literals[name] = (typing.get_args(inner), required)
    return _ObjectMember(tag=cls.__name__, schema=cls, literals=literals)


# Built once at import: the mirrored event schemas and their pydantic adapters.
_EVENT_TYPES_MIRRORED: dict[str, Any] = {t: _mirror(s) for t, s in _EVENT_SCHEMAS.items()}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    t: TypeAdapter(s) for t, s in _EVENT_TYPES_MIRRORED.items()
}

# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------


def parse_client_event(raw: str | bytes) -> ClientEvent:
    """Parse and validate one client WebSocket frame; return the event as plain JSON data.

    Raises :class:`ProtocolError` with the code, message and ``param`` the real API would use.
    If the event carries a string ``event_id``, the error's ``event_id`` echoes it.
    """
    event = _decode_frame(raw)
    event_id = event.get("event_id")
    try:
        event_type = _check_event_type(event)
        _check_schema(event_type, event)
        _check_semantics(event_type, event)
    except ProtocolError as exc:
        raise exc.with_event_id(event_id if isinstance(event_id, str) else None) from None
    audio = (
        decode_base64_audio(event["audio"]) if event_type == "input_audio_buffer.append" else None
    )
    return ClientEvent(event_type, event, audio)


def _decode_frame(raw: str | bytes) -> dict[str, Any]:
    """Parse the frame's JSON text into an object.

    A frame that is valid JSON but not an object (``[]``, ``"hi"``, ``42``) is reported as
    ``invalid_type`` rather than ``invalid_json``: the text did parse, the value just has the
    wrong type, and that is how the API reports wrong types everywhere else.
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raise ProtocolError(
            "invalid_event", "Expected a text WebSocket message; binary frames are not supported."
        )
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise _invalid_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except ValueError as exc:  # NaN / Infinity (not JSON), or an integer too long to convert
        raise _invalid_json(f"{exc}.") from None
    except RecursionError:
        raise _invalid_json("Nesting too deep.") from None
    if not isinstance(data, dict):
        raise ProtocolError(
            "invalid_type",
            f"Invalid event: expected a JSON object, but got {_json_type(data)} instead.",
        )
    if _nesting_depth(data) > MAX_NESTING_DEPTH:
        raise _invalid_json(f"Nesting deeper than {MAX_NESTING_DEPTH} levels is not supported.")
    return data


def _nesting_depth(value: Any) -> int:
    """The depth of nested arrays/objects, computed without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a valid JSON value")


def _invalid_json(detail: str) -> ProtocolError:
    return ProtocolError("invalid_json", f"Invalid event: failed to parse JSON value. {detail}")


def _check_event_type(event: dict[str, Any]) -> str:
    """Return the event's ``type`` if it is one of the GA client events."""
    if "type" not in event:
        raise _missing("type")
    event_type = event["type"]
    if not isinstance(event_type, str):
        raise _invalid_type("type", "a string", event_type)
    if event_type not in _ADAPTERS:
        raise _invalid_value("type", event_type, CLIENT_EVENT_TYPES)
    return event_type


# ---------------------------------------------------------------------------------------------
# Schema validation and the translation of pydantic errors
# ---------------------------------------------------------------------------------------------


def _check_schema(event_type: str, event: dict[str, Any]) -> None:
    """Validate against the mirrored SDK schema; raise the most relevant error, API-worded."""
    try:
        _ADAPTERS[event_type].validate_python(event)
    except ValidationError as exc:
        schema = _EVENT_TYPES_MIRRORED[event_type]
        raise _most_relevant(exc.errors(include_url=False), schema) from None


def _most_relevant(errors: list[Any], schema: Any) -> ProtocolError:
    """Pick one error: the first, unless a plain union offered a better-fitting branch.

    Discriminated unions leave one branch; plain unions of scalars (``int | "inf"``, ``str |
    Literal[...]``) still report every branch. For a string input the literal branch is the one
    the client aimed at, so "Invalid value: 'abc'. Supported values are: 'inf'." wins over
    "expected an integer".
    """
    first_path = _resolve_location(errors[0]["loc"], schema)[0]
    for error in errors[1:]:
        if (
            error["type"] == "literal_error"
            and isinstance(error["input"], str)
            and _resolve_location(error["loc"], schema)[0] == first_path
        ):
            return _translate(error, schema)
    return _translate(errors[0], schema)


def _translate(error: Any, schema: Any) -> ProtocolError:
    """Turn one pydantic error into the API's error code, message and param."""
    path, tp = _resolve_location(error["loc"], schema)
    kind, value = error["type"], error["input"]
    if kind == "extra_forbidden":
        return ProtocolError("unknown_parameter", f"Unknown parameter: '{path}'.", param=path)
    if kind == "missing":
        return _missing(path)
    discriminator = _discriminator_of(tp)
    if kind in ("union_tag_invalid", "union_tag_not_found") and discriminator is not None:
        return discriminator.error(value, path)
    if kind == "literal_error":
        return _invalid_value(path, value, _literal_values(tp))
    if kind in _EXPECTED_JSON_TYPE:
        return _invalid_type(path, _EXPECTED_JSON_TYPE[kind], value)
    return ProtocolError(
        "invalid_value", f"Invalid value for '{path}': {error['msg']}.", param=path
    )


# pydantic error types that mean "wrong JSON type", and what the API says was expected.
_EXPECTED_JSON_TYPE = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a decimal",
    "bool_type": "a boolean",
    "dict_type": "an object",
    "list_type": "an array",
}


def _resolve_location(loc: tuple[Any, ...], schema: Any) -> tuple[str, Any]:
    """Follow a pydantic error location through the schema.

    Returns the API-style path (``item.content[0].type``: dots for fields, brackets for list
    indexes, union branch tags dropped) and the type found at its end (``None`` if unknown).
    """
    path, tp = "", schema
    for part in loc:
        tp, branch = _step_into_union(tp, part)
        if branch:
            continue  # the part was a union branch tag, not a place in the JSON
        if isinstance(part, int):
            path += f"[{part}]"
            tp = _list_item_type(tp)
        else:
            path = _join(path, str(part))
            tp = _field_type(tp, str(part))
    return path, tp


def _step_into_union(tp: Any, part: Any) -> tuple[Any, bool]:
    """If ``tp`` is a union and ``part`` names one of its branches, return that branch."""
    tp = _strip_none(tp)
    discriminator = _discriminator_of(tp)
    if discriminator is not None:
        if part in discriminator.members:
            return discriminator.members[part], True
        return tp, False
    if typing.get_origin(tp) in (Union, types.UnionType) and isinstance(part, str):
        # A plain union: pydantic labels branches "str", "int", "literal['inf']", "list[str]".
        for member in typing.get_args(tp):
            label = "literal[" if typing.get_origin(member) is Literal else _label(member)
            if part.startswith(label):
                return member, True
        return None, True
    return tp, False


def _label(tp: Any) -> str:
    origin = typing.get_origin(tp) or tp
    return getattr(origin, "__name__", repr(origin))


def _strip_none(tp: Any) -> Any:
    """``Optional[X]`` -> ``X`` (pydantic's nullable wrapper adds nothing to error locations)."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _discriminator_of(tp: Any) -> Any:
    """The :class:`_UnionDiscriminator` of a mirrored discriminated union, else ``None``."""
    for meta in getattr(_strip_none(tp), "__metadata__", ()):
        if isinstance(meta, Discriminator) and isinstance(meta.discriminator, _UnionDiscriminator):
            return meta.discriminator
    return None


def _list_item_type(tp: Any) -> Any:
    tp = _strip_none(tp)
    return typing.get_args(tp)[0] if typing.get_origin(tp) is list else None


def _field_type(tp: Any, name: str) -> Any:
    """The type of field ``name`` of a TypedDict, or of the values of a ``dict[str, X]``."""
    tp = _strip_none(tp)
    if typing.get_origin(tp) is dict:
        return typing.get_args(tp)[1]
    if typing_extensions.is_typeddict(tp):
        hint = _mirrored_hints(tp).get(name)
        return typing.get_args(hint)[0] if hint is not None else None
    return None


def _literal_values(tp: Any) -> tuple[Any, ...]:
    tp = _strip_none(tp)
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else ()


# ---------------------------------------------------------------------------------------------
# Checks the TypedDicts cannot express
# ---------------------------------------------------------------------------------------------


def _check_semantics(event_type: str, event: dict[str, Any]) -> None:
    """Ranges, combinations and encodings, checked once the shape is known to be right."""
    check = _SEMANTIC_CHECKS.get(event_type)
    if check is not None:
        check(event)


def _check_session_update(event: dict[str, Any]) -> None:
    session = event["session"]
    audio_input = session.get("audio", {}).get("input", {})
    turn_detection = audio_input.get("turn_detection")
    if turn_detection is not None and turn_detection.get("type") == "server_vad":
        path = "session.audio.input.turn_detection"
        _check_range(turn_detection, "threshold", path, minimum=0.0, maximum=1.0)
        for name in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            _check_range(turn_detection, name, path, minimum=0)
    audio_output = session.get("audio", {}).get("output", {})
    _check_range(audio_output, "speed", "session.audio.output", minimum=0.25, maximum=1.5)
    _check_response_settings(session, "session")


def _check_response_create(event: dict[str, Any]) -> None:
    _check_response_settings(event.get("response", {}), "response")


def _check_response_settings(settings: dict[str, Any], path: str) -> None:
    """``max_output_tokens`` and ``output_modalities``, shared by sessions and responses."""
    _check_range(settings, "max_output_tokens", path, minimum=1, maximum=4096)
    for index, tool in enumerate(settings.get("tools") or []):
        parameters = tool.get("parameters")
        is_function = tool.get("type", "function") == "function"
        if is_function and "parameters" in tool and not isinstance(parameters, dict):
            raise ProtocolError(
                "invalid_type",
                f"Invalid type for '{path}.tools[{index}].parameters': expected an object, "
                f"but got {_json_type(parameters)} instead.",
                param=f"{path}.tools[{index}].parameters",
            )
    modalities = settings.get("output_modalities")
    if modalities is not None and modalities not in (["audio"], ["text"]):
        raise ProtocolError(
            "invalid_value",
            f"Invalid modalities: {modalities!r}. "
            "Supported combinations are: ['text'] and ['audio'].",
            param=f"{path}.output_modalities",
        )


def _check_truncate(event: dict[str, Any]) -> None:
    _check_range(event, "content_index", "", minimum=0)
    _check_range(event, "audio_end_ms", "", minimum=0)


def _check_audio_append(event: dict[str, Any]) -> None:
    """``audio`` must be strict (padded, no whitespace) base64 of at most 15 MiB."""
    audio = event["audio"]
    if len(audio) > _MAX_AUDIO_APPEND_CHARS:
        raise ProtocolError(
            "string_above_max_length",
            "Invalid 'audio': string too long. Expected a string with maximum length "
            f"{_MAX_AUDIO_APPEND_CHARS} ({MAX_AUDIO_APPEND_BYTES} bytes of audio), but got a "
            f"string with length {len(audio)} instead.",
            param="audio",
        )
    try:
        decode_base64_audio(audio)  # remembered, so the session does not decode it again
    except ValueError:  # bad alphabet, padding or non-ASCII characters
        raise ProtocolError(
            "invalid_value",
            "Invalid value for 'audio': expected base64-encoded audio.",
            param="audio",
        ) from None


_SEMANTIC_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "session.update": _check_session_update,
    "response.create": _check_response_create,
    "conversation.item.truncate": _check_truncate,
    "input_audio_buffer.append": _check_audio_append,
}


def _check_range(
    container: dict[str, Any],
    name: str,
    path: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> None:
    """Check ``container[name]`` against inclusive bounds; absent, null and strings pass.

    Integer bounds give the ``integer_*`` codes, float bounds the ``decimal_*`` ones (the schema
    has already made sure an integer field holds an integer).
    """
    value = container.get(name)
    if value is None or isinstance(value, str):
        return
    param = _join(path, name)
    kind = (
        "decimal" if isinstance(minimum if minimum is not None else maximum, float) else "integer"
    )
    if minimum is not None and value < minimum:
        raise ProtocolError(
            f"{kind}_below_min_value",
            f"Invalid '{param}': {kind} below minimum value. Expected a value greater than or "
            f"equal to {minimum}, but got {value} instead.",
            param=param,
        )
    if maximum is not None and value > maximum:
        raise ProtocolError(
            f"{kind}_above_max_value",
            f"Invalid '{param}': {kind} above maximum value. Expected a value less than or "
            f"equal to {maximum}, but got {value} instead.",
            param=param,
        )


# ---------------------------------------------------------------------------------------------
# Error wording
# ---------------------------------------------------------------------------------------------


def _missing(param: str) -> ProtocolError:
    return ProtocolError(
        "missing_required_parameter", f"Missing required parameter: '{param}'.", param=param
    )


def _invalid_type(param: str, expected: str, value: Any) -> ProtocolError:
    return ProtocolError(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        param=param,
    )


def _invalid_value(param: str, value: Any, supported: Iterable[Any]) -> ProtocolError:
    listed = ", ".join(_show(v) for v in supported)
    message = f"Invalid value: {_show(value)}."
    if listed:
        message += f" Supported values are: {listed}."
    return ProtocolError("invalid_value", message, param=param)


def _show(value: Any) -> str:
    """A value as it appears in messages: strings in single quotes, the rest as JSON."""
    if isinstance(value, str):
        return f"'{value}'"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _json_type(value: Any) -> str:
    """The JSON type of a parsed value, as the API names it in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unique(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))
