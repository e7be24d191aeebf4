"""The beta dialect of the Realtime API, translated at the edge (PROTOCOL.md section 7).

The core (:mod:`realtime_session`) speaks GA only. A connection that speaks beta goes through this
module in both directions, so there is one session model and no second copy of its logic:

- :func:`parse_beta_client_event` validates a beta client event strictly against the SDK's beta
  TypedDicts (``openai.types.beta.realtime.*_param``), with the same error codes, messages and
  ``param`` paths as :func:`protocol.validation.parse_client_event`, and returns the equivalent
  GA client event (already GA-valid: hand it to ``RealtimeSession.handle``);
- :class:`BetaServerTranslator` turns each GA server event the core emits into the beta server
  events (zero or one) that a beta client expects; each validates under the SDK's beta union
  ``openai.types.beta.realtime.RealtimeServerEvent`` in strict mode.

Client events, beta -> GA (``event_id`` is always kept):

================================  ===========================================================
beta                              GA
================================  ===========================================================
``session.update``                ``session.update`` with ``session.type = "realtime"``
``transcription_session.update``  ``session.update`` with ``session.type = "transcription"``
``conversation.item.create``      same; assistant content ``text``/``audio`` ->
                                  ``output_text``/``output_audio``
``response.create``               same, with the response fields below; ``input`` items as
                                  for ``conversation.item.create``, item references unchanged
all other client events           unchanged (``input_audio_buffer.append/commit/clear``,
                                  ``conversation.item.retrieve/truncate/delete``,
                                  ``response.cancel``, ``output_audio_buffer.clear``)
================================  ===========================================================

Session and response fields, beta -> GA (:data:`GA_TO_BETA_PARAMS` is the reverse, for errors):

=======================================  ===================================================
beta                                     GA
=======================================  ===================================================
``modalities`` with ``"audio"``          ``output_modalities: ["audio"]``
``modalities: ["text"]``                 ``output_modalities: ["text"]``
``input_audio_format``                   ``audio.input.format`` (``pcm16`` ->
                                         ``{"type": "audio/pcm", "rate": 24000}``, ``g711_ulaw``
                                         -> ``{"type": "audio/pcmu"}``, ``g711_alaw`` ->
                                         ``{"type": "audio/pcma"}``)
``input_audio_transcription``            ``audio.input.transcription``
``input_audio_noise_reduction``          ``audio.input.noise_reduction``
``turn_detection``                       ``audio.input.turn_detection`` (``type`` defaults to
                                         ``server_vad``; fields of the other VAD type dropped)
``output_audio_format``, ``voice``,      ``audio.output.format``, ``audio.output.voice``,
``speed``                                ``audio.output.speed`` (responses: no speed)
``max_response_output_tokens``           ``max_output_tokens``
``tool_choice`` ``auto|none|required``   the same string
``tool_choice`` any other string         ``{"type": "function", "name": <string>}``
``instructions``, ``tools``,             unchanged
``tracing``, ``model``, ``include``,
``conversation``, ``metadata``
``temperature`` (0.6..1.2)               validated, then dropped (GA has no temperature)
``client_secret``                        validated, then dropped (only meaningful over REST)
``modalities`` of a transcription        validated, then dropped (a transcription session
session                                  never responds)
=======================================  ===================================================

Server events, GA -> beta:

==============================================  ============================================
GA                                              beta
==============================================  ============================================
``session.created`` (realtime)                  ``session.created``, session flattened
``session.updated`` (realtime)                  ``session.updated``, session flattened
``session.created`` (transcription)             ``session.created``, transcription fields
                                                flattened (the beta union has no
                                                ``transcription_session.created``)
``session.updated`` (transcription)             ``transcription_session.updated``
``conversation.item.added``                     ``conversation.item.created``
                                                (``previous_item_id`` kept)
``response.output_audio.delta/.done``           ``response.audio.delta/.done``
``response.output_audio_transcript.*``          ``response.audio_transcript.*``
``response.output_text.delta/.done``            ``response.text.delta/.done``
``response.created``, ``response.done``         same; response object with ``modalities``,
                                                ``voice``, ``output_audio_format``
``response.function_call_arguments.done``       same without ``name``
``conversation.item.input_audio_transcription   same without ``languages``
.completed``
``error``                                       same; ``param`` (and the path in the message)
                                                mapped to the beta path
items everywhere (item events,                  assistant content ``output_text`` /
``response.output_item.*``, ``response.done``   ``output_audio`` -> ``text`` / ``audio``;
output, ``conversation.item.retrieved``)        ``input_image`` parts dropped
other events in both unions                     unchanged (top-level fields the beta model
                                                lacks are removed)
==============================================  ============================================

Dropped server events (no beta equivalent; :data:`DROPPED_SERVER_EVENT_TYPES`):
``conversation.item.done`` (beta announces an item once, with ``conversation.item.created``),
``input_audio_buffer.timeout_triggered`` (beta clients cannot set ``idle_timeout_ms``; the commit
and response that follow it are still sent), ``conversation.item.input_audio_transcription
.segment``, ``input_audio_buffer.dtmf_event_received``, ``mcp_list_tools.*``,
``response.mcp_call.*``, ``response.mcp_call_arguments.*``, any unknown type, and item events
whose item is not a message or function call (MCP items cannot be expressed in beta).

Session fields GA has and beta lacks are left out of beta sessions: ``truncation``, ``prompt``,
``include`` (realtime sessions), ``idle_timeout_ms``, noise reduction ``strength``, the newer
transcription fields; ``model`` is left out when it is not one of the beta schema's model names.
Beta's ``temperature`` is never reported (the server has none to report).
"""

