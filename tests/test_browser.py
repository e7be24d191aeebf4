"""The browser console (``web_console``, served at ``/``) in real headless Chromium.

Debian's ``chromium`` (``/usr/bin/chromium``) is driven by the Python ``playwright`` package
(``requirements-browser.txt``; no browser download). Chromium's fake media flags feed a WAV file
as the microphone: 2.5 s of silence, then the test clip
``tests/fixtures/audio/go_forward_human.wav`` (speech from about 3.5 s to 5.4 s after the page
opens the microphone), looping. The server runs the mock
profile, whose real Silero VAD hears that speech; the mock STT names the committed audio's
duration (``audio of N ms``), the mock LLM answers ``You said: T``, and the mock TTS speaks 20 ms
of tone per character, which the page really plays.

The console runs over both transports. Over the WebSocket the page plays the audio deltas itself
(its ``window.consoleState`` reports what was heard). Over WebRTC (the default) the call is a real
peer connection on loopback (Chromium's host candidates, no flags needed: the server also learns
the browser's address from its connectivity checks, so even mDNS-named candidates work); the
reply's audio is checked where it arrives, by a WebAudio analyser on the ``<audio>`` element's
remote stream, and in the peer connection's inbound RTP statistics.

Screenshots land in ``.pytest_logs/console-*.png``. Without Chromium or Playwright the tests skip
with the reason, except under CI (``CI`` set), where they fail: CI installs both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AUDIO_DIR, ROOT, ServerProcess

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = ROOT / ".pytest_logs"
API_KEY = "sk-console-test-key"
WAIT_MS = 20_000  # every wait in the page; generous for a loaded 2-core machine
LEAD_SILENCE_S = 2.5
MS_PER_CHARACTER = 20  # the mock TTS


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -r requirements-browser.txt"
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
    return None


MISSING = _missing()
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"browser tests cannot run in CI: {MISSING}")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake microphone: silence, then the spoken clip (Chromium loops the file)."""
    with wave.open(str(AUDIO_DIR / "go_forward_human.wav")) as clip:
        rate, width, channels = clip.getframerate(), clip.getsampwidth(), clip.getnchannels()
        speech = clip.readframes(clip.getnframes())
    path = tmp_path_factory.mktemp("browser") / "microphone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)  # Chromium resamples a 24 kHz file itself
        out.writeframes(b"\0" * int(LEAD_SILENCE_S * rate) * width * channels + speech)
    return path


