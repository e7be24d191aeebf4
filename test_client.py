#!/usr/bin/env python
"""Check a running Realtime server end to end, or chat with it in the terminal.

    python test_client.py                      # automatic check of ws://localhost:8000/v1/realtime
    python test_client.py --url ws://HOST:PORT/v1/realtime --wav my_question.wav
    python test_client.py -i                   # interactive text chat
    python test_client.py -i --save-audio replies/   # ... saving each spoken reply as a WAV

The automatic check runs five steps (health, session, a text turn, an audio turn from a WAV file, a
tool call round trip), prints each with PASS/FAIL and its timing, and exits 0 only if all pass.
It needs nothing beyond the server's own requirements (the official ``openai`` SDK).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from openai import AsyncOpenAI

from audio_utils import read_pcm16_wav

DEFAULT_URL = "ws://localhost:8000/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"
DEFAULT_WAV = Path(__file__).resolve().parent.parent / "shared" / "audio" / "go_forward_human.wav"
SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
CHUNK_BYTES = 100 * BYTES_PER_MS
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


class StepFailed(Exception):
    """A check failed; the message says why."""


# --- connection helpers --------------------------------------------------------------------------


def split_url(url: str) -> tuple[str, str]:
    """``(websocket_base_url, http_root)`` for ``ws://host:port/v1/realtime``.

    The SDK appends ``/realtime`` to its base URL, so that suffix is removed; ``http_root`` is
    where ``/health`` lives.
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/realtime"):
        path = path[: -len("/realtime")]
    ws_scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    http_scheme = {"ws": "http", "wss": "https"}.get(ws_scheme, "http")
    ws_base = urlunsplit((ws_scheme, parts.netloc, path, "", ""))
    http_root = urlunsplit((http_scheme, parts.netloc, "", "", ""))
    return ws_base, http_root


def make_client(url: str, api_key: str | None) -> AsyncOpenAI:
    """An SDK client whose Realtime connections go to ``url``."""
    ws_base, http_root = split_url(url)
    key = api_key or os.environ.get("REALTIME_API_KEY") or "sk-local"
    return AsyncOpenAI(
        api_key=key, base_url=f"{http_root}/v1", websocket_base_url=ws_base, max_retries=0
    )


def read_wav_pcm16(path: Path) -> bytes:
    """The frames of a 24 kHz mono PCM16 WAV; ``StepFailed`` if it is anything else."""
    try:
        return read_pcm16_wav(path)
    except ValueError as error:
        raise StepFailed(f"{error} (choose a clip with --wav FILE)") from error


def write_wav(path: Path, pcm: bytes) -> None:
    """Save 24 kHz mono PCM16 audio as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)


def describe_error(error: dict[str, Any]) -> str:
    """An ``error`` payload as one line: ``code: message (param x)``."""
    code = error.get("code") or error.get("type") or "error"
    text = f"{code}: {error.get('message') or '(no message)'}"
    return f"{text} (param {error['param']})" if error.get("param") else text


def short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, quoted."""
    return json.dumps(text if len(text) <= limit else text[: limit - 1] + "…", ensure_ascii=False)


@dataclass
class Reply:
    """What one response produced."""

    status: str = "none"
    text: str = ""
    audio: bytes = b""
    function_calls: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_delta_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def audio_ms(self) -> int:
        """Length of the reply audio in whole ms."""
        return len(self.audio) // BYTES_PER_MS


