"""Commands the sans-I/O core hands to its driver, next to the server events it returns.

The core never runs models or clocks itself. The connection (its only driver) keeps the timers
(:class:`ArmTimer`/:class:`DisarmTimer`), hands the playback commands of a WebRTC session
(:class:`PlayAudio`, :class:`EndAudio`, :class:`ClearAudio`) to its transport, and everything
else to the session's pipeline; both report back with :mod:`realtime_session.signals`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audio_utils import AudioFormat
from realtime_session.llm_context import LLMRequest
from realtime_session.signals import Timer


@dataclass(frozen=True, slots=True)
class StartResponse:
    """Generate a response. It carries everything it needs: the core sends it only once the
    transcripts its context depends on are in, so the pipeline never asks the core for more."""

    response_id: str
    request: LLMRequest
    output_format: AudioFormat
    speed: float = 1.0

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.request.modalities

    @property
    def voice(self) -> str:
        return self.request.voice


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Stop generating a response; the core has already closed it on the wire."""

    response_id: str


@dataclass(frozen=True, slots=True)
class TranscribeAudio:
    """Transcribe a committed user audio item (always: the LLM needs its text)."""

    item_id: str
    audio: bytes
    audio_format: AudioFormat
    turn_start_ms: float | None = None
    """For the item of a turn turn detection ended: where its audio starts on the session's
    audio clock (the pipeline may have transcribed the turn already, during the pause)."""


@dataclass(frozen=True, slots=True)
class CancelTranscription:
    """Stop transcribing an item (its deadline passed; the core has reported it failed)."""

    item_id: str


@dataclass(frozen=True, slots=True)
class FeedAudio:
    """Audio appended to the input buffer, for voice activity detection."""

    audio: bytes
    audio_format: AudioFormat


@dataclass(frozen=True, slots=True)
class ConfigureInput:
    """The session's turn detection or noise reduction changed (``None``: off).

    The turn detector's stream starts at ``origin_ms`` on the session audio clock, and the
    speech signals it reports carry ``epoch``, so the core can drop signals made under a
    configuration that has since been replaced.
    """

    turn_detection: dict[str, Any] | None
    noise_reduction: dict[str, Any] | None
    origin_ms: float
    epoch: int


@dataclass(frozen=True, slots=True)
class ConfigureTranscription:
    """The session's ``audio.input.transcription`` (``None``: unset), for the items committed from
    now on: its ``language`` and ``prompt`` steer the STT (sent at start and on each change)."""

    transcription: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """Start (or restart) a deadline; when it passes, report ``TimerExpired(timer)``."""

    timer: Timer
    delay_s: float


@dataclass(frozen=True, slots=True)
class DisarmTimer:
    """Forget a deadline (what it guarded is over); unknown timers are ignored."""

    timer: Timer


@dataclass(frozen=True, slots=True)
class PlayAudio:
    """Queue a response's audio on the transport's output track (WebRTC: the transport, not
    the client, plays the audio out, so it can tell the core what was actually played)."""

    response_id: str
    item_id: str
    audio: bytes
    audio_format: AudioFormat


@dataclass(frozen=True, slots=True)
class EndAudio:
    """No more audio will come for this response: report ``PlaybackStopped`` once it is
    played out (at once if it already is)."""

    response_id: str


@dataclass(frozen=True, slots=True)
class ClearAudio:
    """Stop playing now and drop everything queued; report ``PlaybackCleared`` for each
    response whose audio was dropped, with how much of it was played."""


@dataclass(frozen=True, slots=True)
class EndSession:
    """End the session: the transport closes with this code and reason, after the events
    returned before it (a relayed session whose upstream is gone)."""

    code: int
    reason: str


PipelineCommand = (
    StartResponse
    | CancelResponse
    | TranscribeAudio
    | CancelTranscription
    | (FeedAudio | ConfigureInput | ConfigureTranscription)
)
"""The commands the connection hands to the session's pipeline."""
TimerCommand = ArmTimer | DisarmTimer
"""The commands the connection carries out itself."""
PlaybackCommand = PlayAudio | EndAudio | ClearAudio
"""The commands for a transport that plays the output audio itself (WebRTC); only sessions
created with ``transport="webrtc"`` issue them."""
Command = PipelineCommand | TimerCommand | PlaybackCommand | EndSession
