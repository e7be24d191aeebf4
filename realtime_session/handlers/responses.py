"""Response client events: ``response.create`` (with its per-response options) and cancel."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from protocol import ClientEvent, ProtocolError
from realtime_session.conversation import ItemRecord
from realtime_session.handlers.items import not_in_transcription_session, record_from_client_item
from realtime_session.reply_policy import tools_notice
from realtime_session.response import ResponseOptions
from realtime_session.session_config import SessionConfig

if TYPE_CHECKING:
    from realtime_session.session import Output, RealtimeSession


def on_create(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Open a response; one at a time in the default conversation, any number out of band."""
    if session.config.type != "realtime":
        raise not_in_transcription_session(event.type)
    params = event.data.get("response") or {}
    in_conversation = params.get("conversation", "auto") != "none"
    active = session.state.active
    if in_conversation and active is not None:
        raise ProtocolError(
            "conversation_already_has_active_response",
            "Conversation already has an active response in progress: "
            f"{active}. Wait until the response is finished before creating a new one.",
        )
    context = None
    if "input" in params:
        context = [_resolve_input(session, entry, i) for i, entry in enumerate(params["input"])]
    options = response_options(session.config, params, in_conversation, context)
    outputs = session.create_response(options)
    if {"tools", "tool_choice"} & params.keys():
        notice = tools_notice(
            options.tools, options.tool_choice, session.limits.tool_calling, "response"
        )
        if notice is not None:
            outputs.append(notice)
    return outputs


def on_cancel(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Cancel the named response, or the default conversation's active one."""
    response_id = event.data.get("response_id")
    if response_id is None:
        response_id = session.state.active
    if response_id is None or response_id not in session.responses:
        raise ProtocolError(
            "response_cancel_not_active", "Cancellation failed: no active response found"
        )
    return session.cancel_response(response_id, "client_cancelled")


def response_options(
    config: SessionConfig,
    params: dict[str, Any],
    in_conversation: bool,
    context: list[ItemRecord] | None = None,
) -> ResponseOptions:
    """The session's settings with the response's overrides (``params``) on top."""
    # ``null`` for a field the client may leave out arrives as the field left out
    # (protocol/absent_nulls.py), so the session's value applies.
    audio_out = (params.get("audio") or {}).get("output") or {}
    return ResponseOptions(
        modalities=list(params.get("output_modalities") or config.get("output_modalities")),
        output_format=copy.deepcopy(audio_out.get("format", config.output_format)),
        voice=audio_out.get("voice", config.voice),
        speed=config.get("audio", {}).get("output", {}).get("speed", 1.0),
        instructions=params.get("instructions", config.get("instructions", "")),
        tools=copy.deepcopy(params.get("tools", config.get("tools", []))),
        tool_choice=copy.deepcopy(params.get("tool_choice", config.get("tool_choice", "auto"))),
        max_output_tokens=params.get("max_output_tokens", config.get("max_output_tokens", "inf")),
        metadata=copy.deepcopy(params.get("metadata")),
        in_conversation=in_conversation,
        context=context,
    )


def _resolve_input(session: RealtimeSession, entry: dict[str, Any], index: int) -> ItemRecord:
    if entry.get("type") == "item_reference":
        return session.conversation.get(entry["id"], f"response.input[{index}].id")
    return record_from_client_item(session, entry, f"response.input[{index}]")
