"""What the provider modules share: a stage's description, configuration errors, explained errors.

Why a module: every provider module (and the factory) needs these few pieces, and keeping them
here lets the provider modules depend on nothing but Pipecat and this module (plus
:mod:`.openai` for Ollama, whose API is OpenAI's), so the factory can import each one lazily.

A failing provider must say which provider failed and what to change: :class:`Endpoint` is where
a stage's requests go (never with credentials), :func:`explain` rewrites an error message to name
it and logs a hint from :func:`what_to_fix`, and :func:`report_errors_clearly` does that for every
error a Pipecat service pushes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

from loguru import logger
from pipecat.frames.frames import ErrorFrame
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.ai_service import AIService

ServiceT = TypeVar("ServiceT", bound=AIService)

MAX_CONNECT_TIMEOUT_S = 5.0
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


def missing_extra(choice: str, extra: str, error: ImportError) -> ProviderConfigError:
    """The error for a provider whose Pipecat extra is not installed.

    Args:
        choice: The setting that chose the provider, e.g. ``REALTIME_STT=deepgram``.
        extra: The name of Pipecat's extra, e.g. ``deepgram``.
        error: The failed import.
    """
    return ProviderConfigError(
        f"{choice} needs Pipecat's '{extra}' extra, which is not installed ({error}): "
        + PIPECAT_EXTRA.format(extra=extra)
    )


def public_url(url: str) -> str:
    """The URL without credentials (user:password@) or query, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# --- error reporting -------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where a stage's requests go, for messages (never with credentials)."""

    stage: str  # "STT", "LLM", "TTS"
    provider: str
    url: str
    model: str | None
    timeout_s: float

    def label(self) -> str:
        """The provider, URL and model, as messages name them."""
        model = f", model {self.model}" if self.model else ""
        return f"{self.stage} provider '{self.provider}' ({self.url}{model})"

    def env(self, name: str) -> str:
        """The name of this stage's environment variable ``name``, e.g. ``REALTIME_LLM_MODEL``."""
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


def what_to_fix(endpoint: Endpoint, error: BaseException | None, message: str) -> str:
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


def explain(endpoint: Endpoint, error: BaseException | None, message: str) -> str:
    """Rewrite an error message to name the provider, and log what to fix."""
    explained = f"{endpoint.label()} failed: {message}"
    logger.error(f"{explained} -- to fix: {what_to_fix(endpoint, error, message)}")
    return explained


def report_errors_clearly(service: FrameProcessor, endpoint: Endpoint) -> None:
    """Name the provider in every error the service pushes, and log what to fix.

    Pipecat calls ``on_error`` synchronously, before the error frame travels, so the response's
    failure message carries the explanation. A provider error in a permanent category (a 401,
    say) would also cost the service its usability for the rest of the session, after which
    Pipecat's TTS skips all text silently: usability is restored so that every later response
    fails (with this message) instead of quietly missing its audio.
    """

    async def on_error(processor: FrameProcessor, frame: ErrorFrame) -> None:
        frame.error = explain(endpoint, frame.exception, str(frame.error))
        if not processor.is_usable:
            await processor.set_usable(True)

    service.add_event_handler("on_error", on_error)
