"""The clients that ship with the server, driven against a real mock-profile server.

- ``push_to_talk_app.py`` runs headless under Textual's pilot: the microphone is replaced by a WAV
  file and the speaker by :class:`FakeSink`, which "plays" only when a test advances it, so what
  was heard at the moment of a barge-in is exact.
- ``test_client.py`` runs as a subprocess: the automatic check, a dead port, and the interactive
  chat fed through a pipe.

The TUI tests skip (with the reason) only when Textual is not installed; ``make test`` installs
it from ``requirements-client.txt``.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import json
import subprocess
import sys
import threading
import wave
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests import conftest
from tests.conftest import AUDIO_DIR, ROOT, ServerProcess, free_port

HAS_TEXTUAL = importlib.util.find_spec("textual") is not None
needs_textual = pytest.mark.skipif(
    not HAS_TEXTUAL,
    reason="textual is not installed (client extra): pip install -r requirements-client.txt",
)
if HAS_TEXTUAL:
    from clients import push_to_talk as ptt
    from clients.push_to_talk import devices as ptt_devices

CLIP = AUDIO_DIR / "go_forward_human.wav"
MS_PER_CHARACTER = 20  # the mock TTS
BYTES_PER_MS = 48
TIMEOUT = 20.0
SUBPROCESS_TIMEOUT = 30.0


# --- fixtures and helpers ------------------------------------------------------------------------


class FakeSink:
    """An ``AudioSink`` whose playback advances only when the test calls :meth:`advance`."""

    name = "fake speaker"

    def __init__(self) -> None:
        self.queue: deque[tuple[str, bytes]] = deque()
        self.played: dict[str, int] = defaultdict(int)
        self.received: dict[str, int] = defaultdict(int)
        self.audio_arrived = asyncio.Event()
        self.stops = 0
        self.closed = False

    async def start(self) -> None:
        """Nothing to open."""

    def write(self, item_id: str, pcm: bytes) -> None:
        """Queue audio; nothing is played yet."""
        self.queue.append((item_id, pcm))
        self.received[item_id] += len(pcm)
        self.audio_arrived.set()

    def advance(self, ms: int) -> None:
        """Play ``ms`` of the queued audio."""
        remaining = ms * BYTES_PER_MS
        while remaining and self.queue:
            item_id, pcm = self.queue.popleft()
            if len(pcm) > remaining:
                self.queue.appendleft((item_id, pcm[remaining:]))
                pcm = pcm[:remaining]
            self.played[item_id] += len(pcm)
            remaining -= len(pcm)

    def stop(self) -> None:
        """Drop the queue (playback stops at once)."""
        self.queue.clear()
        self.stops += 1

    def played_ms(self, item_id: str) -> int:
        """Played ms of ``item_id``."""
        return self.played[item_id] // BYTES_PER_MS

    def received_ms(self, item_id: str) -> int:
        """Received ms of ``item_id``."""
        return self.received[item_id] // BYTES_PER_MS

    def pending_ms(self, item_id: str | None = None) -> int:
        """Queued, unplayed ms."""
        pending = sum(len(p) for i, p in self.queue if item_id is None or i == item_id)
        return pending // BYTES_PER_MS

    async def close(self) -> None:
        """Remember that the app released the sink."""
        self.closed = True


class FakeStream:
    """A sounddevice raw stream whose callback the test fires from a thread, as PortAudio does."""

    def __init__(self, fail: bool = False, **options: Any) -> None:
        if fail:
            raise RuntimeError("Invalid sample rate [PaErrorCode -9997]")
        self.options = options
        self.active = self.closed = False

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        self.closed = True

    def fire(self, *args: Any) -> None:
        """Run the callback on another thread and wait for it."""
        thread = threading.Thread(target=self.options["callback"], args=(*args, None, None))
        thread.start()
        thread.join(TIMEOUT)


class FakeSoundDevice:
    """Just enough of the ``sounddevice`` module for MicrophoneSource and SpeakerSink."""

    def __init__(self, native_rate: int = 24_000) -> None:
        self.native_rate = native_rate
        self.streams: list[FakeStream] = []

    def query_devices(self, device: Any = None, kind: str | None = None) -> dict[str, Any]:
        return {"name": f"fake {kind}", "default_samplerate": float(self.native_rate)}

    def RawInputStream(self, **options: Any) -> FakeStream:
        return self._open(options)

    def RawOutputStream(self, **options: Any) -> FakeStream:
        return self._open(options)

    def _open(self, options: dict[str, Any]) -> FakeStream:
        stream = FakeStream(fail=options["samplerate"] != self.native_rate, **options)
        self.streams.append(stream)
        return stream


def ws_url(server: ServerProcess) -> str:
    """The Realtime URL of a test server."""
    return f"ws://127.0.0.1:{server.port}/v1/realtime"


def clip_ms(path: Path = CLIP) -> int:
    """The clip's duration in whole ms (what the mock STT reports)."""
    with wave.open(str(path)) as wav:
        return wav.getnframes() * 1000 // wav.getframerate()


