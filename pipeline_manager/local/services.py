"""Pipecat services for the "local" profile, wrapping the shared models of :mod:`.models`.

Create one service instance per session with :func:`create_stt`, :func:`create_llm` and
:func:`create_tts`. Every instance wraps the SAME model objects (``models.whisper``,
``models.llm``, ``models.piper``): nothing is reloaded or copied per session.

All inference runs in worker threads, never on the event loop, so one session's inference
does not stall another session's audio:

- STT: Pipecat's ``WhisperSTTService`` transcribes in ``asyncio.to_thread``.
- TTS: Pipecat's ``PiperTTSService`` synthesises sentence by sentence in ``asyncio.to_thread``.
- LLM: :class:`LlamaCppLLMService` runs each completion on ``models.llm_executor`` (one
  dedicated thread) under ``models.llm_lock``, because llama.cpp is not thread-safe.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr
from faster_whisper import WhisperModel
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.metrics.metrics import LLMTokenUsage
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.settings import LLMSettings
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.types import NOT_GIVEN, NotGiven, assert_given, is_given
from piper import PiperVoice

from .models import LocalModels

# Whisper models (all sizes) are trained on 16 kHz audio.
WHISPER_SAMPLE_RATE = 16000


class LocalWhisperSTTService(WhisperSTTService):
    """Pipecat's faster-whisper STT service, using a model that is already loaded.

    ``WhisperSTTService.__init__`` calls ``_load()``, which would build a new
    ``WhisperModel`` from the model name (and download it when the name is not a local
    directory). ``_load()`` is overridden to adopt the shared model instead.

    It is a ``SegmentedSTTService``: it transcribes the audio between
    ``VADUserStartedSpeakingFrame`` and ``VADUserStoppedSpeakingFrame``, so the pipeline
    needs VAD upstream (e.g. in the user aggregator or a ``VADProcessor``).

    Language: the packaged model is tiny.en, which is English-only. Constructing the
    service with another language raises ``ValueError`` (Pipecat's own check), and a
    later settings change to another language is reported as an error while the model
    keeps transcribing English. For other languages load a multilingual CTranslate2
    model with ``LocalModelsConfig(whisper_dir=...)`` and pass ``language=None`` to let
    Whisper detect the language, or a specific language.
    """

    def __init__(
        self,
        *,
        model: WhisperModel,
        model_name: str,
        settings: WhisperSTTService.Settings | None = None,
        **kwargs: Any,
    ):
        """Initialize the service around a loaded model.

        Args:
            model: A loaded ``faster_whisper.WhisperModel``, shared, never copied.
            model_name: Label stored in the settings' ``model`` field (logs/metrics).
            settings: Settings delta (``language``, ``no_speech_prob``, ``hotwords``,
                ``initial_prompt``) applied over Pipecat's defaults.
            **kwargs: Passed to ``WhisperSTTService`` / ``SegmentedSTTService``.
        """
        # Read by _load(), which the parent __init__ calls.
        self._shared_model = model
        merged = self.Settings(model=model_name)
        if settings is not None:
            merged.apply_update(settings)
        # Speech end -> transcript: ~0.5 s for a 3 s utterance with tiny.en on 2 cores;
        # 1 s leaves room for a second session. Without it Pipecat warns and assumes 1 s.
        kwargs.setdefault("ttfs_p99_latency", 1.0)
        super().__init__(settings=merged, device="cpu", compute_type="int8", **kwargs)

    def _load(self) -> None:
        """Adopt the shared model instead of loading one; reject unsupported languages."""
        self._model = self._shared_model
        unsupported = self._unsupported_language()
        if unsupported:
            raise ValueError(unsupported)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one speech segment of 16-bit mono PCM at the service's sample rate.

        Pipecat's Whisper service hands the PCM to the model as if it were 16 kHz whatever
        the pipeline input rate is, which garbles anything else; resample first.

        Args:
            audio: The segment, 16-bit signed little-endian mono PCM.

        Yields:
            ``TranscriptionFrame`` (or ``ErrorFrame``) from the parent service.
        """
        if self.sample_rate and self.sample_rate != WHISPER_SAMPLE_RATE:
            samples = np.frombuffer(audio, dtype=np.int16)
            audio = soxr.resample(samples, self.sample_rate, WHISPER_SAMPLE_RATE).tobytes()
        async for frame in super().run_stt(audio):
            yield frame


class LocalPiperTTSService(PiperTTSService):
    """Pipecat's in-process Piper TTS service, using a voice that is already loaded.

    ``PiperTTSService.__init__`` downloads the voice unless it is in its cache directory
    and then loads a new ``PiperVoice`` per instance, so this class skips it and calls
    ``TTSService.__init__`` with the same arguments; everything else (``run_tts``,
    resampling from 22.05 kHz to the pipeline output rate) is inherited unchanged.

    piper-tts (and the espeak-ng it embeds) is GPL-3.0-or-later.
    """

    def __init__(
        self,
        *,
        voice: PiperVoice,
        voice_name: str,
        settings: PiperTTSService.Settings | None = None,
        **kwargs: Any,
    ):
        """Initialize the service around a loaded voice.

        Args:
            voice: A loaded ``piper.PiperVoice``, shared, never copied.
            voice_name: Voice name stored in the settings (e.g. ``en_US-joe-medium``).
            settings: Settings delta applied over the defaults. Changing ``voice`` at run
                time is only stored, as in the parent: the loaded voice keeps speaking.
            **kwargs: Passed to ``TTSService`` (e.g. ``sample_rate``).
        """
        merged = self.Settings(model=None, voice=voice_name, language=None)
        if settings is not None:
            merged.apply_update(settings)
        # Deliberately NOT PiperTTSService.__init__ (download + per-instance load); keep
        # these arguments in step with it when upgrading Pipecat.
        TTSService.__init__(
            self,
            push_start_frame=True,
            push_stop_frames=True,
            settings=merged,
            **kwargs,
        )
        self._voice = voice


@dataclass
class LlamaCppLLMSettings(LLMSettings):
    """Settings for :class:`LlamaCppLLMService`.

    Parameters:
        repeat_penalty: llama.cpp repetition penalty. SmolLM2-135M loops on itself
            without one; 1.3 works well.
        min_p: llama.cpp min-p sampling threshold.
    """

    repeat_penalty: float | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)
    min_p: float | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)