class Session:
    """One SDK connection with a raw-event reader (events are plain dicts)."""

    def __init__(self, connection: Any, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout
        self.backlog: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        """Send one client event."""
        await self.connection.send(event)

    async def next_event(self) -> dict[str, Any]:
        """The next server event (backlog first); ``StepFailed`` on timeout or close."""
        if self.backlog:
            return self.backlog.pop(0)
        try:
            raw = await asyncio.wait_for(self.connection.recv_bytes(), self.timeout)
        except TimeoutError as error:
            raise StepFailed(f"no event from the server within {self.timeout:.0f} s") from error
        except Exception as error:  # websockets' ConnectionClosed and friends
            raise StepFailed(f"connection closed: {error}") from error
        return json.loads(raw)

    async def wait_for(self, kind: str) -> dict[str, Any]:
        """Skip events until one of type ``kind``; keep the skipped ones; fail on ``error``."""
        skipped: list[dict[str, Any]] = []
        try:
            while True:
                event = await self.next_event()
                if event["type"] == kind:
                    return event
                if event["type"] == "error":
                    raise StepFailed(f"server error: {describe_error(event['error'])}")
                skipped.append(event)
        finally:
            self.backlog = skipped + self.backlog

    async def update(self, **session: Any) -> dict[str, Any]:
        """``session.update`` and wait for ``session.updated``."""
        await self.send({"type": "session.update", "session": {"type": "realtime", **session}})
        return (await self.wait_for("session.updated"))["session"]

    async def say(self, text: str) -> None:
        """Add a user text message and ask for a response."""
        content = [{"type": "input_text", "text": text}]
        item = {"type": "message", "role": "user", "content": content}
        await self.send({"type": "conversation.item.create", "item": item})
        await self.send({"type": "response.create"})

    async def collect_reply(self, on_text: Callable[[str], None] | None = None) -> Reply:
        """Read one response to its ``response.done``; keep the events that belong to others."""
        reply, started, others = Reply(), time.perf_counter(), []
        seen_created = False
        while True:
            event = await self.next_event()
            kind = event["type"]
            if kind == "response.created":
                seen_created = True
            elif kind == "error":
                reply.errors.append(describe_error(event["error"]))
                if not seen_created:  # the response was refused: nothing more will come
                    reply.status = "refused"
                    break
            elif kind in ("response.output_text.delta", "response.output_audio_transcript.delta"):
                reply.first_delta_s = reply.first_delta_s or time.perf_counter() - started
                reply.text += event["delta"]
                if on_text is not None:
                    on_text(event["delta"])
            elif kind == "response.output_audio.delta":
                reply.first_delta_s = reply.first_delta_s or time.perf_counter() - started
                reply.audio += base64.b64decode(event["delta"])
            elif kind == "response.function_call_arguments.done":
                reply.function_calls.append(event)
            elif kind == "response.done":
                reply.status = event["response"]["status"]
                reply.details = event["response"].get("status_details") or {}
                break
            else:
                others.append(event)
        self.backlog = others + self.backlog
        return reply


# --- the automatic check -------------------------------------------------------------------------


@dataclass
class StepResult:
    """One line of the report."""

    name: str
    outcome: str
    seconds: float
    detail: str


class Checker:
    """Runs the steps in order against one server and prints a PASS/FAIL line per step."""

    def __init__(self, url: str, wav: Path, api_key: str | None, timeout: float, out: TextIO):
        self.url = url
        self.wav = wav
        self.api_key = api_key
        self.timeout = timeout
        self.out = out
        self.results: list[StepResult] = []
        self.session: Session | None = None

    def report(self, result: StepResult) -> None:
        """Print and remember one step's result."""
        self.results.append(result)
        millis = f"{result.seconds * 1000:7.0f} ms" if result.outcome != "SKIP" else " " * 10
        print(f"{result.outcome:4}  {result.name:<11} {millis}  {result.detail}", file=self.out)
        self.out.flush()

    async def step(self, name: str, check: Callable[[], Awaitable[str]]) -> bool:
        """Run one check, timing it; any exception is a FAIL with its message."""
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(check(), self.timeout * 3)
            outcome = "PASS"
        except StepFailed as error:
            detail, outcome = str(error), "FAIL"
        except TimeoutError:
            detail, outcome = f"timed out after {self.timeout * 3:.0f} s", "FAIL"
        except Exception as error:
            detail, outcome = f"{type(error).__name__}: {error}", "FAIL"
        self.report(StepResult(name, outcome, time.perf_counter() - started, detail))
        return outcome == "PASS"

    def skip(self, names: list[str], why: str) -> None:
        """Report steps that could not run."""
        for name in names:
            self.report(StepResult(name, "SKIP", 0.0, why))

    async def run(self) -> bool:
        """All steps; ``True`` if every one passed."""
        print(f"Checking {self.url}", file=self.out)
        started = time.perf_counter()
        later = ["session", "text turn", "audio turn", "tool call"]
        if not await self.step("health", self.check_health):
            self.skip(later, "server unreachable")
        else:
            client = make_client(self.url, self.api_key)
            try:
                await self.run_session_steps(client)
            finally:
                await client.close()
        outcomes = [r.outcome for r in self.results]
        passed, total = outcomes.count("PASS"), len(outcomes)
        elapsed = time.perf_counter() - started
        verdict = (
            "all checks passed"
            if passed == total
            else f"{outcomes.count('FAIL')} failed, {outcomes.count('SKIP')} skipped"
        )
        print(f"{passed}/{total} passed in {elapsed:.2f} s: {verdict}", file=self.out)
        return passed == total

    async def run_session_steps(self, client: AsyncOpenAI) -> None:
        """The steps that share one Realtime connection."""
        try:
            manager = client.realtime.connect(model=DEFAULT_MODEL)
            connection = await asyncio.wait_for(manager.enter(), self.timeout)
        except Exception as error:
            self.report(StepResult("session", "FAIL", 0.0, f"cannot connect: {error}"))
            self.skip(["text turn", "audio turn", "tool call"], "no session")
            return
        self.session = Session(connection, self.timeout)
        try:
            if not await self.step("session", self.check_session):
                self.skip(["text turn", "audio turn", "tool call"], "no session")
                return
            await self.step("text turn", self.check_text_turn)
            await self.step("audio turn", self.check_audio_turn)
            await self.step("tool call", self.check_tool_call)
        finally:
            await connection.close()

    async def check_health(self) -> str:
        """GET /health answers ``status: healthy``."""
        url = f"{split_url(self.url)[1]}/health"
        try:
            body = await asyncio.to_thread(fetch_json, url, self.timeout)
        except urllib.error.HTTPError as error:
            raise StepFailed(f"GET {url} answered HTTP {error.code}") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, ConnectionRefusedError):
                reason = "connection refused"
            raise StepFailed(
                f"cannot reach {url}: {reason}. Is the server running? "
                "Start it with: python main.py"
            ) from error
        if body.get("status") != "healthy":
            raise StepFailed(f"GET {url} says {body}")
        return f"profile {body.get('profile', '?')}, {body.get('active_sessions', '?')} session(s)"

    async def check_session(self) -> str:
        """``session.created`` first, then a manual-turn ``session.update`` is applied."""
        assert self.session is not None
        created = await self.session.next_event()
        if created["type"] == "error":
            raise StepFailed(f"server error: {describe_error(created['error'])}")
        if created["type"] != "session.created":
            raise StepFailed(f"first event is {created['type']}, not session.created")
        transcription = {"model": "whisper-1"}
        audio_input = {"turn_detection": None, "transcription": transcription}
        updated = await self.session.update(audio={"input": audio_input})
        if updated["audio"]["input"]["turn_detection"] is not None:
            raise StepFailed("session.update did not turn server VAD off")
        return f"{created['session']['id']} ({created['session'].get('model', '?')})"

    async def check_text_turn(self) -> str:
        """A user text message gets a completed spoken reply."""
        assert self.session is not None
        await self.session.say("Hello, can you hear me?")
        reply = await self.session.collect_reply()
        require_completed(reply)
        if not reply.text or not reply.audio:
            raise StepFailed(f"reply without text or audio ({len(reply.audio)} audio bytes)")
        return f"reply {short(reply.text)}, {reply.audio_ms} ms audio{latency(reply)}"

    async def check_audio_turn(self) -> str:
        """WAV audio appended, committed and answered; the input is transcribed."""
        assert self.session is not None
        pcm = read_wav_pcm16(self.wav)
        for start in range(0, len(pcm), CHUNK_BYTES):
            chunk = base64.b64encode(pcm[start : start + CHUNK_BYTES]).decode("ascii")
            await self.session.send({"type": "input_audio_buffer.append", "audio": chunk})
        await self.session.send({"type": "input_audio_buffer.commit"})
        committed = await self.session.wait_for("input_audio_buffer.committed")
        await self.session.send({"type": "response.create"})
        reply = await self.session.collect_reply()
        require_completed(reply)
        transcript = await self.transcript_of(committed["item_id"])
        if not reply.text:
            raise StepFailed("the reply has no text")
        return f"heard {short(transcript)}, reply {short(reply.text)}{latency(reply)}"

    async def transcript_of(self, item_id: str) -> str:
        """Wait for the input transcription of ``item_id``."""
        assert self.session is not None
        while True:
            event = await self.session.wait_for(
                "conversation.item.input_audio_transcription.completed"
            )
            if event["item_id"] == item_id:
                return event["transcript"]

    async def check_tool_call(self) -> str:
        """The model calls a function; its output comes back into the next reply."""
        assert self.session is not None
        await self.session.update(tools=[TOOL], tool_choice="auto")
        await self.session.say("What is the weather in Paris? Please use get_weather.")
        first = await self.session.collect_reply()
        require_completed(first)
        if not first.function_calls:
            raise StepFailed(f"no function call; the model said {short(first.text)}")
        call = first.function_calls[0]
        output = json.dumps({"city": "Paris", "temperature_c": 21, "sky": "sunny"})
        item = {"type": "function_call_output", "call_id": call["call_id"], "output": output}
        await self.session.send({"type": "conversation.item.create", "item": item})
        await self.session.send({"type": "response.create"})
        second = await self.session.collect_reply()
        require_completed(second)
        if not second.text:
            raise StepFailed("no reply after the function output")
        await self.session.update(tools=[])
        return f"{call['name']}({call['arguments']}) -> reply {short(second.text)}"


