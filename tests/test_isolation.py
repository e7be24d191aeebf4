"""One session's work cannot monopolise the event loop, and delta handling is linear.

Every session of a server process shares one event loop, so a task that never waits stalls all
the others. These tests check the structure that prevents it, with counts rather than clocks
(figures in seconds live in bench/isolation.py):

- a :class:`~fairness.FairShare` makes its task give the loop back after ``max_items``
  items, and not when the task waits by itself;
- the driver gives the loop back while it drains a long inbox;
- a long reply goes through the real mock pipeline, the core and the driver word by word: the
  signals and events between two turns of the loop, and the work (Python and C calls) in any
  turn, do not grow with the reply; nor does the work per word (the mock TTS used to have Pipecat
  diff the whole reply at its end, quadratic in its length);
- the core's work per delta does not depend on how many deltas came before;
- the WebSocket protocol parses a large read in several turns of the loop, in order, and delivers
  everything before the disconnect;
- end to end, another session keeps being answered while a 4,000-word spoken reply streams, and
  the reply's events are intact.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import pytest
from websockets.asyncio.client import connect

from config import Settings
from fairness import MAX_ITEMS, FairShare
from pipeline_manager.services import MockServiceFactory
from pipeline_manager.session_pipeline import SessionPipeline
from protocol import ClientEvent
from protocol.validation import parse_client_event
from realtime_session import RealtimeSession, StartResponse
from realtime_session.signals import ResponseAudio, ResponseText, Signal
from transport.driver import SessionDriver
from transport.ws_protocol import PIECE_BYTES, FairWebSocketProtocol

WAIT_S = 30.0
WORDS = ("alpha", "bravo", "delta", "gamma", "kappa", "omega", "sigma", "theta")
MANUAL = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


PROBE_INTERVAL_S = 0.005


def words(count: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(count))


# --- counting work -------------------------------------------------------------------------------


class CallCounter:
    """Counts Python and C function calls on this thread while active (``sys.setprofile``)."""

    def __init__(self) -> None:
        self.calls = 0

    def _profile(self, _frame: FrameType, event: str, _arg: Any) -> None:
        if event in ("call", "c_call"):
            self.calls += 1

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        sys.setprofile(self._profile)
        try:
            yield
        finally:
            sys.setprofile(None)


class LoopTurns:
    """A task that runs once per turn of the event loop and samples counters each time.

    The samples' differences are what happened between two turns of the loop: the work other
    sessions had to wait for.
    """

    def __init__(self, *counters: Callable[[], int]) -> None:
        self._counters = counters
        self.samples: list[tuple[int, ...]] = []
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(tuple(counter() for counter in self._counters))
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(self._task, WAIT_S)

    def most_per_turn(self, index: int) -> int:
        values = [sample[index] for sample in self.samples]
        return max((b - a for a, b in itertools.pairwise(values)), default=0)


# --- FairShare ---------------------------------------------------------------------------------


async def test_a_fair_share_gives_the_loop_back_after_max_items() -> None:
    log: list[str] = []
    done = asyncio.Event()

    async def busy() -> None:
        share = FairShare(max_items=8, max_seconds=60.0)
        for _ in range(100):
            log.append("item")
            await share.spend()
        done.set()

    async def other() -> None:
        while not done.is_set():
            log.append("other")
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(other(), busy()), WAIT_S)
    runs = "".join("x" if entry == "item" else "|" for entry in log).split("|")
    assert max(len(run) for run in runs) == 8
    assert log.count("item") == 100


async def test_a_task_that_waits_by_itself_is_not_made_to_yield() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    share = FairShare(max_items=4, max_seconds=60.0)

    async def consumer() -> None:
        for _ in range(50):
            await queue.get()  # empty: the task waits, its run ends
            await share.spend()

    async def producer() -> None:
        for i in range(50):
            queue.put_nowait(i)
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(consumer(), producer()), WAIT_S)
    assert share.yields == 0


# --- the driver ----------------------------------------------------------------------------------


class EchoCore:
    """Stands in for RealtimeSession: one server event per signal."""

    def start(self) -> list[Any]:
        return []

    def handle(self, event: ClientEvent) -> list[Any]:
        return []

    def receive(self, signal: Signal) -> list[Any]:
        return [{"type": "echo"}]


class SilentBackend:
    def __init__(self, report: Callable[[Signal], None]) -> None:
        self.report = report

    async def start(self) -> None:
        pass

    async def execute(self, command: Any) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_the_driver_gives_the_loop_back_while_it_drains_a_long_inbox() -> None:
    emitted: list[dict[str, Any]] = []
    driver = SessionDriver(
        EchoCore(),  # type: ignore[arg-type]
        SilentBackend,
        parse=parse_client_event,
        emit=emitted.append,
    )
    await driver.start()
    backend: SilentBackend = driver.backend  # type: ignore[assignment]
    for _ in range(200):  # a long reply's deltas, all queued before the driver gets to them
        backend.report(ResponseText("resp_1", " word"))
    turns = LoopTurns(lambda: len(emitted))
    task = asyncio.create_task(driver.run())
    try:
        await asyncio.wait_for(_until(lambda: len(emitted) >= 200), WAIT_S)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await turns.stop()
        await driver.close()
    assert turns.most_per_turn(0) <= MAX_ITEMS


# --- a long reply through the mock pipeline, the core and the driver, in process ---------------


@dataclass
class ReplyFigures:
    """What one reply did between turns of the loop, and in all."""

    signals_per_turn: int
    events_per_turn: int
    calls_per_turn: int
    calls: int
    transcript: str


async def run_reply(word_count: int, *, count_calls: bool = False) -> ReplyFigures:
    """A spoken reply of ``word_count`` words through the real session stack minus the socket."""
    reports: list[Signal] = []
    emitted: list[dict[str, Any]] = []
    done = asyncio.Event()

    def emit(event: dict[str, Any]) -> None:
        emitted.append(event)
        if event["type"] == "response.done":
            done.set()

    def make_backend(report: Callable[[Signal], None]) -> SessionPipeline:
        def counted(signal: Signal) -> None:
            reports.append(signal)
            report(signal)

        services = MockServiceFactory(Settings(mock_token_delay_ms=0, mock_fault=""))
        return SessionPipeline(services, counted, name="isolation-test")

    core = RealtimeSession(initial_session=MANUAL)
    driver = SessionDriver(core, make_backend, parse=parse_client_event, emit=emit)
    await driver.start()
    task = asyncio.create_task(driver.run())
    counter = CallCounter()
    try:
        content = [{"type": "input_text", "text": words(word_count - 2)}]  # + "You said:"
        item = {"type": "message", "role": "user", "content": content}
        await driver.feed_frame(json.dumps({"type": "conversation.item.create", "item": item}))
        turns = LoopTurns(lambda: len(reports), lambda: len(emitted), lambda: counter.calls)
        with counter.active() if count_calls else contextlib.nullcontext():
            await driver.feed_frame(json.dumps({"type": "response.create"}))
            await asyncio.wait_for(done.wait(), WAIT_S)
        await turns.stop()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await driver.close()
    final = next(e for e in emitted if e["type"] == "response.done")
    assert final["response"]["status"] == "completed"
    transcript = final["response"]["output"][0]["content"][0]["transcript"]
    return ReplyFigures(
        turns.most_per_turn(0),
        turns.most_per_turn(1),
        turns.most_per_turn(2),
        counter.calls,
        transcript,
    )


async def test_a_long_reply_goes_through_the_pipeline_word_by_word() -> None:
    for word_count in (200, 1000):
        figures = await run_reply(word_count)
        assert figures.transcript == "You said: " + words(word_count - 2)
        # TextTap and ResponseSink each pass on at most a fair share of pieces per turn; before,
        # the mock LLM pushed the whole reply in one turn and each processor drained its queue.
        assert figures.signals_per_turn <= 2 * MAX_ITEMS, word_count
        assert figures.events_per_turn <= 2 * MAX_ITEMS, word_count


async def test_work_per_word_and_per_turn_does_not_grow_with_the_reply() -> None:
    short = await run_reply(200, count_calls=True)
    long = await run_reply(800, count_calls=True)
    # Linear: the same work per word (the old mock TTS: +47% per word at 800 words, the whole
    # reply diffed at its end) and no turn of the loop doing more for a longer reply (old: 10x).
    assert long.calls / 800 <= 1.15 * short.calls / 200
    assert long.calls_per_turn <= 1.5 * short.calls_per_turn


# --- the core alone: per-delta work ----------------------------------------------------------


def test_the_core_does_the_same_work_for_a_delta_whatever_came_before() -> None:
    core = RealtimeSession(initial_session=MANUAL)
    core.start()
    outputs = core.handle(parse_client_event(json.dumps({"type": "response.create"})))
    response_id = next(o.response_id for o in outputs if isinstance(o, StartResponse))
    audio = b"\x01\x00" * 2400

    def deltas(count: int) -> None:
        for _ in range(count):
            for signal in (ResponseText(response_id, " word"), ResponseAudio(response_id, audio)):
                for output in core.receive(signal):
                    if isinstance(output, dict):
                        json.dumps(output)  # the transport's encoding, as the driver emits

    def calls_for_50() -> int:
        counter = CallCounter()
        with counter.active():
            deltas(50)
        return counter.calls

    deltas(100)
    early = calls_for_50()
    deltas(4000)
    late = calls_for_50()
    assert late <= early * 1.02


def test_the_core_allocates_the_same_for_a_delta_whatever_came_before() -> None:
    """Rebuilding the reply's text on every delta (``text += delta``, or joining the deltas so
    far) costs one call either way, so counting calls cannot see it; the bytes it allocates can.
    """
    core = RealtimeSession(initial_session={**MANUAL, "output_modalities": ["text"]})
    core.start()
    outputs = core.handle(parse_client_event(json.dumps({"type": "response.create"})))
    response_id = next(o.response_id for o in outputs if isinstance(o, StartResponse))

    def deltas(count: int) -> None:
        for _ in range(count):
            for output in core.receive(ResponseText(response_id, " word")):
                if isinstance(output, dict):
                    json.dumps(output)

    def most_for_one_of_50() -> int:
        most = 0
        for _ in range(50):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            deltas(1)
            most = max(most, tracemalloc.get_traced_memory()[1] - before)
        return most

    tracemalloc.start()
    try:
        deltas(100)
        early = most_for_one_of_50()
        deltas(4000)
        late = most_for_one_of_50()
    finally:
        tracemalloc.stop()
    # ~2.5 KB a delta either way; rebuilding the text would add its size, 20 KB by now. The
    # slack is the list of deltas growing (4 KB at a time by now).
    assert late < early + 8192


# --- the WebSocket protocol --------------------------------------------------------------------


class FakeTransport(asyncio.Transport):
    """Collects what the protocol writes; records whether reading is paused."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.reading = True
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        peers = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return peers.get(name, default)


