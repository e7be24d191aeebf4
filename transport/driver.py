"""The one driver of a session's core, whatever carries the session (WebSocket, WebRTC, relay).

h11 and websockets each have exactly one driver per protocol object; so does
:class:`~realtime_session.RealtimeSession`. A :class:`SessionDriver` owns the core, the session's
pipeline and its timers, and runs one loop over one inbox:

- client frames, put there by the transport's reader (bounded: a reader that gets ahead of the
  driver waits, so a flooding client is slowed down rather than buffered without end);
- input audio from a media track (WebRTC), put there by the transport's track reader and
  applied like an append, in order with the client frames;
- pipeline signals and timer expiries, reported from anywhere without waiting (and, over
  WebRTC, what the transport's output track played).

Each item is applied to the core, and what the core returns is dispatched before the next item is
taken: server events go to the transport's ``emit``, timer commands are kept here, playback commands
(WebRTC) go to the transport's ``playback``, everything else is handed to the pipeline. Nothing the
pipeline does calls back into the core; it reports, and its reports wait their turn in the inbox
(ahead of client frames, since they describe things that already happened). Turn detection runs
inside the dispatch of the audio it analyses, so its speech signals are applied before the next
client frame, exactly as if they had been synchronous, while the transport's reader never waits on a
model.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger

from fairness import FairShare
from protocol import ClientEvent, ProtocolError
from realtime_session import (
    ArmTimer,
    ClearAudio,
    DisarmTimer,
    EndAudio,
    EndSession,
    PlayAudio,
    PlaybackCommand,
)
from realtime_session.signals import Signal, Timer, TimerExpired
from transport.inbound_limit import InboundLimit

ClientFrame = str | bytes
Parse = Callable[[ClientFrame], ClientEvent]
Report = Callable[[Any], None]
"""How a backend reports its signals (:mod:`realtime_session.signals`, :mod:`relay.signals`)."""


@dataclass(frozen=True, slots=True)
class TrackAudio:
    """Input audio from a media track (WebRTC): PCM16 mono at 24 kHz, applied in order with the
    client frames (and held back with them) but not parsed, and not counted as client events."""

    pcm: bytes


Inbound = ClientFrame | TrackAudio


Output = Any
"""A server event (a dict) or a command of the core."""


class Core(Protocol):
    """A sans-I/O session protocol object: :class:`realtime_session.RealtimeSession` (a local
    pipeline) or :class:`relay.session.RelaySession` (an upstream realtime API)."""

    @property
    def session_id(self) -> str: ...

    def start(self) -> list[Output]: ...

    def handle(self, event: ClientEvent) -> list[Output]: ...

    def append_track_audio(self, pcm: bytes) -> list[Output]: ...

    def receive(self, signal: Any) -> list[Output]: ...


class Backend(Protocol):
    """What produces a session's speech and replies: a Pipecat pipeline, or the link to an
    upstream realtime API (:class:`relay.upstream.UpstreamLink`).

    It carries out the core's commands and tells the driver what happened only through the
    ``report`` callback it was made with.
    """

    async def start(self) -> None: ...

    async def execute(self, command: Any) -> None: ...

    async def close(self) -> None: ...


MAX_PENDING_FRAMES = 64
"""Client frames read but not yet applied; beyond this the transport's reader waits."""
SESSION_IDLE_CLOSE_CODE = 1000


@dataclass(frozen=True, slots=True)
class DriverLimits:
    """What one session may cost: inbound event rate, and how long it may sit idle."""

    events_per_s: float = 1000.0
    event_burst: float = 2000.0
    idle_timeout_s: float | None = 900.0
    """Close a session after this long with no client event and no server event."""