def fetch_json(url: str, timeout: float) -> dict[str, Any]:
    """GET a JSON document."""
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


def require_completed(reply: Reply) -> None:
    """``StepFailed`` unless the response completed."""
    if reply.errors:
        raise StepFailed(f"server error: {'; '.join(reply.errors)}")
    if reply.status != "completed":
        raise StepFailed(f"response {reply.status}: {json.dumps(reply.details)}")


def latency(reply: Reply) -> str:
    """``, first output after N ms`` when known."""
    if reply.first_delta_s is None:
        return ""
    return f", first output after {reply.first_delta_s * 1000:.0f} ms"


# --- interactive chat ----------------------------------------------------------------------------


def stdin_lines(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines of ``stream`` delivered on the event loop (``None`` at end of input).

    A daemon thread reads, so a blocked ``readline`` never keeps the process alive.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    return queue


class Chat:
    """Type a line, watch the reply stream in; optionally keep each spoken reply as a WAV."""

    def __init__(self, session: Session, save_dir: Path | None, out: TextIO) -> None:
        self.session = session
        self.save_dir = save_dir
        self.out = out
        self.replies = 0

    def write(self, text: str) -> None:
        """Print without a newline, flushed (deltas appear as they arrive)."""
        self.out.write(text)
        self.out.flush()

    async def run(self, lines: asyncio.Queue[str | None], prompt: bool) -> None:
        """The read-reply loop, until end of input or ``/quit``."""
        while True:
            if prompt:
                self.write("you> ")
            line = await lines.get()
            if line is None or line.strip() in ("/quit", "/exit"):
                return
            if not line.strip():
                continue
            if not prompt:  # piped input: echo it so the transcript reads like a chat
                self.write(f"you> {line.strip()}\n")
            await self.turn(line.strip())

    async def turn(self, text: str) -> None:
        """One exchange: send ``text``, stream the reply, save its audio."""
        await self.session.say(text)
        self.write("assistant> ")
        reply = await self.session.collect_reply(on_text=self.write)
        self.write("\n")
        for error in reply.errors:
            self.write(f"error: {error}\n")
        if reply.status not in ("completed", "refused"):
            self.write(f"[response {reply.status}]\n")
        if self.save_dir is not None and reply.audio:
            self.replies += 1
            path = self.save_dir / f"reply-{self.replies:03d}.wav"
            write_wav(path, reply.audio)
            self.write(f"(saved {path}, {reply.audio_ms / 1000:.2f} s)\n")


async def interactive(url: str, api_key: str | None, save_dir: Path | None, timeout: float) -> int:
    """Run the chat; returns the exit code."""
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    client = make_client(url, api_key)
    try:
        async with client.realtime.connect(model=DEFAULT_MODEL) as connection:
            session = Session(connection, timeout)
            created = await session.wait_for("session.created")
            await session.update(audio={"input": {"turn_detection": None}})
            print(f"Connected to {url}, session {created['session']['id']}.")
            print("Type a message and press Enter; /quit or end of input leaves.")
            chat = Chat(session, save_dir, sys.stdout)
            await chat.run(stdin_lines(sys.stdin), prompt=sys.stdin.isatty())
    except StepFailed as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # refused, HTTP errors on upgrade, connection lost
        print(f"\nerror: {url}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    return 0


# --- command line --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"server (default {DEFAULT_URL})")
    parser.add_argument("-i", "--interactive", action="store_true", help="chat in the terminal")
    parser.add_argument("--wav", type=Path, default=DEFAULT_WAV, help="24 kHz mono PCM16 WAV")
    parser.add_argument("--save-audio", type=Path, metavar="DIR", help="-i: save replies here")
    parser.add_argument("--api-key", help="API key (default: $REALTIME_API_KEY or sk-local)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait per event")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if args.interactive:
        try:
            return asyncio.run(interactive(args.url, args.api_key, args.save_audio, args.timeout))
        except KeyboardInterrupt:
            return 130
    checker = Checker(args.url, args.wav, args.api_key, args.timeout, sys.stdout)
    return 0 if asyncio.run(checker.run()) else 1


if __name__ == "__main__":
    sys.exit(main())
