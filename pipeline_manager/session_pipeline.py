"""The Pipecat side of one session: the adapter between the protocol core and the models.

Two Pipecat workers run per session, under one runner:

- the transcription worker holds the STT service; every committed user audio item is transcribed
  (the LLM needs its text even when the client did not ask for transcription events);
- the response worker is ``LLM -> TextTap -> TTS -> ResponseSink``. Responses run one at a time: the
  context is built from the conversation items when the response starts, text is reported as the
  LLM streams it and audio as soon as the TTS makes it (no real-time pacing, like the real API).

Cancelling a response pushes an ``InterruptionFrame``, which makes every processor drop its
in-flight work; the next response waits until the interruption has reached the sink, so no stale
audio can leak into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.audio.filters.rnnoise_filter import RNNoiseFilter
from pipecat.audio.utils import pcm_to_wav
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    FunctionCallResultProperties,
    InterruptionFrame,
    LLMConfigureOutputFrame,
    LLMContextFrame,
    TranscriptionFrame,
    TTSUpdateSettingsFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.settings import TTSSettings
from pipecat.workers.runner import WorkerRunner

from audio_utils import AudioFormat, InputAudioConverter, OutputAudioConverter, resample
from config import Settings
from pipeline_manager.processors import ResponseSink, TextTap
from pipeline_manager.services import ServiceFactory
from pipeline_manager.turn_detection import SpeechStarted, TurnDetector
from realtime_session import (
    ArmIdleTimer,
    CancelResponse,
    Command,
    ConfigureTurnDetection,
    DisarmIdleTimer,
    FeedAudio,
    LLMRequest,
    Output,
    RealtimeSession,
    StartResponse,
    TranscribeAudio,
)

PIPELINE_IN_RATE = 16000
PIPELINE_OUT_RATE = 24000
START_TIMEOUT_S = 20.0
DRAIN_TIMEOUT_S = 5.0

Dispatch = Callable[[list[Output]], Awaitable[None]]


@dataclass
class _TurnInput:
    """Turn detection state: the detector and where its stream starts on the session clock."""

    detector: TurnDetector
    origin_ms: float
    noise_filter: RNNoiseFilter | None = None
    converter: InputAudioConverter | None = None
    converter_format: AudioFormat | None = None


@dataclass
class _Generation:
    """The response the response worker is producing right now."""

    command: StartResponse
    converter: OutputAudioConverter | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False
    usage: dict[str, int] | None = None


class SessionPipeline:
    """Runs one session's Pipecat workers and carries out the core's commands."""

    def __init__(
        self,
        services: ServiceFactory,
        core: RealtimeSession,
        dispatch: Dispatch,
        settings: Settings,
    ) -> None:
        self._core = core
        self._dispatch = dispatch
        self._settings = settings
        self._stt = services.create_stt()
        self._llm = services.create_llm()
        self._tts = services.create_tts()
        # Maps the response's voice to the TTS's (pipeline_manager/voices.py); absent: one voice.
        self._tts_voice: Callable[[str], str | None] | None = getattr(services, "tts_voice", None)
        self._llm.register_function(None, _client_executed_tool, cancel_on_interruption=True)
        self._llm.add_event_handler("on_function_calls_started", self._on_function_calls)

        self._stt_worker = self._make_worker("stt", Pipeline([self._stt]))
        sink = ResponseSink(
            on_audio=self._on_audio,
            on_end=self._on_end,
            on_interrupted=self._on_interrupted,
            on_usage=self._on_usage,
        )
        self._response_worker = self._make_worker(
            "response", Pipeline([self._llm, TextTap(self._on_text), self._tts, sink])
        )
        self._runner = WorkerRunner(handle_sigint=False)
        self._runner_task: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[StartResponse] = asyncio.Queue()
        self._cancelled: set[str] = set()
        self._current: _Generation | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._stt_lock = asyncio.Lock()
        self._transcripts: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self._turns: _TurnInput | None = None
        self._idle_timer: asyncio.Task[None] | None = None

    def _make_worker(self, name: str, pipeline: Pipeline) -> PipelineWorker:
        return PipelineWorker(
            pipeline,
            name=f"{name}-{self._core.config.id}",
            params=PipelineParams(
                audio_in_sample_rate=PIPELINE_IN_RATE,
                audio_out_sample_rate=PIPELINE_OUT_RATE,
                enable_metrics=True,
                enable_usage_metrics=True,
            ),
            enable_rtvi=False,
            enable_turn_tracking=False,
            idle_timeout_secs=None,
            cancel_on_idle_timeout=False,
            check_dangling_tasks=False,
        )

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers and wait until their pipelines are running."""
        started = [asyncio.Event(), asyncio.Event()]
        for worker, event in zip((self._stt_worker, self._response_worker), started, strict=True):
            worker.add_event_handler("on_pipeline_started", _setter(event))
            worker.add_event_handler("on_pipeline_error", self._on_pipeline_error)
        await self._runner.add_workers(self._stt_worker, self._response_worker)
        self._runner_task = asyncio.create_task(self._runner.run(auto_end=False))
        await asyncio.wait_for(
            asyncio.gather(*(e.wait() for e in started)), timeout=START_TIMEOUT_S
        )
        self._loop_task = asyncio.create_task(self._response_loop())

    async def close(self) -> None:
        """Stop everything this session started; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        tasks = [
            t
            for t in (self._loop_task, self._idle_timer, *self._transcripts.values())
            if t is not None
        ]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), DRAIN_TIMEOUT_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._runner.cancel(), DRAIN_TIMEOUT_S)
        if self._runner_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._runner_task, DRAIN_TIMEOUT_S)

    # --- commands ---------------------------------------------------------------------------------

    async def execute(self, command: Command) -> None:
        """Carry out one command from the core."""
        if self._closed:
            return
        if isinstance(command, StartResponse):
            self._queue.put_nowait(command)
        elif isinstance(command, CancelResponse):
            await self._cancel(command.response_id)
        elif isinstance(command, TranscribeAudio):
            task = asyncio.create_task(self._transcribe(command))
            self._transcripts[command.item_id] = task
            task.add_done_callback(lambda _t, i=command.item_id: self._transcripts.pop(i, None))
        elif isinstance(command, FeedAudio):
            await self._feed_turn_detector(command)
        elif isinstance(command, ConfigureTurnDetection):
            self._turns = None
            if command.turn_detection is not None:
                self._turns = _TurnInput(
                    TurnDetector(command.turn_detection), self._core.audio_ms_total
                )
        elif isinstance(command, ArmIdleTimer):
            self._disarm_idle_timer()
            self._idle_timer = asyncio.create_task(self._idle_timeout(command.timeout_ms))
        elif isinstance(command, DisarmIdleTimer):
            self._disarm_idle_timer()

    # --- turn detection ---------------------------------------------------------------------------

    async def _feed_turn_detector(self, command: FeedAudio) -> None:
        turns = self._turns
        if turns is None:
            return
        if turns.converter is None or turns.converter_format != command.audio_format:
            turns.converter = InputAudioConverter(command.audio_format, PIPELINE_IN_RATE)
            turns.converter_format = command.audio_format
        pcm = turns.converter.convert(command.audio)
        if turns.noise_filter is not None:
            pcm = await turns.noise_filter.filter(pcm)
        events = await turns.detector.feed(pcm)
        for event in events:
            if self._turns is not turns:
                return  # turn detection was reconfigured while we were analysing
            if isinstance(event, SpeechStarted):
                outputs = self._core.on_speech_started(turns.origin_ms + event.onset_ms)
            else:
                outputs = self._core.on_speech_stopped(turns.origin_ms + event.end_ms)
            await self._dispatch(outputs)

    async def _idle_timeout(self, timeout_ms: int) -> None:
        await asyncio.sleep(timeout_ms / 1000)
        self._idle_timer = None
        await self._dispatch(self._core.on_idle_timeout())

    def _disarm_idle_timer(self) -> None:
        if self._idle_timer is not None and self._idle_timer is not asyncio.current_task():
            self._idle_timer.cancel()
        self._idle_timer = None

    # --- transcription ----------------------------------------------------------------------------

    async def _transcribe(self, command: TranscribeAudio) -> None:
        fmt = command.audio_format
        pcm = resample(fmt.to_pcm16(command.audio), fmt.sample_rate, PIPELINE_IN_RATE)
        noise_filter = await _noise_filter(command.noise_reduction)
        if noise_filter is not None:
            pcm = await noise_filter.filter(pcm)
        seconds = len(pcm) / 2 / PIPELINE_IN_RATE
        audio = pcm_to_wav(pcm, PIPELINE_IN_RATE) if self._stt.wants_wav_segments else pcm
        texts: list[str] = []
        error: str | None = None
        try:
            async with self._stt_lock:
                async with asyncio.timeout(self._settings.transcription_timeout_s):
                    async for frame in self._stt.run_stt(audio):
                        if isinstance(frame, TranscriptionFrame):
                            if not isinstance(frame.text, str):
                                raise TypeError(f"malformed transcript {frame.text!r}")
                            texts.append(frame.text.strip())
                        elif isinstance(frame, ErrorFrame):
                            error = frame.error
        except TimeoutError:
            error = f"transcription timed out after {self._settings.transcription_timeout_s:g} s"
        except Exception as exc:
            error = f"transcription failed: {exc}"
        if error is not None:
            logger.warning(f"STT failed for {command.item_id}: {error}")
            await self._dispatch(self._core.on_transcription_failed(command.item_id, error))
        else:
            transcript = " ".join(t for t in texts if t)
            await self._dispatch(
                self._core.on_transcription_completed(command.item_id, transcript, seconds)
            )

    # --- responses --------------------------------------------------------------------------------

    async def _response_loop(self) -> None:
        while True:
            command = await self._queue.get()
            if command.response_id in self._cancelled:
                self._cancelled.discard(command.response_id)
                continue
            try:
                await self._generate(command)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception(f"response {command.response_id} failed")
                await self._dispatch(self._core.on_response_failed(command.response_id, str(exc)))

    async def _generate(self, command: StartResponse) -> None:
        pending = [self._transcripts[i] for i in command.awaits_items if i in self._transcripts]
        if pending:
            await asyncio.wait(pending, timeout=self._settings.transcription_timeout_s)
        request = self._core.llm_request(command.response_id)
        if request is None or command.response_id in self._cancelled:
            self._cancelled.discard(command.response_id)
            return
        await asyncio.wait_for(self._drained.wait(), DRAIN_TIMEOUT_S)
        generation = _Generation(command)
        if "audio" in command.modalities:
            generation.converter = OutputAudioConverter(command.output_format, PIPELINE_OUT_RATE)
        self._current = generation
        try:
            frames: list[Frame] = [
                LLMConfigureOutputFrame(skip_tts="audio" not in command.modalities)
            ]
            voice = self._tts_voice(command.voice) if self._tts_voice is not None else None
            if voice is not None:
                frames.append(TTSUpdateSettingsFrame(delta=TTSSettings(voice=voice)))
            frames.append(LLMContextFrame(_llm_context(request)))
            await self._response_worker.queue_frames(frames)
            try:
                await asyncio.wait_for(
                    generation.finished.wait(), self._settings.response_timeout_s
                )
            except TimeoutError:
                await self._interrupt()
                await self._dispatch(
                    self._core.on_response_failed(
                        command.response_id,
                        f"The response timed out after {self._settings.response_timeout_s:g} s.",
                        code="timeout",
                    )
                )
        finally:
            self._current = None

    async def _cancel(self, response_id: str) -> None:
        current = self._current
        if current is not None and current.command.response_id == response_id:
            current.cancelled = True
            current.finished.set()
            await self._interrupt()
        else:
            self._cancelled.add(response_id)

    async def _interrupt(self) -> None:
        self._drained.clear()
        await self._response_worker.queue_frame(InterruptionFrame())

    # --- pipeline callbacks (run inside the response worker) --------------------------------------

    def _live(self) -> _Generation | None:
        current = self._current
        return current if current is not None and not current.cancelled else None

    async def _on_text(self, text: str) -> None:
        if (current := self._live()) is None:
            return
        if not isinstance(text, str):
            await self._fail_live(f"the LLM produced malformed text ({type(text).__name__})")
            return
        await self._dispatch(self._core.on_response_text(current.command.response_id, text))

    async def _on_audio(self, audio: bytes, sample_rate: int) -> None:
        current = self._live()
        if current is None or current.converter is None:
            return
        if not isinstance(audio, bytes) or sample_rate <= 0 or len(audio) % 2:
            await self._fail_live(f"the TTS produced malformed audio ({len(audio)} bytes)")
            return
        if sample_rate != PIPELINE_OUT_RATE:
            audio = resample(audio, sample_rate, PIPELINE_OUT_RATE)
        converted = current.converter.convert(audio)
        if converted:
            await self._dispatch(
                self._core.on_response_audio(current.command.response_id, converted)
            )

    async def _on_end(self) -> None:
        current = self._live()
        if current is None:
            return
        response_id = current.command.response_id
        if current.converter is not None:
            tail = current.converter.flush()
            if tail:
                await self._dispatch(self._core.on_response_audio(response_id, tail))
        await self._dispatch(self._core.on_response_done(response_id, current.usage))
        current.finished.set()

    async def _on_interrupted(self) -> None:
        self._drained.set()

    def _on_usage(self, prompt_tokens: int, completion_tokens: int) -> None:
        if (current := self._live()) is not None:
            current.usage = {"input_tokens": prompt_tokens, "output_tokens": completion_tokens}

    async def _on_function_calls(self, _service: Any, function_calls: list[Any]) -> None:
        current = self._live()
        if current is None:
            return
        for call in function_calls:
            arguments = call.arguments
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            await self._dispatch(
                self._core.on_response_function_call(
                    current.command.response_id, call.function_name, text, call.tool_call_id
                )
            )

    async def _on_pipeline_error(self, worker: Any, frame: ErrorFrame) -> None:
        """A service reported an error: the response being generated fails, the session goes on."""
        logger.warning(f"pipeline error in {worker}: {frame.error}")
        if worker is self._response_worker:
            await self._fail_live(str(frame.error))

    async def _fail_live(self, message: str) -> None:
        """Fail the response being generated; the session goes on."""
        current = self._live()
        if current is None:
            return
        current.cancelled = True
        current.finished.set()
        # Whatever the failed generation still has in flight must not leak into the next one.
        await self._interrupt()
        await self._dispatch(self._core.on_response_failed(current.command.response_id, message))


async def _client_executed_tool(params: FunctionCallParams) -> None:
    """Tools run on the client: settle Pipecat's call at once, the client sends the output later."""
    await params.result_callback(None, properties=FunctionCallResultProperties(run_llm=False))