from __future__ import annotations

import copy
import json
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Union

import typing_extensions
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.beta.realtime import (
    conversation_item_content_param,
    conversation_item_param,
    conversation_item_with_reference_param,
    response_create_event_param,
    session_update_event_param,
    transcription_session_update_param,
)
from openai.types.beta.realtime import transcription_session as beta_transcription_session
from openai.types.beta.realtime.conversation_item_create_event_param import (
    ConversationItemCreateEventParam,
)
from openai.types.beta.realtime.conversation_item_delete_event_param import (
    ConversationItemDeleteEventParam,
)
from openai.types.beta.realtime.conversation_item_retrieve_event_param import (
    ConversationItemRetrieveEventParam,
)
from openai.types.beta.realtime.conversation_item_truncate_event_param import (
    ConversationItemTruncateEventParam,
)
from openai.types.beta.realtime.input_audio_buffer_append_event_param import (
    InputAudioBufferAppendEventParam,
)
from openai.types.beta.realtime.input_audio_buffer_clear_event_param import (
    InputAudioBufferClearEventParam,
)
from openai.types.beta.realtime.input_audio_buffer_commit_event_param import (
    InputAudioBufferCommitEventParam,
)
from openai.types.beta.realtime.realtime_client_event_param import OutputAudioBufferClear
from openai.types.beta.realtime.response_cancel_event_param import ResponseCancelEventParam
from openai.types.beta.realtime.session import Session as BetaSession
from openai.types.beta.realtime.transcription_session_update_param import (
    TranscriptionSessionUpdateParam,
)
from pydantic import BaseModel, TypeAdapter, ValidationError

from protocol import validation
from protocol.client_event import ClientEvent
from protocol.errors import ProtocolError

__all__ = [
    "BETA_CLIENT_EVENT_TYPES",
    "DROPPED_SERVER_EVENT_TYPES",
    "GA_TO_BETA_PARAMS",
    "BetaServerTranslator",
    "beta_param",
    "parse_beta_client_event",
]

# =============================================================================================
# Client events: the beta schema
# =============================================================================================

# The beta client events, in the order the "unknown type" error lists them.
_BETA_EVENT_SCHEMAS: dict[str, type] = {
    "session.update": session_update_event_param.SessionUpdateEventParam,
    "transcription_session.update": TranscriptionSessionUpdateParam,
    "input_audio_buffer.append": InputAudioBufferAppendEventParam,
    "input_audio_buffer.commit": InputAudioBufferCommitEventParam,
    "input_audio_buffer.clear": InputAudioBufferClearEventParam,
    "conversation.item.create": ConversationItemCreateEventParam,
    "conversation.item.retrieve": ConversationItemRetrieveEventParam,
    "conversation.item.truncate": ConversationItemTruncateEventParam,
    "conversation.item.delete": ConversationItemDeleteEventParam,
    "response.create": response_create_event_param.ResponseCreateEventParam,
    "response.cancel": ResponseCancelEventParam,
    "output_audio_buffer.clear": OutputAudioBufferClear,
}

BETA_CLIENT_EVENT_TYPES: tuple[str, ...] = tuple(_BETA_EVENT_SCHEMAS)
"""The beta client event types accepted, in the order the error message lists them."""

# Events whose beta and GA schemas are identical (checked by the tests): their translation is the
# identity, so the GA re-check after translation is skipped (it would decode appended audio twice).
_UNCHANGED_EVENTS = frozenset(BETA_CLIENT_EVENT_TYPES) - {
    "session.update",
    "transcription_session.update",
    "conversation.item.create",
    "response.create",
}

# Corrections to the beta TypedDicts, as validation.py makes for GA. Documented as clearable with
# ``null`` although the SDK annotation lacks ``None``:
_BETA_NULLABLE_FIELDS: frozenset[tuple[type, str]] = frozenset(
    {
        *(
            (owner, name)
            for owner in (
                session_update_event_param.Session,
                transcription_session_update_param.Session,
            )
            for name in (
                "turn_detection",
                "input_audio_transcription",
                "input_audio_noise_reduction",
            )
        ),
        (session_update_event_param.Session, "tracing"),
    }
)
# Optional in the SDK but required by the API (GA requires the same fields; catching them here
# gives the error before translation):
_BETA_REQUIRED_FIELDS: frozenset[tuple[type, str]] = frozenset(
    {
        (conversation_item_param.ConversationItemParam, "type"),
        (conversation_item_content_param.ConversationItemContentParam, "type"),
        (conversation_item_with_reference_param.ConversationItemWithReferenceParam, "type"),
        (conversation_item_with_reference_param.Content, "type"),
        (session_update_event_param.SessionTool, "name"),
        (response_create_event_param.ResponseTool, "name"),
    }
)


