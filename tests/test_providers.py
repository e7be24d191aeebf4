"""Providers by configuration: the real server, its stages pointed at local stand-in servers.

A stand-in HTTP server (aiohttp, in a thread of the test process, on 127.0.0.1) plays an
OpenAI-compatible ``/v1/chat/completions`` streaming a known reply over SSE,
``/v1/audio/transcriptions`` returning a known transcript, ``/v1/audio/speech`` returning known
PCM, and ElevenLabs' ``/v1/text-to-speech/{voice}/stream/with-timestamps``. The server runs in the
mock profile with ``REALTIME_STT``/``LLM``/``TTS`` pointing stages at the stand-in (or at a closed
port), and the official SDK proves where each stage went: the transcript, the reply and the audio
bytes are the stand-in's. Failure tests: a closed port, HTTP 500 and a stand-in that hangs past
``REALTIME_PROVIDER_TIMEOUT_S`` each fail the response (or the transcription) with a message that
names the provider, within the timeout, and the session's next turn works. Nothing reaches a
remote API.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import re
import struct
import sys
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from config import Settings
from pipeline_manager import providers, voices
from pipeline_manager.providers import (
    ProviderConfigError,
    ProviderServiceFactory,
    create_provider_factory,
    overrides_stages,
)
from tests.conftest import ServerProcess, free_port, open_client
from tests.helpers_audio import tone
from tests.realtime_client import RealtimeTestClient, audio_of, types_of

pytestmark = pytest.mark.timeout(60)

REPLY = "Hello from the stand-in model."
TRANSCRIPT = "stand-in transcript of the user"
DEEPGRAM_TRANSCRIPT = "deepgram stand-in heard"
TIMEOUT_S = 1.5  # REALTIME_PROVIDER_TIMEOUT_S of the servers under test
HANG_S = 8.0  # how long a hanging stand-in endpoint stalls (well past TIMEOUT_S)
TURN_TIMEOUT = 15.0
MANUAL_TURNS = {"turn_detection": None}


def _stand_in_pcm() -> bytes:
    """0.25 s of a 330 Hz tone at 24 kHz: the stand-in TTS's audio, recognisable byte for byte."""
    samples = (int(9000 * math.sin(2 * math.pi * 330 * i / 24000)) for i in range(6000))
    return b"".join(struct.pack("<h", s) for s in samples)


STAND_IN_PCM = _stand_in_pcm()


# ------------------------------------------------------------------------------------------------
# The stand-in provider
# ------------------------------------------------------------------------------------------------


