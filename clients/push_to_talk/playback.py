"""Playing assistant audio so that a barge-in can truncate the reply to what was heard.

The server sends a reply's audio faster than real time, so "what the user heard" is not "what
arrived". :class:`PlaybackQueue` is the FIFO every sink plays from, counting played and received
audio per item; :class:`ClockedSink` plays it on the event loop's clock when there is no sound
card; :class:`PlaybackTracker` remembers which response is active and which item is playing, and
decides what an interruption has to cancel and where to truncate.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque
from dataclasses import dataclass

from clients.push_to_talk.audio_io import AudioSink
from clients.wav import SAMPLE_RATE, duration_ms


class PlaybackQueue:
    """The bookkeeping every sink shares: a FIFO of ``(item_id, pcm)`` and played/received bytes.

    A subclass (or a test) drives playback by calling :meth:`consume`. Thread-safe, because a
    sound card callback consumes from its own thread.
    """

    name = "playback"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, bytes]] = deque()
        self._played: dict[str, int] = defaultdict(int)
        self._received: dict[str, int] = defaultdict(int)

    async def start(self) -> None:
        """Nothing to start."""

    def write(self, item_id: str, pcm: bytes) -> None:
        """Queue audio of ``item_id``."""
        if not pcm:
            return
        with self._lock:
            self._queue.append((item_id, pcm))
            self._received[item_id] += len(pcm)

    def consume(self, nbytes: int) -> list[tuple[str, bytes]]:
        """Take up to ``nbytes`` of queued audio for playback and count it as played."""
        taken: list[tuple[str, bytes]] = []
        with self._lock:
            while nbytes > 0 and self._queue:
                item_id, pcm = self._queue.popleft()
                if len(pcm) > nbytes:
                    self._queue.appendleft((item_id, pcm[nbytes:]))
                    pcm = pcm[:nbytes]
                taken.append((item_id, pcm))
                self._played[item_id] += len(pcm)
                nbytes -= len(pcm)
        return taken

    def stop(self) -> None:
        """Drop all queued audio."""
        with self._lock:
            self._queue.clear()

    def played_ms(self, item_id: str) -> int:
        """Played audio of ``item_id`` in whole ms."""
        with self._lock:
            return duration_ms(self._played.get(item_id, 0))

    def received_ms(self, item_id: str) -> int:
        """Received audio of ``item_id`` in whole ms."""
        with self._lock:
            return duration_ms(self._received.get(item_id, 0))

    def pending_ms(self, item_id: str | None = None) -> int:
        """Queued, unplayed audio in whole ms."""
        with self._lock:
            pending = sum(len(p) for i, p in self._queue if item_id is None or i == item_id)
        return duration_ms(pending)

    async def close(self) -> None:
        """Drop the queue."""
        self.stop()


class ClockedSink(PlaybackQueue):
    """A sink without a sound card that "plays" at real-time pace on the event loop's clock,
    so interrupting it truncates the reply where a listener would have been."""

    name = "no audio device"
    TICK_S = 0.02

    def __init__(self) -> None:
        super().__init__()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the playback clock."""
        self._task = asyncio.create_task(self._clock())

    async def _clock(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.TICK_S)
            now = loop.time()
            due = int((now - last) * SAMPLE_RATE) * 2
            last = now
            for item_id, pcm in self.consume(due):
                self.emit(item_id, pcm)

    def emit(self, item_id: str, pcm: bytes) -> None:
        """Do something with played audio (nothing here)."""

    async def close(self) -> None:
        """Stop the clock."""
        self.stop()
        self._stop_clock()

    def _stop_clock(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


class NullSink(ClockedSink):
    """Plays into the void (no speaker): the text still streams, timing stays realistic."""

    name = "no audio output"


@dataclass(frozen=True)
class Cut:
    """Where an interrupted item has to be truncated: ``audio_end_ms`` is what was played."""

    item_id: str
    audio_end_ms: int


class PlaybackTracker:
    """Which response is active and which assistant item is playing, for barge-in.

    An interruption is two steps, because the cancel goes out in between: :meth:`mute_active`
    (later deltas of that response are ignored; returns the response to cancel), then
    :meth:`cut` (stop the sink; returns the :class:`Cut` to send, if anything went unheard).
    """

    def __init__(self) -> None:
        self.active_response: str | None = None
        self.playing_item: str | None = None
        self._muted: set[str] = set()
        self._item_response: dict[str, str] = {}

    def reset(self) -> None:
        """Forget everything (the session these ids belonged to is gone)."""
        self.active_response = None
        self.playing_item = None
        self._muted.clear()
        self._item_response.clear()

    def response_created(self, response_id: str) -> None:
        """A response started."""
        self.active_response = response_id

    def response_done(self, response_id: str) -> None:
        """A response ended (completed, cancelled, failed...)."""
        if self.active_response == response_id:
            self.active_response = None

    def is_muted(self, response_id: str) -> bool:
        """Whether the response was interrupted (its late deltas are dropped)."""
        return response_id in self._muted

    def audio_arrived(self, item_id: str, response_id: str) -> None:
        """Audio of ``item_id`` (a part of ``response_id``) was queued for playback."""
        self._item_response[item_id] = response_id
        self.playing_item = item_id

    def mute_active(self) -> str | None:
        """Mute the active response; returns its id (``None`` if none is active)."""
        response_id = self.active_response
        if response_id is not None:
            self._muted.add(response_id)
        return response_id

    def cut(self, sink: AudioSink, response_id: str | None) -> Cut | None:
        """Stop playback at once; the truncation to send, or ``None`` if all was heard.

        ``response_id`` is what :meth:`mute_active` returned: if the playing item belongs to
        it, more audio was still coming, so the item is truncated even with an empty queue.
        """
        item_id = self.playing_item
        if item_id is None:
            return None
        still_coming = response_id is not None and self._item_response.get(item_id) == response_id
        pending = sink.pending_ms(item_id)
        sink.stop()
        self.playing_item = None
        if pending == 0 and not still_coming:
            return None  # everything was heard: nothing to truncate
        return Cut(item_id, sink.played_ms(item_id))
