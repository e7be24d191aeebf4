"""Speech and language providers chosen per stage by configuration, on Pipecat's own services.

``REALTIME_STT``, ``REALTIME_LLM`` and ``REALTIME_TTS`` pick each stage's provider; a stage left at
``default`` uses the profile's (``mock`` or ``local``). Stages mix freely, e.g. the local Whisper
and Piper with an LLM served by Ollama:

| stage | providers | Pipecat service |
| --- | --- | --- |
| STT | ``local``, ``mock``, ``openai`` (any OpenAI-compatible ``/v1/audio/transcriptions``), ``deepgram`` | ``OpenAISTTService``, ``DeepgramSTTService`` |
| LLM | ``local``, ``mock``, ``openai`` (OpenAI, vLLM, llama.cpp server, ... ``/v1/chat/completions``), ``ollama`` | ``OpenAILLMService``, ``OLLamaLLMService`` |
| TTS | ``local``, ``mock``, ``openai`` (any OpenAI-compatible ``/v1/audio/speech``), ``elevenlabs`` | ``OpenAITTSService``, ``ElevenLabsHttpTTSService`` |

:class:`ProviderServiceFactory` composes one builder per stage and wraps the profile's factory
for the stages that are not overridden; the heavy local models load only if a stage uses them.
A configuration that cannot work (a missing key or model, a provider whose Pipecat extra is not
installed) raises :class:`ProviderConfigError` at start-up. At run time every remote request is
bounded by ``REALTIME_PROVIDER_TIMEOUT_S`` (Pipecat leaves the OpenAI SDK's 600 s timeout and two
retries in place), and a failing provider fails the response (or the transcription) with a
message naming the provider, and logs what to fix.

See docs/providers.md for configuration examples.
"""  # noqa: E501

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from config import Settings
from pipeline_manager import voices

ServiceT = TypeVar("ServiceT", LLMService, STTService, TTSService)
ProfileLoader = Callable[[str], Any]
"""Returns the service factory of a profile (``mock`` or ``local``) by name."""

OPENAI_BASE_URL = "https://api.openai.com/v1"
OLLAMA_BASE_URL = "http://localhost:11434/v1"
OLLAMA_DEFAULT_MODEL = "llama3.2"
OPENAI_DEFAULT_LLM_MODEL = "gpt-4.1"
ELEVENLABS_BASE_URL = "https://api.elevenlabs.io"
DEEPGRAM_DEFAULT_MODEL = "nova-3-general"
MAX_CONNECT_TIMEOUT_S = 5.0
PLACEHOLDER_API_KEY = "not-needed"  # servers that ignore the key still need one from the SDK
PIPECAT_EXTRA = 'pip install "pipecat-ai[{extra}]==1.14.0"'


class ProviderConfigError(RuntimeError):
    """The provider configuration cannot work; raised at start-up with what to change."""


@dataclass
class StageBuilder(Generic[ServiceT]):
    """How one stage's services are made.

    Parameters:
        provider: The provider's name (``openai``, ``local``, ...).
        description: What serves the stage, for ``/health`` (no secrets).
        create: Makes a fresh service for one session.
        voice: Maps a session voice to this TTS's voice; ``None`` when the stage has one voice.
    """

    provider: str
    description: str
    create: Callable[[], ServiceT]
    voice: Callable[[str], str] | None = field(default=None)


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
        llm: StageBuilder[LLMService],
        tts: StageBuilder[TTSService],
    ) -> None:
        """Initialize the factory from its three stage builders."""
        self.name = name
        self.stt = stt
        self.llm = llm
        self.tts = tts

    def create_stt(self) -> STTService:
        """A speech-to-text service for one session."""
        return self.stt.create()

    def create_llm(self) -> LLMService:
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
    profiles: dict[str, Any] = {}

    def profile(name: str) -> Any:
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
    for stage, builder in (("STT", stt), ("LLM", llm), ("TTS", tts)):
        logger.info(f"{stage}: {builder.description}")
    return factory


def _profile_stage(factory: Any, stage: str, provider: str) -> StageBuilder[Any]:
    """A stage served by a profile's factory (``mock`` or ``local``)."""
    create = getattr(factory, f"create_{stage}")
    description = factory.describe().get(stage, provider)
    return StageBuilder(provider=provider, description=f"{provider}: {description}", create=create)


