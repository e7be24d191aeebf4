"""The ``beta`` upstream dialect: a relayed session whose upstream speaks the beta Realtime API.

Such upstreams are Azure OpenAI's older ``/openai/realtime?api-version=2024-10-01-preview&...``
endpoint and older self-hosted servers (this server's own beta edge is one, which is what the
tests relay through). :class:`BetaUpstreamDialect` is the translation of :mod:`protocol.beta`
the other way round: GA client events out to beta, beta server events back to GA. It reuses that
package's tables and object flatteners, so both directions of both translations name things
alike (docs/protocol.md §9 has the mapping).

Client events, GA -> beta (``event_id`` is always kept):

===========================================  ==============================================
GA                                           beta
===========================================  ==============================================
``session.update`` (realtime)                ``session.update``, session flattened
                                             (``output_modalities`` -> ``modalities``,
                                             ``audio.input.*`` -> ``input_audio_format``,
                                             ``input_audio_transcription``, ``..._noise_
                                             reduction``, ``turn_detection``,
                                             ``audio.output.*`` -> ``output_audio_format``,
                                             ``voice``, ``speed``, ``max_output_tokens`` ->
                                             ``max_response_output_tokens``, function
                                             ``tool_choice`` -> its name)
``session.update`` (transcription)           ``transcription_session.update``
``conversation.item.create``                 same; assistant content ``output_text`` /
                                             ``output_audio`` -> ``text`` / ``audio``
``response.create``                          same, response settings flattened as a
                                             session's; ``input`` items as above, item
                                             references unchanged
all other client events                      unchanged (append, commit, clear, retrieve,
                                             truncate, delete, cancel,
                                             ``output_audio_buffer.clear``)
===========================================  ==============================================

GA client fields beta has no place for are dropped (the beta schema would refuse them, and the
upstream could not honour them): ``truncation``, ``prompt``, ``reasoning``,
``parallel_tool_calls``; ``include`` of a realtime session (a transcription session keeps it);
``audio.input.turn_detection.idle_timeout_ms``; noise reduction ``strength``; the newer
transcription fields (``delay``, ``keywords``, ``languages``); ``model`` unless it is one of the
beta schema's model names (the upstream's model is chosen when connecting); a transcription
session's transcription ``model`` outside beta's three names; a transcription session's
``create_response`` / ``interrupt_response`` ("not available for transcription sessions" in beta);
MCP tools and an MCP ``tool_choice``. A custom voice ``{"id": ...}`` is sent as its id string.
Content parts: ``input_image`` is dropped everywhere; in ``response.create`` input items,
``output_audio`` parts are dropped too (beta's response input has no ``audio`` part type). A
``conversation.item.create`` whose item beta cannot express (MCP items) is refused: the client
gets an ``error`` with code ``unsupported_by_upstream`` (:class:`~protocol.ProtocolError`, which the
relayed session answers with) and nothing goes upstream.

Server events, beta -> GA:

============================================  ================================================
beta                                          GA
============================================  ================================================
``session.created`` / ``session.updated``     same, session unflattened (``type: "realtime"``,
                                              or ``"transcription"`` when the session's
                                              ``object`` is ``realtime.transcription_session``)
``transcription_session.created`` /           ``session.created`` / ``session.updated``,
``transcription_session.updated``             ``type: "transcription"`` (``.created`` is what
                                              the real beta API sent; the SDK lacks it)
``conversation.created``                      dropped (our core never sends it to GA clients)
``conversation.item.created``                 ``conversation.item.added`` +
                                              ``conversation.item.done``, both with
                                              ``previous_item_id``; for an item a response is
                                              still generating, only ``.added``, and ``.done``
                                              (without ``previous_item_id``) right before its
                                              ``response.output_item.done`` (or its
                                              ``response.done``), as :mod:`realtime_session`
                                              does
``response.text.*``, ``response.audio.*``,    ``response.output_text.*``,
``response.audio_transcript.*``               ``response.output_audio.*``,
                                              ``response.output_audio_transcript.*``
``response.created`` / ``response.done``      same; ``modalities`` -> ``output_modalities``,
                                              ``voice`` / ``output_audio_format`` ->
                                              ``audio.output``; ``temperature`` dropped
``response.function_call_arguments.done``     same, with the function's ``name`` (remembered
                                              from the item's ``response.output_item.added``;
                                              ``""`` if it was never announced)
``conversation.item.input_audio_``           same; a missing ``usage`` (older servers) is
``transcription.completed``                   reported as ``{"type": "duration", "seconds":
                                              0.0}`` (GA requires one)
``error``                                     same; ``param`` (and that path in the message)
                                              mapped to the GA path
items everywhere                              assistant content ``text`` / ``audio`` ->
                                              ``output_text`` / ``output_audio``; parts GA has
                                              no place for (``item_reference``) dropped;
                                              ``conversation.item.added/.done`` without audio
                                              data, as GA announces items
all other events of the beta union            unchanged (top-level fields the GA model lacks
                                              are removed)
============================================  ================================================

Unknown event types are dropped, and so is an event too malformed to translate (logged): the
dialect never raises on what an upstream sends.

What a beta upstream cannot report, and so a GA client does not get: a session's ``truncation``,
``prompt``, ``include`` (realtime), ``idle_timeout_ms``, noise reduction ``strength``; usage's
``image_tokens`` and ``cached_tokens_details``; a transcription's ``languages``; the GA-only server
events (``input_audio_buffer.timeout_triggered``, transcription ``segment``, DTMF, MCP).
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable, Iterable
from typing import Any

from loguru import logger
from openai.types.realtime import RealtimeServerEvent as GAServerEvent
from pydantic import BaseModel

from protocol.beta.client_to_ga import translate_to_ga
from protocol.beta.objects import (
    item_to_beta,
    realtime_session_to_beta,
    transcription_session_to_beta,
)
from protocol.beta.params import FORMAT_TO_GA, TURN_DETECTION_FIELDS, ga_param
from protocol.errors import ProtocolError
from protocol.ids import new_id
from relay.dialects.base import Event

__all__ = ["DROPPED_UPSTREAM_EVENT_TYPES", "RENAMED_UPSTREAM_EVENTS", "BetaUpstreamDialect"]


def _ga_server_models() -> dict[str, type[BaseModel]]:
    """GA server event type -> its SDK model, read from the GA union itself."""
    union = typing.get_args(GAServerEvent)[0]
    return {
        typing.get_args(model.model_fields["type"].annotation)[0]: model
        for model in typing.get_args(union)
    }


_GA_SERVER_MODELS = _ga_server_models()

RENAMED_UPSTREAM_EVENTS: dict[str, str] = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
}
"""Beta server events that are GA events of another name and the same fields."""

DROPPED_UPSTREAM_EVENT_TYPES: frozenset[str] = frozenset({"conversation.created"})
"""Beta server events never forwarded (nor is any type GA lacks)."""

_SESSION_IDENTITY = ("id", "object", "expires_at")
_TRANSCRIPTION_SESSION_OBJECT = "realtime.transcription_session"

# The beta session fields :func:`translate_to_ga` maps, for each kind of session, and those whose
# ``null`` is a value (off) rather than "not reported".
_REALTIME_SESSION_FIELDS = (
    "model",
    "instructions",
    "tools",
    "tracing",
    "tool_choice",
    "modalities",
    "max_response_output_tokens",
    "input_audio_format",
    "input_audio_transcription",
    "input_audio_noise_reduction",
    "turn_detection",
    "output_audio_format",
    "voice",
    "speed",
)
_TRANSCRIPTION_SESSION_FIELDS = (
    "input_audio_format",
    "input_audio_transcription",
    "input_audio_noise_reduction",
    "turn_detection",
)
_NULLABLE_SESSION_FIELDS = frozenset(
    {"turn_detection", "input_audio_transcription", "input_audio_noise_reduction", "tracing"}
)

# The generation settings a GA response shares with a GA session, under the same names.
_RESPONSE_SETTINGS = (
    "output_modalities",
    "instructions",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "audio",
)
_RESPONSE_FIELDS = (
    "object",
    "id",
    "status",
    "status_details",
    "conversation_id",
    "metadata",
    "max_output_tokens",
    "usage",
)

# Per role: the beta content types GA has, their GA names, and the part fields GA keeps.
_CONTENT_TO_GA: dict[str, dict[str, str]] = {
    "user": {"input_text": "input_text", "input_audio": "input_audio"},
    "system": {"input_text": "input_text"},
    "assistant": {"text": "output_text", "audio": "output_audio"},
}
_PART_FIELDS: dict[str, tuple[str, ...]] = {
    "user": ("text", "audio", "transcript"),
    "system": ("text",),
    "assistant": ("text", "audio", "transcript"),
}
_ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "message": ("id", "object", "type", "status", "role"),
    "function_call": ("id", "object", "type", "status", "call_id"),
    "function_call_output": ("id", "object", "type", "status"),
}
# Fields GA requires of an item of this type (as strings) that a beta item may leave out.
_REQUIRED_ITEM_STRINGS: dict[str, tuple[str, ...]] = {
    "function_call": ("name", "arguments"),
    "function_call_output": ("call_id", "output"),
}

_UNKNOWN_TRANSCRIPTION_USAGE = {"type": "duration", "seconds": 0.0}

Events = list[Event]


class BetaUpstreamDialect:
    """Translates one relayed session's events between GA and a beta upstream.

    State (all of it bounded by the items of the responses in progress): the items a response
    is generating, whose ``conversation.item.done`` waits for their ``response.output_item.done``,
    and the names of the function calls they make, which GA's ``function_call_arguments.done``
    carries and beta's lacks.
    """

    name = "beta"

    def __init__(self) -> None:
        self._generating: set[str] = set()
        """Items announced by ``response.output_item.added`` and not done yet."""
        self._awaiting_done: set[str] = set()
        """Of those, the items whose ``conversation.item.added`` was sent: ``.done`` is owed."""
        self._call_names: dict[str, str] = {}
        """Function call item id -> function name, while the call is being generated."""
        self._handlers: dict[str, Callable[[Event], Events]] = {
            "session.created": _session_event,
            "session.updated": _session_event,
            "transcription_session.created": _session_event,
            "transcription_session.updated": _session_event,
            "conversation.item.created": self._item_created,
            "conversation.item.retrieved": _with_item,
            "response.output_item.added": self._output_item_added,
            "response.output_item.done": self._output_item_done,
            "response.created": _with_response,
            "response.done": self._response_done,
            "response.function_call_arguments.done": self._arguments_done,
            "conversation.item.input_audio_transcription.completed": _transcription_completed,
            "error": _error,
        }

    # --- GA client events -> beta ---------------------------------------------------------------

    def client_to_upstream(self, event: Event) -> list[Event]:
        """A validated GA client event as the beta client events (zero or one) it means."""
        translate = _CLIENT_TRANSLATORS.get(event["type"])
        return translate(event) if translate is not None else [event]

    def initial_upstream_events(self) -> list[Event]:
        """Nothing: a beta upstream's defaults are what a client of it expects."""
        return []

    def drain_client_events(self) -> list[Event]:
        """Nothing: what beta cannot do is refused with a ``ProtocolError`` instead."""
        return []

    # --- beta server events -> GA ---------------------------------------------------------------

    def upstream_to_client(self, event: Event) -> list[Event]:
        """One beta server event as the GA server events (zero, one or two) it means."""
        kind = event.get("type")
        if not isinstance(kind, str) or kind in DROPPED_UPSTREAM_EVENT_TYPES:
            return []
        try:
            events = self._translate(kind, event)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            logger.warning(f"dropped a malformed {kind} event from the beta upstream: {exc!r}")
            return []
        return [_project(ga) for ga in events]

    def _translate(self, kind: str, event: Event) -> Events:
        handler = self._handlers.get(kind)
        if handler is not None:
            return handler(event)
        if kind in RENAMED_UPSTREAM_EVENTS:
            return [{**event, "type": RENAMED_UPSTREAM_EVENTS[kind]}]
        if kind in _GA_SERVER_MODELS:
            return [dict(event)]
        return []

    def _item_created(self, event: Event) -> Events:
        """GA announces an item twice: ``.added``, then ``.done`` once it is complete."""
        item = item_to_ga(event["item"])
        if item is None:
            return []
        item = _without_audio(item)
        ordering = {k: event[k] for k in ("previous_item_id",) if k in event}
        added = {**_ids(event), "type": "conversation.item.added", **ordering, "item": item}
        item_id = item.get("id")
        if item_id in self._generating:
            self._awaiting_done.add(item_id)
            return [added]
        done = {"type": "conversation.item.done", "event_id": new_id("event"), **ordering}
        return [added, {**done, "item": copy.deepcopy(item)}]

    def _output_item_added(self, event: Event) -> Events:
        item = item_to_ga(event["item"])
        if item is None:
            return []
        if isinstance(item.get("id"), str):
            self._generating.add(item["id"])
            if item["type"] == "function_call":
                self._call_names[item["id"]] = item["name"]
        return [{**event, "item": item}]

    def _output_item_done(self, event: Event) -> Events:
        item = item_to_ga(event["item"])
        if item is None:
            return []
        return [*self._finish(item), {**event, "item": item}]

    def _response_done(self, event: Event) -> Events:
        """Items the response left unfinished are done with it (``status`` as it reports)."""
        response = response_to_ga(event["response"])
        finished: Events = []
        for item in response.get("output") or []:
            finished += self._finish(item)
        return [*finished, {**event, "response": response}]

    def _finish(self, item: Event) -> Events:
        """The ``conversation.item.done`` owed for a generated item (if any); forget the item."""
        item_id = item.get("id", "")
        self._generating.discard(item_id)
        self._call_names.pop(item_id, None)
        if item_id not in self._awaiting_done:
            return []
        self._awaiting_done.discard(item_id)
        done = {"type": "conversation.item.done", "event_id": new_id("event")}
        return [{**done, "item": _without_audio(item)}]

    def _arguments_done(self, event: Event) -> Events:
        name = self._call_names.get(event.get("item_id", ""), "")
        return [{**event, "name": name}]


