#!/usr/bin/env python
"""A push-to-talk terminal client for the Realtime API (our server or OpenAI's).

Press ``K`` to start talking, ``K`` again to send the turn, ``C`` to interrupt the assistant and
``Q`` to quit. It speaks the standard protocol through the official ``openai`` SDK
(``AsyncOpenAI().realtime.connect``), so the same program works against this server and, with
``--openai``, against OpenAI's API.

    python push_to_talk_app.py                          # ws://localhost:8000/v1/realtime
    python push_to_talk_app.py --url ws://gpu-box:8000/v1/realtime --voice marin
    python push_to_talk_app.py --hands-free             # server VAD decides when you stopped
    python push_to_talk_app.py --openai                 # OpenAI's API, key from OPENAI_API_KEY
    python push_to_talk_app.py --input-wav question.wav --output-wav reply.wav   # no sound card

Audio devices need the client extras (``pip install -r requirements-client.txt``, plus PortAudio);
``sounddevice`` is imported only when a device is really used, so the server install never needs
PortAudio. Without a usable device the app says so and can run from WAV files instead.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import math
import os
import sys
import threading
import time
import wave
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

try:
    from openai import AsyncOpenAI
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.binding import Binding, BindingType
    from textual.containers import Vertical
    from textual.css.query import NoMatches
    from textual.reactive import reactive
    from textual.widgets import Footer, Header, RichLog, Static
    from textual.worker import Worker, WorkerCancelled, WorkerFailed
except ImportError as missing:  # pragma: no cover - depends on the install
    raise SystemExit(
        f"push_to_talk_app.py needs the client extras ({missing.name} is missing): "
        "pip install -r requirements-client.txt"
    ) from missing

from audio_utils import read_pcm16_wav

SAMPLE_RATE = 24_000
"""The Realtime API's ``audio/pcm`` format: 24 kHz, mono, signed 16-bit little-endian."""
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
CHUNK_MS = 100
CHUNK_BYTES = CHUNK_MS * BYTES_PER_MS
MIN_COMMIT_MS = 100
DEFAULT_URL = "ws://localhost:8000/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"
METER_CELLS = 24
METER_FLOOR_DB = -60.0
IDLE_HINT = "Press K to talk, C to interrupt, Q to quit"
CLOSE_CODES = {
    1001: "server going away",
    1006: "connection dropped",
    1011: "server error",
    1012: "server restarting",
    3000: "authentication failed",
    4000: "invalid request",
}


# --- audio helpers -------------------------------------------------------------------------------


class AudioUnavailable(RuntimeError):
    """No usable sound device (no PortAudio, no device, or the device refused the format)."""


def load_sounddevice() -> Any:
    """Import ``sounddevice`` on demand, turning every failure into :class:`AudioUnavailable`."""
    try:
        import sounddevice  # optional: lazily
    except ImportError as error:
        raise AudioUnavailable(
            "the sounddevice package is not installed (pip install -r requirements-client.txt)"
        ) from error
    except OSError as error:  # raised by sounddevice itself when libportaudio is missing
        raise AudioUnavailable(f"{error} (install PortAudio, see docs/clients.md)") from error
    return sounddevice


def probe_device(kind: str) -> str:
    """The name of the default ``input`` or ``output`` device; :class:`AudioUnavailable` if none."""
    sd = load_sounddevice()
    try:
        info = sd.query_devices(kind=kind)
    except Exception as error:  # sounddevice raises PortAudioError or ValueError
        raise AudioUnavailable(f"no default {kind} device ({error})") from error
    return str(info.get("name", kind))


def level_dbfs(pcm: bytes) -> float:
    """The RMS level of PCM16 audio in dBFS, floored at :data:`METER_FLOOR_DB`."""
    count = len(pcm) // 2
    if count == 0:
        return METER_FLOOR_DB
    samples = memoryview(pcm[: count * 2]).cast("h")
    mean_square = sum(s * s for s in samples) / count
    if mean_square <= 0:
        return METER_FLOOR_DB
    return max(METER_FLOOR_DB, 10 * math.log10(mean_square / 32768.0**2))


def meter_bar(db: float, cells: int = METER_CELLS) -> str:
    """A text level meter: ``███████░░░░`` from :data:`METER_FLOOR_DB` to 0 dBFS."""
    filled = round((db - METER_FLOOR_DB) / -METER_FLOOR_DB * cells)
    filled = min(cells, max(0, filled))
    return "█" * filled + "░" * (cells - filled)


