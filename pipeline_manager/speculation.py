"""Speculative transcription: work during the user's pause, thrown away if they go on.

The silence window that decides a turn is over (``silence_duration_ms``, or the semantic VAD's
wait) used to be spent idle: transcription of the turn only began once the core had committed
it. Now, at each pause that could end the turn (:class:`pipeline_manager.turn_input.TurnSoFar`,
after ``PAUSE_MIN_MS`` of silence), the turn's audio so far is transcribed at once, invisibly. If
speech resumes the result is discarded; if the turn ends there, the core's ``TranscribeAudio``
for the turn's item takes the speculative transcript instead of starting from scratch. Nothing
speculative is ever reported: the core, and so the wire, see exactly the events and order they
saw before, only sooner.

Bounds on wasted work:

- one speculative pass per session at a time; a pause that comes while one runs replaces any
  pass still waiting (only the latest turn-so-far is worth transcribing);
- process-wide, at most ``MAX_RUNNING`` speculative passes at once (the STT model is shared, and
  a pass already handed to it cannot be stopped): beyond that a pause is not speculated on, so
  other sessions' real transcriptions never queue behind more than that.

:data:`STATS` counts what was speculated, used and thrown away (``/debug/stats``, the bench).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from loguru import logger

from pipeline_manager.turn_input import BYTES_PER_MS, TurnSoFar

MAX_RUNNING = 1
"""Speculative passes running at once in the process."""
MATCH_TOLERANCE_MS = 2.0
"""A turn's item starts where its speculation started (both from the same onset and padding)."""


@dataclass
class SpeculationStats:
    """Process-wide counts of speculative transcription."""

    started: int = 0
    used: int = 0
    discarded: int = 0
    skipped_busy: int = 0
    audio_ms_used: float = 0.0
    audio_ms_discarded: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


STATS = SpeculationStats()
_running = 0


@dataclass
class _Pass:
    turn: TurnSoFar
    result: asyncio.Future[str]
    stale: bool = False


class TurnSpeculation:
    """One session's speculative transcription of its turn so far."""

    def __init__(self, transcribe: Callable[[bytes], Awaitable[str]]) -> None:
        self._transcribe = transcribe
        self._current: _Pass | None = None
        self._waiting: TurnSoFar | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def on_turn(self, turn: TurnSoFar | None) -> None:
        """A pause (the turn so far), or None: speech resumed, what was speculated is void."""
        if turn is None:
            self._waiting = None
            self._discard()
            return
        self._discard()
        if self._current is not None and not self._current.result.done():
            self._waiting = turn  # one pass at a time: this one starts when that one ends
            return
        self._start(turn)

    def take(self, turn_start_ms: float | None) -> asyncio.Future[str] | None:
        """The speculative transcript of the turn whose item starts at ``turn_start_ms``."""
        current, self._current = self._current, None
        self._waiting = None
        if turn_start_ms is None or current is None or current.stale:
            if current is not None:
                self._forget(current)
            return None
        if abs(current.turn.start_ms - turn_start_ms) > MATCH_TOLERANCE_MS:
            self._forget(current)
            return None
        STATS.used += 1
        STATS.audio_ms_used += len(current.turn.pcm) / BYTES_PER_MS
        return current.result

    async def close(self) -> None:
        self._waiting = None
        self._discard()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start(self, turn: TurnSoFar) -> None:
        global _running
        if _running >= MAX_RUNNING:
            STATS.skipped_busy += 1
            return
        _running += 1
        STATS.started += 1
        current = _Pass(turn, asyncio.get_running_loop().create_future())
        self._current = current
        task = asyncio.create_task(self._run(current))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, current: _Pass) -> None:
        global _running
        try:
            text = await self._transcribe(current.turn.pcm)
        except asyncio.CancelledError:
            current.result.cancel()
            raise
        except Exception as exc:  # the real transcription will run (and report) instead
            logger.debug(f"speculative transcription failed: {exc}")
            current.result.set_exception(exc)
            current.result.exception()  # retrieved: a failed guess is not an error to log
        else:
            current.result.set_result(text)
        finally:
            _running -= 1
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._start(waiting)

    def _discard(self) -> None:
        if self._current is not None:
            self._forget(self._current)
            self._current = None

    @staticmethod
    def _forget(current: _Pass) -> None:
        if not current.stale:
            current.stale = True
            STATS.discarded += 1
            STATS.audio_ms_discarded += len(current.turn.pcm) / BYTES_PER_MS
