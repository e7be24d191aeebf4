"""Browser origins by default (transport/origins.py): live mock servers on loopback, and the
policy's unit tests."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from config import Settings
from tests.conftest import ServerProcess
from transport.origins import is_loopback_origin, origin_allowed

KEY = "sk-edge-real-key-0123456789"
TIMEOUT = 10.0


def ws_url(server: ServerProcess, query: str = "model=gpt-realtime") -> str:
    return server.base_url.replace("http://", "ws://") + f"/v1/realtime?{query}"


async def first_event(url: str, **kwargs: Any) -> dict[str, Any]:
    async with websockets.connect(url, open_timeout=TIMEOUT, **kwargs) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


def request(
    server: ServerProcess,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """``(status, parsed JSON or text, headers)`` of one HTTP request."""
    method = "GET" if body is None else "POST"
    sent = urllib.request.Request(server.base_url + path, data=body, method=method)
    for name, value in (headers or {}).items():
        sent.add_header(name, value)
    try:
        with urllib.request.urlopen(sent, timeout=TIMEOUT) as reply:
            status, raw, got = reply.status, reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), dict(error.headers)
    try:
        return status, json.loads(raw), got
    except ValueError:
        return status, raw.decode(errors="replace"), got


# --- origins ------------------------------------------------------------------------------------


def test_loopback_origins() -> None:
    for origin in (
        "http://localhost",
        "http://localhost:3000",
        "https://127.0.0.1:8443",
        "http://127.1.2.3",
        "http://[::1]:9",
        "HTTP://LOCALHOST:1",
    ):
        assert is_loopback_origin(origin), origin
    for origin in (
        "https://evil.example",
        "null",
        "file://",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example",
        "ws://localhost",
        "http://localhost:notaport",
        "http://192.168.1.5:8000",
    ):
        assert not is_loopback_origin(origin), origin


def test_origin_policy_table() -> None:
    default = Settings(allowed_origins="")
    assert origin_allowed(None, default, keys_set=False)
    assert origin_allowed("http://localhost:8000", default, keys_set=False)
    assert not origin_allowed("https://evil.example", default, keys_set=False)
    assert origin_allowed("https://evil.example", default, keys_set=True)
    listed = Settings(allowed_origins="https://app.example.com/")
    assert origin_allowed("https://APP.example.com", listed, keys_set=False)
    assert not origin_allowed("http://localhost:8000", listed, keys_set=False)
    assert not origin_allowed("https://evil.example", listed, keys_set=True)
    anyone = Settings(allowed_origins="*")
    assert origin_allowed("https://evil.example", anyone, keys_set=False)


@pytest.fixture(scope="module")
def open_server() -> Iterator[ServerProcess]:
    """No API keys, no allow-list: the out-of-the-box local server."""
    process = ServerProcess()
    yield process
    process.stop()


async def test_without_keys_only_loopback_pages_and_non_browsers_get_in(
    open_server: ServerProcess,
) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            ws_url(open_server), origin="https://evil.example", open_timeout=TIMEOUT
        )
    assert refused.value.response.status_code == 403
    for origin in (f"http://127.0.0.1:{open_server.port}", "http://localhost:5173"):
        event = await first_event(ws_url(open_server), origin=origin)
        assert event["type"] == "session.created"
    assert (await first_event(ws_url(open_server)))["type"] == "session.created"  # no Origin
    assert "not a loopback origin" in open_server.log()


def test_without_keys_minting_refuses_foreign_pages(open_server: ServerProcess) -> None:
    body = b'{"session": {"type": "realtime"}}'
    json_type = {"Content-Type": "application/json"}
    status, reply, _ = request(
        open_server,
        "/v1/realtime/client_secrets",
        body,
        {**json_type, "Origin": "https://evil.example"},
    )
    assert status == 403 and reply["error"]["code"] == "forbidden_origin"
    status, reply, _ = request(
        open_server,
        "/v1/realtime/sessions",
        b"{}",
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert status == 403
    status, reply, _ = request(
        open_server,
        "/v1/realtime/client_secrets",
        body,
        {**json_type, "Origin": "http://localhost:3000"},
    )
    assert status == 200 and reply["value"].startswith("ek_")
    # DNS rebinding: the page's host resolves to 127.0.0.1, so Host matches Origin.
    status, reply, _ = request(
        open_server,
        "/console/session",
        b"",
        {"Origin": "http://rebound.example:8000", "Host": "rebound.example:8000"},
    )
    assert status == 403 and reply["error"]["code"] == "forbidden_origin"


async def test_the_allow_list_overrides_the_default() -> None:
    process = ServerProcess({"REALTIME_ALLOWED_ORIGINS": "https://evil.example"})
    try:
        event = await first_event(ws_url(process), origin="https://evil.example")
        assert event["type"] == "session.created"
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(
                ws_url(process), origin=f"http://127.0.0.1:{process.port}", open_timeout=TIMEOUT
            )
    finally:
        process.stop()
