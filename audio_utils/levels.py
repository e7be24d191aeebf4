"""A small level meter: the RMS of PCM16 audio in dBFS."""

from __future__ import annotations

import math

import numpy as np

from audio_utils.g711 import pcm16_array

SILENCE_DBFS = -120.0


def pcm16_rms_dbfs(pcm16: bytes) -> float:
    """RMS level of PCM16 audio in dBFS (full scale = 32768).

    Args:
        pcm16: PCM16 bytes (an odd trailing byte is ignored).

    Returns:
        The level in dBFS, floored at -120.0 (also returned for empty or
        all-zero input). A full-scale square wave is about 0 dBFS, a full-scale
        sine about -3 dBFS.
    """
    samples = pcm16_array(pcm16)
    if samples.size == 0:
        return SILENCE_DBFS
    x = samples.astype(np.float64)
    rms = math.sqrt(float(np.mean(x * x)))
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms / 32768.0))