async def screen_text(pilot: Any) -> str:
    """The app's screen, once pending updates are drawn, as plain text (like the SVG screenshot
    Textual exports, minus the styling)."""
    await pilot.pause()
    width, height = pilot.app.size
    console = Console(width=width, height=height, record=True, file=io.StringIO())
    console.print(pilot.app.screen._compositor.render_update(full=True))
    return console.export_text()


@asynccontextmanager
async def running_app(
    server: ServerProcess, sink: Any, **config: Any
) -> AsyncIterator[tuple[Any, Any]]:
    """The app on ``server``, the clip as its microphone, connected: ``(app, pilot)``."""
    settings = ptt.ClientConfig(url=ws_url(server), **config)
    source = ptt.WavFileSource(CLIP, realtime=False)
    app = ptt.RealtimeApp(settings, source=source, sink=sink)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.events.wait_for(lambda e: e.type == "session.updated", TIMEOUT)
        yield app, pilot


async def talk(app: Any, pilot: Any) -> Any:
    """K, the whole clip, K; returns the ``response.done`` of the reply."""
    done_before = count(app, "response.done")
    await pilot.press("k")
    await app.events.wait_for(lambda e: e.type == "client.input_finished", TIMEOUT)
    await pilot.press("k")
    return await wait_nth(app, "response.done", done_before + 1)


def count(app: Any, kind: str) -> int:
    """How many events of type ``kind`` the app has logged."""
    return sum(1 for e in app.events.events if e.type == kind)


async def wait_nth(app: Any, kind: str, n: int) -> Any:
    """Wait until ``n`` events of type ``kind`` were logged; return the latest."""
    await app.events.wait_for(lambda e: e.type == kind and count(app, kind) >= n, TIMEOUT)
    return app.events.find(lambda e: e.type == kind)


async def retrieve_audio_ms(app: Any, item_id: str) -> int:
    """The item's audio length on the server (``conversation.item.retrieve``)."""
    await app.send({"type": "conversation.item.retrieve", "item_id": item_id})
    event = await app.events.wait_for(
        lambda e: e.type == "conversation.item.retrieved" and e.item.id == item_id, TIMEOUT
    )
    audio = event.item.content[0].audio or ""
    return len(base64.b64decode(audio)) // BYTES_PER_MS


def sent_types(app: Any) -> list[str]:
    """The types of the client events the app sent (audio appends are not recorded)."""
    return [e["type"] for e in app.sent_events]


# --- push_to_talk_app.py -------------------------------------------------------------------------


