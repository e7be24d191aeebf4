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

from protocol.absent_nulls import drop_absent_nulls
from protocol.schema_errors import most_relevant
from protocol.schema_mirror import FieldSet, SchemaMirror
from protocol.wording import invalid_type, invalid_value, missing

__all__ = ["EventSchemas"]


class EventSchemas:
    """Event ``type`` -> mirrored SDK schema and its pydantic adapter, built once."""

    def __init__(self, schemas: Mapping[str, type], mirror: SchemaMirror) -> None:
        self.types: tuple[str, ...] = tuple(schemas)
        """The event types, in the order the "unknown type" error lists them."""
        self._mirrored: dict[str, Any] = {t: mirror(s) for t, s in schemas.items()}
        self.absent_when_null: FieldSet = frozenset(mirror.absent_when_null)
        """The SDK fields (owner TypedDict, name) whose ``null`` these events take as absent."""
        self._adapters: dict[str, TypeAdapter[Any]] = {
            t: TypeAdapter(s) for t, s in self._mirrored.items()
        }

    def schema(self, event_type: str) -> Any:
        """The mirrored schema of one event type (what :meth:`check` validates against)."""
        return self._mirrored[event_type]

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
        """Validate against the mirrored schema; raise the most relevant error, API-worded.

        First the absent-when-null fields whose value is ``null`` are deleted from ``event``, in
        place (:mod:`protocol.absent_nulls`): the event is validated, and goes on, without them.
        """
        drop_absent_nulls(event, self._mirrored[event_type])
        try:
            self._adapters[event_type].validate_python(event)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise most_relevant(errors, self._mirrored[event_type]) from None
