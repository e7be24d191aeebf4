"""Where live calls are found by id: ``POST .../calls/{id}/hangup`` and the sideband WebSocket.

One small interface on purpose: with more than one server process, call routing moves to a shared
store (Redis: the id mapped to the process that owns the peer connection), and only this module
changes. Within one process it is a dict.
"""

from __future__ import annotations

import secrets
from typing import Generic, Protocol, TypeVar


class _Call(Protocol):
    @property
    def id(self) -> str: ...


CallT = TypeVar("CallT", bound=_Call)


def new_call_id() -> str:
    """``rtc_`` + 32 hex digits. Unguessable: with authentication off, the id is what lets a
    sideband join a call."""
    return "rtc_" + secrets.token_hex(16)


class CallRegistry(Generic[CallT]):
    """The calls this process serves, by id."""

    def __init__(self) -> None:
        self._calls: dict[str, CallT] = {}

    def add(self, call: CallT) -> None:
        self._calls[call.id] = call

    def get(self, call_id: str) -> CallT | None:
        return self._calls.get(call_id)

    def remove(self, call: CallT) -> None:
        if self._calls.get(call.id) is call:
            del self._calls[call.id]

    def all(self) -> list[CallT]:
        return list(self._calls.values())

    def __len__(self) -> int:
        return len(self._calls)
