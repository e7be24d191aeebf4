"""A stand-in GLM-Realtime server on loopback, speaking GLM's dialect as documented (docs/glm.md).

:class:`GLMStandIn` is a plain ``websockets`` server. It checks the ``Authorization: Bearer``
header (HTTP 401 otherwise), greets with ``session.created``, answers ``session.update`` with
``session.updated`` (after checking the fields GLM requires), takes input audio in the format the
session names (``wav`` files are parsed, and every append is recorded as :class:`ReceivedAudio`
so tests can check rate and container), commits on ``input_audio_buffer.commit`` or, with
``server_vad``, once ``vad_turn_ms`` of audio arrived, and answers ``response.create`` with a
scripted reply: ``response.created``, transcript deltas, PCM16 24 kHz audio deltas (or text
deltas for ``modalities ["text"]``), the ``.done`` events and ``response.done`` with usage. With
``function_call`` set, a response first calls that function (one
``response.function_call_arguments.done``) and the next one, after a ``function_call_output``,
speaks. Like GLM, it sends no ``response.output_item.*`` / ``content_part.*`` events, no
``item_id`` in ``speech_started`` and no ``call_id`` unless told to.

    standin = GLMStandIn(api_key="k.s", transcript=["Hi", " there"])
    url = await standin.start()          # ws://127.0.0.1:PORT/api/paas/v4/realtime
    ...
    await standin.wait_for("input_audio_buffer.commit")
    standin.received, standin.audio      # what arrived
    await standin.stop()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from relay.dialects.glm.audio import parse_wav

PATH = "/api/paas/v4/realtime"
OUTPUT_RATE = 24000
INPUT_RATES = {
    "wav": 16000,
    "wav16": 16000,
    "wav24": 24000,
    "wav48": 48000,
    "pcm16": 16000,
    "pcm24": 24000,
}
MODELS = ("glm-realtime-flash", "glm-realtime-air")
VOICES = (
    "tongtong",
    "female-tianmei",
    "male-qn-daxuesheng",
    "male-qn-jingying",
    "lovely_girl",
    "female-shaonv",
)
USAGE = {
    "total_tokens": 30,
    "input_tokens": 10,
    "output_tokens": 20,
    "input_token_details": {"cached_tokens": 0, "text_tokens": 4, "audio_tokens": 6},
    "output_token_details": {"text_tokens": 5, "audio_tokens": 15},
}


def session_problem(session: Any) -> str | None:
    """What is wrong with a GLM ``session.update`` body (``None`` if GLM's schema takes it)."""
    if not isinstance(session, dict):
        return "session must be an object"
    for required in ("input_audio_format", "output_audio_format", "turn_detection"):
        if required not in session:
            return f"session.{required} is required"
    if session["input_audio_format"] not in INPUT_RATES:
        return f"unsupported input_audio_format {session['input_audio_format']!r}"
    if session["output_audio_format"] not in ("pcm", "mp3"):
        return f"unsupported output_audio_format {session['output_audio_format']!r}"
    detection = session["turn_detection"]
    if not isinstance(detection, dict) or detection.get("type") not in ("server_vad", "client_vad"):
        return "turn_detection.type must be server_vad or client_vad"
    beta = session.get("beta_fields")
    if not isinstance(beta, dict) or beta.get("chat_mode") not in ("audio", "video_passive"):
        return "beta_fields.chat_mode is required (audio or video_passive)"
    if "model" in session and session["model"] not in MODELS:
        return f"unknown model {session['model']!r}"
    if "voice" in session and session["voice"] not in VOICES:
        return f"unknown voice {session['voice']!r}"
    modalities = session.get("modalities", ["text", "audio"])
    if not isinstance(modalities, list) or not set(modalities) <= {"text", "audio"}:
        return "modalities must be a list of text/audio"
    limit = session.get("max_response_output_tokens")
    if limit is not None and (not isinstance(limit, str) or not 0 <= int(limit) <= 1024):
        return "max_response_output_tokens must be a string in 0..1024"
    for tool in session.get("tools") or []:
        if tool.get("type") != "function" or not tool.get("name") or "description" not in tool:
            return "tools need type function, a name and a description"
    return None


CLIENT_EVENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.append_video_frame",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
)
"""The client events of GLM's documentation and AsyncAPI schema."""


