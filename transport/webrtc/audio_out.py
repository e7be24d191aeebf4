"""The call's outbound audio: a track that plays the responses' audio in real time.

Over WebRTC the server, not the client, decides when audio is heard, so this track is the session's
output audio buffer. The core hands it audio (``PlayAudio``), tells it when a response has no more
(``EndAudio``) and when to drop everything (``ClearAudio``); aiortc pulls a 20 ms frame from
:meth:`OutputAudioTrack.recv` whenever one is due (paced against the wall clock, silence when the
buffer is empty). Because the track knows exactly how much of each response it has sent, it is what
reports playback back to the core: ``PlaybackStopped`` when a finished response has been played out,
``PlaybackCleared`` with the milliseconds sent when a response was cut off (so the core truncates
the item to what the user could have heard).

When Opus is negotiated (every browser offers it first) the track encodes each frame itself, as
speech-tuned 24 kHz mono Opus, and hands aiortc the packet: left to aiortc, every 20 ms frame
would be resampled to 48 kHz stereo and encoded at 96 kbit/s in a worker thread, a thread hand-off
per frame that cost more CPU than the encoding (``bench/README.md``, *WebRTC*). Other codecs (G.711)
get PCM frames and aiortc's encoder.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription
from av import AudioFrame, CodecContext, Packet
from av.audio.codeccontext import AudioCodecContext

from audio_utils import PCM24K, AudioFormat, InputAudioConverter
from realtime_session import ClearAudio, EndAudio, PlayAudio, PlaybackCommand
from realtime_session.signals import PlaybackCleared, PlaybackStopped, Signal

SAMPLE_RATE = 24000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
OPUS_BITRATE = 32000
"""Bits a second for the speech on the track (mono, 24 kHz audio bandwidth): plenty for a voice."""
MAX_LATE_S = 0.2
"""If the loop falls this far behind the track's clock, restart the clock instead of sending a
burst to catch up (the receiver would only drop it from its jitter buffer)."""


def sends_opus(answer_sdp: str) -> bool:
    """Whether the answer's (first) audio section sends Opus: aiortc encodes with the first
    codec of the section."""
    for media in SessionDescription.parse(answer_sdp).media:
        if media.kind == "audio" and media.fmt:
            first = next((c for c in media.rtp.codecs if c.payloadType == media.fmt[0]), None)
            return first is not None and first.mimeType.lower() == "audio/opus"
    return False


@dataclass
class _Playing:
    """A response whose audio is in the buffer (or was, and is not yet reported)."""

    item_id: str
    converter: InputAudioConverter | None
    queued: int = 0
    """Bytes of its audio still in the queue."""
    played: int = 0
    """Bytes of its audio already sent on the track."""
    ended: bool = False

    @property
    def played_ms(self) -> float:
        return self.played / 2 * 1000 / SAMPLE_RATE


class OutputAudioTrack(MediaStreamTrack):
    """A paced 24 kHz mono track fed by the core's playback commands."""

    kind = "audio"

    def __init__(self, report: Callable[[Signal], None]) -> None:
        super().__init__()
        self._report = report
        self._queue: deque[tuple[str, bytes]] = deque()
        """(response id, PCM16 24 kHz) chunks, in play order."""
        self._head_offset = 0
        self._playing: dict[str, _Playing] = {}
        self._start: float | None = None
        self._timestamp = 0
        self._discard = False
        self._opus: AudioCodecContext | None = None
        self.sent_ms = 0.0
        """Audio (not silence) sent on the track so far, for stats and tests."""

    def encode_opus(self) -> None:
        """Opus was negotiated: encode frames here and hand aiortc the packets."""
        codec = CodecContext.create("libopus", "w")
        codec.bit_rate = OPUS_BITRATE
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = SAMPLE_RATE
        codec.time_base = TIME_BASE
        codec.options = {"application": "voip"}
        self._opus = codec

    def discard(self) -> None:
        """The call has no audio to send on (an offer without audio): count audio as played at
        once instead of keeping it, so the buffer events still come and nothing piles up."""
        self._discard = True

    # --- the core's commands (called by the driver, in order) -----------------------------------

    def execute(self, command: PlaybackCommand) -> None:
        """Carry out one playback command (synchronously: it only touches the buffer)."""
        match command:
            case PlayAudio(response_id, item_id, audio, audio_format):
                self._play(response_id, item_id, audio, audio_format)
            case EndAudio(response_id):
                state = self._playing.get(response_id)
                if state is not None:
                    if state.converter is not None:  # what the resampler still holds back
                        self._enqueue(response_id, state, state.converter.flush())
                    state.ended = True
                    if state.queued == 0:
                        self._stopped(response_id)
            case ClearAudio():
                self._clear()

    def _play(self, response_id: str, item_id: str, audio: bytes, fmt: AudioFormat) -> None:
        state = self._playing.get(response_id)
        if state is None:
            converter = None if fmt == PCM24K else InputAudioConverter(fmt, SAMPLE_RATE)
            state = self._playing[response_id] = _Playing(item_id, converter)
        pcm = audio if state.converter is None else state.converter.convert(audio)
        self._enqueue(response_id, state, pcm)

    def _enqueue(self, response_id: str, state: _Playing, pcm: bytes) -> None:
        if self._discard:
            state.played += len(pcm)
        elif pcm:
            state.queued += len(pcm)
            self._queue.append((response_id, pcm))

    def _clear(self) -> None:
        self._queue.clear()
        self._head_offset = 0
        playing, self._playing = self._playing, {}
        for response_id, state in playing.items():
            self._report(PlaybackCleared(response_id, state.item_id, state.played_ms))

    def _stopped(self, response_id: str) -> None:
        del self._playing[response_id]
        self._report(PlaybackStopped(response_id))

    # --- aiortc's side ----------------------------------------------------------------------------

    async def recv(self) -> AudioFrame | Packet:
        """The next 20 ms frame, when it is due: buffered audio, else silence."""
        if self.readyState != "live":
            raise MediaStreamError
        loop_time = time.monotonic()
        if self._start is None:
            self._start = loop_time
        else:
            due = self._start + self._timestamp / SAMPLE_RATE
            if due - loop_time < -MAX_LATE_S:
                self._start = loop_time - self._timestamp / SAMPLE_RATE
            elif due > loop_time:
                await asyncio.sleep(due - loop_time)
        pcm = self._take_frame()
        frame = AudioFrame.from_ndarray(
            np.frombuffer(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._timestamp
        frame.time_base = TIME_BASE
        self._timestamp += FRAME_SAMPLES
        if self._opus is None:
            return frame
        packets = self._opus.encode(frame)  # one 20 ms packet per 20 ms frame
        if not packets:
            return frame  # never seen; aiortc would encode it
        packet = packets[0]
        packet.pts = frame.pts  # the track's own clock (the encoder's starts at its delay)
        packet.time_base = TIME_BASE
        return packet

    def _take_frame(self) -> bytes:
        """Up to 20 ms from the queue (across responses), padded with silence."""
        out = bytearray()
        while self._queue and len(out) < FRAME_BYTES:
            response_id, chunk = self._queue[0]
            take = min(FRAME_BYTES - len(out), len(chunk) - self._head_offset)
            out += chunk[self._head_offset : self._head_offset + take]
            self._head_offset += take
            if self._head_offset == len(chunk):
                self._queue.popleft()
                self._head_offset = 0
            state = self._playing[response_id]
            state.queued -= take
            state.played += take
            if state.queued == 0 and state.ended:
                self._stopped(response_id)
        self.sent_ms += len(out) / 2 * 1000 / SAMPLE_RATE
        if len(out) < FRAME_BYTES:
            out += bytes(FRAME_BYTES - len(out))
        return bytes(out)
