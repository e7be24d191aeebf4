"""Audio helpers for the Realtime server.

This module contains everything the server needs to move audio between the
OpenAI Realtime wire formats and the PCM16 the Pipecat pipeline works with:

* Base64 helpers for the ``audio`` / ``delta`` fields of Realtime events.
* Vectorised, bit-exact ITU-T G.711 mu-law and A-law codecs (identical to the
  output of the old ``audioop`` module with ``width=2``, which was removed in
  Python 3.13).
* :class:`AudioFormat`, describing one of the three Realtime audio formats
  (``audio/pcm`` at 24 kHz, ``audio/pcmu`` and ``audio/pcma`` at 8 kHz).
* :class:`StreamResampler` and :func:`resample`, built on ``soxr``.
* :class:`InputAudioConverter` (client format -> PCM16 for the STT/VAD) and
  :class:`OutputAudioConverter` (TTS PCM16 -> client format), both streaming.
* :func:`pcm16_rms_dbfs`, a small level meter.

Unless stated otherwise, "PCM16" means signed 16-bit little-endian mono samples.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import soxr

__all__ = [
    "PCM24K",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "AudioFormatKind",
    "InputAudioConverter",
    "OutputAudioConverter",
    "StreamResampler",
    "alaw_decode",
    "alaw_encode",
    "decode_base64_audio",
    "encode_base64_audio",
    "pcm16_rms_dbfs",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
]

AudioFormatKind = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]

_PCM16 = np.dtype("<i2")
_SOXR_QUALITY = "HQ"
_SILENCE_DBFS = -120.0


# --------------------------------------------------------------------------- #
# Base64
# --------------------------------------------------------------------------- #


def decode_base64_audio(data: str) -> bytes:
    """Strictly decode a base64 audio payload.

    Args:
        data: Base64 text (standard alphabet, with padding) as sent in
            ``input_audio_buffer.append`` and similar events.

    Returns:
        The decoded bytes.

    Raises:
        ValueError: If ``data`` is not valid base64 text (characters outside
            the alphabet, bad padding, non-ASCII text, wrong type, ...).
    """
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"Invalid base64 audio: {exc}") from exc


def encode_base64_audio(data: bytes | bytearray) -> str:
    """Encode audio bytes as standard base64 text.

    Args:
        data: Raw audio bytes.

    Returns:
        The base64 encoding as an ASCII ``str``.
    """
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------- #
# G.711 (bit-exact with the ITU-T reference / audioop, width 2)
# --------------------------------------------------------------------------- #


def _pcm16_array(pcm16: bytes) -> np.ndarray:
    """View PCM16 bytes as an int16 array, dropping an odd trailing byte."""
    usable = len(pcm16) - (len(pcm16) % 2)
    return np.frombuffer(pcm16, dtype=_PCM16, count=usable // 2)


def _segment(values: np.ndarray, seg_ends: np.ndarray) -> np.ndarray:
    """Index of the first segment end >= value (8 if beyond the last)."""
    return np.searchsorted(seg_ends, values, side="left")


def _build_ulaw_encode_table() -> np.ndarray:
    # Reference: Sun/CCITT g711.c ``linear2ulaw`` on the 14-bit value (x >> 2),
    # exactly as CPython's audioop ``st_14linear2ulaw``.
    lin = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(lin < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(lin), 8159) + (0x84 >> 2)
    seg_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    seg = _segment(mag, seg_ends)
    uval = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> (seg + 1)) & 0xF))
    codes = (uval ^ mask).astype(np.uint8)
    # Reorder so that the table is indexed by the uint16 bit pattern of the sample.
    return np.roll(codes, -32768)


def _build_ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(_PCM16)


def _build_alaw_encode_table() -> np.ndarray:
    # Reference: Sun/CCITT g711.c ``linear2alaw`` on the 13-bit value (x >> 3),
    # exactly as CPython's audioop ``st_linear2alaw``.
    lin = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(lin >= 0, 0xD5, 0x55)
    mag = np.where(lin >= 0, lin, -lin - 1)
    seg_ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    seg = _segment(mag, seg_ends)
    shift = np.where(seg < 2, 1, seg)
    aval = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> np.minimum(shift, 8)) & 0xF))
    codes = (aval ^ mask).astype(np.uint8)
    return np.roll(codes, -32768)


def _build_alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(_PCM16)


_ULAW_ENCODE = _build_ulaw_encode_table()
_ULAW_DECODE = _build_ulaw_decode_table()
_ALAW_ENCODE = _build_alaw_encode_table()
_ALAW_DECODE = _build_alaw_decode_table()


def ulaw_encode(pcm16: bytes) -> bytes:
    """Encode PCM16 to G.711 mu-law.

    Bit-exact with ``audioop.lin2ulaw(pcm16, 2)``.

    Args:
        pcm16: Signed 16-bit little-endian mono samples. An odd trailing byte
            is ignored.

    Returns:
        One mu-law byte per input sample.
    """
    samples = _pcm16_array(pcm16).view(np.uint16)
    return _ULAW_ENCODE[samples].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """Decode G.711 mu-law to PCM16.

    Bit-exact with ``audioop.ulaw2lin(data, 2)``.

    Args:
        data: Mu-law bytes, one per sample.

    Returns:
        Signed 16-bit little-endian mono samples (twice the input length).
    """
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].tobytes()


def alaw_encode(pcm16: bytes) -> bytes:
    """Encode PCM16 to G.711 A-law.

    Bit-exact with ``audioop.lin2alaw(pcm16, 2)``.

    Args:
        pcm16: Signed 16-bit little-endian mono samples. An odd trailing byte
            is ignored.

    Returns:
        One A-law byte per input sample.
    """
    samples = _pcm16_array(pcm16).view(np.uint16)
    return _ALAW_ENCODE[samples].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """Decode G.711 A-law to PCM16.

    Bit-exact with ``audioop.alaw2lin(data, 2)``.

    Args:
        data: A-law bytes, one per sample.

    Returns:
        Signed 16-bit little-endian mono samples (twice the input length).
    """
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].tobytes()


# --------------------------------------------------------------------------- #
# Audio formats
# --------------------------------------------------------------------------- #

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


# --------------------------------------------------------------------------- #
# Resampling
# --------------------------------------------------------------------------- #


def _check_rate(name: str, rate: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer, got {rate!r}")


def resample(pcm16: bytes, in_rate: int, out_rate: int) -> bytes:
    """Resample a whole PCM16 buffer in one shot.

    Args:
        pcm16: PCM16 bytes (an odd trailing byte is dropped).
        in_rate: Input sample rate in Hz.
        out_rate: Output sample rate in Hz.

    Returns:
        PCM16 bytes at ``out_rate``; ``n * out_rate / in_rate`` samples rounded
        to the nearest integer. Pass-through when the rates are equal.

    Raises:
        ValueError: If a rate is not a positive integer.
    """
    _check_rate("in_rate", in_rate)
    _check_rate("out_rate", out_rate)
    samples = _pcm16_array(pcm16)
    if in_rate == out_rate or samples.size == 0:
        return samples.tobytes()
    out = soxr.resample(samples, in_rate, out_rate, quality=_SOXR_QUALITY)
    return np.asarray(out, dtype=_PCM16).tobytes()


class StreamResampler:
    """Streaming PCM16 resampler that keeps filter state across chunks.

    Wraps ``soxr.ResampleStream`` (HQ quality, int16). Chunks of any byte length
    may be fed, including odd lengths: a dangling byte is carried into the next
    call. Concatenating every :meth:`process` output and the :meth:`flush` tail
    gives (to within a sample or two, and closely in value) the same result as
    :func:`resample` on the whole signal.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        """Create a resampler.

        Args:
            in_rate: Input sample rate in Hz.
            out_rate: Output sample rate in Hz. Equal rates give a pass-through.

        Raises:
            ValueError: If a rate is not a positive integer.
        """
        _check_rate("in_rate", in_rate)
        _check_rate("out_rate", out_rate)
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._carry = b""
        self._stream = self._new_stream()

    def _new_stream(self) -> soxr.ResampleStream | None:
        # A fresh stream (about 50 us to build) rather than ``clear()``: soxr keeps
        # some rounding state across ``clear()``, so re-creating it makes a reused
        # resampler bit-identical to a new one.
        if self.in_rate == self.out_rate:
            return None
        return soxr.ResampleStream(
            self.in_rate, self.out_rate, 1, dtype="int16", quality=_SOXR_QUALITY
        )

    @property
    def passthrough(self) -> bool:
        """True when input and output rates are equal (no resampling)."""
        return self._stream is None

    def process(self, pcm16: bytes) -> bytes:
        """Resample one chunk.

        Args:
            pcm16: The next PCM16 bytes of the stream (any length).

        Returns:
            Resampled PCM16 bytes available so far (possibly empty; the filter
            holds back a short delay that is released by later input or
            :meth:`flush`).
        """
        if self._carry:
            pcm16 = self._carry + pcm16
        if len(pcm16) % 2:
            self._carry = bytes(pcm16[-1:])
            pcm16 = pcm16[:-1]
        else:
            self._carry = b""
        if self._stream is None:
            return bytes(pcm16)
        if not pcm16:
            return b""
        samples = np.frombuffer(pcm16, dtype=_PCM16)
        out = self._stream.resample_chunk(samples)
        return np.asarray(out, dtype=_PCM16).tobytes()

    def flush(self) -> bytes:
        """End the stream and return the remaining tail.

        A dangling odd byte (half a sample) is discarded. Afterwards the
        resampler is reset and can be reused for a new stream.

        Returns:
            The final PCM16 bytes.
        """
        self._carry = b""
        if self._stream is None:
            return b""
        out = self._stream.resample_chunk(np.zeros(0, dtype=_PCM16), last=True)
        self._stream = self._new_stream()
        return np.asarray(out, dtype=_PCM16).tobytes()

    def reset(self) -> None:
        """Drop all buffered state without producing output."""
        self._carry = b""
        self._stream = self._new_stream()


