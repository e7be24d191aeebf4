"""The composition: one provider per stage, chosen by configuration, as one service factory.

Why a module: it is the one place that reads ``REALTIME_STT``/``LLM``/``TTS`` and knows every
provider by name. :func:`create_provider_factory` checks the remote stages first (a typo fails in
a second, before any local model loads), makes the rest from the profiles' own factories, and
wraps them in a :class:`ProviderServiceFactory`.

The provider modules are imported only when a stage uses them: the OpenAI SDK is slow to import
for a mock server, and Deepgram and ElevenLabs need Pipecat extras that may not be installed.
For those two the key is checked first, then the extra is imported, and a missing extra raises
:class:`ProviderConfigError` with the ``pip install`` that fixes it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from loguru import logger
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from config import Settings
from realtime_session.reply_policy import ToolCalling

from .common import ProviderConfigError, StageBuilder, missing_extra

if TYPE_CHECKING:
    from pipeline_manager.services import ServiceFactory

    from .deepgram import DeepgramSegmentSTTService
    from .elevenlabs import BoundedElevenLabsHttpTTSService

__all__ = [
    "ProfileLoader",
    "ProviderConfigError",
    "ProviderServiceFactory",
    "create_provider_factory",
    "overrides_stages",
]

ProfileLoader = Callable[[str], "ServiceFactory"]
"""Returns the service factory of a profile (``mock`` or ``local``) by name."""


class ProviderServiceFactory:
    """A ``ServiceFactory`` whose stages each come from their own provider.

    Parameters:
        name: The profile name (the default of every stage).
        stt: The speech-to-text stage.
        llm: The language model stage.
        tts: The text-to-speech stage.
    """

    def __init__(
        self,
        name: str,
        stt: StageBuilder[STTService],
        llm: StageBuilder[LLMService[Any]],
        tts: StageBuilder[TTSService],
    ) -> None:
        """Initialize the factory from its three stage builders."""
        self.name = name
        self.speculates = False
        self.first_phrase = False
        self.tool_calling: ToolCalling = "auto"
        self.stt = stt
        self.llm = llm
        self.tts = tts

    def create_stt(self) -> STTService:
        """A speech-to-text service for one session."""
        return self.stt.create()

    def create_llm(self) -> LLMService[Any]:
        """A language model service for one session."""
        return self.llm.create()

    def create_tts(self) -> TTSService:
        """A text-to-speech service for one session."""
        return self.tts.create()

    def tts_voice(self, voice: str) -> str | None:
        """The TTS voice that speaks a session voice, or None if the TTS has only one.

        Args:
            voice: The session's (or the response's) voice name.
        """
        return self.tts.voice(voice) if self.tts.voice is not None else None

    def describe(self) -> dict[str, str]:
        """The provider and model behind each stage, for ``/health`` and the start-up log."""
        return {
            "stt": self.stt.description,
            "llm": self.llm.description,
            "tts": self.tts.description,
            "vad": "silero",
        }


def overrides_stages(settings: Settings) -> bool:
    """Whether any stage is configured away from the profile's own model."""
    return any(
        choice not in ("default", settings.profile)
        for choice in (settings.stt, settings.llm, settings.tts)
    )


def create_provider_factory(
    settings: Settings, load_profile: ProfileLoader
) -> ProviderServiceFactory:
    """Build the per-stage factory (raises :class:`ProviderConfigError` if it cannot work).

    Args:
        settings: The server settings.
        load_profile: Returns a profile's factory by name; called at most once per profile, and
            only for profiles some stage uses (so the local models load only when needed).

    Returns:
        The factory; its ``describe()`` names each stage's provider and model.
    """
    profiles: dict[str, ServiceFactory] = {}

    def profile(name: str) -> ServiceFactory:
        if name not in profiles:
            profiles[name] = load_profile(name)
        return profiles[name]

    def choice(value: str) -> str:
        return settings.profile if value == "default" else value

    stt_choice, llm_choice, tts_choice = (
        choice(settings.stt),
        choice(settings.llm),
        choice(settings.tts),
    )
    # Check the remote stages before loading any local model: a typo should fail in a second.
    stt = _remote_stt(settings, stt_choice)
    llm = _remote_llm(settings, llm_choice)
    tts = _remote_tts(settings, tts_choice)
    if stt is None:
        stt = _profile_stage(profile(stt_choice), "stt", stt_choice)
    if llm is None:
        llm = _profile_stage(profile(llm_choice), "llm", llm_choice)
    if tts is None:
        tts = _profile_stage(profile(tts_choice), "tts", tts_choice)
    factory = ProviderServiceFactory(settings.profile, stt, llm, tts)
    # Speculating during pauses costs a discarded transcription now and then: free with an STT
    # in this process, money with a remote one.
    factory.speculates = stt_choice in ("mock", "local") and bool(
        getattr(profile(stt_choice), "speculates", False)
    )
    factory.first_phrase = settings.tts_first_phrase and tts_choice != "mock"
    if llm_choice in ("mock", "local"):  # the profile's LLM: what it can do with tools
        factory.tool_calling = profile(llm_choice).tool_calling
    for stage, builder in (("STT", stt), ("LLM", llm), ("TTS", tts)):
        logger.info(f"{stage}: {builder.description}")
    return factory


