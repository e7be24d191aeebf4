"""The Ollama provider: ``REALTIME_LLM=ollama``, an Ollama server's OpenAI-compatible API.

Why a module: Ollama has its own defaults (``http://localhost:11434/v1``, model ``llama3.2``,
no key) and its own Pipecat service, ``OLLamaLLMService``. That service is Pipecat's OpenAI
LLM service, so its SDK client is bounded as in :mod:`.openai`.
"""

from __future__ import annotations

from typing import Any

from pipecat.services.llm_service import LLMService
from pipecat.services.ollama.llm import OLLamaLLMService

from config import Settings

from .common import Endpoint, StageBuilder, public_url, report_errors_clearly
from .openai import bounded_client

OLLAMA_BASE_URL = "http://localhost:11434/v1"
OLLAMA_DEFAULT_MODEL = "llama3.2"
OLLAMA_API_KEY = "ollama"  # a local Ollama ignores the key; the SDK needs one


class BoundedOLLamaLLMService(OLLamaLLMService):
    """Pipecat's ``OLLamaLLMService`` with bounded requests.

    Its SDK client is made in ``__init__`` (by ``create_client``) with no way to set the timeout
    or retries, so it is replaced by a bounded copy, as in :mod:`.openai`.
    """

    def __init__(self, *, request_settings: Settings, **kwargs: Any) -> None:
        """Initialize the service; ``request_settings`` bound its requests."""
        super().__init__(**kwargs)
        self._client = bounded_client(self._client, request_settings)


def ollama_llm(settings: Settings) -> StageBuilder[LLMService[Any]]:
    """The LLM stage at the Ollama server of ``REALTIME_LLM_BASE_URL`` (default: this host)."""
    base_url = settings.llm_base_url or OLLAMA_BASE_URL
    api_key = settings.llm_api_key or OLLAMA_API_KEY
    model = settings.llm_model or OLLAMA_DEFAULT_MODEL
    url = public_url(base_url)
    endpoint = Endpoint("LLM", "ollama", url, model, settings.provider_timeout_s)

    def create() -> LLMService[Any]:
        service = BoundedOLLamaLLMService(
            base_url=base_url,
            api_key=api_key,
            settings=BoundedOLLamaLLMService.Settings(model=model),
            request_settings=settings,
        )
        report_errors_clearly(service, endpoint)
        return service

    return StageBuilder("ollama", f"ollama: {model} at {url}", create)
