"""The automatic check: five steps against one server, one PASS/FAIL/SKIP line each.

health (``GET /health``), session (``session.created`` and a ``session.update``), a text turn,
an audio turn from a WAV file and a tool call round trip. Each step is timed and turns any
exception into a FAIL with its message; steps that cannot run are reported as SKIP, and so is
a step the model cannot do (the tool call on a model that advertises ``tool_calling: none``).
The check succeeds when no step failed.

The tool call follows what ``/health`` says the model does with tools: ``auto`` (or no word:
an older server, another implementation) leaves the choice to the model; ``forced`` (a model
that calls tools only when told to, like the local profile's SmolLM2-135M) names the function in
``tool_choice``; ``none`` skips the step.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from openai import AsyncOpenAI

from clients.check.session import Reply, Session, StepFailed
from clients.connection import DEFAULT_MODEL, make_client, server_urls
from clients.events import audio_append, commit, describe_server_error, response_create
from clients.wav import CHUNK_BYTES, SAMPLES_DIR, read_pcm16_wav

DEFAULT_WAV = SAMPLES_DIR / "go_forward.wav"
"""The audio turn's default question: "go forward ten meters", shipped in ``docs/samples``."""
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
SESSION_STEPS = ["session", "text turn", "audio turn", "tool call"]
"""The steps after ``health``, which share one Realtime connection."""


@dataclass
class StepResult:
    """One line of the report."""

    name: str
    outcome: str
    seconds: float
    detail: str


class StepSkipped(Exception):
    """A step that does not apply to this server's model; the message says why."""


