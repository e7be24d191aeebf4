"""What one session may cost, on a real server: idle sessions end, floods are cut, no empty turns.

Each test starts its own mock-profile server with small limits, so the behaviour shows in seconds,
and talks to it over raw ``websockets`` (the SDK would hide the close code).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import ServerProcess

WAIT_S = 15.0
APPEND_10MS = json.dumps(
    {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(480)).decode()}
)


@pytest.fixture(scope="module")
def limited_server() -> Iterator[ServerProcess]:
    process = ServerProcess(
        {
            "REALTIME_SESSION_IDLE_TIMEOUT_S": "1",
            "REALTIME_MAX_CLIENT_EVENTS_PER_S": "50",
            "REALTIME_MAX_CLIENT_EVENT_BURST": "100",
        }
    )
    yield process
    process.stop()


@contextlib.asynccontextmanager
async def raw_session(server: ServerProcess) -> AsyncIterator[ClientConnection]:
    url = f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"
    async with connect(url, max_size=None) as ws:
        created = await next_event(ws)
        assert created["type"] == "session.created"
        yield ws


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))


async def wait_for(ws: ClientConnection, event_type: str) -> dict[str, Any]:
    async def scan() -> dict[str, Any]:
        while True:
            event = await next_event(ws)
            if event["type"] == event_type:
                return event

    return await asyncio.wait_for(scan(), WAIT_S)


async def test_an_idle_session_is_told_why_and_closed(limited_server: ServerProcess) -> None:
    async with raw_session(limited_server) as ws:
        error = await wait_for(ws, "error")
        assert error["error"]["code"] == "session_idle_timeout"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WAIT_S)
        assert ws.close_code == 1000


async def test_a_flooding_session_is_rate_limited_while_others_are_served(
    limited_server: ServerProcess,
) -> None:
    async with raw_session(limited_server) as flooder, raw_session(limited_server) as other:
        for _ in range(500):  # far beyond the burst of 100, at once
            await flooder.send(APPEND_10MS)
        error = await wait_for(flooder, "error")
        assert error["error"]["code"] == "rate_limit_exceeded"
        assert error["error"]["type"] == "invalid_request_error"
        await other.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert (await wait_for(other, "input_audio_buffer.cleared"))["type"]


async def test_a_failed_transcription_is_not_answered_as_an_empty_turn() -> None:
    process = ServerProcess({"REALTIME_MOCK_FAULT": "stt:raise"})
    try:
        async with raw_session(process) as ws:
            update = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            await ws.send(json.dumps({"type": "session.update", "session": update}))
            await wait_for(ws, "session.updated")
            for _ in range(50):  # 500 ms
                await ws.send(APPEND_10MS)
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            await ws.send(json.dumps({"type": "response.create"}))
            done = (await wait_for(ws, "response.done"))["response"]
            assert done["status"] == "failed"
            assert done["status_details"]["error"]["code"] == "transcription_failed"
            assert done["output"] == []
    finally:
        process.stop()