class ProtocolHarness:
    """:class:`FairWebSocketProtocol` on a fake transport, an app that records what it receives,
    and a sans-I/O websockets client producing the bytes a real client would send."""

    def __init__(self) -> None:
        from uvicorn.config import Config
        from uvicorn.server import ServerState
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.received: list[str] = []
        self.accepted = asyncio.Event()
        self.finished = asyncio.Event()
        config = Config(
            app=self.app, interface="asgi3", ws_per_message_deflate=False, log_level="warning"
        )
        config.load()
        self.transport = FakeTransport()
        self.protocol = FairWebSocketProtocol(
            config=config, server_state=ServerState(), app_state={}
        )
        self.protocol.connection_made(self.transport)
        self.client = ClientProtocol(parse_uri("ws://127.0.0.1:8000/"))

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        self.accepted.set()
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.received.append("disconnect")
                self.finished.set()
                return
            self.received.append(message["text"])

    async def open(self) -> None:
        self.client.send_request(self.client.connect())
        self.protocol.data_received(b"".join(self.client.data_to_send()))
        await asyncio.wait_for(self.accepted.wait(), WAIT_S)
        await asyncio.sleep(0)
        self.client.receive_data(bytes(self.transport.written))
        self.transport.written.clear()

    def frames(self, count: int) -> bytes:
        for i in range(count):
            self.client.send_text(json.dumps({"n": i}).encode())
        return b"".join(self.client.data_to_send())

    async def until_received(self, count: int) -> None:
        async def wait() -> None:
            while len(self.received) < count:
                await asyncio.sleep(0)

        await asyncio.wait_for(wait(), WAIT_S)


