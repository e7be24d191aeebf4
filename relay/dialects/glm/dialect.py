"""The GLM-Realtime dialect: GA client events -> GLM, GLM server events -> GA (see the package)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from audio_utils import PCM24K, decode_base64_audio, encode_base64_audio

from .audio import DEFAULT_PACKET_MS, GLMInputFormat, InputAudioTranslator
from .events import Event, as_int, as_str, error_event, new_id, server_event
from .items import ItemRefused, ga_item_to_glm, glm_item_to_ga
from .responses import Conversation, ResponseOptions, ResponseTracker
from .session import GLM_DEFAULT_VOICE, SessionView

GLM_DEFAULT_URL = "wss://open.bigmodel.cn/api/paas/v4/realtime"
GLM_DEFAULT_MODEL = "glm-realtime-flash"


def glm_headers(api_key: str) -> dict[str, str]:
    """The handshake headers for GLM-Realtime: the API key (``{id}.{secret}``) as a bearer token.

    A JWT signed with the key's secret is accepted the same way (for clients that must not hold
    the key); a server-side relay holds the key, so it sends the key itself.
    """
    return {"Authorization": f"Bearer {api_key}"}


_RESPONSE_STATUSES = ("completed", "cancelled", "failed", "incomplete")
_CANCEL_REASONS = ("turn_detected", "client_cancelled")
_INCOMPLETE_REASONS = ("max_output_tokens", "content_filter")


class GLMDialect:
    """Translates one session's events between GA and GLM-Realtime.

    Events GLM cannot express are answered to the client through :attr:`pending_client_events`
    (see the package docstring): after every :meth:`client_to_upstream` call the relay sends
    those GA events to the client, in order, and clears the list (:meth:`drain_client_events`).
    """

    name = "glm"

    def __init__(
        self,
        *,
        model: str = GLM_DEFAULT_MODEL,
        input_format: GLMInputFormat = "wav",
        packet_ms: int = DEFAULT_PACKET_MS,
        voice: str = GLM_DEFAULT_VOICE,
        beta_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Create the dialect of one session.

        Args:
            model: GLM's model code, sent in every ``session.update`` (``glm-realtime-flash`` or
                ``glm-realtime-air``; a GA ``session.update`` naming one of them switches to it).
            input_format: The ``input_audio_format`` GLM is told: ``wav`` (16 kHz WAV files, the
                documented default), ``pcm16`` or ``pcm24`` (raw PCM16 at 16 / 24 kHz).
            packet_ms: Input audio goes to GLM in packets of this length (0: as it comes).
            voice: The GLM voice used when the client names none of GLM's voices.
            beta_fields: Extra GLM ``beta_fields`` (e.g. ``{"auto_search": False}``), merged over
                ``{"chat_mode": "audio", "tts_source": "e2e"}``.
        """
        self.session = SessionView(
            model=model, glm_input_format=input_format, default_voice=voice, beta_fields=beta_fields
        )
        self.pending_client_events: list[Event] = []
        self._input_format: GLMInputFormat = input_format
        self._packet_ms = packet_ms
        self._input = InputAudioTranslator(PCM24K, input_format, packet_ms)
        self._configured = False
        self._session_created_sent = False
        self._conversation = Conversation(new_id("conv"))
        self._responses: dict[str, ResponseTracker] = {}
        self._finished: set[str] = set()
        self._current: ResponseTracker | None = None
        # The input audio clock (ms of client audio appended, in the client's format).
        self._input_ms = 0.0
        self._uncommitted_ms = 0.0
        self._committed_ms: deque[float] = deque(maxlen=16)
        self._speech_start_ms: float | None = None
        self._vad_item_id: str | None = None
        self._audio_seconds: dict[str, float] = {}
        self._synthetic_call_ids: set[str] = set()
        self._output_call_ids: deque[str] = deque(maxlen=64)
        self._client_handlers: dict[str, Callable[[Event], list[Event]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_by_id,
            "conversation.item.delete": self._item_by_id,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_buffer_clear,
        }
        self._upstream_handlers: dict[str, Callable[[Event], list[Event]]] = {
            "session.created": self._on_session,
            "session.updated": self._on_session,
            "conversation.created": self._on_conversation_created,
            "conversation.item.created": self._on_item_created,
            "conversation.item.retrieved": self._on_item_retrieved,
            "conversation.item.deleted": self._on_item_deleted,
            "input_audio_buffer.committed": self._on_committed,
            "input_audio_buffer.cleared": self._on_cleared,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "conversation.item.input_audio_transcription.completed": self._on_transcription,
            "conversation.item.input_audio_transcription.failed": self._on_transcription_failed,
            "response.created": self._on_response_created,
            "response.output_item.added": self._on_output_item_added,
            "response.content_part.added": self._on_content_part_added,
            "response.audio_transcript.delta": self._on_text_delta,
            "response.text.delta": self._on_text_delta,
            "response.audio.delta": self._on_audio_delta,
            "response.audio.done": self._on_audio_done,
            "response.audio_transcript.done": self._on_text_done,
            "response.text.done": self._on_text_done,
            "response.content_part.done": self._on_part_or_item_done,
            "response.output_item.done": self._on_part_or_item_done,
            "response.function_call_arguments.delta": self._on_call_arguments_delta,
            "response.function_call_arguments.done": self._on_call_arguments_done,
            "response.done": self._on_response_done,
            "response.cancelled": self._on_response_done,
            "rate_limits.updated": self._on_rate_limits,
            "error": self._on_error,
        }

    # === the relay's entry points ===============================================================

    def client_to_upstream(self, event: Event) -> list[Event]:
        """A validated GA client event, as the GLM events it becomes (possibly none)."""
        handler = self._client_handlers.get(event.get("type", ""))
        if handler is None:
            return []
        events = handler(event)
        if not self._configured:
            # GLM starts in client VAD with WAV input; GA clients expect server VAD. The first
            # client event brings the whole configuration along.
            self._configured = True
            if not events or events[0].get("type") != "session.update":
                config = self._glm_event("session.update", session=self.session.glm_session())
                events.insert(0, config)
        return events

    def upstream_to_client(self, event: Event) -> list[Event]:
        """One GLM server event, as the GA server events it means (possibly none)."""
        handler = self._upstream_handlers.get(event.get("type", ""))
        return handler(event) if handler is not None else []

    def drain_client_events(self) -> list[Event]:
        """Take the GA events the dialect owes the client (see :attr:`pending_client_events`)."""
        events, self.pending_client_events = self.pending_client_events, []
        return events

    def initial_upstream_events(self) -> list[Event]:
        """The full GLM ``session.update`` to send right after connecting (optional).

        Without it, the configuration goes with the first client event instead.
        """
        self._configured = True
        return [self._glm_event("session.update", session=self.session.glm_session())]

    def session_created_event(self) -> Event:
        """A GA ``session.created`` for a relay that greets the client itself at connect time.

        GLM's own ``session.created`` then reaches the client as ``session.updated``.
        """
        self._session_created_sent = True
        return server_event("session.created", session=self.session.ga_session())

    # === GA client events -> GLM =================================================================

    def _glm_event(self, event_type: str, source: Event | None = None, **fields: Any) -> Event:
        glm: Event = {"type": event_type}
        if source is not None and as_str(source.get("event_id")):
            glm["event_id"] = source["event_id"]
        glm.update(fields)
        glm["client_timestamp"] = int(time.time() * 1000)
        return glm

    def _refuse(self, event: Event, code: str, message: str, param: str | None) -> list[Event]:
        self.pending_client_events.append(
            error_event(code, message, param=param, client_event_id=event.get("event_id"))
        )
        return []

    def _session_update(self, event: Event) -> list[Event]:
        session = event.get("session") or {}
        if session.get("type") == "transcription":
            return self._refuse(
                event,
                "invalid_value",
                "GLM-Realtime has no transcription sessions; only 'realtime' sessions can be "
                "relayed to it.",
                "session.type",
            )
        before = self.session.input_format
        self.session.update(session)
        after = self.session.input_format
        if after != before:
            # GA drops the audio buffered in the old format (docs/protocol.md §2).
            self._input = InputAudioTranslator(after, self._input_format, self._packet_ms)
        return [self._glm_event("session.update", event, session=self.session.glm_session())]

    def _appends(self, packets: list[bytes]) -> list[Event]:
        return [
            self._glm_event("input_audio_buffer.append", audio=encode_base64_audio(packet))
            for packet in packets
        ]

    def _append(self, event: Event) -> list[Event]:
        audio = event.get("audio", "")
        if not isinstance(audio, bytes | bytearray):  # already decoded by the relay, or base64
            try:
                audio = decode_base64_audio(audio)
            except ValueError:
                return []
        duration = self._input.client_format.duration_ms(len(audio))
        self._input_ms += duration
        self._uncommitted_ms += duration
        return self._appends(self._input.append(audio))

    def _commit(self, event: Event) -> list[Event]:
        self._committed_ms.append(self._uncommitted_ms)
        self._uncommitted_ms = 0.0
        return [
            *self._appends(self._input.flush()),
            self._glm_event("input_audio_buffer.commit", event),
        ]

    def _clear(self, event: Event) -> list[Event]:
        self._input.reset()
        self._uncommitted_ms = 0.0
        return [self._glm_event("input_audio_buffer.clear", event)]

    def _convert_item_audio(self, audio_b64: str) -> str:
        return encode_base64_audio(self._input.convert_whole(decode_base64_audio(audio_b64)))

    def _upstream_call_id(self, call_id: str | None) -> str | None:
        return None if call_id in self._synthetic_call_ids else call_id

    def _item_create(self, event: Event) -> list[Event]:
        item = event.get("item") or {}
        try:
            glm_item = ga_item_to_glm(
                item,
                convert_audio=self._convert_item_audio,
                upstream_call_id=self._upstream_call_id,
            )
        except ItemRefused as refused:
            return self._refuse(event, "invalid_value", str(refused), refused.param)
        except ValueError:
            return self._refuse(
                event, "invalid_value", "Invalid audio in the item.", "item.content"
            )
        if item.get("type") == "function_call_output" and "call_id" not in glm_item:
            # GLM's echo of this output will lack the call id the client knows: keep it.
            self._output_call_ids.append(item.get("call_id") or "")
        fields: dict[str, Any] = {"item": glm_item}
        if as_str(event.get("previous_item_id")):
            fields["previous_item_id"] = event["previous_item_id"]
        return [self._glm_event("conversation.item.create", event, **fields)]

    def _item_by_id(self, event: Event) -> list[Event]:
        return [self._glm_event(event["type"], event, item_id=event.get("item_id", ""))]

    def _item_truncate(self, event: Event) -> list[Event]:
        # GLM has no truncation: the client is told the cut is made (its own view of the item is
        # what matters for playback); GLM keeps the whole reply in its context (docs/glm.md).
        self.pending_client_events.append(
            server_event(
                "conversation.item.truncated",
                item_id=event.get("item_id", ""),
                content_index=as_int(event.get("content_index")),
                audio_end_ms=as_int(event.get("audio_end_ms")),
            )
        )
        return []

    def _response_create(self, event: Event) -> list[Event]:
        response = event.get("response") or {}
        if response.get("conversation") == "none":
            return self._refuse(
                event,
                "invalid_value",
                "GLM-Realtime has no out-of-band responses ('conversation': 'none').",
                "response.conversation",
            )
        if response.get("input") is not None:
            return self._refuse(
                event,
                "invalid_value",
                "GLM-Realtime cannot answer from a custom 'input'; a response always uses the "
                "whole conversation.",
                "response.input",
            )
        return [self._glm_event("response.create", event)]

    def _response_cancel(self, event: Event) -> list[Event]:
        current = self._current
        if current is not None and not current.done:
            # GA ends the response at once; GLM's late events for it are dropped.
            self.pending_client_events += self._finish(
                current, "cancelled", {"type": "cancelled", "reason": "client_cancelled"}, None
            )
        return [self._glm_event("response.cancel", event)]

    def _output_buffer_clear(self, event: Event) -> list[Event]:
        return self._refuse(
            event,
            "invalid_value",
            "GLM-Realtime has no output audio buffer: stop playback locally and send "
            "'response.cancel'.",
            None,
        )

    # === GLM server events -> GA =================================================================

    def _on_session(self, event: Event) -> list[Event]:
        self.session.absorb_glm(event.get("session"))
        events: list[Event] = []
        if not self._session_created_sent:
            self._session_created_sent = True
            events.append(server_event("session.created", session=self.session.ga_session()))
            if event.get("type") == "session.created":
                return events
        events.append(server_event("session.updated", session=self.session.ga_session()))
        return events

    def _on_conversation_created(self, event: Event) -> list[Event]:
        conversation = event.get("conversation")
        if isinstance(conversation, Mapping) and as_str(conversation.get("id")):
            self._conversation.id = conversation["id"]
        return [
            server_event(
                "conversation.created",
                conversation={"id": self._conversation.id, "object": "realtime.conversation"},
            )
        ]

    def _ga_item(self, glm_item: Any, *, echo: bool = False) -> dict[str, Any] | None:
        """A GLM item as GA's; ``echo``: GLM's ``conversation.item.created`` of a client item."""
        if not isinstance(glm_item, Mapping):
            return None
        call_id = None
        output_without_id = glm_item.get("type") == "function_call_output" and not as_str(
            glm_item.get("call_id")
        )
        if echo and output_without_id and self._output_call_ids:
            call_id = self._output_call_ids.popleft()
        return glm_item_to_ga(glm_item, call_id=call_id)

    def _on_item_created(self, event: Event) -> list[Event]:
        glm_item = event.get("item")
        if not isinstance(glm_item, Mapping):
            return []
        item_id = as_str(glm_item.get("id"))
        if item_id is not None and item_id in self._conversation.announced:
            return []  # already announced (as a response output, or twice by GLM)
        current = self._current
        is_output = glm_item.get("role") == "assistant" or glm_item.get("type") == "function_call"
        if is_output and current is not None and not current.done:
            if glm_item.get("type") == "message":
                return current.open_message(item_id)
            return []  # a function call is announced when its arguments are done
        item = self._ga_item(glm_item, echo=True)
        if item is None:
            return []
        previous = as_str(event.get("previous_item_id")) or self._conversation.last_item_id
        self._conversation.announce(item["id"])
        return [
            server_event("conversation.item.added", previous_item_id=previous, item=item),
            server_event("conversation.item.done", previous_item_id=previous, item=item),
        ]

    def _on_item_retrieved(self, event: Event) -> list[Event]:
        item = self._ga_item(event.get("item"))
        return [] if item is None else [server_event("conversation.item.retrieved", item=item)]

    def _on_item_deleted(self, event: Event) -> list[Event]:
        item_id = as_str(event.get("item_id"))
        if item_id is None:
            return []
        return [server_event("conversation.item.deleted", item_id=item_id)]

    def _on_committed(self, event: Event) -> list[Event]:
        vad_item_id = self._vad_item_id
        item_id = as_str(event.get("item_id")) or vad_item_id or new_id("item")
        if vad_item_id is None:
            if self._committed_ms:
                self._audio_seconds[item_id] = self._committed_ms.popleft() / 1000
        elif vad_item_id != item_id and vad_item_id in self._audio_seconds:
            # GLM named the turn's item itself: its transcript comes under GLM's id.
            self._audio_seconds[item_id] = self._audio_seconds.pop(vad_item_id)
        self._vad_item_id = None
        previous = as_str(event.get("previous_item_id")) or self._conversation.last_item_id
        return [
            server_event("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        ]

    def _on_cleared(self, event: Event) -> list[Event]:
        return [server_event("input_audio_buffer.cleared")]

    def _on_speech_started(self, event: Event) -> list[Event]:
        item_id = as_str(event.get("item_id")) or self._vad_item_id or new_id("item")
        self._vad_item_id = item_id
        start = event.get("audio_start_ms")
        start_ms = as_int(start) if start is not None else int(self._input_ms)
        self._speech_start_ms = float(start_ms)
        if self._current is not None and not self._current.done:
            self._current.barged_in = True
        return [
            server_event(
                "input_audio_buffer.speech_started", audio_start_ms=start_ms, item_id=item_id
            )
        ]

    def _on_speech_stopped(self, event: Event) -> list[Event]:
        item_id = as_str(event.get("item_id")) or self._vad_item_id or new_id("item")
        self._vad_item_id = item_id
        end = event.get("audio_end_ms")
        end_ms = as_int(end) if end is not None else int(self._input_ms)
        if self._speech_start_ms is not None:
            self._audio_seconds[item_id] = max(0.0, (end_ms - self._speech_start_ms) / 1000)
        self._speech_start_ms = None
        self._uncommitted_ms = 0.0
        return [
            server_event("input_audio_buffer.speech_stopped", audio_end_ms=end_ms, item_id=item_id)
        ]

    def _on_transcription(self, event: Event) -> list[Event]:
        item_id = as_str(event.get("item_id"))
        if not self.session.transcription_on or item_id is None:
            return []
        transcript = event.get("transcript")
        return [
            server_event(
                "conversation.item.input_audio_transcription.completed",
                item_id=item_id,
                content_index=as_int(event.get("content_index")),
                transcript=transcript if isinstance(transcript, str) else "",
                usage={"type": "duration", "seconds": float(self._audio_seconds.get(item_id, 0.0))},
            )
        ]

    def _on_transcription_failed(self, event: Event) -> list[Event]:
        item_id = as_str(event.get("item_id"))
        if not self.session.transcription_on or item_id is None:
            return []
        error = _mapping(event.get("error"))
        return [
            server_event(
                "conversation.item.input_audio_transcription.failed",
                item_id=item_id,
                content_index=as_int(event.get("content_index")),
                error={
                    "type": as_str(error.get("type")) or "transcription_error",
                    "code": _code(error.get("code")) or "transcription_failed",
                    "message": _message(error.get("message"), "Transcription failed."),
                    "param": as_str(error.get("param")),
                },
            )
        ]

    # --- responses ------------------------------------------------------------------------------

    def _response_id(self, event: Event) -> str | None:
        response = event.get("response")
        from_object = response.get("id") if isinstance(response, Mapping) else None
        return as_str(event.get("response_id")) or as_str(from_object)

    def _start_response(self, response_id: str | None) -> tuple[ResponseTracker, list[Event]]:
        events: list[Event] = []
        current = self._current
        if current is not None and not current.done:
            # GLM moved on without ending this one: a new turn interrupted it.
            events += self._finish(
                current, "cancelled", {"type": "cancelled", "reason": "turn_detected"}, None
            )
        session = self.session
        tracker = ResponseTracker(
            response_id or new_id("resp"),
            self._conversation,
            ResponseOptions(
                modalities=session.output_modalities,
                output_format=session.ga_session()["audio"]["output"]["format"],
                voice=session.voice,
                max_output_tokens=session.max_output_tokens,
                conversation_id=self._conversation.id,
            ),
        )
        self._responses[tracker.id] = tracker
        self._current = tracker
        return tracker, events + tracker.created()

    def _track(self, event: Event) -> tuple[ResponseTracker | None, list[Event]]:
        """The response an output event belongs to (started implicitly if GLM never said)."""
        response_id = self._response_id(event)
        if response_id is not None:
            if response_id in self._finished:
                return None, []
            tracker = self._responses.get(response_id)
            if tracker is not None:
                return tracker, []
        elif self._current is not None and not self._current.done:
            return self._current, []
        return self._start_response(response_id)

    def _finish(
        self,
        tracker: ResponseTracker,
        status: str,
        details: dict[str, Any] | None,
        usage: dict[str, Any] | None,
    ) -> list[Event]:
        events = tracker.finish(status, details, usage)
        self._responses.pop(tracker.id, None)
        self._finished.add(tracker.id)
        if self._current is tracker:
            self._current = None
        return events

    def _on_response_created(self, event: Event) -> list[Event]:
        response_id = self._response_id(event)
        if response_id is not None and (
            response_id in self._responses or response_id in self._finished
        ):
            return []
        return self._start_response(response_id)[1]

    def _on_output_item_added(self, event: Event) -> list[Event]:
        item = _mapping(event.get("item"))
        if item.get("type") not in (None, "message"):
            return []  # function calls are announced when their arguments are done
        tracker, events = self._track(event)
        if tracker is None:
            return events
        item_id = as_str(item.get("id")) or as_str(event.get("item_id"))
        return events + tracker.open_message(item_id)

    def _on_content_part_added(self, event: Event) -> list[Event]:
        tracker, events = self._track(event)
        if tracker is None:
            return events
        return events + tracker.open_part(as_str(event.get("item_id")))

    def _on_text_delta(self, event: Event) -> list[Event]:
        delta = event.get("delta")
        if not isinstance(delta, str) or not delta:
            return []
        tracker, events = self._track(event)
        if tracker is None:
            return events
        return events + tracker.text_delta(delta, as_str(event.get("item_id")))

    def _on_audio_delta(self, event: Event) -> list[Event]:
        try:
            pcm = decode_base64_audio(event.get("delta") or "")
        except ValueError:
            return []
        if not pcm:
            return []
        tracker, events = self._track(event)
        if tracker is None:
            return events
        return events + tracker.audio_delta(pcm, as_str(event.get("item_id")))

    def _on_audio_done(self, event: Event) -> list[Event]:
        tracker, events = self._track(event)
        return events if tracker is None else events + tracker.audio_done()

    def _on_text_done(self, event: Event) -> list[Event]:
        final = event.get("transcript", event.get("text"))
        tracker, events = self._track(event)
        if tracker is None:
            return events
        return events + tracker.text_done(final if isinstance(final, str) else None)

    def _on_part_or_item_done(self, event: Event) -> list[Event]:
        item = event.get("item")
        if isinstance(item, Mapping) and item.get("type") == "function_call":
            return []
        tracker, events = self._track(event)
        return events if tracker is None else events + tracker.close_message("completed")

    def _call_key(self, event: Event) -> str:
        return as_str(event.get("call_id")) or as_str(event.get("item_id")) or ""

    def _on_call_arguments_delta(self, event: Event) -> list[Event]:
        delta = event.get("delta")
        if not isinstance(delta, str):
            return []
        tracker, events = self._track(event)
        if tracker is not None:
            key = self._call_key(event)
            tracker.call_arguments[key] = tracker.call_arguments.get(key, "") + delta
        return events

    def _on_call_arguments_done(self, event: Event) -> list[Event]:
        tracker, events = self._track(event)
        if tracker is None:
            return events
        key = self._call_key(event)
        arguments = event.get("arguments")
        if not isinstance(arguments, str):
            arguments = tracker.call_arguments.get(key, "")
        tracker.call_arguments.pop(key, None)
        call_id = as_str(event.get("call_id"))
        if call_id is None:
            call_id = new_id("call")
            self._synthetic_call_ids.add(call_id)
        name = event.get("name")
        if not isinstance(name, str):
            name = ""
        return events + tracker.function_call(
            name, arguments, call_id, as_str(event.get("item_id"))
        )

    def _on_response_done(self, event: Event) -> list[Event]:
        response = _mapping(event.get("response"))
        tracker, events = self._track(event)
        if tracker is None:
            return events
        status = response.get("status")
        if event.get("type") == "response.cancelled":
            status = "cancelled"
        if status not in _RESPONSE_STATUSES:
            status = "completed"
        details = _status_details(status, response.get("status_details"), tracker.barged_in)
        return events + self._finish(tracker, status, details, _usage(response.get("usage")))

    def _on_rate_limits(self, event: Event) -> list[Event]:
        limits = event.get("rate_limits")
        if not isinstance(limits, list):
            return []
        return [server_event("rate_limits.updated", rate_limits=limits)]

    def _on_error(self, event: Event) -> list[Event]:
        error = _mapping(event.get("error"))
        return [
            server_event(
                "error",
                error={
                    "type": as_str(error.get("type")) or "server_error",
                    "code": _code(error.get("code")),
                    "message": _message(error.get("message"), "GLM-Realtime reported an error."),
                    "param": as_str(error.get("param")),
                    "event_id": as_str(error.get("event_id")),
                },
            )
        ]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _code(code: Any) -> str | None:
    if code is None or isinstance(code, bool):
        return None
    return str(code) if str(code) else None


def _message(message: Any, default: str) -> str:
    return message if isinstance(message, str) and message else default


def _status_details(status: str, details: Any, barged_in: bool) -> dict[str, Any] | None:
    details = _mapping(details)
    if status == "cancelled":
        reason = details.get("reason")
        if reason not in _CANCEL_REASONS:
            reason = "turn_detected" if barged_in else "client_cancelled"
        return {"type": "cancelled", "reason": reason}
    if status == "incomplete":
        reason = details.get("reason")
        return {
            "type": "incomplete",
            "reason": reason if reason in _INCOMPLETE_REASONS else "max_output_tokens",
        }
    if status == "failed":
        error = _mapping(details.get("error"))
        return {
            "type": "failed",
            "error": {
                "type": as_str(error.get("type")) or "server_error",
                "code": _code(error.get("code")) or "server_error",
                "message": _message(error.get("message"), "GLM-Realtime failed the response."),
            },
        }
    return None


def _usage(usage: Any) -> dict[str, Any] | None:
    """GLM's usage (the GA shape with fewer details) as GA's, or ``None`` if GLM gave none."""
    if not isinstance(usage, Mapping):
        return None
    in_details = _mapping(usage.get("input_token_details"))
    out_details = _mapping(usage.get("output_token_details"))
    input_tokens = as_int(usage.get("input_tokens"))
    output_tokens = as_int(usage.get("output_tokens"))
    return {
        "total_tokens": as_int(usage.get("total_tokens"), input_tokens + output_tokens),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": as_int(in_details.get("text_tokens")),
            "audio_tokens": as_int(in_details.get("audio_tokens")),
            "image_tokens": as_int(in_details.get("image_tokens")),
            "cached_tokens": as_int(in_details.get("cached_tokens")),
        },
        "output_token_details": {
            "text_tokens": as_int(out_details.get("text_tokens")),
            "audio_tokens": as_int(out_details.get("audio_tokens")),
        },
    }
