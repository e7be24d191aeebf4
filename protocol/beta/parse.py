"""The beta dialect's client entry point: one beta frame in, one validated GA ClientEvent out.

A beta event is parsed once, checked against the beta schema (errors at beta paths), translated
to GA if its shape differs, and handed to the core as a :class:`~protocol.client_event.ClientEvent`
like any GA event: never re-encoded as JSON, never validated a second time by the caller
(docs/protocol.md §9).
"""

from __future__ import annotations

from typing import Any

from protocol.beta.checks import BETA_SEMANTIC_CHECKS
from protocol.beta.client_to_ga import TRANSLATED_EVENT_TYPES, translate_to_ga
from protocol.beta.params import beta_error
from protocol.beta.schema import BETA_SCHEMAS
from protocol.client_event import ClientEvent
from protocol.errors import ProtocolError
from protocol.frames import decode_frame
from protocol.semantics import decode_append_audio
from protocol.validation import validate_client_event

__all__ = ["parse_beta_client_event"]


def parse_beta_client_event(raw: str | bytes) -> ClientEvent:
    """Parse and validate one beta client frame; return the equivalent GA client event.

    Raises :class:`ProtocolError` with the code, message and ``param`` (a beta path, e.g.
    ``session.input_audio_format``) the real API would use; errors echo a string ``event_id``.
    The result's ``data`` is a GA event that :func:`protocol.validation.parse_client_event`
    accepts, and an append's ``audio`` is decoded.
    """
    event = decode_frame(raw)
    try:
        event_type = BETA_SCHEMAS.check_type(event)
        BETA_SCHEMAS.check(event_type, event)
        check = BETA_SEMANTIC_CHECKS.get(event_type)
        if check is not None:
            check(event)
        if event_type in TRANSLATED_EVENT_TYPES:
            return _check_ga(translate_to_ga(event))
        # The same event in GA: the beta schema was GA's, so it is not checked again.
        audio = decode_append_audio(event) if event_type == "input_audio_buffer.append" else None
        return ClientEvent(event_type, event, audio)
    except ProtocolError as exc:
        event_id = event.get("event_id")
        raise exc.with_event_id(event_id if isinstance(event_id, str) else None) from None


def _check_ga(ga_event: dict[str, Any]) -> ClientEvent:
    """Re-check a translated event against the GA schema; errors get their beta paths back.

    The beta schema is looser than GA in places (items are one flat TypedDict, tools need not
    say ``function``), so the GA check is what guarantees the core gets a valid event.
    """
    try:
        return validate_client_event(ga_event)
    except ProtocolError as exc:
        raise beta_error(exc) from None
