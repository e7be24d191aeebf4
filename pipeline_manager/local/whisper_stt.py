"""The local profile's speech-to-text: Pipecat's Whisper service on the shared Whisper models.

Why a module: one Pipecat service per module, as in Pipecat's own layout. Transcription runs in
``asyncio.to_thread``, never on the event loop. What happens to one utterance (language, trust,
Simplified Chinese) is :mod:`.stt_language`; this module chooses the model and speaks Pipecat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
import soxr
from faster_whisper import WhisperModel
from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.whisper.stt import WhisperSTTService, WhisperSTTSettings
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from .models import LocalModels
from .stt_language import Transcript, base_language, transcribe, unsure_reason

# Whisper models (all sizes) are trained on 16 kHz audio.
WHISPER_SAMPLE_RATE = 16000


class LocalWhisperSTTService(WhisperSTTService):
    """Pipecat's faster-whisper STT service, on models that are already loaded.

    ``WhisperSTTService.__init__`` calls ``_load()``, which would build a new ``WhisperModel``
    from the model name (and download it when the name is not a local directory). ``_load()``
    is overridden to adopt the shared model instead.

    It is a ``SegmentedSTTService``: it transcribes the audio between
    ``VADUserStartedSpeakingFrame`` and ``VADUserStoppedSpeakingFrame`` (the session pipeline's
    transcriber calls :meth:`run_stt` directly with each committed turn).

    Which model transcribes an utterance:

    - the session's language (:meth:`configure_transcription`, from
      ``audio.input.transcription.language``) is ``en`` and an English model is set: that one
      (tiny.en by default, the fast path);
    - otherwise the main model (multilingual base by default), with the session's language, or
      detecting it among ``candidates`` when the session sets none. An English-only main model
      fails the transcription of any other language with a message saying so.

    A transcript Whisper is unsure of (:func:`.stt_language.unsure_reason`) is not passed on as
    heard: it becomes an ``ErrorFrame`` whose message says why, which fails the item's
    transcription (``conversation.item.input_audio_transcription.failed``), and the response
    that would have answered it fails instead of answering a guess.
    """

    def __init__(
        self,
        *,
        model: WhisperModel,
        model_name: str,
        english_model: WhisperModel | None = None,
        english_model_name: str | None = None,
        candidates: tuple[str, ...] = (),
        settings: WhisperSTTSettings | None = None,
        **kwargs: Any,
    ):
        """Initialize the service around loaded models.

        Args:
            model: The main ``faster_whisper.WhisperModel``, shared, never copied.
            model_name: Label of the main model (logs, metrics, the settings' ``model``).
            english_model: The model for sessions whose language is English (None: the main
                model transcribes English too).
            english_model_name: Its label.
            candidates: Languages the detection chooses among when the session sets none
                (empty: any language Whisper knows).
            settings: Settings delta (``language``, ``initial_prompt``) applied over the
                defaults: no language (detect it), no prompt.
            **kwargs: Passed to ``WhisperSTTService`` / ``SegmentedSTTService``.
        """
        # Read by _load(), which the parent __init__ calls.
        self._shared_model = model
        self._english_model = english_model
        self._english_model_name = english_model_name or "english"
        self._candidates = tuple(candidates)
        merged = self.Settings(model=model_name, language=None, initial_prompt=None)
        if settings is not None:
            merged.apply_update(settings)
        # Speech end -> transcript: ~0.7 s for a 3 s utterance with base on 2 cores; 1.5 s
        # leaves room for a second session. Without it Pipecat warns and assumes 1 s.
        kwargs.setdefault("ttfs_p99_latency", 1.5)
        super().__init__(settings=merged, device="cpu", compute_type="int8", **kwargs)
        self._model_name = model_name
        self._language = base_language(_setting_str(merged.language))
        self._prompt = _setting_str(merged.initial_prompt)

    def _load(self) -> None:
        """Adopt the shared model instead of loading one."""
        self._model = self._shared_model

    @property
    def language(self) -> str | None:
        """The session's transcription language (a Whisper code), or None to detect it."""
        return self._language

    def configure_transcription(self, language: str | None, prompt: str | None) -> None:
        """The session's ``audio.input.transcription`` language and prompt, for later turns.

        Args:
            language: ISO-639-1 code or locale (``zh``, ``en-US``); None or empty: detect it.
            prompt: Text that steers spelling and style (Whisper's initial prompt).
        """
        self._language = base_language(language)
        self._prompt = prompt or None

    def _choose_model(self) -> tuple[WhisperModel, str]:
        if self._language == "en" and self._english_model is not None:
            return self._english_model, self._english_model_name
        assert self._model is not None
        return self._model, self._model_name

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one speech segment of 16-bit mono PCM at the service's sample rate.

        Pipecat's Whisper service hands the PCM to the model as if it were 16 kHz whatever
        the pipeline input rate is, which garbles anything else; resample first.

        Args:
            audio: The segment, 16-bit signed little-endian mono PCM.

        Yields:
            One ``TranscriptionFrame``, or an ``ErrorFrame`` saying why there is none.
        """
        samples = np.frombuffer(audio, dtype=np.int16)
        if self.sample_rate and self.sample_rate != WHISPER_SAMPLE_RATE:
            samples = soxr.resample(samples, self.sample_rate, WHISPER_SAMPLE_RATE)
        audio_f32 = samples.astype(np.float32) / 32768.0
        model, name = self._choose_model()
        language = self._language
        if language not in (None, "en") and not model.model.is_multilingual:
            yield ErrorFrame(
                f"the local STT model {name} transcribes English only, not '{language}': "
                "leave audio.input.transcription.language unset, or set "
                "REALTIME_LOCAL_WHISPER_MODEL to a multilingual model"
            )
            return
        if language is not None and language not in model.supported_languages:
            yield ErrorFrame(f"the local STT model {name} does not know the language '{language}'")
            return

        await self.start_processing_metrics()
        try:
            transcript: Transcript = await asyncio.to_thread(
                transcribe,
                model,
                audio_f32,
                model_name=name,
                language=language,
                candidates=self._candidates,
                prompt=self._prompt,
            )
        finally:
            await self.stop_processing_metrics()
        reason = unsure_reason(transcript)
        if reason is not None:
            logger.info(f"STT: {transcript.describe()}: not taken as heard ({reason})")
            yield ErrorFrame(reason)
            return
        logger.debug(f"STT: {transcript.describe()}")
        spoken = _pipecat_language(transcript.language)
        await self._handle_transcription(transcript.text, True, spoken)
        yield TranscriptionFrame(
            transcript.text,
            self._user_id,
            time_now_iso8601(),
            spoken,
            result=transcript,
        )


def _setting_str(value: Any) -> str | None:
    """A settings field as a plain string (None when unset, empty or NOT_GIVEN)."""
    return str(value) if isinstance(value, str) and value else None


def _pipecat_language(code: str) -> Language | None:
    try:
        return Language(code)
    except ValueError:
        return None


def create_stt(
    models: LocalModels,
    *,
    language: Language | str | None = None,
    english_model: str | None = "tiny.en",
    candidates: tuple[str, ...] = (),
    settings: WhisperSTTSettings | None = None,
    **kwargs: Any,
) -> LocalWhisperSTTService:
    """Create a per-session Whisper STT service around the shared models.

    Args:
        models: The shared models.
        language: The spoken language; None lets the main model detect it.
        english_model: The packaged model (or model directory) for English sessions, loaded
            once per process (:meth:`LocalModels.whisper_model`); None or empty: the main model.
        candidates: Languages the detection chooses among (empty: any).
        settings: Further settings (``initial_prompt``, ...); its ``language`` wins over
            ``language``.
        **kwargs: Passed to the service (e.g. ``sample_rate``).

    Returns:
        A new service wrapping ``models.whisper``.
    """
    merged = LocalWhisperSTTService.Settings(language=language)
    if settings is not None:
        merged.apply_update(settings)
    english, english_name = (None, None)
    if english_model:
        english, english_name = models.whisper_model(english_model)
    return LocalWhisperSTTService(
        model=models.whisper,
        model_name=models.whisper_name,
        english_model=english,
        english_model_name=english_name,
        candidates=candidates,
        settings=merged,
        **kwargs,
    )
