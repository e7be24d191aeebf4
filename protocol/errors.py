"""OpenAI-shaped protocol errors.

Every problem with a client event becomes a :class:`ProtocolError`, which knows how to render
itself as the ``error`` server event the real API sends (docs/protocol.md §8). Errors never close
the session.
"""

from __future__ import annotations

from typing import Any

from protocol.ids import new_id


class ProtocolError(Exception):
    """A client event that cannot be applied, described the way the OpenAI API describes it."""

    def __init__(
        self,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        event_id: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.event_id = event_id
        self.error_type = error_type

    def with_event_id(self, event_id: str | None) -> ProtocolError:
        """Return this error tagged with the id of the client event that caused it."""
        if event_id is not None and self.event_id is None:
            self.event_id = event_id
        return self

    def to_event(self) -> dict[str, Any]:
        """Render the ``error`` server event."""
        return error_event(
            self.code,
            self.message,
            param=self.param,
            event_id=self.event_id,
            error_type=self.error_type,
        )


def error_event(
    code: str | None,
    message: str,
    *,
    param: str | None = None,
    event_id: str | None = None,
    error_type: str = "invalid_request_error",
) -> dict[str, Any]:
    """Build an ``error`` server event (``error.event_id`` echoes the offending client event)."""
    return {
        "type": "error",
        "event_id": new_id("event"),
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        },
    }
