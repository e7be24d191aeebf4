"""Small builders for the GA server events the GLM dialect emits."""

from __future__ import annotations

import random
import string
from typing import Any

Event = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits
_rng = random.Random()


def new_id(prefix: str, length: int = 21) -> str:
    """``<prefix>_<21 random alphanumerics>``, the shape of the Realtime API's ids."""
    return f"{prefix}_" + "".join(_rng.choices(_ALPHABET, k=length))


def server_event(event_type: str, **fields: Any) -> Event:
    """A GA server event with a fresh ``event_id`` (every GA event gets its own)."""
    return {"type": event_type, "event_id": new_id("event"), **fields}


def error_event(
    code: str | None,
    message: str,
    *,
    param: str | None = None,
    client_event_id: Any = None,
    error_type: str = "invalid_request_error",
) -> Event:
    """A GA ``error`` event (docs/protocol.md §8) answering one client event."""
    return server_event(
        "error",
        error={
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id if isinstance(client_event_id, str) else None,
        },
    )


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
