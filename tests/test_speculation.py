"""Speculative transcription during the user's pause: used when the turn ends there, thrown away
when speech resumes, and never visible on the wire.

The mock STT says how long the audio it was given was (``audio of N ms``), which makes the
speculation observable: a transcript made at the pause covers the turn up to the pause, one made
after the commit covers the silence window too.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.audio_clips import clip, segments_ms, stream
from tests.conftest import ServerProcess, open_client
from tests.realtime_client import RealtimeTestClient, types_of

SILENCE_MS = 500
PADDING_MS = 300
BYTES_PER_MS = 48
AUDIO = {
    "input": {
        "turn_detection": {
            "type": "server_vad",
            "silence_duration_ms": SILENCE_MS,
            "prefix_padding_ms": PADDING_MS,
            "create_response": False,
        },
        "transcription": {"model": "whisper-1"},
    }
}


@pytest.fixture(scope="module")
def speculating() -> Iterator[ServerProcess]:
    process = ServerProcess(
        {
            "REALTIME_SPECULATIVE_TURNS": "true",
            "REALTIME_MOCK_SPECULATION": "true",
            "REALTIME_DEBUG_ENDPOINTS": "1",
        }
    )
    yield process
    process.stop()


def stats(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(server.base_url + "/debug/stats", timeout=5) as reply:
        return dict(json.loads(reply.read())["speculation"])


async def turn_events(server: ServerProcess, pcm: bytes) -> list[dict[str, Any]]:
    async with open_client(server.base_url) as client:
        await client.update_session(audio=AUDIO)
        await stream(client, pcm, speed=0)
        return await collect(client)


async def collect(client: RealtimeTestClient) -> list[dict[str, Any]]:
    return await client.collect_until("conversation.item.input_audio_transcription.completed")


def transcript_ms(events: list[dict[str, Any]]) -> float:
    done = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    match = re.search(r"audio of (\d+) ms", done["transcript"])
    assert match, done["transcript"]
    return float(match.group(1))


async def test_a_turn_that_ends_at_its_pause_uses_the_speculation(
    speculating: ServerProcess, server: ServerProcess
) -> None:
    pcm = clip("go_forward_human.wav")
    before = await asyncio.to_thread(stats, speculating)
    spoken, plain = await asyncio.gather(turn_events(speculating, pcm), turn_events(server, pcm))
    after = await asyncio.to_thread(stats, speculating)
    assert after["used"] == before["used"] + 1
    # The wire is the same, event for event (ids and the transcript's length aside).
    assert types_of(spoken) == types_of(plain)
    # The speculative transcript covers the turn up to the pause: the committed item's audio
    # less (about) the silence window.
    assert transcript_ms(plain) - transcript_ms(spoken) == pytest.approx(SILENCE_MS, abs=100)


async def test_speech_after_a_pause_throws_the_speculation_away(speculating: ServerProcess) -> None:
    pcm = clip("go_forward_human.wav")
    (start, end), *_ = segments_ms("go_forward_human.wav")
    speech = pcm[int(start) * BYTES_PER_MS : int(end) * BYTES_PER_MS]
    pause = b"\x00\x00" * (24 * 250)  # 250 ms: a pause, not the end of the turn
    before = await asyncio.to_thread(stats, speculating)
    async with open_client(speculating.base_url) as client:
        await client.update_session(audio=AUDIO)
        await stream(client, speech + pause + speech + b"\x00\x00" * (24 * 1500), speed=0)
        events = await collect(client)
    after = await asyncio.to_thread(stats, speculating)
    assert types_of(events).count("input_audio_buffer.speech_started") == 1  # one turn
    assert after["discarded"] >= before["discarded"] + 1
    # The turn's transcript covers both stretches of speech, not the first alone.
    assert transcript_ms(events) >= 2 * (end - start)