# --- timeouts ----------------------------------------------------------------------------------


def _openai_timeout(settings: Settings) -> Any:
    """The OpenAI SDK timeout for one request: connect bounded, then per-read inactivity."""
    from openai import Timeout

    timeout = settings.provider_timeout_s
    return Timeout(timeout, connect=min(timeout, MAX_CONNECT_TIMEOUT_S))


def _bounded(client: Any, settings: Settings) -> Any:
    """The OpenAI SDK client with our timeout and retries instead of 600 s and two retries."""
    return client.with_options(
        timeout=_openai_timeout(settings), max_retries=settings.provider_max_retries
    )


# --- error reporting -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    """Where a stage's requests go, for messages (never with credentials)."""

    stage: str  # "STT", "LLM", "TTS"
    provider: str
    url: str
    model: str | None
    timeout_s: float

    def label(self) -> str:
        model = f", model {self.model}" if self.model else ""
        return f"{self.stage} provider '{self.provider}' ({self.url}{model})"

    def env(self, name: str) -> str:
        return f"REALTIME_{self.stage}_{name}"


_STATUS_IN_MESSAGE = re.compile(r"(?:Error code|status)\W+(\d{3})")


def _status_of(error: BaseException | None, message: str) -> int | None:
    """The HTTP status an error carries, if any (from the exception or its message)."""
    status = getattr(error, "status_code", None) or getattr(error, "status", None)
    if isinstance(status, int):
        return status
    match = _STATUS_IN_MESSAGE.search(message)
    return int(match.group(1)) if match else None


def _is_timeout(error: BaseException | None, message: str) -> bool:
    if error is not None:
        from openai import APITimeoutError
        from pipecat.utils.http import TIMEOUT_EXCEPTIONS

        if isinstance(error, (APITimeoutError, TimeoutError, *TIMEOUT_EXCEPTIONS)):
            return True
    return "timed out" in message.lower() or "timeout" in message.lower()


def _is_connection_error(error: BaseException | None, message: str) -> bool:
    if error is not None:
        import aiohttp
        from openai import APIConnectionError

        if isinstance(error, (APIConnectionError, ConnectionError, aiohttp.ClientConnectionError)):
            return True
    return "connection error" in message.lower() or "cannot connect" in message.lower()


def _what_to_fix(endpoint: _Endpoint, error: BaseException | None, message: str) -> str:
    """A hint for the log: what to change so the provider works."""
    status = _status_of(error, message)
    lowered = message.lower()
    if status is None and any(k in lowered for k in ("api_key", "api key", "unauthorized")):
        status = 401  # e.g. ElevenLabs reports the body ("invalid_api_key"), not the status
    if "voice_not_found" in lowered or "voice not found" in lowered:
        return (
            "the voice does not exist for this account: set REALTIME_ELEVENLABS_VOICE_ID to one "
            "of its voices (or check the session voice)"
        )
    if _is_timeout(error, message):
        return (
            f"no answer within REALTIME_PROVIDER_TIMEOUT_S={endpoint.timeout_s:g} s: check that "
            f"the server at {endpoint.url} is not overloaded (or loading the model), or raise "
            "REALTIME_PROVIDER_TIMEOUT_S"
        )
    if status in (401, 403):
        return (
            f"the server rejected the credentials: set {endpoint.env('API_KEY')} (or the "
            "provider's own key variable) to a valid key"
        )
    if status == 404:
        return (
            f"not found: check {endpoint.env('MODEL')} ({endpoint.model}) and that "
            f"{endpoint.env('BASE_URL')} ({endpoint.url}) is the API root (usually ending in /v1)"
        )
    if status == 429:
        return "rate limited or out of quota at the provider: check the account's limits"
    if status is not None and status >= 500:
        return f"the server failed (HTTP {status}): see the logs of the server at {endpoint.url}"
    if status is not None:
        return (
            f"the server refused the request (HTTP {status}): check the {endpoint.stage} settings"
        )
    if _is_connection_error(error, message):
        return (
            f"nothing answered at {endpoint.url}: start the server there or fix "
            f"{endpoint.env('BASE_URL')}"
        )
    return f"check the REALTIME_{endpoint.stage}_* settings and the server at {endpoint.url}"