class Checker:
    """Runs the steps in order against one server and prints a PASS/FAIL line per step."""

    def __init__(
        self, url: str, wav: Path, api_key: str | None, timeout: float, out: TextIO
    ) -> None:
        self.url = url
        self.wav = wav
        self.api_key = api_key
        self.timeout = timeout
        self.out = out
        self.results: list[StepResult] = []
        self.session: Session | None = None
        self.health: dict[str, Any] = {}
        """``GET /health``'s answer."""

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
        except StepSkipped as error:
            detail, outcome = str(error), "SKIP"
        except StepFailed as error:
            detail, outcome = str(error), "FAIL"
        except TimeoutError:
            detail, outcome = f"timed out after {self.timeout * 3:.0f} s", "FAIL"
        except Exception as error:
            detail, outcome = f"{type(error).__name__}: {error}", "FAIL"
        self.report(StepResult(name, outcome, time.perf_counter() - started, detail))
        return outcome != "FAIL"

    def skip(self, names: list[str], why: str) -> None:
        """Report steps that could not run."""
        for name in names:
            self.report(StepResult(name, "SKIP", 0.0, why))

    async def run(self) -> bool:
        """All steps; ``True`` if none failed."""
        print(f"Checking {self.url}", file=self.out)
        started = time.perf_counter()
        if not await self.step("health", self.check_health):
            self.skip(SESSION_STEPS, "server unreachable")
        else:
            client = make_client(self.url, self.api_key, max_retries=0)
            try:
                await self.run_session_steps(client)
            finally:
                await client.close()
        outcomes = [r.outcome for r in self.results]
        passed, total = outcomes.count("PASS"), len(outcomes)
        failed, skipped = outcomes.count("FAIL"), outcomes.count("SKIP")
        elapsed = time.perf_counter() - started
        if passed == total:
            verdict = "all checks passed"
        elif failed:
            verdict = f"{failed} failed, {skipped} skipped"
        else:
            verdict = f"no failures, {skipped} skipped"
        print(f"{passed}/{total} passed in {elapsed:.2f} s: {verdict}", file=self.out)
        return failed == 0

    async def run_session_steps(self, client: AsyncOpenAI) -> None:
        """The steps that share one Realtime connection."""
        try:
            manager = client.realtime.connect(model=DEFAULT_MODEL)
            connection = await asyncio.wait_for(manager.enter(), self.timeout)
        except Exception as error:
            self.report(StepResult("session", "FAIL", 0.0, f"cannot connect: {error}"))
            self.skip(SESSION_STEPS[1:], "no session")
            return
        self.session = Session(connection, self.timeout)
        try:
            if not await self.step("session", self.check_session):
                self.skip(SESSION_STEPS[1:], "no session")
                return
            await self.step("text turn", self.check_text_turn)
            await self.step("audio turn", self.check_audio_turn)
            await self.step("tool call", self.check_tool_call)
        finally:
            await connection.close()

    async def check_health(self) -> str:
        """GET /health answers ``status: healthy``."""
        url = f"{server_urls(self.url).http_root}/health"
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
        self.health = body
        return f"profile {body.get('profile', '?')}, {body.get('active_sessions', '?')} session(s)"

    def tool_calling(self) -> str:
        """What ``/health`` says the checked model does with tools (``auto`` if it says
        nothing): the entry named like the model the check connects to, else the default."""
        models = self.health.get("models")
        if not isinstance(models, dict):
            return "auto"
        entry = models.get(DEFAULT_MODEL)
        if not isinstance(entry, dict):
            defaults = [e for e in models.values() if isinstance(e, dict) and e.get("default")]
            entry = defaults[0] if defaults else {}
        capabilities = entry.get("capabilities")
        if not isinstance(capabilities, dict):
            return "auto"
        return str(capabilities.get("tool_calling", "auto"))

    async def check_session(self) -> str:
        """``session.created`` first, then a manual-turn ``session.update`` is applied."""
        assert self.session is not None
        created = await self.session.next_event()
        if created["type"] == "error":
            raise StepFailed(f"server error: {describe_server_error(created['error'])}")
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
        pcm = read_wav(self.wav)
        for start in range(0, len(pcm), CHUNK_BYTES):
            await self.session.send(audio_append(pcm[start : start + CHUNK_BYTES]))
        await self.session.send(commit())
        committed = await self.session.wait_for("input_audio_buffer.committed")
        await self.session.send(response_create())
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
                transcript: str = event["transcript"]
                return transcript

    async def check_tool_call(self) -> str:
        """The model calls a function; its output comes back into the next reply.

        A model that calls tools only when told to gets the tool with ``tool_choice`` naming
        it, on that response alone (the reply to the function's output is then in words); a
        model that cannot call tools skips the step.
        """
        assert self.session is not None
        tool_calling = self.tool_calling()
        if tool_calling == "none":
            raise StepSkipped("skipped (model cannot call tools)")
        question = "What is the weather in Paris? Please use get_weather."
        forced = tool_calling == "forced"
        if forced:
            choice = {"type": "function", "name": TOOL["name"]}
            content = [{"type": "input_text", "text": question}]
            item = {"type": "message", "role": "user", "content": content}
            await self.session.send({"type": "conversation.item.create", "item": item})
            response = {"tools": [TOOL], "tool_choice": choice}
            await self.session.send({"type": "response.create", "response": response})
        else:
            await self.session.update(tools=[TOOL], tool_choice="auto")
            await self.session.say(question)
        first = await self.session.collect_reply()
        require_completed(first)
        if not first.function_calls:
            raise StepFailed(f"no function call; the model said {short(first.text)}")
        call = first.function_calls[0]
        output = json.dumps({"city": "Paris", "temperature_c": 21, "sky": "sunny"})
        item = {"type": "function_call_output", "call_id": call["call_id"], "output": output}
        await self.session.send({"type": "conversation.item.create", "item": item})
        await self.session.send(response_create())
        second = await self.session.collect_reply()
        require_completed(second)
        if not second.text:
            raise StepFailed("no reply after the function output")
        if not forced:
            await self.session.update(tools=[])
        note = " (tool_choice named it: this model calls tools only when told to)" if forced else ""
        return f"{call['name']}({call['arguments']}) -> reply {short(second.text)}{note}"


def read_wav(path: Path) -> bytes:
    """The frames of a 24 kHz mono PCM16 WAV; ``StepFailed`` if it is anything else."""
    try:
        return read_pcm16_wav(path)
    except ValueError as error:
        raise StepFailed(f"{error} (choose a clip with --wav FILE)") from error


def fetch_json(url: str, timeout: float) -> dict[str, Any]:
    """GET a JSON document."""
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        body: dict[str, Any] = json.loads(reply.read())
        return body


def require_completed(reply: Reply) -> None:
    """``StepFailed`` unless the response completed."""
    if reply.errors:
        raise StepFailed(f"server error: {'; '.join(reply.errors)}")
    if reply.status != "completed":
        raise StepFailed(f"response {reply.status}: {json.dumps(reply.details)}")


def short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, quoted."""
    return json.dumps(text if len(text) <= limit else text[: limit - 1] + "…", ensure_ascii=False)


def latency(reply: Reply) -> str:
    """``, first output after N ms`` when known."""
    if reply.first_delta_s is None:
        return ""
    return f", first output after {reply.first_delta_s * 1000:.0f} ms"