class _Mirror:
    """``validation._mirror`` generalised to any set of corrections.

    validation.py hard-wires its GA corrections into a module-level mirror; this is the same
    algorithm (strict TypedDict copies, ``Iterable`` -> ``list``, discriminated unions) with the
    corrections as parameters. The union machinery itself is validation.py's, so a mirrored beta
    schema plugs straight into its error translation.
    """

    def __init__(
        self, nullable: frozenset[tuple[type, str]], required: frozenset[tuple[type, str]]
    ) -> None:
        self._nullable = nullable
        self._required = required
        self._cache: dict[type, type] = {}

    def __call__(self, tp: Any) -> Any:
        origin = typing.get_origin(tp)
        if typing_extensions.is_typeddict(tp):
            return self._typeddict(tp)
        if origin in (Union, types.UnionType):
            return self._union(typing.get_args(tp))
        if origin in (list, Iterable, Sequence):
            (item,) = typing.get_args(tp)
            return list[self(item)]  # type: ignore[misc]
        if origin is dict:
            key, value = typing.get_args(tp)
            return dict[key, self(value)]  # type: ignore[valid-type]
        return tp

    def _typeddict(self, cls: type) -> type:
        if cls in self._cache:
            return self._cache[cls]
        fields: dict[str, Any] = {}
        for name, hint in typing_extensions.get_type_hints(cls, include_extras=True).items():
            wrapper_origin = typing.get_origin(hint)
            required = wrapper_origin is typing_extensions.Required or (
                getattr(cls, "__total__", True)
                and wrapper_origin is not typing_extensions.NotRequired
            )
            if wrapper_origin in (typing_extensions.Required, typing_extensions.NotRequired):
                (hint,) = typing.get_args(hint)
            mirrored = self(hint)
            if (cls, name) in self._nullable:
                mirrored = mirrored | None
            required = required or (cls, name) in self._required
            wrapper = typing_extensions.Required if required else typing_extensions.NotRequired
            fields[name] = wrapper[mirrored]
        mirror = typing_extensions.TypedDict(cls.__name__, fields)  # type: ignore[operator]
        mirror.__pydantic_config__ = validation._STRICT  # type: ignore[attr-defined]
        self._cache[cls] = mirror
        return mirror

    def _union(self, args: tuple[Any, ...]) -> Any:
        nullable = type(None) in args
        members = [self(arg) for arg in args if arg is not type(None)]
        objects = [m for m in members if typing_extensions.is_typeddict(m)]
        scalars = [m for m in members if not typing_extensions.is_typeddict(m)]
        if len(members) == 1:
            result = members[0]
        elif not objects or (len(objects) == 1 and not scalars):
            result = validation._union_of(members)
        else:
            result = validation._discriminated_union(objects, scalars)
        return result | None if nullable else result


_beta_mirror = _Mirror(_BETA_NULLABLE_FIELDS, _BETA_REQUIRED_FIELDS)
_BETA_MIRRORED: dict[str, Any] = {t: _beta_mirror(s) for t, s in _BETA_EVENT_SCHEMAS.items()}
_BETA_ADAPTERS: dict[str, TypeAdapter[Any]] = {t: TypeAdapter(s) for t, s in _BETA_MIRRORED.items()}

# =============================================================================================
# Client events: validation
# =============================================================================================


def parse_beta_client_event(raw: str | bytes) -> ClientEvent:
    """Parse and validate one beta client frame; return the equivalent GA client event.

    Raises :class:`ProtocolError` with the code, message and ``param`` (a beta path, e.g.
    ``session.input_audio_format``) the real API would use; errors echo a string ``event_id``.
    The returned GA event passes :func:`protocol.validation.parse_client_event`.
    """
    event = validation._decode_frame(raw)
    event_id = event.get("event_id")
    try:
        event_type = _check_beta_event_type(event)
        _check_beta_schema(event_type, event)
        _BETA_SEMANTIC_CHECKS.get(event_type, _no_check)(event)
        ga_event = _CLIENT_TRANSLATORS.get(event_type, _unchanged)(event)
        if event_type not in _UNCHANGED_EVENTS:
            _check_ga(ga_event)
    except ProtocolError as exc:
        raise exc.with_event_id(event_id if isinstance(event_id, str) else None) from None
    return validation.parse_client_event(json.dumps(ga_event))  # temporary


def _check_beta_event_type(event: dict[str, Any]) -> str:
    """Return the event's ``type`` if it is one of the beta client events."""
    if "type" not in event:
        raise validation._missing("type")
    event_type = event["type"]
    if not isinstance(event_type, str):
        raise validation._invalid_type("type", "a string", event_type)
    if event_type not in _BETA_ADAPTERS:
        raise validation._invalid_value("type", event_type, BETA_CLIENT_EVENT_TYPES)
    return event_type


def _check_beta_schema(event_type: str, event: dict[str, Any]) -> None:
    """Validate against the mirrored beta schema; raise the most relevant error, API-worded."""
    try:
        _BETA_ADAPTERS[event_type].validate_python(event)
    except ValidationError as exc:
        schema = _BETA_MIRRORED[event_type]
        raise validation._most_relevant(exc.errors(include_url=False), schema) from None


