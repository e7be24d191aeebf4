"""The input audio buffer and the session-wide audio clock.

``audio_start_ms``/``audio_end_ms`` in VAD events count from the first byte appended in the session
and keep growing across turns; the buffer remembers where on that clock its first byte lies, so a
VAD turn can be cut out of it by time.
"""

from __future__ import annotations

from audio_utils import AudioFormat


class InputAudioBuffer:
    """Appended, not yet committed client audio (in the session's input format)."""

    def __init__(self, fmt: AudioFormat) -> None:
        self._format = fmt
        self._data = bytearray()
        self._total_ms = 0.0

    @property
    def format(self) -> AudioFormat:
        return self._format

    @property
    def total_ms(self) -> float:
        """Milliseconds of audio appended over the whole session: the audio clock."""
        return self._total_ms

    @property
    def start_ms(self) -> float:
        """Where the buffer's first byte lies on the audio clock."""
        return self._total_ms - self.duration_ms

    @property
    def duration_ms(self) -> float:
        """Milliseconds currently buffered."""
        return self._format.duration_ms(len(self._data))

    def set_format(self, fmt: AudioFormat) -> None:
        """Switch the input format; audio buffered in the old format is dropped."""
        if fmt != self._format:
            self._data.clear()
            self._format = fmt

    def append(self, audio: bytes) -> None:
        """Add client audio and advance the clock."""
        self._data += audio
        self._total_ms += self._format.duration_ms(len(audio))

    def take_all(self) -> bytes:
        """Empty the buffer, returning its contents (a manual commit)."""
        audio = bytes(self._data)
        self._data.clear()
        return audio

    def take_range(self, start_ms: float, end_ms: float) -> bytes:
        """Return the audio between two clock times and drop everything before ``end_ms``."""
        begin = self._offset(start_ms)
        end = self._offset(end_ms)
        audio = bytes(self._data[begin:end])
        del self._data[:end]
        return audio

    def keep_last(self, ms: float) -> None:
        """Drop all but the last ``ms`` of audio (bounds memory while nobody speaks)."""
        excess = len(self._data) - self._format.bytes_for_ms(ms)
        if excess > 0:
            del self._data[:excess]

    def clear(self) -> None:
        """Drop the buffered audio (the clock keeps running)."""
        self._data.clear()

    def _offset(self, clock_ms: float) -> int:
        relative = max(0.0, clock_ms - self.start_ms)
        return min(len(self._data), self._format.bytes_for_ms(relative))