def _profile_stage(factory: ServiceFactory, stage: str, provider: str) -> StageBuilder[Any]:
    """A stage served by a profile's factory (``mock`` or ``local``)."""
    create = getattr(factory, f"create_{stage}")
    description = factory.describe().get(stage, provider)
    return StageBuilder(provider=provider, description=f"{provider}: {description}", create=create)


def _remote_llm(settings: Settings, provider: str) -> StageBuilder[LLMService[Any]] | None:
    """The LLM stage for a remote provider (None for ``mock``/``local``)."""
    if provider == "openai":
        from .openai import openai_llm

        return openai_llm(settings)
    if provider == "ollama":
        from .ollama import ollama_llm

        return ollama_llm(settings)
    return None


def _remote_stt(settings: Settings, provider: str) -> StageBuilder[STTService] | None:
    """The STT stage for a remote provider (None for ``mock``/``local``)."""
    if provider == "openai":
        from .openai import openai_stt

        return openai_stt(settings)
    if provider == "deepgram":
        api_key = settings.deepgram_api_key or settings.stt_api_key
        if not api_key:
            raise ProviderConfigError(
                "REALTIME_STT=deepgram needs REALTIME_DEEPGRAM_API_KEY (or REALTIME_STT_API_KEY)"
            )
        _deepgram_segment_class()  # Pipecat's deepgram extra, or a clear error without it
        from .deepgram import deepgram_stt

        return deepgram_stt(settings, api_key)
    return None


def _remote_tts(settings: Settings, provider: str) -> StageBuilder[TTSService] | None:
    """The TTS stage for a remote provider (None for ``mock``/``local``)."""
    if provider == "openai":
        from .openai import openai_tts

        return openai_tts(settings)
    if provider == "elevenlabs":
        api_key = settings.elevenlabs_api_key or settings.tts_api_key
        if not api_key:
            raise ProviderConfigError(
                "REALTIME_TTS=elevenlabs needs REALTIME_ELEVENLABS_API_KEY "
                "(or REALTIME_TTS_API_KEY)"
            )
        _elevenlabs_service_class()  # Pipecat's elevenlabs extra, or a clear error without it
        from .elevenlabs import elevenlabs_tts

        return elevenlabs_tts(settings, api_key)
    return None


# --- providers whose Pipecat extra is optional -------------------------------------------------
#
# Pipecat's module is imported by name before ours: it is what the extra installs, so the check
# holds even when our module was imported earlier in the process. The result is cached;
# tests/test_providers.py clears the cache to simulate a missing extra.


@lru_cache
def _deepgram_segment_class() -> type[DeepgramSegmentSTTService]:
    """:class:`.deepgram.DeepgramSegmentSTTService`, or :class:`ProviderConfigError` without
    Pipecat's ``deepgram`` extra."""
    try:
        importlib.import_module("pipecat.services.deepgram.stt")
        from .deepgram import DeepgramSegmentSTTService
    except ImportError as error:
        raise missing_extra("REALTIME_STT=deepgram", "deepgram", error) from error
    return DeepgramSegmentSTTService


@lru_cache
def _elevenlabs_service_class() -> type[BoundedElevenLabsHttpTTSService]:
    """:class:`.elevenlabs.BoundedElevenLabsHttpTTSService`, or :class:`ProviderConfigError`
    without Pipecat's ``elevenlabs`` extra."""
    try:
        importlib.import_module("pipecat.services.elevenlabs.tts")
        from .elevenlabs import BoundedElevenLabsHttpTTSService
    except ImportError as error:
        raise missing_extra("REALTIME_TTS=elevenlabs", "elevenlabs", error) from error
    return BoundedElevenLabsHttpTTSService
