"""Upstream dialects (see :mod:`.base`): GA as is, beta, and Zhipu's GLM-Realtime."""

from relay.dialects.base import Dialect, Event, GADialect
from relay.dialects.beta import BetaUpstreamDialect

__all__ = ["BetaUpstreamDialect", "Dialect", "Event", "GADialect"]
