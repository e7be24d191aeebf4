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
from pipeline_manager import ServiceFactory, SessionPipeline
from realtime_session import RealtimeSession, SessionLimits
from relay.providers import RelayTarget
from relay.session import RelayLimits, RelaySession
from relay.upstream import EntryHooks, UpstreamLink
from transport.driver import Backend, Core, DriverLimits, Report

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
) -> tuple[Core, MakeBackend]:
    """The core of a new session on ``entry`` and the maker of its backend.

    Args:
        entry: The catalog entry serving the session.
        settings: The session's settings (``entry.settings``).
        model: The name the client asked for: the session reports it as its ``model``.
        session_type: ``realtime`` or ``transcription`` (a client secret's own type wins).
        initial_session: A client secret's (or a call's) validated session, or None; the
            entry's session defaults go beneath it.
        transport: What carries the session (WebRTC plays audio itself).

    A relay entry gets a :class:`~relay.session.RelaySession` and the
    :class:`~relay.upstream.UpstreamLink` to its upstream instead (:func:`open_relay_session`).
    """
    if entry.relay is not None:
        return open_relay_session(
            entry,
            settings,
            model=model,
            session_type=session_type,
            initial_session=initial_session,
            transport=transport,
        )
    initial = layered_session(
        entry.session_defaults, model=model, session_type=session_type, initial=initial_session
    )
    services = entry.services
    assert services is not None
    core = RealtimeSession(
        model=model,
        session_type=session_type,
        initial_session=initial,
        limits=session_limits(settings, services),
        transport=transport,
    )

    def make_backend(report: Report) -> Backend:
        return SessionPipeline(services, report, name=core.config.id)

    return core, make_backend


def open_relay_session(
    entry: ModelEntry,
    settings: Settings,
    *,
    model: str,
    session_type: str,
    initial_session: dict[str, Any] | None,
    transport: TransportKind,
) -> tuple[Core, MakeBackend]:
    """A session relayed to the entry's upstream (docs/relays.md).

    The upstream has defaults of its own, so only what was actually set goes up as the initial
    configuration: the entry's defaults (voice, instructions) beneath the client secret's
    session, as fragments, never a full session of our defaults.
    """
    spec = entry.relay
    assert spec is not None and spec.url is not None  # the catalog fills in a provider's URL
    target = RelayTarget(
        provider=spec.provider,
        url=spec.url,
        model=spec.model or entry.name,
        api_key=entry.relay_api_key,
        api_version=spec.api_version,
        dialect=spec.dialect,
        connect_timeout_s=spec.connect_timeout_s,
        headers=dict(spec.headers),
    )
    if initial_session is not None:
        session_type = initial_session.get("type", session_type)
    defaults = entry.session_defaults if session_type == "realtime" else {}
    core = RelaySession(
        model=model,
        dialect=target.new_dialect(),
        upstream=target.provider,
        session_type=session_type,
        initial_session=deep_merged(defaults, initial_session or {}),
        transport=transport,
        limits=RelayLimits(response_timeout_s=settings.response_timeout_s),
    )
    upstream = target.upstream(session_type=session_type)
    hooks = EntryHooks(note_upstream=entry.note_upstream)

    def make_backend(report: Report) -> Backend:
        return UpstreamLink(upstream, report, hooks)

    return core, make_backend


def deep_merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, objects merged key by key."""
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = deep_merged(below, value)
        else:
            merged[key] = value
    return merged


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


def session_limits(settings: Settings, services: ServiceFactory | None = None) -> SessionLimits:
    """The core's per-session limits and deadlines from the session's settings, and what its
    LLM can do with tools (from its pipeline's ``services``)."""
    return SessionLimits(
        max_input_buffer_ms=settings.max_input_buffer_ms,
        max_conversation_items=settings.max_conversation_items,
        response_timeout_s=settings.response_timeout_s,
        transcription_timeout_s=settings.transcription_timeout_s,
        max_stored_audio_bytes=settings.max_stored_audio_bytes,
        max_output_tokens=settings.max_reply_tokens,
        spoken_reply_max_tokens=settings.spoken_reply_cap(),
        tool_calling=getattr(services, "tool_calling", "auto"),
    )


def driver_limits(settings: Settings) -> DriverLimits:
    """What one session may cost the server, from its settings."""
    idle_s = settings.session_idle_timeout_s
    return DriverLimits(
        events_per_s=settings.max_client_events_per_s,
        event_burst=settings.max_client_event_burst,
        idle_timeout_s=idle_s if idle_s > 0 else None,
    )
