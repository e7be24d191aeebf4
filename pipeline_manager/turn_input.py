"""Turn detection on a session's input stream: convert, denoise, detect, report.

A :class:`TurnInput` exists per turn detection configuration (``ConfigureInput``). Appended audio
is converted to the 16 kHz PCM16 the models take, passed through Pipecat's RNNoise filter when
``audio.input.noise_reduction`` is set (one filter for the stream, built with the configuration,
so its state follows the audio), and fed to the :class:`TurnDetector`. What the detector decides
is reported as speech signals on the session audio clock, tagged with the configuration's epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipecat.audio.filters.rnnoise_filter import RNNoiseFilter

from audio_utils import AudioFormat, InputAudioConverter
from pipeline_manager.turn_detection import PauseEnded, PauseStarted, TurnDetector, TurnEnded
from pipeline_manager.turn_detection import SpeechStarted as DetectorSpeechStarted
from realtime_session.commands import ConfigureInput
from realtime_session.signals import Signal, SpeechStarted, SpeechStopped

PIPELINE_IN_RATE = 16000
BYTES_PER_MS = PIPELINE_IN_RATE * 2 // 1000
SpeculationHook = Callable[["TurnSoFar | None"], None]
"""Told the audio of a turn that may have just ended (a pause), or None when it goes on."""


@dataclass(frozen=True, slots=True)
class TurnSoFar:
    """A turn's audio up to a pause, as the turn's item would hold it if it ended there.

    ``start_ms``/``pause_ms`` are on the session's audio clock: ``start_ms`` is where the item
    would start (the speech onset minus ``prefix_padding_ms``), ``pause_ms`` where speech paused.
    ``pcm`` is 16 kHz PCM16 (denoised when noise reduction is on).
    """

    epoch: int
    start_ms: float
    pause_ms: float
    pcm: bytes


async def start_noise_filter(noise_reduction: dict[str, Any] | None) -> RNNoiseFilter | None:
    """Pipecat's RNNoise filter for ``audio.input.noise_reduction`` (``None`` when it is off).

    RNNoise has a single model, so ``near_field`` and ``far_field`` both get it: it removes
    stationary and non-stationary background noise before VAD and transcription.
    """
    if noise_reduction is None:
        return None
    noise_filter = RNNoiseFilter()
    await noise_filter.start(PIPELINE_IN_RATE)
    return noise_filter


MAX_DETECTION_DELAY_MS = 200.0
"""Speech is confirmed a little after its onset (3 windows, plus a chunk in flight): between turns
the recent stream keeps this much more than the prefix, so the onset's padding is still there."""


class TurnInput:
    """One turn detection configuration's view of the input stream."""

    def __init__(
        self,
        config: ConfigureInput,
        report: Callable[[Signal], None],
        noise_filter: RNNoiseFilter | None,
        speculate: SpeculationHook | None = None,
    ) -> None:
        assert config.turn_detection is not None
        self._detector = TurnDetector(config.turn_detection, report_pauses=speculate is not None)
        self._speculate = speculate
        self._prefix_ms = float(config.turn_detection.get("prefix_padding_ms", 300))
        # The recent stream (16 kHz, what the detector saw): the current turn from its padded
        # onset, or while nobody speaks the last prefix's worth, for the next turn's start.
        self._recent = bytearray()
        self._recent_start_ms = 0.0
        self._stream_ms = 0.0
        self._turn_start_ms: float | None = None
        self._origin_ms = config.origin_ms
        self._epoch = config.epoch
        self._report = report
        self._noise_filter = noise_filter
        self._converter: InputAudioConverter | None = None
        self._converter_format: AudioFormat | None = None

    @classmethod
    async def start(
        cls,
        config: ConfigureInput,
        report: Callable[[Signal], None],
        speculate: SpeculationHook | None = None,
    ) -> TurnInput:
        """Build the input for a configuration (its noise filter included).

        Args:
            speculate: Told of each pause that could end the turn, with the turn's audio so
                far, and of the turn going on after it (speculative transcription).
        """
        return cls(config, report, await start_noise_filter(config.noise_reduction), speculate)

    async def feed(self, audio: bytes, fmt: AudioFormat) -> None:
        """Analyse appended audio; report the turn events it completes."""
        if self._converter is None or self._converter_format != fmt:
            self._converter = InputAudioConverter(fmt, PIPELINE_IN_RATE)
            self._converter_format = fmt
        pcm = self._converter.convert(audio)
        if self._noise_filter is not None:
            pcm = await self._noise_filter.filter(pcm)
        if self._speculate is not None:
            self._remember(pcm)
        for event in await self._detector.feed(pcm):
            if isinstance(event, DetectorSpeechStarted):
                self._turn_start_ms = max(self._recent_start_ms, event.onset_ms - self._prefix_ms)
                self._report(SpeechStarted(self._epoch, self._origin_ms + event.onset_ms))
            elif isinstance(event, TurnEnded):
                self._turn_start_ms = None
                self._report(SpeechStopped(self._epoch, self._origin_ms + event.end_ms))
            elif isinstance(event, PauseStarted):
                self._pause(event.at_ms)
            elif isinstance(event, PauseEnded) and self._speculate is not None:
                self._speculate(None)

    def _remember(self, pcm: bytes) -> None:
        """Keep the current turn's audio (or the last prefix's worth of it between turns)."""
        self._recent += pcm
        self._stream_ms += len(pcm) / BYTES_PER_MS
        keep_from = self._turn_start_ms
        if keep_from is None:
            keep_from = self._stream_ms - self._prefix_ms - 2 * MAX_DETECTION_DELAY_MS
        drop = int(max(0.0, keep_from - self._recent_start_ms) * BYTES_PER_MS) & ~1
        if drop:
            del self._recent[:drop]
            self._recent_start_ms += drop / BYTES_PER_MS

    def _pause(self, at_ms: float) -> None:
        """Hand the turn so far to speculation."""
        if self._speculate is None or self._turn_start_ms is None:
            return
        begin = int((self._turn_start_ms - self._recent_start_ms) * BYTES_PER_MS) & ~1
        end = int((at_ms - self._recent_start_ms) * BYTES_PER_MS) & ~1
        turn = TurnSoFar(
            self._epoch,
            self._origin_ms + self._turn_start_ms,
            self._origin_ms + at_ms,
            bytes(self._recent[max(0, begin) : max(0, end)]),
        )
        self._speculate(turn)

    async def close(self) -> None:
        """Release the noise filter."""
        if self._noise_filter is not None:
            await self._noise_filter.stop()
