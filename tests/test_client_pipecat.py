"""Pipecat's ``OpenAIRealtimeLLMService`` against the mock server, in an in-process pipeline.

The service is configured the way a Pipecat app targets OpenAI, with only ``base_url`` changed to
``ws://127.0.0.1:PORT/v1/realtime``. It runs in a real pipeline (context aggregators, the service,
and a recorder) under Pipecat's ``WorkerRunner``; the tests queue frames into it and wait, each with
a timeout, for what the service pushes out: text, audio, function calls, transcriptions and errors.
Every server event the service received is also validated against the SDK's strict GA union and
the protocol invariants (a thin wrapper around its WebSocket records the traffic).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMRunFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    AssistantTurnStoppedMessage,
    LLMContextAggregatorPair,
    UserTurnMessageAddedMessage,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.realtime.events import (
    AudioConfiguration,
    AudioInput,
    InputAudioNoiseReduction,
    InputAudioTranscription,
    SemanticTurnDetection,
    SessionProperties,
)
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.workers.runner import WorkerRunner

from tests.audio_clips import clip
from tests.conftest import ServerProcess
from tests.helpers_audio import mock_reply_bytes
from tests.realtime_client import InvariantChecker, validate_server_event

pytestmark = pytest.mark.timeout(60)

WAIT_S = 10.0
RATE = 24000


class RecordingSocket:
    """The service's WebSocket, unchanged, with every frame in both directions recorded."""

    def __init__(self, websocket: Any, wire: Wire) -> None:
        self._websocket = websocket
        self._wire = wire

    async def send(self, message: str) -> None:
        self._wire.client_events.append(json.loads(message))
        await self._websocket.send(message)

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        async for message in self._websocket:
            self._wire.on_server_event(json.loads(message))
            yield message

    async def close(self) -> None:
        await self._websocket.close()


@dataclass
class Wire:
    """What went over the service's WebSocket, checked as it arrives."""

    client_events: list[dict[str, Any]] = field(default_factory=list)
    server_events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    invariants: InvariantChecker = field(default_factory=InvariantChecker)

    def on_server_event(self, event: dict[str, Any]) -> None:
        self.server_events.append(event)
        try:
            validate_server_event(event)
            self.invariants.check(event)
        except Exception as error:  # recorded, asserted on by the test
            self.problems.append(f"{event.get('type')}: {error}")

    def server_types(self) -> list[str]:
        return [e["type"] for e in self.server_events]

    def client_types(self) -> list[str]:
        return [e["type"] for e in self.client_events]