@pytest.fixture(scope="module")
def browser(microphone_wav: Path) -> Iterator[Any]:
    """Headless Debian Chromium with a fake microphone that plays ``microphone_wav``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone_wav}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def auth_server() -> Iterator[ServerProcess]:
    """A mock server that requires an API key and mints client secrets for the console."""
    process = ServerProcess(
        {"REALTIME_API_KEYS": API_KEY, "REALTIME_CONSOLE_CLIENT_SECRETS": "true"}
    )
    yield process
    process.stop()


class Console:
    """One console page in its own browser context, with its JavaScript errors collected."""

    def __init__(self, browser: Any, base_url: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, base_url=base_url)
        self.context.grant_permissions(["microphone"])
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.goto("/")
        self.wait("() => window.consoleState !== undefined")

    def state(self) -> dict[str, Any]:
        return self.page.evaluate("() => JSON.parse(JSON.stringify(window.consoleState))")

    def wait(self, predicate: str, timeout_ms: int = WAIT_MS) -> Any:
        """Wait for a JavaScript function to return something truthy; return it."""
        try:
            handle = self.page.wait_for_function(predicate, timeout=timeout_ms, polling=50)
        except Exception as exc:
            state = json.dumps(self.state(), indent=1)[-4000:]
            raise AssertionError(
                f"timed out waiting for {predicate}\nconsoleState: {state}\n"
                f"page console: {self.console[-20:]}\npage errors: {self.errors}"
            ) from exc
        return handle.json_value()

    def connect(self, mode: str = "vad", key: str | None = None, transport: str = "webrtc") -> None:
        self.page.check(f'input[name="transport"][value="{transport}"]')
        self.page.check(f'input[name="mode"][value="{mode}"]')
        if key is not None:
            self.page.click("details.advanced summary")
            self.page.fill("#api-key", key)
        self.page.click("#connect")

    def wait_connected(self) -> None:
        self.wait("() => consoleState.connected && consoleState.mic")
        # The page's session.update has been applied.
        self.wait("() => consoleState.session && consoleState.session.audio.input.transcription")

    def send_text(self, text: str) -> None:
        self.page.fill("#text-input", text)
        self.page.press("#text-input", "Enter")

    def transcript(self, role: str, pattern: str) -> dict[str, Any]:
        """Wait for a completed transcript of ``role`` matching the regular expression."""
        return self.wait(
            f"""() => consoleState.transcripts.find(t => t.role === {json.dumps(role)}
                && t.status === 'completed' && new RegExp({json.dumps(pattern)}).test(t.text))"""
        )

    def logged_types(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#log .log-entry code", "els => els.map(e => e.textContent)"
        )

    def logged(self, event_type: str) -> Any:
        """Wait until the event log has an event of ``event_type``."""
        return self.wait(
            "() => [...document.querySelectorAll('#log .log-entry code')]"
            f".some(e => e.textContent === {json.dumps(event_type)})"
        )

    def listen_to_speaker(self) -> None:
        """Put a WebAudio analyser on the remote audio the ``<audio>`` element plays (WebRTC).

        ``window.speakerProbe`` then records, every 20 ms, whether the assistant's audio is
        audible (RMS over -34 dBFS): the audible time, the peak RMS, and when (``performance.now``)
        it was first and last heard.
        """
        self.wait("() => document.querySelector('#speaker').srcObject")
        self.page.evaluate(
            """() => {
                const stream = document.querySelector('#speaker').srcObject;
                const ctx = new AudioContext();
                const analyser = ctx.createAnalyser();
                analyser.fftSize = 1024;
                ctx.createMediaStreamSource(stream).connect(analyser);
                const samples = new Float32Array(analyser.fftSize);
                const probe = {audible_ms: 0, peak: 0, first_at: null, last_at: null};
                window.speakerProbe = probe;
                setInterval(() => {
                    analyser.getFloatTimeDomainData(samples);
                    let sum = 0;
                    for (const x of samples) sum += x * x;
                    const rms = Math.sqrt(sum / samples.length);
                    probe.peak = Math.max(probe.peak, rms);
                    if (rms > 0.02) {
                        probe.audible_ms += 20;
                        probe.last_at = performance.now();
                        if (probe.first_at === null) probe.first_at = probe.last_at;
                    }
                }, 20);
            }"""
        )

    def rtp_audio(self) -> dict[str, int]:
        """The call's audio RTP counters: ``{"in_bytes", "in_packets", "out_packets"}``."""
        return self.page.evaluate(
            """async () => {
                const totals = {in_bytes: 0, in_packets: 0, out_packets: 0};
                const late = new Promise((_, reject) =>
                    setTimeout(() => reject(new Error('getStats() took over 5 s')), 5000));
                const report = await Promise.race([consoleTransport.pc.getStats(), late]);
                report.forEach((s) => {
                    if (s.kind !== 'audio') return;
                    if (s.type === 'inbound-rtp') {
                        totals.in_bytes += s.bytesReceived;
                        totals.in_packets += s.packetsReceived;
                    } else if (s.type === 'outbound-rtp') {
                        totals.out_packets += s.packetsSent;
                    }
                });
                return totals;
            }"""
        )

    def screenshot(self, name: str) -> Path:
        ARTEFACTS.mkdir(exist_ok=True)
        path = ARTEFACTS / f"console-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_console(browser: Any) -> Iterator[Any]:
    """``open_console(base_url, viewport=...)`` -> a :class:`Console`; closed after the test."""
    opened: list[Console] = []

    def factory(base_url: str, viewport: dict[str, int] | None = None) -> Console:
        console = Console(browser, base_url, viewport or {"width": 1280, "height": 900})
        opened.append(console)
        return console

    yield factory
    for console in opened:
        errors = console.errors
        console.close()
        assert not errors, f"JavaScript errors in the page: {errors}"