def expected(count: int) -> list[str]:
    return [json.dumps({"n": i}) for i in range(count)]


async def test_a_large_read_of_tiny_frames_is_parsed_over_several_turns_in_order() -> None:
    h = ProtocolHarness()
    await h.open()
    data = h.frames(20000)  # ~300 KiB: more than one socket read holds
    assert len(data) > 100 * PIECE_BYTES
    h.protocol.data_received(data)
    # Parsed in shares: the rest waits for later turns of the loop, with reading paused.
    assert h.protocol.queue.qsize() < 20000
    assert not h.transport.reading
    await h.until_received(20000)
    assert h.received == expected(20000)
    await asyncio.wait_for(_until(lambda: h.transport.reading), WAIT_S)


async def test_a_small_read_is_parsed_at_once() -> None:
    h = ProtocolHarness()
    await h.open()
    data = h.frames(3)
    assert len(data) <= PIECE_BYTES
    h.protocol.data_received(data)
    assert h.protocol.queue.qsize() == 3


async def test_every_message_read_reaches_the_app_before_the_disconnect() -> None:
    h = ProtocolHarness()
    await h.open()
    h.protocol.data_received(h.frames(5000))
    h.protocol.connection_lost(None)
    await asyncio.wait_for(h.finished.wait(), WAIT_S)
    assert h.received == [*expected(5000), "disconnect"]


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0)


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.timeout(180)
async def test_another_session_is_served_while_a_long_spoken_reply_streams(server: Any) -> None:
    url = f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"
    clear = json.dumps({"type": "input_audio_buffer.clear"})
    # 4,000 words: beyond the server's default reply ceiling, within what a client may ask for.
    update = json.dumps(
        {"type": "session.update", "session": {**MANUAL, "max_output_tokens": 4096}}
    )
    text = words(3998)
    async with connect(url, max_size=None) as noisy, connect(url, max_size=None) as probe:
        for ws in (noisy, probe):
            await ws.send(update)
            await _recv_until(ws, "session.updated")
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        await noisy.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await _recv_until(noisy, "conversation.item.done")
        await noisy.send(json.dumps({"type": "response.create"}))

        reply_done = asyncio.Event()
        answered = 0

        async def probing() -> None:
            nonlocal answered
            while not reply_done.is_set():
                await probe.send(clear)
                await _recv_until(probe, "input_audio_buffer.cleared")
                if not reply_done.is_set():
                    answered += 1
                # A probe, not a flood: stay well under the per-session event rate limit.
                await asyncio.sleep(PROBE_INTERVAL_S)

        prober = asyncio.create_task(probing())
        transcript: list[str] = []
        audio_bytes = 0
        while True:
            event = json.loads(await asyncio.wait_for(noisy.recv(), WAIT_S))
            if event["type"] == "response.output_audio_transcript.delta":
                transcript.append(event["delta"])
            elif event["type"] == "response.output_audio.delta":
                audio_bytes += len(base64.b64decode(event["delta"]))
            elif event["type"] == "response.done":
                reply_done.set()
                break
        await asyncio.wait_for(prober, WAIT_S)

    reply = "You said: " + text
    assert event["response"]["status"] == "completed"
    assert "".join(transcript) == reply
    assert audio_bytes == len(reply) * 20 * 48  # 20 ms of 24 kHz PCM16 per character
    assert answered >= 10


async def _recv_until(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        if event["type"] == kind:
            return event