class RecordedRealtimeService(OpenAIRealtimeLLMService):
    """The stock service; only its WebSocket is wrapped, to record the traffic."""

    def __init__(self, wire: Wire, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wire = wire

    async def _connect(self) -> None:
        await super()._connect()
        # The receive task is created but has not started yet: it reads the wrapped socket.
        if self._websocket is not None:
            self._websocket = RecordingSocket(self._websocket, self.wire)  # type: ignore[assignment]


class Log:
    """A list that a test can wait on."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Condition()

    async def append(self, item: Any) -> None:
        async with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[list[Any]], bool], what: str, timeout: float = WAIT_S
    ) -> None:
        """Wait until ``predicate(self.items)`` holds."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: predicate(self.items))
        except TimeoutError:
            seen = [type(i).__name__ if isinstance(i, Frame) else i for i in self.items]
            raise AssertionError(f"timed out waiting for {what}; seen: {seen}") from None

    def of(self, kind: type) -> list[Any]:
        return [i for i in self.items if isinstance(i, kind)]


class Recorder(FrameProcessor):
    """Passes every frame on; logs the frames going one way."""

    def __init__(self, direction: FrameDirection) -> None:
        super().__init__()
        self._direction = direction
        self.log = Log()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == self._direction:
            await self.log.append(frame)
        await self.push_frame(frame, direction)


def count(kind: type, n: int) -> Callable[[list[Any]], bool]:
    return lambda items: sum(isinstance(i, kind) for i in items) >= n


@dataclass
class App:
    """A running Pipecat app: context, service, recorders and the wire."""

    context: LLMContext
    llm: RecordedRealtimeService
    worker: PipelineWorker
    downstream: Log  # frames the service pushes towards the output (text, audio, ...)
    upstream: Log  # frames the service pushes back (transcriptions, errors)
    turns: Log  # the aggregators' turn messages, written into the context
    wire: Wire

    def text(self) -> str:
        return "".join(f.text for f in self.downstream.of(LLMTextFrame))

    def audio(self) -> bytes:
        return b"".join(f.audio for f in self.downstream.of(TTSAudioRawFrame))

    def assert_clean(self) -> None:
        assert not self.wire.problems, self.wire.problems
        errors = [e for e in self.wire.server_events if e["type"] == "error"]
        assert not errors, errors
        assert not self.upstream.of(ErrorFrame), self.upstream.of(ErrorFrame)


@contextlib.asynccontextmanager
async def pipecat_app(
    server: ServerProcess,
    context: LLMContext,
    session_properties: SessionProperties | None = None,
    functions: dict[str, Callable[[FunctionCallParams], Any]] | None = None,
) -> AsyncIterator[App]:
    """Start a pipeline around ``OpenAIRealtimeLLMService`` pointed at ``server``."""
    wire = Wire()
    llm = RecordedRealtimeService(
        wire,
        api_key="sk-test",
        base_url=f"ws://127.0.0.1:{server.port}/v1/realtime",
        settings=OpenAIRealtimeLLMService.Settings(
            model="gpt-realtime",
            system_instruction="Answer briefly.",
            session_properties=session_properties or SessionProperties(),
        ),
    )
    for name, handler in (functions or {}).items():
        llm.register_function(name, handler)
    user, assistant = LLMContextAggregatorPair(context)
    upstream = Recorder(FrameDirection.UPSTREAM)
    downstream = Recorder(FrameDirection.DOWNSTREAM)
    worker = PipelineWorker(
        Pipeline([upstream, user, llm, downstream, assistant]),
        params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE),
        enable_rtvi=False,
        idle_timeout_secs=None,
        cancel_on_idle_timeout=False,
    )
    started = asyncio.Event()

    async def on_started(_worker: Any, _frame: Any) -> None:
        started.set()

    worker.add_event_handler("on_pipeline_started", on_started)
    turns = Log()

    async def on_turn(_aggregator: Any, message: Any) -> None:
        await turns.append(message)

    user.add_event_handler("on_user_turn_message_added", on_turn)
    assistant.add_event_handler("on_assistant_turn_stopped", on_turn)
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(started.wait(), WAIT_S)
        yield App(context, llm, worker, downstream.log, upstream.log, turns, wire)
    finally:
        await asyncio.wait_for(worker.cancel(), WAIT_S)
        await asyncio.wait_for(run, WAIT_S)


async def test_text_turn(server: ServerProcess) -> None:
    context = LLMContext([{"role": "user", "content": "Hello from Pipecat"}])
    async with pipecat_app(server, context, SessionProperties(output_modalities=["text"])) as app:
        await app.worker.queue_frames([LLMRunFrame()])
        await app.downstream.wait_for(count(LLMFullResponseEndFrame, 1), "the reply")
        assert app.text() == "You said: Hello from Pipecat"
        assert not app.downstream.of(TTSAudioRawFrame)
        # The assistant aggregator wrote the reply into the app's context.
        await app.turns.wait_for(count(AssistantTurnStoppedMessage, 1), "the assistant turn")
        assert context.get_messages()[-1] == {
            "role": "assistant",
            "content": "You said: Hello from Pipecat",
        }
        app.assert_clean()
    # The service set the session up, replayed the context and asked for a text response.
    sent = app.wire.client_events
    assert app.wire.client_types() == [
        "session.update",
        "conversation.item.create",
        "session.update",
        "response.create",
    ]
    assert sent[0]["session"]["instructions"] == "Answer briefly."
    assert sent[0]["session"]["output_modalities"] == ["text"]
    assert sent[1]["item"]["content"] == [{"type": "input_text", "text": "Hello from Pipecat"}]
    assert sent[3]["response"] == {"output_modalities": ["text"]}
    done = [e for e in app.wire.server_events if e["type"] == "response.done"]
    assert [d["response"]["status"] for d in done] == ["completed"]


