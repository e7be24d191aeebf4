"""What the voice client does with each server event.

One method per event type the client cares about: update the turn views and the history, feed
reply audio to the sink, and react to the server's barge-in (``speech_started``) and to
cancelled or failed responses. Kept apart from :mod:`.app`, which owns the screen, the
connection and the keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from clients.events import AUDIO_DELTA_TYPE, TEXT_DELTA_TYPES, decode_audio, describe_server_error

if TYPE_CHECKING:
    from clients.push_to_talk.app import RealtimeApp

Handler = Callable[[Any], Awaitable[None]]


class ServerEventHandlers:
    """Applies server events (SDK objects) to a :class:`RealtimeApp`; keeps the turn texts."""

    def __init__(self, app: RealtimeApp) -> None:
        self.app = app
        self._user_text: dict[str, str] = defaultdict(str)
        self._assistant_text: dict[str, str] = defaultdict(str)
        self._handlers: dict[str, Handler] = {
            "session.created": self._on_session_created,
            "session.updated": self._on_session_updated,
            "error": self._on_error,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "input_audio_buffer.committed": self._on_committed,
            "conversation.item.input_audio_transcription.delta": self._on_transcript_delta,
            "conversation.item.input_audio_transcription.completed": self._on_transcript_done,
            "conversation.item.input_audio_transcription.failed": self._on_transcript_failed,
            "response.created": self._on_response_created,
            **dict.fromkeys(TEXT_DELTA_TYPES, self._on_assistant_delta),
            AUDIO_DELTA_TYPE: self._on_audio_delta,
            "response.done": self._on_response_done,
            "conversation.item.truncated": self._on_truncated,
        }

    def reset(self) -> None:
        """Forget the texts of the last session's items."""
        self._user_text.clear()
        self._assistant_text.clear()

    async def handle(self, event: Any) -> None:
        """Apply one event (types without a handler are ignored)."""
        handler = self._handlers.get(getattr(event, "type", None) or "")
        if handler is not None:
            await handler(event)

    async def _on_session_created(self, event: Any) -> None:
        app = self.app
        if app.reconnect_attempt:
            app.log_line("reconnected: a new session (the old conversation is gone)", "green")
        app.reconnect_attempt = 0
        app.session_id = event.session.id
        app.status.session_id = event.session.id or ""
        app.set_status("connected", "")
        app.log_line(f"session {event.session.id} created", "green")

    async def _on_session_updated(self, event: Any) -> None:
        app = self.app
        audio = getattr(event.session, "audio", None)
        voice = getattr(getattr(audio, "output", None), "voice", None)
        mode = "server VAD" if app.config.hands_free else "manual turns"
        app.set_status("connected", f"{mode} · voice {voice}")
        live = app.source is not None and app.source.live
        if app.config.hands_free and live and not app.recording:
            await app.start_recording()  # hands-free: listen from the start, K mutes

    async def _on_error(self, event: Any) -> None:
        if getattr(event.error, "code", None) == "response_cancel_not_active":
            self.app.log_line("(the response had already finished when we cancelled it)", "dim")
            return  # a harmless race between our interrupt and the end of the response
        message = describe_server_error(event.error)
        self.app.log_line(f"server error: {message}", "bold red")
        self.app.notify(message, title="Server error", severity="error", timeout=6)

    async def _on_speech_started(self, event: Any) -> None:
        self.app.user_view.text = ""
        self.app.user_view.detail = "(speaking…)"
        await self.app.interrupt("you started speaking", cancel=False)

    async def _on_speech_stopped(self, event: Any) -> None:
        self.app.user_view.detail = "(transcribing…)"

    async def _on_committed(self, event: Any) -> None:
        self.app.user_view.text = ""
        self.app.user_view.detail = "(transcribing…)"

    async def _on_transcript_delta(self, event: Any) -> None:
        self._user_text[event.item_id] += event.delta or ""
        self.app.user_view.text = self._user_text[event.item_id]

    async def _on_transcript_done(self, event: Any) -> None:
        self._user_text[event.item_id] = event.transcript
        self.app.user_view.text = event.transcript
        self.app.user_view.detail = ""
        self.app.log_line(f"You: {event.transcript}", "cyan")

    async def _on_transcript_failed(self, event: Any) -> None:
        reason = describe_server_error(event.error)
        self.app.user_view.detail = f"(transcription failed: {reason})"

    async def _on_response_created(self, event: Any) -> None:
        self.app.tracker.response_created(event.response.id)
        self.app.assistant_view.text = ""
        self.app.assistant_view.detail = "(thinking…)"

    async def _on_assistant_delta(self, event: Any) -> None:
        if self.app.tracker.is_muted(event.response_id):
            return
        self._assistant_text[event.item_id] += event.delta
        self.app.assistant_view.text = self._assistant_text[event.item_id]
        self.app.assistant_view.detail = ""

    async def _on_audio_delta(self, event: Any) -> None:
        if self.app.tracker.is_muted(event.response_id):
            return
        self.app.tracker.audio_arrived(event.item_id, event.response_id)
        self.app.sink.write(event.item_id, decode_audio(event.delta))

    async def _on_response_done(self, event: Any) -> None:
        app, response = self.app, event.response
        app.tracker.response_done(response.id)
        status = response.status
        if status == "cancelled":
            await app.interrupt("response cancelled", cancel=False)
        elif status == "failed":
            error = getattr(response.status_details, "error", None)
            app.log_line(f"response failed: {describe_server_error(error)}", "bold red")
        texts = [self._assistant_text.get(getattr(i, "id", ""), "") for i in response.output or []]
        said = " ".join(t for t in texts if t)
        if said:
            suffix = "" if status == "completed" else f"  [{status}]"
            app.log_line(f"Assistant: {said}{suffix}", "magenta")
        if status != "completed" and not app.assistant_view.detail.startswith("[interrupted"):
            app.assistant_view.detail = f"[{status}]"

    async def _on_truncated(self, event: Any) -> None:
        self.app.log_line(f"server truncated {event.item_id} at {event.audio_end_ms} ms", "dim")