def open_wav_writer(path: Path) -> wave.Wave_write:
    """A WAV writer for 24 kHz mono PCM16."""
    writer = wave.open(str(path), "wb")  # noqa: SIM115 - the sink owns and closes it
    writer.setnchannels(1)
    writer.setsampwidth(2)
    writer.setframerate(SAMPLE_RATE)
    return writer


# --- audio input ---------------------------------------------------------------------------------


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
        return len(self.pcm) // BYTES_PER_MS

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


class MicrophoneSource:
    """The default input device through sounddevice (resampled if it will not open at 24 kHz)."""

    live = True

    def __init__(self, device: str | int | None = None) -> None:
        self.name = "microphone"
        self.device = device
        self._stream: Any = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._resample: Callable[[bytes], bytes] | None = None

    async def start(self) -> None:
        """Open and start the input stream."""
        sd = load_sounddevice()
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()

        def on_audio(data: Any, frames: int, when: Any, status: Any) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, bytes(data))

        try:
            self._stream = self._open(sd, SAMPLE_RATE, on_audio)
            self._resample = None
        except Exception:  # the device may refuse 24 kHz: capture natively and resample
            try:
                rate = int(sd.query_devices(self.device, kind="input")["default_samplerate"])
                self._stream = self._open(sd, rate, on_audio)
                self._resample = make_resampler(rate, SAMPLE_RATE)
            except Exception as error:
                raise AudioUnavailable(f"cannot open the microphone: {error}") from error
        self._stream.start()

    def _open(self, sd: Any, rate: int, callback: Callable[..., None]) -> Any:
        return sd.RawInputStream(
            samplerate=rate,
            channels=1,
            dtype="int16",
            blocksize=rate * CHUNK_MS // 1000,
            device=self.device,
            callback=callback,
        )

    async def read(self) -> bytes | None:
        """The next captured chunk (``None`` after :meth:`stop`)."""
        chunk = await self._queue.get()
        if chunk is not None and self._resample is not None:
            chunk = self._resample(chunk)
        return chunk

    async def stop(self) -> None:
        """Stop and close the stream."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()
        self._queue.put_nowait(None)


def make_resampler(rate_in: int, rate_out: int) -> Callable[[bytes], bytes]:
    """A streaming PCM16 resampler (soxr, from the server requirements)."""
    import numpy as np
    import soxr

    stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="int16")

    def resample(pcm: bytes) -> bytes:
        return stream.resample_chunk(np.frombuffer(pcm, dtype="<i2")).tobytes()

    return resample


# --- audio output --------------------------------------------------------------------------------


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
            return self._played.get(item_id, 0) // BYTES_PER_MS

    def received_ms(self, item_id: str) -> int:
        """Received audio of ``item_id`` in whole ms."""
        with self._lock:
            return self._received.get(item_id, 0) // BYTES_PER_MS

    def pending_ms(self, item_id: str | None = None) -> int:
        """Queued, unplayed audio in whole ms."""
        with self._lock:
            pending = sum(len(p) for i, p in self._queue if item_id is None or i == item_id)
        return pending // BYTES_PER_MS

    async def close(self) -> None:
        """Drop the queue."""
        self.stop()


class SpeakerSink(PlaybackQueue):
    """The default output device through sounddevice; the device callback consumes the queue."""

    name = "speaker"

    def __init__(self, device: str | int | None = None) -> None:
        super().__init__()
        self.device = device
        self._stream: Any = None

    async def start(self) -> None:
        """Open the output stream (silence until audio is queued)."""
        sd = load_sounddevice()
        try:
            self._stream = sd.RawOutputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=SAMPLE_RATE // 50,
                device=self.device,
                callback=self._fill,
            )
            self._stream.start()
        except Exception as error:
            raise AudioUnavailable(f"cannot open the speaker: {error}") from error

    def _fill(self, out: Any, frames: int, when: Any, status: Any) -> None:
        data = b"".join(pcm for _, pcm in self.consume(frames * 2))
        out[: len(data)] = data
        out[len(data) :] = b"\x00" * (frames * 2 - len(data))

    async def close(self) -> None:
        """Stop and close the stream."""
        self.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()


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
        if self._task is not None:
            self._task.cancel()
            self._task = None


class NullSink(ClockedSink):
    """Plays into the void (no speaker): the text still streams, timing stays realistic."""

    name = "no audio output"


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
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for item_id, pcm in self.consume(sys.maxsize):
            self.emit(item_id, pcm)
        self._writer.close()


# --- configuration -------------------------------------------------------------------------------


@dataclass
class ClientConfig:
    """What the command line chose."""

    url: str = DEFAULT_URL
    model: str = DEFAULT_MODEL
    voice: str | None = None
    instructions: str | None = None
    openai: bool = False
    api_key: str | None = None
    hands_free: bool = False
    transcription_model: str = "whisper-1"
    input_wav: Path | None = None
    output_wav: Path | None = None

    @property
    def display_url(self) -> str:
        """Where we connect, for the status line."""
        return "OpenAI (api.openai.com)" if self.openai else self.url


def websocket_base(url: str) -> tuple[str, str]:
    """``(websocket_base_url, http_base_url)`` for the SDK from ``ws://host:port/v1/realtime``.

    The SDK appends ``/realtime`` itself, so that suffix is removed.
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/realtime"):
        path = path[: -len("/realtime")]
    ws_scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    http_scheme = {"ws": "http", "wss": "https"}.get(ws_scheme, "http")
    ws_url = urlunsplit((ws_scheme, parts.netloc, path, "", ""))
    http_url = urlunsplit((http_scheme, parts.netloc, path, "", ""))
    return ws_url, http_url


