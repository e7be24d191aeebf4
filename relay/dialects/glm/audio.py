"""Audio between a GA client's formats and GLM-Realtime's (docs/glm.md, "Audio").

GLM takes input audio as base64 WAV files (``input_audio_format: "wav"``, PCM16 mono at 16 kHz,
one complete RIFF file per ``input_audio_buffer.append``) or as raw PCM16 whose rate is in the name
(``pcm16`` = 16 kHz, ``pcm24`` = 24 kHz); it sends output audio as raw PCM16 mono at 24 kHz
(``output_audio_format: "pcm"``). A GA client sends and expects ``audio/pcm`` (PCM16 at 24 kHz),
``audio/pcmu`` or ``audio/pcma`` (G.711 at 8 kHz).

- :class:`InputAudioTranslator` turns the GA appends of one session into GLM appends: G.711
  decoded, resampled with soxr (streaming, so the filter state spans appends), cut into packets of
  ``packet_ms`` (the official SDK sends 100 ms packets) and framed as GLM's input format says.
- :class:`OutputAudioTranslator` turns GLM's 24 kHz PCM16 into the client's output format.
- :func:`wav_file` / :func:`parse_wav` build and read the WAV files of the ``wav`` format.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from audio_utils import AudioFormat, OutputAudioConverter, StreamResampler

GLMInputFormat = Literal["wav", "pcm16", "pcm24"]

GLM_INPUT_RATES: dict[str, int] = {"wav": 16000, "pcm16": 16000, "pcm24": 24000}
"""Sample rate of each GLM input format we send (``wav`` without a suffix means 16 kHz)."""

GLM_OUTPUT_RATE = 24000
"""GLM's ``output_audio_format: "pcm"``: PCM16 mono at 24 kHz."""

DEFAULT_PACKET_MS = 100

_WAV_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


def wav_file(pcm16: bytes, rate: int) -> bytes:
    """A complete mono PCM16 WAV file (44-byte header) holding ``pcm16`` at ``rate`` Hz."""
    return (
        _WAV_HEADER.pack(
            b"RIFF",
            36 + len(pcm16),
            b"WAVE",
            b"fmt ",
            16,  # fmt chunk size
            1,  # PCM
            1,  # mono
            rate,
            rate * 2,  # byte rate
            2,  # block align
            16,  # bits per sample
            b"data",
            len(pcm16),
        )
        + pcm16
    )


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What a WAV file holds: its format and its sample bytes."""

    rate: int
    channels: int
    bits: int
    pcm: bytes


def parse_wav(data: bytes) -> WavInfo:
    """Read a PCM WAV file (any chunk order; the ``data`` chunk may be the last one).

    Raises:
        ValueError: if ``data`` is not a RIFF/WAVE file with a PCM ``fmt `` and a ``data`` chunk.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt " and len(body) >= 16:
            code, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            fmt = (code, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("WAV data chunk before its fmt chunk")
            code, channels, rate, bits = fmt
            if code != 1:
                raise ValueError(f"WAV encoding {code} is not PCM")
            return WavInfo(rate=rate, channels=channels, bits=bits, pcm=bytes(body))
        pos += 8 + size + (size % 2)
    raise ValueError("WAV file without a data chunk")


class InputAudioTranslator:
    """GA input audio (the session's current format) -> GLM input packets, streaming."""

    def __init__(
        self,
        client_format: AudioFormat,
        glm_format: GLMInputFormat = "wav",
        packet_ms: int = DEFAULT_PACKET_MS,
    ) -> None:
        """Create a translator.

        Args:
            client_format: The GA client's input format (``audio.input.format``).
            glm_format: The format GLM is told to expect (``input_audio_format``).
            packet_ms: Audio is sent to GLM in packets of this many milliseconds (the rest waits
                for more audio or a commit); 0 sends whatever each append yields.
        """
        self.client_format = client_format
        self.glm_format: GLMInputFormat = glm_format
        self.rate = GLM_INPUT_RATES[glm_format]
        self._packet_bytes = self.rate * 2 * packet_ms // 1000
        self._resampler = StreamResampler(client_format.sample_rate, self.rate)
        self._pending = bytearray()

    def append(self, audio: bytes) -> list[bytes]:
        """The GLM packets (framed, not base64) that are ready after one GA append."""
        pcm = (
            audio if self.client_format.kind == "audio/pcm" else self.client_format.to_pcm16(audio)
        )
        self._pending += self._resampler.process(pcm)
        packets: list[bytes] = []
        size = self._packet_bytes
        if size <= 0:
            if self._pending:
                packets.append(bytes(self._pending))
                self._pending.clear()
        else:
            while len(self._pending) >= size:
                packets.append(bytes(self._pending[:size]))
                del self._pending[:size]
        return [self._frame(p) for p in packets]

    def flush(self) -> list[bytes]:
        """Everything still held (the resampler's tail, a short last packet), at a commit."""
        self._pending += self._resampler.flush()
        if not self._pending:
            return []
        packet = bytes(self._pending)
        self._pending.clear()
        return [self._frame(packet)]

    def reset(self) -> None:
        """Drop what is held (``input_audio_buffer.clear``)."""
        self._resampler.reset()
        self._pending.clear()

    def convert_whole(self, audio: bytes) -> bytes:
        """One complete GA clip (an ``input_audio`` content part) as one GLM packet."""
        pcm = (
            audio if self.client_format.kind == "audio/pcm" else self.client_format.to_pcm16(audio)
        )
        resampler = StreamResampler(self.client_format.sample_rate, self.rate)
        return self._frame(resampler.process(pcm) + resampler.flush())

    def _frame(self, pcm16: bytes) -> bytes:
        return wav_file(pcm16, self.rate) if self.glm_format == "wav" else pcm16


class OutputAudioTranslator:
    """GLM output audio (PCM16 mono 24 kHz) -> the GA client's output format, streaming."""

    def __init__(self, client_format: AudioFormat) -> None:
        self.client_format = client_format
        self._converter = OutputAudioConverter(client_format, GLM_OUTPUT_RATE)

    def convert(self, pcm16: bytes) -> bytes:
        """The client-format bytes available after one GLM audio delta."""
        return self._converter.convert(pcm16)

    def flush(self) -> bytes:
        """The tail held by the resampler, at the end of the response's audio."""
        return self._converter.flush()
