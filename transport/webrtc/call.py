"""One WebRTC call: a peer connection wired to one :class:`~transport.driver.SessionDriver`.

The sibling of :class:`transport.websocket.RealtimeConnection`, with the same core and driver:

- the ``oai-events`` data channel carries the events (:mod:`.datachannel`), and sidebands may
  join the stream (:mod:`.sideband`);
- the peer's audio track is read into the session's input buffer (:mod:`.audio_in`);
- the responses' audio is played on an outbound track (:mod:`.audio_out`), which carries out
  the core's playback commands and reports what it played.

A call ends on hangup, when the peer goes away (connection ``failed``/``closed``, which a DTLS
close alert leads to), when the peer never connects (``REALTIME_WEBRTC_CONNECT_TIMEOUT_S``), when
nothing at all arrives from it (``REALTIME_WEBRTC_PEER_TIMEOUT_S``: a peer that vanished without
a word, which ICE consent alone would only notice after ~30 s), on the session limits the
WebSocket has (idle, maximum duration, a peer that does not read its events), and at shutdown.
Ending frees everything: tasks, driver and pipeline, peer connection, sidebands, the session slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy
from loguru import logger
from starlette.websockets import WebSocket

from model_catalog import ModelEntry
from protocol import ProtocolError
from protocol.beta import parse_beta_client_event
from protocol.validation import parse_client_event
from realtime_session.signals import Signal
from transport.driver import SessionDriver
from transport.session_log import SessionLog
from transport.session_parts import driver_limits, note_server_event, open_session
from transport.webrtc.audio_in import decode_on_arrival, start_reading
from transport.webrtc.audio_out import OutputAudioTrack, sends_opus
from transport.webrtc.datachannel import DataChannelEvents
from transport.webrtc.ice import rtc_ice_servers
from transport.webrtc.registry import new_call_id
from transport.webrtc.sideband import Sideband

WATCH_INTERVAL_S = 1.0
DRAIN_TIMEOUT_S = 1.0
TEARDOWN_TIMEOUT_S = 5.0
"""Each step of the teardown (the pipeline, the peer connection) gets this long at most."""


class RealtimeCall:
    """Serves one Realtime session over one WebRTC peer connection."""

    def __init__(
        self,
        entry: ModelEntry,
        *,
        model: str,
        initial_session: dict[str, Any] | None = None,
        beta: bool = False,
        on_end: Callable[[RealtimeCall], None] = lambda call: None,
    ) -> None:
        """Make the session of ``entry`` (a local pipeline or a relay)."""
        self.entry = entry
        self._settings = settings = entry.settings
        self.core, self._make_backend = open_session(
            entry,
            settings,
            model=model,
            session_type="realtime",
            initial_session=initial_session,
            transport="webrtc",
        )
        self.id = new_call_id()
        self._log = SessionLog(
            self.core.session_id, transport="webrtc", model=model, entry=entry.name
        )
        self._beta = beta
        self._on_end = on_end
        configuration = RTCConfiguration(
            iceServers=rtc_ice_servers(settings.ice_servers),
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        )
        self._pc = RTCPeerConnection(configuration)
        self.output = OutputAudioTrack(self._report)
        self.events = DataChannelEvents(
            beta=beta,
            max_unsent_bytes=settings.max_outbox_bytes,
            on_overflow=self.end,
        )
        self._sidebands: set[Sideband] = set()
        self._tracks: list[MediaStreamTrack] = []
        self._reading = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._driver: SessionDriver | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._ending = asyncio.Event()
        self._closed = asyncio.Event()
        self.end_reason = ""

    # --- set-up -----------------------------------------------------------------------------------

    async def answer(self, offer_sdp: str) -> str:
        """Take the peer's offer and return the answer (its ICE candidates gathered).

        Raises:
            Exception: whatever aiortc raises for an offer it cannot take.
        """
        pc = self._pc
        pc.on("datachannel", self.events.attach)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_connection_state)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        audio = [t for t in pc.getTransceivers() if t.kind == "audio"]
        for transceiver in audio:
            decode_on_arrival(transceiver.receiver)
        if audio:
            pc.addTrack(self.output)
        else:
            self.output.discard()  # no audio m-line: nothing will ever pull the track
        self.events.expect_channel(pc.sctp is not None)
        await pc.setLocalDescription(await pc.createAnswer())
        answer: str = pc.localDescription.sdp
        if audio and sends_opus(answer):
            self.output.encode_opus()
        return answer

    def start(self) -> None:
        """Open the session (``session.created`` waits for the data channel) and serve it."""
        self._driver = SessionDriver(
            self.core,
            self._make_backend,
            parse=parse_beta_client_event if self._beta else parse_client_event,
            emit=self._emit,
            limits=driver_limits(self._settings),
            playback=self.output.execute,
        )
        self._run_task = asyncio.create_task(self._run(self._driver), name=f"call-{self.id}")

    async def abort(self) -> None:
        """Free a call that was never started (its offer was refused)."""
        with contextlib.suppress(Exception):
            await self._pc.close()
        self._finish()

    # --- ending -----------------------------------------------------------------------------------

    def end(self, reason: str) -> None:
        """Ask the call to end (any number of times, from anywhere)."""
        if not self._ending.is_set():
            self.end_reason = reason
            logger.debug(f"call {self.id} ending: {reason}")  # the session's end line says why
            self._ending.set()

    async def hangup(self) -> None:
        """End the call and wait until everything is freed."""
        self.end("hangup")
        await self.wait_closed()

    async def wait_closed(self, timeout_s: float = TEARDOWN_TIMEOUT_S * 2) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), timeout_s)

    # --- sidebands --------------------------------------------------------------------------------

    async def join(self, websocket: WebSocket, *, beta: bool) -> None:
        """Serve a sideband WebSocket until it leaves or the call ends."""
        if self._driver is None or self._ending.is_set():
            return
        with self._log.context():
            await self._serve_sideband(websocket, beta=beta)

    async def _serve_sideband(self, websocket: WebSocket, *, beta: bool) -> None:
        assert self._driver is not None
        sideband = Sideband(
            websocket,
            self._driver.feed_frame,
            beta=beta,
            max_outbox_bytes=self._settings.max_outbox_bytes,
        )
        self._sidebands.add(sideband)
        try:
            await sideband.run()
        finally:
            self._sidebands.discard(sideband)

    # --- the call's life --------------------------------------------------------------------------

    async def _run(self, driver: SessionDriver) -> None:
        """Serve the call; every line logged meanwhile names the session, the last says why it
        ended."""
        with self._log.context():
            self._log.started(f"call {self.id}" + (", beta dialect" if self._beta else ""))
            try:
                await self._serve(driver)
            finally:
                self._log.ended(f"call {self.id} ended: {self.end_reason or 'cancelled'}")

    async def _serve(self, driver: SessionDriver) -> None:
        waiting: set[asyncio.Task[Any]] = set()
        try:
            await driver.start()
            self._reading = True
            for track in self._tracks:
                self._read(track, driver)
            self._spawn(self.events.pump(driver.feed_frame), "events")
            self._spawn(self._watch(), "watchdog")
            driving = asyncio.create_task(driver.run())
            ending = asyncio.create_task(self._ending.wait())
            waiting = {driving, ending}
            done, _ = await asyncio.wait(
                waiting,
                timeout=self._settings.max_session_duration_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                self._expire()
            elif driving in done:
                closure = driving.result()  # raises if the driver failed: logged below
                self.end(closure.reason)
        except Exception:
            logger.exception(f"call {self.id} failed")
            self.end("the call failed (logged above)")
        finally:
            for task in [*waiting, *self._tasks]:
                task.cancel()
            await self._teardown(driver)
            self._finish()

    async def _teardown(self, driver: SessionDriver) -> None:
        """Free everything, each step bounded, so one stuck step cannot keep the others."""
        try:
            await asyncio.wait_for(driver.close(), TEARDOWN_TIMEOUT_S)
        except Exception:
            logger.exception(f"call {self.id}: the session's pipeline did not close cleanly")
        await self.events.drain(DRAIN_TIMEOUT_S)  # the last events (an error) reach the peer
        for sideband in list(self._sidebands):
            sideband.end()
        self.output.stop()
        try:
            await asyncio.wait_for(self._pc.close(), TEARDOWN_TIMEOUT_S)
        except Exception:
            logger.exception(f"call {self.id}: the peer connection did not close cleanly")

    def _finish(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._on_end(self)

    def _expire(self) -> None:
        minutes = self._settings.max_session_duration_s / 60
        error = ProtocolError(
            "session_expired", f"Your session hit the maximum duration of {minutes:g} minutes."
        )
        self._emit(error.to_event())
        self.end("session expired")

    async def _watch(self) -> None:
        """End the call when the peer never connects, or when nothing arrives from it any more."""
        settings = self._settings
        loop = asyncio.get_running_loop()
        began = last_change = loop.time()
        last_packets = -1
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = loop.time()
            state = self._pc.connectionState
            if state in ("failed", "closed"):
                self.end(f"peer connection {state}")
                return
            if state != "connected":
                if now - began > settings.webrtc_connect_timeout_s:
                    self.end("the peer did not connect in time")
                    return
                continue
            packets = await self._packets_received()
            if packets is None or packets != last_packets:
                last_packets, last_change = packets if packets is not None else -1, now
            elif now - last_change > settings.webrtc_peer_timeout_s:
                self.end(f"nothing received from the peer for {now - last_change:.1f} s")
                return

    async def _packets_received(self) -> int | None:
        """Packets (RTP, RTCP, DTLS, SCTP) received on the call's transport so far."""
        if not self._pc.getTransceivers():
            return None  # no media: ICE consent and DTLS close are the only signs of life
        report = await self._pc.getStats()
        counts = [
            stats.packetsReceived
            for stats in report.values()
            if getattr(stats, "type", "") == "transport"
        ]
        return sum(counts) if counts else None

    # --- aiortc's events ------------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            return
        self._tracks.append(track)
        if self._reading and self._driver is not None:
            self._read(track, self._driver)

    def _on_connection_state(self) -> None:
        state = self._pc.connectionState
        if state in ("failed", "closed"):
            self.end(f"peer connection {state}")

    def _read(self, track: MediaStreamTrack, driver: SessionDriver) -> None:
        _reader, task = start_reading(track, driver.feed_track_audio)
        self._tasks.append(task)

    def _spawn(self, coroutine: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=f"call-{self.id}-{name}"))

    # --- what the driver and the track report ----------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> None:
        note_server_event(self.entry, event)
        self._log.note(event)
        self.events.send(event)
        for sideband in list(self._sidebands):
            sideband.send(event)

    def _report(self, signal: Signal) -> None:
        if self._driver is not None:
            self._driver.report(signal)
