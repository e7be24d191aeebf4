"""End to end on the real offline models (local profile): speech in, transcript, reply text and
spoken audio out, through the official SDK."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from tests.audio_clips import clip, manifest, stream
from tests.conftest import ROOT, ServerProcess, open_client
from tests.realtime_client import audio_of

pytestmark = pytest.mark.local_models

MAX_WER = 0.25
NUMBERS = {"10": "ten", "2": "two", "1": "one", "3": "three", "4": "four", "5": "five"}


@pytest.fixture(scope="module")
def local_server() -> Iterator[ServerProcess]:
    process = ServerProcess(profile="local")
    yield process
    process.stop()


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, digits spelled out (Whisper writes '10')."""
    tokens = re.findall(r"[a-z0-9']+", text.lower())
    return [NUMBERS.get(token, token) for token in tokens]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words, divided by the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    distance = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        previous, distance[0] = distance[0], i
        for j, hyp_word in enumerate(hyp, 1):
            previous, distance[j] = (
                distance[j],
                min(distance[j] + 1, distance[j - 1] + 1, previous + (ref_word != hyp_word)),
            )
    return distance[-1] / max(1, len(ref))


def is_speech(pcm: bytes) -> bool:
    """Speech-like: loud enough overall, and its loudness varies like syllables (not a tone)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    frames = samples[: len(samples) // 480 * 480].reshape(-1, 480)  # 20 ms frames
    rms = np.sqrt((frames**2).mean(axis=1))
    loud = rms > 300
    return bool(loud.mean() > 0.2 and rms.std() > 200)


def test_the_start_up_log_tells_each_model_loaded(local_server: ServerProcess) -> None:
    """From the first line to the ready line: the files verified, then each model's name, size
    on disk and load time."""
    log = local_server.log()
    lines = [
        r"starting realtime-voice-server \S+ \(process \d+\)",
        r"loading the local models\.\.\.",
        r"model files verified in [\d.]+ s",
        r"loaded STT \S+: \d+ MB in [\d.]+ s",
        r"loaded LLM \S+: \d+ MB in [\d.]+ s",
        r"loaded TTS voice \S+: \d+ MB in [\d.]+ s",
        rf"ready in [\d.]+ s: ws://127\.0\.0\.1:{local_server.port}/v1/realtime \(models: ",
    ]
    position = 0
    for line in lines:
        found = re.compile(line).search(log, position)
        assert found, f"not in the log (in order): {line}\n{log}"
        position = found.end()


@pytest.mark.parametrize("name", ["go_forward_human.wav", "hello_joke_synth.wav"])
async def test_spoken_turn_on_the_local_models(local_server: ServerProcess, name: str) -> None:
    async with open_client(local_server.base_url) as client:
        await client.update_session(
            audio={
                "input": {
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                    "transcription": {"model": "whisper-1"},
                }
            }
        )
        await stream(client, clip(name), speed=0)
        events = await client.collect_until("response.done", timeout=120)
    transcript = next(
        e["transcript"]
        for e in events
        if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert word_error_rate(manifest()[name]["transcript"], transcript) <= MAX_WER, transcript
    done = events[-1]["response"]
    assert done["status"] == "completed"
    reply = done["output"][0]["content"][0]["transcript"]
    assert reply.strip()
    # Short by default: the local LLM's spoken replies are capped at 60 tokens (whole sentences).
    assert len(words(reply)) <= 60, reply
    assert is_speech(audio_of(events)), "the reply audio is not speech"


def test_word_error_rate() -> None:
    assert word_error_rate("go forward ten meters", "Go forward 10 meters.") == 0
    assert word_error_rate("a b c d", "a x c") == 0.5


def test_test_client_does_not_fail_on_the_default_profile(local_server: ServerProcess) -> None:
    """``python test_client.py`` on the offline default: every step passes, except that the
    tool step may be skipped (a model that cannot call tools), never failed. The packaged
    SmolLM2-135M calls tools only when told to, so the check names the tool and it passes."""
    url = f"ws://127.0.0.1:{local_server.port}/v1/realtime"
    result = subprocess.run(
        [sys.executable, "test_client.py", "--url", url, "--timeout", "60"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "FAIL" not in result.stdout, report
    tool_line = next(line for line in result.stdout.splitlines() if "tool call" in line)
    assert tool_line.startswith(("PASS", "SKIP")), report
    assert "get_weather(" in tool_line or "model cannot call tools" in tool_line, report
