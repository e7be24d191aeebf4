"""GA server events -> beta server events, for a connection that speaks the beta dialect.

:class:`BetaServerTranslator` turns each GA server event the core emits into the beta server
events (zero or one) a beta client expects; each validates under the SDK's beta union
``openai.types.beta.realtime.RealtimeServerEvent`` in strict mode. The tables are in
:mod:`protocol.beta`'s docstring (docs/protocol.md §9).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from pydantic import BaseModel

from protocol.beta.objects import (
    item_to_beta,
    part_to_beta,
    realtime_session_to_beta,
    response_to_beta,
    transcription_session_to_beta,
)
from protocol.beta.params import beta_param

__all__ = ["DROPPED_SERVER_EVENT_TYPES", "BetaServerTranslator"]


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


def _session_created(event: dict[str, Any]) -> dict[str, Any]:
    session = event["session"]
    if session.get("type") == "transcription":
        # The real beta API sent "transcription_session.created", which the SDK's beta union does
        # not have; "session.created" with the transcription fields is the schema's answer.
        return {**event, "session": transcription_session_to_beta(session)}
    return {**event, "session": realtime_session_to_beta(session)}


def _session_updated(event: dict[str, Any]) -> dict[str, Any]:
    session = event["session"]
    if session.get("type") == "transcription":
        beta_session = transcription_session_to_beta(session)
        # TranscriptionSession requires client_secret {value, expires_at}. Over WebSocket no
        # secret is minted; an empty value says so and keeps the event schema-valid.
        beta_session["client_secret"] = {"value": "", "expires_at": session.get("expires_at", 0)}
        return {**event, "type": "transcription_session.updated", "session": beta_session}
    return {**event, "session": realtime_session_to_beta(session)}


def _with_item(event: dict[str, Any]) -> dict[str, Any] | None:
    """Item events (``conversation.item.*``, ``response.output_item.*``): the item in beta shape.

    Dropped when beta cannot express the item. Also renames ``conversation.item.added``.
    """
    item = item_to_beta(event["item"])
    if item is None:
        return None
    event_type = _RENAMED_SERVER_EVENTS.get(event["type"], event["type"])
    return {**event, "type": event_type, "item": item}


def _with_part(event: dict[str, Any]) -> dict[str, Any] | None:
    """``response.content_part.added/.done``: the part in beta shape."""
    part = part_to_beta(event["part"])
    return None if part is None else {**event, "part": part}


def _with_response(event: dict[str, Any]) -> dict[str, Any]:
    """``response.created`` / ``response.done``: the response object in beta shape."""
    return {**event, "response": response_to_beta(event["response"])}


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
