"""The GA event builders the GLM dialect uses (the project's own), and GLM value readers."""

from __future__ import annotations

from typing import Any

from protocol import new_id
from protocol.errors import error_event as _error_event
from realtime_session.events import server_event

__all__ = ["Event", "as_int", "as_str", "error_event", "new_id", "server_event"]

Event = dict[str, Any]


def error_event(
    code: str | None,
    message: str,
    *,
    param: str | None = None,
    client_event_id: Any = None,
    error_type: str = "invalid_request_error",
) -> Event:
    """A GA ``error`` event (docs/protocol.md §8) answering one client event (whose id may be
    anything a client sent: only a string is echoed)."""
    event_id = client_event_id if isinstance(client_event_id, str) else None
    return _error_event(code, message, param=param, event_id=event_id, error_type=error_type)


def as_str(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else ``None`` (GLM leaves many ids out)."""
    return value if isinstance(value, str) and value else None


def as_int(value: Any, default: int = 0) -> int:
    """``value`` as an int (GLM's integers are sometimes strings or absent)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default