LONG_TEXT = (  # ~7 s of mock reply audio: still playing when the microphone speaks
    "Tell me a long story about a lighthouse keeper who finds a message in a bottle, "
    "sails across the grey winter sea to answer it, meets the writer on a windy harbour "
    "wall, and learns that the letter was written fifty years ago by her own grandmother, "
    "and that the bottle had crossed the ocean twice before it reached his rocky island."
)


def reply_ms(text: str) -> int:
    """Milliseconds of mock TTS audio for the assistant's reply to user text ``text``."""
    return len(f"You said: {text}") * MS_PER_CHARACTER


# --- the page and its routes ---------------------------------------------------------------------


def test_page_and_assets_are_served(server: ServerProcess) -> None:
    with urllib.request.urlopen(f"{server.base_url}/", timeout=5) as reply:
        html = reply.read().decode()
        assert reply.headers["content-type"].startswith("text/html")
    assert "Realtime voice console" in html
    for asset, mime in [
        ("app.js", "javascript"),
        ("audio.js", "javascript"),
        ("capture-worklet.js", "javascript"),
        ("console.css", "text/css"),
        ("transport-webrtc.js", "javascript"),
        ("transport-websocket.js", "javascript"),
    ]:
        with urllib.request.urlopen(
            f"{server.base_url}/console/static/{asset}", timeout=5
        ) as reply:
            assert mime in reply.headers["content-type"], asset
    with urllib.request.urlopen(f"{server.base_url}/console/config", timeout=5) as reply:
        config = json.loads(reply.read())
    assert config["auth_required"] is False


# --- talking to it -------------------------------------------------------------------------------


def test_hands_free_spoken_turn(server: ServerProcess, open_console: Any) -> None:
    """Server VAD hears the fake microphone; transcript, reply, audio played, events logged."""
    console = open_console(server.base_url)
    console.connect("vad", transport="websocket")
    console.wait_connected()
    assert console.page.get_attribute("#talk", "hidden") is not None  # no talk button hands-free

    user = console.transcript("user", r"^audio of \d+ ms$")
    spoken_ms = int(re.findall(r"\d+", user["text"])[0])
    speech_s = 5.36 - (1.0 + LEAD_SILENCE_S)  # the clip's speech segment, plus VAD padding
    assert speech_s * 1000 - 300 < spoken_ms < speech_s * 1000 + 1500, user
    assistant = console.transcript("assistant", rf"^You said: {re.escape(user['text'])}$")
    assert console.page.locator(f'.bubble.user[data-item-id="{user["item_id"]}"]').is_visible()
    assert console.page.locator(
        f'.bubble.assistant[data-item-id="{assistant["item_id"]}"]'
    ).is_visible()

    # The reply's audio was played to the end (the page counts what was actually heard).
    expected_ms = reply_ms(user["text"])
    console.wait(f"() => consoleState.played_ms >= {expected_ms - 30}")
    console.wait("() => !consoleState.playing")
    state = console.state()
    assert state["received_audio_ms"] >= expected_ms - 1
    turn = state["turns"][0]
    assert turn["origin"] == "end of speech" and 0 <= turn["latency_ms"] < 10_000
    assert console.page.text_content("#latency").startswith("Last turn:")

    # The event log shows both directions; audio chunks are hidden, then shown with payloads elided.
    console.page.click("#log-panel summary")
    types = console.logged_types()
    for expected in [
        "session.created",
        "session.update",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "conversation.item.input_audio_transcription.completed",
        "response.output_audio_transcript.delta",
        "response.done",
    ]:
        assert expected in types, expected
    assert "response.output_audio.delta" not in types
    console.page.check("#log-audio")
    console.wait("() => document.querySelectorAll('#log .log-entry').length > 0")
    assert "response.output_audio.delta" in console.logged_types()
    log_text = console.page.text_content("#log")
    assert "bytes of base64 audio elided" in log_text
    assert not re.search(r"[A-Za-z0-9+/]{200,}", log_text), "base64 audio in the log"
    console.page.fill("#log-filter", "speech_")
    filtered = console.logged_types()
    assert filtered and all("speech_" in t for t in filtered)
    console.screenshot("hands-free")


