"""One hop from a client event type to its handler.

:data:`CLIENT_EVENT_HANDLERS` is the whole routing: grep an event type and its handler is the
function named next to it. At import, the table is checked against the client event types of the
installed ``openai`` SDK, so a type the SDK adds (or one we mistype) fails loudly at start-up
instead of at the first client that sends it.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import TYPE_CHECKING

from openai.types.realtime.realtime_client_event_param import RealtimeClientEventParam

from protocol import ClientEvent
from realtime_session.handlers import input_audio, items, responses, session_update

if TYPE_CHECKING:
    from realtime_session.session import Output, RealtimeSession

Handler = Callable[["RealtimeSession", ClientEvent], "list[Output]"]

CLIENT_EVENT_HANDLERS: dict[str, Handler] = {
    "session.update": session_update.on_session_update,
    "input_audio_buffer.append": input_audio.on_append,
    "input_audio_buffer.commit": input_audio.on_commit,
    "input_audio_buffer.clear": input_audio.on_clear,
    "output_audio_buffer.clear": input_audio.on_output_audio_buffer_clear,
    "conversation.item.create": items.on_create,
    "conversation.item.retrieve": items.on_retrieve,
    "conversation.item.truncate": items.on_truncate,
    "conversation.item.delete": items.on_delete,
    "response.create": responses.on_create,
    "response.cancel": responses.on_cancel,
}


def sdk_client_event_types() -> frozenset[str]:
    """The ``type`` of every GA client event in the installed SDK's union."""
    types: set[str] = set()
    for member in typing.get_args(RealtimeClientEventParam):
        # Without include_extras, get_type_hints strips Required[...]: this is Literal["..."].
        (event_type,) = typing.get_args(typing.get_type_hints(member)["type"])
        types.add(event_type)
    return frozenset(types)


def _check_table() -> None:
    missing = sdk_client_event_types() - CLIENT_EVENT_HANDLERS.keys()
    unknown = CLIENT_EVENT_HANDLERS.keys() - sdk_client_event_types()
    if missing or unknown:
        raise RuntimeError(
            f"client event handlers out of step with the SDK: no handler for {sorted(missing)}, "
            f"handlers for unknown types {sorted(unknown)}"
        )


_check_table()
