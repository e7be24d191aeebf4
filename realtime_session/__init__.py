"""The sans-I/O protocol core: session state, conversation and response lifecycle."""

from realtime_session.commands import (
    ArmIdleTimer,
    CancelResponse,
    Command,
    ConfigureTurnDetection,
    DisarmIdleTimer,
    FeedAudio,
    StartResponse,
    TranscribeAudio,
)
from realtime_session.llm_context import LLMRequest
from realtime_session.session import Output, RealtimeSession, SessionLimits

__all__ = [
    "ArmIdleTimer",
    "CancelResponse",
    "Command",
    "ConfigureTurnDetection",
    "DisarmIdleTimer",
    "FeedAudio",
    "LLMRequest",
    "Output",
    "RealtimeSession",
    "SessionLimits",
    "StartResponse",
    "TranscribeAudio",
]