class StandIn:
    """OpenAI-compatible and ElevenLabs endpoints on 127.0.0.1, served from a background thread.

    ``modes[stage]`` (``stt``, ``llm``, ``tts``) is ``ok``, ``500`` or ``hang`` (Deepgram's
    websocket: ``ok`` or ``401``); ``requests[stage]`` records what each request asked for.
    """

    def __init__(self) -> None:
        self.modes: dict[str, str] = {"stt": "ok", "llm": "ok", "tts": "ok"}
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None  # ends every hang at shutdown
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stand-in", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StandIn:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stand-in did not start")
        return self

    def stop(self) -> None:
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            with contextlib.suppress(Exception):
                future.result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _shutdown(self) -> None:
        assert self._release is not None and self._runner is not None
        self._release.set()
        await asyncio.sleep(0.05)  # let released handlers answer
        await self._runner.cleanup()

    def reset(self) -> None:
        self.modes = {"stt": "ok", "llm": "ok", "tts": "ok"}
        self.requests.clear()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/text-to-speech/{voice}/stream/with-timestamps", self._elevenlabs)
        app.router.add_get("/v1/listen", self._deepgram)
        # handler_cancellation: a hanging handler ends when the server under test gives up.
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, handler_cancellation=True)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()

    async def _misbehave(self, stage: str) -> web.Response | None:
        """The failure the stage's mode asks for, or None to answer normally."""
        mode = self.modes[stage]
        if mode == "500":
            return web.json_response(
                {"error": {"message": "stand-in internal error", "type": "server_error"}},
                status=500,
            )
        if mode == "hang":
            assert self._release is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), HANG_S)
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests["llm"].append(
            {"body": body, "authorization": request.headers.get("Authorization")}
        )
        failure = await self._misbehave("llm")
        if failure is not None:
            return failure
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(choices: list[dict[str, Any]], **extra: Any) -> None:
            chunk = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body.get("model", "stand-in"),
                "choices": choices,
                **extra,
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        if body.get("tools") and body.get("tool_choice") == "required":
            call = {"index": 0, "id": "call_standin", "type": "function"}
            call["function"] = {"name": body["tools"][0]["function"]["name"], "arguments": ""}
            await send([{"index": 0, "delta": {"tool_calls": [call]}}])
            for part in ('{"city": ', '"Paris"}'):
                delta = {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
                await send([{"index": 0, "delta": delta}])
            await send([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            return response
        for index, word in enumerate(REPLY.split(" ")):
            await send([{"index": 0, "delta": {"content": word if index == 0 else " " + word}}])
        await send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        await send([], usage=usage)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _transcriptions(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        audio = upload.file.read() if hasattr(upload, "file") else bytes(upload)
        self.requests["stt"].append(
            {"model": form.get("model"), "language": form.get("language"), "audio": audio}
        )
        failure = await self._misbehave("stt")
        if failure is not None:
            return failure
        return web.json_response({"text": TRANSCRIPT})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests["tts"].append(body)
        failure = await self._misbehave("tts")
        if failure is not None:
            return failure
        response = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await response.prepare(request)
        for start in range(0, len(STAND_IN_PCM), 4096):  # streamed in uneven chunks
            await response.write(STAND_IN_PCM[start : start + 4096])
        await response.write_eof()
        return response

    async def _deepgram(self, request: web.Request) -> web.StreamResponse:
        """Deepgram's live transcription websocket: one final result per ``Finalize``."""
        self.requests["stt"].append(
            {"query": dict(request.query), "authorization": request.headers.get("Authorization")}
        )
        if self.modes["stt"] == "401":
            return web.Response(status=401, text="invalid credentials")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        received = 0
        async for message in socket:
            if message.type == WSMsgType.BINARY:
                received += len(message.data)
            elif message.type == WSMsgType.TEXT:
                kind = json.loads(message.data).get("type")
                if kind == "Finalize":
                    text = f"{DEEPGRAM_TRANSCRIPT} {received} bytes"
                    await socket.send_json(_deepgram_result(text, received / 32000))
                    received = 0
                elif kind == "CloseStream":
                    break
        await socket.close()
        return socket

    async def _elevenlabs(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests["tts"].append(
            {
                "voice": request.match_info["voice"],
                "output_format": request.query.get("output_format"),
                "api_key": request.headers.get("xi-api-key"),
                **body,
            }
        )
        failure = await self._misbehave("tts")
        if failure is not None:
            return failure
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for start in range(0, len(STAND_IN_PCM), 4800):
            line = {"audio_base64": base64.b64encode(STAND_IN_PCM[start : start + 4800]).decode()}
            await response.write((json.dumps(line) + "\n").encode())
        await response.write_eof()
        return response


def _deepgram_result(transcript: str, duration: float) -> dict[str, Any]:
    """A final ``Results`` message answering a ``Finalize``."""
    return {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": duration,
        "start": 0.0,
        "is_final": True,
        "speech_final": True,
        "from_finalize": True,
        "channel": {"alternatives": [{"transcript": transcript, "confidence": 1.0, "words": []}]},
        "metadata": {
            "request_id": "stand-in",
            "model_info": {"name": "stand-in", "version": "1", "arch": "stand-in"},
            "model_uuid": "stand-in",
        },
    }


# ------------------------------------------------------------------------------------------------
# Fixtures: one stand-in per test module, servers per configuration
# ------------------------------------------------------------------------------------------------


def closed_url() -> str:
    """A base URL on a loopback port nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    server = StandIn().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_stand_in(request: pytest.FixtureRequest) -> None:
    """Every test starts with a well-behaved stand-in and an empty request log."""
    if "stand_in" in request.fixturenames:
        request.getfixturevalue("stand_in").reset()


@contextlib.contextmanager
def running(env: dict[str, str]) -> Iterator[ServerProcess]:
    server = ServerProcess({"REALTIME_PROVIDER_TIMEOUT_S": str(TIMEOUT_S), **env})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def openai_server(stand_in: StandIn) -> Iterator[ServerProcess]:
    """Every stage on the stand-in's OpenAI-compatible endpoints."""
    env = {"REALTIME_STT": "openai", "REALTIME_LLM": "openai", "REALTIME_TTS": "openai"}
    for stage in ("STT", "LLM", "TTS"):
        env[f"REALTIME_{stage}_BASE_URL"] = stand_in.base_url
        env[f"REALTIME_{stage}_MODEL"] = f"stand-in-{stage.lower()}"
    env["REALTIME_LLM_API_KEY"] = "sk-stand-in"
    with running(env) as server:
        yield server


@pytest.fixture(scope="module")
def elevenlabs_server(stand_in: StandIn) -> Iterator[ServerProcess]:
    """Mixed stages: the mock STT, Ollama's provider and ElevenLabs, both on the stand-in."""
    env = {
        "REALTIME_LLM": "ollama",
        "REALTIME_LLM_BASE_URL": stand_in.base_url,
        "REALTIME_LLM_MODEL": "llama3.2:1b",
        "REALTIME_TTS": "elevenlabs",
        "REALTIME_TTS_BASE_URL": f"http://127.0.0.1:{stand_in.port}",
        "REALTIME_ELEVENLABS_API_KEY": "xi-stand-in",
    }
    with running(env) as server:
        yield server


@pytest.fixture(scope="module")
def down_server() -> Iterator[ServerProcess]:
    """STT and TTS pointed at a closed port; the mock LLM in between."""
    env = {
        "REALTIME_STT": "openai",
        "REALTIME_STT_BASE_URL": closed_url(),
        "REALTIME_STT_MODEL": "whisper-1",
        "REALTIME_LLM": "mock",
        "REALTIME_TTS": "openai",
        "REALTIME_TTS_BASE_URL": closed_url(),
        "REALTIME_TTS_MODEL": "tts-1",
    }
    with running(env) as server:
        yield server


@pytest.fixture(scope="module")
def llm_down_server() -> Iterator[ServerProcess]:
    """The LLM pointed at a closed port."""
    env = {
        "REALTIME_LLM": "openai",
        "REALTIME_LLM_BASE_URL": closed_url(),
        "REALTIME_LLM_MODEL": "llama-3.1-8b",
    }
    with running(env) as server:
        yield server


@contextlib.asynccontextmanager
async def session(server: ServerProcess, **config: Any) -> AsyncIterator[RealtimeTestClient]:
    """A session with manual turns, input transcription on, and ``config`` applied."""
    async with open_client(server.base_url) as rt:
        audio = config.pop("audio", {})
        audio.setdefault("input", {}).update(
            {**MANUAL_TURNS, "transcription": {"model": "whisper-1"}}
        )
        await rt.update_session(audio=audio, **config)
        yield rt


async def respond(rt: RealtimeTestClient, **response: Any) -> tuple[dict[str, Any], list[Any]]:
    """``response.create``; returns ``response.done``'s response and all the events."""
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    await rt.send(event)
    events = await rt.collect_until("response.done", TURN_TIMEOUT)
    return events[-1]["response"], events


async def say(rt: RealtimeTestClient, ms: int = 600) -> dict[str, Any]:
    """Commit ``ms`` of audio; returns the transcription's completed or failed event."""
    await rt.append_audio(tone(ms))
    await rt.send({"type": "input_audio_buffer.commit"})
    while True:
        event = await rt.next_event(TURN_TIMEOUT)
        if event["type"].startswith("conversation.item.input_audio_transcription.") and event[
            "type"
        ].endswith(("completed", "failed")):
            return event


def failure_message(response: dict[str, Any]) -> str:
    assert response["status"] == "failed", response
    return response["status_details"]["error"]["message"]


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(
        e["delta"]
        for e in events
        if e["type"] in ("response.output_text.delta", "response.output_audio_transcript.delta")
    )


# ------------------------------------------------------------------------------------------------
# Routing: the configuration really sends each stage to the configured endpoint
# ------------------------------------------------------------------------------------------------


async def test_health_names_each_stage(openai_server: ServerProcess, stand_in: StandIn) -> None:
    models = openai_server.health()["models"]["gpt-realtime"]["models"]
    assert models["stt"] == f"openai: stand-in-stt at {stand_in.base_url}"
    assert models["llm"] == f"openai: stand-in-llm at {stand_in.base_url}"
    assert models["tts"] == f"openai: stand-in-tts at {stand_in.base_url}"


async def test_openai_compatible_stages_route_to_the_stand_in(
    openai_server: ServerProcess, stand_in: StandIn
) -> None:
    async with session(openai_server, audio={"output": {"voice": "cedar"}}) as rt:
        completed = await say(rt)
        assert completed["type"].endswith(".completed")
        assert completed["transcript"] == TRANSCRIPT

        response, events = await respond(rt)
        assert response["status"] == "completed", response
        assert text_of(events) == REPLY
        assert audio_of(events) == STAND_IN_PCM  # 24 kHz PCM16 in and out: byte for byte
        assert response["usage"]["input_tokens"] == 11  # the stand-in's reported usage

    (stt,) = stand_in.requests["stt"]
    assert stt["model"] == "stand-in-stt"
    assert stt["audio"][:4] == b"RIFF"  # a WAV upload of the committed audio
    (llm,) = stand_in.requests["llm"]
    assert llm["body"]["model"] == "stand-in-llm"
    assert llm["body"]["stream"] is True
    assert llm["authorization"] == "Bearer sk-stand-in"
    assert llm["body"]["messages"][-1] == {"role": "user", "content": TRANSCRIPT}
    (tts,) = stand_in.requests["tts"]
    assert tts == {
        "input": REPLY,
        "model": "stand-in-tts",
        "voice": "cedar",
        "response_format": "pcm",
    }


async def test_the_response_voice_is_mapped_per_response(
    openai_server: ServerProcess, stand_in: StandIn
) -> None:
    async with session(openai_server) as rt:
        await rt.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                },
            }
        )
        for voice in ("ballad", "not-a-voice", "marin"):
            response, _ = await respond(rt, audio={"output": {"voice": voice}})
            assert response["status"] == "completed", response
    spoken = [r["voice"] for r in stand_in.requests["tts"]]
    assert spoken == ["ballad", voices.OPENAI_DEFAULT_VOICE, "marin"]


async def test_function_calls_come_through_the_provider(
    openai_server: ServerProcess, stand_in: StandIn
) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    async with session(openai_server, tools=[tool], tool_choice="required") as rt:
        response, events = await respond(rt)
        assert response["status"] == "completed", response
        (call,) = [item for item in response["output"] if item["type"] == "function_call"]
        assert call["name"] == "get_weather"
        assert json.loads(call["arguments"]) == {"city": "Paris"}
        assert "response.function_call_arguments.done" in types_of(events)
    (llm,) = stand_in.requests["llm"]
    assert llm["body"]["tools"][0]["function"]["name"] == "get_weather"


async def test_ollama_and_elevenlabs_route_to_the_stand_in(
    elevenlabs_server: ServerProcess, stand_in: StandIn
) -> None:
    models = elevenlabs_server.health()["models"]["gpt-realtime"]["models"]
    assert models["llm"] == f"ollama: llama3.2:1b at {stand_in.base_url}"
    assert models["tts"].startswith("elevenlabs: eleven_flash_v2_5 at http://127.0.0.1:")
    assert models["stt"].startswith("mock")
    async with session(elevenlabs_server, audio={"output": {"voice": "coral"}}) as rt:
        completed = await say(rt, 500)
        assert completed["transcript"] == "audio of 500 ms"  # the mock STT: stages mix
        response, events = await respond(rt)
        assert response["status"] == "completed", response
        assert text_of(events) == REPLY
        assert audio_of(events) == STAND_IN_PCM
    (llm,) = stand_in.requests["llm"]
    assert llm["body"]["model"] == "llama3.2:1b"
    assert llm["authorization"] == "Bearer ollama"
    (tts,) = stand_in.requests["tts"]
    assert tts["voice"] == voices.ELEVENLABS_VOICE_IDS["coral"]
    assert tts["output_format"] == "pcm_24000"
    assert tts["api_key"] == "xi-stand-in"
    assert tts["text"] == REPLY
    assert tts["model_id"] == "eleven_flash_v2_5"


# ------------------------------------------------------------------------------------------------
# Failures: endpoint down, HTTP 500, endpoint hanging past the timeout
# ------------------------------------------------------------------------------------------------


async def test_llm_down_fails_the_response_clearly(llm_down_server: ServerProcess) -> None:
    async with session(llm_down_server) as rt:
        for _ in range(2):  # and keeps failing cleanly, turn after turn
            started = time.monotonic()
            response, events = await respond(rt)
            message = failure_message(response)
            assert time.monotonic() - started < TIMEOUT_S
            assert "LLM provider 'openai'" in message
            assert "Connection error" in message
            assert "http://127.0.0.1:" in message
            assert "response.output_audio.delta" not in types_of(events)
    assert "to fix: nothing answered at http://127.0.0.1:" in llm_down_server.log()


async def test_stt_and_tts_down_fail_clearly(down_server: ServerProcess) -> None:
    async with session(down_server) as rt:
        failed = await say(rt)
        assert failed["type"] == "conversation.item.input_audio_transcription.failed"
        assert "STT provider 'openai'" in failed["error"]["message"]
        assert "Connection error" in failed["error"]["message"]

        # The failed turn is not answered as an empty one ("You said: ")...
        response, events = await respond(rt)
        assert response["status_details"]["error"]["code"] == "transcription_failed"
        assert text_of(events) == ""
        # ...while a text turn reaches the TTS, which is down.
        await rt.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello"}],
                },
            }
        )
        response, events = await respond(rt)
        message = failure_message(response)
        assert "TTS provider 'openai'" in message
        assert "Connection error" in message
    log = down_server.log()
    assert "STT provider 'openai'" in log
    assert "to fix: nothing answered at http://127.0.0.1:" in log


