"""Pipecat services for the "local" profile, wrapping the shared models of :mod:`.models`.

Create one service instance per session with :func:`create_stt`, :func:`create_llm` and
:func:`create_tts`. Every instance wraps the SAME model objects (``models.whisper``,
``models.llm``, ``models.piper``): nothing is reloaded or copied per session.

All inference runs in worker threads, never on the event loop, so one session's inference
does not stall another session's audio:

- STT: Pipecat's ``WhisperSTTService`` transcribes in ``asyncio.to_thread``
  (:mod:`.whisper_stt`).
- TTS: :class:`LocalTTSService` speaks sentence by sentence in the voice of each sentence's
  language, Piper in ``asyncio.to_thread``, espeak-ng as a subprocess (:mod:`.piper_tts`).
- LLM: :class:`LlamaCppLLMService` runs each completion on ``models.llm_executor`` (one
  dedicated thread) under ``models.llm_lock``, because llama.cpp is not thread-safe
  (:mod:`.llama_llm`, and :mod:`.llama_worker` for what runs on that thread).

Why a module: the three services live in a module each; this one names them all, for callers
that want the local profile's services without knowing that layout.
"""

from .llama_llm import LlamaCppLLMService, LlamaCppLLMSettings, create_llm
from .piper_tts import LocalPiperTTSService, LocalTTSService, create_tts
from .whisper_stt import WHISPER_SAMPLE_RATE, LocalWhisperSTTService, create_stt

__all__ = [
    "WHISPER_SAMPLE_RATE",
    "LlamaCppLLMService",
    "LlamaCppLLMSettings",
    "LocalPiperTTSService",
    "LocalTTSService",
    "LocalWhisperSTTService",
    "create_llm",
    "create_stt",
    "create_tts",
]
