"""One dialect's client events: their mirrored schemas, ready to check an event's type and shape.

GA (:mod:`protocol.validation`) and beta (:mod:`protocol.beta.schema`) each build one
:class:`EventSchemas` at import from their SDK TypedDicts and their :class:`SchemaMirror`; the
checks themselves (which ``type`` values exist, how a schema violation is reported) are the same
for both dialects, so they live here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from protocol.schema_errors import most_relevant
from protocol.schema_mirror import SchemaMirror
from protocol.wording import invalid_type, invalid_value, missing

__all__ = ["EventSchemas"]


class EventSchemas:
    """Event ``type`` -> mirrored SDK schema and its pydantic adapter, built once."""

    def __init__(self, schemas: Mapping[str, type], mirror: SchemaMirror) -> None:
        self.types: tuple[str, ...] = tuple(schemas)
        """The event types, in the order the "unknown type" error lists them."""
        self._mirrored: dict[str, Any] = {t: mirror(s) for t, s in schemas.items()}
        self._adapters: dict[str, TypeAdapter[Any]] = {
            t: TypeAdapter(s) for t, s in self._mirrored.items()
        }

    def check_type(self, event: dict[str, Any]) -> str:
        """The event's ``type``, if it is one of these events (else a ProtocolError)."""
        if "type" not in event:
            raise missing("type")
        event_type = event["type"]
        if not isinstance(event_type, str):
            raise invalid_type("type", "a string", event_type)
        if event_type not in self._adapters:
            raise invalid_value("type", event_type, self.types)
        return event_type

    def check(self, event_type: str, event: dict[str, Any]) -> None:
        """Validate against the mirrored schema; raise the most relevant error, API-worded."""
        try:
            self._adapters[event_type].validate_python(event)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise most_relevant(errors, self._mirrored[event_type]) from None