# --------------------------------------------------------------------------- #
# Converters
# --------------------------------------------------------------------------- #


class InputAudioConverter:
    """Streaming converter from a client audio format to PCM16 at a target rate.

    G.711 input is decoded then resampled (8 kHz -> ``target_rate``); PCM16
    input (24 kHz) is resampled directly. Chunks of any size are accepted,
    including odd byte counts for PCM16.
    """

    def __init__(self, fmt: AudioFormat, target_rate: int = 16000) -> None:
        """Create a converter.

        Args:
            fmt: The client's input audio format.
            target_rate: Sample rate in Hz the pipeline expects.
        """
        self.format = fmt
        self.target_rate = target_rate
        self._resampler = StreamResampler(fmt.sample_rate, target_rate)

    def convert(self, data: bytes) -> bytes:
        """Convert the next chunk of client audio.

        Args:
            data: Raw (already base64-decoded) bytes in the client format.

        Returns:
            PCM16 at :attr:`target_rate` available so far.
        """
        if self.format.kind == "audio/pcm":
            # Raw bytes go straight to the resampler so odd lengths are carried.
            return self._resampler.process(data)
        return self._resampler.process(self.format.to_pcm16(data))

    def flush(self) -> bytes:
        """Emit the remaining tail and reset the converter.

        Returns:
            The final PCM16 bytes at :attr:`target_rate`.
        """
        return self._resampler.flush()

    def reset(self) -> None:
        """Drop buffered state without producing output (e.g. on buffer clear)."""
        self._resampler.reset()


