"""Commands the sans-I/O core hands to the pipeline adapter.

The core never runs models itself: it returns these next to the server events, and the adapter
(``pipeline_manager``) carries them out and reports back through the session's ``on_*`` methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audio_utils import AudioFormat


class Command:
    """Base class of everything the core asks the pipeline to do."""


@dataclass(frozen=True)
class StartResponse(Command):
    """Generate a response: fetch its LLM request with ``RealtimeSession.llm_request`` once the
    transcriptions of ``awaits_items`` are in, then stream text/audio back."""

    response_id: str
    awaits_items: tuple[str, ...]
    modalities: tuple[str, ...]
    output_format: AudioFormat
    voice: str
    speed: float = 1.0


@dataclass(frozen=True)
class CancelResponse(Command):
    """Stop generating a response; the core has already closed it on the wire."""

    response_id: str


@dataclass(frozen=True)
class TranscribeAudio(Command):
    """Transcribe a committed user audio item (always: the LLM needs its text)."""

    item_id: str
    audio: bytes
    audio_format: AudioFormat
    transcription: dict[str, Any] | None = None
    """The session's ``audio.input.transcription`` at commit time; ``None``: no client events."""
    noise_reduction: dict[str, Any] | None = None
    """The session's ``audio.input.noise_reduction`` at commit time."""


@dataclass(frozen=True)
class FeedAudio(Command):
    """Audio appended to the input buffer, for voice activity detection."""

    audio: bytes
    audio_format: AudioFormat


@dataclass(frozen=True)
class ConfigureTurnDetection(Command):
    """The session's turn detection or noise reduction changed (``None``: off)."""

    turn_detection: dict[str, Any] | None = field(default=None)
    noise_reduction: dict[str, Any] | None = field(default=None)


@dataclass(frozen=True)
class ArmIdleTimer(Command):
    """Start (or restart) the ``idle_timeout_ms`` timer; on expiry call ``on_idle_timeout``."""

    timeout_ms: int


@dataclass(frozen=True)
class DisarmIdleTimer(Command):
    """Stop the idle timer (the user started speaking)."""