def client_event_problem(event: Any) -> str | None:
    """What is wrong with a client event by GLM's documented shapes (``None`` if nothing)."""
    if not isinstance(event, dict) or event.get("type") not in CLIENT_EVENT_TYPES:
        return f"not a GLM client event: {event!r:.200}"
    if "event_id" in event and not isinstance(event["event_id"], str):
        return "event_id must be a string"
    if "client_timestamp" in event and not isinstance(event["client_timestamp"], int):
        return "client_timestamp must be an integer (ms)"
    kind = event["type"]
    if kind == "session.update":
        return session_problem(event.get("session"))
    if kind == "input_audio_buffer.append":
        audio = event.get("audio")
        if not isinstance(audio, str) or not audio:
            return "append needs base64 audio"
        try:
            base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            return "append audio is not base64"
    if kind == "conversation.item.create":
        item = event.get("item")
        if not isinstance(item, dict) or item.get("object") != "realtime.item":
            return "item needs object realtime.item"
        if item.get("type") not in ("message", "function_call", "function_call_output"):
            return f"bad item type {item.get('type')!r}"
        if item["type"] == "message":
            if item.get("role") not in ("user", "assistant", "system"):
                return "message needs a role"
            for part in item.get("content") or []:
                if part.get("type") not in ("input_text", "input_audio", "text"):
                    return f"bad content type {part.get('type')!r}"
    if kind in ("conversation.item.delete", "conversation.item.retrieve") and not isinstance(
        event.get("item_id"), str
    ):
        return "item_id is required"
    return None


@dataclass(frozen=True)
class ReceivedAudio:
    """One ``input_audio_buffer.append`` as it arrived."""

    container: str  # "wav" or "pcm"
    rate: int
    channels: int
    bits: int
    pcm: bytes

    @property
    def duration_ms(self) -> float:
        return len(self.pcm) / (self.rate * self.channels * self.bits / 8) * 1000


@dataclass(frozen=True)
class FunctionCallScript:
    """The call a response makes before the stand-in speaks."""

    name: str
    arguments: str
    include_call_id: bool = False


@dataclass(eq=False)
class _Connection:
    ws: ServerConnection
    session: dict[str, Any]
    buffer: bytearray = field(default_factory=bytearray)
    buffer_rate: int = 16000
    speaking: bool = False
    call_state: str = "idle"  # idle -> waiting (called) -> answered (output came) -> idle
    response: asyncio.Task[None] | None = None
    response_id: str | None = None


