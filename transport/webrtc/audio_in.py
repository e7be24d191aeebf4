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
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add
from av import AudioFrame, AudioResampler
from loguru import logger

TRACK_RATE = 24000


class PacketPerFrameBuffer(JitterBuffer):
    """aiortc's audio jitter buffer, minus the waiting: every audio packet is a whole frame.

    aiortc keeps 4 complete audio packets before it decodes the oldest, and knows a packet is
    complete only when the next one arrives: 80-100 ms on every turn end, for a buffer that does
    not pace playout and only helps with packets arriving out of order. An Opus or G.711 RTP
    packet always holds whole frames, so this hands each one over on arrival, in sequence order;
    a packet older than one already handed over (late, or a duplicate) is dropped, 20 ms the VAD
    and the STT do without.
    """

    def __init__(self) -> None:
        super().__init__(capacity=16)
        self._next: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        sequence = packet.sequence_number
        if self._next is not None and uint16_add(sequence, -self._next) >= 0x8000:
            return False, None  # behind what was already decoded
        self._next = uint16_add(sequence, 1)
        data: bytes = packet._data  # type: ignore[attr-defined]  # the depayloaded frame
        return False, JitterFrame(data=data, timestamp=packet.timestamp)


def decode_on_arrival(receiver: RTCRtpReceiver) -> None:
    """Give an audio receiver a :class:`PacketPerFrameBuffer` (before its first packet).

    aiortc has no option for it, so the buffer, a private attribute of aiortc 1.16 (pinned), is
    replaced; if aiortc changes, this does nothing and its own buffer stays.
    """
    attribute = "_RTCRtpReceiver__jitter_buffer"
    current = getattr(receiver, attribute, None)
    if type(current) is JitterBuffer and current.capacity == 16:  # audio's, not video's (512)
        setattr(receiver, attribute, PacketPerFrameBuffer())


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
