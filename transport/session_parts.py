"""The one place where a session is made for a model entry, whatever carries it.

Why one place: a WebSocket connection and a WebRTC call differ in how events and audio travel,
not in what serves them. Both call :func:`open_session` for the core and the backend of their
:class:`~transport.driver.SessionDriver`; whether the entry is a local pipeline or a relay to an
upstream API is decided here and nowhere else. The per-session limits from an entry's settings,
and the model a connection asks for, are here for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from config import Settings
from model_catalog import ModelEntry, layered_session
from pipeline_manager import SessionPipeline
from realtime_session import RealtimeSession, SessionLimits
from transport.driver import Backend, DriverLimits, Report

TransportKind = Literal["websocket", "webrtc"]
MakeBackend = Callable[[Report], Backend]
"""What :class:`~transport.driver.SessionDriver` takes: makes the backend around its report."""


def open_session(
    entry: ModelEntry,
    settings: Settings,
    *,
    model: str,
    session_type: str,
    initial_session: dict[str, Any] | None,
    transport: TransportKind,
) -> tuple[RealtimeSession, MakeBackend]:
    """The core of a new session on ``entry`` and the maker of its backend.

    Args:
        entry: The catalog entry serving the session.
        settings: The session's settings (``entry.settings``).
        model: The name the client asked for: the session reports it as its ``model``.
        session_type: ``realtime`` or ``transcription`` (a client secret's own type wins).
        initial_session: A client secret's (or a call's) validated session, or None; the
            entry's session defaults go beneath it.
        transport: What carries the session (WebRTC plays audio itself).

    Raises:
        NotImplementedError: ``"relay"``, for a relay entry (not served yet).
    """
    initial = layered_session(
        entry.session_defaults, model=model, session_type=session_type, initial=initial_session
    )
    if entry.relay is not None:
        raise NotImplementedError("relay")
    services = entry.services
    assert services is not None
    core = RealtimeSession(
        model=model,
        session_type=session_type,
        initial_session=initial,
        limits=session_limits(settings),
        transport=transport,
    )

    def make_backend(report: Report) -> Backend:
        return SessionPipeline(services, report, name=core.config.id)

    return core, make_backend


def relay_not_served(entry: ModelEntry) -> str:
    """The refusal of a session on a relay entry while relays are not served."""
    return f"Model '{entry.name}' is a relay, which this server cannot serve yet."


def note_server_event(entry: ModelEntry, event: dict[str, Any]) -> None:
    """What an entry learns from an event its session sends: a response's token usage."""
    if event.get("type") == "response.done":
        response = event.get("response")
        if isinstance(response, dict):
            entry.record_usage(response.get("usage"))


def requested_model(secret_session: dict[str, Any] | None, *others: str | None) -> str | None:
    """The model a connection asks for: its client secret's, else the first of ``others``.

    A client secret's model binds: whoever minted it (with a real key) chose the model, and the
    page holding the secret cannot open a session on another, perhaps costlier, one by changing
    ``?model=``.
    """
    for candidate in ((secret_session or {}).get("model"), *others):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def session_limits(settings: Settings) -> SessionLimits:
    """The core's per-session limits and deadlines from the session's settings."""
    return SessionLimits(
        max_input_buffer_ms=settings.max_input_buffer_ms,
        max_conversation_items=settings.max_conversation_items,
        response_timeout_s=settings.response_timeout_s,
        transcription_timeout_s=settings.transcription_timeout_s,
        max_stored_audio_bytes=settings.max_stored_audio_bytes,
        max_output_tokens=settings.max_reply_tokens,
    )


def driver_limits(settings: Settings) -> DriverLimits:
    """What one session may cost the server, from its settings."""
    idle_s = settings.session_idle_timeout_s
    return DriverLimits(
        events_per_s=settings.max_client_events_per_s,
        event_burst=settings.max_client_event_burst,
        idle_timeout_s=idle_s if idle_s > 0 else None,
    )