def _check_ga(ga_event: dict[str, Any]) -> None:
    """Re-check a translated event against the GA schema; errors get their beta paths back.

    The beta schema is looser than GA in places (items are one flat TypedDict, tools need not
    say ``function``), so the GA check is what guarantees the core gets a valid event.
    """
    try:
        validation._check_schema(ga_event["type"], ga_event)
        validation._check_semantics(ga_event["type"], ga_event)
    except ProtocolError as exc:
        raise _beta_error(exc) from None


def _no_check(event: dict[str, Any]) -> None:
    """Nothing beyond the schema to check."""


TEMPERATURE_MIN, TEMPERATURE_MAX = 0.6, 1.2
"""The beta ``temperature`` range (accepted, validated, not used)."""


def _check_beta_session_update(event: dict[str, Any]) -> None:
    session = event["session"]
    _check_turn_detection(session.get("turn_detection"), "session.turn_detection")
    validation._check_range(session, "speed", "session", minimum=0.25, maximum=1.5)
    _check_generation_settings(session, "session")


def _check_beta_transcription_session_update(event: dict[str, Any]) -> None:
    session = event["session"]
    _check_turn_detection(session.get("turn_detection"), "session.turn_detection")
    _check_modalities(session.get("modalities"), "session.modalities")


def _check_beta_response_create(event: dict[str, Any]) -> None:
    _check_generation_settings(event.get("response", {}), "response")


def _check_turn_detection(turn_detection: dict[str, Any] | None, path: str) -> None:
    """VAD ranges; beta has one flat turn detection object, so they apply to either type."""
    if turn_detection is None:
        return
    validation._check_range(turn_detection, "threshold", path, minimum=0.0, maximum=1.0)
    for name in ("prefix_padding_ms", "silence_duration_ms"):
        validation._check_range(turn_detection, name, path, minimum=0)


def _check_generation_settings(settings: dict[str, Any], path: str) -> None:
    """``temperature``, ``max_response_output_tokens``, ``modalities`` (sessions and responses)."""
    validation._check_range(
        settings, "temperature", path, minimum=TEMPERATURE_MIN, maximum=TEMPERATURE_MAX
    )
    validation._check_range(settings, "max_response_output_tokens", path, minimum=1, maximum=4096)
    _check_modalities(settings.get("modalities"), f"{path}.modalities")


def _check_modalities(modalities: list[str] | None, param: str) -> None:
    """Beta allows ``["text"]`` and ``["audio", "text"]`` (any order); ``["audio"]`` is taken as
    the latter, since GA's ``["audio"]`` also streams the transcript. Only ``[]`` is refused."""
    if modalities is not None and not modalities:
        raise ProtocolError(
            "invalid_value",
            "Invalid modalities: []. Supported combinations are: ['text'] and ['audio', 'text'].",
            param=param,
        )


_BETA_SEMANTIC_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "session.update": _check_beta_session_update,
    "transcription_session.update": _check_beta_transcription_session_update,
    "response.create": _check_beta_response_create,
    "conversation.item.truncate": validation._check_truncate,
    "input_audio_buffer.append": validation._check_audio_append,
}

# =============================================================================================
# Client events: translation beta -> GA
# =============================================================================================

_FORMAT_TO_GA: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_TOOL_CHOICE_OPTIONS = ("auto", "none", "required")
# The fields each GA turn detection type takes; beta's single flat object may hold both sets.
_TURN_DETECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "server_vad": (
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "create_response",
        "interrupt_response",
    ),
    "semantic_vad": ("eagerness", "create_response", "interrupt_response"),
}
# Beta assistant content types and their GA names (user and system content is named alike).
_ASSISTANT_CONTENT_TO_GA = {"text": "output_text", "audio": "output_audio"}


