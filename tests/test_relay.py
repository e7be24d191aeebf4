"""Relays in a real server: a local pipeline and relayed models side by side, by model name.

The upstream is a second instance of this server in the mock profile, with keys of its own; the
front server holds the upstream key (from an env var named in its model list) and its own keys
for clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conftest import ServerProcess, free_port
from tests.realtime_client import DEFAULT_TIMEOUT, InvariantChecker, validate_server_event
from tests.relay_servers import front_server, relay_entry
from tests.webrtc_client import WebRTCTestClient

pytestmark = pytest.mark.timeout(90)

FRONT_KEY = "sk-front-client-key"
UPSTREAM_KEY = "sk-upstream-secret-key"
TIMEOUT = DEFAULT_TIMEOUT


@pytest.fixture(scope="module")
def upstream() -> Iterator[ServerProcess]:
    """The hosted model stand-in: a mock-profile server with its own key."""
    process = ServerProcess({"REALTIME_API_KEYS": UPSTREAM_KEY})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def front(
    upstream: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    keyed = {"api_key_env": "RELAY_UPSTREAM_KEY"}
    models = [
        {
            "name": "local-mock",
            "default": True,
            "pipeline": {"profile": "mock", "instructions": "Local."},
        },
        relay_entry("relayed", upstream, **keyed),
        relay_entry("relayed-beta", upstream, dialect="beta", **keyed),
        relay_entry("relayed-wrong-key", upstream, api_key_env="RELAY_WRONG_KEY"),
        relay_entry("relayed-nowhere", f"ws://127.0.0.1:{free_port()}/v1/realtime"),
        {**relay_entry("relayed-one", upstream, **keyed), "max_sessions": 1},
    ]
    env = {
        "REALTIME_API_KEYS": FRONT_KEY,
        "RELAY_UPSTREAM_KEY": UPSTREAM_KEY,
        "RELAY_WRONG_KEY": "sk-not-the-upstream-key",
    }
    with front_server(tmp_path_factory.mktemp("front"), models, env) as process:
        yield process


class Client:
    """A raw WebSocket client that validates every event and keeps them all."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.checker = InvariantChecker()

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def next(self) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        validate_server_event(event)
        self.checker.check(event)
        self.events.append(event)
        return dict(event)

    async def until(self, kind: str) -> list[dict[str, Any]]:
        seen = []
        while True:
            event = await self.next()
            seen.append(event)
            if event["type"] == kind:
                return seen

    async def closed(self) -> int | None:
        """Wait for the server to close; its close code."""
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await self.next()
        return self.ws.close_code


@contextlib.asynccontextmanager
async def session(
    server: ServerProcess, model: str | None, key: str = FRONT_KEY
) -> AsyncIterator[Client]:
    url = server.base_url.replace("http", "ws", 1) + "/v1/realtime"
    if model is not None:
        url += f"?model={model}"
    headers = {"Authorization": f"Bearer {key}"}
    async with websockets.connect(url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
        yield Client(ws)


def user_text(text: str) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item}


async def text_turn(client: Client, text: str) -> dict[str, Any]:
    await client.send(user_text(text))
    await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    done = (await client.until("response.done"))[-1]
    return dict(done["response"])


