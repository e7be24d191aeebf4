"""The one driver of a session's core, whatever carries the session (WebSocket, WebRTC, relay).

h11 and websockets each have exactly one driver per protocol object; so does
:class:`~realtime_session.RealtimeSession`. A :class:`SessionDriver` owns the core, the session's
pipeline and its timers, and runs one loop over one inbox:

- client frames, put there by the transport's reader (bounded: a reader that gets ahead of the
  driver waits, so a flooding client is slowed down rather than buffered without end);
- pipeline signals and timer expiries, reported from anywhere without waiting.

Each item is applied to the core, and what the core returns is dispatched before the next item
is taken: server events go to the transport's ``emit``, timer commands are kept here, everything
else is handed to the pipeline. Nothing the pipeline does calls back into the core; it reports,
and its reports wait their turn in the inbox (ahead of client frames, since they describe things
that already happened). Turn detection runs inside the dispatch of the audio it analyses, so its
speech signals are applied before the next client frame, exactly as if they had been
synchronous, while the transport's reader never waits on a model.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger

from protocol import ClientEvent, ProtocolError
from realtime_session import ArmTimer, DisarmTimer, Output, PipelineCommand, RealtimeSession
from realtime_session.signals import Signal, Timer, TimerExpired
from transport.fairness import FairShare

ClientFrame = str | bytes
Parse = Callable[[ClientFrame], ClientEvent]
Report = Callable[[Signal], None]


class Backend(Protocol):
    """What produces a session's speech and replies: a Pipecat pipeline, or later a relay.

    It carries out the core's commands and tells the driver what happened only through the
    ``report`` callback it was made with.
    """

    async def start(self) -> None: ...

    async def execute(self, command: PipelineCommand) -> None: ...

    async def close(self) -> None: ...


MAX_PENDING_FRAMES = 64
"""Client frames read but not yet applied; beyond this the transport's reader waits."""


@dataclass(frozen=True, slots=True)
class _TimerFired:
    """A timer's expiry, with the arming it belongs to (a re-armed timer's old expiry is void)."""

    timer: Timer
    arming: int


class _Inbox:
    """What the driver applies next: reports first, then client frames in arrival order."""

    def __init__(self, max_frames: int) -> None:
        self._reports: deque[Signal | _TimerFired] = deque()
        self._frames: deque[ClientFrame] = deque()
        self._room = asyncio.Semaphore(max_frames)
        self._wake = asyncio.Event()

    def report(self, item: Signal | _TimerFired) -> None:
        """Queue a pipeline signal or timer expiry; never waits."""
        self._reports.append(item)
        self._wake.set()

    async def put_frame(self, frame: ClientFrame) -> None:
        """Queue a client frame, waiting while too many are pending."""
        await self._room.acquire()
        self._frames.append(frame)
        self._wake.set()

    async def get(self) -> Signal | _TimerFired | ClientFrame:
        while True:
            if self._reports:
                return self._reports.popleft()
            if self._frames:
                self._room.release()
                return self._frames.popleft()
            self._wake.clear()
            await self._wake.wait()


class SessionDriver:
    """Drives one :class:`RealtimeSession` and its pipeline (see the module docstring)."""

    def __init__(
        self,
        core: RealtimeSession,
        make_backend: Callable[[Report], Backend],
        *,
        parse: Parse,
        emit: Callable[[dict[str, Any]], None],
        max_pending_frames: int = MAX_PENDING_FRAMES,
    ) -> None:
        self.core = core
        self._parse = parse
        self._emit = emit
        self._inbox = _Inbox(max_pending_frames)
        self.backend = make_backend(self._inbox.report)
        self._timers: dict[Timer, tuple[asyncio.TimerHandle, int]] = {}
        self._armings = itertools.count()

    async def start(self) -> None:
        """Start the backend and open the session (``session.created``)."""
        await self.backend.start()
        await self._dispatch(self.core.start())

    async def feed_frame(self, frame: ClientFrame) -> None:
        """Hand over one client frame (the transport's reader calls this)."""
        await self._inbox.put_frame(frame)

    async def run(self) -> None:
        """Apply inbox items one at a time, forever (cancel the task to stop).

        A long reply queues thousands of signals and a flooding client keeps the inbox full, so
        the inbox may never make this task wait: it gives the event loop back after each fair
        share of items (transport/fairness.py), or one session would stall all the others.
        """
        share = FairShare()
        while True:
            item = await self._inbox.get()
            await self._dispatch(self._apply(item))
            await share.spend()

    async def close(self) -> None:
        """Forget the timers and stop the backend."""
        for handle, _ in self._timers.values():
            handle.cancel()
        self._timers.clear()
        await self.backend.close()

    # --- one step ---------------------------------------------------------------------------------

    def _apply(self, item: Signal | _TimerFired | ClientFrame) -> list[Output]:
        if isinstance(item, str | bytes):
            try:
                event = self._parse(item)
            except ProtocolError as error:
                return [error.to_event()]
            return self.core.handle(event)
        if isinstance(item, _TimerFired):
            armed = self._timers.get(item.timer)
            if armed is None or armed[1] != item.arming:
                return []  # disarmed or re-armed after this expiry was queued
            del self._timers[item.timer]
            return self.core.receive(TimerExpired(item.timer))
        return self.core.receive(item)

    async def _dispatch(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, dict):
                self._emit(output)
            elif isinstance(output, ArmTimer):
                self._arm(output.timer, output.delay_s)
            elif isinstance(output, DisarmTimer):
                self._disarm(output.timer)
            else:
                try:
                    await self.backend.execute(output)
                except Exception:  # a pipeline bug must not end the session
                    logger.exception(f"pipeline command {type(output).__name__} failed")

    # --- timers -----------------------------------------------------------------------------------

    def _arm(self, timer: Timer, delay_s: float) -> None:
        self._disarm(timer)
        arming = next(self._armings)
        loop = asyncio.get_running_loop()
        handle = loop.call_later(delay_s, self._inbox.report, _TimerFired(timer, arming))
        self._timers[timer] = (handle, arming)

    def _disarm(self, timer: Timer) -> None:
        armed = self._timers.pop(timer, None)
        if armed is not None:
            armed[0].cancel()
