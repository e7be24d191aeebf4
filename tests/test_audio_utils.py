"""Tests for audio_utils: base64, G.711, formats, resampling and converters."""

from __future__ import annotations

import base64
import math
import warnings

import numpy as np
import pytest

import audio_utils as au
from audio_utils import (
    PCM24K,
    PCMA,
    PCMU,
    AudioFormat,
    InputAudioConverter,
    OutputAudioConverter,
    StreamResampler,
)

ALL_PCM16 = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))


def _audioop():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("audioop")


def sine(freq: float, rate: int, ms: float, amp: float = 0.5) -> bytes:
    """PCM16 sine wave."""
    n = int(rate * ms / 1000)
    t = np.arange(n) / rate
    return (amp * 32767 * np.sin(2 * math.pi * freq * t)).astype("<i2").tobytes()


def samples(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.int64)


def random_chunks(data: bytes, seed: int, max_size: int = 997) -> list[bytes]:
    """Split ``data`` into random-sized chunks, many of them odd-sized."""
    rng = np.random.default_rng(seed)
    chunks, i = [], 0
    while i < len(data):
        k = int(rng.integers(1, max_size))
        chunks.append(data[i : i + k])
        i += k
    assert any(len(c) % 2 for c in chunks)
    return chunks


# --------------------------------------------------------------------------- base64


def test_base64_round_trip() -> None:
    data = bytes(range(256)) * 3
    text = au.encode_base64_audio(data)
    assert isinstance(text, str)
    assert text == base64.b64encode(data).decode()
    assert au.decode_base64_audio(text) == data
    assert au.decode_base64_audio("") == b""


@pytest.mark.parametrize("bad", ["abc", "ab!d", "YWJj\nZA==", "YQ", "====", "YWJjZA==x", "é"])
def test_base64_rejects_invalid(bad: str) -> None:
    with pytest.raises(ValueError, match="base64"):
        au.decode_base64_audio(bad)


def test_base64_rejects_non_string() -> None:
    with pytest.raises(ValueError, match="base64"):
        au.decode_base64_audio(123)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- G.711


def test_ulaw_bit_exact_with_audioop() -> None:
    audioop = _audioop()
    assert au.ulaw_encode(ALL_PCM16) == audioop.lin2ulaw(ALL_PCM16, 2)
    assert au.ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_bit_exact_with_audioop() -> None:
    audioop = _audioop()
    assert au.alaw_encode(ALL_PCM16) == audioop.lin2alaw(ALL_PCM16, 2)
    assert au.alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize(
    ("encode", "decode"), [(au.ulaw_encode, au.ulaw_decode), (au.alaw_encode, au.alaw_decode)]
)
def test_g711_round_trip_error_bounds(encode, decode) -> None:
    x = samples(ALL_PCM16)
    encoded = encode(ALL_PCM16)
    assert len(encoded) == len(x)
    y = samples(decode(encoded))
    err = np.abs(y - x)
    # Logarithmic quantisation: relative error of a few percent for loud samples,
    # a small absolute error near zero.
    assert np.all(err <= np.maximum(0.07 * np.abs(x), 16) + 1)
    assert err.max() <= 1024


def test_g711_codes_are_stable_and_silence() -> None:
    # mu-law has two zero codes (0x7F, 0xFF); every other code is a fixed point.
    assert au.alaw_encode(au.alaw_decode(ALL_CODES)) == ALL_CODES
    reencoded = au.ulaw_encode(au.ulaw_decode(ALL_CODES))
    assert [c for c, r in zip(ALL_CODES, reencoded, strict=True) if c != r] == [0x7F]
    assert au.ulaw_encode(b"\x00\x00") == b"\xff"
    assert au.alaw_encode(b"\x00\x00") == b"\xd5"


def test_g711_odd_and_empty_input() -> None:
    assert au.ulaw_encode(b"") == b"" == au.ulaw_decode(b"")
    assert au.alaw_encode(b"\x00\x00\x01") == b"\xd5"


# --------------------------------------------------------------------------- AudioFormat


