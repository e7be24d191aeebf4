"""The ElevenLabs provider: ``REALTIME_TTS=elevenlabs``, ElevenLabs' HTTP text-to-speech.

Why a module: Pipecat's ``ElevenLabsHttpTTSService`` takes an aiohttp session from its caller,
with no timeout of ours; :class:`BoundedElevenLabsHttpTTSService` owns one with bounded requests.
It needs Pipecat's optional ``elevenlabs`` extra: the factory imports this module only when a
stage uses ElevenLabs, and says how to install the extra when it is missing.
"""

# mypy: disable-error-code="no-untyped-call"
# (Pipecat leaves ``cleanup`` unannotated: this module calls them.)

from __future__ import annotations

from typing import Any

import aiohttp
from pipecat.services.elevenlabs.tts import ElevenLabsHttpTTSService
from pipecat.services.tts_service import TTSService

from config import Settings
from pipeline_manager import voices

from .common import (
    MAX_CONNECT_TIMEOUT_S,
    Endpoint,
    StageBuilder,
    public_url,
    report_errors_clearly,
)

ELEVENLABS_BASE_URL = "https://api.elevenlabs.io"
ELEVENLABS_DEFAULT_MODEL = "eleven_flash_v2_5"


class BoundedElevenLabsHttpTTSService(ElevenLabsHttpTTSService):
    """Pipecat's ``ElevenLabsHttpTTSService`` owning an aiohttp session with bounded requests.

    The service takes an ``aiohttp.ClientSession`` from its caller; this subclass makes one per
    service when the pipeline sets it up (a session must be made inside the event loop) and
    closes it at teardown.
    """

    def __init__(self, *, timeout_s: float, **kwargs: Any) -> None:
        """Initialize the service; ``timeout_s`` bounds connecting and each read."""
        # No session yet: setup() makes it, inside the event loop.
        super().__init__(aiohttp_session=None, **kwargs)  # type: ignore[arg-type]
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=min(timeout_s, MAX_CONNECT_TIMEOUT_S),
            sock_read=timeout_s,
        )

    async def setup(self, setup: Any) -> None:
        """Set up the service, and make its session."""
        await super().setup(setup)
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def cleanup(self) -> None:
        """Clean up the service, and close its session (if it was ever set up)."""
        await super().cleanup()
        if self._session is not None:
            await self._session.close()


def elevenlabs_tts(settings: Settings, api_key: str) -> StageBuilder[TTSService]:
    """The TTS stage at ElevenLabs (or at ``REALTIME_TTS_BASE_URL``).

    Args:
        settings: The server settings.
        api_key: ``REALTIME_ELEVENLABS_API_KEY`` (or ``REALTIME_TTS_API_KEY``), checked by the
            factory before it imports this module.
    """
    base_url = (settings.tts_base_url or ELEVENLABS_BASE_URL).rstrip("/")
    model = settings.tts_model or ELEVENLABS_DEFAULT_MODEL
    url = public_url(base_url)
    endpoint = Endpoint("TTS", "elevenlabs", url, model, settings.provider_timeout_s)

    def voice(name: str) -> str:
        return voices.elevenlabs_voice(name, settings.elevenlabs_voice_id)

    def create() -> TTSService:
        service = BoundedElevenLabsHttpTTSService(
            api_key=api_key,
            base_url=base_url,
            settings=ElevenLabsHttpTTSService.Settings(model=model, voice=voice("alloy")),
            timeout_s=settings.provider_timeout_s,
        )
        report_errors_clearly(service, endpoint)
        return service

    return StageBuilder("elevenlabs", f"elevenlabs: {model} at {url}", create, voice)
