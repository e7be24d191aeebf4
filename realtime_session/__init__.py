"""The sans-I/O protocol core: session state, conversation and response lifecycle."""

from realtime_session.commands import (
    CancelResponse,
    Command,
    ConfigureTurnDetection,
    FeedAudio,
    StartResponse,
    TranscribeAudio,
)
from realtime_session.llm_context import LLMRequest
from realtime_session.session import Output, RealtimeSession

__all__ = [
    "CancelResponse",
    "Command",
    "ConfigureTurnDetection",
    "FeedAudio",
    "LLMRequest",
    "Output",
    "RealtimeSession",
    "StartResponse",
    "TranscribeAudio",
]
