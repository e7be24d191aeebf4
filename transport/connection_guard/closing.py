"""Replies and closing: the raw HTTP refusal, each connection's last-resort deadlines, and the view
of a transport that tells the guard when uvicorn closes it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from transport.connection_guard.guard import ConnectionGuard


def http_response(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    body = message.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ClosingTimers:
    """One connection's last-resort deadlines: it is aborted if it takes none of the bytes the
    server is sending for ``send_timeout_s``, or has not finished closing ``close_timeout_s``
    after it started to. Without them a client that stops reading holds its connection (and,
    once the server shuts down, the whole process) for ever: asyncio's ``close()`` waits until
    every byte is taken."""

    def __init__(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        guard: ConnectionGuard,
        address: str,
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._guard = guard
        self._address = address
        self._stall: asyncio.TimerHandle | None = None
        self._closer: asyncio.TimerHandle | None = None
        self._lost = False

    def writing_paused(self) -> None:
        if self._stall is None and not self._lost:
            self._guard.sending_stalled(self._transport, True)
            self._stall = self._loop.call_later(
                self._guard.limits.send_timeout_s, self._abort, "send"
            )

    def writing_resumed(self) -> None:
        self._guard.sending_stalled(self._transport, False)
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def closing(self) -> None:
        """The connection is closing: it has ``close_timeout_s`` to finish."""
        if self._closer is None and not self._lost:
            self._closer = self._loop.call_later(
                self._guard.limits.close_timeout_s, self._abort, "close"
            )

    def half_close(self) -> None:
        """Send what is written, then FIN, and drain: the client's own close ends it (or the
        close timeout). Closing outright with the client's request still unread would send a
        reset, which can destroy the reply before the client reads it."""
        if self._transport.can_write_eof():
            self._transport.write_eof()
        else:  # TLS: no half-close
            self._transport.close()
        self.closing()

    def cancel(self) -> None:
        """No more deadlines (an upgraded protocol takes over)."""
        for timer in (self._stall, self._closer):
            if timer is not None:
                timer.cancel()
        self._stall = self._closer = None

    def lost(self) -> None:
        """The connection is gone: no deadline now or later (the application may still be
        finishing and call ``closing``)."""
        self._lost = True
        self.cancel()

    def _abort(self, why: str) -> None:
        limits = self._guard.limits
        if why == "send":
            self._guard.log(
                "connections dropped for not reading",
                self._address,
                f"dropped a connection from {self._address} that took none of the server's "
                f"bytes for {limits.send_timeout_s:g} s",
            )
        else:
            self._guard.log(
                "closing connections aborted",
                self._address,
                f"dropped a connection from {self._address} that did not finish closing within "
                f"{limits.close_timeout_s:g} s",
            )
        self._transport.abort()


class TransportView(asyncio.Transport):
    """A transport as one of uvicorn's objects sees it: everything passes through to the real
    one except ``close``, which calls ``on_close`` (uvicorn calls ``close()`` from many places;
    this is the one place to learn that the connection is closing)."""

    def __init__(self, transport: asyncio.Transport, on_close: Callable[[], None]) -> None:
        super().__init__()
        self._transport = transport
        self._on_close = on_close

    def close(self) -> None:
        self._on_close()

    def write(self, data: bytes | bytearray | memoryview[int]) -> None:
        self._transport.write(data)

    def write_eof(self) -> None:
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def abort(self) -> None:
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)
