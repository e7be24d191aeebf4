"""What the upstream link reports to a relayed session (through the driver's inbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class UpstreamEvent:
    """One event the upstream sent, as JSON data in the upstream's dialect."""

    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UpstreamRefused:
    """The upstream could not be reached, or refused the connection (the upgrade failed).

    ``status`` is the HTTP status of a refused upgrade (401, 403, 404, ...), None when nothing
    answered (connection refused, DNS, TLS, the connect timeout).
    """

    status: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class UpstreamClosed:
    """The upstream's WebSocket closed (or broke: ``code`` 1006) after it had been open."""

    code: int
    reason: str


UpstreamSignal = UpstreamEvent | UpstreamRefused | UpstreamClosed
