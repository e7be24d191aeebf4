"""The OpenAI-compatible provider: ``REALTIME_LLM``, ``REALTIME_STT`` or ``REALTIME_TTS=openai``.

Why a module: the three stages share what makes a server OpenAI-compatible: the base URL
(OpenAI itself, or vLLM, a llama.cpp server, ... at ``REALTIME_<STAGE>_BASE_URL``), the rules
for the key, and the OpenAI SDK client. Pipecat leaves that client's 600 s timeout and two
retries in place; here every client is bounded by ``REALTIME_PROVIDER_TIMEOUT_S`` and
``REALTIME_PROVIDER_MAX_RETRIES`` instead (:func:`bounded_client`, which :mod:`.ollama` uses
too: Ollama serves the same API, and Pipecat's Ollama service is its OpenAI service).

Services: :class:`BoundedOpenAILLMService` (``/v1/chat/completions``),
:class:`BoundedOpenAISTTService` (``/v1/audio/transcriptions``) and Pipecat's own
``OpenAITTSService`` (``/v1/audio/speech``) with its client replaced.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Any

from openai import AsyncOpenAI, Timeout
from openai.types.audio import Transcription
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.llm_service import LLMService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from config import Settings
from pipeline_manager import voices

from .common import (
    MAX_CONNECT_TIMEOUT_S,
    Endpoint,
    ProviderConfigError,
    StageBuilder,
    explain,
    public_url,
    report_errors_clearly,
)

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_LLM_MODEL = "gpt-4.1"
OPENAI_DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
PLACEHOLDER_API_KEY = "not-needed"  # servers that ignore the key still need one from the SDK


def openai_timeout(settings: Settings) -> Timeout:
    """The OpenAI SDK timeout for one request: connect bounded, then per-read inactivity."""
    timeout = settings.provider_timeout_s
    return Timeout(timeout, connect=min(timeout, MAX_CONNECT_TIMEOUT_S))


def bounded_client(client: AsyncOpenAI, settings: Settings) -> AsyncOpenAI:
    """The OpenAI SDK client with our timeout and retries instead of 600 s and two retries."""
    return client.with_options(
        timeout=openai_timeout(settings), max_retries=settings.provider_max_retries
    )


def require_model(settings_model: str | None, base_url: str | None, stage: str) -> None:
    """Another server than OpenAI serves models of its own: its model must be named."""
    if base_url and not settings_model:
        raise ProviderConfigError(
            f"REALTIME_{stage}_BASE_URL is set ({public_url(base_url)}) but "
            f"REALTIME_{stage}_MODEL is not: "
            "set it to a model that server serves"
        )


def openai_key(api_key: str | None, base_url: str | None, stage: str) -> str:
    """The key for an OpenAI-compatible endpoint.

    OpenAI itself needs one (``REALTIME_<STAGE>_API_KEY`` or ``OPENAI_API_KEY``). Another server
    gets its own key or a placeholder, never ``OPENAI_API_KEY``, which the SDK would otherwise
    send to whatever server the base URL names.
    """
    if api_key:
        return api_key
    if base_url:
        return PLACEHOLDER_API_KEY
    env_key = os.environ.get("OPENAI_API_KEY")
    if env_key:
        return env_key
    raise ProviderConfigError(
        f"REALTIME_{stage}=openai without REALTIME_{stage}_BASE_URL talks to {OPENAI_BASE_URL} "
        f"and needs a key: set REALTIME_{stage}_API_KEY (or OPENAI_API_KEY), or point "
        f"REALTIME_{stage}_BASE_URL at an OpenAI-compatible server"
    )


# --- LLM ---------------------------------------------------------------------------------------


class BoundedOpenAILLMService(OpenAILLMService):
    """Pipecat's ``OpenAILLMService`` with bounded requests.

    Its SDK client is made in ``__init__`` (by ``create_client``) with no way to set the timeout
    or retries, so it is replaced by a bounded copy.
    """

    def __init__(self, *, request_settings: Settings, **kwargs: Any) -> None:
        """Initialize the service; ``request_settings`` bound its requests."""
        super().__init__(**kwargs)
        self._client = bounded_client(self._client, request_settings)


def openai_llm(settings: Settings) -> StageBuilder[LLMService[Any]]:
    """The LLM stage at OpenAI or at ``REALTIME_LLM_BASE_URL``."""
    base_url = settings.llm_base_url
    require_model(settings.llm_model, base_url, "LLM")
    api_key = openai_key(settings.llm_api_key, base_url, "LLM")
    model = settings.llm_model or OPENAI_DEFAULT_LLM_MODEL
    url = public_url(base_url or OPENAI_BASE_URL)
    endpoint = Endpoint("LLM", "openai", url, model, settings.provider_timeout_s)

    def create() -> LLMService[Any]:
        service = BoundedOpenAILLMService(
            base_url=base_url,
            api_key=api_key,
            settings=BoundedOpenAILLMService.Settings(model=model),
            request_settings=settings,
        )
        report_errors_clearly(service, endpoint)
        return service

    return StageBuilder("openai", f"openai: {model} at {url}", create)


# --- STT ---------------------------------------------------------------------------------------


class BoundedOpenAISTTService(OpenAISTTService):
    """Pipecat's ``OpenAISTTService`` with bounded requests and explained errors.

    Its SDK client is made in ``__init__`` with no way to set the timeout or retries, so it is
    replaced by a bounded copy. ``run_stt`` reports failures as an ``ErrorFrame`` that has lost
    the exception, so ``_transcribe`` keeps it for the explanation.
    """

    def __init__(self, *, endpoint: Endpoint, request_settings: Settings, **kwargs: Any) -> None:
        """Initialize the service; errors name ``endpoint``, ``request_settings`` bound it."""
        super().__init__(**kwargs)
        self._client = bounded_client(self._client, request_settings)
        self._endpoint = endpoint
        self._last_error: BaseException | None = None

    async def _transcribe(self, audio: bytes) -> Transcription:
        self._last_error = None
        try:
            return await super()._transcribe(audio)
        except Exception as error:
            self._last_error = error
            raise

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Pipecat's transcription, with failures explained."""
        async for frame in super().run_stt(audio):
            if isinstance(frame, ErrorFrame):
                frame.error = explain(self._endpoint, self._last_error, str(frame.error))
            yield frame


