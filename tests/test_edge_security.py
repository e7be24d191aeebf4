"""Browser origins by default, credentials in logs, and what one minting request can cost.

Live mock servers on loopback, plus unit tests of the pieces (transport/origins.py,
log_redaction.py, auth.ClientSecretStore)."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from uvicorn.logging import AccessFormatter

import log_redaction
from auth import ClientSecretStore, ClientSecretStoreFull
from config import Settings
from tests.conftest import ROOT, ServerProcess
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


# --- credentials in logs ------------------------------------------------------------------------


def test_redact_patterns() -> None:
    line = (
        '127.0.0.1:5 - "GET /v1/realtime?model=m&api_key=sk-abc123secret&Token=t0k3n'
        '&client_secret=ek_AbC-123_x HTTP/1.1" 403'
    )
    redacted = log_redaction.redact(line)
    assert "sk-abc123secret" not in redacted and "t0k3n" not in redacted
    assert "ek_AbC-123_x" not in redacted and "model=m" in redacted
    assert "Bearer [redacted]" in log_redaction.redact("Authorization: Bearer abcdef")
    assert "ek_" + "x" * 30 not in log_redaction.redact("/path/ek_" + "x" * 30)
    assert "zzz" not in log_redaction.redact("openai-insecure-api-key.zzz, realtime")


def test_uvicorn_access_records_are_redacted_argument_by_argument() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/x?key=hunter22&ok=1", "1.1", 200),
        None,
    )
    assert log_redaction.RedactingFilter().filter(record)
    text = AccessFormatter(fmt="%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert "hunter22" not in text and "ok=1" in text and "200" in text


async def test_keys_and_client_secrets_never_reach_the_log_file() -> None:
    process = ServerProcess({"REALTIME_API_KEYS": KEY})
    try:
        bearer = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        _, minted, _ = request(process, "/v1/realtime/client_secrets", b"{}", bearer)
        _, spare, _ = request(process, "/v1/realtime/client_secrets", b"{}", bearer)
        secret, other = minted["value"], spare["value"]
        # A key and a secret in the query string (not how keys are sent, but clients do it).
        event = await first_event(ws_url(process, f"model=m&api_key={KEY}&client_secret={secret}"))
        assert event["error"]["code"] == "invalid_api_key"
        # A secret as the key, and in a 404's path.
        event = await first_event(
            ws_url(process, f"token={other}"),
            subprotocols=["realtime", f"openai-insecure-api-key.{other}"],
        )
        assert event["type"] == "session.created"
        assert request(process, f"/nothing/{secret}?key={KEY}")[0] == 404
    finally:
        process.stop()
    log = process.log()
    assert "[redacted]" in log  # the lines were written, without their secrets
    for leaked in (KEY, secret, other, secret[3:], other[3:]):
        assert leaked not in log


CREDENTIAL_NAMES = re.compile(  # "tokens" (a count) is fine, "token" is not
    r"(?i)(^|_)(keys?|secrets?|token|passwords?|authorization|bearer|credentials?)($|_)"
)


def _logged_names(call: ast.Call) -> Iterator[str]:
    for argument in [*call.args, *(keyword.value for keyword in call.keywords)]:
        for node in ast.walk(argument):
            if isinstance(node, ast.Name):
                yield node.id
            elif isinstance(node, ast.Attribute):
                yield node.attr


def test_our_log_calls_never_format_a_credential() -> None:
    """No ``logger.<level>(...)`` in the server's code formats a variable named like a secret."""
    levels = {"trace", "debug", "info", "success", "warning", "error", "critical", "exception"}
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {"tests", ".venv", "bench"} or "site-packages" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in levels
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"logger", "log", "logging"}
            ):
                for name in _logged_names(node):
                    if CREDENTIAL_NAMES.search(name):
                        offenders.append(f"{relative}:{node.lineno} logs {name}")
    assert not offenders, offenders


# --- minting: bodies and counts -----------------------------------------------------------------


def test_client_secret_store_prunes_by_expiry_and_refuses_when_full() -> None:
    now = [1000.0]
    store = ClientSecretStore(clock=lambda: now[0], max_live=3)
    first = store.mint(None, ttl_s=10)
    store.mint(None, ttl_s=100)
    store.mint(None, ttl_s=50)
    with pytest.raises(ClientSecretStoreFull) as full:
        store.mint(None, ttl_s=10)
    assert full.value.retry_after_s == 10
    assert store.redeem(first.value) is not None  # used: room for one
    store.mint(None, ttl_s=10)
    now[0] += 11  # the 10 s one expires
    assert len(store) == 2
    busy = ClientSecretStore(clock=lambda: now[0], max_live=10)
    for _ in range(1000):  # heap entries of used secrets never pile up
        assert busy.redeem(busy.mint(None, ttl_s=7200).value) is not None
    assert len(busy._expiries) <= 64


@pytest.fixture(scope="module")
def minting() -> Iterator[ServerProcess]:
    process = ServerProcess(
        {
            "REALTIME_API_KEYS": KEY,
            "REALTIME_MAX_REQUEST_BODY_BYTES": "4096",
            "REALTIME_MAX_CLIENT_SECRETS": "3",
        }
    )
    yield process
    process.stop()


def mint(server: ServerProcess, body: bytes, path: str = "/v1/realtime/client_secrets") -> Any:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    return request(server, path, body, headers)


@pytest.mark.parametrize("path", ["/v1/realtime/client_secrets", "/v1/realtime/sessions"])
def test_oversized_bodies_get_413(minting: ServerProcess, path: str) -> None:
    huge = json.dumps({"session": {"type": "realtime", "instructions": "x" * 1_000_000}})
    status, reply, _ = mint(minting, huge.encode(), path)
    assert status == 413
    assert reply["error"]["code"] == "request_too_large"
    assert reply["error"]["type"] == "invalid_request_error"
    assert minting.health()["status"] == "healthy"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"session": ' + b"[" * 2000 + b"]" * 2000 + b"}", "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),  # over the size limit first
        (b'{"expires_after": NaN}', "invalid_json"),
        (b'{"a": 1e999}', "invalid_json"),
        (b"not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "invalid_type"),
        (b'"text"', "invalid_type"),
    ],
    ids=["deep", "deeper", "nan", "overflow", "text", "not-utf8", "array", "string"],
)
@pytest.mark.parametrize("path", ["/v1/realtime/client_secrets", "/v1/realtime/sessions"])
def test_bad_json_of_any_shape_gets_400_not_500(
    minting: ServerProcess, path: str, body: bytes, code: str
) -> None:
    status, reply, _ = mint(minting, body, path)
    if len(body) > 4096:
        assert status == 413
        return
    assert status == 400, reply
    assert reply["error"]["code"] == code
    assert "Traceback" not in minting.log()


async def test_live_secrets_are_capped_with_429_until_one_is_used(minting: ServerProcess) -> None:
    minted = []
    for _ in range(3):
        status, reply, _ = mint(minting, b"{}")
        assert status == 200
        minted.append(reply["value"])
    status, reply, headers = mint(minting, b"{}")
    assert status == 429 and reply["error"]["code"] == "rate_limit_exceeded"
    retry_after = {name.lower(): value for name, value in headers.items()}["retry-after"]
    assert 1 <= int(retry_after) <= 60  # when the oldest unused one expires
    protocols = ["realtime", f"openai-insecure-api-key.{minted[0]}"]
    assert (await first_event(ws_url(minting), subprotocols=protocols))["type"] == (
        "session.created"
    )
    assert mint(minting, b"{}")[0] == 200  # the used one made room
