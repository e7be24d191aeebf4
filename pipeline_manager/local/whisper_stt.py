"""The local profile's speech-to-text: Pipecat's Whisper service on the shared Whisper model.

Why a module: one Pipecat service per module, as in Pipecat's own layout. Transcription runs
in ``asyncio.to_thread`` (Pipecat's ``WhisperSTTService``), never on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
import soxr
from faster_whisper import WhisperModel
from pipecat.frames.frames import Frame
from pipecat.services.whisper.stt import WhisperSTTService, WhisperSTTSettings
from pipecat.transcriptions.language import Language

from .models import LocalModels

# Whisper models (all sizes) are trained on 16 kHz audio.
WHISPER_SAMPLE_RATE = 16000


class LocalWhisperSTTService(WhisperSTTService):
    """Pipecat's faster-whisper STT service, using a model that is already loaded.

    ``WhisperSTTService.__init__`` calls ``_load()``, which would build a new
    ``WhisperModel`` from the model name (and download it when the name is not a local
    directory). ``_load()`` is overridden to adopt the shared model instead.

    It is a ``SegmentedSTTService``: it transcribes the audio between
    ``VADUserStartedSpeakingFrame`` and ``VADUserStoppedSpeakingFrame``, so the pipeline
    needs VAD upstream (e.g. in the user aggregator or a ``VADProcessor``).

    Language: the packaged model is tiny.en, which is English-only. Constructing the
    service with another language raises ``ValueError`` (Pipecat's own check), and a
    later settings change to another language is reported as an error while the model
    keeps transcribing English. For other languages load a multilingual CTranslate2
    model with ``LocalModelsConfig(whisper_dir=...)`` and pass ``language=None`` to let
    Whisper detect the language, or a specific language.
    """

    def __init__(
        self,
        *,
        model: WhisperModel,
        model_name: str,
        settings: WhisperSTTSettings | None = None,
        **kwargs: Any,
    ):
        """Initialize the service around a loaded model.

        Args:
            model: A loaded ``faster_whisper.WhisperModel``, shared, never copied.
            model_name: Label stored in the settings' ``model`` field (logs/metrics).
            settings: Settings delta (``language``, ``no_speech_prob``, ``hotwords``,
                ``initial_prompt``) applied over Pipecat's defaults.
            **kwargs: Passed to ``WhisperSTTService`` / ``SegmentedSTTService``.
        """
        # Read by _load(), which the parent __init__ calls.
        self._shared_model = model
        merged = self.Settings(model=model_name)
        if settings is not None:
            merged.apply_update(settings)
        # Speech end -> transcript: ~0.5 s for a 3 s utterance with tiny.en on 2 cores;
        # 1 s leaves room for a second session. Without it Pipecat warns and assumes 1 s.
        kwargs.setdefault("ttfs_p99_latency", 1.0)
        super().__init__(settings=merged, device="cpu", compute_type="int8", **kwargs)

    def _load(self) -> None:
        """Adopt the shared model instead of loading one; reject unsupported languages."""
        self._model = self._shared_model
        unsupported = self._unsupported_language()
        if unsupported:
            raise ValueError(unsupported)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one speech segment of 16-bit mono PCM at the service's sample rate.

        Pipecat's Whisper service hands the PCM to the model as if it were 16 kHz whatever
        the pipeline input rate is, which garbles anything else; resample first.

        Args:
            audio: The segment, 16-bit signed little-endian mono PCM.

        Yields:
            ``TranscriptionFrame`` (or ``ErrorFrame``) from the parent service.
        """
        if self.sample_rate and self.sample_rate != WHISPER_SAMPLE_RATE:
            samples = np.frombuffer(audio, dtype=np.int16)
            audio = soxr.resample(samples, self.sample_rate, WHISPER_SAMPLE_RATE).tobytes()
        async for frame in super().run_stt(audio):
            yield frame


def create_stt(
    models: LocalModels,
    *,
    language: Language | str | None = Language.EN,
    settings: WhisperSTTSettings | None = None,
    **kwargs: Any,
) -> LocalWhisperSTTService:
    """Create a per-session Whisper STT service around the shared model.

    Args:
        models: The shared models.
        language: Spoken language; None lets a multilingual model detect it. The
            packaged tiny.en accepts English only (anything else raises ``ValueError``).
        settings: Further settings (``no_speech_prob``, ``hotwords``, ...); its
            ``language`` wins over ``language``.
        **kwargs: Passed to the service (e.g. ``sample_rate``, ``trailing_silence_secs``).

    Returns:
        A new service wrapping ``models.whisper``.
    """
    merged = LocalWhisperSTTService.Settings(language=language)
    if settings is not None:
        merged.apply_update(settings)
    return LocalWhisperSTTService(
        model=models.whisper, model_name=models.whisper_name, settings=merged, **kwargs
    )
