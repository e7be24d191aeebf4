"""The Pipecat side of one session: carries out the core's commands, reports signals back.

The pipeline never calls into the protocol core. The connection hands it commands
(:meth:`SessionPipeline.execute`) and it reports what the models produce through one callback,
``report(signal)``, which the connection drains and applies to the core in order.

Two Pipecat workers run per session, under one runner:

- the transcription worker holds the STT service (:mod:`pipeline_manager.transcriber`);
- the response worker is ``LLM -> ReplyCap -> TextTap -> TTS -> ResponseSink``. Responses run one
  at a time, each with the complete LLM request the core built for it; text is reported as the
  LLM streams it (a sentence at a time when the reply has a soft cap, which ``ReplyCap``
  enforces) and audio as soon as the TTS makes it (no real-time pacing, like the real API).

Cancelling a response pushes an ``InterruptionFrame``, which makes every processor drop its
in-flight work; the next response waits until the interruption has reached the sink, so no stale
audio can leak into it. Deadlines are not kept here: the connection's timers make the core fail
a response or a transcription, and the core then cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    FunctionCallResultProperties,
    InterruptionFrame,
    LLMConfigureOutputFrame,
    LLMContextFrame,
    TTSUpdateSettingsFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.settings import TTSSettings
from pipecat.workers.runner import WorkerRunner

from audio_utils import OutputAudioConverter, resample
from pipeline_manager.first_phrase import speak_from_first_phrase
from pipeline_manager.llm_request import llm_context
from pipeline_manager.processors import ReplyCap, ReplyCapFrame, ResponseSink, TextTap
from pipeline_manager.services import ServiceFactory
from pipeline_manager.speculation import TurnSpeculation
from pipeline_manager.transcriber import Transcriber
from pipeline_manager.turn_input import PIPELINE_IN_RATE, TurnInput
from realtime_session.commands import (
    CancelResponse,
    CancelTranscription,
    ConfigureInput,
    ConfigureTranscription,
    FeedAudio,
    PipelineCommand,
    StartResponse,
    TranscribeAudio,
)
from realtime_session.signals import (
    ResponseAudio,
    ResponseDone,
    ResponseFailed,
    ResponseFunctionCall,
    ResponseText,
    Signal,
)

PIPELINE_OUT_RATE = 24000
START_TIMEOUT_S = 20.0
DRAIN_TIMEOUT_S = 5.0

Report = Callable[[Signal], None]


@dataclass
class _Generation:
    """The response the response worker is producing right now."""

    command: StartResponse
    converter: OutputAudioConverter | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False
    usage: dict[str, int] | None = None

    @property
    def response_id(self) -> str:
        return self.command.response_id


class SessionPipeline:
    """Runs one session's Pipecat workers and carries out the core's pipeline commands."""

    def __init__(self, services: ServiceFactory, report: Report, *, name: str = "session") -> None:
        self._report = report
        self._name = name
        stt = services.create_stt()
        self._llm = services.create_llm()
        self._tts = services.create_tts()
        if getattr(services, "first_phrase", False):
            speak_from_first_phrase(self._tts)
        # Maps the response's voice to the TTS's (pipeline_manager/voices.py); absent: one voice.
        self._tts_voice: Callable[[str], str | None] | None = getattr(services, "tts_voice", None)
        self._llm.register_function(None, _client_executed_tool, cancel_on_interruption=True)
        self._llm.add_event_handler("on_function_calls_started", self._on_function_calls)

        self._transcriber = Transcriber(stt, report)
        self._speculation: TurnSpeculation | None = None
        if getattr(services, "speculates", False):
            self._speculation = TurnSpeculation(self._transcriber.transcribe_pcm)
            self._transcriber.speculation = self._speculation
        self._stt_worker = self._make_worker("stt", Pipeline([stt]))
        sink = ResponseSink(
            on_audio=self._on_audio,
            on_end=self._on_end,
            on_interrupted=self._on_interrupted,
            on_usage=self._on_usage,
        )
        # An LLM that can stop mid-reply (ours can) saves the tokens past a soft cap.
        cap = ReplyCap(getattr(self._llm, "stop_generation", None))
        self._response_worker = self._make_worker(
            "response", Pipeline([self._llm, cap, TextTap(self._on_text), self._tts, sink])
        )
        self._runner = WorkerRunner(handle_sigint=False)
        self._runner_task: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[StartResponse] = asyncio.Queue()
        self._cancelled: set[str] = set()
        """Responses cancelled while still queued behind another one."""
        self._current: _Generation | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self._turns: TurnInput | None = None

    def _make_worker(self, name: str, pipeline: Pipeline) -> PipelineWorker:
        return PipelineWorker(
            pipeline,
            name=f"{name}-{self._name}",
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
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._loop_task, DRAIN_TIMEOUT_S)
        if self._speculation is not None:
            await self._speculation.close()
        await self._transcriber.close(DRAIN_TIMEOUT_S)
        if self._turns is not None:
            await self._turns.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._runner.cancel(), DRAIN_TIMEOUT_S)
        if self._runner_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._runner_task, DRAIN_TIMEOUT_S)

    # --- commands ---------------------------------------------------------------------------------

    async def execute(self, command: PipelineCommand) -> None:
        """Carry out one command from the core (turn detection runs here, inline, in order)."""
        if self._closed:
            return
        match command:
            case StartResponse():
                self._queue.put_nowait(command)
            case CancelResponse(response_id):
                await self._cancel(response_id)
            case TranscribeAudio():
                self._transcriber.submit(command)
            case CancelTranscription(item_id):
                self._transcriber.cancel(item_id)
            case FeedAudio(audio, audio_format):
                if self._turns is not None:
                    await self._turns.feed(audio, audio_format)
            case ConfigureInput():
                await self._configure_input(command)
            case ConfigureTranscription(transcription):
                self._transcriber.configure(transcription)
                if self._speculation is not None:
                    self._speculation.on_turn(None)  # made with the old language: void

    async def _configure_input(self, command: ConfigureInput) -> None:
        if self._turns is not None:
            await self._turns.close()
            self._turns = None
        if command.turn_detection is not None:
            speculate = self._speculation.on_turn if self._speculation is not None else None
            self._turns = await TurnInput.start(command, self._report, speculate=speculate)
        await self._transcriber.set_noise_reduction(command.noise_reduction)

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
                self._report(ResponseFailed(command.response_id, str(exc)))

    async def _generate(self, command: StartResponse) -> None:
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
            frames.append(ReplyCapFrame(command.request.reply_cap))
            frames.append(LLMContextFrame(llm_context(command.request)))
            await self._response_worker.queue_frames(frames)
            # Ends when the sink sees the reply's end, or when the core cancels the response
            # (the client, a barge-in, or the connection's response deadline).
            await generation.finished.wait()
        finally:
            self._current = None

    async def _cancel(self, response_id: str) -> None:
        current = self._current
        if current is not None and current.response_id == response_id:
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
        self._report(ResponseText(current.response_id, text))

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
            self._report(ResponseAudio(current.response_id, converted))

    async def _on_end(self) -> None:
        current = self._live()
        if current is None:
            return
        if current.converter is not None:
            tail = current.converter.flush()
            if tail:
                self._report(ResponseAudio(current.response_id, tail))
        self._report(ResponseDone(current.response_id, current.usage))
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
            self._report(
                ResponseFunctionCall(
                    current.response_id, call.function_name, text, call.tool_call_id
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
        self._report(ResponseFailed(current.response_id, message))


async def _client_executed_tool(params: FunctionCallParams) -> None:
    """Tools run on the client: settle Pipecat's call at once, the client sends the output later."""
    await params.result_callback(None, properties=FunctionCallResultProperties(run_llm=False))


def _setter(event: asyncio.Event) -> Callable[..., Awaitable[None]]:
    async def handler(*_args: Any) -> None:
        event.set()

    return handler