@pytest.mark.parametrize("stage", ["llm", "tts"])
async def test_http_500_fails_the_response(
    openai_server: ServerProcess, stand_in: StandIn, stage: str
) -> None:
    async with session(openai_server) as rt:
        stand_in.modes[stage] = "500"
        response, _ = await respond(rt)
        message = failure_message(response)
        assert f"{stage.upper()} provider 'openai'" in message
        assert "500" in message
        stand_in.modes[stage] = "ok"
        response, events = await respond(rt)
        assert response["status"] == "completed", response
        assert audio_of(events) == STAND_IN_PCM
    assert "to fix: the server failed (HTTP 500)" in openai_server.log()


async def test_stt_http_500_fails_the_transcription(
    openai_server: ServerProcess, stand_in: StandIn
) -> None:
    async with session(openai_server) as rt:
        stand_in.modes["stt"] = "500"
        failed = await say(rt)
        assert failed["type"] == "conversation.item.input_audio_transcription.failed"
        assert "STT provider 'openai'" in failed["error"]["message"]
        assert "500" in failed["error"]["message"]
        stand_in.modes["stt"] = "ok"
        completed = await say(rt)
        assert completed["transcript"] == TRANSCRIPT


@pytest.mark.parametrize("stage", ["llm", "tts"])
async def test_hanging_endpoint_fails_within_the_timeout(
    openai_server: ServerProcess, stand_in: StandIn, stage: str
) -> None:
    async with session(openai_server) as rt:
        stand_in.modes[stage] = "hang"
        started = time.monotonic()
        response, _ = await respond(rt)
        elapsed = time.monotonic() - started
        message = failure_message(response)
        assert f"{stage.upper()} provider 'openai'" in message
        assert "timed out" in message
        assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 1.5, elapsed

        stand_in.modes[stage] = "ok"  # the session goes on: the next turn works
        response, events = await respond(rt)
        assert response["status"] == "completed", response
        assert text_of(events) == REPLY
        assert audio_of(events) == STAND_IN_PCM
    assert "to fix: no answer within REALTIME_PROVIDER_TIMEOUT_S=1.5 s" in openai_server.log()