def _explain(endpoint: _Endpoint, error: BaseException | None, message: str) -> str:
    """Rewrite an error message to name the provider, and log what to fix."""
    explained = f"{endpoint.label()} failed: {message}"
    logger.error(f"{explained} -- to fix: {_what_to_fix(endpoint, error, message)}")
    return explained


def _report_errors_clearly(service: FrameProcessor, endpoint: _Endpoint) -> None:
    """Name the provider in every error the service pushes, and log what to fix.

    Pipecat calls ``on_error`` synchronously, before the error frame travels, so the response's
    failure message carries the explanation. A provider error in a permanent category (a 401,
    say) would also cost the service its usability for the rest of the session, after which
    Pipecat's TTS skips all text silently: usability is restored so that every later response
    fails (with this message) instead of quietly missing its audio.
    """

    async def on_error(processor: FrameProcessor, frame: ErrorFrame) -> None:
        frame.error = _explain(endpoint, frame.exception, str(frame.error))
        if not processor.is_usable:
            await processor.set_usable(True)

    service.add_event_handler("on_error", on_error)


def _public_url(url: str) -> str:
    """The URL without credentials (user:password@) or query, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _require_model(settings_model: str | None, base_url: str | None, stage: str) -> None:
    if base_url and not settings_model:
        raise ProviderConfigError(
            f"REALTIME_{stage}_BASE_URL is set ({_public_url(base_url)}) but "
            f"REALTIME_{stage}_MODEL is not: "
            "set it to a model that server serves"
        )


def _openai_key(api_key: str | None, base_url: str | None, stage: str) -> str:
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


def _remote_llm(settings: Settings, provider: str) -> StageBuilder[LLMService] | None:
    """The LLM stage for a remote provider (None for ``mock``/``local``)."""
    if provider not in ("openai", "ollama"):
        return None
    from pipecat.services.ollama.llm import OLLamaLLMService
    from pipecat.services.openai.llm import OpenAILLMService

    if provider == "openai":
        base_url = settings.llm_base_url
        _require_model(settings.llm_model, base_url, "LLM")
        api_key = _openai_key(settings.llm_api_key, base_url, "LLM")
        model = settings.llm_model or OPENAI_DEFAULT_LLM_MODEL
        service_class: type[OpenAILLMService] = _bounded_llm_class(OpenAILLMService)
    else:
        base_url = settings.llm_base_url or OLLAMA_BASE_URL
        api_key = settings.llm_api_key or "ollama"
        model = settings.llm_model or OLLAMA_DEFAULT_MODEL
        service_class = _bounded_llm_class(OLLamaLLMService)
    url = _public_url(base_url or OPENAI_BASE_URL)
    endpoint = _Endpoint("LLM", provider, url, model, settings.provider_timeout_s)

    def create() -> LLMService:
        service = service_class(
            base_url=base_url,
            api_key=api_key,
            settings=service_class.Settings(model=model),
            request_settings=settings,
        )
        _report_errors_clearly(service, endpoint)
        return service

    return StageBuilder(provider, f"{provider}: {model} at {url}", create)


@lru_cache
def _bounded_llm_class(base: type[Any]) -> type[Any]:
    """``base`` (an OpenAI-compatible Pipecat LLM service) with bounded requests.

    ``BaseOpenAILLMService.create_client`` is Pipecat's hook for the SDK client; the subclass
    applies ``REALTIME_PROVIDER_TIMEOUT_S`` and ``REALTIME_PROVIDER_MAX_RETRIES`` to it.
    """

    class BoundedLLMService(base):  # type: ignore[misc, valid-type]
        __doc__ = base.__doc__

        def __init__(self, *, request_settings: Settings, **kwargs: Any) -> None:
            # Read by create_client, which the parent __init__ calls.
            self._request_settings = request_settings
            super().__init__(**kwargs)

        def create_client(self, *args: Any, **kwargs: Any) -> Any:
            return _bounded(super().create_client(*args, **kwargs), self._request_settings)

    BoundedLLMService.__name__ = BoundedLLMService.__qualname__ = f"Bounded{base.__name__}"
    return BoundedLLMService


# --- STT ---------------------------------------------------------------------------------------


def _remote_stt(settings: Settings, provider: str) -> StageBuilder[STTService] | None:
    """The STT stage for a remote provider (None for ``mock``/``local``)."""
    if provider == "openai":
        return _openai_stt(settings)
    if provider == "deepgram":
        return _deepgram_stt(settings)
    return None


def _openai_stt(settings: Settings) -> StageBuilder[STTService]:
    from pipecat.services.openai.stt import OpenAISTTService

    base_url = settings.stt_base_url
    _require_model(settings.stt_model, base_url, "STT")
    api_key = _openai_key(settings.stt_api_key, base_url, "STT")
    model = settings.stt_model
    url = _public_url(base_url or OPENAI_BASE_URL)
    endpoint = _Endpoint("STT", "openai", url, model, settings.provider_timeout_s)
    service_class = _openai_stt_class(OpenAISTTService)

    def create() -> STTService:
        return service_class(
            base_url=base_url,
            api_key=api_key,
            settings=OpenAISTTService.Settings(model=model) if model else None,
            endpoint=endpoint,
            request_settings=settings,
        )

    return StageBuilder("openai", f"openai: {model or 'gpt-transcribe'} at {url}", create)


@lru_cache
def _openai_stt_class(base: type[Any]) -> type[Any]:
    """Pipecat's ``OpenAISTTService`` with bounded requests and explained errors.

    Its SDK client is made in ``__init__`` with no way to set the timeout or retries, so it is
    replaced by a bounded copy. ``run_stt`` reports failures as an ``ErrorFrame`` that has lost
    the exception, so ``_transcribe`` keeps it for the explanation.
    """

    class BoundedOpenAISTTService(base):  # type: ignore[misc, valid-type]
        __doc__ = base.__doc__

        def __init__(self, *, endpoint: _Endpoint, request_settings: Settings, **kwargs: Any):
            super().__init__(**kwargs)
            self._client = _bounded(self._client, request_settings)
            self._endpoint = endpoint
            self._last_error: BaseException | None = None

        async def _transcribe(self, audio: bytes) -> Any:
            self._last_error = None
            try:
                return await super()._transcribe(audio)
            except Exception as error:
                self._last_error = error
                raise

        async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
            async for frame in super().run_stt(audio):
                if isinstance(frame, ErrorFrame):
                    frame.error = _explain(self._endpoint, self._last_error, str(frame.error))
                yield frame

    return BoundedOpenAISTTService


def _deepgram_stt(settings: Settings) -> StageBuilder[STTService]:
    api_key = settings.deepgram_api_key or settings.stt_api_key
    if not api_key:
        raise ProviderConfigError(
            "REALTIME_STT=deepgram needs REALTIME_DEEPGRAM_API_KEY (or REALTIME_STT_API_KEY)"
        )
    service_class = _deepgram_segment_class()
    model = settings.stt_model or DEEPGRAM_DEFAULT_MODEL
    base_url = settings.stt_base_url or ""
    url = _public_url(base_url) if base_url else "api.deepgram.com"
    endpoint = _Endpoint("STT", "deepgram", url, model, settings.provider_timeout_s)

    def create() -> STTService:
        return service_class(
            api_key=api_key,
            base_url=base_url,
            settings=service_class.Settings(model=model, interim_results=False),
            endpoint=endpoint,
        )

    return StageBuilder("deepgram", f"deepgram: {model} at {url}", create)


def _missing_extra(provider: str, extra: str, error: ImportError) -> ProviderConfigError:
    return ProviderConfigError(
        f"{provider} needs Pipecat's '{extra}' extra, which is not installed ({error}): "
        + PIPECAT_EXTRA.format(extra=extra)
    )


@lru_cache
def _deepgram_segment_class() -> type[Any]:
    """Pipecat's streaming ``DeepgramSTTService``, driven one committed segment at a time.

    The session transcribes each committed item by calling ``run_stt(segment)`` and reading the
    frames it yields, but Pipecat's Deepgram service only sends audio from ``run_stt``: its
    transcripts arrive later, pushed downstream from the websocket's receive loop. This subclass
    sends the segment, asks Deepgram to finalize it (what Pipecat does on
    ``VADUserStoppedSpeakingFrame``), collects the final transcripts instead of pushing them, and
    yields them once Deepgram confirms the finalize, all within ``REALTIME_PROVIDER_TIMEOUT_S``.
    It connects in the background (Pipecat would hold up the session's start until connected or
    given up) and ``run_stt`` waits for the connection, again within the timeout.
    """
    try:
        from deepgram.listen.v1.types import ListenV1Finalize
        from pipecat.services.deepgram.stt import DeepgramSTTService
    except ImportError as error:
        raise _missing_extra("REALTIME_STT=deepgram", "deepgram", error) from error
    from pipecat.frames.frames import TranscriptionFrame
    from pipecat.processors.frame_processor import FrameDirection
    from pipecat.utils.time import time_now_iso8601

    chunk_bytes = 3200  # 100 ms of 16 kHz PCM16 per websocket message

    class DeepgramSegmentSTTService(DeepgramSTTService):
        def __init__(self, *, endpoint: _Endpoint, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._endpoint = endpoint
            self._segment_texts: list[str] | None = None
            self._segment_done = asyncio.Event()
            self._segment_error: str | None = None
            self._connection_error: str | None = None
            self._connect_in_background = False
            self._background_connect: asyncio.Task[None] | None = None

        @property
        def wants_wav_segments(self) -> bool:
            """Deepgram's live API takes raw linear16 PCM."""
            return False

        async def setup(self, setup: Any) -> None:
            # Pipecat connects here and waits until connected or given up (about 8 s when
            # Deepgram is unreachable), which would hold up session.created: connect in the
            # background instead; run_stt waits for the connection.
            self._connect_in_background = True
            try:
                await super().setup(setup)
            finally:
                self._connect_in_background = False

        async def _connect(self) -> None:
            if self._connect_in_background:
                self._background_connect = self.create_task(super()._connect(), "connect")
            else:
                await super()._connect()

        async def cleanup(self) -> None:
            if self._background_connect is not None and not self._background_connect.done():
                await self.cancel_task(self._background_connect)
            await super().cleanup()

        async def push_frame(
            self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
        ) -> None:
            if isinstance(frame, TranscriptionFrame) and self._segment_texts is not None:
                self._segment_texts.append(frame.text)
                return
            await super().push_frame(frame, direction)

        async def push_error_frame(self, error: ErrorFrame, **kwargs: Any) -> None:
            if self._segment_texts is not None:
                self._segment_error = str(error.error)
                self._segment_done.set()
            elif self._connection is None:
                self._connection_error = str(error.error)
            await super().push_error_frame(error, **kwargs)

        async def _on_message(self, message: Any) -> None:
            await super()._on_message(message)
            if self._segment_texts is not None and getattr(message, "from_finalize", False):
                self._segment_done.set()

        async def _wait_for_connection(self) -> Any:
            """The live connection, waiting for it up to the timeout (None if there is none)."""
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._endpoint.timeout_s
            while self._connection is None and loop.time() < deadline:
                task = self._connection_task
                if task is not None and task.done():
                    break  # Pipecat gave up connecting (rejected, or failing repeatedly)
                await asyncio.sleep(0.05)
            return self._connection

        async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
            connection = await self._wait_for_connection()
            if connection is None:
                reason = self._connection_error or f"none within {self._endpoint.timeout_s:g} s"
                message = f"not connected to Deepgram ({reason})"
                yield ErrorFrame(error=_explain(self._endpoint, None, message))
                return
            self._segment_texts = []
            self._segment_error = None
            self._segment_done.clear()
            try:
                for start in range(0, len(audio), chunk_bytes):
                    await connection.send_media(audio[start : start + chunk_bytes])
                self.request_finalize()
                await connection.send_finalize(ListenV1Finalize(type="Finalize"))
                await asyncio.wait_for(self._segment_done.wait(), self._endpoint.timeout_s)
            except TimeoutError:
                self._segment_error = (
                    f"no final transcript within {self._endpoint.timeout_s:g} s (timed out)"
                )
            except Exception as error:
                self._segment_error = f"sending audio failed: {error}"
            finally:
                texts, self._segment_texts = self._segment_texts, None
            if self._segment_error is not None:
                yield ErrorFrame(error=_explain(self._endpoint, None, self._segment_error))
                return
            yield TranscriptionFrame(
                " ".join(t.strip() for t in texts if t.strip()),
                self._user_id,
                time_now_iso8601(),
                finalized=True,
            )

    return DeepgramSegmentSTTService


