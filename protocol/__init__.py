"""The wire protocol: client event validation, OpenAI-shaped errors and id shapes.

:func:`parse_client_event` is the GA entry point (:mod:`protocol.validation`); the beta dialect's
is :func:`protocol.beta.parse_beta_client_event`. Both return a :class:`ClientEvent`.
"""

from protocol.client_event import ClientEvent
from protocol.errors import ProtocolError, error_event
from protocol.ids import new_id
from protocol.validation import parse_client_event

__all__ = ["ClientEvent", "ProtocolError", "error_event", "new_id", "parse_client_event"]
