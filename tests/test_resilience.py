"""Resilience: clients that vanish at awkward moments, a connect/turn/disconnect leak test, and a
session that keeps working after every kind of error.

Each test runs against a dedicated mock-profile server with ``REALTIME_DEBUG_ENDPOINTS=true``, so
``GET /debug/stats`` reports the process's asyncio task count and RSS. "Healthy" means: ``/health``
reports no active session, the task count is back at its idle baseline, and the server log has no
traceback or ERROR line written during the test. Waiting is done by polling with a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.frames import Frame, Opcode

from tests.audio_clips import clip, segments_ms
from tests.conftest import ServerProcess
from tests.realtime_client import RealtimeTestClient, sdk_client, types_of

pytestmark = pytest.mark.timeout(180)

TOKEN_DELAY_MS = 30  # the slow server's mock LLM: 30 ms before each word
TURN_TIMEOUT = 15.0
CONNECT_TIMEOUT = 10.0
HTTP_TIMEOUT = 5.0
SEND_TIMEOUT = 10.0
IDLE_DEADLINE_S = 20.0
POLL_INTERVAL_S = 0.05

LEAK_WARMUP_CYCLES = 20
LEAK_CYCLES = 500
LEAK_CONCURRENCY = 5
TASK_TOLERANCE = 5
RSS_TOLERANCE_BYTES = 30 * 1024 * 1024

LONG_TEXT = " ".join(f"word{i}" for i in range(40))  # 40 words: ~1.2 s on the slow server
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
}
MANUAL_TURNS = {"input": {"turn_detection": None}}

# Lines that mean something went wrong inside the server: uvicorn's "Exception in ASGI
# application", loguru ERROR/CRITICAL records, tracebacks, and asyncio's unretrieved task errors.
PROBLEM_LINE = re.compile(
    r"Traceback|Exception in ASGI|^ERROR:|\|\s*(ERROR|CRITICAL)\s*\||Task exception was never"
    r"|Task was destroyed but it is pending"
)


# ------------------------------------------------------------------------------------------------
# Servers, stats and log
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def debug_server() -> Iterator[ServerProcess]:
    """A mock server with the debug endpoints (instant mock LLM), for the leak test."""
    process = ServerProcess({"REALTIME_DEBUG_ENDPOINTS": "true"})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def slow_debug_server() -> Iterator[ServerProcess]:
    """A mock server with the debug endpoints whose LLM waits before every word."""
    process = ServerProcess(
        {"REALTIME_DEBUG_ENDPOINTS": "true", "REALTIME_MOCK_TOKEN_DELAY_MS": str(TOKEN_DELAY_MS)}
    )
    yield process
    process.stop()


@dataclass(frozen=True)
class Stats:
    tasks: int
    rss_bytes: int
    active_sessions: int

    @property
    def rss_mb(self) -> float:
        return self.rss_bytes / 1024 / 1024


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as reply:
        return json.loads(reply.read())


async def get_json(url: str) -> dict[str, Any]:
    return await asyncio.wait_for(asyncio.to_thread(_get_json, url), HTTP_TIMEOUT + 1)


async def stats(server: ServerProcess) -> Stats:
    data = await get_json(f"{server.base_url}/debug/stats")
    return Stats(data["tasks"], data["rss_bytes"], data["active_sessions"])


async def poll(
    check: Callable[[], Awaitable[tuple[bool, Any]]], what: str, deadline_s: float
) -> Any:
    """Call ``check`` until it reports success; fail with its last value after the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        ok, value = await check()
        if ok:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {deadline_s:g} s; last: {value}")
        await asyncio.sleep(POLL_INTERVAL_S)


async def quiescent(server: ServerProcess) -> Stats:
    """The idle figures: no session open and the same task count on two polls in a row."""
    previous: list[Stats] = []

    async def check() -> tuple[bool, Stats]:
        current = await stats(server)
        steady = bool(previous) and previous[-1].tasks == current.tasks
        previous.append(current)
        return current.active_sessions == 0 and steady, current

    return await poll(check, "an idle server", IDLE_DEADLINE_S)


async def wait_healthy(server: ServerProcess, max_tasks: int) -> Stats:
    """Poll until /health shows no session and the task count is at most ``max_tasks``."""

    async def check() -> tuple[bool, Any]:
        health = await get_json(f"{server.base_url}/health")
        current = await stats(server)
        ok = health["active_sessions"] == 0 and current.tasks <= max_tasks
        return ok, current if ok else (health["active_sessions"], current)

    return await poll(check, f"0 active sessions and <= {max_tasks} tasks", IDLE_DEADLINE_S)


