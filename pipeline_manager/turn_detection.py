"""Turn detection: Silero VAD (server_vad) and Smart Turn v3 (semantic_vad), from the pipecat wheel.

:class:`TurnDetector` is a plain object fed 16 kHz PCM16 that returns where speech started and
where the turn ended, in milliseconds of the stream it was fed. It keeps the exact sample position
of every decision, so ``audio_start_ms``/``audio_end_ms`` are exact on the session's audio clock:

- onset = the first 32 ms window whose speech probability reached ``threshold`` in the run of
  windows that confirmed speech (``MIN_SPEECH_MS`` of them); the protocol's ``audio_start_ms`` is
  the onset minus ``prefix_padding_ms``;
- server_vad ends the turn after ``silence_duration_ms`` of non-speech; the end position includes
  that silence window;
- semantic_vad asks Smart Turn v3 at each pause of ``SEMANTIC_PAUSE_MS`` whether the utterance is
  complete; if it is, the turn ends there, otherwise the detector waits for more speech up to the
  eagerness timeout (low 8 s, medium/auto 4 s, high 2 s, as the real API documents).

The ONNX models are loaded once per process (:class:`SharedTurnModels`) and shared by every session;
each session only holds its own recurrent VAD state.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from pipecat.audio.vad.silero import SileroOnnxModel

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 512  # Silero's window at 16 kHz: 32 ms
WINDOW_MS = WINDOW_SAMPLES * 1000 / SAMPLE_RATE
MIN_SPEECH_MS = 96
"""Speech must last this long (3 windows) before a turn starts: filters clicks and short noise."""
SEMANTIC_PAUSE_MS = 200
EAGERNESS_TIMEOUT_MS = {"low": 8000, "medium": 4000, "auto": 4000, "high": 2000}
SMART_TURN_COMPLETE = 0.5
PAUSE_MIN_MS = WINDOW_MS
"""A pause is reported (``report_pauses``) at its first silent window: every millisecond of head
start counts, since transcribing a turn takes longer than the default 200 ms silence window. A
gap inside a phrase then starts a pass that is thrown away; the speculation's own bounds (one
pass per session, one in the process) keep that cheap."""
RESET_AFTER_QUIET_MS = 5000
"""Silero's recurrent state drifts over long silences; reset it after this much quiet."""


