"""Unit tests of the turn detector on the test clips in tests/fixtures/audio (no server)."""

from __future__ import annotations

import pytest

from audio_utils import resample
from pipeline_manager.turn_detection import SpeechStarted, TurnDetector, TurnEnded
from tests.audio_clips import clip, segments_ms

TOLERANCE_MS = 150
SERVER_VAD = {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500}


async def detect(name: str, turn_detection: dict) -> list[SpeechStarted | TurnEnded]:
    pcm = resample(clip(name), 24000, 16000)
    detector = TurnDetector(turn_detection)
    events: list[SpeechStarted | TurnEnded] = []
    for start in range(0, len(pcm), 3200):  # 100 ms chunks
        events += await detector.feed(pcm[start : start + 3200])
    return events


@pytest.mark.parametrize(
    "name", ["go_forward_human.wav", "austen_human.wav", "hello_joke_synth.wav", "two_turns.wav"]
)
async def test_speech_segments_match_the_manifest(name: str) -> None:
    events = await detect(name, SERVER_VAD)
    expected = segments_ms(name)
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    ends = [e for e in events if isinstance(e, TurnEnded)]
    assert len(starts) == len(ends) == len(expected), events
    for (seg_start, seg_end), started, ended in zip(expected, starts, ends, strict=True):
        assert abs(started.onset_ms - seg_start) <= TOLERANCE_MS
        speech_end = ended.end_ms - SERVER_VAD["silence_duration_ms"]
        assert abs(speech_end - seg_end) <= TOLERANCE_MS


@pytest.mark.parametrize("name", ["silence_2s.wav", "noise_2s.wav"])
async def test_no_speech_in_silence_or_noise(name: str) -> None:
    assert await detect(name, SERVER_VAD) == []


async def test_threshold_one_hears_nothing() -> None:
    assert await detect("go_forward_human.wav", {**SERVER_VAD, "threshold": 1.0}) == []


async def test_short_silence_window_splits_on_pauses() -> None:
    long_window = await detect("hello_joke_synth.wav", SERVER_VAD)
    short_window = await detect("hello_joke_synth.wav", {**SERVER_VAD, "silence_duration_ms": 200})
    assert len(short_window) > len(long_window) == 2


async def test_semantic_vad_ends_a_turn() -> None:
    events = await detect("go_forward_human.wav", {"type": "semantic_vad", "eagerness": "high"})
    assert [type(e) for e in events] == [SpeechStarted, TurnEnded]
    (seg_start, seg_end) = segments_ms("go_forward_human.wav")[0]
    assert abs(events[0].onset_ms - seg_start) <= TOLERANCE_MS
    # Smart Turn judges the utterance complete at the first pause, long before the 2 s timeout.
    assert events[1].end_ms - seg_end < 1000