def _unchanged(event: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(event)


def _envelope(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A GA event of the same type (or another) with the beta event's ``event_id``."""
    ga: dict[str, Any] = {"type": event["type"]}
    if "event_id" in event:
        ga["event_id"] = event["event_id"]
    ga.update(fields)
    return ga


def _session_update_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    session = event["session"]
    ga: dict[str, Any] = {"type": "realtime"}
    for name in ("model", "instructions", "tools", "tracing"):
        if name in session:
            ga[name] = copy.deepcopy(session[name])
    if "tool_choice" in session:
        ga["tool_choice"] = _tool_choice_to_ga(session["tool_choice"])
    _generation_settings_to_ga(session, ga)
    audio_input = _audio_input_to_ga(session)
    audio_output = _audio_output_to_ga(session, with_speed=True)
    audio = {k: v for k, v in (("input", audio_input), ("output", audio_output)) if v}
    if audio:
        ga["audio"] = audio
    # temperature and client_secret have no GA counterpart: validated above, dropped here.
    return _envelope(event, session=ga)


def _transcription_session_update_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    session = event["session"]
    ga: dict[str, Any] = {"type": "transcription"}
    audio_input = _audio_input_to_ga(session)
    if audio_input:
        ga["audio"] = {"input": audio_input}
    if "include" in session:
        ga["include"] = list(session["include"])
    # modalities and client_secret: validated, dropped (a transcription session never responds).
    return {**_envelope(event, session=ga), "type": "session.update"}


def _generation_settings_to_ga(beta: dict[str, Any], ga: dict[str, Any]) -> None:
    """``modalities`` and ``max_response_output_tokens``, shared by sessions and responses."""
    if "modalities" in beta:
        ga["output_modalities"] = _modalities_to_ga(beta["modalities"])
    if "max_response_output_tokens" in beta:
        ga["max_output_tokens"] = beta["max_response_output_tokens"]


def _modalities_to_ga(modalities: list[str]) -> list[str]:
    """GA's ``["audio"]`` streams the transcript too, i.e. it is beta's ``["audio", "text"]``."""
    return ["audio"] if "audio" in modalities else ["text"]


def _audio_input_to_ga(session: dict[str, Any]) -> dict[str, Any]:
    audio_input: dict[str, Any] = {}
    if "input_audio_format" in session:
        audio_input["format"] = dict(_FORMAT_TO_GA[session["input_audio_format"]])
    if "input_audio_transcription" in session:
        audio_input["transcription"] = copy.deepcopy(session["input_audio_transcription"])
    if "input_audio_noise_reduction" in session:
        audio_input["noise_reduction"] = copy.deepcopy(session["input_audio_noise_reduction"])
    if "turn_detection" in session:
        audio_input["turn_detection"] = _turn_detection_to_ga(session["turn_detection"])
    return audio_input


def _audio_output_to_ga(settings: dict[str, Any], *, with_speed: bool) -> dict[str, Any]:
    audio_output: dict[str, Any] = {}
    if "output_audio_format" in settings:
        audio_output["format"] = dict(_FORMAT_TO_GA[settings["output_audio_format"]])
    if "voice" in settings:
        audio_output["voice"] = settings["voice"]
    if with_speed and "speed" in settings:
        audio_output["speed"] = settings["speed"]
    return audio_output


def _turn_detection_to_ga(turn_detection: dict[str, Any] | None) -> dict[str, Any] | None:
    """Beta's ``type`` is optional (the API's default is ``server_vad``); GA requires it.

    Fields that belong to the other VAD type (``eagerness`` for server VAD, ``threshold`` and
    the durations for semantic VAD) mean nothing there; they are dropped rather than refused,
    since the beta schema allows them.
    """
    if turn_detection is None:
        return None
    kind = turn_detection.get("type", "server_vad")
    fields = _TURN_DETECTION_FIELDS[kind]
    return {"type": kind, **{k: turn_detection[k] for k in fields if k in turn_detection}}


def _tool_choice_to_ga(tool_choice: str) -> str | dict[str, Any]:
    """Beta's ``tool_choice`` is a string: an option, or (any other string) a function's name."""
    if tool_choice in _TOOL_CHOICE_OPTIONS:
        return tool_choice
    return {"type": "function", "name": tool_choice}


def _item_create_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    ga = _unchanged(event)
    ga["item"] = _item_to_ga(event["item"])
    return ga


def _item_to_ga(item: dict[str, Any]) -> dict[str, Any]:
    """A beta item (or item reference) as GA: only assistant content types are renamed."""
    ga = copy.deepcopy(item)
    if ga.get("role") == "assistant":
        for part in ga.get("content", []):
            part["type"] = _ASSISTANT_CONTENT_TO_GA.get(part.get("type"), part.get("type"))
    return ga


def _response_create_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    if "response" not in event:
        return _unchanged(event)
    response = event["response"]
    ga: dict[str, Any] = {}
    for name in ("conversation", "instructions", "metadata", "tools"):
        if name in response:
            ga[name] = copy.deepcopy(response[name])
    if "tool_choice" in response:
        ga["tool_choice"] = _tool_choice_to_ga(response["tool_choice"])
    if "input" in response:
        ga["input"] = [_item_to_ga(entry) for entry in response["input"]]
    _generation_settings_to_ga(response, ga)
    audio_output = _audio_output_to_ga(response, with_speed=False)
    if audio_output:
        ga["audio"] = {"output": audio_output}
    # temperature: validated, dropped.
    return _envelope(event, response=ga)


_CLIENT_TRANSLATORS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "session.update": _session_update_to_ga,
    "transcription_session.update": _transcription_session_update_to_ga,
    "conversation.item.create": _item_create_to_ga,
    "response.create": _response_create_to_ga,
}

# =============================================================================================
# Parameter paths GA -> beta (client errors from the GA re-check, and server ``error`` events)
# =============================================================================================

GA_TO_BETA_PARAMS: dict[str, str] = {
    "session.audio.input.format": "session.input_audio_format",
    "session.audio.input.transcription": "session.input_audio_transcription",
    "session.audio.input.noise_reduction": "session.input_audio_noise_reduction",
    "session.audio.input.turn_detection": "session.turn_detection",
    "session.audio.output.format": "session.output_audio_format",
    "session.audio.output.voice": "session.voice",
    "session.audio.output.speed": "session.speed",
    "session.output_modalities": "session.modalities",
    "session.max_output_tokens": "session.max_response_output_tokens",
    "response.audio.output.format": "response.output_audio_format",
    "response.audio.output.voice": "response.voice",
    "response.output_modalities": "response.modalities",
    "response.max_output_tokens": "response.max_response_output_tokens",
}
"""GA parameter path prefixes and the beta paths they come from."""


def beta_param(param: str | None) -> str | None:
    """The beta path of a GA parameter path (unchanged when both dialects name it alike)."""
    if param is None:
        return None
    for ga_prefix, beta_prefix in GA_TO_BETA_PARAMS.items():
        rest = param[len(ga_prefix) :]
        if param.startswith(ga_prefix) and (not rest or rest[0] in ".["):
            return beta_prefix + rest
    return param


def _beta_error(error: ProtocolError) -> ProtocolError:
    """The same error, with its ``param`` (and that path in its message) in beta terms."""
    param = beta_param(error.param)
    message = error.message
    if error.param and param != error.param:
        message = message.replace(f"'{error.param}'", f"'{param}'")
    return ProtocolError(
        error.code,
        message,
        param=param,
        event_id=error.event_id,
        error_type=error.error_type,
    )


# =============================================================================================
# Server events: GA -> beta
# =============================================================================================


def _beta_server_models() -> dict[str, type[BaseModel]]:
    """Beta server event type -> its SDK model, read from the beta union itself."""
    union = typing.get_args(BetaServerEvent)[0]
    return {
        typing.get_args(model.model_fields["type"].annotation)[0]: model
        for model in typing.get_args(union)
    }


_BETA_SERVER_MODELS = _beta_server_models()

DROPPED_SERVER_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "conversation.item.done",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
    }
)
"""GA server events with no beta equivalent: never forwarded (nor is any unknown type)."""

