"""The Realtime API's ``audio/pcm`` format and WAV files in it, for both clients.

Both clients send user audio from WAV files in 100 ms chunks and save replies as WAV files; this
module is the one place that knows the format (24 kHz, mono, signed 16-bit little-endian) and how
to read and write it. It needs only the standard library.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Final

SAMPLE_RATE: Final = 24_000
"""The Realtime API's ``audio/pcm`` format: 24 kHz, mono, signed 16-bit little-endian."""
SAMPLE_WIDTH = 2
BYTES_PER_MS = SAMPLE_RATE * SAMPLE_WIDTH // 1000
CHUNK_MS = 100
"""How much audio one ``input_audio_buffer.append`` carries."""
CHUNK_BYTES = CHUNK_MS * BYTES_PER_MS
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "docs" / "samples"
"""Sample recordings that ship with the repository."""


def duration_ms(nbytes: int) -> int:
    """The length of ``nbytes`` of ``audio/pcm`` audio in whole milliseconds."""
    return nbytes // BYTES_PER_MS


def read_pcm16_wav(path: str | Path) -> bytes:
    """The frames of a 24 kHz mono PCM16 WAV file (the ``audio/pcm`` format).

    Raises:
        ValueError: if the file cannot be read or has another format (the message says how to
            convert it).
    """
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
            frames = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as error:
        raise ValueError(f"cannot read {path}: {error}") from error
    if shape != (SAMPLE_RATE, 1, SAMPLE_WIDTH):
        rate, channels, width = shape
        raise ValueError(
            f"{path} is {rate} Hz, {channels} channel(s), {8 * width}-bit; the Realtime API needs "
            f"24 kHz mono 16-bit PCM (convert: sox {path} -r 24000 -c 1 -b 16 out.wav)"
        )
    return frames


def open_wav_writer(path: str | Path) -> wave.Wave_write:
    """A WAV writer for 24 kHz mono PCM16; the caller closes it."""
    writer = wave.open(str(path), "wb")  # noqa: SIM115 - returned open, the caller closes it
    writer.setnchannels(1)
    writer.setsampwidth(SAMPLE_WIDTH)
    writer.setframerate(SAMPLE_RATE)
    return writer


def write_wav(path: str | Path, pcm: bytes) -> None:
    """Save 24 kHz mono PCM16 audio as a WAV file."""
    writer = open_wav_writer(path)
    try:
        writer.writeframes(pcm)
    finally:
        writer.close()
