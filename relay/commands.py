"""What a relayed session asks its upstream link to do (besides the client events it emits)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SendUpstream:
    """Send one event, already in the upstream's dialect."""

    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NoteUpstream:
    """Whether the upstream answered this session's connect (for ``/health``)."""

    ok: bool
    detail: str = ""


UpstreamCommand = SendUpstream | NoteUpstream
