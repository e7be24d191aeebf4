"""Turn-taking over the official SDK against the mock server: server VAD, semantic VAD, barge-in,
idle timeout, input transcription and transcription sessions. Every server event is validated."""

from __future__ import annotations

import asyncio

import pytest

from tests.audio_clips import clip, segments_ms, stream
from tests.conftest import open_client
from tests.realtime_client import RealtimeTestClient, types_of

TOLERANCE_MS = 150
PADDING_MS = 300
SILENCE_MS = 500
SERVER_VAD = {
    "type": "server_vad",
    "silence_duration_ms": SILENCE_MS,
    "prefix_padding_ms": PADDING_MS,
}
TRANSCRIPTION = {"model": "whisper-1"}


async def vad_session(client: RealtimeTestClient, **turn_detection: object) -> None:
    await client.update_session(
        audio={
            "input": {
                "turn_detection": {**SERVER_VAD, **turn_detection},
                "transcription": TRANSCRIPTION,
            }
        }
    )


async def assert_quiet(client: RealtimeTestClient) -> list[dict]:
    """Clear the buffer and return everything the server sent before ``cleared``.

    The server handles a session's events in order, so anything the VAD produced for audio sent
    before the clear arrives before ``input_audio_buffer.cleared``.
    """
    await client.send({"type": "input_audio_buffer.clear"})
    return await client.collect_until("input_audio_buffer.cleared")


@pytest.mark.parametrize(
    "name", ["go_forward_human.wav", "austen_human.wav", "hello_joke_synth.wav"]
)
async def test_server_vad_turn_matches_the_manifest(rt: RealtimeTestClient, name: str) -> None:
    await vad_session(rt)
    await stream(rt, clip(name), speed=0)
    events = await rt.collect_until("response.done")
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
    (seg_start, seg_end) = segments_ms(name)[0]
    assert abs(started["audio_start_ms"] + PADDING_MS - seg_start) <= TOLERANCE_MS
    assert abs(stopped["audio_end_ms"] - SILENCE_MS - seg_end) <= TOLERANCE_MS
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    order = types_of(events)
    assert (
        order.index("input_audio_buffer.speech_started")
        < order.index("input_audio_buffer.speech_stopped")
        < order.index("input_audio_buffer.committed")
        < order.index("response.created")
    )
    # The item's audio is prefix padding + speech + silence window: the mock STT names its length.
    duration = stopped["audio_end_ms"] - started["audio_start_ms"]
    transcript = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert transcript["item_id"] == committed["item_id"]
    assert abs(int(transcript["transcript"].split()[2]) - duration) <= 1
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["transcript"] == f"You said: {transcript['transcript']}"


@pytest.mark.parametrize("name", ["silence_2s.wav", "noise_2s.wav"])
async def test_no_speech_events_for_silence_and_noise(rt: RealtimeTestClient, name: str) -> None:
    await vad_session(rt)
    await stream(rt, clip(name), speed=0)
    assert types_of(await assert_quiet(rt)) == ["input_audio_buffer.cleared"]


async def test_two_turns_give_two_responses_with_growing_start(rt: RealtimeTestClient) -> None:
    await vad_session(rt)
    pcm = clip("two_turns.wav")
    split = int(4.0 * 24000) * 2  # between the two utterances
    await stream(rt, pcm[:split], speed=0)
    first = await rt.collect_until("response.done")
    await stream(rt, pcm[split:], speed=0)
    second = await rt.collect_until("response.done")
    starts = [
        e["audio_start_ms"]
        for e in first + second
        if e["type"] == "input_audio_buffer.speech_started"
    ]
    assert len(starts) == 2 and starts[0] < starts[1]
    for (seg_start, _), start in zip(segments_ms("two_turns.wav"), starts, strict=True):
        assert abs(start + PADDING_MS - seg_start) <= TOLERANCE_MS
    assert first[-1]["response"]["status"] == second[-1]["response"]["status"] == "completed"


async def long_response(client: RealtimeTestClient) -> dict:
    """Start a response that takes ~2 s on the slow server (40 words at 50 ms)."""
    text = " ".join(["word"] * 40)
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    await client.send({"type": "response.create"})
    created = await client.wait_for("response.created")
    await client.wait_for("response.output_audio_transcript.delta")
    return created["response"]


async def test_barge_in_cancels_with_turn_detected(slow_server) -> None:
    async with open_client(slow_server.base_url) as client:
        await vad_session(client)
        response = await long_response(client)
        await stream(client, clip("go_forward_human.wav"), speed=0)
        events = await client.collect_until("response.done")
        done = events[-1]["response"]
        assert done["id"] == response["id"]
        assert done["status"] == "cancelled"
        assert done["status_details"]["reason"] == "turn_detected"
        assert done["output"][0]["status"] == "incomplete"
        assert "input_audio_buffer.speech_started" in types_of(events)
        # The user's turn then gets its own (completed) response.
        after = await client.collect_until("response.done")
        assert after[-1]["response"]["status"] == "completed"


async def test_interrupt_response_false_lets_the_response_finish(slow_server) -> None:
    async with open_client(slow_server.base_url) as client:
        await vad_session(client, interrupt_response=False)
        response = await long_response(client)
        await stream(client, clip("go_forward_human.wav"), speed=0)
        events = await client.collect_until("response.done", timeout=20)
        assert events[-1]["response"]["id"] == response["id"]
        assert events[-1]["response"]["status"] == "completed"
        assert "input_audio_buffer.speech_started" in types_of(events)
        # The turn's automatic response starts once the first one is done.
        follow_up = await client.collect_until("response.done", timeout=20)
        assert follow_up[-1]["response"]["status"] == "completed"


