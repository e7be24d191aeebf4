"""What a dialect is: the translation between GA (what our edge validates and our clients get)
and the event shapes one upstream provider speaks.

A relayed session validates every client event as GA (a beta client's events are translated to
GA first, by :mod:`protocol.beta`), hands it to its dialect, and sends what comes out upstream.
Every upstream event goes through the same dialect the other way, and what comes out is GA again
(a beta client then gets it translated to beta by the transport, as for a local pipeline).

A dialect object belongs to one session, so it may keep state (an audio resampler, the ids it
has mapped, the last session configuration it has seen).
"""

from __future__ import annotations

from typing import Any, Protocol

Event = dict[str, Any]


class Dialect(Protocol):
    """Translates one session's events between GA and an upstream's dialect."""

    name: str
    """For logs and ``/health``: ``ga``, ``beta``, ``glm``."""

    def client_to_upstream(self, event: Event) -> list[Event]:
        """A validated GA client event, as the zero or more events the upstream takes.

        Raises:
            ProtocolError: the upstream cannot do what the event asks; the relayed session
                answers the client with it (its ``event_id`` echoed) and sends nothing.
        """
        ...

    def upstream_to_client(self, event: Event) -> list[Event]:
        """One upstream server event, as the zero or more GA server events it means."""
        ...

    def initial_upstream_events(self) -> list[Event]:
        """What to send the upstream right after connecting, before any client event (an
        upstream whose defaults differ from what a GA client expects is configured here)."""
        ...

    def drain_client_events(self) -> list[Event]:
        """GA events the dialect owes the client itself, taken after each
        :meth:`client_to_upstream` (an upstream with no equivalent for a client event: the
        dialect answers it, e.g. acknowledges a truncate GLM cannot do)."""
        ...


class GADialect:
    """An upstream that speaks GA (OpenAI, Azure's ``/openai/v1/realtime``, this server)."""

    name = "ga"

    def client_to_upstream(self, event: Event) -> list[Event]:
        return [event]

    def upstream_to_client(self, event: Event) -> list[Event]:
        return [event]

    def initial_upstream_events(self) -> list[Event]:
        return []

    def drain_client_events(self) -> list[Event]:
        return []
