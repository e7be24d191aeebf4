"""Shared fixtures: a real server process in the mock profile, and validating SDK clients."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realtime_client import RealtimeTestClient, sdk_client

ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = ROOT / "tests" / "fixtures" / "audio"
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port that is free right now on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python main.py`` in a subprocess, on a free port, torn down at the end.

    With ``cafile`` (the certificate of a server started with ``REALTIME_SSL_CERTFILE`` and
    ``REALTIME_SSL_KEYFILE``) the base URL is ``https://`` and the health checks trust that file.
    """

    def __init__(
        self,
        env: dict[str, str] | None = None,
        profile: str = "mock",
        preexec_fn: Callable[[], None] | None = None,
        cafile: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.ssl_context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
        self.base_url = f"{'https' if cafile else 'http'}://127.0.0.1:{self.port}"
        self.log_path = ROOT / ".pytest_logs" / f"server-{self.port}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        full_env = {**os.environ, "REALTIME_LOG_LEVEL": "info", **(env or {})}
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "main.py", "--port", str(self.port), "--profile", profile],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,  # e.g. a lower open-file limit
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                self.health()
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def health(self) -> dict[str, Any]:
        url = f"{self.base_url}/health"
        with urllib.request.urlopen(url, timeout=2, context=self.ssl_context) as reply:
            return json.loads(reply.read())

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    """A mock-profile server shared by the tests of one worker process."""
    process = ServerProcess()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def slow_server() -> Iterator[ServerProcess]:
    """A mock-profile server whose LLM waits 50 ms per word (for cancel and barge-in tests)."""
    process = ServerProcess({"REALTIME_MOCK_TOKEN_DELAY_MS": "50"})
    yield process
    process.stop()


@contextlib.asynccontextmanager
async def open_client(base_url: str, **query: str) -> AsyncIterator[RealtimeTestClient]:
    """An SDK connection wrapped in the validating test client; ``session.created`` consumed."""
    client = sdk_client(base_url)
    extra = {"extra_query": query} if query else {}
    async with client.realtime.connect(model="gpt-realtime", **extra) as connection:
        test_client = RealtimeTestClient(connection)
        created = await test_client.next_event()
        assert created["type"] == "session.created"
        test_client.session = created["session"]
        yield test_client


@pytest.fixture
async def rt(server: ServerProcess) -> AsyncIterator[RealtimeTestClient]:
    """A fresh session on the shared mock server."""
    async with open_client(server.base_url) as client:
        yield client
