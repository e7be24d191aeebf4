"""The two interfaces the voice client's audio goes through, and the error for a missing device.

The app only talks to an :class:`AudioSource` (the user's voice) and an :class:`AudioSink`
(assistant audio), so a microphone, a WAV file or a test double plug in alike; see
:mod:`.devices`, :mod:`.files` and :mod:`.playback` for the implementations.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class AudioUnavailable(RuntimeError):
    """No usable sound device (no PortAudio, no device, or the device refused the format)."""


@runtime_checkable
class AudioSource(Protocol):
    """Where the user's voice comes from: ``start``, then ``read`` chunks until ``None``.

    ``live`` sources (a microphone) start listening by themselves in hands-free mode; a file
    waits for K.
    """

    name: str
    live: bool

    async def start(self) -> None:
        """Begin capturing (raise :class:`AudioUnavailable` if that is impossible)."""

    async def read(self) -> bytes | None:
        """The next chunk of 24 kHz PCM16, or ``None`` once stopped or exhausted."""

    async def stop(self) -> None:
        """Stop capturing; a pending or later ``read`` returns ``None``."""


@runtime_checkable
class AudioSink(Protocol):
    """Where assistant audio goes. It plays queued audio and counts what was played, per item."""

    name: str

    async def start(self) -> None:
        """Get ready to play."""

    def write(self, item_id: str, pcm: bytes) -> None:
        """Queue 24 kHz PCM16 audio of an assistant item for playback."""

    def stop(self) -> None:
        """Stop playback at once and drop everything still queued."""

    def played_ms(self, item_id: str) -> int:
        """How much of the item's audio has really been played, in whole ms."""

    def received_ms(self, item_id: str) -> int:
        """How much of the item's audio was written to the sink, in whole ms."""

    def pending_ms(self, item_id: str | None = None) -> int:
        """Queued but not yet played audio (of one item, or of all), in whole ms."""

    async def close(self) -> None:
        """Release the device or file."""