_RENAMED_SERVER_EVENTS: dict[str, str] = {
    "conversation.item.added": "conversation.item.created",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
}

_FORMAT_TO_BETA: dict[str, str] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}
_CONTENT_TO_BETA = {"output_text": "text", "output_audio": "audio"}
_BETA_CONTENT_TYPES = ("input_text", "input_audio", "item_reference", "text", "audio")
_BETA_CONTENT_FIELDS = ("type", "id", "text", "transcript", "audio")
_BETA_ITEM_TYPES = ("message", "function_call", "function_call_output")
_BETA_ITEM_FIELDS = (
    "id",
    "object",
    "type",
    "status",
    "role",
    "content",
    "call_id",
    "name",
    "arguments",
    "output",
)
_BETA_USAGE_FIELDS = {
    "total_tokens": None,
    "input_tokens": None,
    "output_tokens": None,
    "input_token_details": ("text_tokens", "audio_tokens", "cached_tokens"),
    "output_token_details": ("text_tokens", "audio_tokens"),
}
_TOOL_FIELDS = ("type", "name", "description", "parameters")


def _literal_values(model: type[BaseModel], name: str) -> tuple[str, ...]:
    """The values an ``Optional[Literal[...]]`` field of an SDK model allows."""
    annotation = model.model_fields[name].annotation
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is Literal:
            return typing.get_args(arg)
    return ()


# Beta sessions name their model with a closed Literal; another name would fail the schema.
_BETA_MODELS = _literal_values(BetaSession, "model")
_BETA_TRANSCRIPTION_MODELS = _literal_values(
    beta_transcription_session.InputAudioTranscription, "model"
)

Events = list[dict[str, Any]]


class BetaServerTranslator:
    """Turns the GA server events of one connection into beta server events.

    The translation needs no memory of earlier events today (every GA event carries what its beta
    form needs: a session says its type, an item its role), but it is a per-connection object so
    that it can keep some without changing its callers.
    """

    def translate(self, event: dict[str, Any]) -> Events:
        """The beta events for one GA server event: none (no beta equivalent) or one."""
        event_type = event.get("type")
        if not isinstance(event_type, str) or event_type in DROPPED_SERVER_EVENT_TYPES:
            return []
        handler = _SERVER_HANDLERS.get(event_type)
        if handler is not None:
            beta = handler(event)
        elif event_type in _RENAMED_SERVER_EVENTS:
            beta = {**event, "type": _RENAMED_SERVER_EVENTS[event_type]}
        elif event_type in _BETA_SERVER_MODELS:
            beta = dict(event)
        else:
            return []
        return [_project(beta)] if beta is not None else []


def _project(event: dict[str, Any]) -> dict[str, Any]:
    """Keep only the top-level fields the beta model of the event declares.

    This is what removes GA-only fields such as ``name`` from
    ``response.function_call_arguments.done`` and ``languages`` from the transcription event.
    """
    fields = _BETA_SERVER_MODELS[event["type"]].model_fields
    return {k: v for k, v in event.items() if k in fields}


# --- sessions ---------------------------------------------------------------------------------


def _session_created(event: dict[str, Any]) -> dict[str, Any]:
    session = event["session"]
    if session.get("type") == "transcription":
        # The real beta API sent "transcription_session.created", which the SDK's beta union does
        # not have; "session.created" with the transcription fields is the schema's answer.
        return {**event, "session": _transcription_session_to_beta(session)}
    return {**event, "session": _realtime_session_to_beta(session)}


