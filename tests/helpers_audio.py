"""Audio fixtures for the tests: tones in the three Realtime wire formats, and their arithmetic.

Independent of the server's own ``audio_utils`` except for the G.711 encoders (bit-exact ITU-T
codecs, tested on their own in ``test_audio_utils.py``).
"""

from __future__ import annotations

import base64

import numpy as np

from audio_utils import alaw_encode, ulaw_encode

PCM_RATE = 24000
G711_RATE = 8000

# Bytes per millisecond of each format (docs/protocol.md §3: 4800 / 800 / 800 bytes per 100 ms).
BYTES_PER_MS = {"audio/pcm": 48, "audio/pcmu": 8, "audio/pcma": 8}

# The mock TTS speaks 20 ms of tone per character of text.
MOCK_MS_PER_CHARACTER = 20


def session_format(kind: str) -> dict[str, object]:
    """The GA session format object for ``kind``."""
    return {"type": "audio/pcm", "rate": PCM_RATE} if kind == "audio/pcm" else {"type": kind}


def tone_pcm16(ms: int, rate: int = PCM_RATE, hz: float = 300.0, level: float = 0.3) -> bytes:
    """``ms`` milliseconds of a sine tone as PCM16 little-endian mono at ``rate``."""
    samples = ms * rate // 1000
    t = np.arange(samples) / rate
    return (level * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def tone(ms: int, kind: str = "audio/pcm") -> bytes:
    """``ms`` milliseconds of tone encoded in the wire format ``kind``."""
    if kind == "audio/pcm":
        return tone_pcm16(ms)
    pcm8k = tone_pcm16(ms, rate=G711_RATE)
    return ulaw_encode(pcm8k) if kind == "audio/pcmu" else alaw_encode(pcm8k)


def duration_ms(audio: bytes, kind: str = "audio/pcm") -> float:
    """Duration of ``audio`` bytes in format ``kind``."""
    return len(audio) / BYTES_PER_MS[kind]


def mock_reply_bytes(text: str, kind: str = "audio/pcm") -> int:
    """How many bytes of audio the mock TTS makes for ``text`` in format ``kind``."""
    return len(text) * MOCK_MS_PER_CHARACTER * BYTES_PER_MS[kind]


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")