def test_push_to_talk_with_space(server: ServerProcess, open_console: Any) -> None:
    """Turn detection off; holding Space streams the mic, releasing commits and asks a reply."""
    console = open_console(server.base_url)
    console.connect("ptt", transport="websocket")
    console.wait_connected()
    assert console.state()["session"]["audio"]["input"]["turn_detection"] is None
    assert console.page.is_enabled("#talk")
    time.sleep(0.3)  # mic chunks arrive, none is sent while Space is up
    assert console.state()["sent_audio_ms"] == 0

    console.page.keyboard.down("Space")
    console.wait("() => consoleState.ptt_active")
    assert console.page.get_attribute("#talk", "aria-pressed") == "true"
    time.sleep(1.2)
    console.page.keyboard.up("Space")

    user = console.transcript("user", r"^audio of \d+ ms$")
    held_ms = int(re.findall(r"\d+", user["text"])[0])
    assert 1000 <= held_ms <= 3000, user
    assert abs(console.state()["sent_audio_ms"] - held_ms) < 1, "only the held audio is sent"
    console.transcript("assistant", rf"^You said: {re.escape(user['text'])}$")
    console.wait(f"() => consoleState.played_ms >= {reply_ms(user['text']) - 30}")
    state = console.state()
    assert state["turns"][0]["origin"] == "release"
    assert state["last_error"] is None
    console.page.click("#log-panel summary")
    types = console.logged_types()
    assert "input_audio_buffer.commit" in types and "response.create" in types
    assert "input_audio_buffer.speech_started" not in types
    console.screenshot("push-to-talk")
    # Switching to hands-free while connected turns server VAD back on.
    console.page.check('input[name="mode"][value="vad"]')
    console.wait(
        "() => consoleState.session.audio.input.turn_detection"
        " && consoleState.session.audio.input.turn_detection.type === 'server_vad'"
    )
    assert console.page.get_attribute("#talk", "hidden") is not None


