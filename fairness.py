"""A task's fair share of the event loop.

Every session of a server process runs on one event loop, and an asyncio task keeps the loop for
as long as it does not wait on something that is not ready yet. A task that drains a queue which
is never empty (a session's driver applying thousands of queued deltas, a writer sending a backlog
of events, a flooding client's frames) never waits, so every other session waits for it: a long
reply used to stall the other sessions for seconds (bench/isolation.py).

A :class:`FairShare` bounds one uninterrupted run of a task: after ``max_items`` items or
``max_seconds`` (whichever comes first, checked after each item) it yields to the loop, which then
runs the other ready tasks and polls the sockets before coming back. A run that ended by itself
(the task waited for work) starts a fresh share, so a task that keeps up with its input never
yields needlessly.
"""

from __future__ import annotations

import asyncio
import time

MAX_ITEMS = 16
"""Items per uninterrupted run: a bound that does not depend on the clock (tests rely on it)."""

REPLY_PIECES_PER_SHARE = 4
"""Pieces of a reply (words, audio chunks) a response-side processor passes on per run: each piece
fans out into several events downstream, so its share is smaller than the driver's."""

MAX_SECONDS = 0.0005
"""Time per uninterrupted run: other sessions wait at most about this long for each busy task.

A reply to another session crosses 3-4 tasks (reader, driver, writer), each waiting for one turn
of the loop, and a turn of the loop is the sum of the busy tasks' runs. At 1 ms a flood's turns
took up to 2.1 ms of CPU (p99), at 0.5 ms 1.1 ms for the same total CPU; at 0.25 ms the total
grew by 8% (bench/isolation.py's flood, measured in-process)."""


class FairShare:
    """Yields to the event loop once the current run of a task has used its share.

    Use one per task, in the task: ``await share.spend()`` after each item of work.
    """

    def __init__(self, max_items: int = MAX_ITEMS, max_seconds: float = MAX_SECONDS) -> None:
        self.max_items = max_items
        self.max_seconds = max_seconds
        self.yields = 0
        """How many times the task was made to give the loop back (for tests and profiling)."""
        self._items = 0
        self._began = 0.0
        self._open = False

    async def spend(self) -> None:
        """Count one item of work done; give the loop back if this run has had its share."""
        if not self._open:
            self._start()
        self._items += 1
        if self._items >= self.max_items or time.perf_counter() - self._began >= self.max_seconds:
            self.yields += 1
            await asyncio.sleep(0)

    def _start(self) -> None:
        # The marker runs as soon as the task gives the loop back, for whatever reason (a yield
        # here or a wait of its own); the next item then starts a new share.
        self._open = True
        self._items = 0
        self._began = time.perf_counter()
        asyncio.get_running_loop().call_soon(self._close)

    def _close(self) -> None:
        self._open = False
