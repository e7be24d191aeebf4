"""Vectorised, bit-exact ITU-T G.711 mu-law and A-law codecs (PCM16 in and out).

Identical to the old ``audioop`` module with ``width=2``, which Python 3.13 removed.
"""

from __future__ import annotations

import numpy as np

PCM16 = np.dtype("<i2")


def pcm16_array(pcm16: bytes) -> np.ndarray:
    """View PCM16 bytes as an int16 array, dropping an odd trailing byte."""
    usable = len(pcm16) - (len(pcm16) % 2)
    return np.frombuffer(pcm16, dtype=PCM16, count=usable // 2)


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
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(PCM16)


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
    return np.where(a & 0x80, t, -t).astype(PCM16)


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
    samples = pcm16_array(pcm16).view(np.uint16)
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
    samples = pcm16_array(pcm16).view(np.uint16)
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
