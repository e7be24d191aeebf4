"""The beta client events' schema: the SDK's beta TypedDicts, mirrored with beta's corrections.

The beta dialect is validated against its own SDK types (``openai.types.beta.realtime.*_param``)
before it is translated, so a beta client gets errors about the fields it sent, at their beta
paths (docs/protocol.md §9). The mirroring algorithm is GA's (:mod:`protocol.schema_mirror`),
and so is the rule for fields whose ``null`` means "not set" (:mod:`protocol.absent_nulls`,
computed from the SDK's beta models); only the corrections differ.
"""

from __future__ import annotations

from openai.types.beta.realtime import (
    conversation_item_content_param,
    conversation_item_param,
    conversation_item_with_reference_param,
    response_create_event_param,
    session_update_event_param,
    transcription_session_update_param,
)
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
from openai.types.beta.realtime.realtime_client_event import RealtimeClientEvent as BetaClientEvent
from openai.types.beta.realtime.realtime_client_event_param import OutputAudioBufferClear
from openai.types.beta.realtime.response_cancel_event_param import ResponseCancelEventParam
from openai.types.beta.realtime.transcription_session_update_param import (
    TranscriptionSessionUpdateParam,
)

from protocol.absent_nulls import absent_when_null_fields
from protocol.event_schemas import EventSchemas
from protocol.schema_mirror import FieldSet, SchemaMirror

__all__ = ["BETA_CLIENT_EVENT_TYPES", "BETA_SCHEMAS"]

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

# Corrections to the beta TypedDicts, as protocol.validation makes for GA. Documented as clearable
# with ``null`` although the SDK annotation lacks ``None`` (so never absent when null):
_BETA_NULLABLE_FIELDS: FieldSet = frozenset(
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
_BETA_REQUIRED_FIELDS: FieldSet = frozenset(
    {
        (conversation_item_param.ConversationItemParam, "type"),
        (conversation_item_content_param.ConversationItemContentParam, "type"),
        (conversation_item_with_reference_param.ConversationItemWithReferenceParam, "type"),
        (conversation_item_with_reference_param.Content, "type"),
        (session_update_event_param.SessionTool, "name"),
        (response_create_event_param.ResponseTool, "name"),
    }
)

BETA_SCHEMAS = EventSchemas(
    _BETA_EVENT_SCHEMAS,
    SchemaMirror(
        nullable=_BETA_NULLABLE_FIELDS,
        required=_BETA_REQUIRED_FIELDS,
        absent_when_null=absent_when_null_fields(_BETA_EVENT_SCHEMAS.values(), BetaClientEvent),
    ),
)
"""The mirrored beta client event schemas."""

BETA_CLIENT_EVENT_TYPES: tuple[str, ...] = BETA_SCHEMAS.types
"""The beta client event types accepted, in the order the error message lists them."""