@dataclass(frozen=True, slots=True)
class Closure:
    """Why the driver ended the session: the transport closes with this code and reason."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class _IdleCheck:
    """Time to look whether the session has been idle for too long."""


@dataclass(frozen=True, slots=True)
class _TimerFired:
    """A timer's expiry, with the arming it belongs to (a re-armed timer's old expiry is void)."""

    timer: Timer
    arming: int


class _Inbox:
    """What the driver applies next: reports first, then client frames in arrival order."""

    def __init__(self, max_frames: int) -> None:
        self._reports: deque[Any] = deque()
        self._frames: deque[Inbound] = deque()
        self._room = asyncio.Semaphore(max_frames)
        self._wake = asyncio.Event()

    def report(self, item: Any) -> None:
        """Queue a pipeline signal or timer expiry; never waits."""
        self._reports.append(item)
        self._wake.set()

    async def put_frame(self, frame: Inbound) -> None:
        """Queue a client frame, waiting while too many are pending."""
        await self._room.acquire()
        self._frames.append(frame)
        self._wake.set()

    async def get(self) -> Any:
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
        core: Core,
        make_backend: Callable[[Report], Backend],
        *,
        parse: Parse,
        emit: Callable[[dict[str, Any]], None],
        limits: DriverLimits | None = None,
        max_pending_frames: int = MAX_PENDING_FRAMES,
        playback: Callable[[PlaybackCommand], None] | None = None,
    ) -> None:
        self.core = core
        self._parse = parse
        self._transport_emit = emit
        self._playback = playback
        """Carries out the playback commands of a transport that plays audio itself (WebRTC)."""
        self._limits = limits or DriverLimits()
        self._inbound = InboundLimit(self._limits.events_per_s, self._limits.event_burst)
        self._last_activity = 0.0
        self._idle_check: asyncio.TimerHandle | None = None
        self._closure: Closure | None = None
        self._inbox = _Inbox(max_pending_frames)
        self.backend = make_backend(self._inbox.report)
        self._timers: dict[Timer, tuple[asyncio.TimerHandle, int]] = {}
        self._armings = itertools.count()

    async def start(self) -> None:
        """Start the backend and open the session (``session.created``)."""
        await self.backend.start()
        self._last_activity = asyncio.get_running_loop().time()
        self._schedule_idle_check(self._limits.idle_timeout_s)
        await self._dispatch(self.core.start())

    async def feed_frame(self, frame: ClientFrame) -> None:
        """Hand over one client frame (the transport's reader calls this)."""
        await self._inbox.put_frame(frame)

    async def feed_track_audio(self, pcm: bytes) -> None:
        """Hand over input audio from a media track (PCM16 mono 24 kHz; WebRTC's reader)."""
        await self._inbox.put_frame(TrackAudio(pcm))

    def report(self, signal: Signal) -> None:
        """Report what the transport itself did (WebRTC playback); never waits."""
        self._inbox.report(signal)

    async def run(self) -> Closure:
        """Apply inbox items one at a time until the session must end (or the task is cancelled).

        A long reply queues thousands of signals and a flooding client keeps the inbox full, so
        the inbox may never make this task wait: it gives the event loop back after each fair
        share of items (fairness.py), or one session would stall all the others.

        Returns:
            Why the session ends (an idle session), for the transport to close with.
        """
        share = FairShare()
        while self._closure is None:
            item = await self._inbox.get()
            await self._dispatch(self._apply(item))
            await share.spend()
        return self._closure

    async def close(self) -> None:
        """Forget the timers and stop the backend."""
        if self._idle_check is not None:
            self._idle_check.cancel()
        for handle, _ in self._timers.values():
            handle.cancel()
        self._timers.clear()
        await self.backend.close()

    # --- one step ---------------------------------------------------------------------------------

    def _apply(self, item: Any) -> list[Output]:
        if isinstance(item, TrackAudio):
            self._last_activity = asyncio.get_running_loop().time()
            return self.core.append_track_audio(item.pcm)
        if isinstance(item, str | bytes):
            now = asyncio.get_running_loop().time()
            self._last_activity = now
            if not self._inbound.admit(now):
                refusal = self._inbound.refusal(now)
                return [refusal.to_event()] if refusal is not None else []
            try:
                event = self._parse(item)
            except ProtocolError as error:
                return [error.to_event()]
            return self.core.handle(event)
        if isinstance(item, _IdleCheck):
            return self._check_idle()
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
            elif isinstance(output, EndSession):
                self._closure = Closure(output.code, output.reason)
            elif isinstance(output, PlayAudio | EndAudio | ClearAudio):
                if self._playback is not None:
                    self._playback(output)
            else:
                try:
                    await self.backend.execute(output)
                except Exception:  # a backend bug must not end the session
                    logger.exception(f"backend command {type(output).__name__} failed")

    def _emit(self, event: dict[str, Any]) -> None:
        self._last_activity = asyncio.get_running_loop().time()
        self._transport_emit(event)

    # --- idle sessions ----------------------------------------------------------------------------

    def _schedule_idle_check(self, delay_s: float | None) -> None:
        if delay_s is not None:
            loop = asyncio.get_running_loop()
            self._idle_check = loop.call_later(delay_s, self._inbox.report, _IdleCheck())

    def _check_idle(self) -> list[Output]:
        """End a session nobody has used for ``idle_timeout_s``; otherwise look again later.

        One lazily re-armed check instead of a timer reset on every event: a flood of appends
        costs a float assignment each, not a timer.
        """
        timeout = self._limits.idle_timeout_s
        assert timeout is not None
        idle_for = asyncio.get_running_loop().time() - self._last_activity
        if idle_for < timeout:
            self._schedule_idle_check(timeout - idle_for)
            return []
        self._closure = Closure(SESSION_IDLE_CLOSE_CODE, "session idle")
        error = ProtocolError(
            "session_idle_timeout",
            f"The session was closed after {timeout:g} s without any client or server event.",
        )
        return [error.to_event()]

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
