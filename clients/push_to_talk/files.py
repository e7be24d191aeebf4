"""File mode: speak a WAV file as the user and save the replies to a WAV file.

``--input-wav`` and ``--output-wav`` make the voice client work without a sound card (a server,
CI, the tests). Both keep real-time pacing, so a barge-in behaves as it would with a person.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from clients.push_to_talk.playback import ClockedSink
from clients.wav import CHUNK_BYTES, CHUNK_MS, duration_ms, open_wav_writer, read_pcm16_wav


class WavFileSource:
    """Speaks a WAV file as the user: 100 ms chunks, paced in real time unless ``realtime``
    is false."""

    live = False

    def __init__(self, path: Path, *, realtime: bool = True) -> None:
        self.name = f"file {path.name}"
        self.pcm = read_pcm16_wav(path)
        self.realtime = realtime
        self._position = 0
        self._next_due = 0.0
        self._stopped = asyncio.Event()

    @property
    def duration_ms(self) -> int:
        """The length of the file in whole milliseconds."""
        return duration_ms(len(self.pcm))

    async def start(self) -> None:
        """Rewind to the start of the file."""
        self._position = 0
        self._stopped = asyncio.Event()
        self._next_due = asyncio.get_running_loop().time()

    async def read(self) -> bytes | None:
        """The next 100 ms of the file, waiting until it is "due" in real-time mode."""
        if self._stopped.is_set() or self._position >= len(self.pcm):
            return None
        if self.realtime:
            delay = self._next_due - asyncio.get_running_loop().time()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stopped.wait(), delay)
                    return None
                except TimeoutError:
                    pass
            self._next_due += CHUNK_MS / 1000
        chunk = self.pcm[self._position : self._position + CHUNK_BYTES]
        self._position += len(chunk)
        return chunk

    async def stop(self) -> None:
        """Stop "speaking"."""
        self._stopped.set()


class WavFileSink(ClockedSink):
    """Saves the reply audio to a WAV file, "playing" it at real-time pace."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.name = f"file {path.name}"
        self._writer = open_wav_writer(path)

    def emit(self, item_id: str, pcm: bytes) -> None:
        """Append played audio to the file."""
        self._writer.writeframes(pcm)

    async def close(self) -> None:
        """Write what is still queued (it was received, so it belongs in the file) and close."""
        self._stop_clock()
        for item_id, pcm in self.consume(sys.maxsize):
            self.emit(item_id, pcm)
        self._writer.close()