def _session_updated(event: dict[str, Any]) -> dict[str, Any]:
    session = event["session"]
    if session.get("type") == "transcription":
        beta_session = _transcription_session_to_beta(session)
        # TranscriptionSession requires client_secret {value, expires_at}. Over WebSocket no
        # secret is minted; an empty value says so and keeps the event schema-valid.
        beta_session["client_secret"] = {"value": "", "expires_at": session.get("expires_at", 0)}
        return {**event, "type": "transcription_session.updated", "session": beta_session}
    return {**event, "session": _realtime_session_to_beta(session)}


def _realtime_session_to_beta(session: dict[str, Any]) -> dict[str, Any]:
    """A GA realtime session object flattened into the beta session object."""
    beta: dict[str, Any] = _session_identity(session)
    if session.get("model") in _BETA_MODELS:
        beta["model"] = session["model"]
    if "output_modalities" in session:
        beta["modalities"] = _modalities_to_beta(session["output_modalities"])
    if "instructions" in session:
        beta["instructions"] = session["instructions"]
    beta.update(_audio_input_to_beta(session.get("audio", {}).get("input", {}), realtime=True))
    audio_output = session.get("audio", {}).get("output", {})
    if "voice" in audio_output:
        beta["voice"] = _voice_to_beta(audio_output["voice"])
    _set_format(beta, "output_audio_format", audio_output.get("format"))
    if "speed" in audio_output:
        beta["speed"] = audio_output["speed"]
    if "tools" in session:
        beta["tools"] = _tools_to_beta(session["tools"])
    tool_choice = _tool_choice_to_beta(session.get("tool_choice"))
    if tool_choice is not None:
        beta["tool_choice"] = tool_choice
    if "max_output_tokens" in session:
        beta["max_response_output_tokens"] = session["max_output_tokens"]
    if "tracing" in session:
        beta["tracing"] = copy.deepcopy(session["tracing"])
    return beta


def _transcription_session_to_beta(session: dict[str, Any]) -> dict[str, Any]:
    """A GA transcription session flattened into the beta transcription session's fields."""
    beta = _session_identity(session)
    beta.update(_audio_input_to_beta(session.get("audio", {}).get("input", {}), realtime=False))
    if "include" in session:
        beta["include"] = copy.deepcopy(session["include"])
    return beta


def _session_identity(session: dict[str, Any]) -> dict[str, Any]:
    """``id``, ``object`` and ``expires_at``, which the real beta API also reported."""
    return {k: session[k] for k in ("id", "object", "expires_at") if k in session}


def _audio_input_to_beta(audio_input: dict[str, Any], *, realtime: bool) -> dict[str, Any]:
    beta: dict[str, Any] = {}
    _set_format(beta, "input_audio_format", audio_input.get("format"))
    if "transcription" in audio_input:
        beta["input_audio_transcription"] = _transcription_to_beta(
            audio_input["transcription"], realtime=realtime
        )
    if "noise_reduction" in audio_input:
        noise_reduction = audio_input["noise_reduction"]
        beta["input_audio_noise_reduction"] = (
            None if noise_reduction is None else _pick(noise_reduction, ("type",))
        )
    if "turn_detection" in audio_input:
        beta["turn_detection"] = _turn_detection_to_beta(
            audio_input["turn_detection"], realtime=realtime
        )
    return beta


def _set_format(beta: dict[str, Any], name: str, ga_format: dict[str, Any] | None) -> None:
    """Set a beta format name from a GA format object (left out if it has no beta name)."""
    if ga_format is not None and ga_format.get("type") in _FORMAT_TO_BETA:
        beta[name] = _FORMAT_TO_BETA[ga_format["type"]]


def _transcription_to_beta(
    transcription: dict[str, Any] | None, *, realtime: bool
) -> dict[str, Any] | None:
    if transcription is None:
        return None
    beta = _pick(transcription, ("model", "language", "prompt"))
    # A transcription session's model is a closed Literal in beta; a realtime session's is a str.
    if not realtime and beta.get("model") not in _BETA_TRANSCRIPTION_MODELS:
        beta.pop("model", None)
    return beta


def _turn_detection_to_beta(
    turn_detection: dict[str, Any] | None, *, realtime: bool
) -> dict[str, Any] | None:
    """Beta's fields of the turn detection; ``idle_timeout_ms`` is GA only.

    ``create_response`` / ``interrupt_response`` are "not available for transcription sessions"
    in beta, so a transcription session does not report them.
    """
    if turn_detection is None:
        return None
    fields = _TURN_DETECTION_FIELDS.get(turn_detection.get("type", "server_vad"), ())
    if not realtime:
        fields = tuple(f for f in fields if f not in ("create_response", "interrupt_response"))
    return _pick(turn_detection, ("type", *fields))


def _modalities_to_beta(modalities: list[str]) -> list[str]:
    """GA ``["audio"]`` is beta ``["text", "audio"]`` (the order the beta docs use)."""
    return ["text", "audio"] if "audio" in modalities else ["text"]


def _voice_to_beta(voice: Any) -> Any:
    """GA also allows ``{"id": ...}`` (custom voices); beta only has the string."""
    return voice["id"] if isinstance(voice, dict) else voice


