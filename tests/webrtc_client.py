"""A WebRTC client for the tests and the benchmark, on aiortc: what a browser app does.

It offers one audio track (its "microphone", fed from PCM and paced in real time, silence when
there is nothing to say) and the ``oai-events`` data channel, posts the offer to the server, and
then validates every server event on the channel like the WebSocket test client does (the SDK's
strict union and the cross-event invariants). The audio the server plays back is decoded and
kept with its arrival times, so tests can check it is real audio and measure when it came.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, AudioResampler

from tests.realtime_client import EventWaiting, InvariantChecker, validate_server_event
from transport.webrtc.audio_in import decode_on_arrival

RATE = 24000
FRAME_SAMPLES = 480  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2
SILENT_RMS = 100.0
"""A decoded frame quieter than this (PCM16 RMS) counts as silence (Opus leaves a little)."""
DEFAULT_TIMEOUT = 10.0


class MicrophoneTrack(MediaStreamTrack):
    """A paced 24 kHz mono track: queued PCM, then silence. ``speed`` > 1 sends faster."""

    kind = "audio"

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__()
        self.speed = speed
        self._pending: deque[bytes] = deque()
        self._start: float | None = None
        self._timestamp = 0
        self._drained: asyncio.Event | None = None
        self.sent_at: list[float] = []
        """When each queued frame left (``time.perf_counter``), in order: for latency figures."""

    def say(self, pcm: bytes) -> None:
        """Queue PCM16 24 kHz mono to send (cut into 20 ms frames, the last one padded)."""
        for start in range(0, len(pcm), FRAME_BYTES):
            chunk = pcm[start : start + FRAME_BYTES]
            self._pending.append(chunk + bytes(FRAME_BYTES - len(chunk)))

    async def drained(self, timeout: float = 60.0) -> None:
        """Wait until everything queued has been sent."""
        if not self._pending:
            return
        self._drained = asyncio.Event()
        await asyncio.wait_for(self._drained.wait(), timeout)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            due = self._start + self._timestamp / RATE / self.speed
            if due > now:
                await asyncio.sleep(due - now)
        if self._pending:
            chunk = self._pending.popleft()
            self.sent_at.append(time.perf_counter())
            if not self._pending and self._drained is not None:
                self._drained.set()
        else:
            chunk = bytes(FRAME_BYTES)
        frame = AudioFrame.from_ndarray(
            np.frombuffer(chunk, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, RATE)
        self._timestamp += FRAME_SAMPLES
        return frame


@dataclass
class ReceivedAudio:
    """The server's track, decoded to 24 kHz mono, with the arrival time of each frame."""

    pcm: bytearray = field(default_factory=bytearray)
    frames: list[tuple[float, float, float]] = field(default_factory=list)
    """(perf_counter at arrival, duration ms, RMS) per decoded frame."""
    audible: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def audible_ms(self) -> float:
        """Milliseconds of non-silent audio received so far."""
        return sum(ms for _, ms, rms in self.frames if rms >= SILENT_RMS)

    def first_audible_at(self, after: float = 0.0) -> float | None:
        """Arrival time of the first non-silent frame after ``after``."""
        for at, _, rms in self.frames:
            if at >= after and rms >= SILENT_RMS:
                return at
        return None

    async def wait_audible_ms(self, ms: float, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until at least ``ms`` of non-silent audio has arrived."""
        async with asyncio.timeout(timeout):
            while self.audible_ms < ms:
                self.audible.clear()
                await self.audible.wait()


class WebRTCTestClient(EventWaiting):
    """One call to the server, from the client side."""

    def __init__(
        self, *, speed: float = 1.0, with_audio: bool = True, decode_on_arrival: bool = False
    ) -> None:
        """``decode_on_arrival``: decode each audio packet when it arrives, like the server,
        instead of aiortc's default (4 packets held, 80-100 ms): the benchmark times the
        transport alone with it."""
        self.decode_on_arrival = decode_on_arrival
        self.pc = RTCPeerConnection()
        self.mic = MicrophoneTrack(speed)
        if with_audio:
            self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.invariants = InvariantChecker()
        self.received = ReceivedAudio()
        self.answer_response: httpx.Response | None = None
        self.call_id: str | None = None
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._opened = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.channel.on("open", self._opened.set)
        self.channel.on("message", self._inbox.put_nowait)
        self.pc.on("track", self._on_track)

    async def offer(self) -> str:
        """Create the offer (ICE candidates gathered) and return its SDP."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        if self.decode_on_arrival:
            for transceiver in self.pc.getTransceivers():
                decode_on_arrival(transceiver.receiver)
        return self.pc.localDescription.sdp

    async def connect(
        self,
        base_url: str,
        *,
        key: str | None = None,
        path: str = "/v1/realtime/calls",
        session: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> httpx.Response:
        """Post the offer; on 201 apply the answer and wait for the data channel to open."""
        sdp = await self.offer()
        headers = dict(headers or {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as http:
            if session is None:
                headers["Content-Type"] = "application/sdp"
                reply = await http.post(path, content=sdp, headers=headers)
            else:
                files = {
                    "sdp": (None, sdp, "application/sdp"),
                    "session": (None, json.dumps(session), "application/json"),
                }
                reply = await http.post(path, files=files, headers=headers)
        self.answer_response = reply
        if reply.status_code != 201:
            return reply
        self.call_id = reply.headers["location"].rsplit("/", 1)[-1]
        await self.accept(reply.text, timeout)
        return reply

    async def accept(self, answer_sdp: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Apply the server's answer and wait until the data channel is open."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        await asyncio.wait_for(self._opened.wait(), timeout)

    # --- events -----------------------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    async def next_event(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next server event, validated (GA; ``next_raw_event`` for a beta call)."""
        event = await self.next_raw_event(timeout)
        validate_server_event(event)
        self.invariants.check(event)
        return event

    async def next_raw_event(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next server event, parsed but not validated."""
        event: dict[str, Any] = json.loads(await asyncio.wait_for(self._inbox.get(), timeout))
        self.events.append(event)
        return event

    async def update_session(self, **session: Any) -> dict[str, Any]:
        session.setdefault("type", "realtime")
        await self.send({"type": "session.update", "session": session})
        return await self.wait_for("session.updated")

    # --- audio from the server --------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        resampler = AudioResampler(format="s16", layout="mono", rate=RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            at = time.perf_counter()
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1)
                self.received.pcm += samples.tobytes()
                power = np.mean(samples.astype(np.float64) ** 2) if samples.size else 0.0
                rms = float(np.sqrt(power))
                self.received.frames.append((at, samples.size * 1000 / RATE, rms))
                if rms >= SILENT_RMS:
                    self.received.audible.set()

    # --- the end --------------------------------------------------------------------------------

    async def close(self) -> None:
        """Hang up from the client side (DTLS close, like a browser's ``pc.close()``)."""
        for task in self._tasks:
            task.cancel()
        self.mic.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()

    async def vanish(self) -> None:
        """Stop sending and receiving without a word (no DTLS close alert), like a peer whose
        network died: the UDP sockets under the call's ICE transport are closed."""
        for task in self._tasks:
            task.cancel()
        sctp = self.pc.sctp
        assert sctp is not None
        connection = sctp.transport.transport._connection  # aioice, under the bundled transport
        for protocol in connection._protocols:
            protocol.transport.close()