# --- client events ------------------------------------------------------------------------------


def _envelope(event: Event, kind: str, **fields: Any) -> Event:
    """A beta event of type ``kind`` with the GA event's ``event_id``."""
    beta: Event = {"type": kind}
    if "event_id" in event:
        beta["event_id"] = event["event_id"]
    beta.update(fields)
    return beta


def _session_update_to_beta(event: Event) -> Events:
    """A GA session update is a GA session object in part: flattened the same way."""
    session = event["session"]
    if session.get("type") == "transcription":
        kind, beta = "transcription_session.update", transcription_session_to_beta(session)
    else:
        kind, beta = "session.update", realtime_session_to_beta(session)
    for name in _SESSION_IDENTITY:
        beta.pop(name, None)
    return [_envelope(event, kind, session=beta)]


def _item_create_to_beta(event: Event) -> Events:
    item = item_to_beta(event["item"])
    if item is None:
        raise ProtocolError(
            "unsupported_by_upstream",
            f"This model's upstream speaks the beta Realtime API, which has no "
            f"'{event['item'].get('type')}' items.",
            param="item.type",
        )
    ordering = {k: event[k] for k in ("previous_item_id",) if k in event}
    return [_envelope(event, "conversation.item.create", **ordering, item=item)]


def _response_create_to_beta(event: Event) -> Events:
    if "response" not in event:
        return [event]
    response = event["response"]
    # A response's generation settings are a session's, under the same names in both dialects
    # (docs/protocol.md §9), so the session flattening maps them; a response has no speed, model
    # or identity for it to carry over.
    beta = realtime_session_to_beta({k: response[k] for k in _RESPONSE_SETTINGS if k in response})
    for name in ("conversation", "metadata"):
        if name in response:
            beta[name] = copy.deepcopy(response[name])
    if "input" in response:
        items = (_input_item_to_beta(entry) for entry in response["input"])
        beta["input"] = [item for item in items if item is not None]
    return [_envelope(event, "response.create", response=beta)]


