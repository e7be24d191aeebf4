"""What a client can cost the server at the HTTP layer (transport/connection_guard/): silent and
slowloris connections, the connection limits, oversized headers, and shutdown with a client that
does not read. Unit tests of the guard's bookkeeping first, then live servers on loopback."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import resource
import signal
import socket
import struct
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import websockets

from tests.conftest import ServerProcess, open_client
from transport.connection_guard import ConnectionGuard, EdgeLimits, RateLimitedLog, _end_of_head

KEY = "sk-guard-test-key"
TIMEOUT = 10.0
SLACK_S = 1.5
"""How late after its deadline a connection may be closed on a loaded 2-core machine."""


# --- unit: the guard's bookkeeping --------------------------------------------------------------


class FakeTransport:
    def __init__(self, name: str) -> None:
        self.name = name
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True


class Silent(RateLimitedLog):
    def __call__(self, kind: str, address: str, message: str, level: str = "INFO") -> None:
        pass


def guard(now: list[float], **limits: Any) -> ConnectionGuard:
    return ConnectionGuard(EdgeLimits(**limits), log=Silent(), clock=lambda: now[0])


def test_at_the_limit_the_oldest_waiting_connection_makes_room_and_busy_ones_never_do() -> None:
    now = [0.0]
    g = guard(now, max_connections=3, max_waiting_per_address=0)
    a, b, c, d, e = (FakeTransport(name) for name in "abcde")
    for transport in (a, b, c):
        assert g.admit(transport, "10.0.0.1")  # type: ignore[arg-type]
    g.busy(a)  # a sent its request: it is never evicted
    assert g.admit(d, "10.0.0.2")  # type: ignore[arg-type]
    assert b.aborted and not a.aborted and not c.aborted
    g.busy(c)
    g.busy(d)
    assert not g.admit(e, "10.0.0.3")  # type: ignore[arg-type]  # all busy: refused
    assert g.open_count == 3
    g.release(a)
    assert g.admit(e, "10.0.0.3")  # type: ignore[arg-type]


def test_over_the_per_address_cap_only_that_address_pays_and_only_after_a_grace() -> None:
    now = [0.0]
    g = guard(now, max_connections=100, max_waiting_per_address=2, request_timeout_s=10)
    other = FakeTransport("other")
    assert g.admit(other, "10.0.0.9")  # type: ignore[arg-type]
    burst = [FakeTransport(f"burst{i}") for i in range(5)]
    for transport in burst:  # a burst of fresh connections: nobody is cut off
        assert g.admit(transport, "10.0.0.1")  # type: ignore[arg-type]
    assert not any(transport.aborted for transport in burst)
    now[0] = 1.5  # they are old now: the next one from that address trims it to the cap
    late = FakeTransport("late")
    assert g.admit(late, "10.0.0.1")  # type: ignore[arg-type]
    assert [t.aborted for t in burst] == [True, True, True, True, False]
    assert not other.aborted and not late.aborted
    assert g.waiting_count == 3


def test_a_keep_alive_connection_waits_again_at_the_young_end() -> None:
    now = [0.0]
    g = guard(now, max_connections=2, max_waiting_per_address=0)
    a, b, c = (FakeTransport(name) for name in "abc")
    g.admit(a, "x")  # type: ignore[arg-type]
    g.admit(b, "x")  # type: ignore[arg-type]
    g.busy(a)
    g.waiting(a)  # its response is done: idle keep-alive, younger than b
    g.admit(c, "x")  # type: ignore[arg-type]
    assert b.aborted and not a.aborted


def test_end_of_head() -> None:
    assert _end_of_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody") == 27
    assert _end_of_head(b"GET / HTTP/1.1\nHost: x\n\nbody") == 24
    assert _end_of_head(b"GET / HTTP/1.1\r\nHost: x\r\n") == -1


# --- live servers -------------------------------------------------------------------------------


@contextlib.contextmanager
def running(env: dict[str, str], **kwargs: Any) -> Iterator[ServerProcess]:
    process = ServerProcess(env, **kwargs)
    try:
        yield process
    finally:
        process.stop()


def stats(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.base_url}/debug/stats", timeout=TIMEOUT) as reply:
        return json.loads(reply.read())


def ws_url(server: ServerProcess) -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"


async def keyed_session(server: ServerProcess) -> str:
    """Open a session with the key; return the first event's type."""
    headers = {"Authorization": f"Bearer {KEY}"}
    async with websockets.connect(
        ws_url(server), additional_headers=headers, open_timeout=TIMEOUT
    ) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"]


async def connect(server: ServerProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port), TIMEOUT)