def make_client(config: ClientConfig) -> AsyncOpenAI:
    """The SDK client: OpenAI's API with ``--openai``, our server otherwise."""
    if config.openai:
        return AsyncOpenAI(api_key=config.api_key or os.environ.get("OPENAI_API_KEY"))
    ws_url, http_url = websocket_base(config.url)
    api_key = config.api_key or os.environ.get("REALTIME_API_KEY") or "sk-local"
    return AsyncOpenAI(api_key=api_key, base_url=http_url, websocket_base_url=ws_url)


def session_config(config: ClientConfig) -> dict[str, Any]:
    """The ``session.update`` payload: audio in/out, input transcription, turn mode."""
    turn_detection = {"type": "server_vad"} if config.hands_free else None
    audio: dict[str, Any] = {
        "input": {
            "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
            "transcription": {"model": config.transcription_model},
            "turn_detection": turn_detection,
        },
        "output": {"format": {"type": "audio/pcm", "rate": SAMPLE_RATE}},
    }
    if config.voice:
        audio["output"]["voice"] = config.voice
    session: dict[str, Any] = {"type": "realtime", "output_modalities": ["audio"], "audio": audio}
    if config.instructions is not None:
        session["instructions"] = config.instructions
    return session


def backoff_delay(attempt: int, initial: float = 0.5, ceiling: float = 8.0) -> float:
    """Exponential backoff: 0.5, 1, 2, 4, 8, 8, ... seconds."""
    return min(ceiling, initial * 2 ** max(0, attempt - 1))


def describe_connection_error(error: BaseException) -> str:
    """A one-line, human reason for a failed or lost connection."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status is not None:
        return f"HTTP {status} from the server"
    received = getattr(error, "rcvd", None)
    if received is not None or type(error).__name__.startswith("ConnectionClosed"):
        code = received.code if received is not None else 1006
        reason = received.reason if received is not None and received.reason else ""
        meaning = reason or CLOSE_CODES.get(code, "")
        return f"connection lost (close code {code}{': ' + meaning if meaning else ''})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(error, OSError):
        return f"network error: {error.strerror or error}"
    return f"{type(error).__name__}: {error}"


def describe_server_error(error: Any) -> str:
    """An ``error`` event's payload as one readable line."""
    code = getattr(error, "code", None) or getattr(error, "type", None) or "error"
    text = f"{code}: {getattr(error, 'message', '') or '(no message)'}"
    details = []
    if getattr(error, "param", None):
        details.append(f"param {error.param}")
    if getattr(error, "event_id", None):
        details.append(f"caused by {error.event_id}")
    return f"{text} ({', '.join(details)})" if details else text


# --- event log (what tests wait on) ------------------------------------------------------------


@dataclass(frozen=True)
class ClientEvent:
    """Something that happened on the client's side, logged next to the server events.

    Types: ``client.status`` (detail: what the status line says), ``client.disconnected``
    (detail: why), ``client.input_finished`` (the source ran dry).
    """

    type: str
    detail: str = ""


