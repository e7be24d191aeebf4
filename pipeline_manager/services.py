"""Which speech and language services a session's pipeline uses: one factory per profile.

A factory is created once per process (so heavy models load once and are shared) and makes fresh,
light Pipecat service objects for every session.
"""

from __future__ import annotations

from typing import Protocol

from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from config import Settings
from realtime_session.reply_policy import ToolCalling


class ServiceFactory(Protocol):
    """Makes the Pipecat services of one session."""

    name: str
    first_phrase: bool
    """Whether the TTS starts on a reply's first clause (pipeline_manager/first_phrase.py)."""
    speculates: bool
    """Whether sessions transcribe during pauses (pipeline_manager/speculation.py): only for an
    STT in this process, where a discarded guess costs CPU but no money."""
    tool_calling: ToolCalling
    """What the LLM does with function tools (realtime_session/reply_policy.py): advertised in
    ``/health`` and ``/v1/models``, and the core tells a client whose tools will not be called."""

    def create_stt(self) -> STTService:
        """A speech-to-text service for one session."""
        ...

    def create_llm(self) -> LLMService:
        """A language model service for one session."""
        ...

    def create_tts(self) -> TTSService:
        """A text-to-speech service for one session."""
        ...

    def describe(self) -> dict[str, str]:
        """The models behind each stage, for ``/health`` and ``/v1/models``."""
        ...


class MockServiceFactory:
    """The deterministic mock profile (see :mod:`pipeline_manager.mock`)."""

    name = "mock"
    tool_calling: ToolCalling = "auto"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.speculates = settings.speculative_turns and settings.mock_speculation
        self.first_phrase = False  # the mock TTS's audio length is exact per character

    def create_stt(self) -> STTService:
        from pipeline_manager.mock import MockSTTService

        return MockSTTService(fault=self._settings.mock_fault)

    def create_llm(self) -> LLMService:
        from pipeline_manager.mock import MockLLMService

        return MockLLMService(
            token_delay_ms=self._settings.mock_token_delay_ms, fault=self._settings.mock_fault
        )

    def create_tts(self) -> TTSService:
        from pipeline_manager.mock import MockTTSService

        return MockTTSService(fault=self._settings.mock_fault)

    def describe(self) -> dict[str, str]:
        return {"stt": "mock-stt", "llm": "mock-llm", "tts": "mock-tts", "vad": "silero"}


def create_service_factory(settings: Settings) -> ServiceFactory:
    """The factory for the configured profile (loading its models, for real profiles).

    When ``REALTIME_STT``/``REALTIME_LLM``/``REALTIME_TTS`` move a stage to another provider, a
    :class:`pipeline_manager.providers.ProviderServiceFactory` composes the stages (and raises
    ``ProviderConfigError`` if the configuration cannot work).
    """
    from pipeline_manager.providers import create_provider_factory, overrides_stages

    if overrides_stages(settings):
        return create_provider_factory(settings, lambda name: _profile_factory(settings, name))
    return _profile_factory(settings, settings.profile)


def _profile_factory(settings: Settings, profile: str) -> ServiceFactory:
    """The factory of one profile, ``mock`` or ``local``."""
    if profile == "mock":
        return MockServiceFactory(settings)
    from pipeline_manager.local import create_local_factory  # heavy imports only when used

    return create_local_factory(settings)
