"""One response's lifecycle and the exact event sequence of docs/protocol.md §6.

A :class:`Response` is fed what the pipeline produces (text, audio, function calls) and returns the
server events to send. It opens the assistant message item and its content part lazily on the first
output, buffers function calls until the message is closed (so a spoken preamble is output 0 and the
call output 1), and closes everything exactly once: completed, cancelled, incomplete or failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audio_utils import AudioFormat, encode_base64_audio
from protocol import new_id
from realtime_session.conversation import ItemRecord
from realtime_session.events import server_event

Events = list[dict[str, Any]]

# Token estimates used when the LLM service reports no usage (documented in the README): text is
# ~4 characters a token, audio is 10 tokens a second (OpenAI bills 1 token per 100 ms of audio).
CHARS_PER_TOKEN = 4
AUDIO_TOKENS_PER_SECOND = 10


def estimate_text_tokens(text: str) -> int:
    """A rough token count for text: one token per four characters, at least one if non-empty."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


@dataclass
class ResponseOptions:
    """Everything that shapes one response: the session's settings plus per-response overrides."""

    modalities: list[str]
    output_format: dict[str, Any]
    voice: str
    speed: float
    instructions: str
    tools: list[dict[str, Any]]
    tool_choice: Any
    max_output_tokens: int | str
    metadata: dict[str, Any] | None
    in_conversation: bool
    context: list[ItemRecord] | None = None
    """Out-of-band responses carry their own context; ``None`` means the whole conversation."""