class LogWatch:
    """The part of a server's log written since this object was made."""

    def __init__(self, server: ServerProcess) -> None:
        self._server = server
        self._start = len(server.log())

    def problems(self) -> list[str]:
        new = self._server.log()[self._start :]
        return [line for line in new.splitlines() if PROBLEM_LINE.search(line)]

    def assert_clean(self) -> None:
        problems = self.problems()
        new = self._server.log()[self._start :]
        assert not problems, f"server log has problems: {problems[:10]}\n---\n{new[-4000:]}"


# ------------------------------------------------------------------------------------------------
# Clients
# ------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def session(base_url: str) -> AsyncIterator[RealtimeTestClient]:
    """A validating SDK session (``session.created`` consumed) that tolerates a dead socket."""
    manager = sdk_client(base_url).realtime.connect(model="gpt-realtime")
    connection = await asyncio.wait_for(manager.enter(), CONNECT_TIMEOUT)
    rt = RealtimeTestClient(connection)
    try:
        created = await rt.next_event()
        assert created["type"] == "session.created"
        yield rt
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), 5)


async def disconnect(rt: RealtimeTestClient, how: str) -> None:
    """``close``: a clean close handshake; ``abort``: drop the TCP connection without one."""
    ws = rt.connection._connection
    if how == "close":
        await asyncio.wait_for(ws.close(), 5)
    else:
        ws.transport.abort()


async def send(rt: RealtimeTestClient, event: dict[str, Any] | str | bytes) -> None:
    """Send a client event through the SDK, or a raw frame as is."""
    sending = rt.send(event) if isinstance(event, dict) else rt.send_raw(event)
    await asyncio.wait_for(sending, SEND_TIMEOUT)


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def reply_text(done: dict[str, Any]) -> str:
    part = done["output"][0]["content"][0]
    return part.get("text") if part["type"] == "output_text" else part.get("transcript")


async def add_user_text(rt: RealtimeTestClient, text: str) -> None:
    await send(rt, {"type": "conversation.item.create", "item": user_text(text)})
    await rt.wait_for("conversation.item.done", TURN_TIMEOUT)


async def text_turn(rt: RealtimeTestClient, text: str, *, audio: bool = False) -> None:
    """User text + ``response.create`` -> a completed ``response.done`` saying ``You said: T``."""
    await send(rt, {"type": "conversation.item.create", "item": user_text(text)})
    modality = "audio" if audio else "text"
    await send(rt, {"type": "response.create", "response": {"output_modalities": [modality]}})
    events = await rt.collect_until("response.done", TURN_TIMEOUT)
    errors = [e for e in events if e["type"] == "error"]
    assert not errors, errors
    done = events[-1]["response"]
    assert done["status"] == "completed", done
    assert reply_text(done) == f"You said: {text}"
    if audio:
        assert "response.output_audio.delta" in types_of(events)


# ------------------------------------------------------------------------------------------------
# (a) Disconnects at awkward moments
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_disconnect_mid_response(slow_debug_server: ServerProcess, how: str) -> None:
    server = slow_debug_server
    baseline = await quiescent(server)
    log = LogWatch(server)
    async with session(server.base_url) as rt:
        await add_user_text(rt, LONG_TEXT)
        await send(rt, {"type": "response.create"})  # audio: LLM, TTS and sink all busy
        await rt.wait_for("response.output_audio.delta", TURN_TIMEOUT)
        assert "response.done" not in types_of(rt.events), "the response ended too early"
        await disconnect(rt, how)
    after = await wait_healthy(server, baseline.tasks)
    print(f"mid-response ({how}): tasks {baseline.tasks} -> {after.tasks}")
    log.assert_clean()


