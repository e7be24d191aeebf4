"""Authentication, client secrets and limits, against live mock servers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from openai import AsyncOpenAI

from auth import Authenticator, ClientSecretStore, presented_key
from tests.conftest import ServerProcess, open_client
from tests.realtime_client import RealtimeTestClient, validate_server_event

KEY = "sk-server-key-1"
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def secured() -> Iterator[ServerProcess]:
    """A server with authentication on, short-lived secrets and small limits."""
    process = ServerProcess(
        {
            "REALTIME_API_KEYS": f"{KEY},sk-second-key",
            "REALTIME_CLIENT_SECRET_TTL_S": "1",
            "REALTIME_ALLOWED_ORIGINS": "https://app.example.com",
            "REALTIME_MAX_INPUT_BUFFER_MS": "500",
            "REALTIME_MAX_CONVERSATION_ITEMS": "3",
        }
    )
    yield process
    process.stop()


def ws_url(server: ServerProcess) -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"


async def first_event_and_close(url: str, **kwargs: Any) -> tuple[dict[str, Any], int | None]:
    """Connect, read the first event, then wait for the server's close; return both."""
    async with websockets.connect(url, open_timeout=TIMEOUT, **kwargs) as ws:
        event = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        validate_server_event(event)
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        return event, ws.close_code


def post(server: ServerProcess, path: str, body: dict[str, Any], key: str | None = KEY) -> Any:
    request = urllib.request.Request(
        server.base_url + path, data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- unit ---------------------------------------------------------------------------------------


def test_presented_key_prefers_bearer_then_subprotocol() -> None:
    assert presented_key({"authorization": "Bearer abc"}, []) == "abc"
    assert presented_key({}, ["realtime", "openai-insecure-api-key.xyz"]) == "xyz"
    assert presented_key({}, ["realtime"]) is None


def test_client_secrets_are_single_use_and_expire() -> None:
    now = [1000.0]
    store = ClientSecretStore(clock=lambda: now[0])
    auth = Authenticator(["k"], store)
    secret = store.mint({"type": "realtime"}, ttl_s=60)
    assert secret.value.startswith("ek_")
    assert auth.authenticate(secret.value) == (True, {"type": "realtime"})
    assert auth.authenticate(secret.value) == (False, None)  # used up
    late = store.mint(None, ttl_s=60)
    now[0] += 61
    assert auth.authenticate(late.value) == (False, None)  # expired
    assert auth.authenticate("k") == (True, None)
    assert auth.authenticate("nope") == (False, None)
    assert auth.authenticate(None) == (False, None)


# --- authentication --------------------------------------------------------------------------


async def test_right_key_opens_a_session(secured: ServerProcess) -> None:
    client = AsyncOpenAI(base_url=f"{secured.base_url}/v1", api_key="sk-second-key")
    async with client.realtime.connect(model="gpt-realtime") as connection:
        event = json.loads(await asyncio.wait_for(connection.recv_bytes(), TIMEOUT))
        assert event["type"] == "session.created"


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer wrong"}, {}])
async def test_wrong_or_missing_key_gets_an_error_then_close_3000(
    secured: ServerProcess, headers: dict[str, str]
) -> None:
    event, code = await first_event_and_close(ws_url(secured), additional_headers=headers)
    assert event["type"] == "error" and event["error"]["code"] == "invalid_api_key"
    assert code == 3000
    assert KEY not in secured.log() and "wrong" not in secured.log()


async def test_browser_subprotocol_key_selects_realtime(secured: ServerProcess) -> None:
    protocols = ["realtime", f"openai-insecure-api-key.{KEY}"]
    async with websockets.connect(ws_url(secured), subprotocols=protocols) as ws:
        assert ws.subprotocol == "realtime"
        event = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert event["type"] == "session.created"


async def test_origin_allow_list(secured: ServerProcess) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            ws_url(secured),
            additional_headers={"Authorization": f"Bearer {KEY}"},
            origin="https://evil.example.com",
        )
    assert refused.value.response.status_code == 403
    async with websockets.connect(
        ws_url(secured),
        additional_headers={"Authorization": f"Bearer {KEY}"},
        origin="https://app.example.com",
    ) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "session.created"


# --- client secrets --------------------------------------------------------------------------


async def test_client_secret_opens_one_session_with_its_config(secured: ServerProcess) -> None:
    status, minted = post(
        secured,
        "/v1/realtime/client_secrets",
        {"session": {"type": "realtime", "instructions": "From the secret."}},
    )
    assert status == 200 and minted["value"].startswith("ek_")
    assert minted["expires_at"] <= time.time() + 2
    assert minted["session"]["instructions"] == "From the secret."
    protocols = ["realtime", f"openai-insecure-api-key.{minted['value']}"]
    async with websockets.connect(ws_url(secured), subprotocols=protocols) as ws:
        created = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert created["type"] == "session.created"
        assert created["session"]["instructions"] == "From the secret."
    # Reused: refused.
    event, code = await first_event_and_close(ws_url(secured), subprotocols=protocols)
    assert event["error"]["code"] == "invalid_api_key" and code == 3000


def test_a_null_in_a_minted_session_means_not_set(secured: ServerProcess) -> None:
    session = {"type": "realtime", "instructions": None, "output_modalities": None, "tools": None}
    status, minted = post(secured, "/v1/realtime/client_secrets", {"session": session})
    assert status == 200
    assert minted["session"]["output_modalities"] == ["audio"] and minted["session"]["tools"] == []
    assert isinstance(minted["session"]["instructions"], str)