def _tools_to_beta(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Function tools only: beta has no MCP tools."""
    return [_pick(t, _TOOL_FIELDS) for t in tools if t.get("type", "function") == "function"]


def _tool_choice_to_beta(tool_choice: Any) -> str | None:
    """The reverse of :func:`_tool_choice_to_ga`; MCP choices have no beta form (``None``)."""
    if isinstance(tool_choice, str):
        return tool_choice
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        return tool_choice.get("name")
    return None


# --- items, content parts, responses ------------------------------------------------------------


def _item_to_beta(item: dict[str, Any]) -> dict[str, Any] | None:
    """A GA item in beta shape, or ``None`` if beta cannot express it (MCP items)."""
    if item.get("type") not in _BETA_ITEM_TYPES:
        return None
    beta = _pick(item, _BETA_ITEM_FIELDS)
    if "content" in beta:
        parts = (_part_to_beta(part) for part in item["content"])
        beta["content"] = [part for part in parts if part is not None]
    return beta


def _part_to_beta(part: dict[str, Any]) -> dict[str, Any] | None:
    """A content part in beta shape; ``None`` for parts beta lacks (``input_image``)."""
    kind = _CONTENT_TO_BETA.get(part.get("type"), part.get("type"))
    if kind not in _BETA_CONTENT_TYPES:
        return None
    return {**_pick(part, _BETA_CONTENT_FIELDS), "type": kind}


def _with_item(event: dict[str, Any]) -> dict[str, Any] | None:
    """Item events (``conversation.item.*``, ``response.output_item.*``): the item in beta shape.

    Dropped when beta cannot express the item. Also renames ``conversation.item.added``.
    """
    item = _item_to_beta(event["item"])
    if item is None:
        return None
    event_type = _RENAMED_SERVER_EVENTS.get(event["type"], event["type"])
    return {**event, "type": event_type, "item": item}


def _with_part(event: dict[str, Any]) -> dict[str, Any] | None:
    """``response.content_part.added/.done``: the part in beta shape."""
    part = _part_to_beta(event["part"])
    return None if part is None else {**event, "part": part}


def _with_response(event: dict[str, Any]) -> dict[str, Any]:
    """``response.created`` / ``response.done``: the response object in beta shape."""
    return {**event, "response": _response_to_beta(event["response"])}


def _response_to_beta(response: dict[str, Any]) -> dict[str, Any]:
    names = ("object", "id", "status", "status_details", "conversation_id", "metadata")
    beta = _pick(response, names)
    if "output" in response:
        items = (_item_to_beta(item) for item in response["output"])
        beta["output"] = [item for item in items if item is not None]
    if "output_modalities" in response:
        beta["modalities"] = _modalities_to_beta(response["output_modalities"])
    audio_output = (response.get("audio") or {}).get("output") or {}
    if "voice" in audio_output:
        beta["voice"] = _voice_to_beta(audio_output["voice"])
    _set_format(beta, "output_audio_format", audio_output.get("format"))
    if "max_output_tokens" in response:
        beta["max_output_tokens"] = response["max_output_tokens"]
    if "usage" in response:
        beta["usage"] = _usage_to_beta(response["usage"])
    return beta


def _usage_to_beta(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Usage with beta's fields (GA adds image tokens and cached-token details)."""
    if usage is None:
        return None
    beta: dict[str, Any] = {}
    for name, sub_fields in _BETA_USAGE_FIELDS.items():
        if name not in usage:
            continue
        value = usage[name]
        beta[name] = _pick(value, sub_fields) if sub_fields and isinstance(value, dict) else value
    return beta


def _error(event: dict[str, Any]) -> dict[str, Any]:
    """``error``: a GA ``param`` path (e.g. ``session.audio.output.voice``) in beta terms."""
    error = dict(event["error"])
    ga_param = error.get("param")
    param = beta_param(ga_param)
    if ga_param and param != ga_param:
        error["param"] = param
        if isinstance(error.get("message"), str):
            error["message"] = error["message"].replace(f"'{ga_param}'", f"'{param}'")
    return {**event, "error": error}


def _pick(source: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """A deep copy of the listed fields of ``source`` that are present."""
    return {name: copy.deepcopy(source[name]) for name in names if name in source}


_SERVER_HANDLERS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "session.created": _session_created,
    "session.updated": _session_updated,
    "conversation.item.added": _with_item,
    "conversation.item.retrieved": _with_item,
    "response.output_item.added": _with_item,
    "response.output_item.done": _with_item,
    "response.content_part.added": _with_part,
    "response.content_part.done": _with_part,
    "response.created": _with_response,
    "response.done": _with_response,
    "error": _error,
}


def _check_tables() -> None:
    """Every event the translator can emit is in the beta union (checked once, at import)."""
    emitted = {
        *_RENAMED_SERVER_EVENTS.values(),
        *(t for t in _SERVER_HANDLERS if t != "conversation.item.added"),
        "transcription_session.updated",
    }
    missing = emitted - set(_BETA_SERVER_MODELS)
    if missing:
        raise RuntimeError(f"beta translation emits events the beta union lacks: {missing}")


_check_tables()