async def test_hanging_stt_fails_the_transcription_within_the_timeout(
    openai_server: ServerProcess, stand_in: StandIn
) -> None:
    async with session(openai_server) as rt:
        stand_in.modes["stt"] = "hang"
        started = time.monotonic()
        failed = await say(rt)
        elapsed = time.monotonic() - started
        assert failed["type"] == "conversation.item.input_audio_transcription.failed"
        assert "timed out" in failed["error"]["message"]
        assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 1.5, elapsed
        stand_in.modes["stt"] = "ok"
        completed = await say(rt)
        assert completed["transcript"] == TRANSCRIPT
        response, _ = await respond(rt)
        assert response["status"] == "completed", response


@pytest.mark.parametrize("mode", ["500", "hang"])
async def test_elevenlabs_failure_fails_the_response(
    elevenlabs_server: ServerProcess, stand_in: StandIn, mode: str
) -> None:
    async with session(elevenlabs_server) as rt:
        stand_in.modes["tts"] = mode
        started = time.monotonic()
        response, _ = await respond(rt)
        assert time.monotonic() - started < TIMEOUT_S + 1.5
        message = failure_message(response)
        assert "TTS provider 'elevenlabs'" in message
        # Pipecat's ElevenLabs service reports the error body, not the status.
        assert ("stand-in internal error" if mode == "500" else "Timeout") in message
        stand_in.modes["tts"] = "ok"
        response, events = await respond(rt)
        assert response["status"] == "completed", response
        assert audio_of(events) == STAND_IN_PCM


