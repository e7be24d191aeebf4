"""The test speech clips (tests/fixtures/audio) and helpers to stream them to a session."""

from __future__ import annotations

import asyncio
import base64
import json
import wave
from functools import cache
from pathlib import Path
from typing import Any

AUDIO_DIR = Path(__file__).resolve().parent / "fixtures" / "audio"
CHUNK_MS = 100
BYTES_PER_MS = 48  # 24 kHz PCM16 mono


@cache
def manifest() -> dict[str, Any]:
    """The clips' manifest: text and speech segments (seconds) per file."""
    return json.loads((AUDIO_DIR / "manifest.json").read_text())


@cache
def clip(name: str) -> bytes:
    """A clip's PCM16 24 kHz mono samples."""
    with wave.open(str(AUDIO_DIR / name)) as wav:
        assert wav.getframerate() == 24000 and wav.getnchannels() == 1
        return wav.readframes(wav.getnframes())


def segments_ms(name: str) -> list[tuple[float, float]]:
    """The manifest's speech segments of a clip, in milliseconds."""
    return [(start * 1000, end * 1000) for start, end in manifest()[name]["speech_segments_s"]]


async def stream(client: Any, pcm: bytes, speed: float = 4.0) -> None:
    """Append ``pcm`` in 100 ms chunks at ``speed`` times real time (``0``: as fast as possible).

    Pacing only matters for tests whose behaviour depends on wall-clock overlap (barge-in); the
    VAD's timestamps are on the audio clock and do not depend on it.
    """
    chunk = CHUNK_MS * BYTES_PER_MS
    for start in range(0, len(pcm), chunk):
        data = base64.b64encode(pcm[start : start + chunk]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": data})
        if speed:
            await asyncio.sleep(CHUNK_MS / 1000 / speed)
