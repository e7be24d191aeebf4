"""Upstream dialects (see :mod:`.base`): GA as is, beta, and Zhipu's GLM-Realtime."""

from relay.dialects.base import Dialect, Event, GADialect

__all__ = ["Dialect", "Event", "GADialect"]
