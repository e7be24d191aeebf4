"""Realtime events as both clients build and read them.

The voice client receives the SDK's parsed event objects, the check reads raw JSON dicts; both
send user audio the same way and show server ``error`` payloads the same way, which is what lives
here: the client events they both send, the event types they both look for, and one readable
line for an error in either shape.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

TEXT_DELTA_TYPES = ("response.output_text.delta", "response.output_audio_transcript.delta")
"""The events that stream a reply's text (a text reply, or the transcript of a spoken one)."""
AUDIO_DELTA_TYPE = "response.output_audio.delta"


def audio_append(pcm: bytes) -> dict[str, Any]:
    """``input_audio_buffer.append`` carrying ``pcm`` (24 kHz PCM16)."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")}


def decode_audio(delta: str) -> bytes:
    """The PCM16 of a ``response.output_audio.delta``'s base64 ``delta``."""
    return base64.b64decode(delta)


def commit() -> dict[str, Any]:
    """``input_audio_buffer.commit``: the appended audio becomes a user turn."""
    return {"type": "input_audio_buffer.commit"}


def response_create() -> dict[str, Any]:
    """``response.create`` with the session's settings."""
    return {"type": "response.create"}


def _field(error: Any, name: str) -> Any:
    """A field of an error payload, whether a JSON dict or an SDK object."""
    if isinstance(error, Mapping):
        return error.get(name)
    return getattr(error, name, None)


def describe_server_error(error: Any) -> str:
    """An ``error`` payload as one line: ``code: message (param x, caused by evt_y)``.

    ``error`` is the event's ``error`` field as a dict (raw JSON) or an SDK object; ``None``
    (no details) gives ``error: (no message)``.
    """
    code = _field(error, "code") or _field(error, "type") or "error"
    text = f"{code}: {_field(error, 'message') or '(no message)'}"
    details = []
    if param := _field(error, "param"):
        details.append(f"param {param}")
    if event_id := _field(error, "event_id"):
        details.append(f"caused by {event_id}")
    return f"{text} ({', '.join(details)})" if details else text