class EventLog:
    """Recent events (server events except audio deltas, plus :class:`ClientEvent`), with a way
    to await one that matches a predicate."""

    def __init__(self, limit: int = 2000) -> None:
        self.events: deque[Any] = deque(maxlen=limit)
        self._waiters: list[asyncio.Future[None]] = []

    def append(self, event: Any) -> None:
        """Record an event and wake the waiters."""
        self.events.append(event)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def find(self, predicate: Callable[[Any], bool]) -> Any | None:
        """The latest recorded event matching ``predicate``."""
        return next((e for e in reversed(self.events) if predicate(e)), None)

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """The latest matching event, waiting up to ``timeout`` seconds for one to arrive."""
        async with asyncio.timeout(timeout):
            while (found := self.find(predicate)) is None:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
            return found


# --- widgets -------------------------------------------------------------------------------------


class StatusLine(Static):
    """Connection state, session id and turn mode."""

    state = reactive("connecting")
    detail = reactive("")
    session_id = reactive("")

    def render(self) -> Text:
        """``● connected · session sess_… · detail``."""
        marks = {"connected": ("●", "green"), "connecting": ("◌", "yellow"), "down": ("○", "red")}
        mark, colour = marks.get(self.state, ("?", "white"))
        text = Text.assemble((f"{mark} {self.state}", f"bold {colour}"))
        if self.session_id:
            text.append(f"  session {self.session_id}", style="bold")
        if self.detail:
            text.append(f"  {self.detail}", style="dim")
        return text


class RecordingIndicator(Static):
    """Recording state and a live input level meter."""

    recording = reactive(False)
    level_db = reactive(METER_FLOOR_DB)
    note = reactive(IDLE_HINT)

    def render(self) -> Text:
        """``🔴 REC ████░░░ -23 dB`` while recording, the hint otherwise."""
        if not self.recording:
            return Text.assemble(("⚪ ", ""), (self.note, "dim"))
        return Text.assemble(
            ("🔴 REC ", "bold red"),
            (meter_bar(self.level_db), "green" if self.level_db > -40 else "dim green"),
            (f" {self.level_db:5.1f} dB  ", ""),
            (self.note, "dim"),
        )