async def until_closed(reader: asyncio.StreamReader, opened: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed (from ``opened``)."""
    try:
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
    except ConnectionResetError:
        data = b"<reset>"
    return data, time.monotonic() - opened


@contextlib.asynccontextmanager
async def sockets(server: ServerProcess, count: int) -> AsyncIterator[list[Any]]:
    pairs = [await connect(server) for _ in range(count)]
    try:
        yield pairs
    finally:
        for _, writer in pairs:
            writer.close()


async def test_silent_and_slowloris_connections_are_closed_in_time_and_logged_once() -> None:
    """An incomplete request lives REALTIME_REQUEST_TIMEOUT_S; a client with a key is unaffected."""
    with running({"REALTIME_REQUEST_TIMEOUT_S": "1", "REALTIME_API_KEYS": KEY}) as server:
        opened = time.monotonic()
        async with sockets(server, 5) as silent, sockets(server, 5) as slow:
            for _, writer in slow:
                writer.write(b"GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\n")

            async def trickle() -> None:  # the attack: one header line every 0.2 s, for ever
                while True:
                    for _, writer in slow:
                        if not writer.is_closing():
                            writer.write(b"X-Slow: 1\r\n")
                    await asyncio.sleep(0.2)

            trickling = asyncio.create_task(trickle())
            try:
                assert await keyed_session(server) == "session.created"
                assert server.health()["status"] == "healthy"
                closed = await asyncio.wait_for(
                    asyncio.gather(*(until_closed(r, opened) for r, _ in silent + slow)), TIMEOUT
                )
            finally:
                trickling.cancel()
        for data, lived in closed[:5]:
            assert data == b"" and 0.9 <= lived <= 1 + SLACK_S, (data, lived)
        for data, lived in closed[5:]:
            assert data.startswith(b"HTTP/1.1 408 "), data
            assert 0.9 <= lived <= 1 + SLACK_S, lived
        log = server.log()
        assert log.count("did not send a complete request within 1 s") == 1  # once per address


async def test_at_the_connection_limit_newcomers_get_503_while_sessions_work() -> None:
    env = {"REALTIME_MAX_CONNECTIONS": "3", "REALTIME_MAX_WAITING_PER_ADDRESS": "0"}
    with running(env) as server:
        async with (
            open_client(server.base_url) as first,
            open_client(server.base_url),
            open_client(server.base_url),
        ):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(ws_url(server), open_timeout=TIMEOUT)
            assert refused.value.response.status_code == 503
            with pytest.raises(urllib.error.HTTPError) as busy:
                server.health()
            assert busy.value.code == 503
            await first.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "still here"}],
                    },
                }
            )
            await first.send({"type": "response.create"})
            done = await first.wait_for("response.done")
            assert done["response"]["status"] == "completed"
        # The sessions are gone (their connections close just after): room again.
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                assert server.health()["status"] == "healthy"
                break
            except urllib.error.HTTPError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        assert "REALTIME_MAX_CONNECTIONS (3) are open and busy" in server.log()


async def test_at_the_connection_limit_the_oldest_waiting_connection_makes_room() -> None:
    env = {
        "REALTIME_MAX_CONNECTIONS": "4",
        "REALTIME_MAX_WAITING_PER_ADDRESS": "0",
        "REALTIME_REQUEST_TIMEOUT_S": "60",
        "REALTIME_DEBUG_ENDPOINTS": "1",
    }
    with running(env) as server:
        async with (
            sockets(server, 4) as silent,
            open_client(server.base_url) as client,  # a fifth: the oldest goes
        ):
            assert client.session["type"] == "realtime"
            data, _ = await until_closed(silent[0][0], time.monotonic())
            assert data == b""
            figures = stats(server)  # a fifth again: the next oldest goes
            data, _ = await until_closed(silent[1][0], time.monotonic())
            assert data == b""
            assert figures["open_connections"] == 4  # 2 silent, the session, this request
            assert figures["waiting_connections"] == 2


async def test_one_address_cannot_hold_more_than_its_share_of_waiting_connections() -> None:
    env = {
        "REALTIME_MAX_WAITING_PER_ADDRESS": "4",
        "REALTIME_REQUEST_TIMEOUT_S": "60",
        "REALTIME_DEBUG_ENDPOINTS": "1",
    }
    with running(env) as server:
        async with sockets(server, 4) as old:
            # Older than the one-second grace before the next ones arrive: nothing to await.
            await asyncio.sleep(1.1)
            async with sockets(server, 3) as newer:
                for reader, _ in old[:3]:
                    data, _ = await until_closed(reader, time.monotonic())
                    assert data == b""
                figures = stats(server)  # one more from the address: old[3] goes too
                data, _ = await until_closed(old[3][0], time.monotonic())
                assert data == b""
                assert figures["waiting_connections"] == 3  # the newer ones, young and kept
                assert all(not writer.is_closing() for _, writer in newer)
        assert server.log().count("over REALTIME_MAX_WAITING_PER_ADDRESS (4)") == 1


def _raise_open_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _open_file_limit_1024() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@pytest.mark.parametrize("per_address", ["32", "0"], ids=["default-cap", "no-cap"])
async def test_1100_silent_connections_under_1024_open_files_lock_nobody_out(
    per_address: str,
) -> None:
    _raise_open_file_limit(1400)
    env = {
        "REALTIME_API_KEYS": KEY,
        "REALTIME_MAX_WAITING_PER_ADDRESS": per_address,
        "REALTIME_REQUEST_TIMEOUT_S": "60",
        "REALTIME_DEBUG_ENDPOINTS": "1",
    }
    with running(env, preexec_fn=_open_file_limit_1024) as server:
        async with sockets(server, 1100):
            assert server.health()["status"] == "healthy"
            assert await keyed_session(server) == "session.created"
            figures = stats(server)
            assert figures["max_connections"] <= 1024 - 128
            assert figures["open_connections"] <= figures["max_connections"]
        assert "REALTIME_MAX_CONNECTIONS 1000 lowered to" in server.log()


async def test_oversized_headers_get_431_that_the_client_reads_then_the_socket_closes() -> None:
    with running({}) as server:
        reader, writer = await connect(server)
        writer.write(
            b"GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\nX-Big: " + b"a" * (9 * 1024) + b"\r\n\r\n"
        )
        data, _ = await until_closed(reader, time.monotonic())
        assert data.startswith(b"HTTP/1.1 431 "), data[:80]  # one 9 KiB line, on the WebSocket
        writer.close()

        reader, writer = await connect(server)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024) + b"\r\n")
        data, _ = await until_closed(reader, time.monotonic())
        assert data.startswith(b"HTTP/1.1 431 "), data[:80]  # 20 KiB in all, on any route
        writer.close()

        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(
                ws_url(server), additional_headers={"X-Big": "a" * 20000}, open_timeout=TIMEOUT
            )
        assert refused.value.response.status_code == 431
        assert server.health()["status"] == "healthy"


# --- shutdown -----------------------------------------------------------------------------------


async def non_reading_session(server: ServerProcess) -> socket.socket:
    """A WebSocket session with a 4 KiB receive buffer that asks for ~8 MB of events and never
    reads them; returns once the server's writes to it are piling up (its transport paused)."""
    port = server.port
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), TIMEOUT)
    key = base64.b64encode(os.urandom(16))
    await loop.sock_sendall(
        sock,
        b"GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += await asyncio.wait_for(loop.sock_recv(sock, 1), TIMEOUT)
    assert b" 101 " in head
    request = {
        "type": "response.create",
        "response": {
            "conversation": "none",
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "x" * 2000}],
                }
            ],
        },
    }
    for _ in range(3):  # each reply: ~40 s of mock audio, ~2.6 MB of events
        payload = json.dumps(request).encode()
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        frame = struct.pack("!BBH", 0x81, 0x80 | 126, len(payload)) + mask + masked
        await loop.sock_sendall(sock, frame)
    deadline = time.monotonic() + TIMEOUT
    while not stats(server)["stalled_connections"]:  # polling: the event is in the server
        assert time.monotonic() < deadline, "the server's writes never piled up"
        await asyncio.sleep(0.05)
    return sock


