"""The sans-I/O protocol core: session state, conversation and the turn/response lifecycle."""

from realtime_session.commands import (
    ArmTimer,
    CancelResponse,
    CancelTranscription,
    ClearAudio,
    Command,
    ConfigureInput,
    ConfigureTranscription,
    DisarmTimer,
    EndAudio,
    EndSession,
    FeedAudio,
    PipelineCommand,
    PlayAudio,
    PlaybackCommand,
    StartResponse,
    TimerCommand,
    TranscribeAudio,
)
from realtime_session.llm_context import LLMRequest
from realtime_session.session import Output, RealtimeSession, SessionLimits, Transport

__all__ = [
    "ArmTimer",
    "CancelResponse",
    "CancelTranscription",
    "ClearAudio",
    "Command",
    "ConfigureInput",
    "ConfigureTranscription",
    "DisarmTimer",
    "EndAudio",
    "EndSession",
    "FeedAudio",
    "LLMRequest",
    "Output",
    "PipelineCommand",
    "PlayAudio",
    "PlaybackCommand",
    "RealtimeSession",
    "SessionLimits",
    "StartResponse",
    "TimerCommand",
    "TranscribeAudio",
    "Transport",
]