# ------------------------------------------------------------------------------------------------
# Configuration: what is checked at start-up, and which profiles load
# ------------------------------------------------------------------------------------------------


def settings(**values: Any) -> Settings:
    """Settings from values only (not from this process's environment or a .env file)."""
    return Settings(_env_file=None, **values)


class _Loader:
    """Records which profiles were loaded; serves the mock for every one of them."""

    def __init__(self) -> None:
        self.loaded: list[str] = []

    def __call__(self, name: str) -> Any:
        from pipeline_manager.services import MockServiceFactory

        self.loaded.append(name)
        return MockServiceFactory(settings())


def test_a_profile_loads_only_if_a_stage_uses_it() -> None:
    url = "http://127.0.0.1:9/v1"
    remote = {
        "stt": "openai",
        "llm": "openai",
        "tts": "openai",
        **{f"{s}_base_url": url for s in ("stt", "llm", "tts")},
        **{f"{s}_model": "m" for s in ("stt", "llm", "tts")},
    }
    loader = _Loader()
    factory = create_provider_factory(settings(profile="local", **remote), loader)
    assert loader.loaded == []  # all stages remote: the local models never load
    assert isinstance(factory, ProviderServiceFactory)
    assert factory.name == "local"

    loader = _Loader()
    mixed = settings(profile="mock", stt="local", tts="local", llm="ollama")
    factory = create_provider_factory(mixed, loader)
    assert loader.loaded == ["local"]  # loaded once for two stages
    assert factory.describe()["llm"] == "ollama: llama3.2 at http://localhost:11434/v1"