@needs_textual
async def test_push_to_talk_turn_shows_transcript_and_reply(server: ServerProcess) -> None:
    sink = FakeSink()
    async with running_app(server, sink) as (app, pilot):
        assert isinstance(sink, ptt.AudioSink)
        assert app.status.state == "connected"
        assert app.session_id and app.session_id in await screen_text(pilot)

        done = await talk(app, pilot)
        transcript = f"audio of {clip_ms()} ms"
        await app.events.wait_for(
            lambda e: e.type == "conversation.item.input_audio_transcription.completed", TIMEOUT
        )

        assert done.response.status == "completed"
        assert app.user_view.text == transcript
        assert app.assistant_view.text == f"You said: {transcript}"
        item_id = done.response.output[0].id
        assert sink.received_ms(item_id) == len(f"You said: {transcript}") * MS_PER_CHARACTER
        assert sent_types(app)[-2:] == ["input_audio_buffer.commit", "response.create"]
        screen = await screen_text(pilot)
        assert f"You: {transcript}" in screen
        assert f"Assistant: You said: {transcript}" in screen

        await pilot.press("q")
        assert not app.is_running
    assert sink.closed


@needs_textual
@pytest.mark.parametrize("trigger", ["c_key", "speech_started"])
async def test_interrupt_stops_playback_and_truncates_to_what_was_played(
    server: ServerProcess, trigger: str
) -> None:
    """The reply arrives whole (the mock is instant) but only 200 ms of it were played."""
    sink = FakeSink()
    async with running_app(server, sink) as (app, pilot):
        done = await talk(app, pilot)
        item_id = done.response.output[0].id
        received = sink.received_ms(item_id)
        sink.advance(200)
        assert sink.pending_ms(item_id) == received - 200

        if trigger == "c_key":
            await pilot.press("c")
        else:  # handed to the app directly: this case does not depend on the server's VAD
            started = {
                "type": "input_audio_buffer.speech_started",
                "event_id": "event_test",
                "audio_start_ms": 0,
                "item_id": "item_next_user_turn",
            }
            await app.handle_server_event(app.connection.parse_event(json.dumps(started)))

        truncated = await app.events.wait_for(
            lambda e: e.type == "conversation.item.truncated", TIMEOUT
        )
        assert sink.pending_ms() == 0, "playback did not stop"
        assert truncated.item_id == item_id
        assert truncated.audio_end_ms == 200 == sink.played_ms(item_id)
        assert "response.cancel" not in sent_types(app), "nothing was active to cancel"
        assert await retrieve_audio_ms(app, item_id) == 200
        assert "interrupted after 200 ms" in await screen_text(pilot)


@needs_textual
async def test_barge_in_cancels_the_active_response(slow_server: ServerProcess) -> None:
    """K while the assistant is still talking: cancel, stop, truncate, and start listening.

    The mock LLM of ``slow_server`` waits 50 ms per word, so a 30-word reply stays active for
    about 1.5 s; the turn is started with a text item to make it that long.
    """
    sink = FakeSink()
    async with running_app(slow_server, sink) as (app, pilot):
        words = " ".join(f"word{n}" for n in range(30))
        content = [{"type": "input_text", "text": words}]
        item = {"type": "message", "role": "user", "content": content}
        await app.send({"type": "conversation.item.create", "item": item})
        await app.send({"type": "response.create"})
        await asyncio.wait_for(sink.audio_arrived.wait(), TIMEOUT)
        created = app.events.find(lambda e: e.type == "response.created")
        item_id = next(iter(sink.received))
        sink.advance(40)

        await pilot.press("k")  # talk over the assistant

        done = await app.events.wait_for(lambda e: e.type == "response.done", TIMEOUT)
        truncated = await app.events.wait_for(
            lambda e: e.type == "conversation.item.truncated", TIMEOUT
        )
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "client_cancelled"
        cancel = next(e for e in app.sent_events if e["type"] == "response.cancel")
        assert cancel["response_id"] == created.response.id
        sent = sent_types(app)
        assert sent.index("response.cancel") < sent.index("conversation.item.truncate")
        assert (truncated.item_id, truncated.audio_end_ms) == (item_id, 40)
        assert sink.pending_ms() == 0
        assert app.recording, "K should also start the user's new turn"
        assert await retrieve_audio_ms(app, item_id) == 40


