"""Fault injection: each stage raising, hanging or returning garbage fails only the affected
response (or transcription) with a clear message; the session keeps working."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.audio_clips import clip, stream
from tests.conftest import ServerProcess, open_client

TIMEOUTS = {"REALTIME_RESPONSE_TIMEOUT_S": "1.5", "REALTIME_TRANSCRIPTION_TIMEOUT_S": "1.5"}


@pytest.fixture(scope="module", params=["raise", "hang", "garbage"])
def fault_kind(request: pytest.FixtureRequest) -> str:
    return request.param


def faulty_server(stage: str, kind: str) -> Iterator[ServerProcess]:
    process = ServerProcess({**TIMEOUTS, "REALTIME_MOCK_FAULT": f"{stage}:{kind}"})
    try:
        yield process
    finally:
        process.stop()


async def text_turn(client, text: str) -> dict:
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
    return (await client.wait_for("response.done", timeout=15))["response"]


@pytest.mark.parametrize("stage", ["llm", "tts"])
async def test_response_stage_faults_fail_the_response_only(stage: str, fault_kind: str) -> None:
    for process in faulty_server(stage, fault_kind):
        async with open_client(process.base_url) as client:
            failed = await text_turn(client, "first")
            assert failed["status"] == "failed", failed
            error = failed["status_details"]["error"]
            assert error["message"]
            assert failed["output"] == [] or failed["output"][0]["status"] == "incomplete"
            ok = await text_turn(client, "second")
            assert ok["status"] == "completed"
            assert ok["output"][0]["content"][0]["transcript"] == "You said: second"
        assert "Traceback" not in process.log()


async def test_stt_faults_fail_the_transcription_only(fault_kind: str) -> None:
    for process in faulty_server("stt", fault_kind):
        async with open_client(process.base_url) as client:
            await client.update_session(
                audio={"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}
            )
            for attempt in ("failed", "completed"):
                await stream(client, clip("go_forward_human.wav")[: 48 * 500], speed=0)
                await client.send({"type": "input_audio_buffer.commit"})
                event = await client.wait_for(
                    f"conversation.item.input_audio_transcription.{attempt}", timeout=15
                )
                if attempt == "failed":
                    assert event["error"]["message"]
                else:
                    assert event["transcript"] == "audio of 500 ms"
            await client.send({"type": "response.create"})
            done = (await client.wait_for("response.done", timeout=15))["response"]
            assert done["status"] == "completed"
        assert "Traceback" not in process.log()