async def test_shutdown_finishes_in_bounded_time_with_a_client_that_does_not_read() -> None:
    with running({"REALTIME_CLOSE_TIMEOUT_S": "1", "REALTIME_DEBUG_ENDPOINTS": "1"}) as server:
        normal = [await websockets.connect(ws_url(server), open_timeout=TIMEOUT) for _ in range(5)]
        for ws in normal:
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == (
                "session.created"
            )
        stuck = await non_reading_session(server)
        try:
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            for ws in normal:
                await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
                assert ws.close_code == 1012
            await asyncio.wait_for(asyncio.to_thread(server.process.wait), TIMEOUT)
            took = time.monotonic() - started
        finally:
            stuck.close()
        assert took <= 1 + SLACK_S, took  # REALTIME_CLOSE_TIMEOUT_S, then the abort
        assert "did not finish closing within 1 s" in server.log()


async def test_a_client_that_stops_reading_is_dropped_after_the_send_timeout() -> None:
    with running({"REALTIME_SEND_TIMEOUT_S": "1", "REALTIME_DEBUG_ENDPOINTS": "1"}) as server:
        stuck = await non_reading_session(server)
        try:
            stalled = time.monotonic()
            while server.health()["active_sessions"]:  # polling: no event reaches the test
                assert time.monotonic() - stalled <= 1 + SLACK_S, "still connected"
                await asyncio.sleep(0.05)
        finally:
            stuck.close()
        assert "took none of the server's bytes for 1 s" in server.log()
        async with open_client(server.base_url) as client:  # the server is fine
            assert client.session["type"] == "realtime"