class SharedTurnModels:
    """The process-wide VAD and turn models (loaded on first use, then shared)."""

    _lock = threading.Lock()
    _silero_session: Any = None
    _smart_turn: Any = None

    @classmethod
    def silero_session(cls) -> Any:
        """The Silero ONNX inference session (thread-safe for concurrent ``run`` calls)."""
        with cls._lock:
            if cls._silero_session is None:
                from importlib import resources

                path = str(resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx"))
                cls._silero_session = SileroOnnxModel(path, force_onnx_cpu=True).session
            return cls._silero_session

    @classmethod
    def smart_turn(cls) -> Any:
        """Pipecat's Smart Turn v3 analyzer with its bundled ONNX model."""
        with cls._lock:
            if cls._smart_turn is None:
                from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import (
                    LocalSmartTurnAnalyzerV3,
                )

                cls._smart_turn = LocalSmartTurnAnalyzerV3(sample_rate=SAMPLE_RATE)
            return cls._smart_turn


class _SileroStream(SileroOnnxModel):
    """Silero's per-stream recurrent state around the shared inference session."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.sample_rates = [8000, SAMPLE_RATE]
        self.reset_states()


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began at ``onset_ms`` (stream time), confirmed at ``confirmed_ms``."""

    onset_ms: float
    confirmed_ms: float


@dataclass(frozen=True)
class TurnEnded:
    """The turn ended; ``end_ms`` is the stream time of the decision (silence included)."""

    end_ms: float


@dataclass(frozen=True)
class PauseStarted:
    """Speech paused at ``at_ms`` (the end of the last speech window): the turn may end here.

    Only with ``report_pauses``: the point where speculative work on the turn can begin
    (:mod:`pipeline_manager.speculation`). Never on the wire.
    """

    at_ms: float


@dataclass(frozen=True)
class PauseEnded:
    """Speech resumed after a :class:`PauseStarted` (the turn goes on; with ``report_pauses``)."""

    at_ms: float


TurnEvent = SpeechStarted | TurnEnded | PauseStarted | PauseEnded


class TurnDetector:
    """Per-session turn detection over a 16 kHz stream (see the module docstring)."""

    def __init__(self, turn_detection: dict[str, Any], *, report_pauses: bool = False) -> None:
        self._report_pauses = report_pauses
        self._paused = False
        self._semantic = turn_detection.get("type") == "semantic_vad"
        self._threshold = float(turn_detection.get("threshold", 0.5))
        if self._semantic:
            self._silence_ms = float(SEMANTIC_PAUSE_MS)
            eagerness = turn_detection.get("eagerness", "auto")
            self._max_wait_ms = float(EAGERNESS_TIMEOUT_MS.get(eagerness, 4000))
        else:
            self._silence_ms = float(turn_detection.get("silence_duration_ms", 200))
            self._max_wait_ms = 0.0
        self._model = _SileroStream(SharedTurnModels.silero_session())
        self._pending = bytearray()
        self._position = 0  # samples analysed so far
        self._speaking = False
        self._run_start: int | None = None  # first sample of the current run of speech windows
        self._last_speech_end = 0  # sample just after the last speech window
        self._turn_audio: list[np.ndarray] = []
        self._semantic_checked_at: int | None = None
        self._quiet_windows = 0

    @property
    def speaking(self) -> bool:
        """True between :class:`SpeechStarted` and :class:`TurnEnded`."""
        return self._speaking

    async def feed(self, pcm16k: bytes) -> list[TurnEvent]:
        """Analyse more audio; returns the turn events it completes, in order."""
        self._pending += pcm16k
        events: list[TurnEvent] = []
        window_bytes = WINDOW_SAMPLES * 2
        while len(self._pending) >= window_bytes:
            window = np.frombuffer(bytes(self._pending[:window_bytes]), dtype="<i2")
            del self._pending[:window_bytes]
            events += await self._analyse(window)
        return events

    async def _analyse(self, window: np.ndarray) -> list[TurnEvent]:
        samples = window.astype(np.float32) / 32768.0
        probability = float(self._model(samples[np.newaxis, :], SAMPLE_RATE)[0][0])
        start = self._position
        self._position += WINDOW_SAMPLES
        is_speech = probability >= self._threshold
        if self._speaking:
            self._turn_audio.append(samples)
        events: list[TurnEvent] = []
        if is_speech:
            self._quiet_windows = 0
            if self._paused:
                self._paused = False
                events.append(PauseEnded(_to_ms(start)))
            if self._run_start is None:
                self._run_start = start
            self._last_speech_end = self._position
            self._semantic_checked_at = None
            if not self._speaking and self._position - self._run_start >= _ms(MIN_SPEECH_MS):
                self._speaking = True
                self._turn_audio = [samples]
                events.append(SpeechStarted(_to_ms(self._run_start), _to_ms(self._position)))
        else:
            self._run_start = None if not self._speaking else self._run_start
            if not self._speaking:
                self._quiet_windows += 1
                if self._quiet_windows * WINDOW_MS >= RESET_AFTER_QUIET_MS:
                    self._model.reset_states()
                    self._quiet_windows = 0
            else:
                silent_ms = _to_ms(self._position - self._last_speech_end)
                if self._report_pauses and not self._paused and silent_ms >= PAUSE_MIN_MS:
                    self._paused = True
                    events.append(PauseStarted(_to_ms(self._last_speech_end)))
                if await self._turn_is_over():
                    events.append(TurnEnded(_to_ms(self._position)))
                    self._speaking = False
                    self._paused = False
                    self._run_start = None
                    self._turn_audio = []
        return events

    async def _turn_is_over(self) -> bool:
        silence_ms = _to_ms(self._position - self._last_speech_end)
        if silence_ms < self._silence_ms:
            return False
        if not self._semantic:
            return True
        if silence_ms >= self._max_wait_ms:
            return True
        if self._semantic_checked_at == self._last_speech_end:
            return False  # already judged incomplete at this pause: wait for speech or timeout
        self._semantic_checked_at = self._last_speech_end
        audio = np.concatenate(self._turn_audio)
        result = await asyncio.to_thread(SharedTurnModels.smart_turn()._predict_endpoint, audio)
        return float(result["probability"]) > SMART_TURN_COMPLETE


def _ms(ms: float) -> int:
    """Milliseconds to samples."""
    return int(ms * SAMPLE_RATE / 1000)


def _to_ms(samples: int) -> float:
    """Samples to milliseconds."""
    return samples * 1000 / SAMPLE_RATE