_DONE = object()
"""Sentinel put on the token queue when the worker thread is finished."""


class LlamaCppLLMService(LLMService):
    """LLM service running chat completions on a shared in-process llama.cpp model.

    On each ``LLMContextFrame`` it pushes ``LLMFullResponseStartFrame``, an ``LLMTextFrame``
    per streamed chunk (about one token) and ``LLMFullResponseEndFrame``, like Pipecat's
    OpenAI service. Messages come from the context through the OpenAI adapter; tools are
    not supported (the model is too small to call them) and are ignored.

    Concurrency: the ``Llama`` object is shared by all sessions and llama.cpp is not
    thread-safe, so each completion runs as one job on ``models.llm_executor`` (a single
    dedicated thread) holding ``models.llm_lock`` for the whole stream. Completions of
    different sessions therefore run one after another; ``max_tokens`` bounds how long
    one can hold the model. Tokens reach the event loop through an ``asyncio.Queue``.

    Cancellation: an ``InterruptionFrame`` (or ``CancelFrame``) cancels the task awaiting
    the tokens; that sets a ``threading.Event`` which the worker checks before every
    token, so generation stops within one token (~10 ms) and the model is released.
    """

    Settings = LlamaCppLLMSettings
    _settings: LlamaCppLLMSettings

    def __init__(
        self,
        *,
        models: LocalModels,
        settings: LlamaCppLLMSettings | None = None,
        max_prompt_tokens: int = 1024,
        **kwargs: Any,
    ):
        """Initialize the service.

        Args:
            models: The shared models; ``models.llm`` is used, never copied.
            settings: Settings delta applied over the defaults (``max_tokens`` 256,
                ``temperature`` 0.2, ``repeat_penalty`` 1.3, ...).
            max_prompt_tokens: Older messages are dropped beyond this many prompt tokens.
                Prompt evaluation runs at only ~150-300 tokens/s on 2 busy cores, and
                llama.cpp reuses the evaluated prefix only while no other session has
                used the model since, so long histories directly delay the first token.
            **kwargs: Passed to ``LLMService``.
        """
        merged = self.Settings(
            model=models.llm_name,
            system_instruction=None,
            temperature=0.2,
            max_tokens=256,
            top_p=0.95,
            top_k=40,
            frequency_penalty=0.0,
            presence_penalty=0.0,
            seed=None,
            filter_incomplete_user_turns=False,
            user_turn_completion_config=None,
            repeat_penalty=1.3,
            min_p=0.05,
        )
        if settings is not None:
            merged.apply_update(settings)
        super().__init__(settings=merged, **kwargs)
        self._models = models
        self._max_prompt_tokens = max_prompt_tokens
        # Stop flags of this service's in-pipeline completions still running.
        self._stop_events: set[threading.Event] = set()
        self._warned_tools = False

    @property
    def llm(self) -> Any:
        """The shared ``llama_cpp.Llama`` this service uses."""
        return self._models.llm

    def can_generate_metrics(self) -> bool:
        """This service reports TTFB, processing time and token usage."""
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Run a completion for each ``LLMContextFrame``; pass every other frame on.

        Args:
            frame: The frame to process.
            direction: The direction of frame processing.
        """
        await super().process_frame(frame, direction)

        if isinstance(frame, LLMContextFrame):
            try:
                await self.push_frame(LLMFullResponseStartFrame())
                await self.start_processing_metrics()
                await self._process_context(frame.context)
            except Exception as e:
                await self.push_error(error_msg=f"Error during completion: {e}", exception=e)
            finally:
                # Also runs when an interruption cancels this task, as in Pipecat's
                # OpenAI service, so downstream always sees a closed response.
                await self.stop_processing_metrics()
                await self.push_frame(LLMFullResponseEndFrame())
        else:
            await self.push_frame(frame, direction)

    async def _handle_interruptions(self, frame: InterruptionFrame) -> None:
        self._stop_generation()
        await super()._handle_interruptions(frame)

    async def stop(self, frame: EndFrame) -> None:
        """Stop the service, abandoning any completion still running."""
        self._stop_generation()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        """Cancel the service, abandoning any completion still running."""
        self._stop_generation()
        await super().cancel(frame)

    def _stop_generation(self) -> None:
        for stop in self._stop_events:
            stop.set()

    async def _messages(
        self, context: LLMContext, system_instruction: str | None
    ) -> list[dict[str, str]]:
        """Convert the context to llama.cpp chat messages (string contents only)."""
        params = await self.get_llm_adapter().get_llm_invocation_params(
            context,
            system_instruction=system_instruction,
            convert_developer_to_user=True,
        )
        # Absent tools are OpenAI's NOT_GIVEN, which is falsy.
        if params.get("tools") and not self._warned_tools:
            self._warned_tools = True
            logger.warning(f"{self}: tools are not supported by the local LLM; ignoring them")
        return _to_llama_messages(params["messages"])

    def _completion_kwargs(self, max_tokens: int | None = None) -> dict[str, Any]:
        """llama.cpp sampling arguments from the settings (None keeps llama's default)."""
        s = self._settings
        kwargs: dict[str, Any] = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "top_k": s.top_k,
            "min_p": s.min_p,
            "frequency_penalty": s.frequency_penalty,
            "presence_penalty": s.presence_penalty,
            "repeat_penalty": s.repeat_penalty,
            "seed": s.seed,
            "max_tokens": max_tokens if max_tokens is not None else s.max_tokens,
        }
        return {k: v for k, v in kwargs.items() if is_given(v) and v is not None}

    async def _process_context(self, context: LLMContext) -> None:
        messages = await self._messages(context, assert_given(self._settings.system_instruction))
        await self.start_ttfb_metrics()
        completion_tokens = 0
        prompt_tokens = 0
        t_start = time.perf_counter()
        t_first: float | None = None
        # aclosing: if this task is cancelled while pushing a token, the generator's
        # finally (which stops the worker thread) runs now rather than at GC time.
        stream_gen = self._stream(messages, self._completion_kwargs(), interruptible=True)
        async with aclosing(stream_gen) as stream:
            async for item in stream:
                if isinstance(item, LLMTokenUsage):
                    prompt_tokens = item.prompt_tokens
                    continue
                if t_first is None:
                    t_first = time.perf_counter()
                    await self.stop_ttfb_metrics()
                completion_tokens += 1
                await self._push_llm_text(item)
        if t_first is not None:
            gen_secs = time.perf_counter() - t_first
            rate = (completion_tokens - 1) / gen_secs if gen_secs > 0 else 0.0
            logger.debug(
                f"{self}: {completion_tokens} tokens, first after "
                f"{(t_first - t_start) * 1000:.0f} ms, {rate:.0f} tok/s"
            )
        await self.start_llm_usage_metrics(
            LLMTokenUsage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
        )

    async def _stream(
        self, messages: list[dict[str, str]], kwargs: dict[str, Any], interruptible: bool = False
    ) -> AsyncGenerator[str | LLMTokenUsage, None]:
        """Yield the completion's text pieces, then its token usage, from the worker.

        With ``interruptible``, interruptions and the end of the pipeline stop it too
        (besides cancellation of the consuming task, which always does).
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()
        if interruptible:
            self._stop_events.add(stop)

        def emit(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening
                stop.set()

        def job() -> None:
            try:
                _generate(self._models, messages, kwargs, self._max_prompt_tokens, stop, emit)
            except BaseException as e:  # handed to the event loop, re-raised there
                emit(e)
            finally:
                emit(_DONE)

        future = loop.run_in_executor(self._models.llm_executor, job)
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            # On cancellation (interruption) or error: stop the worker after its current
            # token, or drop the job if it is still waiting for the model.
            stop.set()
            future.cancel()
            self._stop_events.discard(stop)

    async def run_inference(
        self,
        context: LLMContext,
        max_tokens: int | None = None,
        system_instruction: str | None = None,
        response_schema: dict[str, Any] | None = None,
    ) -> str | None:
        """Run a one-shot completion outside the pipeline (e.g. for summaries).

        Args:
            context: The conversation to complete.
            max_tokens: Overrides the ``max_tokens`` setting.
            system_instruction: Overrides the ``system_instruction`` setting.
            response_schema: Not supported; ignored with a warning.

        Returns:
            The generated text, or None if nothing was generated.
        """
        self._check_response_schema(response_schema)
        instruction = system_instruction or assert_given(self._settings.system_instruction)
        messages = await self._messages(context, instruction)
        async with aclosing(self._stream(messages, self._completion_kwargs(max_tokens))) as s:
            parts = [item async for item in s if isinstance(item, str)]
        return "".join(parts) or None


def _to_llama_messages(messages: Any) -> list[dict[str, str]]:
    """Flatten OpenAI-format messages into the role/str-content form llama.cpp templates use.

    List contents keep their text parts only; tool results become user messages; assistant
    messages with only tool calls are dropped.
    """
    result: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role", "user")
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(
                part.get("text", "") for part in content if part.get("type") == "text"
            )
        if not content:
            continue
        if role == "tool":
            role, content = "user", f"[tool result] {content}"
        elif role not in ("system", "user", "assistant"):
            role = "user"
        result.append({"role": role, "content": str(content)})
    return result


def _fit_to_context(
    llm: Any, messages: list[dict[str, str]], max_tokens: int, max_prompt_tokens: int
) -> list[dict[str, str]]:
    """Shorten the conversation so the prompt fits the token budget.

    The budget is ``max_prompt_tokens``, and never more than the context window minus the
    reply. The oldest non-system messages are dropped first; if the newest message alone
    is still too long, only its end is kept. Token counts are per-message estimates
    (content plus template overhead), enough to avoid llama.cpp's "exceeds context window"
    error. Call with the lock held (it uses the model's tokenizer).
    """
    per_message_overhead = 6  # <|im_start|>role\n ... <|im_end|>\n
    budget = min(max_prompt_tokens, llm.n_ctx() - max_tokens - 16)

    def tokens(text: str) -> list[int]:
        return llm.tokenize(text.encode(), add_bos=False, special=False)

    costs = [len(tokens(m["content"])) + per_message_overhead for m in messages]
    kept = list(range(len(messages)))
    while sum(costs[i] for i in kept) > budget:
        droppable = [i for i in kept[:-1] if messages[i]["role"] != "system"]
        if not droppable:
            break
        kept.remove(droppable[0])
    result = [dict(messages[i]) for i in kept]
    excess = sum(costs[i] for i in kept) - budget
    if excess > 0 and result:
        last = tokens(result[-1]["content"])
        keep = max(1, len(last) - excess)
        result[-1]["content"] = llm.detokenize(last[-keep:]).decode("utf-8", errors="ignore")
        logger.debug(f"Local LLM: kept the last {keep} tokens of an over-long message")
    if len(kept) < len(messages):
        logger.debug(f"Local LLM: dropped {len(messages) - len(kept)} old messages to fit")
    return result


def _generate(
    models: LocalModels,
    messages: list[dict[str, str]],
    kwargs: dict[str, Any],
    max_prompt_tokens: int,
    stop: threading.Event,
    emit: Callable[[object], None],
) -> None:
    """Stream one completion (runs in the llama worker thread, holding the model lock)."""
    with models.llm_lock:
        if stop.is_set():  # interrupted while waiting for the model
            return
        llm = models.llm
        messages = _fit_to_context(
            llm, messages, int(kwargs.get("max_tokens") or 256), max_prompt_tokens
        )
        stream = llm.create_chat_completion(messages=messages, stream=True, **kwargs)
        completion_tokens = 0
        try:
            for chunk in stream:
                if stop.is_set():
                    break
                content = chunk["choices"][0]["delta"].get("content")
                if content:
                    completion_tokens += 1
                    emit(content)
        finally:
            stream.close()  # type: ignore[union-attr]
        # After a completion the KV state holds prompt + generated tokens.
        prompt_tokens = max(0, llm.n_tokens - completion_tokens)
    emit(
        LLMTokenUsage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
    )


def create_stt(
    models: LocalModels,
    *,
    language: Language | str | None = Language.EN,
    settings: WhisperSTTService.Settings | None = None,
    **kwargs: Any,
) -> LocalWhisperSTTService:
    """Create a per-session Whisper STT service around the shared model.

    Args:
        models: The shared models.
        language: Spoken language; None lets a multilingual model detect it. The
            packaged tiny.en accepts English only (anything else raises ``ValueError``).
        settings: Further settings (``no_speech_prob``, ``hotwords``, ...); its
            ``language`` wins over ``language``.
        **kwargs: Passed to the service (e.g. ``sample_rate``, ``trailing_silence_secs``).

    Returns:
        A new service wrapping ``models.whisper``.
    """
    merged = LocalWhisperSTTService.Settings(language=language)
    if settings is not None:
        merged.apply_update(settings)
    return LocalWhisperSTTService(
        model=models.whisper, model_name=models.whisper_name, settings=merged, **kwargs
    )


def create_llm(
    models: LocalModels,
    *,
    settings: LlamaCppLLMSettings | None = None,
    **kwargs: Any,
) -> LlamaCppLLMService:
    """Create a per-session llama.cpp LLM service around the shared model.

    Args:
        models: The shared models.
        settings: Settings delta (``system_instruction``, ``max_tokens``, ...).
        **kwargs: Passed to :class:`LlamaCppLLMService` (e.g. ``max_prompt_tokens``) and on
            to ``LLMService``.

    Returns:
        A new service wrapping ``models.llm``.
    """
    return LlamaCppLLMService(models=models, settings=settings, **kwargs)


def create_tts(
    models: LocalModels,
    *,
    settings: PiperTTSService.Settings | None = None,
    **kwargs: Any,
) -> LocalPiperTTSService:
    """Create a per-session Piper TTS service around the shared voice.

    Args:
        models: The shared models.
        settings: Settings delta.
        **kwargs: Passed to ``TTSService`` (e.g. ``sample_rate``; by default the
            pipeline's output rate, to which the 22.05 kHz voice is resampled).

    Returns:
        A new service wrapping ``models.piper``.
    """
    return LocalPiperTTSService(
        voice=models.piper, voice_name=models.piper_voice_name, settings=settings, **kwargs
    )
