"""https:// and wss:// (`main.py --ssl-certfile --ssl-keyfile`, transport/connection_guard/tls.py).

The server is started on a throwaway self-signed certificate that the clients trust (no
verification turned off). Checked: the official Python SDK's realtime session over wss with an
``https://`` base URL; the connection guard under TLS, where a connection is counted, and bounded
by the request deadline, from the moment it is accepted, its handshake included; and that bad
certificate settings stop the server with one line, not a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from openai import AsyncOpenAI

from tests.conftest import ROOT, ServerProcess
from tests.realtime_client import RealtimeTestClient
from tests.tls_cert import CertificateFiles, make_self_signed
from transport.connection_guard import TLSConfigError, tls_server_context

pytestmark = pytest.mark.timeout(90)

KEY = "sk-tls-test-key"
TIMEOUT = 10.0
SLACK_S = 1.5
"""How late after its deadline a connection may be closed on a loaded 2-core machine."""


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_self_signed(tmp_path_factory.mktemp("tls"))


def tls_env(files: CertificateFiles, **settings: str) -> dict[str, str]:
    return {
        "REALTIME_SSL_CERTFILE": str(files.cert),
        "REALTIME_SSL_KEYFILE": str(files.key),
        **{f"REALTIME_{name.upper()}": value for name, value in settings.items()},
    }


@pytest.fixture(scope="module")
def keyed_server(cert: CertificateFiles) -> Iterator[ServerProcess]:
    server = ServerProcess(tls_env(cert, api_keys=KEY), cafile=cert.cert)
    yield server
    server.stop()


def get_json(server: ServerProcess, path: str) -> Any:
    url = f"{server.base_url}{path}"
    with urllib.request.urlopen(url, timeout=TIMEOUT, context=server.ssl_context) as reply:
        return json.loads(reply.read())


async def test_the_python_sdk_talks_to_an_https_base_url_over_wss(
    keyed_server: ServerProcess,
) -> None:
    server = keyed_server
    assert server.base_url.startswith("https://")
    assert get_json(server, "/v1/models")["data"][0]["id"] == "gpt-realtime"
    client = AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
    options: Any = {"ssl": server.ssl_context}
    async with client.realtime.connect(
        model="gpt-realtime", websocket_connection_options=options
    ) as connection:
        rt = RealtimeTestClient(connection)
        assert (await rt.next_event())["type"] == "session.created"
        await rt.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "over TLS"}],
                },
            }
        )
        await rt.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = await rt.wait_for("response.done")
        assert done["response"]["status"] == "completed"
        assert done["response"]["output"][0]["content"][0]["text"] == "You said: over TLS"
    assert "ready in " in server.log()
    assert f"wss://127.0.0.1:{server.port}/v1/realtime" in server.log()


async def test_plain_http_on_the_tls_port_is_closed_not_served(
    keyed_server: ServerProcess,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", keyed_server.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    assert not data.startswith(b"HTTP/1.1 200"), data
    await logged(keyed_server, "TLS handshake failed")


async def logged(server: ServerProcess, text: str) -> None:
    """Wait until the server's log has ``text`` (it may be written just after the close)."""
    deadline = time.monotonic() + TIMEOUT
    while text not in server.log():
        assert time.monotonic() < deadline, f"not logged: {text!r}"
        await asyncio.sleep(0.05)


async def until_closed(reader: asyncio.StreamReader, opened: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when (from ``opened``)."""
    try:
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
    except (ConnectionResetError, ssl.SSLError):
        data = b"<reset>"
    return data, time.monotonic() - opened


async def test_handshakes_are_counted_and_under_the_request_deadline(
    cert: CertificateFiles,
) -> None:
    """A connection that never starts its handshake is counted, can be closed to make room, and
    lives no longer than REALTIME_REQUEST_TIMEOUT_S; one that completes it and then trickles its
    request gets a 408 over TLS at the same deadline."""
    env = tls_env(
        cert,
        max_connections="5",
        max_waiting_per_address="0",
        request_timeout_s="3",
        debug_endpoints="1",
    )
    server = ServerProcess(env, cafile=cert.cert)
    try:
        opened = time.monotonic()
        silent = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(4)]
        slow_reader, slow_writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=server.ssl_context, server_hostname="127.0.0.1"
        )
        slow_writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        # A sixth connection (this request): the oldest waiting one, silent[0], makes room.
        figures = await asyncio.to_thread(get_json, server, "/debug/stats")
        data, lived = await until_closed(silent[0][0], opened)
        assert data == b"" and lived < 2.5, (data, lived)
        assert figures["open_connections"] == 5  # 3 silent, the slow one, this request
        assert figures["waiting_connections"] == 4
        closed = await asyncio.gather(*(until_closed(reader, opened) for reader, _ in silent[1:]))
        for data, lived in closed:
            assert data == b"" and 2.7 <= lived <= 3 + SLACK_S, (data, lived)
        data, lived = await until_closed(slow_reader, opened)
        assert data.startswith(b"HTTP/1.1 408 "), data
        assert 2.7 <= lived <= 3 + SLACK_S, lived
        for _, writer in [*silent, (slow_reader, slow_writer)]:
            writer.close()
        await logged(server, "TLS handshake failed or did not finish within 3 s")
        await logged(server, "did not send a complete request within 3 s")
    finally:
        server.stop()


# --- bad settings ---------------------------------------------------------------------------


def encrypted_copy(files: CertificateFiles, directory: Path) -> Path:
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    path = directory / "encrypted-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    return path


def test_tls_settings_are_checked_with_one_line_reasons(
    cert: CertificateFiles, tmp_path: Path
) -> None:
    assert tls_server_context(None, None) is None
    assert isinstance(tls_server_context(str(cert.cert), str(cert.key)), ssl.SSLContext)
    other = make_self_signed(tmp_path, "other")
    cases = {
        (str(cert.cert), None): "a TLS certificate is set but no key",
        (None, str(cert.key)): "a TLS key is set but no certificate",
        (str(tmp_path / "missing.pem"), str(cert.key)): "cannot read the TLS certificate file",
        (str(cert.cert), str(tmp_path)): "cannot read the TLS key file",
        (str(cert.cert), str(other.key)): "does not belong to the certificate",
        (str(cert.key), str(cert.key)): "both must be PEM files",
        (str(cert.cert), str(encrypted_copy(cert, tmp_path))): "is encrypted",
    }
    for (certfile, keyfile), reason in cases.items():
        with pytest.raises(TLSConfigError) as refused:
            tls_server_context(certfile, keyfile)
        assert reason in str(refused.value)
        assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("flags", "env", "reason"),
    [
        (["--ssl-certfile", "CERT"], {}, "a TLS certificate is set but no key"),
        ([], {"REALTIME_SSL_CERTFILE": "/nonexistent/cert.pem", "REALTIME_SSL_KEYFILE": "KEY"},
         "cannot read the TLS certificate file '/nonexistent/cert.pem'"),
    ],
)  # fmt: skip
def test_main_stops_with_a_one_line_error_and_no_traceback(
    cert: CertificateFiles, flags: list[str], env: dict[str, str], reason: str
) -> None:
    def filled(value: str) -> str:
        return value.replace("CERT", str(cert.cert)).replace("KEY", str(cert.key))

    environment = {k: v for k, v in os.environ.items() if not k.startswith("REALTIME_SSL_")}
    done = subprocess.run(
        [sys.executable, "main.py", "--profile", "mock", *map(filled, flags)],
        cwd=ROOT,
        env={**environment, **{k: filled(v) for k, v in env.items()}},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert reason in done.stderr.strip().splitlines()[-1]