async def _noise_filter(noise_reduction: dict[str, Any] | None) -> RNNoiseFilter | None:
    """Pipecat's RNNoise filter for ``audio.input.noise_reduction`` (``None`` when it is off).

    RNNoise has a single model, so ``near_field`` and ``far_field`` both get it: it removes
    stationary and non-stationary background noise before VAD and transcription.
    """
    if noise_reduction is None:
        return None
    noise_filter = RNNoiseFilter()
    await noise_filter.start(PIPELINE_IN_RATE)
    return noise_filter


def _setter(event: asyncio.Event) -> Callable[..., Awaitable[None]]:
    async def handler(*_args: Any) -> None:
        event.set()

    return handler


def _llm_context(request: LLMRequest) -> LLMContext:
    """A Pipecat LLM context from the core's request (OpenAI chat format messages and tools)."""
    tools = [
        FunctionSchema(
            name=tool["name"],
            description=tool.get("description", ""),
            properties=(tool.get("parameters") or {}).get("properties", {}),
            required=(tool.get("parameters") or {}).get("required", []),
        )
        for tool in request.tools
    ]
    choice = request.tool_choice
    if isinstance(choice, dict):
        choice = {"type": "function", "function": {"name": choice.get("name")}}
    if tools:
        return LLMContext(
            messages=request.messages, tools=ToolsSchema(standard_tools=tools), tool_choice=choice
        )
    return LLMContext(messages=request.messages)
