"""The session driver: one loop, one inbox, timers of its own, the core called from nowhere else.

A recording stand-in takes the core's place and a scripted backend the pipeline's, so each rule of
``transport/driver.py`` is checked on its own: reports before client frames, speech signals applied
before the next frame, timers that fire once and only when still armed, a bounded reader, and a
failing backend command that costs nothing but a log line.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from protocol import ClientEvent, ProtocolError
from realtime_session import ArmTimer, DisarmTimer, FeedAudio, StartResponse
from realtime_session.signals import (
    IDLE_TIMER,
    ResponseText,
    Signal,
    SpeechStarted,
    TimerExpired,
)
from transport.driver import Closure, DriverLimits, SessionDriver

WAIT_S = 5.0
PCM = b"\x00\x00" * 240


class RecordingCore:
    """Stands in for RealtimeSession: records every call and the task it came from."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.tasks: set[asyncio.Task[Any] | None] = set()
        self.replies: dict[str, list[Any]] = {}
        self.applied = asyncio.Event()

    def _record(self, what: Any) -> None:
        self.calls.append(what)
        self.tasks.add(asyncio.current_task())
        self.applied.set()

    def start(self) -> list[Any]:
        return [{"type": "session.created"}]

    def handle(self, event: ClientEvent) -> list[Any]:
        self._record(event.data["name"])
        return self.replies.get(event.data["name"], [])

    def receive(self, signal: Signal) -> list[Any]:
        self._record(signal)
        return []


class ScriptedBackend:
    """Stands in for the pipeline: reports what a script says when a command arrives."""

    def __init__(self, report: Callable[[Signal], None]) -> None:
        self.report = report
        self.executed: list[Any] = []
        self.on_feed: list[Signal] = []
        self.fail = False

    async def start(self) -> None:
        pass

    async def execute(self, command: Any) -> None:
        self.executed.append(command)
        if self.fail:
            raise RuntimeError("backend bug")
        if isinstance(command, FeedAudio):
            for signal in self.on_feed:
                self.report(signal)

    async def close(self) -> None:
        pass


def parse(frame: str | bytes) -> ClientEvent:
    data = json.loads(frame)
    if "bad" in data:
        raise ProtocolError("invalid_value", "bad frame")
    return ClientEvent("test", data)


def frame(name: str, **extra: Any) -> str:
    return json.dumps({"name": name, **extra})