def get_json(server: ServerProcess, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(server.base_url + path, timeout=5) as reply:
        return dict(json.loads(reply.read()))


async def no_sessions(server: ServerProcess, deadline_s: float = 10.0) -> None:
    """Wait until the server counts no open session (nothing announces it: ask /health)."""
    async with asyncio.timeout(deadline_s):
        while (await asyncio.to_thread(get_json, server, "/health"))["active_sessions"]:
            await asyncio.sleep(0.05)


def reply_text(response: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for item in response["output"] for part in item["content"])


# --- side by side -------------------------------------------------------------------------------


async def test_a_local_pipeline_and_a_relay_side_by_side(
    front: ServerProcess, upstream: ServerProcess
) -> None:
    async with session(front, "local-mock") as local, session(front, "relayed") as relayed:
        local_created, relayed_created = await local.next(), await relayed.next()
        assert local_created["session"]["model"] == "local-mock"
        assert local_created["session"]["instructions"] == "Local."
        assert relayed_created["session"]["model"] == "relayed"
        assert (await asyncio.to_thread(get_json, upstream, "/health"))["active_sessions"] >= 1
        local_reply, relayed_reply = await asyncio.gather(
            text_turn(local, "Hello local"), text_turn(relayed, "Hello relay")
        )
        assert reply_text(local_reply) == "You said: Hello local"
        assert reply_text(relayed_reply) == "You said: Hello relay"
        assert relayed_reply["usage"]["total_tokens"] > 0
        # The upstream key never reaches the client, nor the log.
        assert UPSTREAM_KEY not in json.dumps(relayed.events)
        assert UPSTREAM_KEY not in front.log()
    health = await asyncio.to_thread(get_json, front, "/health")
    relay_health = health["models"]["relayed"]
    assert relay_health["kind"] == "relay" and relay_health["ready"] is True
    assert relay_health["usage"]["total_tokens"] >= relayed_reply["usage"]["total_tokens"]
    models = await asyncio.to_thread(get_json, front, "/v1/models")
    assert {"local-mock", "relayed", "relayed-beta"} <= {m["id"] for m in models["data"]}


async def test_an_unknown_model_name_is_served_by_the_default_entry(front: ServerProcess) -> None:
    async with session(front, "no-such-model") as client:
        created = await client.next()
        assert created["session"]["model"] == "no-such-model"
        assert created["session"]["instructions"] == "Local."


async def test_a_ga_client_through_a_beta_upstream(front: ServerProcess) -> None:
    async with session(front, "relayed-beta") as client:
        created = await client.next()
        assert created["session"]["model"] == "relayed-beta"
        await client.send(
            {"type": "session.update", "session": {"type": "realtime", "instructions": "Beta."}}
        )
        updated = await client.until("session.updated")
        assert updated[-1]["session"]["instructions"] == "Beta."
        response = await text_turn(client, "Through beta")
        assert reply_text(response) == "You said: Through beta"
        await client.send({"type": "response.create"})  # audio this time
        events = await client.until("response.done")
        kinds = [event["type"] for event in events]
        assert (
            "response.output_audio.delta" in kinds
            and "response.output_audio_transcript.done" in kinds
        )


async def test_bad_input_is_refused_at_the_front_and_never_reaches_the_upstream(
    front: ServerProcess,
) -> None:
    async with session(front, "relayed") as client:
        await client.next()
        await client.send(
            {
                "type": "response.create",
                "event_id": "bad",
                "response": {"output_modalities": ["smell"]},
            }
        )
        error = await client.next()
        assert error["type"] == "error" and error["error"]["event_id"] == "bad"
        assert error["error"]["code"] == "invalid_value"
        response = await text_turn(client, "Still here")  # and the session goes on
        assert reply_text(response) == "You said: Still here"


# --- client secrets and limits ------------------------------------------------------------------


async def test_a_client_secret_minted_for_a_relay_entry(front: ServerProcess) -> None:
    body = {"session": {"type": "realtime", "model": "relayed", "instructions": "From the secret."}}
    request = urllib.request.Request(
        front.base_url + "/v1/realtime/client_secrets",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {FRONT_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        minted = json.loads(reply.read())
    async with session(front, None, key=minted["value"]) as client:
        created = await client.next()
        assert created["session"]["model"] == "relayed"
        assert created["session"]["instructions"] == "From the secret."
        assert reply_text(await text_turn(client, "Hi")) == "You said: Hi"


async def test_a_relay_entry_has_its_own_session_limit(front: ServerProcess) -> None:
    async with session(front, "relayed-one") as first:
        await first.next()
        async with session(front, "relayed-one") as second:
            error = await second.next()
            assert error["error"]["code"] == "session_limit_reached"
            assert await second.closed() == 1013


# --- upstream failures --------------------------------------------------------------------------


async def test_an_upstream_that_refuses_the_key(front: ServerProcess) -> None:
    async with session(front, "relayed-wrong-key") as client:
        error = await client.next()
        assert error["type"] == "error"
        assert error["error"]["type"] == "server_error"
        assert error["error"]["code"] == "upstream_auth_failed"
        assert await client.closed() == 1011
    health = await asyncio.to_thread(get_json, front, "/health")
    assert health["models"]["relayed-wrong-key"]["ready"] is False
    assert "relayed-wrong-key" in health["degraded"]


async def test_an_upstream_that_cannot_be_reached(front: ServerProcess) -> None:
    async with session(front, "relayed-nowhere") as client:
        error = await client.next()
        assert error["error"]["code"] == "upstream_unavailable"
        assert await client.closed() == 1013


async def test_the_upstream_killed_mid_response(tmp_path: Path) -> None:
    """The response ends ``failed``, the client hears why, the session closes 1011; the front
    server itself goes on serving."""
    upstream = ServerProcess({"REALTIME_MOCK_TOKEN_DELAY_MS": "100"})
    try:
        models = [
            relay_entry("relayed", upstream),
            {"name": "local-mock", "pipeline": {"profile": "mock"}},
        ]
        with front_server(tmp_path, models) as front:
            async with session(front, "relayed") as client:
                await client.next()
                await client.send(user_text("a long enough reply to be cut in the middle"))
                await client.send({"type": "response.create"})
                await client.until("response.output_audio_transcript.delta")
                upstream.process.send_signal(signal.SIGKILL)
                events = await client.until("error")
                done = [e for e in events if e["type"] == "response.done"]
                assert len(done) == 1 and done[0]["response"]["status"] == "failed"
                details = done[0]["response"]["status_details"]
                assert details["error"]["code"] == "upstream_disconnected"
                assert events[-1]["error"]["code"] == "upstream_disconnected"
                assert await client.closed() == 1011
            async with session(front, "local-mock") as other:
                await other.next()
                assert reply_text(await text_turn(other, "After")) == "You said: After"
            await no_sessions(front)
    finally:
        upstream.stop()


# --- WebRTC -------------------------------------------------------------------------------------


async def test_a_webrtc_call_to_a_relay_entry(front: ServerProcess) -> None:
    """The call ends here; the upstream is reached over WebSocket; its audio plays on the track."""
    client = WebRTCTestClient()
    try:
        reply = await client.connect(
            front.base_url, key=FRONT_KEY, session={"type": "realtime", "model": "relayed"}
        )
        assert reply.status_code == 201, reply.text
        created = await client.next_event()
        assert created["type"] == "session.created" and created["session"]["model"] == "relayed"
        await client.send(user_text("Hi"))
        await client.send({"type": "response.create"})
        events = await client.collect_until("output_audio_buffer.stopped", timeout=30)
        kinds = [event["type"] for event in events]
        assert "output_audio_buffer.started" in kinds and "response.done" in kinds
        assert "response.output_audio.delta" not in kinds
        await client.received.wait_audible_ms(100)
    finally:
        await client.close()
