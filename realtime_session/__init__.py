"""The sans-I/O protocol core: session state, conversation and the turn/response lifecycle."""

from realtime_session.commands import (
    ArmTimer,
    CancelResponse,
    CancelTranscription,
    Command,
    ConfigureInput,
    DisarmTimer,
    FeedAudio,
    PipelineCommand,
    StartResponse,
    TimerCommand,
    TranscribeAudio,
)
from realtime_session.llm_context import LLMRequest
from realtime_session.session import Output, RealtimeSession, SessionLimits

__all__ = [
    "ArmTimer",
    "CancelResponse",
    "CancelTranscription",
    "Command",
    "ConfigureInput",
    "DisarmTimer",
    "FeedAudio",
    "LLMRequest",
    "Output",
    "PipelineCommand",
    "RealtimeSession",
    "SessionLimits",
    "StartResponse",
    "TimerCommand",
    "TranscribeAudio",
]