def openai_stt(settings: Settings) -> StageBuilder[STTService]:
    """The STT stage at OpenAI or at ``REALTIME_STT_BASE_URL``."""
    base_url = settings.stt_base_url
    require_model(settings.stt_model, base_url, "STT")
    api_key = openai_key(settings.stt_api_key, base_url, "STT")
    model = settings.stt_model
    url = public_url(base_url or OPENAI_BASE_URL)
    endpoint = Endpoint("STT", "openai", url, model, settings.provider_timeout_s)

    def create() -> STTService:
        return BoundedOpenAISTTService(
            base_url=base_url,
            api_key=api_key,
            settings=OpenAISTTService.Settings(model=model) if model else None,
            endpoint=endpoint,
            request_settings=settings,
        )

    return StageBuilder("openai", f"openai: {model or 'gpt-transcribe'} at {url}", create)


# --- TTS ---------------------------------------------------------------------------------------


def openai_tts(settings: Settings) -> StageBuilder[TTSService]:
    """The TTS stage at OpenAI or at ``REALTIME_TTS_BASE_URL``."""
    base_url = settings.tts_base_url
    require_model(settings.tts_model, base_url, "TTS")
    api_key = openai_key(settings.tts_api_key, base_url, "TTS")
    model = settings.tts_model or OPENAI_DEFAULT_TTS_MODEL
    url = public_url(base_url or OPENAI_BASE_URL)
    endpoint = Endpoint("TTS", "openai", url, model, settings.provider_timeout_s)

    def voice(name: str) -> str:
        return voices.openai_voice(name, model)

    def create() -> TTSService:
        service = OpenAITTSService(
            base_url=base_url,
            api_key=api_key,
            settings=OpenAITTSService.Settings(model=model, voice=voice("alloy")),
        )
        # No constructor option for the SDK client's timeout and retries.
        service._client = bounded_client(service._client, settings)
        report_errors_clearly(service, endpoint)
        return service

    return StageBuilder("openai", f"openai: {model} at {url}", create, voice)
