"""The call's inbound audio: the peer's microphone track, decoded, into the session's input buffer.

aiortc decodes the peer's Opus (or G.711) packets into PyAV frames, 48 kHz stereo for Opus. Each
frame is resampled here (PyAV's resampler, in C) to the 24 kHz mono PCM16 the core's track path
takes, and handed to the driver, which appends it like ``input_audio_buffer.append`` (same
buffer, limits, server VAD) without the base64 and JSON an append would cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, AudioResampler
from loguru import logger

TRACK_RATE = 24000
JITTER_PREFETCH = 1
"""Complete packets aiortc holds before decoding (its default for audio is 4: 80 ms)."""


def shorten_jitter_buffer(receiver: RTCRtpReceiver, prefetch: int = JITTER_PREFETCH) -> None:
    """Decode the peer's audio after one packet instead of four: 60 ms sooner to the VAD.

    aiortc's audio receiver keeps 4 complete packets before it decodes the oldest, which only
    helps with packets arriving out of order (it does not pace playout), and costs 60 ms on every
    turn end here. It has no option for it, so the buffer (a private attribute of aiortc 1.16,
    pinned) is replaced before the first packet arrives; if aiortc changes, this does nothing.
    """
    attribute = "_RTCRtpReceiver__jitter_buffer"
    current = getattr(receiver, attribute, None)
    if isinstance(current, JitterBuffer) and current.capacity == 16:
        setattr(receiver, attribute, JitterBuffer(capacity=16, prefetch=prefetch))


class InboundAudio:
    """Reads one remote audio track until it ends; resamples; feeds the driver."""

    def __init__(self, track: MediaStreamTrack, feed: Callable[[bytes], Awaitable[None]]) -> None:
        self._track = track
        self._feed = feed
        self._resampler = AudioResampler(format="s16", layout="mono", rate=TRACK_RATE)
        self.received_ms = 0.0
        """Audio received so far (for stats and tests)."""

    async def run(self) -> None:
        """Until the track ends (the peer stopped it, or the call closed)."""
        while True:
            try:
                frame = await self._track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            for resampled in self._resampler.resample(frame):
                pcm = resampled.to_ndarray().tobytes()
                self.received_ms += len(pcm) / 2 * 1000 / TRACK_RATE
                await self._feed(pcm)


def start_reading(
    track: MediaStreamTrack, feed: Callable[[bytes], Awaitable[None]]
) -> tuple[InboundAudio, asyncio.Task[None]]:
    """Start a reader for a remote audio track (its task ends with the track)."""
    reader = InboundAudio(track, feed)
    task = asyncio.create_task(reader.run(), name="webrtc-audio-in")
    task.add_done_callback(_log_failure)
    return reader, task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.opt(exception=task.exception()).error("reading a call's audio track failed")
