"""The call's audio tracks on their own: what the outbound track plays and reports back to the
core, and how inbound packets reach the decoder.

No network: frames are pulled from ``recv()`` the way aiortc's sender pulls them, and the
reports the track would send through the driver are collected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from aiortc.rtp import RtpPacket
from av import CodecContext, Packet

from audio_utils import PCM24K, PCMU, ulaw_encode
from realtime_session import ClearAudio, EndAudio, PlayAudio
from realtime_session.signals import PlaybackCleared, PlaybackStopped
from tests.helpers_audio import tone_pcm16
from transport.webrtc.audio_in import PacketPerFrameBuffer
from transport.webrtc.audio_out import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    TIME_BASE,
    OutputAudioTrack,
    sends_opus,
)


def track() -> tuple[OutputAudioTrack, list[Any]]:
    reports: list[Any] = []
    return OutputAudioTrack(reports.append), reports


async def pull(out: OutputAudioTrack, frames: int) -> list[np.ndarray]:
    pulled = []
    for _ in range(frames):
        frame = await out.recv()
        assert frame.sample_rate == SAMPLE_RATE
        assert frame.samples == FRAME_SAMPLES
        pulled.append(frame.to_ndarray().reshape(-1))
    return pulled


async def test_plays_queued_audio_then_silence_and_reports_the_end() -> None:
    out, reports = track()
    audio = tone_pcm16(50)
    out.execute(PlayAudio("resp_1", "item_1", audio, PCM24K))
    out.execute(EndAudio("resp_1"))
    frames = await pull(out, 4)
    played = np.concatenate(frames[:3]).astype(np.int16).tobytes()
    assert played[: len(audio)] == audio  # 50 ms: two full frames and half of a third
    assert not frames[3].any()  # then silence
    assert reports == [PlaybackStopped("resp_1")]
    assert out.sent_ms == 50


async def test_clear_reports_what_was_sent_of_each_response() -> None:
    out, reports = track()
    out.execute(PlayAudio("resp_1", "item_1", tone_pcm16(30), PCM24K))
    out.execute(PlayAudio("resp_2", "item_2", tone_pcm16(100), PCM24K))
    await pull(out, 2)  # 30 ms of resp_1, 10 ms of resp_2
    out.execute(ClearAudio())
    assert reports == [
        PlaybackCleared("resp_1", "item_1", 30.0),
        PlaybackCleared("resp_2", "item_2", 10.0),
    ]
    frames = await pull(out, 1)
    assert not frames[0].any()


async def test_end_of_a_response_already_played_out_reports_at_once() -> None:
    out, reports = track()
    out.execute(PlayAudio("resp_1", "item_1", tone_pcm16(20), PCM24K))
    await pull(out, 1)
    assert reports == []
    out.execute(EndAudio("resp_1"))
    assert reports == [PlaybackStopped("resp_1")]


async def test_g711_output_is_converted_to_the_tracks_rate() -> None:
    out, reports = track()
    pcm8k = tone_pcm16(100, rate=8000)
    out.execute(PlayAudio("resp_1", "item_1", ulaw_encode(pcm8k), PCMU))
    out.execute(EndAudio("resp_1"))
    frames = await pull(out, 6)
    assert reports == [PlaybackStopped("resp_1")]
    assert 90 <= out.sent_ms <= 100  # the resampler keeps a few samples back
    assert any(frame.any() for frame in frames)


async def test_without_an_audio_transceiver_audio_counts_as_played() -> None:
    out, reports = track()
    out.discard()
    out.execute(PlayAudio("resp_1", "item_1", tone_pcm16(200), PCM24K))
    out.execute(ClearAudio())
    assert reports == [PlaybackCleared("resp_1", "item_1", 200.0)]


async def test_with_opus_negotiated_the_track_hands_aiortc_encoded_packets() -> None:
    out, _ = track()
    out.encode_opus()
    out.execute(PlayAudio("resp_1", "item_1", tone_pcm16(200, hz=440), PCM24K))
    decoder = CodecContext.create("libopus", "r")
    decoded = bytearray()
    for index in range(10):
        packet = await out.recv()
        assert isinstance(packet, Packet)
        assert packet.pts == index * FRAME_SAMPLES
        assert packet.time_base == TIME_BASE
        for frame in decoder.decode(packet):
            decoded += frame.to_ndarray().astype(np.int16).tobytes()
    assert np.abs(np.frombuffer(bytes(decoded), dtype=np.int16)).max() > 1000


def test_the_answer_says_whether_opus_is_sent() -> None:
    opus = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"
    opus += "a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
    assert sends_opus(opus)
    assert not sends_opus(opus.replace("111 0", "0 111"))


def test_inbound_audio_packets_are_decoded_on_arrival_in_order() -> None:
    buffer = PacketPerFrameBuffer()

    def add(sequence: int) -> bytes | None:
        packet = RtpPacket(sequence_number=sequence, timestamp=sequence * 960)
        packet._data = bytes([sequence % 256])  # what aiortc's receiver depayloaded
        _, frame = buffer.add(packet)
        return None if frame is None else frame.data

    assert add(65534) == b"\xfe"  # at once, no waiting for the next packet
    assert add(65535) == b"\xff"
    assert add(0) == b"\x00"  # across the wrap
    assert add(2) == b"\x02"  # a loss is not waited for
    assert add(1) is None  # late: behind what was decoded
    assert add(2) is None  # duplicate
    assert add(3) == b"\x03"
