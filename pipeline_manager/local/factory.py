"""The "local" profile's service factory (``pipeline_manager.services.ServiceFactory``)."""

from __future__ import annotations

from typing import Any, cast

from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from realtime_session.reply_policy import ToolCalling

from .llama_llm import create_llm, default_tool_calling
from .model_refs import model_references
from .models import LocalModels, LocalModelsConfig, get_local_models
from .piper_tts import create_tts
from .whisper_stt import create_stt


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
    ) -> None:
        """Initialize the factory.

        Args:
            models: The loaded, shared models.
            speculates: Transcribe during pauses (``REALTIME_SPECULATIVE_TURNS``).
            first_phrase: Speak from a reply's first clause (``REALTIME_TTS_FIRST_PHRASE``).
            tool_calling: ``REALTIME_LOCAL_LLM_TOOLS``; None: what suits the model
                (``forced`` for the packaged SmolLM2-135M, else ``auto``).
        """
        self.models = models
        self.speculates = speculates
        self.first_phrase = first_phrase
        self.tool_calling: ToolCalling = tool_calling or default_tool_calling(models)

    def create_stt(self) -> STTService:
        """A Whisper STT service for one session (English: the packaged model is tiny.en)."""
        return create_stt(self.models)

    def create_llm(self) -> LLMService:
        """A llama.cpp LLM service for one session."""
        return create_llm(self.models, tool_calling=self.tool_calling)

    def create_tts(self) -> TTSService:
        """A Piper TTS service for one session."""
        return create_tts(self.models)

    def describe(self) -> dict[str, str]:
        """The models behind each stage, for ``/health`` and ``/v1/models``."""
        return {
            "stt": f"{self.models.whisper_name} (faster-whisper int8)",
            "llm": f"{self.models.llm_name} (llama.cpp)",
            "tts": f"piper {self.models.piper_voice_name}",
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
    """
    speculates = bool(getattr(settings, "speculative_turns", True))
    first_phrase = bool(getattr(settings, "tts_first_phrase", True))
    tools = getattr(settings, "local_llm_tools", "default")
    if config is None and settings is not None:
        config = LocalModelsConfig(
            **model_references(settings),
            llm_n_threads=getattr(settings, "local_llm_threads", 1),
            whisper_cpu_threads=getattr(settings, "local_whisper_threads", 2),
        )
    return LocalServiceFactory(
        get_local_models(config),
        speculates=speculates,
        first_phrase=first_phrase,
        tool_calling=None if tools == "default" else cast("ToolCalling", tools),
    )