def _input_item_to_beta(item: Event) -> Event | None:
    """A ``response.create`` input item: a reference as it is, an item as for a create."""
    if item.get("type") == "item_reference":
        return {k: item[k] for k in ("type", "id") if k in item}
    beta = item_to_beta(item)
    if beta is not None and "content" in beta:
        beta["content"] = [part for part in beta["content"] if part.get("type") != "audio"]
    return beta


_CLIENT_TRANSLATORS: dict[str, Callable[[Event], Events]] = {
    "session.update": _session_update_to_beta,
    "conversation.item.create": _item_create_to_beta,
    "response.create": _response_create_to_beta,
}


# --- server events ------------------------------------------------------------------------------


def _ids(event: Event) -> Event:
    return {"event_id": event["event_id"]} if "event_id" in event else {}


def _project(event: Event) -> Event:
    """Keep the top-level fields the GA model of the event declares (an ``event_id`` is owed)."""
    fields = _GA_SERVER_MODELS[event["type"]].model_fields
    ga = {k: v for k, v in event.items() if k in fields}
    if not isinstance(ga.get("event_id"), str):
        ga["event_id"] = new_id("event")
    return ga


def _session_event(event: Event) -> Events:
    """``session.*`` and ``transcription_session.*``: GA's ``session.*`` with a GA session."""
    kind = event["type"]
    session = event["session"]
    transcription = (
        kind.startswith("transcription_session.")
        or session.get("object") == _TRANSCRIPTION_SESSION_OBJECT
    )
    ga_kind = "session." + kind.rsplit(".", 1)[1]
    return [{**event, "type": ga_kind, "session": session_to_ga(session, transcription)}]


