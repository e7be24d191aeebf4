"""The "local" profile's service factory (``pipeline_manager.services.ServiceFactory``)."""

from __future__ import annotations

from typing import Any, cast

from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from realtime_session.reply_policy import ToolCalling

from .llama_llm import create_llm, default_tool_calling
from .model_files import LocalModelError
from .model_refs import model_references
from .models import LocalModels, LocalModelsConfig, get_local_models
from .packaged_whisper import DEFAULT_ENGLISH_WHISPER_MODEL
from .piper_tts import create_tts
from .reply_language import DEFAULT_TTS_VOICES, VoiceMapError, parse_voice_map
from .whisper_stt import create_stt

DEFAULT_WHISPER_LANGUAGES = "en,zh"
"""``REALTIME_LOCAL_WHISPER_LANGUAGES``: the languages detection chooses among when a session
sets none (those the default voices speak); ``*`` for every language Whisper knows."""


class LocalServiceFactory:
    """Makes per-session services around the process-wide :class:`LocalModels`.

    Parameters:
        name: The profile name, ``"local"``.
        models: The shared models every service created here wraps.
        tool_calling: What the LLM does with function tools.
    """

    name = "local"

    def __init__(
        self,
        models: LocalModels,
        *,
        speculates: bool = True,
        first_phrase: bool = True,
        tool_calling: ToolCalling | None = None,
        english_model: str | None = DEFAULT_ENGLISH_WHISPER_MODEL,
        languages: tuple[str, ...] = (),
        voices: dict[str, str] | None = None,
        unavailable_voices: dict[str, str] | None = None,
    ) -> None:
        """Initialize the factory.

        Args:
            models: The loaded, shared models.
            speculates: Transcribe during pauses (``REALTIME_SPECULATIVE_TURNS``).
            first_phrase: Speak from a reply's first clause (``REALTIME_TTS_FIRST_PHRASE``).
            tool_calling: ``REALTIME_LOCAL_LLM_TOOLS``; None: what suits the model
                (``forced`` for the packaged SmolLM2-135M, else ``auto``).
            english_model: The Whisper model of English sessions (loaded already), or None.
            languages: The languages detection chooses among (empty: any).
            voices: Voice references by language, all loaded (default: the models' own map).
            unavailable_voices: Configured voices that could not load, with why.
        """
        self.models = models
        self.speculates = speculates
        self.first_phrase = first_phrase
        self.tool_calling: ToolCalling = tool_calling or default_tool_calling(models)
        self.english_model = english_model
        self.languages = languages
        self.voices = voices if voices is not None else dict(models.voice_map)
        self.unavailable_voices = (
            unavailable_voices if unavailable_voices is not None else models.unavailable_voices
        )

    def create_stt(self) -> STTService:
        """A Whisper STT service for one session (see ``LocalWhisperSTTService``)."""
        return create_stt(self.models, english_model=self.english_model, candidates=self.languages)

    def create_llm(self) -> LLMService:
        """A llama.cpp LLM service for one session."""
        return create_llm(self.models, tool_calling=self.tool_calling)

    def create_tts(self) -> TTSService:
        """A TTS service for one session: each sentence in the voice of its language."""
        return create_tts(self.models, voices=self.voices, unavailable=self.unavailable_voices)

    def describe(self) -> dict[str, str]:
        """The models behind each stage, for ``/health`` and ``/v1/models``."""
        stt = f"{self.models.whisper_name} (faster-whisper int8)"
        if self.english_model:
            stt += f", {self.models.whisper_model(self.english_model)[1]} for English"
        voices = ", ".join(
            f"{lang}={self.models.speaker(ref).name}" for lang, ref in self.voices.items()
        )
        return {
            "stt": stt,
            "llm": f"{self.models.llm_name} (llama.cpp)",
            "tts": f"voices {voices or 'none'}",
            "vad": "silero",
        }


def create_local_factory(
    settings: Any = None, config: LocalModelsConfig | None = None
) -> LocalServiceFactory:
    """Load the local models (once per process, blocking) and return the factory.

    Args:
        settings: The server settings (``config.Settings``): ``local_whisper_model``,
            ``local_llm_model`` and ``local_tts_voice`` name the models and
            ``local_llm_threads``, ``local_whisper_threads`` size them (unless ``config`` is
            given); ``speculative_turns``, ``tts_first_phrase`` and ``local_llm_tools`` as
            their fields say.
        config: Models and loading options; default: the settings' models, with options that
            suit a 2-core CPU machine.

    Returns:
        A factory whose services all share the same model objects.

    Raises:
        LocalModelError: A model or voice cannot load, or a ``local_*`` setting is malformed.
    """
    speculates = bool(getattr(settings, "speculative_turns", True))
    first_phrase = bool(getattr(settings, "tts_first_phrase", True))
    tools = getattr(settings, "local_llm_tools", "default")
    english = getattr(settings, "local_whisper_english_model", DEFAULT_ENGLISH_WHISPER_MODEL)
    english = english.strip() if english else None
    voice_spec = getattr(settings, "local_tts_voices", DEFAULT_TTS_VOICES)
    languages_spec = getattr(settings, "local_whisper_languages", DEFAULT_WHISPER_LANGUAGES)
    try:
        parse_voice_map(voice_spec)  # a typo fails now, not after the models load
    except VoiceMapError as exc:
        raise LocalModelError(f"REALTIME_LOCAL_TTS_VOICES: {exc}") from exc
    if config is None and settings is not None:
        config = LocalModelsConfig(
            **model_references(settings),
            llm_n_threads=getattr(settings, "local_llm_threads", 1),
            whisper_cpu_threads=getattr(settings, "local_whisper_threads", 2),
            whisper_english_model=english,
            tts_voices=voice_spec,
        )
    models = get_local_models(config)
    if english:
        models.whisper_model(english)  # at start-up, not in a session's first turn
    if voice_spec == models.config.tts_voices:
        voices, unavailable = dict(models.voice_map), dict(models.unavailable_voices)
    else:
        voices, unavailable = models.load_voice_map(
            voice_spec, lenient=voice_spec == DEFAULT_TTS_VOICES
        )
    return LocalServiceFactory(
        models,
        speculates=speculates,
        first_phrase=first_phrase,
        tool_calling=None if tools == "default" else cast("ToolCalling", tools),
        english_model=english,
        languages=_languages(languages_spec, models),
        voices=voices,
        unavailable_voices=unavailable,
    )


def _languages(spec: str, models: LocalModels) -> tuple[str, ...]:
    """The detection's candidate languages (empty: any), checked against the model."""
    if spec.strip() in ("", "*"):
        return ()
    codes = (code.strip().lower() for code in spec.split(","))
    languages = tuple(dict.fromkeys(code for code in codes if code))
    known = set(models.whisper.supported_languages)
    unknown = [code for code in languages if code not in known]
    if unknown and models.whisper_multilingual:
        raise LocalModelError(
            f"REALTIME_LOCAL_WHISPER_LANGUAGES: {', '.join(unknown)}: not a Whisper language code "
            "(e.g. en, zh, fr, de, ja, es; '*' for any)"
        )
    return languages
