"""What the pipeline and the connection's timers report to the core.

The pipeline (and a transport that plays audio itself, WebRTC) never calls into the core: it reports
one of these typed signals through the connection's channel, and the connection (the core's only
driver) applies them in order with ``RealtimeSession.receive``. Each signal names the response or
item it is about; the core drops signals about responses that have already ended (a late delta after
a cancel, say), so the pipeline needs no knowledge of the core's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The VAD heard speech begin at ``onset_ms`` on the session audio clock."""

    epoch: int
    """The turn detection configuration it was made under (see ``ConfigureInput.epoch``)."""
    onset_ms: float


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """The VAD decided the turn ended at ``end_ms`` (the silence window included)."""

    epoch: int
    end_ms: float


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """A streaming STT produced part of an item's transcript."""

    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class TranscriptCompleted:
    """The STT finished an item."""

    item_id: str
    transcript: str
    audio_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class TranscriptFailed:
    """The STT failed on an item (the LLM will see it as empty)."""

    item_id: str
    message: str


@dataclass(frozen=True, slots=True)
class ResponseText:
    """The LLM streamed text for a response (the audio transcript in audio mode)."""

    response_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ResponseAudio:
    """The TTS produced audio, already in the response's output format."""

    response_id: str
    audio: bytes


@dataclass(frozen=True, slots=True)
class ResponseFunctionCall:
    """The LLM called a (client-executed) tool."""

    response_id: str
    name: str
    arguments: str
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """The pipeline finished generating a response."""

    response_id: str
    usage: dict[str, int] | None = None
    """``input_tokens``/``output_tokens`` when the LLM service reported them."""


@dataclass(frozen=True, slots=True)
class ResponseFailed:
    """The pipeline failed while generating a response; the session goes on."""

    response_id: str
    message: str
    code: str = "server_error"


@dataclass(frozen=True, slots=True)
class PlaybackStopped:
    """WebRTC: the transport played a response's audio to the end (after ``EndAudio``)."""

    response_id: str


@dataclass(frozen=True, slots=True)
class PlaybackCleared:
    """WebRTC: the transport dropped a response's unplayed audio (``ClearAudio``); only
    ``played_ms`` of its item's audio went out on the track."""

    response_id: str
    item_id: str
    played_ms: float


class TimerKind(Enum):
    """The deadlines the connection keeps for the core."""

    IDLE = "idle"
    """``turn_detection.idle_timeout_ms``: nobody spoke after the last response."""
    RESPONSE = "response"
    """``REALTIME_RESPONSE_TIMEOUT_S``: a response may take at most this long."""
    TRANSCRIPTION = "transcription"
    """``REALTIME_TRANSCRIPTION_TIMEOUT_S``: transcribing one item may take at most this long."""


@dataclass(frozen=True, slots=True)
class Timer:
    """One named deadline: the idle timer, or the deadline of a response or an item."""

    kind: TimerKind
    key: str = ""
    """The response or item id (empty for the idle timer)."""


IDLE_TIMER = Timer(TimerKind.IDLE)


@dataclass(frozen=True, slots=True)
class TimerExpired:
    """A deadline the core armed (``ArmTimer``) has passed."""

    timer: Timer


Signal = (
    SpeechStarted
    | SpeechStopped
    | TranscriptDelta
    | TranscriptCompleted
    | TranscriptFailed
    | ResponseText
    | ResponseAudio
    | ResponseFunctionCall
    | ResponseDone
    | ResponseFailed
    | PlaybackStopped
    | PlaybackCleared
    | TimerExpired
)
"""Everything the core can be told besides client events."""
