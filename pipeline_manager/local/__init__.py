"""The "local" profile: offline STT/LLM/TTS models shared by all sessions, as Pipecat services.

Typical use::

    from pipeline_manager.local import create_llm, create_stt, create_tts, get_local_models

    models = get_local_models()  # once per process (blocking, ~2-3 s)
    stt, llm, tts = create_stt(models), create_llm(models), create_tts(models)  # per session

or, for ``pipeline_manager.services.create_service_factory``, ``create_local_factory(settings)``.

The modules, each one role:

- :mod:`.model_files`: where each model file is, and its checksum check;
  :mod:`.packaged_whisper`: the packaged Whisper models by name (the multilingual base is joined
  from two packages once, into a cache).
- :mod:`.models`: loading the models once per process, and sharing them (:class:`LocalModels`).
- :mod:`.whisper_stt`, :mod:`.llama_llm` (with :mod:`.llama_worker`, the code on the llama.cpp
  thread), :mod:`.piper_tts`: one Pipecat service each; :mod:`.services` names all three.
- The user's language: :mod:`.stt_language` (detection, trust, Simplified Chinese),
  :mod:`.reply_language` (the voice map, a sentence's language by script), :mod:`.speakers`
  and :mod:`.espeak_tts` (the voices: Piper, espeak-ng).
- :mod:`.factory`: the profile's ``ServiceFactory``.
- :mod:`.bench`: measures the models on this machine.

``models`` is imported eagerly (it only needs the standard library and loguru until the
models are loaded); the services import Pipecat, faster-whisper and Piper, so they are
imported on first access.
"""

from typing import TYPE_CHECKING, Any

from .model_files import LocalModelError, ModelChecksumError, ModelNotFoundError
from .models import LocalModels, LocalModelsConfig, get_local_models

if TYPE_CHECKING:
    from .factory import LocalServiceFactory, create_local_factory
    from .services import (
        LlamaCppLLMService,
        LlamaCppLLMSettings,
        LocalPiperTTSService,
        LocalWhisperSTTService,
        create_llm,
        create_stt,
        create_tts,
    )

_FACTORY_NAMES = {"LocalServiceFactory", "create_local_factory"}
_SERVICE_NAMES = {
    "LlamaCppLLMService",
    "LlamaCppLLMSettings",
    "LocalPiperTTSService",
    "LocalWhisperSTTService",
    "create_llm",
    "create_stt",
    "create_tts",
}

__all__ = [
    "LlamaCppLLMService",
    "LlamaCppLLMSettings",
    "LocalModelError",
    "LocalModels",
    "LocalModelsConfig",
    "LocalPiperTTSService",
    "LocalServiceFactory",
    "LocalWhisperSTTService",
    "ModelChecksumError",
    "ModelNotFoundError",
    "create_llm",
    "create_local_factory",
    "create_stt",
    "create_tts",
    "get_local_models",
]


def __getattr__(name: str) -> Any:
    """Import the service classes lazily (they pull in Pipecat and the model runtimes)."""
    if name in _FACTORY_NAMES:
        from . import factory

        return getattr(factory, name)
    if name in _SERVICE_NAMES:
        from . import services

        return getattr(services, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
