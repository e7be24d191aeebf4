"""Transports: what carries a session's events, around the one driver every transport shares."""

from transport.driver import SessionDriver
from transport.websocket import RealtimeConnection, choose_subprotocol, wants_beta

__all__ = ["RealtimeConnection", "SessionDriver", "choose_subprotocol", "wants_beta"]
