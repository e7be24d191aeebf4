"""The push-to-talk Textual app: the screen, the keys, the connection loop and the recording.

:class:`RealtimeApp` wires the other modules together: it keeps one Realtime session open
(re-opening it with backoff, :mod:`.session`), applies server events (:mod:`.handlers`), streams
the :class:`~clients.push_to_talk.audio_io.AudioSource` to the server while recording, and
interrupts playback on a barge-in (:mod:`.playback`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, Header, RichLog
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from clients.events import AUDIO_DELTA_TYPE, audio_append, commit, response_create
from clients.push_to_talk.audio_io import AudioSink, AudioSource, AudioUnavailable
from clients.push_to_talk.config import ClientConfig
from clients.push_to_talk.event_log import ClientEvent, EventLog
from clients.push_to_talk.handlers import ServerEventHandlers
from clients.push_to_talk.playback import NullSink, PlaybackTracker
from clients.push_to_talk.session import (
    backoff_delay,
    describe_connection_error,
    sdk_client,
    session_config,
)
from clients.push_to_talk.widgets import (
    IDLE_HINT,
    METER_FLOOR_DB,
    RecordingIndicator,
    StatusLine,
    TurnText,
    level_dbfs,
)
from clients.wav import duration_ms

MIN_COMMIT_MS = 100
"""The shortest turn the server accepts."""


class RealtimeApp(App[None]):
    """The push-to-talk client: one Realtime session, re-opened whenever the connection drops."""

    TITLE = "Realtime push-to-talk"
    CSS = """
    Screen { layout: vertical; }
    #status, #recorder { height: 1; padding: 0 1; }
    #turn { height: auto; border: round $accent; padding: 0 1; }
    #user, #assistant { height: auto; }
    #history { border: round $primary-darken-2; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "talk", "Talk / send"),
        Binding("c", "interrupt", "Interrupt"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        config: ClientConfig,
        *,
        source: AudioSource | None,
        sink: AudioSink,
        notes: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.source = source
        self.sink = sink
        self.notes = list(notes or [])
        self.client = sdk_client(config)
        self.connection: Any = None
        self.session_id: str | None = None
        self.recording = False
        self.events = EventLog()
        self.sent_events: list[dict[str, Any]] = []
        self.reconnect_initial_s = 0.5
        self.reconnect_max_s = 8.0
        self.reconnect_attempt = 0
        self.tracker = PlaybackTracker()
        self.server_events = ServerEventHandlers(self)
        self._recorder: Worker[None] | None = None
        self._appended_ms = 0

    # --- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Status, recorder, the current turn, a history log and the key bindings."""
        yield Header(show_clock=False)
        yield StatusLine(id="status")
        yield RecordingIndicator(id="recorder")
        with Vertical(id="turn"):
            yield TurnText("You", "bold cyan", id="user")
            yield TurnText("Assistant", "bold magenta", id="assistant")
        yield RichLog(id="history", wrap=True, markup=False, highlight=False)
        yield Footer()

    @property
    def status(self) -> StatusLine:
        """The status line widget."""
        return self.query_one("#status", StatusLine)

    @property
    def recorder(self) -> RecordingIndicator:
        """The recording indicator widget."""
        return self.query_one("#recorder", RecordingIndicator)

    @property
    def user_view(self) -> TurnText:
        """The user's transcript widget."""
        return self.query_one("#user", TurnText)

    @property
    def assistant_view(self) -> TurnText:
        """The assistant's text widget."""
        return self.query_one("#assistant", TurnText)

    def log_line(self, message: str, style: str = "") -> None:
        """Add a timestamped line to the history pane."""
        stamp = time.strftime("%H:%M:%S")
        line = Text.assemble((f"{stamp} ", "dim"), (message, style))
        self.query_one("#history", RichLog).write(line)

    def set_status(self, state: str, detail: str) -> None:
        """Show the connection state (``connected``, ``connecting``, ``down``) and a detail."""
        self.status.state = state
        self.status.detail = detail
        self.events.append(ClientEvent("client.status", f"{state}: {detail}"))

    async def on_mount(self) -> None:
        """Start the audio output, the connection loop and the playback display."""
        self.sub_title = self.config.display_url
        mode = "hands-free (server VAD)" if self.config.hands_free else "push-to-talk"
        source = self.source.name if self.source else "none"
        self.log_line(f"{mode}; input: {source}; output: {self.sink.name}")
        for note in self.notes:
            self.log_line(note, "bold yellow")
            self.notify(note, severity="warning", timeout=8)
        await self._start_sink()
        self.run_worker(self._connection_loop(), name="connection", exit_on_error=False)
        self.set_interval(0.1, self._refresh_playback)

    async def _start_sink(self) -> None:
        try:
            await self.sink.start()
        except AudioUnavailable as error:
            note = f"No speaker: {error}. Replies are shown but not played."
            self.log_line(note, "bold yellow")
            self.sink = NullSink()
            await self.sink.start()

    async def on_unmount(self) -> None:
        """Release the devices and files and the SDK client."""
        if self.recording and self.source is not None:
            await self.source.stop()
        await self.sink.close()
        await self.client.close()

    # --- connection -------------------------------------------------------------------------

    async def _connection_loop(self) -> None:
        """Connect, serve the session, and reconnect with backoff whenever it ends."""
        while True:
            self.set_status("connecting", f"to {self.config.display_url}")
            reason = await self._serve_one_connection()
            self.reconnect_attempt += 1
            attempt = self.reconnect_attempt
            delay = backoff_delay(attempt, self.reconnect_initial_s, self.reconnect_max_s)
            self.set_status("down", f"{reason}; retrying in {delay:.1f} s (attempt {attempt})")
            self.log_line(f"disconnected: {reason}; reconnecting in {delay:.1f} s", "yellow")
            self.events.append(ClientEvent("client.disconnected", reason))
            await asyncio.sleep(delay)

    async def _serve_one_connection(self) -> str:
        """One connection's lifetime; returns why it ended."""
        try:
            async with self.client.realtime.connect(model=self.config.model) as connection:
                self.connection = connection
                await connection.session.update(session=session_config(self.config))
                async for event in connection:
                    try:
                        await self.handle_server_event(event)
                    except NoMatches:
                        # The screen is being torn down (quitting) while events still arrive.
                        return "the app is closing"
            return "the server closed the connection"
        except asyncio.CancelledError:
            raise
        except Exception as error:
            return describe_connection_error(error)
        finally:
            self.connection = None
            await self._on_disconnected()

    async def _on_disconnected(self) -> None:
        if self.recording:
            self._set_recording(False)
            if self.source is not None:
                await self.source.stop()
        # Audio already received still plays out (and is saved by a WAV sink on exit); only the
        # bookkeeping for truncation goes, since the session it referred to is gone.
        self.session_id = None
        self.status.session_id = ""
        self.tracker.reset()
        self.server_events.reset()

    async def send(self, event: dict[str, Any]) -> bool:
        """Send a client event if connected; ``False`` (and a log line) if it could not go out."""
        connection = self.connection
        if connection is None:
            return False
        if event["type"] != "input_audio_buffer.append":
            self.sent_events.append(event)
        try:
            await connection.send(event)
        except Exception as error:
            self.log_line(f"could not send {event['type']}: {error}", "red")
            return False
        return True

    async def handle_server_event(self, event: Any) -> None:
        """Update the UI and playback for one server event, then log it (so a test that waits
        for an event sees its effects)."""
        try:
            await self.server_events.handle(event)
        finally:
            if getattr(event, "type", None) != AUDIO_DELTA_TYPE:
                self.events.append(event)

    # --- playback ---------------------------------------------------------------------------

    async def interrupt(self, reason: str, *, cancel: bool = True) -> None:
        """Stop playback at once; cancel the active response; truncate the item to what was heard.

        ``cancel`` is false when the server cancels by itself (server VAD barge-in) or already did.
        """
        response_id = self.tracker.mute_active()
        if response_id is not None and cancel:
            await self.send({"type": "response.cancel", "response_id": response_id})
        cut = self.tracker.cut(self.sink, response_id)
        if cut is None:
            return
        await self.send(
            {
                "type": "conversation.item.truncate",
                "item_id": cut.item_id,
                "content_index": 0,
                "audio_end_ms": cut.audio_end_ms,
            }
        )
        self.assistant_view.detail = f"[interrupted after {cut.audio_end_ms} ms]"
        heard = f"heard {cut.audio_end_ms} ms of {cut.item_id}"
        self.log_line(f"interrupted ({reason}): {heard}", "yellow")

    def _refresh_playback(self) -> None:
        item_id = self.tracker.playing_item
        try:
            view = self.assistant_view
        except NoMatches:  # the timer can fire once more while the screen is torn down
            return
        if item_id is None or view.detail.startswith("["):
            return
        played, received = self.sink.played_ms(item_id), self.sink.received_ms(item_id)
        view.detail = f"▶ {played}/{received} ms" if played < received else ""

    # --- recording --------------------------------------------------------------------------

    async def action_talk(self) -> None:
        """K: start talking, or stop and send the turn."""
        if self.recording:
            await self.stop_recording()
        else:
            await self.start_recording()

    async def action_interrupt(self) -> None:
        """C: stop the assistant (cancel the response, truncate what was not heard)."""
        await self.interrupt("you pressed C")

    async def start_recording(self) -> None:
        """Interrupt the assistant if it is speaking, then stream the source to the server."""
        if self.source is None:
            self.notify(
                "No microphone. Run with --input-wav FILE to speak from a WAV file.",
                severity="error",
            )
            return
        if self.connection is None or self.session_id is None:
            self.notify("Not connected yet.", severity="warning")
            return
        if not self.config.hands_free:  # hands-free: unmuting is not speech; server VAD decides
            await self.interrupt("you started talking")
        try:
            await self.source.start()
        except AudioUnavailable as error:
            self.notify(f"No microphone: {error}", severity="error")
            return
        self._appended_ms = 0
        self._set_recording(True, "K to mute" if self.config.hands_free else "K to send")
        self.user_view.text = ""
        self.user_view.detail = "(listening…)"
        self._recorder = self.run_worker(self._stream_input(), name="input", exit_on_error=False)

    async def _stream_input(self) -> None:
        """Read the source and append each chunk to the server's input buffer."""
        assert self.source is not None
        while (chunk := await self.source.read()) is not None:
            self.recorder.level_db = level_dbfs(chunk)
            if await self.send(audio_append(chunk)):
                self._appended_ms += duration_ms(len(chunk))
        self.recorder.level_db = METER_FLOOR_DB
        if self.recording:
            self._on_input_exhausted()

    def _on_input_exhausted(self) -> None:
        name = self.source.name if self.source else "input"
        self.events.append(ClientEvent("client.input_finished", name))
        if self.config.hands_free:
            self._set_recording(False)
        else:
            self.recorder.note = f"end of {name}: K to send"

    def _set_recording(self, on: bool, note: str = IDLE_HINT) -> None:
        self.recording = on
        self.recorder.recording = on
        self.recorder.note = note

    async def stop_recording(self) -> None:
        """Stop the source; in push-to-talk mode commit the turn and ask for a response."""
        self._set_recording(False)
        if self.source is not None:
            await self.source.stop()
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await recorder.wait()  # every chunk is sent before the commit
        if self.config.hands_free:
            return
        if self._appended_ms < MIN_COMMIT_MS:
            self.notify("Too short: hold K for at least 0.1 s.", severity="warning")
            await self.send({"type": "input_audio_buffer.clear"})
            return
        self.user_view.detail = "(sent)"
        await self.send(commit())
        await self.send(response_create())