def test_only_overridden_stages_use_the_provider_factory() -> None:
    assert not overrides_stages(settings())
    assert not overrides_stages(settings(profile="local", stt="local", llm="default"))
    assert overrides_stages(settings(profile="local", llm="mock"))
    assert overrides_stages(settings(tts="openai"))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"llm": "openai"}, "REALTIME_LLM_API_KEY (or OPENAI_API_KEY)"),
        ({"stt": "openai"}, "REALTIME_STT_API_KEY (or OPENAI_API_KEY)"),
        ({"llm": "openai", "llm_base_url": "http://x:1/v1"}, "REALTIME_LLM_MODEL is not"),
        ({"tts": "openai", "tts_base_url": "http://x:1/v1"}, "REALTIME_TTS_MODEL is not"),
        ({"tts": "elevenlabs"}, "REALTIME_ELEVENLABS_API_KEY"),
        ({"stt": "deepgram"}, "REALTIME_DEEPGRAM_API_KEY"),
    ],
)
def test_misconfiguration_fails_at_startup(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], expected: str
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    loader = _Loader()
    with pytest.raises(ProviderConfigError, match=re.escape(expected)):
        create_provider_factory(settings(**values), loader)


def test_openai_key_is_never_sent_to_another_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key")
    factory = create_provider_factory(
        settings(llm="openai", llm_base_url="http://127.0.0.1:9/v1", llm_model="m"), _Loader()
    )
    llm = factory.create_llm()
    assert llm._client.api_key != "sk-real-openai-key"  # the placeholder instead
    assert llm._client.max_retries == 0
    factory = create_provider_factory(settings(llm="openai"), _Loader())
    assert factory.create_llm()._client.api_key == "sk-real-openai-key"  # OpenAI itself