def test_text_message_on_a_phone(server: ServerProcess, open_console: Any) -> None:
    """A typed message gets a streamed, spoken reply; the layout fits a phone-sized screen."""
    console = open_console(server.base_url, viewport={"width": 390, "height": 844})
    # No server VAD: the looping microphone stays out of this turn.
    console.connect("ptt", transport="websocket")
    console.wait_connected()
    console.send_text("hello from a phone")
    console.transcript("user", r"^hello from a phone$")
    console.transcript("assistant", r"^You said: hello from a phone$")
    console.wait(f"() => consoleState.played_ms >= {reply_ms('hello from a phone') - 30}")
    assert console.state()["turns"][0]["origin"] == "message sent"
    # Nothing sticks out sideways; the conversation comes first on a phone.
    overflow = console.page.evaluate(
        "() => document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0, f"page is {overflow} px wider than the phone screen"
    talk_top = console.page.locator(".chat").bounding_box()["y"]
    settings_top = console.page.locator(".settings").bounding_box()["y"]
    assert talk_top < settings_top
    console.screenshot("phone")


def test_barge_in_stops_playback_and_truncates(server: ServerProcess, open_console: Any) -> None:
    """The user speaks over a long reply: playback stops at once and the heard part is reported."""
    console = open_console(server.base_url)
    console.connect("vad", transport="websocket")
    console.wait_connected()
    long_text = LONG_TEXT
    console.send_text(long_text)
    console.wait("() => consoleState.playing")
    # The microphone's speech starts LEAD_SILENCE_S + 1 s after it opened: mid-reply.
    truncation = console.wait("() => consoleState.truncations[0]")
    stopped_at = time.monotonic()
    console.wait("() => !consoleState.playing", timeout_ms=2000)
    assert time.monotonic() - stopped_at < 1.0
    total_ms = reply_ms(long_text)
    assert 200 < truncation["audio_end_ms"] < total_ms, truncation
    assert console.state()["played_ms"] <= truncation["audio_end_ms"] + 150
    console.page.click("#log-panel summary")
    console.wait(
        "() => [...document.querySelectorAll('#log .log-entry code')]"
        ".some(e => e.textContent === 'conversation.item.truncated')"
    )
    assert "conversation.item.truncate" in console.logged_types()
    bubble = console.page.locator(f'.bubble[data-item-id="{truncation["item_id"]}"]')
    assert "interrupted" in (bubble.get_attribute("class") or "")
    # The barge-in becomes a user turn of its own.
    console.transcript("user", r"^audio of \d+ ms$")
    assert console.state()["last_error"] is None
    console.screenshot("barge-in")
    # The log, filtered to the truncation, with its JSON opened (the README's screenshot).
    console.page.fill("#log-filter", "truncate")
    for row in console.page.locator("#log .log-entry summary").all():
        row.click()
    assert '"audio_end_ms"' in console.page.text_content("#log")
    console.screenshot("readme")


# --- over WebRTC (the default transport) ---------------------------------------------------------


def test_transport_choice(server: ServerProcess, open_console: Any) -> None:
    """WebRTC is the default; the choice is fixed while connected, and WebSocket still works."""
    console = open_console(server.base_url)
    assert console.page.is_checked('input[name="transport"][value="webrtc"]')
    assert console.state()["transport"] == "webrtc"
    console.page.check('input[name="mode"][value="ptt"]')
    console.page.click("#connect")
    console.wait_connected()
    assert console.state()["call_id"].startswith("rtc_")
    assert "WebRTC" in console.page.text_content("#status")
    assert console.page.is_disabled('input[name="transport"][value="websocket"]')
    console.page.click("#connect")  # disconnect
    console.wait("() => !consoleState.connected && !consoleState.connecting")
    assert console.page.evaluate("() => document.querySelector('#speaker').srcObject") is None

    # Switching to the WebSocket: the same page, the audio as events again.
    console.connect("ptt", transport="websocket")
    console.wait_connected()
    state = console.state()
    assert state["transport"] == "websocket" and state["call_id"] is None
    assert "WebSocket" in console.page.text_content("#status")
    console.send_text("over the socket")
    console.transcript("assistant", r"^You said: over the socket$")
    console.wait(f"() => consoleState.played_ms >= {reply_ms('over the socket') - 30}")
    console.page.click("#log-panel summary")
    console.page.check("#log-audio")
    console.logged("response.output_audio.delta")
    # The choice is remembered.
    console.page.reload()
    console.wait("() => window.consoleState !== undefined")
    assert console.page.is_checked('input[name="transport"][value="websocket"]')


def test_webrtc_hands_free_spoken_turn(server: ServerProcess, open_console: Any) -> None:
    """Over WebRTC: the microphone on the track, server VAD, transcript, reply played on the
    server's track and heard in the page's <audio> element, events on the data channel."""
    console = open_console(server.base_url)
    console.connect("vad")
    console.wait_connected()
    console.listen_to_speaker()  # before the microphone's speech starts, ~3.5 s after it opened

    user = console.transcript("user", r"^audio of \d+ ms$")
    spoken_ms = int(re.findall(r"\d+", user["text"])[0])
    speech_s = 5.36 - (1.0 + LEAD_SILENCE_S)  # as over the WebSocket: the same turn detection
    assert speech_s * 1000 - 300 < spoken_ms < speech_s * 1000 + 1500, user
    assistant = console.transcript("assistant", rf"^You said: {re.escape(user['text'])}$")
    assert console.page.locator(
        f'.bubble.assistant[data-item-id="{assistant["item_id"]}"]'
    ).is_visible()

    # The server played the reply on its track, and the page heard all of it: from the first
    # audible moment to the last (once the speaker has gone quiet again) is the reply's length.
    console.page.click("#log-panel summary")
    console.logged("output_audio_buffer.stopped")
    console.wait("() => !consoleState.playing")
    probe = console.wait(
        "() => window.speakerProbe.last_at !== null"
        " && performance.now() - window.speakerProbe.last_at > 300 && window.speakerProbe"
    )
    expected_ms = reply_ms(user["text"])
    heard_ms = probe["last_at"] - probe["first_at"]
    assert probe["peak"] > 0.05, probe
    assert expected_ms * 0.8 < heard_ms < expected_ms + 600, (probe, expected_ms)
    rtp = console.rtp_audio()
    assert rtp["in_packets"] > 0 and rtp["in_bytes"] > 0 and rtp["out_packets"] > 0, rtp
    turn = console.state()["turns"][0]
    assert turn["origin"] == "end of speech" and 0 <= turn["latency_ms"] < 10_000
    assert turn["item_id"] == assistant["item_id"]

    types = console.logged_types()
    for expected in [
        "console.call_created",
        "session.created",
        "session.update",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "conversation.item.input_audio_transcription.completed",
        "response.output_audio_transcript.delta",
        "output_audio_buffer.started",
        "response.done",
        "output_audio_buffer.stopped",
    ]:
        assert expected in types, expected
    assert types.index("output_audio_buffer.started") < types.index("output_audio_buffer.stopped")
    # No audio in events either way: it is on the tracks.
    console.page.check("#log-audio")
    types = console.logged_types()
    assert "input_audio_buffer.append" not in types
    assert "response.output_audio.delta" not in types
    state = console.state()
    assert state["last_error"] is None and state["sent_audio_ms"] == 0
    console.screenshot("webrtc")


def test_webrtc_barge_in_is_truncated_by_the_server(
    server: ServerProcess, open_console: Any
) -> None:
    """Speech over a long reply: the server stops its track and truncates to what it played;
    the page sends no truncate of its own."""
    console = open_console(server.base_url)
    console.connect("vad")
    console.wait_connected()
    console.listen_to_speaker()
    console.send_text(LONG_TEXT)
    console.wait("() => consoleState.playing")
    console.wait("() => window.speakerProbe.audible_ms > 0")
    # The microphone's speech starts LEAD_SILENCE_S + 1 s after it opened: mid-reply.
    truncation = console.wait("() => consoleState.truncations[0]")
    assert 200 < truncation["audio_end_ms"] < reply_ms(LONG_TEXT), truncation
    console.wait("() => !consoleState.playing", timeout_ms=2000)
    # The speaker goes quiet at once (the reply had seconds left; the next one is seconds away).
    console.wait("() => performance.now() - window.speakerProbe.last_at > 300", timeout_ms=2000)
    probe = console.page.evaluate("() => window.speakerProbe")
    assert probe["audible_ms"] < truncation["audio_end_ms"] + 500, (probe, truncation)
    console.page.click("#log-panel summary")
    types = console.logged_types()
    speech = types.index("input_audio_buffer.speech_started")
    assert types.index("output_audio_buffer.cleared", speech) < types.index(
        "conversation.item.truncated", speech
    )
    assert "conversation.item.truncate" not in types
    assert "output_audio_buffer.clear" not in types
    bubble = console.page.locator(f'.bubble[data-item-id="{truncation["item_id"]}"]')
    assert "interrupted" in (bubble.get_attribute("class") or "")
    assert "interrupted after" in bubble.text_content()
    # The barge-in becomes a user turn of its own.
    console.transcript("user", r"^audio of \d+ ms$")
    assert console.state()["last_error"] is None
    console.screenshot("webrtc-barge-in")


def test_webrtc_push_to_talk_and_stop(server: ServerProcess, open_console: Any) -> None:
    """Push-to-talk over WebRTC sends the microphone only while held; Stop asks the server to
    stop playing with output_audio_buffer.clear."""
    console = open_console(server.base_url)
    console.connect("ptt")
    console.wait_connected()
    sender_track = "() => consoleTransport.sender.track !== null"
    assert console.page.evaluate(sender_track) is False  # nothing on the track while released

    console.page.keyboard.down("Space")
    console.wait("() => consoleState.ptt_active")
    assert console.page.evaluate(sender_track) is True
    time.sleep(1.2)  # how long the user talks
    console.page.keyboard.up("Space")
    user = console.transcript("user", r"^audio of \d+ ms$")
    held_ms = int(re.findall(r"\d+", user["text"])[0])
    assert 1000 <= held_ms <= 3000, user
    console.transcript("assistant", rf"^You said: {re.escape(user['text'])}$")
    console.wait("() => consoleTransport.sender.track === null")
    # The reply has been played out (a message typed while it plays would interrupt it).
    console.wait("() => consoleState.turns.length > 0 && !consoleState.playing")
    assert console.state()["turns"][0]["origin"] == "release"

    # A long reply, stopped with the Stop button.
    console.listen_to_speaker()
    console.send_text(LONG_TEXT)
    console.wait("() => consoleState.playing && window.speakerProbe.audible_ms > 500")
    console.page.click("#stop")
    truncation = console.wait("() => consoleState.truncations[0]")
    assert 300 < truncation["audio_end_ms"] < reply_ms(LONG_TEXT), truncation
    console.wait("() => !consoleState.playing")
    assert console.page.is_disabled("#stop")
    console.page.click("#log-panel summary")
    types = console.logged_types()
    assert types.index("output_audio_buffer.clear") < types.index("output_audio_buffer.cleared")
    assert "conversation.item.truncate" not in types
    assert "input_audio_buffer.commit" in types
    assert console.state()["last_error"] is None


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["webrtc", "websocket"])
def test_client_secret_from_the_server(
    auth_server: ServerProcess, open_console: Any, transport: str
) -> None:
    """With API keys on, the page gets a one-time ek_ secret and never holds the real key."""
    console = open_console(auth_server.base_url)
    console.wait("() => document.querySelector('#api-key-hint').textContent.includes('mints')")
    console.connect("ptt", transport=transport)
    console.wait_connected()
    console.send_text("secret handshake")
    console.transcript("assistant", r"^You said: secret handshake$")
    console.page.click("#log-panel summary")
    types = console.logged_types()
    assert "console.client_secret" in types
    log_text = console.page.text_content("#log")
    assert API_KEY not in log_text and API_KEY not in console.page.content()
    assert console.state()["last_error"] is None
    # Secrets are single-use: connecting again mints a new one.
    console.page.click("#connect")
    console.wait("() => !consoleState.connected && !consoleState.connecting")
    assert console.page.text_content("#status").strip() == "Disconnected"
    console.page.click("#connect")
    console.wait_connected()
    assert console.logged_types().count("console.client_secret") == 2
    console.send_text("second session")
    console.transcript("assistant", r"^You said: second session$")
    assert console.state()["last_error"] is None


