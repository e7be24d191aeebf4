"""The sans-I/O Realtime session: client events and signals in, server events and commands out.

:class:`RealtimeSession` holds everything a connection owns (configuration, conversation, input
audio buffer, responses) and no I/O at all. It has exactly one caller, the connection's driver,
which feeds it validated client events (:meth:`RealtimeSession.handle`) and what the pipeline and
the timers report (:meth:`RealtimeSession.receive`), then dispatches what each call returns: server
events (plain dicts, ready for ``json.dumps``) and :mod:`~realtime_session.commands`.

Turn and response state lives in :mod:`realtime_session.lifecycle`, a pure transition function;
this class is its only writer (:meth:`RealtimeSession.step`) and carries out its effects. Client
events reach their handler in one hop through ``realtime_session.handlers.CLIENT_EVENT_HANDLERS``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from loguru import logger

from audio_utils import PCM24K, AudioFormat, OutputAudioConverter
from protocol import ClientEvent, ProtocolError, new_id
from realtime_session import lifecycle, playback
from realtime_session.commands import (
    ArmTimer,
    CancelResponse,
    Command,
    ConfigureInput,
    ConfigureTranscription,
    DisarmTimer,
    StartResponse,
    TranscribeAudio,
)
from realtime_session.conversation import Conversation, ItemRecord
from realtime_session.events import server_event
from realtime_session.handlers import CLIENT_EVENT_HANDLERS
from realtime_session.handlers.input_audio import MIN_COMMIT_MS, append_audio
from realtime_session.handlers.responses import response_options
from realtime_session.input_buffer import InputAudioBuffer
from realtime_session.llm_context import LLMRequest, build_messages, estimate_tokens_of
from realtime_session.rate_limits import RateLimitTracker
from realtime_session.reply_policy import ToolCalling, reply_cap
from realtime_session.response import Response, ResponseOptions
from realtime_session.session_config import SessionConfig
from realtime_session.signal_handlers import apply_signal
from realtime_session.signals import IDLE_TIMER, Signal, Timer, TimerKind

Output = dict[str, Any] | Command
Transport = Literal["websocket", "webrtc"]
"""What carries the session: over WebRTC the server plays the audio out itself (see
:mod:`realtime_session.playback`), so there are no audio deltas and an output buffer to clear."""
DEFAULT_PREFIX_PADDING_MS = 300


@dataclass(frozen=True)
class SessionLimits:
    """Per-session limits and deadlines (see ``config.Settings`` for the defaults' rationale)."""

    max_input_buffer_ms: float = 600_000.0
    max_conversation_items: int = 1000
    response_timeout_s: float = 60.0
    transcription_timeout_s: float = 30.0
    max_stored_audio_bytes: int = 32 * 1024 * 1024
    max_output_tokens: int = 1024
    """What a response's ``max_output_tokens: "inf"`` means here (the real API allows 4096)."""
    spoken_reply_max_tokens: int = 0
    """The soft cap of a spoken reply whose ``max_output_tokens`` is ``"inf"`` (0: none); see
    :mod:`realtime_session.reply_policy`."""
    tool_calling: ToolCalling = "auto"
    """What the model does with function tools (:mod:`realtime_session.reply_policy`)."""


class RealtimeSession:
    """One Realtime API session, independent of sockets and models."""

    def __init__(
        self,
        *,
        model: str = "gpt-realtime",
        session_type: str = "realtime",
        initial_session: dict[str, Any] | None = None,
        limits: SessionLimits | None = None,
        transport: Transport = "websocket",
    ) -> None:
        self.limits = limits or SessionLimits()
        self.transport: Transport = transport
        if initial_session is not None:
            session_type = initial_session.get("type", session_type)
        self.config = SessionConfig(model, session_type)
        if initial_session is not None:
            # Validated when the client secret was minted; applied before session.created.
            self.config.apply(self.config.merged(initial_session))
        self.conversation = Conversation()
        self.buffer = InputAudioBuffer(self.input_format)
        self.state = lifecycle.LifecycleState()
        self.responses: dict[str, Response] = {}
        """Responses in progress, by id (default conversation and out-of-band)."""
        self.voice_locked = False
        """True once assistant audio exists: the voice can no longer change."""
        self._rate_limits = RateLimitTracker()
        self.playing: dict[str, str] = {}
        """WebRTC: responses whose audio is in the transport's output buffer (id -> item id)."""
        self._track_converter: OutputAudioConverter | None = None
        self._track_overflow_reported = False

    # --- entry points -------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The session's id (for logs; the client sees it in ``session.created``)."""
        return self.config.id

    def start(self) -> list[Output]:
        """What opens the session: ``session.created`` and the input configuration."""
        outputs: list[Output] = [server_event("session.created", session=self.config.to_dict())]
        return [*outputs, self.configure_transcription(), *self.reconfigure_input()]

    def handle(self, event: ClientEvent) -> list[Output]:
        """Apply one validated client event; a refusal becomes an ``error`` event."""
        handler = CLIENT_EVENT_HANDLERS[event.type]
        try:
            return handler(self, event)
        except ProtocolError as error:
            return [error.with_event_id(event.event_id).to_event()]
        except Exception:  # a bug must cost one event, never the session
            logger.exception(f"internal error handling {event.type}")
            return [_server_error(event.event_id).to_event()]

    def append_track_audio(self, pcm: bytes) -> list[Output]:
        """Append input audio from a media track (WebRTC): PCM16 mono at 24 kHz, no base64.

        It takes the path of ``input_audio_buffer.append`` (same buffer, limits and turn
        detection), converted to the session's input format when that is not 24 kHz PCM.
        A full buffer is reported once, not for every 20 ms frame, until it has room again.
        """
        fmt = self.buffer.format
        if fmt != PCM24K:
            if self._track_converter is None or self._track_converter.format != fmt:
                self._track_converter = OutputAudioConverter(fmt, PCM24K.sample_rate)
            pcm = self._track_converter.convert(pcm)
        try:
            outputs = append_audio(self, pcm)
        except ProtocolError as error:
            if self._track_overflow_reported:
                return []
            self._track_overflow_reported = True
            return [error.to_event()]
        except Exception:
            logger.exception("internal error appending track audio")
            return []
        self._track_overflow_reported = False
        return outputs

    def receive(self, signal: Signal) -> list[Output]:
        """Apply what the pipeline or a timer reported."""
        try:
            return apply_signal(self, signal)
        except Exception:
            logger.exception(f"internal error applying {type(signal).__name__}")
            return []

    def step(self, event: lifecycle.Event) -> list[Output]:
        """Advance the lifecycle and carry out its effects (the lifecycle's only writer)."""
        self.state, effects = lifecycle.transition(self.state, event)
        outputs: list[Output] = []
        for effect in effects:
            outputs += self._carry_out(effect)
        return outputs

    # --- read-only views ------------------------------------------------------------------------

    @property
    def active_response_ids(self) -> list[str]:
        """Ids of responses still in progress (default conversation and out-of-band)."""
        return list(self.responses)

    @property
    def audio_ms_total(self) -> float:
        """Milliseconds of input audio appended over the whole session."""
        return self.buffer.total_ms

    @property
    def input_format(self) -> AudioFormat:
        return AudioFormat.from_session(self.config.input_format)

    def turn_setting(self, key: str, default: Any = None) -> Any:
        """A field of the session's turn detection (``default`` when off or unset)."""
        turn_detection = self.config.turn_detection or {}
        return turn_detection.get(key, default)

    def prefix_padding_ms(self) -> float:
        return float(self.turn_setting("prefix_padding_ms", DEFAULT_PREFIX_PADDING_MS))

    # --- operations shared by client events and lifecycle effects ------------------------------

    def configure_transcription(self) -> ConfigureTranscription:
        """Tell the pipeline the transcription settings (language, prompt) of later items."""
        return ConfigureTranscription(copy.deepcopy(self.config.transcription))

    def reconfigure_input(self) -> list[Output]:
        """Tell the lifecycle (and through it the pipeline) the turn settings changed."""
        realtime = self.config.type == "realtime"
        idle_ms = self.turn_setting("idle_timeout_ms") if realtime else None
        settings = lifecycle.TurnSettings(
            turn_detection=self.config.turn_detection is not None,
            create_response=bool(self.turn_setting("create_response", True)),
            interrupt_response=bool(self.turn_setting("interrupt_response", True)),
            idle_timeout_ms=idle_ms,
            responds=realtime,
        )
        return self.step(lifecycle.Configured(settings))

    def commit_audio(
        self,
        audio: bytes,
        fmt: AudioFormat,
        item_id: str | None = None,
        turn_start_ms: float | None = None,
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
        outputs += self.transcribe(record, turn_start_ms)
        return outputs + self.enforce_item_limit()

    def transcribe(self, record: ItemRecord, turn_start_ms: float | None = None) -> list[Output]:
        """Send an audio item to the STT, under a deadline; remember what the client asked."""
        assert record.audio is not None and record.audio_format is not None
        transcription = copy.deepcopy(self.config.transcription)
        if transcription is None and self.config.type == "transcription":
            transcription = {}  # a transcription session always reports its transcripts
        record.transcription = transcription
        timer = Timer(TimerKind.TRANSCRIPTION, record.id)
        return [
            *self.step(lifecycle.TranscriptionStarted(record.id)),
            TranscribeAudio(record.id, bytes(record.audio), record.audio_format, turn_start_ms),
            ArmTimer(timer, self.limits.transcription_timeout_s),
        ]

    def enforce_item_limit(self) -> list[Output]:
        """Keep the conversation within its item count and its stored-audio byte budget.

        Items beyond ``max_conversation_items`` are deleted, oldest first (announced to the
        client), the way a bounded context window forgets the start of a long conversation.
        Beyond ``max_stored_audio_bytes``, the oldest items lose their audio (silently: the item,
        its transcript and what the model knows of it stay; ``conversation.item.retrieve`` then
        returns it without audio). Items of responses still in progress are never touched.
        """
        in_progress = {r.id for response in self.responses.values() for r in response.output}
        outputs: list[Output] = []
        excess = len(self.conversation) - self.limits.max_conversation_items
        for record in self.conversation.records():
            if excess <= 0:
                break
            if record.id in in_progress:
                continue
            self.conversation.delete(record.id)
            outputs.append(server_event("conversation.item.deleted", item_id=record.id))
            excess -= 1
        self._drop_old_audio(in_progress)
        return outputs

    def _drop_old_audio(self, in_progress: set[str]) -> None:
        records = self.conversation.records()
        stored = sum(len(r.audio) for r in records if r.audio is not None)
        for record in records:
            if stored <= self.limits.max_stored_audio_bytes:
                return
            if record.audio is None or record.id in in_progress:
                continue
            stored -= len(record.audio)
            record.audio = None

    def create_response(self, options: ResponseOptions) -> list[Output]:
        """Open a response (``response.created``); it runs once its transcripts are in."""
        response = Response(
            options=options,
            conversation_id=self.conversation.id if options.in_conversation else None,
            add_to_conversation=self.conversation.insert,
            token_ceiling=self.limits.max_output_tokens,
            audio_deltas=self.transport != "webrtc",
        )
        self.responses[response.id] = response
        context = options.context if options.context is not None else self.conversation.records()
        opened = lifecycle.ResponseOpened(
            response.id, options.in_conversation, frozenset(r.id for r in context)
        )
        return [*response.created(), *self.step(opened)]

    def cancel_response(self, response_id: str, reason: str) -> list[Output]:
        """Cancel a response (client request or barge-in); the pipeline is told to stop it."""
        response = self.responses.get(response_id)
        if response is None:
            return []
        return self.close_response(response, response.cancel(reason), by_pipeline=False)

    def close_response(
        self, response: Response, events: list[dict[str, Any]], *, by_pipeline: bool
    ) -> list[Output]:
        """Retire a response whose closing events (ending in ``response.done``) are given."""
        self.responses.pop(response.id, None)
        outputs: list[Output] = list(events) + self.enforce_item_limit()
        usage = events[-1]["response"]["usage"] if events else None
        if usage:
            outputs.append(self._rate_limits.record(usage["total_tokens"]))
        outputs += playback.response_closed(self, response.id)
        playback_ms = int(sum(record.audio_ms for record in response.output))
        return outputs + self.step(lifecycle.ResponseClosed(response.id, playback_ms, by_pipeline))

    # --- lifecycle effects ----------------------------------------------------------------------

    def _carry_out(self, effect: lifecycle.Effect) -> list[Output]:
        match effect:
            case lifecycle.ReconfigureInput(epoch):
                return [
                    ConfigureInput(
                        copy.deepcopy(self.config.turn_detection),
                        copy.deepcopy(self.config.noise_reduction),
                        origin_ms=self.audio_ms_total,
                        epoch=epoch,
                    )
                ]
            case lifecycle.ArmIdle(delay_ms):
                return [ArmTimer(IDLE_TIMER, delay_ms / 1000)]
            case lifecycle.DisarmIdle():
                return [DisarmTimer(IDLE_TIMER)]
            case lifecycle.AnnounceSpeech(item_id, start_ms):
                event = server_event(
                    "input_audio_buffer.speech_started",
                    audio_start_ms=int(start_ms),
                    item_id=item_id,
                )
                return [event]
            case lifecycle.InterruptResponse(response_id):
                return self.cancel_response(response_id, "turn_detected")
            case lifecycle.CommitTurn(item_id, start_ms, end_ms):
                return self._commit_turn(item_id, start_ms, end_ms)
            case lifecycle.CommitIdleAudio():
                return self._commit_idle_audio()
            case lifecycle.CreateAutoResponse():
                return self.create_response(response_options(self.config, {}, True))
            case lifecycle.RunResponse(response_id):
                return self._run_response(response_id)
            case lifecycle.ReleaseResponse(response_id, stop):
                released: list[Output] = [DisarmTimer(Timer(TimerKind.RESPONSE, response_id))]
                return [*released, CancelResponse(response_id)] if stop else released

    def _commit_turn(self, item_id: str, start_ms: float, end_ms: float) -> list[Output]:
        end_ms = min(end_ms, self.buffer.total_ms)
        turn_start_ms = max(start_ms, self.buffer.start_ms)
        audio = self.buffer.take_range(start_ms, end_ms)
        stopped = server_event(
            "input_audio_buffer.speech_stopped", audio_end_ms=int(end_ms), item_id=item_id
        )
        committed = self.commit_audio(audio, self.buffer.format, item_id, turn_start_ms)
        return [stopped, *committed]

    def _commit_idle_audio(self) -> list[Output]:
        item_id = new_id("item")
        outputs: list[Output] = [
            server_event(
                "input_audio_buffer.timeout_triggered",
                audio_start_ms=int(self.buffer.start_ms),
                audio_end_ms=int(self.buffer.total_ms),
                item_id=item_id,
            )
        ]
        if self.buffer.duration_ms >= MIN_COMMIT_MS:
            outputs += self.commit_audio(self.buffer.take_all(), self.buffer.format, item_id)
        return outputs

    def _run_response(self, response_id: str) -> list[Output]:
        response = self.responses.get(response_id)
        if response is None:
            return []
        context = self._context(response)
        if _last_user_turn_failed(context):
            # Answering would answer an empty user turn ("You said: "): fail the response instead.
            message = "The user's audio could not be transcribed, so there is nothing to answer."
            events = response.fail(message, "transcription_failed")
            return self.close_response(response, events, by_pipeline=True)
        start = StartResponse(
            response_id=response.id,
            request=self._llm_request(response, context),
            output_format=response.output_format,
            speed=response.options.speed,
        )
        deadline = ArmTimer(Timer(TimerKind.RESPONSE, response_id), self.limits.response_timeout_s)
        return [start, deadline]

    def _context(self, response: Response) -> list[ItemRecord]:
        """The items a response answers: its own input, or the conversation as it is now."""
        if response.options.context is not None:
            return response.options.context
        return [r for r in self.conversation.records() if r not in response.output]

    def _llm_request(self, response: Response, context: list[ItemRecord]) -> LLMRequest:
        """The LLM input for a response."""
        options = response.options
        messages = build_messages(options.instructions, context)
        response.usage_input_tokens = estimate_tokens_of(messages)
        return LLMRequest(
            messages=messages,
            tools=[t for t in options.tools if t.get("type", "function") == "function"],
            tool_choice=options.tool_choice,
            max_output_tokens=options.max_output_tokens,
            modalities=tuple(options.modalities),
            voice=options.voice,
            reply_cap=reply_cap(
                options.max_output_tokens, options.modalities, self.limits.spoken_reply_max_tokens
            ),
        )


def _last_user_turn_failed(context: list[ItemRecord]) -> bool:
    """Whether the latest user message is audio the STT could not transcribe."""
    for record in reversed(context):
        if record.item.get("type") == "message" and record.item.get("role") == "user":
            return record.transcript_failed
    return False


def _server_error(event_id: str | None) -> ProtocolError:
    return ProtocolError(
        "server_error",
        "The server had an error while processing your event.",
        event_id=event_id,
        error_type="server_error",
    )
