"""Small builders for server events: every event gets a fresh, unique ``event_id``."""

from __future__ import annotations

from typing import Any

from protocol import new_id


def server_event(event_type: str, **fields: Any) -> dict[str, Any]:
    """Build a server event dict of the given type."""
    return {"type": event_type, "event_id": new_id("event"), **fields}
