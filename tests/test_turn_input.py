"""Turn detection's input: noise reduction runs before the VAD, with one filter per stream."""

from __future__ import annotations

from typing import Any

import pytest

import pipeline_manager.turn_input as turn_input
from audio_utils import AudioFormat
from realtime_session import ConfigureInput
from realtime_session.signals import Signal, SpeechStarted, SpeechStopped
from tests.audio_clips import clip

SERVER_VAD = {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500}
PCM24K = AudioFormat.from_session({"type": "audio/pcm", "rate": 24000})
CHUNK = 4800  # 100 ms at 24 kHz


class MutingFilter:
    """A noise filter that removes everything: if the VAD hears nothing, it got our output."""

    made = 0
    calls = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        MutingFilter.made += 1

    async def start(self, sample_rate: int) -> None:
        assert sample_rate == turn_input.PIPELINE_IN_RATE

    async def filter(self, audio: bytes) -> bytes:
        MutingFilter.calls += 1
        return bytes(len(audio))

    async def stop(self) -> None:
        pass


async def detect(noise_reduction: dict[str, Any] | None) -> list[Signal]:
    reported: list[Signal] = []
    config = ConfigureInput(SERVER_VAD, noise_reduction, origin_ms=1000.0, epoch=7)
    stream = await turn_input.TurnInput.start(config, reported.append)
    pcm = clip("go_forward_human.wav")
    for start in range(0, len(pcm), CHUNK):
        await stream.feed(pcm[start : start + CHUNK], PCM24K)
    await stream.close()
    return reported


async def test_speech_is_reported_on_the_session_clock_with_the_epoch() -> None:
    reported = await detect(None)
    assert [type(s) for s in reported] == [SpeechStarted, SpeechStopped]
    started = reported[0]
    assert isinstance(started, SpeechStarted) and started.epoch == 7
    assert 1000.0 + 900 < started.onset_ms < 1000.0 + 1100  # speech starts at 1.0 s in the clip


async def test_noise_reduction_output_is_what_the_vad_hears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(turn_input, "RNNoiseFilter", MutingFilter)
    MutingFilter.made = MutingFilter.calls = 0
    reported = await detect({"type": "near_field"})
    assert reported == []  # the filter's (silent) output reached the VAD, not the raw speech
    assert MutingFilter.made == 1  # one filter for the whole stream
    assert MutingFilter.calls == len(range(0, len(clip("go_forward_human.wav")), CHUNK))


async def test_real_noise_reduction_keeps_the_turn() -> None:
    reported = await detect({"type": "far_field"})
    assert [type(s) for s in reported] == [SpeechStarted, SpeechStopped]
