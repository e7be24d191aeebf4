"""Opening and re-opening the voice client's Realtime session.

The pieces of the connection loop that need no UI: which SDK client to use, the
``session.update`` that sets the session up, how long to wait before reconnecting, and a human
reason for a lost connection. The loop itself runs in the app (:mod:`clients.push_to_talk.app`).
"""

from __future__ import annotations

from openai import AsyncOpenAI
from openai.types.realtime import RealtimeAudioConfigParam, RealtimeSessionCreateRequestParam
from openai.types.realtime.realtime_audio_formats_param import AudioPCM as AudioPCMParam

from clients.connection import make_client, make_openai_client
from clients.push_to_talk.config import ClientConfig
from clients.wav import SAMPLE_RATE

CLOSE_CODES = {
    1001: "server going away",
    1006: "connection dropped",
    1011: "server error",
    1012: "server restarting",
    3000: "authentication failed",
    4000: "invalid request",
}
"""What the WebSocket close codes a Realtime server uses mean."""


def sdk_client(config: ClientConfig) -> AsyncOpenAI:
    """The SDK client: OpenAI's API with ``--openai``, our server otherwise."""
    if config.openai:
        return make_openai_client(config.api_key)
    return make_client(config.url, config.api_key)


def session_config(config: ClientConfig) -> RealtimeSessionCreateRequestParam:
    """The ``session.update`` payload: audio in/out, input transcription, turn mode."""
    pcm: AudioPCMParam = {"type": "audio/pcm", "rate": SAMPLE_RATE}
    audio: RealtimeAudioConfigParam = {
        "input": {
            "format": pcm,
            "transcription": {"model": config.transcription_model},
            "turn_detection": {"type": "server_vad"} if config.hands_free else None,
        },
        "output": {"format": pcm},
    }
    if config.voice:
        audio["output"]["voice"] = config.voice
    session: RealtimeSessionCreateRequestParam = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": audio,
    }
    if config.instructions is not None:
        session["instructions"] = config.instructions
    return session


def backoff_delay(attempt: int, initial: float = 0.5, ceiling: float = 8.0) -> float:
    """Exponential backoff: 0.5, 1, 2, 4, 8, 8, ... seconds."""
    return float(min(ceiling, initial * 2 ** max(0, attempt - 1)))


def describe_connection_error(error: BaseException) -> str:
    """A one-line, human reason for a failed or lost connection."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status is not None:
        return f"HTTP {status} from the server"
    received = getattr(error, "rcvd", None)
    if received is not None or type(error).__name__.startswith("ConnectionClosed"):
        code = received.code if received is not None else 1006
        reason = received.reason if received is not None and received.reason else ""
        meaning = reason or CLOSE_CODES.get(code, "")
        return f"connection lost (close code {code}{': ' + meaning if meaning else ''})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(error, OSError):
        return f"network error: {error.strerror or error}"
    return f"{type(error).__name__}: {error}"