def test_audio_format_arithmetic() -> None:
    assert PCM24K.bytes_per_sample == 2
    assert PCMU.bytes_per_sample == PCMA.bytes_per_sample == 1
    assert PCM24K.bytes_per_ms == 48.0
    assert PCMU.bytes_per_ms == PCMA.bytes_per_ms == 8.0
    assert PCM24K.bytes_for_ms(100) == 4800
    assert PCMU.bytes_for_ms(100) == PCMA.bytes_for_ms(100) == 800
    assert PCM24K.duration_ms(4800) == pytest.approx(100.0)
    assert PCMU.duration_ms(800) == pytest.approx(100.0)
    assert PCM24K.duration_ms(4801) == pytest.approx(100.0)
    assert PCMA.duration_ms(4) == pytest.approx(0.5)
    # Floored to a whole sample.
    assert PCM24K.bytes_for_ms(0.03) == 0
    assert PCM24K.bytes_for_ms(0.05) == 2
    assert PCMU.bytes_for_ms(0.3) == 2
    assert PCM24K.bytes_for_ms(0.3) == 14
    assert PCM24K.bytes_for_ms(0) == 0
    assert PCM24K.bytes_for_ms(-5) == 0


def test_audio_format_from_session() -> None:
    assert AudioFormat.from_session({"type": "audio/pcm", "rate": 24000}) == PCM24K
    assert AudioFormat.from_session({"type": "audio/pcm"}) == PCM24K
    assert AudioFormat.from_session({"type": "audio/pcmu"}) == PCMU
    assert AudioFormat.from_session({"type": "audio/pcma"}) == PCMA
    assert PCMU.sample_rate == PCMA.sample_rate == 8000


@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "audio/wav"},
        {"type": "pcm16"},
        {},
        {"type": None},
        {"type": "audio/pcm", "rate": 16000},
        {"type": "audio/pcmu", "rate": 16000},
        "audio/pcm",
    ],
)
def test_audio_format_from_session_rejects_unknown(fmt) -> None:
    with pytest.raises(ValueError):
        AudioFormat.from_session(fmt)


def test_audio_format_codec_and_silence() -> None:
    pcm = sine(440, 8000, 20)
    assert PCMU.to_pcm16(PCMU.from_pcm16(pcm)) == au.ulaw_decode(au.ulaw_encode(pcm))
    assert PCMA.to_pcm16(PCMA.from_pcm16(pcm)) == au.alaw_decode(au.alaw_encode(pcm))
    assert PCM24K.to_pcm16(b"\x01\x02\x03") == b"\x01\x02"
    assert PCM24K.from_pcm16(pcm) == pcm
    assert PCM24K.silence(10) == bytes(480)
    assert PCMU.silence(10) == b"\xff" * 80
    assert PCMA.silence(10) == b"\xd5" * 80
    with pytest.raises(ValueError):
        AudioFormat("audio/flac", 8000)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- resampling


def test_resample_one_shot_lengths() -> None:
    pcm = sine(440, 24000, 100)
    assert au.resample(pcm, 24000, 24000) == pcm
    assert len(au.resample(pcm, 24000, 16000)) == 2 * 1600
    assert len(au.resample(pcm, 24000, 8000)) == 2 * 800
    assert len(au.resample(sine(440, 8000, 100), 8000, 16000)) == 2 * 1600
    n = 2400
    assert len(au.resample(pcm, 24000, 22050)) // 2 == round(n * 22050 / 24000)
    assert au.resample(b"", 24000, 16000) == b""


@pytest.mark.parametrize(("in_rate", "out_rate"), [(24000, 16000), (8000, 16000), (22050, 8000)])
def test_stream_resampler_matches_one_shot(in_rate: int, out_rate: int) -> None:
    pcm = sine(440, in_rate, 500)
    reference = samples(au.resample(pcm, in_rate, out_rate))

    rs = StreamResampler(in_rate, out_rate)
    out = b"".join(rs.process(c) for c in random_chunks(pcm, seed=in_rate + out_rate))
    out += rs.flush()
    assert len(out) % 2 == 0
    chunked = samples(out)

    assert abs(len(chunked) - len(reference)) <= 2
    n = min(len(chunked), len(reference))
    skip = out_rate * 5 // 1000  # ignore the first 5 ms
    diff = np.abs(chunked[skip:n] - reference[skip:n])
    assert diff.max() <= 16  # streaming == one-shot up to dither (~2 LSB seen)

    # No clicks at chunk boundaries.
    jump_chunked = np.abs(np.diff(chunked)).max()
    jump_reference = np.abs(np.diff(reference)).max()
    assert jump_chunked <= 1.2 * jump_reference