async def test_create_response_false_commits_without_responding(rt: RealtimeTestClient) -> None:
    await vad_session(rt, create_response=False)
    await stream(rt, clip("go_forward_human.wav"), speed=0)
    events = await rt.collect_until("input_audio_buffer.committed")
    assert "input_audio_buffer.speech_stopped" in types_of(events)
    rest = await assert_quiet(rt)
    assert "response.created" not in types_of(rest)


async def test_idle_timeout_commits_and_responds(rt: RealtimeTestClient) -> None:
    await vad_session(rt, idle_timeout_ms=500)
    await stream(rt, clip("silence_2s.wav"), speed=0)  # silence: the buffer holds audio, no speech
    triggered = await rt.wait_for("input_audio_buffer.timeout_triggered", timeout=5)
    events = await rt.collect_until("response.done")
    committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
    assert committed["item_id"] == triggered["item_id"]
    assert events[-1]["response"]["status"] == "completed"
    # One nudge per silence: no second timeout until the user speaks again.
    rest = await assert_quiet(rt)
    assert "input_audio_buffer.timeout_triggered" not in types_of(rest)


async def test_turn_detection_null_and_back_mid_session(rt: RealtimeTestClient) -> None:
    await rt.update_session(audio={"input": {"turn_detection": None}})
    await stream(rt, clip("go_forward_human.wav"), speed=0)
    assert types_of(await assert_quiet(rt)) == ["input_audio_buffer.cleared"]
    await vad_session(rt)
    await stream(rt, clip("go_forward_human.wav"), speed=0)
    events = await rt.collect_until("response.done")
    assert "input_audio_buffer.speech_stopped" in types_of(events)


async def test_semantic_vad_ends_a_turn(rt: RealtimeTestClient) -> None:
    await rt.update_session(
        audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}
    )
    await stream(rt, clip("go_forward_human.wav"), speed=0)
    events = await rt.collect_until("response.done")
    assert "input_audio_buffer.speech_stopped" in types_of(events)
    assert events[-1]["response"]["status"] == "completed"


async def test_noise_reduction_is_applied_and_turns_still_work(rt: RealtimeTestClient) -> None:
    updated = await rt.update_session(
        audio={"input": {"noise_reduction": {"type": "far_field"}, "turn_detection": SERVER_VAD}}
    )
    assert updated["session"]["audio"]["input"]["noise_reduction"] == {"type": "far_field"}
    await stream(rt, clip("noise_2s.wav"), speed=0)
    assert types_of(await assert_quiet(rt)) == ["input_audio_buffer.cleared"]
    await stream(rt, clip("go_forward_human.wav"), speed=0)
    events = await rt.collect_until("response.done")
    assert "input_audio_buffer.speech_stopped" in types_of(events)


async def test_transcription_session_transcribes_without_responding(server) -> None:
    async with open_client(server.base_url, intent="transcription") as client:
        assert client.session["type"] == "transcription"
        await client.update_session(
            type="transcription",
            audio={"input": {"turn_detection": SERVER_VAD, "transcription": TRANSCRIPTION}},
        )
        await stream(client, clip("go_forward_human.wav"), speed=0)
        events = await client.collect_until("conversation.item.input_audio_transcription.completed")
        assert "input_audio_buffer.committed" in types_of(events)
        assert events[-1]["transcript"].startswith("audio of ")
        rest = await assert_quiet(client)
        assert "response.created" not in types_of(rest)
        await client.send({"type": "response.create"})
        error = await client.wait_for("error")
        assert error["error"]["param"] == "type"


async def test_transcription_events_name_the_committed_duration(rt: RealtimeTestClient) -> None:
    await rt.update_session(
        audio={"input": {"turn_detection": None, "transcription": TRANSCRIPTION}}
    )
    await stream(rt, clip("go_forward_human.wav")[: 1234 * 48], speed=0)
    await rt.send({"type": "input_audio_buffer.commit"})
    events = await rt.collect_until("conversation.item.input_audio_transcription.completed")
    assert events[-1]["transcript"] == "audio of 1234 ms"
    assert events[-1]["usage"]["type"] == "duration"
    retrieved_item = await retrieve(rt, events[-1]["item_id"])
    assert retrieved_item["content"][0]["transcript"] == "audio of 1234 ms"


async def retrieve(client: RealtimeTestClient, item_id: str) -> dict:
    await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    return (await client.wait_for("conversation.item.retrieved"))["item"]


async def test_speech_events_keep_the_session_clock_across_turns(rt: RealtimeTestClient) -> None:
    await vad_session(rt)
    await stream(rt, clip("silence_2s.wav"), speed=0)
    await stream(rt, clip("go_forward_human.wav"), speed=0)
    events = await rt.collect_until("response.done")
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    seg_start = segments_ms("go_forward_human.wav")[0][0]
    assert abs(started["audio_start_ms"] + PADDING_MS - (2000 + seg_start)) <= TOLERANCE_MS
    await asyncio.wait_for(assert_quiet(rt), 5)