def session_to_ga(session: Event, transcription: bool) -> Event:
    """A beta session object (realtime or transcription) as the GA session object.

    The fields are those :mod:`protocol.beta`'s client translation maps (a session object has the
    shape of a ``session.update``'s session), once cleared of what an update could not hold:
    ``null`` for "not reported", formats and turn detection types GA has no name for.
    """
    names = _TRANSCRIPTION_SESSION_FIELDS if transcription else _REALTIME_SESSION_FIELDS
    beta: Event = {}
    for name in names:
        value = session.get(name)
        if name in session and (value is not None or name in _NULLABLE_SESSION_FIELDS):
            beta[name] = value
    for name in ("input_audio_format", "output_audio_format"):
        if name in beta and beta[name] not in FORMAT_TO_GA:
            del beta[name]
    if isinstance(beta.get("turn_detection"), dict):
        turn_detection = {k: v for k, v in beta["turn_detection"].items() if v is not None}
        if turn_detection.get("type", "server_vad") in TURN_DETECTION_FIELDS:
            beta["turn_detection"] = turn_detection
        else:
            del beta["turn_detection"]
    if not isinstance(beta.get("tool_choice", ""), str):
        del beta["tool_choice"]
    if not isinstance(beta.get("modalities", []), list):
        del beta["modalities"]
    kind = "transcription_session.update" if transcription else "session.update"
    ga: Event = translate_to_ga({"type": kind, "session": beta})["session"]
    ga.update(_pick(session, _SESSION_IDENTITY))
    if "include" in session:
        ga["include"] = copy.deepcopy(session["include"])
    return ga


