"""The sans-I/O Realtime session: client events and pipeline signals in, server events out.

:class:`RealtimeSession` holds everything a connection owns (configuration, conversation, input
audio buffer, responses) and no I/O at all. ``handle_raw``/``handle`` take client events; the
``on_*`` methods take what the pipeline reports. Each returns a list whose entries are either server
events (plain dicts, ready for ``json.dumps``) or :class:`~realtime_session.commands.Command`
objects for the pipeline adapter.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from loguru import logger

from audio_utils import AudioFormat, decode_base64_audio
from protocol import ProtocolError, new_id
from protocol.validation import parse_client_event
from realtime_session.commands import (
    ArmIdleTimer,
    CancelResponse,
    Command,
    ConfigureTurnDetection,
    DisarmIdleTimer,
    FeedAudio,
    StartResponse,
    TranscribeAudio,
)
from realtime_session.conversation import Conversation, ItemRecord
from realtime_session.events import server_event
from realtime_session.input_buffer import InputAudioBuffer
from realtime_session.llm_context import LLMRequest, build_messages, estimate_tokens_of
from realtime_session.rate_limits import RateLimitTracker
from realtime_session.response import Response, ResponseOptions
from realtime_session.session_config import SessionConfig

Output = dict[str, Any] | Command
MIN_COMMIT_MS = 100
DEFAULT_PREFIX_PADDING_MS = 300
IDLE_BUFFER_MARGIN_MS = 1000
"""How much audio beyond the prefix padding is kept while nobody speaks (server VAD)."""


@dataclass(frozen=True)
class SessionLimits:
    """Per-session resource limits (see ``config.Settings`` for the defaults' rationale)."""

    max_input_buffer_ms: float = 600_000.0
    max_conversation_items: int = 1000


@dataclass
class _SpeechTurn:
    """A user turn the VAD has opened and not yet closed."""

    item_id: str
    start_ms: float


class RealtimeSession:
    """One Realtime API session, independent of sockets and models."""

    def __init__(
        self,
        *,
        model: str = "gpt-realtime",
        session_type: str = "realtime",
        initial_session: dict[str, Any] | None = None,
        limits: SessionLimits | None = None,
    ) -> None:
        self.limits = limits or SessionLimits()
        if initial_session is not None:
            session_type = initial_session.get("type", session_type)
        self.config = SessionConfig(model, session_type)
        if initial_session is not None:
            # Validated when the client secret was minted; applied before session.created.
            self.config.apply(self.config.merged(initial_session))
        self.conversation = Conversation()
        self.buffer = InputAudioBuffer(AudioFormat.from_session(self.config.input_format))
        self._speech: _SpeechTurn | None = None
        self._rate_limits = RateLimitTracker()
        self._auto_response_pending = False
        self._idle_fired = False
        self._responses: dict[str, Response] = {}
        self._active_default: Response | None = None
        self._voice_locked = False
        self._transcribed_with: dict[str, dict[str, Any] | None] = {}

    # --- entry points -------------------------------------------------------------------------

    def start(self) -> list[Output]:
        """The events that open the session: ``session.created``."""
        outputs: list[Output] = [server_event("session.created", session=self.config.to_dict())]
        outputs.append(self._configure_input())
        return outputs

    def _configure_input(self) -> ConfigureTurnDetection:
        return ConfigureTurnDetection(self.config.turn_detection, self.config.noise_reduction)

    def handle_raw(self, raw: str | bytes) -> list[Output]:
        """Parse, validate and apply one WebSocket frame; bad input becomes an ``error`` event."""
        try:
            event = parse_client_event(raw)
        except ProtocolError as error:
            return [error.to_event()]
        return self.handle(event)

    def handle(self, event: dict[str, Any]) -> list[Output]:
        """Apply one validated client event."""
        handler = getattr(self, "_on_" + event["type"].replace(".", "_"))
        try:
            return handler(event)
        except ProtocolError as error:
            return [error.with_event_id(event.get("event_id")).to_event()]
        except Exception:  # a bug must cost one event, never the session
            logger.exception(f"internal error handling {event['type']}")
            return [
                ProtocolError(
                    "server_error",
                    "The server had an error while processing your event.",
                    event_id=event.get("event_id"),
                    error_type="server_error",
                ).to_event()
            ]

    @property
    def active_response_ids(self) -> list[str]:
        """Ids of responses still in progress (default conversation and out-of-band)."""
        return list(self._responses)

    @property
    def audio_ms_total(self) -> float:
        """Milliseconds of input audio appended over the whole session."""
        return self.buffer.total_ms

    @property
    def input_format(self) -> AudioFormat:
        return AudioFormat.from_session(self.config.input_format)

    # --- session ------------------------------------------------------------------------------

    def _on_session_update(self, event: dict[str, Any]) -> list[Output]:
        update = event["session"]
        before = self.config.to_dict()
        body = self.config.merged(update)
        self._check_session_body(body)
        self.config.apply(body)
        self.buffer.set_format(self.input_format)
        outputs: list[Output] = [server_event("session.updated", session=self.config.to_dict())]
        input_before = before["audio"]["input"]
        if (self.config.turn_detection, self.config.noise_reduction) != (
            input_before["turn_detection"],
            input_before["noise_reduction"],
        ):
            self._speech = None
            outputs.append(self._configure_input())
            idle_ms = self._idle_timeout_ms()
            self._idle_fired = False
            if idle_ms is not None and self._active_default is None:
                outputs.append(ArmIdleTimer(idle_ms))
            elif idle_ms is None:
                outputs.append(DisarmIdleTimer())
        return outputs

    def _check_session_body(self, body: dict[str, Any]) -> None:
        """Semantic checks of a merged session body; raise to reject the update whole."""
        if (
            self._voice_locked
            and body.get("audio", {}).get("output", {}).get("voice") != self.config.voice
        ):
            raise ProtocolError(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                param="session.audio.output.voice",
            )

    # --- input audio buffer -------------------------------------------------------------------

    def _on_input_audio_buffer_append(self, event: dict[str, Any]) -> list[Output]:
        audio = decode_base64_audio(event["audio"])
        added_ms = self.buffer.format.duration_ms(len(audio))
        if self.buffer.duration_ms + added_ms > self.limits.max_input_buffer_ms:
            raise ProtocolError(
                "input_audio_buffer_full",
                f"The input audio buffer would exceed its limit of "
                f"{self.limits.max_input_buffer_ms:.0f} ms; commit or clear it first.",
                param="audio",
            )
        self.buffer.append(audio)
        if self.config.turn_detection is None:
            return []
        if self._speech is None:
            # Nobody is speaking: keep only what a future turn's prefix padding could need.
            self.buffer.keep_last(self._prefix_padding_ms() + IDLE_BUFFER_MARGIN_MS)
        return [FeedAudio(audio, self.buffer.format)]

    def _on_input_audio_buffer_commit(self, event: dict[str, Any]) -> list[Output]:
        buffered_ms = self.buffer.duration_ms
        if buffered_ms < MIN_COMMIT_MS:
            raise ProtocolError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
            )
        self._speech = None
        return self.commit_audio(self.buffer.take_all(), self.buffer.format)

    def commit_audio(
        self, audio: bytes, fmt: AudioFormat, item_id: str | None = None
    ) -> list[Output]:
        """Turn committed input audio into a user item (manual commit or end of a VAD turn)."""
        item = {
            "id": item_id or new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        record = ItemRecord(item=item, audio=audio, audio_format=fmt)
        previous = self.conversation.insert(record)
        outputs: list[Output] = [
            server_event(
                "input_audio_buffer.committed", item_id=record.id, previous_item_id=previous
            ),
            server_event(
                "conversation.item.added", previous_item_id=previous, item=record.public()
            ),
            server_event("conversation.item.done", previous_item_id=previous, item=record.public()),
        ]
        outputs.append(self._transcribe(record))
        return outputs + self._enforce_item_limit()

    def _enforce_item_limit(self) -> list[Output]:
        """Delete the oldest items beyond ``max_conversation_items`` (announced to the client).

        Items of responses still in progress are kept; everything else goes oldest first, the
        way a bounded context window forgets the start of a long conversation.
        """
        excess = len(self.conversation) - self.limits.max_conversation_items
        if excess <= 0:
            return []
        in_progress = {r.id for response in self._responses.values() for r in response.output}
        outputs: list[Output] = []
        for record in self.conversation.records():
            if excess <= 0:
                break
            if record.id in in_progress:
                continue
            self.conversation.delete(record.id)
            outputs.append(server_event("conversation.item.deleted", item_id=record.id))
            excess -= 1
        return outputs

    def _transcribe(self, record: ItemRecord) -> TranscribeAudio:
        assert record.audio is not None and record.audio_format is not None
        transcription = copy.deepcopy(self.config.transcription)
        if transcription is None and self.config.type == "transcription":
            transcription = {}  # a transcription session always reports its transcripts
        self._transcribed_with[record.id] = transcription
        return TranscribeAudio(
            record.id,
            record.audio,
            record.audio_format,
            transcription,
            copy.deepcopy(self.config.noise_reduction),
        )

    def _on_input_audio_buffer_clear(self, event: dict[str, Any]) -> list[Output]:
        self.buffer.clear()
        self._speech = None
        return [server_event("input_audio_buffer.cleared")]

    def _on_output_audio_buffer_clear(self, event: dict[str, Any]) -> list[Output]:
        raise ProtocolError(
            "invalid_value",
            "output_audio_buffer.clear is only supported for WebRTC and SIP sessions; over "
            "WebSocket, stop playback locally and send conversation.item.truncate.",
            param="type",
        )

    # --- conversation items ---------------------------------------------------------------------

    def _on_conversation_item_create(self, event: dict[str, Any]) -> list[Output]:
        if self.config.type != "realtime":
            raise _not_in_transcription_session(event["type"])
        previous_id = event.get("previous_item_id")
        record = self._record_from_client_item(event["item"])
        self.conversation.check_insert(record.id, previous_id)
        previous = self.conversation.insert(record, previous_id)
        outputs: list[Output] = [
            server_event(
                "conversation.item.added", previous_item_id=previous, item=record.public()
            ),
            server_event("conversation.item.done", previous_item_id=previous, item=record.public()),
        ]
        if record.audio is not None:
            outputs.append(self._transcribe(record))
        return outputs + self._enforce_item_limit()

    def _record_from_client_item(self, item: dict[str, Any], param: str = "item") -> ItemRecord:
        """Normalise an item sent by the client into a stored record (audio decoded aside)."""
        item = copy.deepcopy(item)
        kind = item["type"]
        if kind not in ("message", "function_call", "function_call_output"):
            raise ProtocolError(
                "invalid_value",
                f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call' and "
                "'function_call_output'.",
                param=f"{param}.type",
            )
        item.setdefault("id", new_id("item"))
        item["object"] = "realtime.item"
        item["status"] = "completed"
        audio = None
        if kind == "function_call_output":
            if self.conversation.find_function_call(item["call_id"]) is None:
                raise ProtocolError(
                    "invalid_value",
                    f"No function call with call_id '{item['call_id']}' found in the conversation.",
                    param=f"{param}.call_id",
                )
        elif kind == "function_call":
            item.setdefault("arguments", "")
        elif kind == "message":
            for index, part in enumerate(item["content"]):
                if part.get("type") == "input_audio" and "audio" in part:
                    try:
                        audio = (audio or b"") + decode_base64_audio(part.pop("audio"))
                    except ValueError as error:
                        raise ProtocolError(
                            "invalid_value", str(error), param=f"{param}.content[{index}].audio"
                        ) from None
                    part.setdefault("transcript", None)
        fmt = self.input_format if audio is not None else None
        return ItemRecord(item=item, audio=audio, audio_format=fmt)

    def _on_conversation_item_retrieve(self, event: dict[str, Any]) -> list[Output]:
        record = self.conversation.get(event["item_id"])
        return [server_event("conversation.item.retrieved", item=record.with_audio())]

    def _on_conversation_item_delete(self, event: dict[str, Any]) -> list[Output]:
        self.conversation.delete(event["item_id"])
        return [server_event("conversation.item.deleted", item_id=event["item_id"])]

    def _on_conversation_item_truncate(self, event: dict[str, Any]) -> list[Output]:
        record = self.conversation.get(event["item_id"])
        item = record.item
        is_assistant_audio = (
            item.get("type") == "message"
            and item.get("role") == "assistant"
            and record.audio is not None
            and record.audio_format is not None
        )
        if not is_assistant_audio:
            raise ProtocolError(None, "Only model output audio messages can be truncated")
        if event["content_index"] != 0:
            raise ProtocolError(
                "invalid_value",
                f"Invalid content_index: {event['content_index']}. The item has one content part.",
                param="content_index",
            )
        end_ms = event["audio_end_ms"]
        duration = record.audio_ms
        if end_ms > duration + 0.5:
            raise ProtocolError(
                "invalid_value",
                f"audio_end_ms ({end_ms}) is longer than the item's audio ({duration:.0f} ms).",
                param="audio_end_ms",
            )
        assert record.audio is not None and record.audio_format is not None
        heard = min(1.0, end_ms / duration) if duration else 0.0
        record.audio = bytes(record.audio[: record.audio_format.bytes_for_ms(end_ms)])
        full_text = record.llm_text if record.llm_text is not None else _streamed_text(record)
        # The wire transcript is dropped like the real API does; the model keeps the heard part.
        record.llm_text = _heard_prefix(full_text, heard)
        item["content"] = [{"type": "output_audio", "transcript": ""}]
        return [
            server_event(
                "conversation.item.truncated",
                item_id=record.id,
                content_index=0,
                audio_end_ms=end_ms,
            )
        ]

    # --- responses ------------------------------------------------------------------------------

    def _on_response_create(self, event: dict[str, Any]) -> list[Output]:
        if self.config.type != "realtime":
            raise _not_in_transcription_session(event["type"])
        params = event.get("response") or {}
        in_conversation = params.get("conversation", "auto") != "none"
        if in_conversation and self._active_default is not None:
            raise ProtocolError(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress: "
                f"{self._active_default.id}. Wait until the response is finished before creating a "
                "new one.",
            )
        options = self._response_options(params, in_conversation)
        return self.create_response(options)

    def create_response(self, options: ResponseOptions) -> list[Output]:
        """Start a response (from ``response.create`` or automatically after a VAD turn)."""
        response = Response(
            options=options,
            conversation_id=self.conversation.id if options.in_conversation else None,
            add_to_conversation=self.conversation.insert,
        )
        self._responses[response.id] = response
        if options.in_conversation:
            self._active_default = response
        context = options.context if options.context is not None else self.conversation.records()
        awaits = tuple(r.id for r in context if r.audio is not None and r.llm_text is None)
        return [
            *response.created(),
            StartResponse(
                response_id=response.id,
                awaits_items=awaits,
                modalities=tuple(options.modalities),
                output_format=response.output_format,
                voice=options.voice,
                speed=options.speed,
            ),
        ]

    def _response_options(self, params: dict[str, Any], in_conversation: bool) -> ResponseOptions:
        cfg = self.config
        audio_out = (params.get("audio") or {}).get("output") or {}
        voice = audio_out.get("voice", cfg.voice)
        context = None
        if "input" in params:
            context = [self._resolve_input(entry, i) for i, entry in enumerate(params["input"])]
        return ResponseOptions(
            modalities=list(params.get("output_modalities") or cfg.get("output_modalities")),
            output_format=copy.deepcopy(audio_out.get("format", cfg.output_format)),
            voice=voice,
            speed=cfg.get("audio", {}).get("output", {}).get("speed", 1.0),
            instructions=params.get("instructions", cfg.get("instructions", "")),
            tools=copy.deepcopy(params.get("tools", cfg.get("tools", []))),
            tool_choice=copy.deepcopy(params.get("tool_choice", cfg.get("tool_choice", "auto"))),
            max_output_tokens=params.get("max_output_tokens", cfg.get("max_output_tokens", "inf")),
            metadata=copy.deepcopy(params.get("metadata")),
            in_conversation=in_conversation,
            context=context,
        )

    def _resolve_input(self, entry: dict[str, Any], index: int) -> ItemRecord:
        if entry.get("type") == "item_reference":
            return self.conversation.get(entry["id"], f"response.input[{index}].id")
        return self._record_from_client_item(entry, f"response.input[{index}]")

    def _on_response_cancel(self, event: dict[str, Any]) -> list[Output]:
        response_id = event.get("response_id")
        if response_id is not None:
            response = self._responses.get(response_id)
        else:
            response = self._active_default
        if response is None:
            raise ProtocolError(
                "response_cancel_not_active", "Cancellation failed: no active response found"
            )
        return self.cancel_response(response.id, "client_cancelled")

    def cancel_response(self, response_id: str, reason: str) -> list[Output]:
        """Cancel a response (client request or barge-in) and tell the pipeline to stop it."""
        response = self._responses.get(response_id)
        if response is None:
            return []
        events = response.cancel(reason)
        return [*self._retire(response, events), CancelResponse(response_id)]

    def llm_request(self, response_id: str) -> LLMRequest | None:
        """The LLM input for a response, built from the conversation as it is now."""
        response = self._responses.get(response_id)
        if response is None:
            return None
        options = response.options
        context = (
            options.context
            if options.context is not None
            else [r for r in self.conversation.records() if r not in response.output]
        )
        messages = build_messages(options.instructions, context)
        response.usage_input_tokens = estimate_tokens_of(messages)
        tool_choice = options.tool_choice
        return LLMRequest(
            messages=messages,
            tools=[t for t in options.tools if t.get("type", "function") == "function"],
            tool_choice=tool_choice,
            max_output_tokens=options.max_output_tokens,
            modalities=tuple(options.modalities),
            voice=options.voice,
        )

    # --- pipeline signals -------------------------------------------------------------------------

    def on_response_text(self, response_id: str, delta: str) -> list[Output]:
        """The LLM produced text for a response."""
        response = self._responses.get(response_id)
        if response is None:
            return []
        events = response.on_text(delta)
        if response.over_token_limit():
            events += response.truncate_for_limit()
            return [*self._retire(response, events), CancelResponse(response_id)]
        return events

    def on_response_audio(self, response_id: str, audio: bytes) -> list[Output]:
        """The TTS produced audio (already in the response's output format)."""
        response = self._responses.get(response_id)
        if response is None:
            return []
        events = response.on_audio(audio)
        if events:
            self._voice_locked = True
        return events

    def on_response_function_call(
        self, response_id: str, name: str, arguments: str, call_id: str | None = None
    ) -> list[Output]:
        """The LLM called a (client-executed) tool."""
        response = self._responses.get(response_id)
        return response.on_function_call(name, arguments, call_id) if response else []

    def on_response_done(
        self, response_id: str, usage: dict[str, int] | None = None
    ) -> list[Output]:
        """The pipeline finished a response."""
        response = self._responses.get(response_id)
        if response is None:
            return []
        return self._retire(response, response.finish(usage))

    def on_response_failed(
        self, response_id: str, message: str, code: str = "server_error"
    ) -> list[Output]:
        """The pipeline failed while generating a response."""
        response = self._responses.get(response_id)
        if response is None:
            return []
        return self._retire(response, response.fail(message, code))

    def _retire(self, response: Response, events: list[dict[str, Any]]) -> list[Output]:
        self._responses.pop(response.id, None)
        outputs: list[Output] = list(events) + self._enforce_item_limit()
        usage = events[-1]["response"]["usage"] if events else None
        if usage:
            outputs.append(self._rate_limits.record(usage["total_tokens"]))
        if self._active_default is response:
            self._active_default = None
            if self._auto_response_pending:
                # A VAD turn ended while this response was still running (interrupt_response
                # false): its automatic response starts now.
                self._auto_response_pending = False
                outputs += self.create_response(self._response_options({}, True))
            elif self._idle_timeout_ms() is not None and not self._idle_fired:
                # The timeout runs from the end of the reply's playback: done + its audio length.
                playback_ms = int(sum(record.audio_ms for record in response.output))
                outputs.append(ArmIdleTimer(self._idle_timeout_ms() + playback_ms))
        return outputs

    # --- turn detection signals -------------------------------------------------------------------

    def _turn_setting(self, key: str, default: Any = None) -> Any:
        turn_detection = self.config.turn_detection or {}
        return turn_detection.get(key, default)

    def _prefix_padding_ms(self) -> float:
        return float(self._turn_setting("prefix_padding_ms", DEFAULT_PREFIX_PADDING_MS))

    def _idle_timeout_ms(self) -> int | None:
        if self.config.type != "realtime":
            return None
        return self._turn_setting("idle_timeout_ms")

    def on_speech_started(self, onset_ms: float) -> list[Output]:
        """The VAD heard speech begin at ``onset_ms`` on the session audio clock."""
        if self.config.turn_detection is None or self._speech is not None:
            return []
        self._idle_fired = False
        start_ms = max(self.buffer.start_ms, onset_ms - self._prefix_padding_ms())
        self._speech = _SpeechTurn(item_id=new_id("item"), start_ms=start_ms)
        outputs: list[Output] = [
            server_event(
                "input_audio_buffer.speech_started",
                audio_start_ms=int(start_ms),
                item_id=self._speech.item_id,
            ),
            DisarmIdleTimer(),
        ]
        active = self._active_default
        if active is not None and self._turn_setting("interrupt_response", True):
            outputs += self.cancel_response(active.id, "turn_detected")
        return outputs

    def on_speech_stopped(self, end_ms: float) -> list[Output]:
        """The VAD decided the turn ended; ``end_ms`` includes the silence window."""
        speech = self._speech
        if speech is None:
            return []
        self._speech = None
        end_ms = min(end_ms, self.buffer.total_ms)
        audio = self.buffer.take_range(speech.start_ms, end_ms)
        outputs: list[Output] = [
            server_event(
                "input_audio_buffer.speech_stopped",
                audio_end_ms=int(end_ms),
                item_id=speech.item_id,
            )
        ]
        outputs += self.commit_audio(audio, self.buffer.format, item_id=speech.item_id)
        outputs += self._maybe_respond()
        return outputs

    def on_idle_timeout(self) -> list[Output]:
        """Nobody spoke for ``idle_timeout_ms`` after the last response: commit and respond."""
        if self._speech is not None or self._active_default is not None:
            return []
        # One nudge per silence: the timer is re-armed only after the user speaks again.
        self._idle_fired = True
        item_id = new_id("item")
        start_ms, end_ms = self.buffer.start_ms, self.buffer.total_ms
        outputs: list[Output] = [
            server_event(
                "input_audio_buffer.timeout_triggered",
                audio_start_ms=int(start_ms),
                audio_end_ms=int(end_ms),
                item_id=item_id,
            )
        ]
        if self.buffer.duration_ms >= MIN_COMMIT_MS:
            outputs += self.commit_audio(self.buffer.take_all(), self.buffer.format, item_id)
        outputs += self.create_response(self._response_options({}, True))
        return outputs

    def _maybe_respond(self) -> list[Output]:
        if self.config.type != "realtime" or not self._turn_setting("create_response", True):
            return []
        if self._active_default is not None:
            self._auto_response_pending = True
            return []
        return self.create_response(self._response_options({}, True))

    def on_transcription_delta(self, item_id: str, delta: str) -> list[Output]:
        """A streaming STT produced part of an item's transcript."""
        if self._transcribed_with.get(item_id) is None or item_id not in self.conversation:
            return []
        return [
            server_event(
                "conversation.item.input_audio_transcription.delta",
                item_id=item_id,
                content_index=0,
                delta=delta,
            )
        ]

    def on_transcription_completed(
        self, item_id: str, transcript: str, audio_seconds: float = 0.0
    ) -> list[Output]:
        """The STT finished an item: the LLM sees it, the client sees it if it asked."""
        wanted = self._transcribed_with.pop(item_id, None)
        if item_id not in self.conversation:
            return []
        record = self.conversation.get(item_id)
        record.llm_text = transcript
        if wanted is None:
            return []
        for part in record.item["content"]:
            if part.get("type") == "input_audio":
                part["transcript"] = transcript
        return [
            server_event(
                "conversation.item.input_audio_transcription.completed",
                item_id=item_id,
                content_index=0,
                transcript=transcript,
                usage={"type": "duration", "seconds": round(audio_seconds, 3)},
            )
        ]

    def on_transcription_failed(self, item_id: str, message: str) -> list[Output]:
        """The STT failed on an item; the LLM will see it as empty."""
        wanted = self._transcribed_with.pop(item_id, None)
        if item_id not in self.conversation:
            return []
        self.conversation.get(item_id).llm_text = ""
        if wanted is None:
            return []
        return [
            server_event(
                "conversation.item.input_audio_transcription.failed",
                item_id=item_id,
                content_index=0,
                error={
                    "type": "transcription_error",
                    "code": "transcription_failed",
                    "message": message,
                    "param": None,
                },
            )
        ]


def _streamed_text(record: ItemRecord) -> str:
    """The text an in-progress assistant item has streamed so far (held by its response)."""
    return record.extra.get("streamed_text", "")


def _heard_prefix(text: str, fraction: float) -> str:
    """The part of a reply the user heard, cut at a word boundary (speech has an even pace)."""
    if fraction >= 1.0:
        return text
    cut = int(len(text) * fraction)
    prefix = text[:cut]
    if cut < len(text) and " " in prefix:
        prefix = prefix[: prefix.rfind(" ")]
    return prefix.strip()


def _not_in_transcription_session(event_type: str) -> ProtocolError:
    return ProtocolError(
        "invalid_value",
        f"'{event_type}' is not supported in a transcription session.",
        param="type",
    )