# --- TTS ---------------------------------------------------------------------------------------


def _remote_tts(settings: Settings, provider: str) -> StageBuilder[TTSService] | None:
    """The TTS stage for a remote provider (None for ``mock``/``local``)."""
    if provider == "openai":
        return _openai_tts(settings)
    if provider == "elevenlabs":
        return _elevenlabs_tts(settings)
    return None


def _openai_tts(settings: Settings) -> StageBuilder[TTSService]:
    from pipecat.services.openai.tts import OpenAITTSService

    base_url = settings.tts_base_url
    _require_model(settings.tts_model, base_url, "TTS")
    api_key = _openai_key(settings.tts_api_key, base_url, "TTS")
    model = settings.tts_model or "gpt-4o-mini-tts"
    url = _public_url(base_url or OPENAI_BASE_URL)
    endpoint = _Endpoint("TTS", "openai", url, model, settings.provider_timeout_s)

    def voice(name: str) -> str:
        return voices.openai_voice(name, model)

    def create() -> TTSService:
        service = OpenAITTSService(
            base_url=base_url,
            api_key=api_key,
            settings=OpenAITTSService.Settings(model=model, voice=voice("alloy")),
        )
        # No constructor option for the SDK client's timeout and retries.
        service._client = _bounded(service._client, settings)
        _report_errors_clearly(service, endpoint)
        return service

    return StageBuilder("openai", f"openai: {model} at {url}", create, voice)


