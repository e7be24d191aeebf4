"""A validated client event, as the protocol layer hands it to the core.

Validation (:func:`protocol.validation.parse_client_event`, or the beta dialect's
:func:`protocol.beta.parse_beta_client_event`) parses a frame once and returns one of these: the
event in GA shape (a beta event arrives already translated, never re-encoded as JSON), plus the
appended audio decoded once while it was checked, so the core never decodes base64 again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """One client event that passed validation."""

    type: str
    """The GA event type (``session.update``, ``input_audio_buffer.append``, ...)."""
    data: dict[str, Any]
    """The whole event as JSON data in GA shape, ``type`` and ``event_id`` included."""
    audio: bytes | None = None
    """``input_audio_buffer.append`` only: its ``audio``, already base64-decoded."""

    @property
    def event_id(self) -> str | None:
        """The client's ``event_id`` when it sent a string one (errors echo it)."""
        event_id = self.data.get("event_id")
        return event_id if isinstance(event_id, str) else None