def test_missing_pipecat_extra_fails_at_startup_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a machine without the extra: importing Pipecat's Deepgram service fails.
    monkeypatch.setitem(sys.modules, "pipecat.services.deepgram.stt", None)
    providers._deepgram_segment_class.cache_clear()
    try:
        with pytest.raises(providers.ProviderConfigError) as failure:
            create_provider_factory(settings(stt="deepgram", deepgram_api_key="dg-key"), _Loader())
    finally:
        providers._deepgram_segment_class.cache_clear()
    assert 'pip install "pipecat-ai[deepgram]==1.14.0"' in str(failure.value)


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("Error during completion: Connection error.", "nothing answered at http://h:1/v1"),
        ("Error during completion: Request timed out.", "REALTIME_PROVIDER_TIMEOUT_S=30 s"),
        ("Error code: 401 - invalid key", "set REALTIME_LLM_API_KEY"),
        ("Error code: 404 - model not found", "check REALTIME_LLM_MODEL (m)"),
        ("Error code: 503 - overloaded", "the server failed (HTTP 503)"),
        ('ElevenLabs API error: {"detail": {"status": "invalid_api_key"}}', "credentials"),
        ('ElevenLabs API error: {"detail": {"status": "voice_not_found"}}', "VOICE_ID"),
    ],
)
def test_the_log_says_what_to_fix(message: str, hint: str) -> None:
    endpoint = providers._Endpoint("LLM", "openai", "http://h:1/v1", "m", 30.0)
    assert hint in providers._what_to_fix(endpoint, None, message)


# ------------------------------------------------------------------------------------------------
# The voice table
# ------------------------------------------------------------------------------------------------


def test_voice_table() -> None:
    for name in voices.REALTIME_VOICES:
        assert voices.openai_voice(name) == name  # gpt-4o-mini-tts has every Realtime voice
        assert voices.openai_voice(name, "tts-1") in voices.OPENAI_TTS1_VOICES
        assert voices.elevenlabs_voice(name) == voices.ELEVENLABS_VOICE_IDS[name]
        assert voices.elevenlabs_voice(name, "configuredVoiceId123") == "configuredVoiceId123"
        assert voices.piper_voice(name) == voices.PIPER_VOICE
    assert voices.openai_voice("Nova") == "nova"
    assert voices.openai_voice("robot") == "alloy"
    assert voices.openai_voice("cedar", "tts-1-hd") == "onyx"
    assert voices.elevenlabs_voice("21m00Tcm4TlvDq8ikWAM") == "21m00Tcm4TlvDq8ikWAM"
    assert voices.elevenlabs_voice("robot") == voices.ELEVENLABS_DEFAULT_VOICE_ID
    assert len(set(voices.ELEVENLABS_VOICE_IDS.values())) == len(voices.REALTIME_VOICES)


# ------------------------------------------------------------------------------------------------
# Deepgram (only where Pipecat's deepgram extra is installed; the SDK is needed to connect)
# ------------------------------------------------------------------------------------------------


async def test_deepgram_routes_to_the_stand_in(stand_in: StandIn) -> None:
    pytest.importorskip("deepgram", reason="Pipecat's deepgram extra is not installed")
    env = {
        "REALTIME_STT": "deepgram",
        "REALTIME_STT_BASE_URL": f"http://127.0.0.1:{stand_in.port}",
        "REALTIME_DEEPGRAM_API_KEY": "dg-stand-in",
    }
    with running(env) as server:
        async with session(server) as rt:
            completed = await say(rt, 600)
            # 600 ms of raw 16 kHz PCM16 (no WAV header) went over the websocket.
            assert completed["transcript"] == f"{DEEPGRAM_TRANSCRIPT} 19200 bytes"
            response, _ = await respond(rt)
            assert response["status"] == "completed", response
        (connection,) = stand_in.requests["stt"]
        assert connection["query"]["encoding"] == "linear16"
        assert connection["query"]["sample_rate"] == "16000"
        assert connection["query"]["model"] == "nova-3-general"
        assert "dg-stand-in" in connection["authorization"]

        stand_in.modes["stt"] = "401"  # a rejected key: the transcription fails, saying so
        started = time.monotonic()
        async with session(server) as rt:
            failed = await say(rt)
        assert time.monotonic() - started < TIMEOUT_S + 2
        assert "STT provider 'deepgram'" in failed["error"]["message"]
        assert "status 401" in failed["error"]["message"]
        assert "to fix: the server rejected the credentials" in server.log()