@dataclass
class Response:
    """A response in progress. ``on_*`` methods return the server events to send."""

    options: ResponseOptions
    conversation_id: str | None
    add_to_conversation: Callable[[ItemRecord], str | None]
    """Inserts an output item into the conversation and returns its ``previous_item_id``."""
    token_ceiling: int = 4096
    """The most text tokens a response may stream when ``max_output_tokens`` is ``"inf"``."""
    audio_deltas: bool = True
    """Send ``response.output_audio.delta`` events; False when the transport plays the audio
    itself (WebRTC), where the real API sends audio on the track and no deltas."""
    id: str = field(default_factory=lambda: new_id("resp"))
    status: str = "in_progress"
    output: list[ItemRecord] = field(default_factory=list)
    usage_input_tokens: int = 0
    _message: ItemRecord | None = None
    _text: str = ""
    """The message's whole text, once it is closed."""
    _audio: bytearray = field(default_factory=bytearray)
    _pending_calls: list[tuple[str, str, str]] = field(default_factory=list)
    _output_text_tokens: int = 0
    _reported_usage: dict[str, int] | None = None
    _status_details: dict[str, Any] | None = None

    # --- read-only views --------------------------------------------------------------------

    @property
    def audio_out(self) -> bool:
        return "audio" in self.options.modalities

    @property
    def output_format(self) -> AudioFormat:
        return AudioFormat.from_session(self.options.output_format)

    @property
    def produced_audio(self) -> bool:
        return bool(self._audio) or any(r.audio for r in self.output)

    @property
    def is_done(self) -> bool:
        return self.status != "in_progress"

    @property
    def accepts_audio(self) -> bool:
        """Whether audio produced now belongs to this response (in progress, audio out)."""
        return not self.is_done and self.audio_out

    @property
    def audio_item_id(self) -> str | None:
        """The id of the message item whose audio is streaming (``None`` before it opens)."""
        return self._message.id if self._message is not None else None

    def to_object(self, *, with_usage: bool = False) -> dict[str, Any]:
        """The ``realtime.response`` object (no audio bytes in its output items)."""
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": self._status_details,
            "output": [r.public() for r in self.output],
            "conversation_id": self.conversation_id,
            "output_modalities": list(self.options.modalities),
            "max_output_tokens": self.options.max_output_tokens,
            "audio": {
                "output": {"format": dict(self.options.output_format), "voice": self.options.voice}
            },
            "usage": self._usage() if with_usage else None,
            "metadata": self.options.metadata,
        }

    # --- lifecycle ----------------------------------------------------------------------------

    def created(self) -> Events:
        """``response.created``."""
        return [server_event("response.created", response=self.to_object())]

    def on_text(self, delta: str) -> Events:
        """A piece of the reply text (the audio transcript in audio mode)."""
        if self.is_done or not delta:
            return []
        events = self._open_message()
        assert self._message is not None
        self._message.streamed.append(delta)
        self._output_text_tokens += 1
        kind = (
            "response.output_audio_transcript.delta"
            if self.audio_out
            else "response.output_text.delta"
        )
        events.append(server_event(kind, **self._part_ref(), delta=delta))
        return events

    def on_audio(self, audio: bytes) -> Events:
        """A chunk of synthesised audio, already in the response's output format."""
        if not audio or not self.accepts_audio:
            return []
        events = self._open_message()
        self._audio += audio
        if self.audio_deltas:
            delta = encode_base64_audio(audio)
            events.append(
                server_event("response.output_audio.delta", **self._part_ref(), delta=delta)
            )
        return events

    def on_function_call(self, name: str, arguments: str, call_id: str | None = None) -> Events:
        """The model called a tool; its item is emitted after the message (if any) is closed."""
        if not self.is_done:
            self._pending_calls.append((name, arguments, call_id or new_id("call")))
        return []

    def over_token_limit(self) -> bool:
        """True once the text output reached ``max_output_tokens``."""
        limit = self.options.max_output_tokens
        return self._output_text_tokens >= (limit if isinstance(limit, int) else self.token_ceiling)

    def finish(self, usage: dict[str, int] | None = None) -> Events:
        """The pipeline finished: close everything and emit ``response.done`` (completed)."""
        if self.is_done:
            return []
        self._reported_usage = usage
        events = self._close_message("completed")
        for name, arguments, call_id in self._pending_calls:
            events += self._emit_function_call(name, arguments, call_id)
        self._pending_calls.clear()
        return events + self._done("completed", None)

    def cancel(self, reason: str) -> Events:
        """Cancelled by the client (``client_cancelled``) or by barge-in (``turn_detected``)."""
        if self.is_done:
            return []
        events = self._close_message("incomplete")
        return events + self._done("cancelled", {"type": "cancelled", "reason": reason})

    def truncate_for_limit(self) -> Events:
        """Stopped by ``max_output_tokens``: status ``incomplete``."""
        if self.is_done:
            return []
        events = self._close_message("incomplete")
        return events + self._done(
            "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
        )

    def fail(self, message: str, code: str = "server_error") -> Events:
        """The back end failed: status ``failed`` with the error in ``status_details``."""
        if self.is_done:
            return []
        events = self._close_message("incomplete")
        error = {"type": "server_error", "code": code, "message": message}
        return events + self._done("failed", {"type": "failed", "error": error})

    # --- internals ----------------------------------------------------------------------------

    def _part_ref(self) -> dict[str, Any]:
        assert self._message is not None
        return {
            "response_id": self.id,
            "item_id": self._message.id,
            "output_index": self.output.index(self._message),
            "content_index": 0,
        }

    def _item_ref(self, record: ItemRecord) -> dict[str, Any]:
        return {"response_id": self.id, "output_index": self.output.index(record)}

    def _add_output(self, record: ItemRecord) -> Events:
        self.output.append(record)
        events = [
            server_event(
                "response.output_item.added", **self._item_ref(record), item=record.public()
            )
        ]
        if self.options.in_conversation:
            previous = self.add_to_conversation(record)
            events.append(
                server_event(
                    "conversation.item.added", previous_item_id=previous, item=record.public()
                )
            )
        return events

    def _finish_item(self, record: ItemRecord, status: str) -> Events:
        record.item["status"] = status
        events = []
        if self.options.in_conversation:
            events.append(server_event("conversation.item.done", item=record.public()))
        events.append(
            server_event(
                "response.output_item.done", **self._item_ref(record), item=record.public()
            )
        )
        return events

    def _open_message(self) -> Events:
        if self._message is not None:
            return []
        item = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        self._message = ItemRecord(item=item)
        if self.audio_out:
            # The record shares the growing audio buffer, so the item can be truncated (or
            # retrieved) while the response is still streaming.
            self._message.audio = self._audio
            self._message.audio_format = self.output_format
        events = self._add_output(self._message)
        part = (
            {"type": "audio", "transcript": ""} if self.audio_out else {"type": "text", "text": ""}
        )
        events.append(server_event("response.content_part.added", **self._part_ref(), part=part))
        return events

    def _close_message(self, status: str) -> Events:
        record = self._message
        if record is None:
            return []
        self._text = record.streamed_text
        ref = self._part_ref()
        events: Events = []
        if self.audio_out:
            events.append(server_event("response.output_audio.done", **ref))
            events.append(
                server_event("response.output_audio_transcript.done", **ref, transcript=self._text)
            )
            part = {"type": "audio", "transcript": self._text}
            if record.audio is self._audio:
                # The record keeps the buffer itself: nothing appends to it once the message is
                # closed, and a copy would cost the whole reply's audio in one step (~20 MB for
                # 4,000 words), stalling every session at the end of a long reply.
                record.item["content"] = [{"type": "output_audio", "transcript": self._text}]
                record.llm_text = self._text
            # else: the client truncated the item mid-stream; its cut audio and text stand.
        else:
            events.append(server_event("response.output_text.done", **ref, text=self._text))
            part = {"type": "text", "text": self._text}
            record.item["content"] = [{"type": "output_text", "text": self._text}]
            record.llm_text = self._text
        events.append(server_event("response.content_part.done", **ref, part=part))
        events += self._finish_item(record, status)
        self._message = None
        return events

    def _emit_function_call(self, name: str, arguments: str, call_id: str) -> Events:
        item = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        record = ItemRecord(item=item)
        events = self._add_output(record)
        ref = {**self._item_ref(record), "item_id": record.id, "call_id": call_id}
        events.append(
            server_event("response.function_call_arguments.delta", **ref, delta=arguments)
        )
        events.append(
            server_event(
                "response.function_call_arguments.done", **ref, name=name, arguments=arguments
            )
        )
        item["arguments"] = arguments
        return events + self._finish_item(record, "completed")

    def _done(self, status: str, details: dict[str, Any] | None) -> Events:
        self.status = status
        self._status_details = details
        return [server_event("response.done", response=self.to_object(with_usage=True))]

    def _usage(self) -> dict[str, Any]:
        reported = self._reported_usage or {}
        text_out = reported.get("output_tokens") or estimate_text_tokens(self._text_all())
        audio_ms = sum(r.audio_ms for r in self.output)
        audio_out = int(audio_ms / 1000 * AUDIO_TOKENS_PER_SECOND)
        input_tokens = reported.get("input_tokens") or self.usage_input_tokens
        output_tokens = text_out + audio_out
        return {
            "total_tokens": input_tokens + output_tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "input_token_details": {
                "text_tokens": input_tokens,
                "audio_tokens": 0,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    def _text_all(self) -> str:
        texts = [self._text]
        for record in self.output:
            if record.item.get("type") == "function_call":
                texts.append(record.item.get("arguments", ""))
        return "".join(texts)