def _elevenlabs_tts(settings: Settings) -> StageBuilder[TTSService]:
    api_key = settings.elevenlabs_api_key or settings.tts_api_key
    if not api_key:
        raise ProviderConfigError(
            "REALTIME_TTS=elevenlabs needs REALTIME_ELEVENLABS_API_KEY (or REALTIME_TTS_API_KEY)"
        )
    try:
        from pipecat.services.elevenlabs.tts import ElevenLabsHttpTTSService
    except ImportError as error:
        raise _missing_extra("REALTIME_TTS=elevenlabs", "elevenlabs", error) from error
    base_url = (settings.tts_base_url or ELEVENLABS_BASE_URL).rstrip("/")
    model = settings.tts_model or "eleven_flash_v2_5"
    url = _public_url(base_url)
    endpoint = _Endpoint("TTS", "elevenlabs", url, model, settings.provider_timeout_s)
    service_class = _elevenlabs_class(ElevenLabsHttpTTSService)

    def voice(name: str) -> str:
        return voices.elevenlabs_voice(name, settings.elevenlabs_voice_id)

    def create() -> TTSService:
        service = service_class(
            api_key=api_key,
            base_url=base_url,
            settings=ElevenLabsHttpTTSService.Settings(model=model, voice=voice("alloy")),
            timeout_s=settings.provider_timeout_s,
        )
        _report_errors_clearly(service, endpoint)
        return service

    return StageBuilder("elevenlabs", f"elevenlabs: {model} at {url}", create, voice)


@lru_cache
def _elevenlabs_class(base: type[Any]) -> type[Any]:
    """Pipecat's ``ElevenLabsHttpTTSService`` owning an aiohttp session with bounded requests.

    The service takes an ``aiohttp.ClientSession`` from its caller; this subclass makes one per
    service when the pipeline sets it up (a session must be made inside the event loop) and
    closes it at teardown.
    """
    import aiohttp

    class BoundedElevenLabsHttpTTSService(base):  # type: ignore[misc, valid-type]
        __doc__ = base.__doc__

        def __init__(self, *, timeout_s: float, **kwargs: Any) -> None:
            super().__init__(aiohttp_session=None, **kwargs)
            self._timeout = aiohttp.ClientTimeout(
                total=None,
                sock_connect=min(timeout_s, MAX_CONNECT_TIMEOUT_S),
                sock_read=timeout_s,
            )

        async def setup(self, setup: Any) -> None:
            await super().setup(setup)
            self._session = aiohttp.ClientSession(timeout=self._timeout)

        async def cleanup(self) -> None:
            await super().cleanup()
            if self._session is not None:
                await self._session.close()
                self._session = None

    return BoundedElevenLabsHttpTTSService