@needs_textual
async def test_runs_from_files_without_a_sound_device(
    server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No PortAudio: the app says so; --input-wav and --output-wav still make a full turn."""

    def no_portaudio() -> Any:
        raise ptt.AudioUnavailable("PortAudio library not found")

    monkeypatch.setattr(ptt_devices, "load_sounddevice", no_portaudio)
    source, sink, notes = ptt.open_audio(ptt.ClientConfig())
    assert source is None and isinstance(sink, ptt.NullSink)
    assert any("No microphone" in n and "--input-wav" in n for n in notes)
    assert any("No speaker" in n and "--output-wav" in n for n in notes)

    output = tmp_path / "reply.wav"
    config = ptt.ClientConfig(url=ws_url(server), input_wav=CLIP, output_wav=output)
    source, sink, notes = ptt.open_audio(config)
    assert notes == []
    assert isinstance(source, ptt.WavFileSource) and isinstance(sink, ptt.WavFileSink)
    source.realtime = False
    app = ptt.RealtimeApp(config, source=source, sink=sink)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.events.wait_for(lambda e: e.type == "session.updated", TIMEOUT)
        done = await talk(app, pilot)
        reply = done.response.output[0].content[0].transcript
        await pilot.press("q")
    with wave.open(str(output)) as wav:
        saved_ms = wav.getnframes() * 1000 // wav.getframerate()
    assert saved_ms == len(reply) * MS_PER_CHARACTER


@needs_textual
async def test_hands_free_leaves_turns_to_server_vad(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Server VAD is configured; a file waits for K and is never committed by the client; a
    live microphone starts listening by itself."""
    async with running_app(server, FakeSink(), hands_free=True) as (app, pilot):
        updated = app.events.find(lambda e: e.type == "session.updated")
        assert updated.session.audio.input.turn_detection.type == "server_vad"
        assert not app.recording, "a file source waits for K"
        await pilot.press("k")
        await app.events.wait_for(lambda e: e.type == "client.input_finished", TIMEOUT)
        assert not app.recording, "at the end of the file the input is off again"
        assert "input_audio_buffer.commit" not in sent_types(app)

    device = FakeSoundDevice()
    monkeypatch.setattr(ptt_devices, "load_sounddevice", lambda: device)
    config = ptt.ClientConfig(url=ws_url(server), hands_free=True)
    app = ptt.RealtimeApp(config, source=ptt.MicrophoneSource(), sink=FakeSink())
    async with app.run_test(size=(110, 32)) as pilot:
        await app.events.wait_for(lambda e: e.type == "session.updated", TIMEOUT)
        assert app.recording and device.streams[-1].active
        await pilot.press("k")  # mute
        assert not app.recording and device.streams[-1].closed
        assert "input_audio_buffer.commit" not in sent_types(app)


@needs_textual
async def test_server_vad_speech_started_truncates_playback(server: ServerProcess) -> None:
    """Hands-free end to end: speaking over a reply makes the server send ``speech_started``;
    the client stops playback and truncates to what was played (the server cancels by itself)."""
    sink = FakeSink()
    async with running_app(server, sink, hands_free=True) as (app, pilot):
        await pilot.press("k")
        done = await app.events.wait_for(lambda e: e.type == "response.done", TIMEOUT)
        assert done.response.status == "completed"
        item_id = done.response.output[0].id
        sink.advance(100)

        await pilot.press("k")  # the clip again, over the reply

        truncated = await app.events.wait_for(
            lambda e: e.type == "conversation.item.truncated", TIMEOUT
        )
        assert count(app, "input_audio_buffer.speech_started") >= 2
        assert (truncated.item_id, truncated.audio_end_ms) == (item_id, 100)
        assert sink.pending_ms(item_id) == 0 and sink.stops >= 1
        assert "response.cancel" not in sent_types(app)
        assert "input_audio_buffer.commit" not in sent_types(app)


@needs_textual
async def test_reconnects_with_a_visible_status_when_the_server_restarts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.setattr(conftest, "free_port", lambda: port)
    first = ServerProcess()
    second: ServerProcess | None = None
    try:
        app = ptt.RealtimeApp(ptt.ClientConfig(url=ws_url(first)), source=None, sink=FakeSink())
        app.reconnect_max_s = 0.5
        async with app.run_test(size=(110, 32)) as pilot:
            await app.events.wait_for(lambda e: e.type == "session.updated", TIMEOUT)
            old_session = app.session_id

            await asyncio.to_thread(first.stop)
            down = await app.events.wait_for(
                lambda e: e.type == "client.status" and e.detail.startswith("down"), TIMEOUT
            )
            assert "connection lost" in down.detail and "retrying in 0.5 s" in down.detail
            assert "disconnected: connection lost" in await screen_text(pilot)

            second = await asyncio.to_thread(ServerProcess)
            await app.events.wait_for(
                lambda e: e.type == "session.created" and e.session.id != old_session, TIMEOUT
            )
            await app.events.wait_for(
                lambda e: e.type == "session.updated" and e.session.id == app.session_id,
                TIMEOUT,
            )
            assert app.status.state == "connected"
            assert app.session_id in await screen_text(pilot)
    finally:
        if second is not None:
            second.stop()


@needs_textual
async def test_server_errors_are_shown_readably(server: ServerProcess) -> None:
    async with running_app(server, FakeSink()) as (app, pilot):
        await app.send({"type": "input_audio_buffer.commit", "event_id": "evt_short"})
        error = await app.events.wait_for(lambda e: e.type == "error", TIMEOUT)
        assert error.error.code == "input_audio_buffer_commit_empty"
        screen = await screen_text(pilot)
        assert "server error: input_audio_buffer_commit_empty" in screen
        assert "evt_short" in screen


@needs_textual
@pytest.mark.parametrize("native_rate", [24_000, 48_000])
async def test_microphone_source_delivers_callback_audio(
    monkeypatch: pytest.MonkeyPatch, native_rate: int
) -> None:
    """Chunks from the PortAudio thread reach ``read`` (resampled if 24 kHz was refused)."""
    device = FakeSoundDevice(native_rate)
    monkeypatch.setattr(ptt_devices, "load_sounddevice", lambda: device)
    microphone = ptt.MicrophoneSource()
    await microphone.start()
    stream = device.streams[-1]
    assert stream.active
    assert stream.options["samplerate"] == native_rate
    assert stream.options["blocksize"] == native_rate // 10
    captured = ptt.WavFileSource(CLIP).pcm[48_000 : 48_000 + native_rate // 5]

    stream.fire(captured, len(captured) // 2)
    chunk = await asyncio.wait_for(microphone.read(), TIMEOUT)

    assert chunk is not None
    if native_rate == 24_000:
        assert chunk == captured
    else:  # 100 ms at 48 kHz becomes at most 100 ms at 24 kHz (the resampler holds a few ms back)
        assert 0 < len(chunk) <= len(captured) // 2 and len(chunk) % 2 == 0
    await microphone.stop()
    assert stream.closed
    assert await asyncio.wait_for(microphone.read(), TIMEOUT) is None


@needs_textual
async def test_speaker_sink_plays_from_the_callback_and_counts_per_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device = FakeSoundDevice()
    monkeypatch.setattr(ptt_devices, "load_sounddevice", lambda: device)
    speaker = ptt.SpeakerSink()
    await speaker.start()
    stream = device.streams[-1]
    frames = stream.options["blocksize"]
    assert (stream.options["samplerate"], frames) == (24_000, 480)
    speaker.write("item_a", b"\x01\x00" * 720)  # 30 ms

    first, second = bytearray(frames * 2), bytearray(frames * 2)
    stream.fire(first, frames)
    stream.fire(second, frames)

    assert first == b"\x01\x00" * 480
    assert second == b"\x01\x00" * 240 + b"\x00\x00" * 240, "the rest is silence"
    assert (speaker.played_ms("item_a"), speaker.pending_ms()) == (30, 0)
    await speaker.close()
    assert stream.closed


@needs_textual
async def test_wav_source_stop_cuts_the_real_time_wait_short() -> None:
    source = ptt.WavFileSource(CLIP)
    await source.start()
    assert len(await source.read() or b"") == ptt.CHUNK_BYTES  # the first chunk is due now
    second = asyncio.create_task(source.read())  # due in 100 ms
    await asyncio.sleep(0)  # let it start waiting
    await source.stop()
    # Had the stop not cut the wait short, the read would have returned the second chunk.
    assert await asyncio.wait_for(second, TIMEOUT) is None


# --- test_client.py ------------------------------------------------------------------------------


def run_test_client(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python test_client.py ARGS`` with a timeout, output captured."""
    return subprocess.run(
        [sys.executable, "test_client.py", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


def test_test_client_passes_against_the_mock_server(server: ServerProcess) -> None:
    result = run_test_client("--url", ws_url(server))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for step in ("health", "session", "text turn", "audio turn", "tool call"):
        assert any(line.startswith("PASS") and step in line for line in lines), result.stdout
    assert f'heard "audio of {clip_ms()} ms"' in result.stdout
    assert "get_weather" in result.stdout
    assert "5/5 passed" in result.stdout


def test_test_client_fails_clearly_against_a_dead_port() -> None:
    result = run_test_client("--url", f"ws://127.0.0.1:{free_port()}/v1/realtime")
    assert result.returncode != 0
    assert "FAIL  health" in result.stdout
    assert "connection refused" in result.stdout
    assert "Is the server running?" in result.stdout
    assert "0/5 passed" in result.stdout


def test_interactive_chat_through_a_pipe(server: ServerProcess, tmp_path: Path) -> None:
    result = run_test_client(
        "-i", "--url", ws_url(server), "--save-audio", str(tmp_path), stdin="hello there\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "you> hello there" in result.stdout
    assert "assistant> You said: hello there" in result.stdout
    with wave.open(str(tmp_path / "reply-001.wav")) as wav:
        assert (
            wav.getnframes() * 1000 // wav.getframerate()
            == len("You said: hello there") * MS_PER_CHARACTER
        )


async def run_checker(server: ServerProcess, tool_calling: str | None = None) -> tuple[bool, str]:
    """The automatic check in this process; ``tool_calling`` stands in for what ``/health`` says
    the model does with tools (the mock's LLM chooses tools itself)."""
    from clients.check.steps import DEFAULT_WAV, Checker

    out = io.StringIO()
    checker = Checker(ws_url(server), DEFAULT_WAV, None, TIMEOUT, out)
    if tool_calling is not None:
        checker.tool_calling = lambda: tool_calling  # type: ignore[method-assign]
    passed = await checker.run()
    return passed, out.getvalue()


async def test_test_client_skips_the_tool_step_for_a_model_that_cannot_call_tools(
    server: ServerProcess,
) -> None:
    passed, report = await run_checker(server, "none")
    assert passed, report  # a skipped step is not a failure: exit code 0
    assert "SKIP  tool call" in report
    assert "skipped (model cannot call tools)" in report
    assert "4/5 passed" in report and "no failures, 1 skipped" in report


async def test_test_client_names_the_tool_for_a_model_that_calls_only_when_told(
    server: ServerProcess,
) -> None:
    passed, report = await run_checker(server, "forced")
    assert passed, report
    line = next(line for line in report.splitlines() if "tool call" in line)
    assert line.startswith("PASS"), report
    assert "get_weather(" in line and "calls tools only when told to" in line
    assert "5/5 passed" in report


def test_test_client_reads_the_models_tool_calling_from_health() -> None:
    from clients.check.steps import DEFAULT_WAV, Checker

    checker = Checker("ws://127.0.0.1:1/v1/realtime", DEFAULT_WAV, None, TIMEOUT, io.StringIO())
    assert checker.tool_calling() == "auto"  # nothing said: an older server
    forced = {"default": True, "capabilities": {"tool_calling": "forced"}}
    checker.health = {"models": {"other": {"default": False}, "mine": forced}}
    assert checker.tool_calling() == "forced"  # the default entry serves gpt-realtime
    checker.health = {"models": {"gpt-realtime": {"capabilities": {"tool_calling": "none"}}}}
    assert checker.tool_calling() == "none"
