"""A record of what the voice client saw, which tests (and curious users) can wait on.

Server events arrive on the connection loop while keys are pressed elsewhere; :class:`EventLog`
keeps recent events in order, together with the client's own happenings (:class:`ClientEvent`),
so a caller can await "the next ``response.done``" instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClientEvent:
    """Something that happened on the client's side, logged next to the server events.

    Types: ``client.status`` (detail: what the status line says), ``client.disconnected``
    (detail: why), ``client.input_finished`` (the source ran dry).
    """

    type: str
    detail: str = ""


class EventLog:
    """Recent events (server events except audio deltas, plus :class:`ClientEvent`), with a way
    to await one that matches a predicate."""

    def __init__(self, limit: int = 2000) -> None:
        self.events: deque[Any] = deque(maxlen=limit)
        self._waiters: list[asyncio.Future[None]] = []

    def append(self, event: Any) -> None:
        """Record an event and wake the waiters."""
        self.events.append(event)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def find(self, predicate: Callable[[Any], bool]) -> Any | None:
        """The latest recorded event matching ``predicate``."""
        return next((e for e in reversed(self.events) if predicate(e)), None)

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """The latest matching event, waiting up to ``timeout`` seconds for one to arrive."""
        async with asyncio.timeout(timeout):
            while (found := self.find(predicate)) is None:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
            return found