@pytest.mark.parametrize("transport", ["webrtc", "websocket"])
def test_wrong_key_is_shown_as_an_error(
    auth_server: ServerProcess, open_console: Any, transport: str
) -> None:
    """Refused over the WebSocket with an error event and close 3000; over WebRTC the offer's
    POST is refused with HTTP 401 and the same error."""
    console = open_console(auth_server.base_url)
    console.connect("vad", key="sk-wrong-key", transport=transport)
    error = console.wait("() => !consoleState.connecting && consoleState.last_error")
    assert error["code"] == "invalid_api_key", error
    console.wait("() => !document.querySelector('#error').hidden")
    shown = console.page.text_content("#error-text")
    assert "Incorrect API key" in shown, shown
    if transport == "websocket":
        assert "3000" in shown, shown
    else:
        console.page.click("#log-panel summary")
        assert "console.call_refused" in console.logged_types()
        assert console.state()["mic"] is False  # the microphone was released again
    assert console.page.text_content("#status").strip() == "Could not connect"
    assert console.page.text_content("#connect").strip() == "Connect"
    assert not console.state()["connected"]
    console.screenshot(f"wrong-key-{transport}")


def test_console_secret_route_is_opt_in_when_keys_are_set() -> None:
    """Without REALTIME_CONSOLE_CLIENT_SECRETS the console route refuses to mint."""
    auth = pytest.importorskip("auth")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from web_console import CONSOLE_SECRETS_ENV, mount_console

    app = FastAPI()
    mount_console(app)
    app.state.auth = auth.Authenticator([API_KEY], auth.ClientSecretStore())
    client = TestClient(app)
    saved = os.environ.pop(CONSOLE_SECRETS_ENV, None)
    try:
        assert client.get("/console/config").json()["client_secrets"] is False
        refused = client.post("/console/session")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "console_client_secrets_disabled"
        os.environ[CONSOLE_SECRETS_ENV] = "true"
        minted = client.post("/console/session", headers={"origin": "http://evil.example"})
        assert minted.status_code == 403  # another site's page cannot mint
        minted = client.post("/console/session")
        assert minted.status_code == 200 and minted.json()["value"].startswith("ek_")
        assert app.state.auth.authenticate(minted.json()["value"])[0]
    finally:
        os.environ.pop(CONSOLE_SECRETS_ENV, None)
        if saved is not None:
            os.environ[CONSOLE_SECRETS_ENV] = saved
