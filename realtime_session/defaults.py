"""Default session objects, as the real API reports them in ``session.created``."""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant. Keep your answers short and conversational."
)
SHORT_REPLY_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant. "
    "Always answer in one or two short sentences, in plain words."
)
"""The default instructions of a model entry whose spoken replies have a soft cap (the local
LLM's by default, realtime_session/reply_policy.py): the reply is asked to fit the cap, which
then rarely has to cut it. A client's own instructions replace them."""
DEFAULT_VOICE = "alloy"
PCM24K_FORMAT: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}

# The real API's server_vad defaults (silence_duration_ms is 200 on the wire although older SDK docs
# say 500).
SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
TURN_DETECTION_DEFAULTS = {"server_vad": SERVER_VAD_DEFAULTS, "semantic_vad": SEMANTIC_VAD_DEFAULTS}


def default_realtime_session(model: str) -> dict[str, Any]:
    """The effective configuration of a fresh ``realtime`` session (without id/expiry)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "audio": {
            "input": {
                "format": dict(PCM24K_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": copy.deepcopy(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": dict(PCM24K_FORMAT), "voice": DEFAULT_VOICE, "speed": 1.0},
        },
    }


def default_transcription_session() -> dict[str, Any]:
    """The effective configuration of a fresh ``transcription`` session (without id/expiry)."""
    return {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "audio": {
            "input": {
                "format": dict(PCM24K_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": copy.deepcopy(SERVER_VAD_DEFAULTS),
            }
        },
        "include": None,
    }
