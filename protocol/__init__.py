"""The wire protocol: client event validation, OpenAI-shaped errors and id shapes."""

from protocol.client_event import ClientEvent
from protocol.errors import ProtocolError, error_event
from protocol.ids import new_id

__all__ = ["ClientEvent", "ProtocolError", "error_event", "new_id"]
