"""Strict validation of GA client events, with errors worded the way the OpenAI Realtime API does.

:func:`parse_client_event` turns one WebSocket frame into a
:class:`~protocol.client_event.ClientEvent` or raises a :class:`~protocol.errors.ProtocolError`
(docs/protocol.md §2, §3, §5, §6 and §8; the limits are those of §10).
:func:`validate_client_event` does the same for an event that is already parsed JSON data (the
beta dialect hands it the events its translation changed).

The schema is the installed SDK's GA client-event TypedDicts (``openai.types.realtime.*_param``),
mirrored by :class:`~protocol.schema_mirror.SchemaMirror` with the GA corrections below
(:data:`_NULLABLE_FIELDS`, :data:`_REQUIRED_FIELDS`) and the fields whose ``null`` means "not set"
(:mod:`protocol.absent_nulls`, computed from the SDK's models of the same events); the checks the
TypedDicts cannot express are in :mod:`protocol.semantics`. The caller gets back the JSON data as
sent, less those ``null`` fields (the validated copy is thrown away), so lists stay lists and ints
stay ints; an append's audio comes back decoded, from the very decode that checked it.
"""

from __future__ import annotations

from typing import Any

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
from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from openai.types.realtime.response_cancel_event_param import ResponseCancelEventParam
from openai.types.realtime.response_create_event_with_references_param import (
    ResponseCreateEventWithReferencesParam,
)
from openai.types.realtime.session_update_event_param import SessionUpdateEventParam

from protocol.absent_nulls import absent_when_null_fields
from protocol.client_event import ClientEvent
from protocol.errors import ProtocolError
from protocol.event_schemas import EventSchemas
from protocol.frames import decode_frame
from protocol.schema_mirror import FieldSet, SchemaMirror
from protocol.semantics import MAX_AUDIO_APPEND_BYTES, SEMANTIC_CHECKS, decode_append_audio

__all__ = [
    "CLIENT_EVENT_TYPES",
    "GA_SCHEMAS",
    "MAX_AUDIO_APPEND_BYTES",
    "parse_client_event",
    "validate_client_event",
]

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

# Fields the API documents as clearable with ``null`` (docs/protocol.md §2, and the SDK's own
# session.update docstring) but whose SDK annotation does not include ``None``. ``null`` clears
# them, so they are never absent when null (``turn_detection`` is nullable in the SDK itself).
_NULLABLE_FIELDS: FieldSet = frozenset(
    (owner, name)
    for owner in (
        realtime_audio_config_input_param.RealtimeAudioConfigInputParam,
        realtime_transcription_session_audio_input_param.RealtimeTranscriptionSessionAudioInputParam,
    )
    for name in ("noise_reduction", "transcription")
)

# Fields the SDK marks optional although the API cannot do without them: a content part without a
# ``type`` cannot be interpreted, and a function tool without a ``name`` cannot be called.
_REQUIRED_FIELDS: FieldSet = frozenset(
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

GA_SCHEMAS = EventSchemas(
    _EVENT_SCHEMAS,
    SchemaMirror(
        nullable=_NULLABLE_FIELDS,
        required=_REQUIRED_FIELDS,
        absent_when_null=absent_when_null_fields(_EVENT_SCHEMAS.values(), RealtimeClientEvent),
    ),
)
"""The mirrored GA client event schemas."""

CLIENT_EVENT_TYPES: tuple[str, ...] = GA_SCHEMAS.types
"""The ``type`` values this server accepts, in the order the error message lists them."""


def parse_client_event(raw: str | bytes) -> ClientEvent:
    """Parse and validate one client WebSocket frame.

    Raises :class:`ProtocolError` with the code, message and ``param`` the real API would use.
    If the event carries a string ``event_id``, the error's ``event_id`` echoes it.
    """
    return validate_client_event(decode_frame(raw))


def validate_client_event(event: dict[str, Any]) -> ClientEvent:
    """Validate a GA client event that is already JSON data (a parsed frame).

    ``event`` itself becomes the result's ``data``: it is not copied (the ``null`` values of
    absent-when-null fields are deleted from it in place), and must not be changed afterwards.
    Errors are those of :func:`parse_client_event`.
    """
    try:
        event_type = GA_SCHEMAS.check_type(event)
        GA_SCHEMAS.check(event_type, event)
        check = SEMANTIC_CHECKS.get(event_type)
        if check is not None:
            check(event)
        audio = decode_append_audio(event) if event_type == "input_audio_buffer.append" else None
    except ProtocolError as exc:
        event_id = event.get("event_id")
        raise exc.with_event_id(event_id if isinstance(event_id, str) else None) from None
    return ClientEvent(event_type, event, audio)