async def test_expired_client_secret_is_refused(secured: ServerProcess) -> None:
    _, minted = post(secured, "/v1/realtime/client_secrets", {})
    await asyncio.sleep(1.2)  # the configured lifetime is 1 s: nothing to await but the clock
    headers = {"Authorization": f"Bearer {minted['value']}"}
    event, code = await first_event_and_close(ws_url(secured), additional_headers=headers)
    assert event["error"]["code"] == "invalid_api_key" and code == 3000


def test_minting_needs_a_real_key_and_a_valid_session(secured: ServerProcess) -> None:
    assert post(secured, "/v1/realtime/client_secrets", {}, key=None)[0] == 401
    assert post(secured, "/v1/realtime/client_secrets", {}, key="wrong")[0] == 401
    _, minted = post(secured, "/v1/realtime/client_secrets", {})
    assert post(secured, "/v1/realtime/client_secrets", {}, key=minted["value"])[0] == 401
    status, error = post(
        secured, "/v1/realtime/client_secrets", {"session": {"type": "realtime", "bogus": 1}}
    )
    assert status == 400 and error["error"]["code"] == "unknown_parameter"
    status, error = post(
        secured,
        "/v1/realtime/client_secrets",
        {"expires_after": {"anchor": "created_at", "seconds": 1}},
    )
    assert status == 400 and error["error"]["param"] == "expires_after.seconds"


def test_beta_sessions_endpoint_mints_a_secret(secured: ServerProcess) -> None:
    status, session = post(
        secured, "/v1/realtime/sessions", {"modalities": ["text"], "voice": "echo"}
    )
    assert status == 200
    assert session["client_secret"]["value"].startswith("ek_")
    assert session["modalities"] == ["text"] and session["voice"] == "echo"
    assert post(secured, "/v1/realtime/sessions", {}, key=None)[0] == 401


# --- limits ----------------------------------------------------------------------------------


async def authed_client(server: ServerProcess) -> Any:
    client = AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
    return client.realtime.connect(model="gpt-realtime")


async def test_input_buffer_limit(secured: ServerProcess) -> None:
    async with await authed_client(secured) as connection:
        client = RealtimeTestClient(connection)
        await client.wait_for("session.created")
        await client.update_session(audio={"input": {"turn_detection": None}})
        chunk = base64.b64encode(b"\x00" * 48 * 400).decode()  # 400 ms
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        await client.send({"type": "input_audio_buffer.append", "audio": chunk, "event_id": "big"})
        error = await client.wait_for("error")
        assert error["error"]["code"] == "input_audio_buffer_full"
        assert error["error"]["event_id"] == "big"
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.wait_for("input_audio_buffer.committed")
        assert committed["item_id"]


async def test_conversation_item_limit_deletes_the_oldest(secured: ServerProcess) -> None:
    async with await authed_client(secured) as connection:
        client = RealtimeTestClient(connection)
        await client.wait_for("session.created")
        ids = []
        for index in range(4):
            await client.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": f"message {index}"}],
                    },
                }
            )
            ids.append((await client.wait_for("conversation.item.done"))["item"]["id"])
        deleted = await client.wait_for("conversation.item.deleted")
        assert deleted["item_id"] == ids[0]


async def test_max_sessions_refuses_the_newest() -> None:
    process = ServerProcess({"REALTIME_MAX_SESSIONS": "2"})
    try:
        async with open_client(process.base_url), open_client(process.base_url):
            event, code = await first_event_and_close(
                process.base_url.replace("http://", "ws://") + "/v1/realtime"
            )
            assert event["error"]["code"] == "session_limit_reached"
            assert code == 1013
        async with open_client(process.base_url) as client:  # room again
            assert client.session["type"] == "realtime"
    finally:
        process.stop()


async def test_session_duration_limit_closes_the_session() -> None:
    process = ServerProcess({"REALTIME_MAX_SESSION_DURATION_S": "1"})
    try:
        url = process.base_url.replace("http://", "ws://") + "/v1/realtime"
        async with websockets.connect(url) as ws:
            created = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert created["type"] == "session.created"
            expired = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert expired["error"]["code"] == "session_expired"
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert ws.close_code == 1000
    finally:
        process.stop()


async def test_slow_consumer_is_disconnected_and_others_are_unaffected() -> None:
    process = ServerProcess({"REALTIME_MAX_OUTBOX_BYTES": "2000000"})
    try:
        url = process.base_url.replace("http://", "ws://") + "/v1/realtime"
        text = "x" * 2000  # each reply: ~40 s of mock audio, ~2.6 MB of events
        async with websockets.connect(url, max_queue=1) as ws:
            for _ in range(20):
                await ws.send(
                    json.dumps(
                        {
                            "type": "response.create",
                            "response": {
                                "conversation": "none",
                                "input": [
                                    {
                                        "type": "message",
                                        "role": "user",
                                        "content": [{"type": "input_text", "text": text}],
                                    }
                                ],
                            },
                        }
                    )
                )
            # We do not read. The server must give up on us rather than buffer without bound.
            deadline = time.monotonic() + 30
            while process.health()["active_sessions"] and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert process.health()["active_sessions"] == 0
        assert "not reading" in process.log()
        async with open_client(process.base_url) as client:  # the server is fine
            assert client.session["type"] == "realtime"
    finally:
        process.stop()


async def test_oversized_message_closes_with_1009(server: ServerProcess) -> None:
    url = server.base_url.replace("http://", "ws://") + "/v1/realtime"
    async with websockets.connect(url, max_size=None) as ws:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
        await ws.send("x" * (33 * 1024 * 1024))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert ws.close_code == 1009
    assert server.health()["status"] == "healthy"


async def test_transcripts_and_replies_are_not_logged(server: ServerProcess) -> None:
    async with open_client(server.base_url) as client:
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "zebra quartz privacy phrase"}],
                },
            }
        )
        await client.send({"type": "response.create"})
        await client.wait_for("response.done")
    assert "zebra quartz" not in server.log()