async def test_tool_turn(server: ServerProcess) -> None:
    calls: list[dict[str, Any]] = []

    async def get_weather(params: FunctionCallParams) -> None:
        calls.append(dict(params.arguments))
        await params.result_callback({"city": "Paris", "temperature_c": 21})

    weather = FunctionSchema(
        name="get_weather",
        description="The weather in a city.",
        properties={"text": {"type": "string"}},
        required=["text"],
    )
    question = "What is the weather in Paris? Please use get_weather."
    context = LLMContext(
        [{"role": "user", "content": question}], tools=ToolsSchema(standard_tools=[weather])
    )
    async with pipecat_app(
        server,
        context,
        SessionProperties(output_modalities=["text"]),
        functions={"get_weather": get_weather},
    ) as app:
        await app.worker.queue_frames([LLMRunFrame()])
        # First response: the function call; second: the answer to its result.
        await app.downstream.wait_for(count(LLMFullResponseEndFrame, 2), "the tool round trip")
        assert calls == [{"text": question}]
        results = app.downstream.of(FunctionCallResultFrame)
        assert [r.function_name for r in results] == ["get_weather"]
        app.assert_clean()
    output = '{"city": "Paris", "temperature_c": 21}'
    assert app.text() == f"Tool result: {output}"
    sent = app.wire.client_events
    tools = [e["session"].get("tools") for e in sent if e["type"] == "session.update"]
    assert {"type": "function", "name": "get_weather"}.items() <= tools[-1][0].items()
    outputs = [e["item"] for e in sent if e["type"] == "conversation.item.create"][1:]
    assert [(o["type"], o["output"]) for o in outputs] == [("function_call_output", output)]
    call = next(
        e["item"]
        for e in app.wire.server_events
        if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"
    )
    assert outputs[0]["call_id"] == call["call_id"]
    assert app.wire.client_types().count("response.create") == 2


async def test_audio_turn(server: ServerProcess) -> None:
    """A spoken greeting, then speech in as ``InputAudioRawFrame``s and a spoken reply.

    The app follows Pipecat's own OpenAI Realtime example: the session has input transcription,
    semantic VAD and near-field noise reduction, and the app starts the conversation with an
    ``LLMRunFrame`` (the bot speaks first). Then the user's audio streams in; the server's VAD ends
    the turn, transcribes it and answers without the app asking.
    """
    context = LLMContext([{"role": "developer", "content": "Say hello!"}])
    audio_input = AudioInput(
        transcription=InputAudioTranscription(),
        turn_detection=SemanticTurnDetection(),
        noise_reduction=InputAudioNoiseReduction(type="near_field"),
    )
    properties = SessionProperties(audio=AudioConfiguration(input=audio_input))
    async with pipecat_app(server, context, properties) as app:
        await app.worker.queue_frames([LLMRunFrame()])
        await app.downstream.wait_for(count(TTSStoppedFrame, 1), "the spoken greeting")
        await app.turns.wait_for(count(AssistantTurnStoppedMessage, 1), "the greeting's turn")
        greeting = app.text()
        assert greeting == "You said: Say hello!", greeting
        greeting_audio = app.audio()
        assert len(greeting_audio) == mock_reply_bytes(greeting)

        pcm = clip("go_forward_human.wav")
        chunk = RATE * 2 // 10  # 100 ms
        await app.worker.queue_frames(
            [
                InputAudioRawFrame(pcm[start : start + chunk], RATE, 1)
                for start in range(0, len(pcm), chunk)
            ]
        )
        await app.downstream.wait_for(count(TTSStoppedFrame, 2), "the spoken reply")
        await app.turns.wait_for(count(UserTurnMessageAddedMessage, 1), "the user's transcript")
        await app.turns.wait_for(count(AssistantTurnStoppedMessage, 2), "the reply's turn")
        transcript = app.turns.of(UserTurnMessageAddedMessage)[0].content
        assert re.fullmatch(r"audio of \d+ ms", transcript), transcript
        reply = f"You said: {transcript}"
        assert app.text() == greeting + reply
        assert {f.sample_rate for f in app.downstream.of(TTSAudioRawFrame)} == {RATE}
        assert len(app.audio()) - len(greeting_audio) == mock_reply_bytes(reply)
        # The aggregators wrote every turn into the app's context.
        assert context.get_messages()[1:] == [
            {"role": "assistant", "content": greeting},
            {"role": "user", "content": transcript},
            {"role": "assistant", "content": reply},
        ]
        app.assert_clean()
    created = [e["item"] for e in app.wire.client_events if e["type"] == "conversation.item.create"]
    assert [(c["role"], c["content"]) for c in created] == [
        ("user", [{"type": "input_text", "text": "Say hello!"}])
    ]
    session = app.wire.client_events[0]["session"]["audio"]["input"]
    assert session["turn_detection"]["type"] == "semantic_vad"
    assert session["transcription"] == {"model": "gpt-realtime-whisper"}
    assert session["noise_reduction"] == {"type": "near_field"}
    types = app.wire.server_types()
    for kind in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
    ):
        assert types.count(kind) == 1, types
    assert [
        e["response"]["status"] for e in app.wire.server_events if e["type"] == "response.done"
    ] == [
        "completed",
        "completed",
    ]
    # The app asked for the greeting only: the server's VAD committed the turn and answered it.
    assert "input_audio_buffer.commit" not in app.wire.client_types()
    assert app.wire.client_types().count("response.create") == 1