def item_to_ga(item: Event) -> Event | None:
    """A beta item as the GA item; ``None`` if GA has no such item (a message without a role)."""
    kind = item.get("type")
    if kind not in _ITEM_FIELDS:
        return None
    ga = _pick(item, _ITEM_FIELDS[kind])
    if kind == "message":
        role = item.get("role")
        if role not in _CONTENT_TO_GA:
            return None
        parts = (_part_to_ga(part, role) for part in item.get("content") or [])
        ga["content"] = [part for part in parts if part is not None]
    for name in _REQUIRED_ITEM_STRINGS.get(kind, ()):
        value = item.get(name)
        ga[name] = value if isinstance(value, str) else ""
    return ga


def _part_to_ga(part: Event, role: str) -> Event | None:
    kind = _CONTENT_TO_GA[role].get(part.get("type", ""))
    if kind is None:
        return None
    return {"type": kind, **_pick(part, _PART_FIELDS[role])}


def _without_audio(item: Event) -> Event:
    """An item as GA announces it: its content without audio data (``.retrieve`` returns it)."""
    if not any("audio" in part for part in item.get("content", [])):
        return item
    content = [{k: v for k, v in part.items() if k != "audio"} for part in item["content"]]
    return {**item, "content": content}


def _with_item(event: Event) -> Events:
    item = item_to_ga(event["item"])
    return [] if item is None else [{**event, "item": item}]


def response_to_ga(response: Event) -> Event:
    """A beta response object as the GA one."""
    ga = _pick(response, _RESPONSE_FIELDS)
    if "output" in response:
        output = response["output"]
        if output is not None:
            items = (item_to_ga(item) for item in output)
            output = [item for item in items if item is not None]
        ga["output"] = output
    # Modalities, voice and format are named as in a response.create: its translation maps them.
    settings = {
        k: response[k]
        for k in ("modalities", "voice", "output_audio_format")
        if response.get(k) is not None
    }
    if settings.get("output_audio_format", "pcm16") not in FORMAT_TO_GA:
        del settings["output_audio_format"]
    ga.update(translate_to_ga({"type": "response.create", "response": settings})["response"])
    return ga


def _with_response(event: Event) -> Events:
    return [{**event, "response": response_to_ga(event["response"])}]


def _transcription_completed(event: Event) -> Events:
    if event.get("usage") is not None:
        return [event]
    return [{**event, "usage": dict(_UNKNOWN_TRANSCRIPTION_USAGE)}]


def _error(event: Event) -> Events:
    """``error``: a beta ``param`` path (e.g. ``session.voice``) in GA terms."""
    error = dict(event["error"])
    beta_param = error.get("param")
    param = ga_param(beta_param)
    if beta_param and param != beta_param:
        error["param"] = param
        if isinstance(error.get("message"), str):
            error["message"] = error["message"].replace(f"'{beta_param}'", f"'{param}'")
    return [{**event, "error": error}]


def _pick(source: Event, names: Iterable[str]) -> Event:
    """A deep copy of the listed fields of ``source`` that are present."""
    return {name: copy.deepcopy(source[name]) for name in names if name in source}
