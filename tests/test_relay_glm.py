"""A GLM-Realtime relay end to end: a GA client, our front server, the GLM stand-in on loopback.

The dialect itself is tested event by event in tests/test_relay_glm_dialect.py; here it runs inside
a real server process, behind the relay's validation, naming and failure handling.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conftest import ServerProcess
from tests.glm_standin import GLMStandIn, tone_pcm16
from tests.realtime_client import DEFAULT_TIMEOUT, InvariantChecker, validate_server_event
from tests.relay_servers import front_server

pytestmark = pytest.mark.timeout(60)

GLM_KEY = "glm-key.relay-test"


@pytest.fixture
async def standin() -> AsyncIterator[tuple[GLMStandIn, str]]:
    glm = GLMStandIn(api_key=GLM_KEY, transcript=["Sunny", " today."], reply_audio_ms=300)
    url = await asyncio.wait_for(glm.start(), DEFAULT_TIMEOUT)
    yield glm, url
    await asyncio.wait_for(glm.stop(), DEFAULT_TIMEOUT)


@contextlib.contextmanager
def glm_front(directory: Path, url: str) -> Iterator[ServerProcess]:
    relay = {"provider": "glm", "url": url, "model": "glm-realtime-flash"}
    models = [
        {"name": "glm", "relay": {**relay, "api_key_env": "GLM_KEY"}},
        {"name": "glm-wrong-key", "relay": {**relay, "api_key_env": "GLM_WRONG_KEY"}},
    ]
    env = {"GLM_KEY": GLM_KEY, "GLM_WRONG_KEY": "glm-key.wrong"}
    with front_server(directory, models, env) as front:
        yield front


async def _events_until(ws: Any, kind: str, checker: InvariantChecker) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(DEFAULT_TIMEOUT):
        while True:
            event = json.loads(await ws.recv())
            validate_server_event(event)
            checker.check(event)
            events.append(event)
            if event["type"] == kind:
                return events


def _url(front: ServerProcess, model: str) -> str:
    return front.base_url.replace("http", "ws", 1) + f"/v1/realtime?model={model}"


async def test_a_spoken_turn_through_a_glm_relay(
    standin: tuple[GLMStandIn, str], tmp_path: Path
) -> None:
    glm, url = standin
    with glm_front(tmp_path, url) as front:
        async with websockets.connect(_url(front, "glm"), open_timeout=DEFAULT_TIMEOUT) as ws:
            checker = InvariantChecker()
            [created] = await _events_until(ws, "session.created", checker)
            assert created["session"]["model"] == "glm"
            manual = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            await ws.send(json.dumps({"type": "session.update", "session": manual}))
            await _events_until(ws, "session.updated", checker)
            pcm = tone_pcm16(1000, rate=24000)
            for start in range(0, len(pcm), 9600):
                chunk = pcm[start : start + 9600]
                audio = {"type": "input_audio_buffer.append", "audio": _b64(chunk)}
                await ws.send(json.dumps(audio))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            await ws.send(json.dumps({"type": "response.create"}))
            events = await _events_until(ws, "response.done", checker)
    kinds = [event["type"] for event in events]
    assert "input_audio_buffer.committed" in kinds and "response.output_audio.delta" in kinds
    response = events[-1]["response"]
    assert response["status"] == "completed"
    assert response["output"][0]["content"][0]["transcript"] == "Sunny today."
    # GLM got the key as a bearer token and 1 s of 16 kHz WAV; it never saw our client's key.
    assert glm.handshakes[-1]["Authorization"] == f"Bearer {GLM_KEY}"
    assert {(a.container, a.rate) for a in glm.audio} == {("wav", 16000)}
    assert glm.audio_ms == pytest.approx(1000, abs=1)
    assert glm.sessions[-1]["model"] == "glm-realtime-flash"


async def test_glm_refusing_the_key(standin: tuple[GLMStandIn, str], tmp_path: Path) -> None:
    _, url = standin
    with glm_front(tmp_path, url) as front:
        async with websockets.connect(_url(front, "glm-wrong-key"), open_timeout=5) as ws:
            error = json.loads(await asyncio.wait_for(ws.recv(), DEFAULT_TIMEOUT))
            validate_server_event(error)
            assert error["error"]["code"] == "upstream_auth_failed"
            with contextlib.suppress(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), DEFAULT_TIMEOUT)
            assert ws.close_code == 1011


def _b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()
