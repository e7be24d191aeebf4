"""Turn detection on a session's input stream: convert, denoise, detect, report.

A :class:`TurnInput` exists per turn detection configuration (``ConfigureInput``). Appended audio
is converted to the 16 kHz PCM16 the models take, passed through Pipecat's RNNoise filter when
``audio.input.noise_reduction`` is set (one filter for the stream, built with the configuration,
so its state follows the audio), and fed to the :class:`TurnDetector`. What the detector decides
is reported as speech signals on the session audio clock, tagged with the configuration's epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.audio.filters.rnnoise_filter import RNNoiseFilter

from audio_utils import AudioFormat, InputAudioConverter
from pipeline_manager.turn_detection import SpeechStarted as DetectorSpeechStarted
from pipeline_manager.turn_detection import TurnDetector
from realtime_session.commands import ConfigureInput
from realtime_session.signals import Signal, SpeechStarted, SpeechStopped

PIPELINE_IN_RATE = 16000


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


class TurnInput:
    """One turn detection configuration's view of the input stream."""

    def __init__(
        self,
        config: ConfigureInput,
        report: Callable[[Signal], None],
        noise_filter: RNNoiseFilter | None,
    ) -> None:
        assert config.turn_detection is not None
        self._detector = TurnDetector(config.turn_detection)
        self._origin_ms = config.origin_ms
        self._epoch = config.epoch
        self._report = report
        self._noise_filter = noise_filter
        self._converter: InputAudioConverter | None = None
        self._converter_format: AudioFormat | None = None

    @classmethod
    async def start(cls, config: ConfigureInput, report: Callable[[Signal], None]) -> TurnInput:
        """Build the input for a configuration (its noise filter included)."""
        return cls(config, report, await start_noise_filter(config.noise_reduction))

    async def feed(self, audio: bytes, fmt: AudioFormat) -> None:
        """Analyse appended audio; report the turn events it completes."""
        if self._converter is None or self._converter_format != fmt:
            self._converter = InputAudioConverter(fmt, PIPELINE_IN_RATE)
            self._converter_format = fmt
        pcm = self._converter.convert(audio)
        if self._noise_filter is not None:
            pcm = await self._noise_filter.filter(pcm)
        for event in await self._detector.feed(pcm):
            if isinstance(event, DetectorSpeechStarted):
                self._report(SpeechStarted(self._epoch, self._origin_ms + event.onset_ms))
            else:
                self._report(SpeechStopped(self._epoch, self._origin_ms + event.end_ms))

    async def close(self) -> None:
        """Release the noise filter."""
        if self._noise_filter is not None:
            await self._noise_filter.stop()
