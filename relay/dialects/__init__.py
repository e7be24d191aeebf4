"""Upstream dialects (see :mod:`.base`): GA as is, beta, and Zhipu's GLM-Realtime."""

from relay.dialects.base import Dialect, Event, GADialect
from relay.dialects.beta import BetaUpstreamDialect
from relay.dialects.glm import GLM_DEFAULT_MODEL, GLM_DEFAULT_URL, GLMDialect, glm_headers

__all__ = [
    "GLM_DEFAULT_MODEL",
    "GLM_DEFAULT_URL",
    "BetaUpstreamDialect",
    "Dialect",
    "Event",
    "GADialect",
    "GLMDialect",
    "glm_headers",
]