def _partial_append_frame() -> bytes:
    """The first half of a masked client text frame carrying a 3 MiB append."""
    audio = base64.b64encode(bytes(3 * 1024 * 1024)).decode()
    payload = json.dumps({"type": "input_audio_buffer.append", "audio": audio}).encode()
    data = Frame(Opcode.TEXT, payload).serialize(mask=True, extensions=[])
    return data[: len(data) // 2]


@pytest.mark.parametrize("how", ["close", "abort", "abort_mid_frame"])
async def test_disconnect_mid_audio_append(slow_debug_server: ServerProcess, how: str) -> None:
    """Speech is streaming (server VAD has opened a turn) when the client goes away."""
    server = slow_debug_server
    baseline = await quiescent(server)
    log = LogWatch(server)
    pcm = clip("hello_joke_synth.wav")
    speech_start_ms = segments_ms("hello_joke_synth.wav")[0][0]
    chunk = 4800  # 100 ms
    first = int(speech_start_ms + 600) // 100 * chunk  # well into the first spoken words
    async with session(server.base_url) as rt:
        await asyncio.wait_for(rt.append_audio(pcm[:first], chunk), TURN_TIMEOUT)
        await rt.wait_for("input_audio_buffer.speech_started", TURN_TIMEOUT)
        # More speech in flight, not waited for: the server is still reading and analysing it.
        await asyncio.wait_for(
            rt.append_audio(pcm[first : first + 10 * chunk], chunk), TURN_TIMEOUT
        )
        if how == "abort_mid_frame":
            ws = rt.connection._connection
            ws.transport.write(_partial_append_frame())
            ws.transport.abort()
        else:
            await disconnect(rt, how)
    after = await wait_healthy(server, baseline.tasks)
    print(f"mid-append ({how}): tasks {baseline.tasks} -> {after.tasks}")
    log.assert_clean()


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_disconnect_mid_tool_call(slow_debug_server: ServerProcess, how: str) -> None:
    """The model called a client tool; the client leaves without sending the output."""
    server = slow_debug_server
    baseline = await quiescent(server)
    log = LogWatch(server)
    async with session(server.base_url) as rt:
        update = rt.update_session(
            tools=[WEATHER_TOOL], output_modalities=["text"], audio=MANUAL_TURNS
        )
        await asyncio.wait_for(update, TURN_TIMEOUT)
        await add_user_text(rt, "please get_weather for Paris")
        await send(rt, {"type": "response.create"})
        args = await rt.wait_for("response.function_call_arguments.done", TURN_TIMEOUT)
        assert args["name"] == "get_weather"
        await disconnect(rt, how)
    after = await wait_healthy(server, baseline.tasks)
    print(f"mid-tool-call ({how}): tasks {baseline.tasks} -> {after.tasks}")
    log.assert_clean()


# ------------------------------------------------------------------------------------------------
# (b) Leak test
# ------------------------------------------------------------------------------------------------


async def _cycles(base_url: str, count: int, concurrency: int, label: str) -> None:
    """``count`` connect / text turn / disconnect cycles, ``concurrency`` at a time."""
    numbers = iter(range(count))

    async def worker() -> None:
        for number in numbers:
            async with session(base_url) as rt:
                # Every other turn speaks, so the TTS and audio paths are cycled too.
                await text_turn(rt, f"{label} cycle {number}", audio=number % 2 == 0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def test_connect_turn_disconnect_cycles_do_not_leak(debug_server: ServerProcess) -> None:
    server = debug_server
    log = LogWatch(server)
    # Warm-up: the first sessions import Pipecat's lazily loaded modules and the Silero VAD.
    await asyncio.wait_for(
        _cycles(server.base_url, LEAK_WARMUP_CYCLES, LEAK_CONCURRENCY, "warm-up"), 60
    )
    baseline = await quiescent(server)
    started = time.monotonic()
    await asyncio.wait_for(_cycles(server.base_url, LEAK_CYCLES, LEAK_CONCURRENCY, "leak"), 150)
    elapsed = time.monotonic() - started
    after = await wait_healthy(server, baseline.tasks + TASK_TOLERANCE)
    growth = after.rss_bytes - baseline.rss_bytes
    print(
        f"\nleak test: {LEAK_CYCLES} cycles ({LEAK_CONCURRENCY} concurrent) in {elapsed:.1f} s; "
        f"tasks {baseline.tasks} -> {after.tasks} (tolerance +{TASK_TOLERANCE}); "
        f"RSS {baseline.rss_mb:.1f} MB -> {after.rss_mb:.1f} MB "
        f"(growth {growth / 1024 / 1024:+.1f} MB, tolerance {RSS_TOLERANCE_BYTES // 2**20} MB)"
    )
    assert after.tasks <= baseline.tasks + TASK_TOLERANCE
    assert growth <= RSS_TOLERANCE_BYTES
    log.assert_clean()


# ------------------------------------------------------------------------------------------------
# (c) One session survives every kind of error
# ------------------------------------------------------------------------------------------------


def _event(event_type: str, **fields: Any) -> str:
    return json.dumps({"type": event_type, **fields})


# name -> (frame, expected code, whether the error echoes the frame's event_id)
SIMPLE_ERRORS: list[tuple[str, str | bytes, str | None, bool]] = [
    ("invalid_json", '{"type": "response.create",', "invalid_json", False),
    ("binary_frame", b'{"type": "response.create"}', "invalid_event", False),
    ("not_an_object", "[1, 2, 3]", "invalid_type", False),
    ("unknown_type", _event("response.explode", event_id="e1"), "invalid_value", True),
    (
        "unknown_parameter",
        _event("session.update", event_id="e2", session={"type": "realtime", "bogus": 1}),
        "unknown_parameter",
        True,
    ),
    ("missing_field", _event("conversation.item.delete", event_id="e3"), None, True),
    (
        "wrong_type",
        _event("conversation.item.create", event_id="e4", item=user_text("x") | {"content": 1}),
        "invalid_type",
        True,
    ),
    (
        "bad_enum",
        _event("session.update", event_id="e5", session={"type": "realtime", "tool_choice": "x"}),
        "invalid_value",
        True,
    ),
    (
        "out_of_range",
        _event("response.create", event_id="e6", response={"max_output_tokens": 0}),
        "integer_below_min_value",
        True,
    ),
    (
        "bad_base64",
        _event("input_audio_buffer.append", event_id="e7", audio="no!"),
        "invalid_value",
        True,
    ),
    (
        "commit_empty",
        _event("input_audio_buffer.commit", event_id="e8"),
        "input_audio_buffer_commit_empty",
        True,
    ),
    ("cancel_not_active", _event("response.cancel", event_id="e9"), None, True),
    (
        "item_not_found",
        _event("conversation.item.retrieve", event_id="e10", item_id="item_nope"),
        "item_not_found",
        True,
    ),
    (
        "unknown_call_id",
        _event(
            "conversation.item.create",
            event_id="e11",
            item={"type": "function_call_output", "call_id": "call_nope", "output": "x"},
        ),
        "invalid_value",
        True,
    ),
    (
        "webrtc_only_event",
        _event("output_audio_buffer.clear", event_id="e12"),
        "invalid_value",
        True,
    ),
]
# Codes checked loosely (None above): their exact spelling is covered elsewhere.
LOOSE_CODES = {
    "missing_field": "missing_required_parameter",
    "cancel_not_active": "response_cancel_not_active",
}


async def _expect_error(rt: RealtimeTestClient) -> dict[str, Any]:
    events = await rt.collect_until("error", TURN_TIMEOUT)
    return events[-1]["error"]


async def test_session_survives_every_kind_of_error(slow_debug_server: ServerProcess) -> None:
    server = slow_debug_server
    baseline = await quiescent(server)
    log = LogWatch(server)
    async with session(server.base_url) as rt:
        await asyncio.wait_for(rt.update_session(audio=MANUAL_TURNS), TURN_TIMEOUT)
        for name, frame, code, echoes in SIMPLE_ERRORS:
            await send(rt, frame)
            error = await _expect_error(rt)
            assert error["code"] == (code or LOOSE_CODES[name]), (name, error)
            expected_id = json.loads(frame)["event_id"] if echoes else None
            assert error["event_id"] == expected_id, (name, error)
            await text_turn(rt, f"after {name}")

        # A second response.create while one is running.
        await add_user_text(rt, LONG_TEXT)
        await send(rt, {"type": "response.create", "response": {"output_modalities": ["text"]}})
        await rt.wait_for("response.created", TURN_TIMEOUT)
        await send(rt, {"type": "response.create", "event_id": "e13"})
        error = await _expect_error(rt)
        assert (error["code"], error["event_id"]) == (
            "conversation_already_has_active_response",
            "e13",
        )
        done = await rt.wait_for("response.done", TURN_TIMEOUT)
        assert done["response"]["status"] == "completed"
        await text_turn(rt, "after already active")

        # Truncating a user item.
        item = {"id": "item_user_1", **user_text("truncate me")}
        await send(rt, {"type": "conversation.item.create", "item": item})
        await rt.wait_for("conversation.item.done", TURN_TIMEOUT)
        await send(
            rt,
            {
                "type": "conversation.item.truncate",
                "event_id": "e14",
                "item_id": "item_user_1",
                "content_index": 0,
                "audio_end_ms": 0,
            },
        )
        error = await _expect_error(rt)
        assert error["event_id"] == "e14"
        assert error["message"] == "Only model output audio messages can be truncated"
        await text_turn(rt, "after truncate")

        # Changing the voice once assistant audio exists.
        await text_turn(rt, "speak", audio=True)
        voice = {"output": {"voice": "echo"}}
        await send(
            rt,
            {
                "type": "session.update",
                "event_id": "e15",
                "session": {"type": "realtime", "audio": voice},
            },
        )
        error = await _expect_error(rt)
        assert (error["code"], error["event_id"]) == ("cannot_update_voice", "e15")
        await text_turn(rt, "after voice", audio=True)

        health = await get_json(f"{server.base_url}/health")
        assert health["active_sessions"] == 1
    await wait_healthy(server, baseline.tasks)
    log.assert_clean()