def test_stream_resampler_reusable_after_flush() -> None:
    pcm = sine(440, 24000, 100)
    rs = StreamResampler(24000, 16000)
    first = rs.process(pcm) + rs.flush()
    second = rs.process(pcm) + rs.flush()
    assert first == second
    assert len(first) == 2 * 1600


def test_stream_resampler_passthrough_carries_odd_byte() -> None:
    rs = StreamResampler(16000, 16000)
    assert rs.process(b"\x01\x02\x03") == b"\x01\x02"
    assert rs.process(b"\x04") == b"\x03\x04"
    assert rs.process(b"\x05") == b""
    assert rs.flush() == b""
    assert rs.process(b"\x06\x07") == b"\x06\x07"


def test_round_trip_24k_16k_24k_length() -> None:
    pcm = sine(440, 24000, 300)
    down = StreamResampler(24000, 16000)
    up = StreamResampler(16000, 24000)
    mid = b"".join(down.process(c) for c in random_chunks(pcm, seed=1)) + down.flush()
    back = b"".join(up.process(c) for c in random_chunks(mid, seed=2)) + up.flush()
    assert abs(len(mid) // 2 - 4800) <= 2
    assert abs(len(back) // 2 - 7200) <= 2
    assert len(au.resample(au.resample(pcm, 24000, 16000), 16000, 24000)) == len(pcm)


# --------------------------------------------------------------------------- converters


@pytest.mark.parametrize("fmt", [PCMU, PCMA])
def test_output_converter_24k_to_g711_exact_length(fmt: AudioFormat) -> None:
    pcm = sine(440, 24000, 1000)  # 24000 samples
    conv = OutputAudioConverter(fmt, 24000)
    out = b"".join(conv.convert(c) for c in random_chunks(pcm, seed=3)) + conv.flush()
    assert len(out) == 24000 // 3
    # Reusable for the next response.
    again = conv.convert(pcm[:4800]) + conv.flush()
    assert len(again) == 800
    level = au.pcm16_rms_dbfs(fmt.to_pcm16(out[200:-200]))
    assert level == pytest.approx(au.pcm16_rms_dbfs(pcm), abs=0.5)


def test_output_converter_pcm_and_other_rates() -> None:
    pcm = sine(440, 24000, 200)
    same = OutputAudioConverter(PCM24K, 24000)
    assert same.convert(pcm) + same.flush() == pcm
    tts = sine(440, 22050, 200)  # 4410 samples
    conv = OutputAudioConverter(PCM24K, 22050)
    out = b"".join(conv.convert(c) for c in random_chunks(tts, seed=4)) + conv.flush()
    assert abs(len(out) // 2 - 4800) <= 2


@pytest.mark.parametrize("fmt", [PCM24K, PCMU, PCMA])
def test_input_converter_produces_16k(fmt: AudioFormat) -> None:
    ms = 500
    client = fmt.from_pcm16(sine(440, fmt.sample_rate, ms))
    conv = InputAudioConverter(fmt)
    out = b"".join(conv.convert(c) for c in random_chunks(client, seed=5)) + conv.flush()
    assert len(out) % 2 == 0
    assert abs(len(out) // 2 - 16 * ms) <= 2
    # The tone survives the conversion at about the same level.
    assert au.pcm16_rms_dbfs(out) == pytest.approx(-9.0, abs=1.0)


def test_input_converter_custom_target_rate() -> None:
    conv = InputAudioConverter(PCM24K, target_rate=24000)
    assert (
        conv.convert(b"\x01\x02\x03") + conv.convert(b"\x04") + conv.flush() == b"\x01\x02\x03\x04"
    )
    conv8 = InputAudioConverter(PCMU, target_rate=8000)
    assert conv8.convert(b"\xff" * 80) + conv8.flush() == bytes(160)


# --------------------------------------------------------------------------- levels


def test_pcm16_rms_dbfs() -> None:
    assert au.pcm16_rms_dbfs(b"") == -120.0
    assert au.pcm16_rms_dbfs(bytes(1000)) == -120.0
    square = np.tile(np.array([32767, -32768], dtype="<i2"), 500).tobytes()
    assert au.pcm16_rms_dbfs(square) == pytest.approx(0.0, abs=0.01)
    full_sine = sine(1000, 48000, 100, amp=1.0)
    assert au.pcm16_rms_dbfs(full_sine) == pytest.approx(-3.01, abs=0.05)
    assert au.pcm16_rms_dbfs(sine(1000, 48000, 100, amp=0.1)) == pytest.approx(-23.01, abs=0.05)