class TurnText(Static):
    """One side of the current turn: a label and text that may stream in."""

    text = reactive("")
    detail = reactive("")

    def __init__(self, label: str, style: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label
        self.label_style = style

    def render(self) -> Text:
        """``You: …`` / ``Assistant: …`` (server text is never parsed as markup)."""
        text = Text.assemble((f"{self.label}: ", self.label_style), self.text)
        if self.detail:
            text.append(f"  {self.detail}" if self.text else self.detail, style="dim")
        return text


# --- the app -------------------------------------------------------------------------------------


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
        self.client = make_client(config)
        self.connection: Any = None
        self.session_id: str | None = None
        self.recording = False
        self.events = EventLog()
        self.sent_events: list[dict[str, Any]] = []
        self.reconnect_initial_s = 0.5
        self.reconnect_max_s = 8.0
        self._recorder: Worker[None] | None = None
        self._appended_ms = 0
        self._attempt = 0
        self._handler_map = self._handlers()
        self._reset_conversation_state()

    def _reset_conversation_state(self) -> None:
        self._active_response: str | None = None
        self._muted_responses: set[str] = set()
        self._item_response: dict[str, str] = {}
        self._playing_item: str | None = None
        self._assistant_text: dict[str, str] = defaultdict(str)
        self._user_text: dict[str, str] = defaultdict(str)

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
            self._set_status("connecting", f"to {self.config.display_url}")
            reason = await self._serve_one_connection()
            self._attempt += 1
            delay = backoff_delay(self._attempt, self.reconnect_initial_s, self.reconnect_max_s)
            retry = f"retrying in {delay:.1f} s (attempt {self._attempt})"
            self._set_status("down", f"{reason}; {retry}")
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
        self._reset_conversation_state()

    def _set_status(self, state: str, detail: str) -> None:
        self.status.state = state
        self.status.detail = detail
        self.events.append(ClientEvent("client.status", f"{state}: {detail}"))

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

    # --- server events ----------------------------------------------------------------------

    async def handle_server_event(self, event: Any) -> None:
        """Update the UI and playback for one server event, then log it (so a test that waits
        for an event sees its effects)."""
        kind = getattr(event, "type", None)
        handler = self._handler_map.get(kind or "")
        try:
            if handler is not None:
                await handler(event)
        finally:
            if kind != "response.output_audio.delta":
                self.events.append(event)

    def _handlers(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "session.created": self._on_session_created,
            "session.updated": self._on_session_updated,
            "error": self._on_error,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "input_audio_buffer.committed": self._on_committed,
            "conversation.item.input_audio_transcription.delta": self._on_transcript_delta,
            "conversation.item.input_audio_transcription.completed": self._on_transcript_done,
            "conversation.item.input_audio_transcription.failed": self._on_transcript_failed,
            "response.created": self._on_response_created,
            "response.output_audio_transcript.delta": self._on_assistant_delta,
            "response.output_text.delta": self._on_assistant_delta,
            "response.output_audio.delta": self._on_audio_delta,
            "response.done": self._on_response_done,
            "conversation.item.truncated": self._on_truncated,
        }

    async def _on_session_created(self, event: Any) -> None:
        if self._attempt:
            self.log_line("reconnected: a new session (the old conversation is gone)", "green")
        self._attempt = 0
        self.session_id = event.session.id
        self.status.session_id = event.session.id or ""
        self._set_status("connected", "")
        self.log_line(f"session {event.session.id} created", "green")

    async def _on_session_updated(self, event: Any) -> None:
        audio = getattr(event.session, "audio", None)
        voice = getattr(getattr(audio, "output", None), "voice", None)
        mode = "server VAD" if self.config.hands_free else "manual turns"
        self._set_status("connected", f"{mode} · voice {voice}")
        live = self.source is not None and self.source.live
        if self.config.hands_free and live and not self.recording:
            await self.start_recording()  # hands-free: listen from the start, K mutes

    async def _on_error(self, event: Any) -> None:
        if getattr(event.error, "code", None) == "response_cancel_not_active":
            self.log_line("(the response had already finished when we cancelled it)", "dim")
            return  # a harmless race between our interrupt and the end of the response
        message = describe_server_error(event.error)
        self.log_line(f"server error: {message}", "bold red")
        self.notify(message, title="Server error", severity="error", timeout=6)

    async def _on_speech_started(self, event: Any) -> None:
        self.user_view.text = ""
        self.user_view.detail = "(speaking…)"
        await self.interrupt("you started speaking", cancel=False)

    async def _on_speech_stopped(self, event: Any) -> None:
        self.user_view.detail = "(transcribing…)"

    async def _on_committed(self, event: Any) -> None:
        self.user_view.text = ""
        self.user_view.detail = "(transcribing…)"

    async def _on_transcript_delta(self, event: Any) -> None:
        self._user_text[event.item_id] += event.delta or ""
        self.user_view.text = self._user_text[event.item_id]

    async def _on_transcript_done(self, event: Any) -> None:
        self._user_text[event.item_id] = event.transcript
        self.user_view.text = event.transcript
        self.user_view.detail = ""
        self.log_line(f"You: {event.transcript}", "cyan")

    async def _on_transcript_failed(self, event: Any) -> None:
        self.user_view.detail = f"(transcription failed: {describe_server_error(event.error)})"

    async def _on_response_created(self, event: Any) -> None:
        self._active_response = event.response.id
        self.assistant_view.text = ""
        self.assistant_view.detail = "(thinking…)"

    async def _on_assistant_delta(self, event: Any) -> None:
        if event.response_id in self._muted_responses:
            return
        self._assistant_text[event.item_id] += event.delta
        self.assistant_view.text = self._assistant_text[event.item_id]
        self.assistant_view.detail = ""

    async def _on_audio_delta(self, event: Any) -> None:
        if event.response_id in self._muted_responses:
            return
        self._item_response[event.item_id] = event.response_id
        self._playing_item = event.item_id
        self.sink.write(event.item_id, base64.b64decode(event.delta))

    async def _on_response_done(self, event: Any) -> None:
        response = event.response
        if self._active_response == response.id:
            self._active_response = None
        status = response.status
        if status == "cancelled":
            await self.interrupt("response cancelled", cancel=False)
        elif status == "failed":
            error = getattr(response.status_details, "error", None)
            self.log_line(f"response failed: {describe_server_error(error)}", "bold red")
        texts = [self._assistant_text.get(getattr(i, "id", ""), "") for i in response.output or []]
        said = " ".join(t for t in texts if t)
        if said:
            suffix = "" if status == "completed" else f"  [{status}]"
            self.log_line(f"Assistant: {said}{suffix}", "magenta")
        if status != "completed" and not self.assistant_view.detail.startswith("[interrupted"):
            self.assistant_view.detail = f"[{status}]"

    async def _on_truncated(self, event: Any) -> None:
        self.log_line(f"server truncated {event.item_id} at {event.audio_end_ms} ms", "dim")

    # --- playback ---------------------------------------------------------------------------

    async def interrupt(self, reason: str, *, cancel: bool = True) -> None:
        """Stop playback at once; cancel the active response; truncate the item to what was heard.

        ``cancel`` is false when the server cancels by itself (server VAD barge-in) or already did.
        """
        response_id = self._active_response
        if response_id is not None:
            self._muted_responses.add(response_id)
            if cancel:
                await self.send({"type": "response.cancel", "response_id": response_id})
        item_id = self._playing_item
        if item_id is None:
            return
        still_coming = response_id is not None and self._item_response.get(item_id) == response_id
        pending = self.sink.pending_ms(item_id)
        self.sink.stop()
        self._playing_item = None
        if pending == 0 and not still_coming:
            return  # everything was heard: nothing to truncate
        played = self.sink.played_ms(item_id)
        await self.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": played,
            }
        )
        self.assistant_view.detail = f"[interrupted after {played} ms]"
        self.log_line(f"interrupted ({reason}): heard {played} ms of {item_id}", "yellow")

    def _refresh_playback(self) -> None:
        item_id = self._playing_item
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
            audio = base64.b64encode(chunk).decode("ascii")
            if await self.send({"type": "input_audio_buffer.append", "audio": audio}):
                self._appended_ms += len(chunk) // BYTES_PER_MS
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
        await self.send({"type": "input_audio_buffer.commit"})
        await self.send({"type": "response.create"})