class GLMStandIn:
    """A scripted GLM-Realtime server (see the module docstring)."""

    def __init__(
        self,
        *,
        api_key: str = "glm-test.secret",
        transcript: Sequence[str] = ("Hello", " from", " GLM."),
        reply_audio_ms: int = 300,
        user_transcript: str = "What is the weather?",
        function_call: FunctionCallScript | None = None,
        vad_turn_ms: int = 600,
        send_session_created: bool = True,
        chunk_delay_s: float = 0.0,
    ) -> None:
        """Create the stand-in (not listening yet).

        Args:
            api_key: The key the ``Authorization: Bearer`` header must carry.
            transcript: The reply's transcript (or text), one delta per piece.
            reply_audio_ms: Length of the reply's audio (a 440 Hz tone), in 100 ms deltas.
            user_transcript: What the input transcription of every committed turn says.
            function_call: A call to make before speaking (see :class:`FunctionCallScript`).
            vad_turn_ms: With ``server_vad``, a turn ends (and is answered) after this much audio.
            send_session_created: Greet with ``session.created`` on connect.
            chunk_delay_s: Pause between a reply's events (gives a cancel time to land).
        """
        self.api_key = api_key
        self.transcript = list(transcript)
        self.reply_audio_ms = reply_audio_ms
        self.user_transcript = user_transcript
        self.function_call = function_call
        self.vad_turn_ms = vad_turn_ms
        self.send_session_created = send_session_created
        self.chunk_delay_s = chunk_delay_s
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.audio: list[ReceivedAudio] = []
        self.handshakes: list[dict[str, str]] = []
        self.sessions: list[dict[str, Any]] = []
        self._server: Server | None = None
        self._connections: set[_Connection] = set()
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on a free loopback port; returns the ``ws://`` URL of the realtime path."""
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._check_request, max_size=2**24
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}{PATH}"

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for conn in list(self._connections):
            if conn.response is not None:
                conn.response.cancel()
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            self._server = None

    async def __aenter__(self) -> GLMStandIn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what tests read ------------------------------------------------------------------------

    def received_types(self) -> list[str]:
        return [e.get("type", "") for e in self.received]

    async def wait_for(
        self, event_type: str, *, count: int = 1, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait until ``count`` client events of ``event_type`` arrived; returns the last one."""

        def matches() -> list[dict[str, Any]]:
            return [e for e in self.received if e.get("type") == event_type]

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(matches()) >= count)
        return matches()[count - 1]

    @property
    def audio_ms(self) -> float:
        """Milliseconds of input audio received, over all appends."""
        return sum(a.duration_ms for a in self.audio)

    # --- the connection -------------------------------------------------------------------------

    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.handshakes.append(dict(request.headers.raw_items()))
        if request.path.split("?")[0] != PATH:
            return conn.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return conn.respond(
                HTTPStatus.UNAUTHORIZED, '{"error":{"code":"1000","message":"auth"}}\n'
            )
        return None

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    async def _send(self, conn: _Connection, event_type: str, **fields: Any) -> None:
        event = {"event_id": self._id("event"), "type": event_type, **fields}
        self.sent.append(event)
        await conn.ws.send(json.dumps(event))

    async def _error(self, conn: _Connection, code: str, message: str) -> None:
        await self._send(
            conn, "error", error={"type": "invalid_request_error", "code": code, "message": message}
        )

    async def _handle(self, ws: ServerConnection) -> None:
        conn = _Connection(
            ws=ws,
            session={
                "id": self._id("sess"),
                "object": "realtime.session",
                "model": "glm-realtime-flash",
                "modalities": ["text", "audio"],
                "voice": "tongtong",
                "instructions": "你是一个名为小智的人工智能助手。",
                "input_audio_format": "wav",
                "output_audio_format": "pcm",
                "turn_detection": {"type": "client_vad"},
                "tools": [],
                "beta_fields": {"chat_mode": "audio"},
            },
        )
        self._connections.add(conn)
        try:
            if self.send_session_created:
                await self._send(conn, "session.created", session=dict(conn.session))
            await self._send(conn, "heartbeat")
            async for message in ws:
                await self._on_message(conn, message)
        except ConnectionClosed:
            pass
        finally:
            if conn.response is not None:
                conn.response.cancel()
            self._connections.discard(conn)

    async def _on_message(self, conn: _Connection, message: str | bytes) -> None:
        try:
            event = json.loads(message)
        except (TypeError, ValueError):
            await self._error(conn, "invalid_json", "The message is not JSON.")
            return
        if not isinstance(event, dict):
            await self._error(conn, "invalid_event", "The event is not an object.")
            return
        async with self._changed:
            self.received.append(event)
            self._changed.notify_all()
        problem = client_event_problem(event)
        if problem is not None:
            await self._error(conn, "invalid_event", problem)
            return
        handler = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            "conversation.item.delete": self._on_item_delete,
        }.get(event.get("type", ""))
        if handler is None:
            await self._error(conn, "invalid_event", f"Unknown event type {event.get('type')!r}.")
            return
        await handler(conn, event)

    # --- session --------------------------------------------------------------------------------

    async def _on_session_update(self, conn: _Connection, event: dict[str, Any]) -> None:
        session = event.get("session")
        problem = session_problem(session)
        if problem is not None:
            await self._error(conn, "invalid_session", problem)
            return
        assert isinstance(session, dict)
        self.sessions.append(session)
        conn.session.update(session)
        await self._send(conn, "session.updated", session=dict(conn.session))
        await self._send(conn, "heartbeat")

    # --- input audio ----------------------------------------------------------------------------

    def _decode_audio(self, conn: _Connection, data: Any) -> ReceivedAudio:
        raw = base64.b64decode(data, validate=True)
        fmt = conn.session["input_audio_format"]
        if fmt.startswith("wav"):
            wav = parse_wav(raw)
            if wav.rate != INPUT_RATES[fmt]:
                raise ValueError(f"WAV at {wav.rate} Hz, but input_audio_format is {fmt}")
            return ReceivedAudio("wav", wav.rate, wav.channels, wav.bits, wav.pcm)
        return ReceivedAudio("pcm", INPUT_RATES[fmt], 1, 16, raw)

    async def _on_append(self, conn: _Connection, event: dict[str, Any]) -> None:
        try:
            audio = self._decode_audio(conn, event.get("audio"))
        except (binascii.Error, ValueError, TypeError) as exc:
            await self._error(conn, "invalid_audio", f"Bad audio: {exc}")
            return
        self.audio.append(audio)
        conn.buffer += audio.pcm
        conn.buffer_rate = audio.rate
        if conn.session["turn_detection"]["type"] != "server_vad":
            return
        if not conn.speaking:
            conn.speaking = True
            await self._send(conn, "input_audio_buffer.speech_started")
        if len(conn.buffer) / (2 * conn.buffer_rate) * 1000 >= self.vad_turn_ms:
            conn.speaking = False
            await self._send(conn, "input_audio_buffer.speech_stopped")
            await self._commit_turn(conn)
            self._start_response(conn)

    async def _commit_turn(self, conn: _Connection) -> None:
        item_id = self._id("item")
        conn.buffer.clear()
        await self._send(conn, "input_audio_buffer.committed", item_id=item_id)
        await self._send(
            conn,
            "conversation.item.created",
            item={
                "id": item_id,
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        )
        await self._send(
            conn,
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            transcript=self.user_transcript,
        )

    async def _on_commit(self, conn: _Connection, event: dict[str, Any]) -> None:
        if not conn.buffer:
            await self._error(conn, "input_audio_buffer_commit_empty", "No audio to commit.")
            return
        await self._commit_turn(conn)

    async def _on_clear(self, conn: _Connection, event: dict[str, Any]) -> None:
        conn.buffer.clear()
        conn.speaking = False
        await self._send(conn, "input_audio_buffer.cleared")

    # --- items ----------------------------------------------------------------------------------

    async def _on_item_create(self, conn: _Connection, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("object") != "realtime.item":
            await self._error(conn, "invalid_item", "item.type and item.object are required")
            return
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or []:
                if part.get("type") not in ("input_text", "input_audio", "text"):
                    await self._error(
                        conn, "invalid_item", f"bad content type {part.get('type')!r}"
                    )
                    return
                if part.get("type") == "input_audio" and "audio" in part:
                    try:
                        self.audio.append(self._decode_audio(conn, part["audio"]))
                    except (binascii.Error, ValueError, TypeError) as exc:
                        await self._error(conn, "invalid_audio", f"Bad audio: {exc}")
                        return
        elif kind == "function_call_output":
            if not isinstance(item.get("output"), str) or not item["output"]:
                await self._error(conn, "invalid_item", "function_call_output needs an output")
                return
            if conn.call_state == "waiting":
                conn.call_state = "answered"
        elif kind != "function_call":
            await self._error(conn, "invalid_item", f"bad item type {kind!r}")
            return
        created = {**item, "id": item.get("id") or self._id("item"), "status": "completed"}
        if kind == "message":
            created["content"] = [
                {k: v for k, v in part.items() if k != "audio"}
                for part in item.get("content") or []
            ]
        await self._send(conn, "conversation.item.created", item=created)

    async def _on_item_delete(self, conn: _Connection, event: dict[str, Any]) -> None:
        await self._send(conn, "conversation.item.deleted", item_id=event["item_id"])

    # --- responses ------------------------------------------------------------------------------

    async def _on_response_create(self, conn: _Connection, event: dict[str, Any]) -> None:
        if conn.response is not None and not conn.response.done():
            await self._error(
                conn, "conversation_already_has_active_response", "A response is in progress."
            )
            return
        self._start_response(conn)

    def _start_response(self, conn: _Connection) -> None:
        conn.response_id = self._id("resp")
        conn.response = asyncio.create_task(self._respond(conn, conn.response_id))

    async def _on_response_cancel(self, conn: _Connection, event: dict[str, Any]) -> None:
        task = conn.response
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self._send(
            conn,
            "response.done",
            response={
                "id": conn.response_id,
                "object": "realtime.response",
                "status": "cancelled",
                "usage": USAGE,
            },
        )

    async def _pause(self) -> None:
        await asyncio.sleep(self.chunk_delay_s)

    async def _respond(self, conn: _Connection, response_id: str) -> None:
        await self._send(
            conn,
            "response.created",
            response={
                "id": response_id,
                "object": "realtime.response",
                "status": "in_progress",
                "usage": {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0},
            },
        )
        call = self.function_call
        if call is not None and conn.call_state == "idle":
            conn.call_state = "waiting"
            await self._pause()
            fields: dict[str, Any] = {
                "output_index": 0,
                "name": call.name,
                "arguments": call.arguments,
            }
            if call.include_call_id:
                fields["call_id"] = self._id("call")
            await self._send(
                conn, "response.function_call_arguments.done", response_id=response_id, **fields
            )
        elif conn.session.get("modalities") == ["text"]:
            await self._speak_text(conn, response_id)
            conn.call_state = "idle"
        else:
            await self._speak_audio(conn, response_id)
            conn.call_state = "idle"
        await self._pause()
        await self._send(
            conn,
            "response.done",
            response={
                "id": response_id,
                "object": "realtime.response",
                "status": "completed",
                "usage": USAGE,
            },
        )

    async def _speak_text(self, conn: _Connection, response_id: str) -> None:
        item_id = self._id("item")
        ref = {
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
        }
        for piece in self.transcript:
            await self._pause()
            await self._send(conn, "response.text.delta", **ref, delta=piece)
        await self._send(conn, "response.text.done", **ref, text="".join(self.transcript))

    async def _speak_audio(self, conn: _Connection, response_id: str) -> None:
        item_id = self._id("item")
        ref = {
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
        }
        chunks = [tone_pcm16(100, start_ms=i * 100) for i in range(self.reply_audio_ms // 100)]
        pieces = list(self.transcript)
        for index in range(max(len(chunks), len(pieces))):
            await self._pause()
            if index < len(pieces):
                await self._send(
                    conn, "response.audio_transcript.delta", **ref, delta=pieces[index]
                )
            if index < len(chunks):
                delta = base64.b64encode(chunks[index]).decode("ascii")
                await self._send(conn, "response.audio.delta", **ref, delta=delta)
        await self._send(conn, "response.audio.done", **ref)
        await self._send(
            conn, "response.audio_transcript.done", **ref, transcript="".join(self.transcript)
        )


def tone_pcm16(ms: int, *, rate: int = OUTPUT_RATE, hz: float = 440.0, start_ms: int = 0) -> bytes:
    """``ms`` milliseconds of a sine tone as PCM16 mono (continuous across ``start_ms``)."""
    first = rate * start_ms // 1000
    count = rate * ms // 1000
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * (first + n) / rate)))
        for n in range(count)
    )