class OutputAudioConverter:
    """Streaming converter from PCM16 at a source rate to a client audio format.

    Typically fed the TTS output (e.g. 22050 or 24000 Hz). For exact integer
    ratios the total output after :meth:`flush` is exact, e.g. N samples at
    24000 Hz give N / 3 bytes of ``audio/pcmu``.
    """

    def __init__(self, fmt: AudioFormat, source_rate: int) -> None:
        """Create a converter.

        Args:
            fmt: The client's output audio format.
            source_rate: Sample rate in Hz of the PCM16 fed to :meth:`convert`.
        """
        self.format = fmt
        self.source_rate = source_rate
        self._resampler = StreamResampler(source_rate, fmt.sample_rate)

    def convert(self, pcm16: bytes) -> bytes:
        """Convert the next chunk of PCM16.

        Args:
            pcm16: PCM16 bytes at :attr:`source_rate` (any length).

        Returns:
            Bytes in the client format available so far.
        """
        return self.format.from_pcm16(self._resampler.process(pcm16))

    def flush(self) -> bytes:
        """Emit the remaining tail (call at the end of a response) and reset.

        Returns:
            The final bytes in the client format.
        """
        return self.format.from_pcm16(self._resampler.flush())

    def reset(self) -> None:
        """Drop buffered state without producing output (e.g. on interruption)."""
        self._resampler.reset()


# --------------------------------------------------------------------------- #
# Levels
# --------------------------------------------------------------------------- #


def pcm16_rms_dbfs(pcm16: bytes) -> float:
    """RMS level of PCM16 audio in dBFS (full scale = 32768).

    Args:
        pcm16: PCM16 bytes (an odd trailing byte is ignored).

    Returns:
        The level in dBFS, floored at -120.0 (also returned for empty or
        all-zero input). A full-scale square wave is about 0 dBFS, a full-scale
        sine about -3 dBFS.
    """
    samples = _pcm16_array(pcm16)
    if samples.size == 0:
        return _SILENCE_DBFS
    x = samples.astype(np.float64)
    rms = math.sqrt(float(np.mean(x * x)))
    if rms <= 0.0:
        return _SILENCE_DBFS
    return max(_SILENCE_DBFS, 20.0 * math.log10(rms / 32768.0))