class Harness:
    def __init__(self, max_pending_frames: int = 64, limits: DriverLimits | None = None) -> None:
        self.core = RecordingCore()
        self.emitted: list[dict[str, Any]] = []
        self.driver = SessionDriver(
            self.core,  # type: ignore[arg-type]
            ScriptedBackend,
            parse=parse,
            emit=self._emit,
            limits=limits,
            max_pending_frames=max_pending_frames,
        )
        self.backend: ScriptedBackend = self.driver.backend  # type: ignore[assignment]
        self.task: asyncio.Task[None] | None = None

    def _emit(self, event: dict[str, Any]) -> None:
        self.emitted.append(event)
        self.core.applied.set()

    async def __aenter__(self) -> Harness:
        await self.driver.start()
        self.task = asyncio.create_task(self.driver.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.driver.close()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not predicate():
                self.core.applied.clear()
                await self.core.applied.wait()

        await asyncio.wait_for(wait(), WAIT_S)


async def test_the_core_is_called_only_from_the_driver_task() -> None:
    async with Harness() as h:
        for name in ("a", "b", "c"):
            await h.driver.feed_frame(frame(name))
        h.backend.report(ResponseText("resp_1", "hi"))
        await h.until(lambda: len(h.core.calls) == 4)
        assert h.core.tasks == {h.task}
        assert h.emitted == [{"type": "session.created"}]


async def test_reports_are_applied_before_client_frames_waiting_in_the_inbox() -> None:
    h = Harness()
    await h.driver.start()
    await h.driver.feed_frame(frame("first"))
    h.backend.report(ResponseText("resp_1", "earlier"))
    async with h:
        await h.until(lambda: len(h.core.calls) == 2)
    assert h.core.calls == [ResponseText("resp_1", "earlier"), "first"]


async def test_speech_signals_from_an_append_come_before_the_next_frame() -> None:
    async with Harness() as h:
        started = SpeechStarted(1, 500.0)
        h.backend.on_feed = [started]
        h.core.replies["append"] = [FeedAudio(PCM, None)]  # type: ignore[arg-type]
        await h.driver.feed_frame(frame("append"))
        await h.driver.feed_frame(frame("next"))
        await h.until(lambda: len(h.core.calls) == 3)
        assert h.core.calls == ["append", started, "next"]


async def test_bad_frames_become_error_events_without_reaching_the_core() -> None:
    async with Harness() as h:
        await h.driver.feed_frame(frame("x", bad=True))
        await h.driver.feed_frame(frame("ok"))
        await h.until(lambda: h.core.calls == ["ok"])
        assert h.emitted[-1]["type"] == "error"
        assert h.emitted[-1]["error"]["code"] == "invalid_value"


async def test_an_armed_timer_fires_once_and_a_disarmed_one_never() -> None:
    async with Harness() as h:
        h.core.replies["arm"] = [ArmTimer(IDLE_TIMER, 0.01)]
        await h.driver.feed_frame(frame("arm"))
        await h.until(lambda: TimerExpired(IDLE_TIMER) in h.core.calls)

        h.core.replies["arm_long"] = [ArmTimer(IDLE_TIMER, 0.05)]
        h.core.replies["disarm"] = [DisarmTimer(IDLE_TIMER)]
        await h.driver.feed_frame(frame("arm_long"))
        await h.driver.feed_frame(frame("disarm"))
        await h.driver.feed_frame(frame("arm"))  # a new 10 ms arming after the disarm
        await h.until(lambda: h.core.calls.count(TimerExpired(IDLE_TIMER)) == 2)
        await asyncio.sleep(0.1)  # past the disarmed 50 ms deadline: it must stay silent
        assert h.core.calls.count(TimerExpired(IDLE_TIMER)) == 2


async def test_rearming_voids_an_expiry_that_is_already_queued() -> None:
    h = Harness()
    async with h:
        h.core.replies["arm"] = [ArmTimer(IDLE_TIMER, 60)]
        await h.driver.feed_frame(frame("arm"))
        await h.until(lambda: h.core.calls == ["arm"])
        # Simulate an expiry of an older arming that is already in the inbox.
        (handle, arming) = h.driver._timers[IDLE_TIMER]
        from transport.driver import _TimerFired

        h.driver._inbox.report(_TimerFired(IDLE_TIMER, arming - 1))
        await h.driver.feed_frame(frame("after"))
        await h.until(lambda: h.core.calls[-1] == "after")
        assert TimerExpired(IDLE_TIMER) not in h.core.calls
        assert not handle.cancelled()


async def test_the_reader_waits_when_too_many_frames_are_pending() -> None:
    h = Harness(max_pending_frames=2)
    await h.driver.start()
    await h.driver.feed_frame(frame("1"))
    await h.driver.feed_frame(frame("2"))
    third = asyncio.create_task(h.driver.feed_frame(frame("3")))
    await asyncio.sleep(0)
    assert not third.done()  # no driver loop running: the inbox is full
    async with h:
        await asyncio.wait_for(third, WAIT_S)
        await h.until(lambda: h.core.calls == ["1", "2", "3"])


async def test_a_failing_backend_command_does_not_stop_the_driver() -> None:
    async with Harness() as h:
        h.backend.fail = True
        start = StartResponse("resp_1", None, None)  # type: ignore[arg-type]
        h.core.replies["go"] = [start]
        await h.driver.feed_frame(frame("go"))
        await h.driver.feed_frame(frame("still"))
        await h.until(lambda: h.core.calls == ["go", "still"])
        assert h.backend.executed == [start]
        assert h.task is not None and not h.task.done()


@pytest.mark.parametrize("count", [1, 3])
async def test_close_cancels_every_timer(count: int) -> None:
    h = Harness()
    async with h:
        h.core.replies["arm"] = [ArmTimer(IDLE_TIMER, 60)]
        for _ in range(count):
            await h.driver.feed_frame(frame("arm"))
        await h.until(lambda: len(h.core.calls) == count)
        (handle, _) = h.driver._timers[IDLE_TIMER]
    assert handle.cancelled()
    assert h.driver._timers == {}


async def test_a_flood_beyond_the_burst_is_dropped_with_one_error_a_second() -> None:
    async with Harness(limits=DriverLimits(events_per_s=1, event_burst=3)) as h:
        for n in range(10):
            await h.driver.feed_frame(frame(f"e{n}"))
        await h.driver.feed_frame(frame("probe"))
        # The burst passes; the rest (the probe too, at 1 event/s) is dropped without parsing.
        await h.until(lambda: len(h.emitted) >= 2)
        assert h.core.calls == ["e0", "e1", "e2"]
        errors = [e for e in h.emitted if e["type"] == "error"]
        assert len(errors) == 1
        assert errors[0]["error"]["code"] == "rate_limit_exceeded"


async def test_an_idle_session_is_closed_and_told_why() -> None:
    h = Harness(limits=DriverLimits(idle_timeout_s=0.05))
    await h.driver.start()
    closure = await asyncio.wait_for(h.driver.run(), WAIT_S)
    await h.driver.close()
    assert closure == Closure(1000, "session idle")
    assert h.emitted[-1]["error"]["code"] == "session_idle_timeout"


async def test_activity_keeps_a_session_open() -> None:
    async with Harness(limits=DriverLimits(idle_timeout_s=0.2)) as h:
        for n in range(6):
            await h.driver.feed_frame(frame(f"e{n}"))
            await asyncio.sleep(0.05)  # paced like a client that is still there
        await h.until(lambda: len(h.core.calls) == 6)
        assert h.task is not None and not h.task.done()
