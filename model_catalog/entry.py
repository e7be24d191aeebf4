"""One served model: how its sessions are made, and what it has done since start-up.

Why the counters live here rather than in the transports: ``max_sessions``, the relay's upstream
status and token usage are per model, and ``/health`` reports them per model; every transport
(WebSocket, WebRTC, a relay) updates the same entry object. Everything runs on the event loop,
so plain integers suffice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config import Settings
from model_catalog.schema import RelaySpec

if TYPE_CHECKING:
    from pipeline_manager import ServiceFactory

USAGE_KEYS = ("total_tokens", "input_tokens", "output_tokens")


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    """The result of a relay's latest attempt to connect upstream."""

    ok: bool
    detail: str
    at: float
    """``time.time()`` of the attempt."""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "at": round(self.at, 3)}


@dataclass(eq=False)
class ModelEntry:
    """A model of the catalog: a pipeline (``services``) or a relay (``relay``), never both.

    Attributes:
        name: What clients pass as ``?model=``.
        settings: The effective settings of its sessions (the server's, with the entry's own).
        services: The pipeline's service factory (None for a relay); entries with the same
            stage settings share one.
        relay: Where and how a relay connects (None for a pipeline); ``url`` and ``model`` set.
        relay_api_key: The relay's key, read from ``relay.api_key_env`` at start-up.
        session_defaults: A GA session fragment (voice, instructions) applied beneath a client
            secret's session.
        max_sessions: Concurrent sessions of this entry (None: only the server-wide limit).
        default: Whether this entry serves names that are not in the catalog.
    """

    name: str
    settings: Settings
    services: ServiceFactory | None = None
    relay: RelaySpec | None = None
    relay_api_key: str | None = field(default=None, repr=False)
    session_defaults: dict[str, Any] = field(default_factory=dict)
    max_sessions: int | None = None
    default: bool = False
    sessions: int = field(default=0, init=False)
    _usage: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(USAGE_KEYS, 0), init=False, repr=False
    )
    _upstream: UpstreamStatus | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if (self.services is None) == (self.relay is None):
            raise ValueError(f"model {self.name!r} needs exactly one of services and relay")

    @property
    def kind(self) -> str:
        """``pipeline`` or ``relay``."""
        return "relay" if self.relay is not None else "pipeline"

    @property
    def owned_by(self) -> str:
        """``/v1/models``' ``owned_by``: ``realtime-server``, or ``relay:<provider>``."""
        return f"relay:{self.relay.provider}" if self.relay is not None else "realtime-server"

    # --- sessions -----------------------------------------------------------------------------

    def try_open(self) -> bool:
        """Count a new session, unless the entry is at ``max_sessions`` (then False)."""
        if self.max_sessions is not None and self.sessions >= self.max_sessions:
            return False
        self.sessions += 1
        return True

    def limit_message(self) -> str:
        """Why :meth:`try_open` refused (``session_limit_reached``)."""
        return f"Model '{self.name}' is at its limit of {self.max_sessions} concurrent sessions."

    def closed(self) -> None:
        """A session counted by :meth:`try_open` has ended."""
        self.sessions = max(0, self.sessions - 1)

    # --- relays -----------------------------------------------------------------------------

    def note_upstream(self, ok: bool, detail: str) -> None:
        """Record a relay's latest upstream connect (``/health``: ready, degraded)."""
        self._upstream = UpstreamStatus(ok, detail, time.time())

    @property
    def upstream(self) -> UpstreamStatus | None:
        """The latest upstream connect, or None if there has been none."""
        return self._upstream

    # --- usage ------------------------------------------------------------------------------

    def record_usage(self, usage: dict[str, Any] | None) -> None:
        """Add a GA ``response.done`` usage object's token counts to this entry's."""
        for key in USAGE_KEYS:
            value = (usage or {}).get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                self._usage[key] += value

    @property
    def usage(self) -> dict[str, int]:
        """Tokens of this entry's responses since start-up."""
        return dict(self._usage)

    # --- what it can do -----------------------------------------------------------------------

    def capabilities(self) -> dict[str, Any] | None:
        """What a pipeline's model does by default (None for a relay: its upstream decides).

        ``tool_calling``: ``auto`` (the model decides when to call a tool), ``forced`` (only
        when ``tool_choice`` is ``required`` or names a function) or ``none``;
        ``spoken_reply_max_tokens``: the soft cap of a spoken reply left at
        ``max_output_tokens: "inf"`` (0: none). See realtime_session/reply_policy.py.
        """
        if self.services is None:
            return None
        return {
            "tool_calling": getattr(self.services, "tool_calling", "auto"),
            "spoken_reply_max_tokens": self.settings.spoken_reply_cap(),
        }

    def model_object(self) -> dict[str, Any]:
        """This entry in ``/v1/models`` (the OpenAI model shape; pipelines add
        ``capabilities``)."""
        body: dict[str, Any] = {
            "id": self.name,
            "object": "model",
            "created": 0,
            "owned_by": self.owned_by,
        }
        capabilities = self.capabilities()
        if capabilities is not None:
            body["capabilities"] = capabilities
        return body

    # --- /health ------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """This entry's part of ``/health``."""
        common = {
            "sessions": self.sessions,
            "max_sessions": self.max_sessions,
            "default": self.default,
            "usage": self.usage,
        }
        if self.relay is not None:
            upstream = self._upstream
            return {
                "kind": "relay",
                "provider": self.relay.provider,
                "ready": upstream.ok if upstream is not None else None,
                "last_connect": upstream.to_dict() if upstream is not None else None,
                **common,
            }
        assert self.services is not None
        return {
            "kind": "pipeline",
            "ready": True,
            "models": self.services.describe(),
            "capabilities": self.capabilities(),
            **common,
        }