# --- command line --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> ClientConfig:
    """The command line as a :class:`ClientConfig`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"server (default {DEFAULT_URL})")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model (default gpt-realtime)")
    parser.add_argument("--voice", help="assistant voice (default: the server's)")
    parser.add_argument("--instructions", help="system instructions for the session")
    parser.add_argument(
        "--openai", action="store_true", help="use OpenAI's API (key from OPENAI_API_KEY)"
    )
    parser.add_argument(
        "--api-key", help="API key (default: $REALTIME_API_KEY, or $OPENAI_API_KEY with --openai)"
    )
    parser.add_argument(
        "--hands-free", action="store_true", help="server VAD decides when a turn ends"
    )
    parser.add_argument("--transcription-model", default="whisper-1", help="input transcription")
    parser.add_argument(
        "--input-wav", type=Path, help="speak this 24 kHz mono PCM16 WAV instead of the microphone"
    )
    parser.add_argument(
        "--output-wav", type=Path, help="save the reply audio here instead of playing it"
    )
    args = parser.parse_args(argv)
    if args.openai and not (args.api_key or os.environ.get("OPENAI_API_KEY")):
        parser.error("--openai needs OPENAI_API_KEY in the environment (or --api-key)")
    return ClientConfig(**{k: v for k, v in vars(args).items() if v is not None})


def open_audio(config: ClientConfig) -> tuple[AudioSource | None, AudioSink, list[str]]:
    """The audio source and sink for ``config``, and notes about missing devices."""
    notes: list[str] = []
    source: AudioSource | None
    if config.input_wav is not None:
        source = WavFileSource(config.input_wav)
    else:
        try:
            probe_device("input")
            source = MicrophoneSource()
        except AudioUnavailable as error:
            source = None
            notes.append(f"No microphone: {error}. Use --input-wav FILE to speak from a WAV file.")
    sink: AudioSink
    if config.output_wav is not None:
        sink = WavFileSink(config.output_wav)
    else:
        try:
            probe_device("output")
            sink = SpeakerSink()
        except AudioUnavailable as error:
            sink = NullSink()
            notes.append(
                f"No speaker: {error}. Replies are shown, not played; --output-wav FILE saves them."
            )
    return source, sink, notes


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the process exit code."""
    config = parse_args(argv)
    try:
        source, sink, notes = open_audio(config)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for note in notes:
        print(note, file=sys.stderr)
    RealtimeApp(config, source=source, sink=sink, notes=notes).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
