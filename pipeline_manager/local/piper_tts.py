"""The local profile's text-to-speech: each sentence in the voice of its language.

Why a module: one Pipecat service per module, as in Pipecat's own layout. Synthesis runs
sentence by sentence off the event loop (Piper in worker threads, espeak-ng as a subprocess).
piper-tts (and the espeak-ng it embeds) is GPL-3.0-or-later.

The voices come from the voice map (``REALTIME_LOCAL_TTS_VOICES``, :mod:`.reply_language`): by
default the Piper voice en_US-joe-medium for English (and any Latin-script text) and espeak-ng's
``cmn-latn-pinyin`` for Mandarin. A sentence is never dropped in silence: one whose language has
no voice, or whose voice produced no audio, fails the response with a message that says so.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService

from .models import LocalModels
from .reply_language import has_letters, sentence_language, voice_language
from .speakers import Speaker


class LocalTTSService(TTSService):
    """Pipecat TTS service speaking each sentence with the loaded voice of its language.

    The voices are loaded once per process (``LocalModels.speaker``) and shared, never copied.
    Audio is resampled from each voice's rate to the pipeline's output rate by Pipecat.

    Parameters:
        voices: Voices by language code, in the configured order (see
            :func:`.reply_language.voice_language` for which one speaks a sentence).
        unavailable: Configured voices that could not load, by language, with why.
    """

    Settings = TTSSettings
    _settings: TTSSettings

    def __init__(
        self,
        *,
        voices: Mapping[str, Speaker],
        unavailable: Mapping[str, str] | None = None,
        settings: TTSSettings | None = None,
        **kwargs: Any,
    ):
        """Initialize the service around loaded voices.

        Args:
            voices: Voices by language code.
            unavailable: Why a configured voice is missing, by language (for the error a
                sentence in that language gets).
            settings: Settings delta applied over the defaults. Changing ``voice`` at run time
                is only stored: the language decides the voice.
            **kwargs: Passed to ``TTSService`` (e.g. ``sample_rate``).
        """
        self.voices = dict(voices)
        self.unavailable = dict(unavailable or {})
        label = ",".join(f"{lang}={voice.name}" for lang, voice in self.voices.items())
        merged = self.Settings(model=None, voice=label, language=None)
        if settings is not None:
            merged.apply_update(settings)
        # Every sentence with something to say yields audio or an error (run_tts), so Pipecat's
        # "N silent contexts in a row make the service unusable" rule would only ever hide
        # that error behind a service that stops speaking altogether.
        kwargs.setdefault("max_consecutive_zero_audio_contexts", 0)
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=merged,
            **kwargs,
        )

    def can_generate_metrics(self) -> bool:
        """Processing and TTFB metrics are reported."""
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        """Speak one sentence with the voice of its language.

        Args:
            text: The sentence.
            context_id: The audio context of the reply.

        Yields:
            Audio frames, or one ``ErrorFrame`` when no voice speaks the sentence's language
            or the voice produced no audio.
        """
        if not has_letters(text):
            return  # punctuation or symbols alone: nothing to say
        language = voice_language(text, self.voices)
        if language is None:
            written = sentence_language(text) or "en"
            if written in self.unavailable:
                problem = f"the '{written}' voice {self.unavailable[written]}"
            else:
                configured = ", ".join(self.voices) or "none"
                problem = (
                    f"no configured voice speaks '{written}' (voices are configured for: "
                    f"{configured}); add one with REALTIME_LOCAL_TTS_VOICES"
                )
            yield ErrorFrame(f"the reply cannot be spoken: {problem}")
            return
        voice = self.voices[language]
        await self.start_tts_usage_metrics(text)
        spoken = False
        try:
            async for frame in self._stream_audio_frames_from_iterator(
                voice.stream(text), in_sample_rate=voice.sample_rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                spoken = spoken or (isinstance(frame, TTSAudioRawFrame) and bool(frame.audio))
                yield frame
        except Exception as exc:
            yield ErrorFrame(f"the '{language}' voice {voice.name} failed: {exc}")
            return
        finally:
            await self.stop_ttfb_metrics()
        if not spoken:
            yield ErrorFrame(
                f"the '{language}' voice {voice.name} produced no audio for a sentence of "
                f"{len(text)} characters: it cannot speak this text"
            )


LocalPiperTTSService = LocalTTSService
"""The name this service had when it spoke with one Piper voice."""


def create_tts(
    models: LocalModels,
    *,
    voices: Mapping[str, str] | None = None,
    unavailable: Mapping[str, str] | None = None,
    settings: TTSSettings | None = None,
    **kwargs: Any,
) -> LocalTTSService:
    """Create a per-session TTS service around the shared voices.

    Args:
        models: The shared models (the voices are loaded there, once per process).
        voices: Voice references by language (default: ``models.voice_map``).
        unavailable: Why a configured voice is missing, by language (default: the models').
        settings: Settings delta.
        **kwargs: Passed to ``TTSService`` (e.g. ``sample_rate``; by default the pipeline's
            output rate, to which each voice is resampled).

    Returns:
        A new service speaking with the loaded voices.
    """
    references = voices if voices is not None else models.voice_map
    if unavailable is None:
        unavailable = models.unavailable_voices
    speakers = {language: models.speaker(ref) for language, ref in references.items()}
    return LocalTTSService(voices=speakers, unavailable=unavailable, settings=settings, **kwargs)
