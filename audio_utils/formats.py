"""The three Realtime audio formats and their byte/time arithmetic (:class:`AudioFormat`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from audio_utils.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

AudioFormatKind = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]

_NATIVE_RATES: dict[str, int] = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """One of the Realtime API audio formats.

    Attributes:
        kind: The format's MIME-like type: ``"audio/pcm"`` (PCM16),
            ``"audio/pcmu"`` (G.711 mu-law) or ``"audio/pcma"`` (G.711 A-law).
        sample_rate: Sample rate in Hz (24000 for pcm, 8000 for G.711).
    """

    kind: AudioFormatKind
    sample_rate: int

    def __post_init__(self) -> None:
        """Validate the format.

        Raises:
            ValueError: If ``kind`` is unknown or ``sample_rate`` is not positive.
        """
        if self.kind not in _NATIVE_RATES:
            raise ValueError(f"Unsupported audio format type: {self.kind!r}")
        if not isinstance(self.sample_rate, int) or self.sample_rate <= 0:
            raise ValueError(f"Invalid sample rate: {self.sample_rate!r}")

    @classmethod
    def from_session(cls, fmt: Mapping[str, Any]) -> AudioFormat:
        """Build a format from an OpenAI session audio format object.

        Args:
            fmt: E.g. ``{"type": "audio/pcm", "rate": 24000}``,
                ``{"type": "audio/pcmu"}`` or ``{"type": "audio/pcma"}``. A
                missing ``rate`` means the format's native rate.

        Returns:
            The matching :class:`AudioFormat`.

        Raises:
            ValueError: If ``fmt`` is not a mapping, its ``type`` is unknown, or
                its ``rate`` is not the one the Realtime API allows for that type
                (24000 for ``audio/pcm``, 8000 for G.711).
        """
        kind = fmt.get("type") if isinstance(fmt, Mapping) else None
        if kind not in _NATIVE_RATES:
            allowed = ", ".join(repr(k) for k in _NATIVE_RATES)
            raise ValueError(f"Unsupported audio format {fmt!r}; type must be one of {allowed}")
        native = _NATIVE_RATES[kind]
        rate = fmt.get("rate", native)
        if rate is None:
            rate = native
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate != native:
            raise ValueError(f"Unsupported rate {rate!r} for {kind!r}; only {native} is supported")
        return cls(kind, native)

    @property
    def bytes_per_sample(self) -> int:
        """Bytes per sample: 2 for PCM16, 1 for G.711."""
        return 2 if self.kind == "audio/pcm" else 1

    @property
    def bytes_per_ms(self) -> float:
        """Bytes per millisecond of audio (48.0 for pcm 24 kHz, 8.0 for G.711)."""
        return self.sample_rate * self.bytes_per_sample / 1000.0

    def duration_ms(self, num_bytes: int) -> float:
        """Duration of ``num_bytes`` of audio in this format.

        Args:
            num_bytes: Byte count (a partial trailing sample is ignored).

        Returns:
            Duration in milliseconds.
        """
        samples = num_bytes // self.bytes_per_sample
        return samples * 1000.0 / self.sample_rate

    def bytes_for_ms(self, ms: float) -> int:
        """Number of bytes holding ``ms`` milliseconds, floored to a whole sample.

        Args:
            ms: Duration in milliseconds (negative values count as 0).

        Returns:
            Byte count, always a multiple of :attr:`bytes_per_sample`.
        """
        if ms <= 0:
            return 0
        # The epsilon absorbs float noise such as 0.1 * 3 = 0.30000000000000004.
        samples = math.floor(ms * self.sample_rate / 1000.0 + 1e-9)
        return samples * self.bytes_per_sample

    def to_pcm16(self, data: bytes) -> bytes:
        """Decode bytes in this format to PCM16 at :attr:`sample_rate`.

        Args:
            data: Audio in this format. For ``audio/pcm`` an odd trailing byte is
                dropped (use :class:`InputAudioConverter` for streaming input).

        Returns:
            PCM16 bytes.
        """
        if self.kind == "audio/pcmu":
            return ulaw_decode(data)
        if self.kind == "audio/pcma":
            return alaw_decode(data)
        return bytes(data[: len(data) - (len(data) % 2)])

    def from_pcm16(self, pcm16: bytes) -> bytes:
        """Encode PCM16 at :attr:`sample_rate` into this format.

        Args:
            pcm16: PCM16 bytes (an odd trailing byte is dropped).

        Returns:
            Bytes in this format.
        """
        if self.kind == "audio/pcmu":
            return ulaw_encode(pcm16)
        if self.kind == "audio/pcma":
            return alaw_encode(pcm16)
        return bytes(pcm16[: len(pcm16) - (len(pcm16) % 2)])

    def silence(self, ms: float) -> bytes:
        """Digital silence of the given duration in this format.

        Args:
            ms: Duration in milliseconds (floored to a whole sample).

        Returns:
            Encoded silence (zeros for PCM16, 0xFF for mu-law, 0xD5 for A-law).
        """
        samples = self.bytes_for_ms(ms) // self.bytes_per_sample
        return self.from_pcm16(bytes(2 * samples))


PCM24K = AudioFormat("audio/pcm", 24000)
PCMU = AudioFormat("audio/pcmu", 8000)
PCMA = AudioFormat("audio/pcma", 8000)
