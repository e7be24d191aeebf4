"""The relayed session's core without I/O: upstream events in, client events and commands out."""

from __future__ import annotations

import base64
from typing import Any

from protocol.validation import validate_client_event
from realtime_session.commands import (
    ArmTimer,
    ClearAudio,
    DisarmTimer,
    EndAudio,
    EndSession,
    PlayAudio,
)
from realtime_session.signals import (
    PlaybackCleared,
    PlaybackStopped,
    Timer,
    TimerExpired,
    TimerKind,
)
from relay.commands import NoteUpstream, SendUpstream
from relay.dialects import GADialect
from relay.session import RelaySession
from relay.signals import UpstreamClosed, UpstreamEvent, UpstreamRefused
from tests.realtime_client import InvariantChecker, validate_server_event


def _session(**kwargs: Any) -> RelaySession:
    return RelaySession(model="front-name", dialect=GADialect(), upstream="test", **kwargs)


def _events(outputs: list[Any]) -> list[dict[str, Any]]:
    events = [output for output in outputs if isinstance(output, dict)]
    for event in events:
        validate_server_event(event)
    return events


def _sent(outputs: list[Any]) -> list[dict[str, Any]]:
    return [output.event for output in outputs if isinstance(output, SendUpstream)]


SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_up",
    "model": "upstream-model",
    "output_modalities": ["audio"],
    "instructions": "",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "prompt": None,
    "expires_at": 0,
    "include": None,
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": None,
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
    },
}


def _created(session: dict[str, Any] | None = None) -> UpstreamEvent:
    return UpstreamEvent(
        {"type": "session.created", "event_id": "ev_c", "session": session or SESSION}
    )


def _response_start(response_id: str = "resp_1", item_id: str = "item_1") -> list[UpstreamEvent]:
    response = {
        "id": response_id,
        "object": "realtime.response",
        "status": "in_progress",
        "status_details": None,
        "output": [],
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
        "usage": None,
        "metadata": None,
    }
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    part = {"type": "audio", "transcript": ""}
    common = {"response_id": response_id, "item_id": item_id, "output_index": 0}
    return [
        UpstreamEvent({"type": "response.created", "event_id": "e1", "response": response}),
        UpstreamEvent(
            {
                "type": "response.output_item.added",
                "event_id": "e2",
                "response_id": response_id,
                "output_index": 0,
                "item": item,
            }
        ),
        UpstreamEvent(
            {
                "type": "response.content_part.added",
                "event_id": "e3",
                "content_index": 0,
                "part": part,
                **common,
            }
        ),
        UpstreamEvent(
            {
                "type": "response.output_audio_transcript.delta",
                "event_id": "e4",
                "content_index": 0,
                "delta": "Hello ",
                **common,
            }
        ),
        UpstreamEvent(
            {
                "type": "response.output_audio.delta",
                "event_id": "e5",
                "content_index": 0,
                "delta": base64.b64encode(b"\x01\x00" * 2400).decode(),
                **common,
            }
        ),
    ]


def test_the_session_reports_the_name_the_client_asked_for() -> None:
    session = _session()
    assert session.start() == []
    outputs = session.receive(_created())
    assert NoteUpstream(True) in outputs
    [created] = _events(outputs)
    assert created["session"]["model"] == "front-name"


def test_a_client_secret_session_is_applied_upstream_before_the_client_sees_it() -> None:
    session = _session(initial_session={"model": "front-name", "instructions": "Be brief."})
    [update] = _sent(session.start())
    assert update["type"] == "session.update"
    assert update["session"] == {"instructions": "Be brief.", "type": "realtime"}
    validate_client_event(update)
    assert _events(session.receive(_created())) == []  # held until the update is answered
    updated = {**SESSION, "instructions": "Be brief."}
    [created] = _events(
        session.receive(
            UpstreamEvent({"type": "session.updated", "event_id": "u", "session": updated})
        )
    )
    assert created["type"] == "session.created"
    assert created["session"]["instructions"] == "Be brief."
    assert created["session"]["model"] == "front-name"


def test_client_events_go_upstream_without_the_model() -> None:
    session = _session()
    session.receive(_created())
    event = validate_client_event(
        {
            "type": "session.update",
            "session": {"type": "realtime", "model": "x", "instructions": "Hi"},
        }
    )
    [sent] = _sent(session.handle(event))
    assert sent["session"] == {"type": "realtime", "instructions": "Hi"}


def test_an_upstream_that_goes_away_mid_response_fails_it_and_ends_the_session() -> None:
    session = _session()
    session.receive(_created())
    checker = InvariantChecker()
    for signal in _response_start():
        for event in _events(session.receive(signal)):
            checker.check(event)
    outputs = session.receive(UpstreamClosed(1006, "connection lost"))
    events = _events(outputs)
    for event in events:
        checker.check(event)
    assert [e["type"] for e in events] == [
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        "error",
    ]
    done = events[2]["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["code"] == "upstream_disconnected"
    assert done["output"][0]["status"] == "incomplete"
    assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": "Hello "}]
    assert events[3]["error"]["type"] == "server_error"
    assert outputs[-1] == EndSession(1011, "upstream_disconnected")
    assert session.receive(UpstreamClosed(1006, "")) == []


def test_an_upstream_that_ends_its_session_normally_closes_the_client_normally() -> None:
    session = _session()
    session.receive(_created())
    assert session.receive(UpstreamClosed(1000, "")) == [EndSession(1000, "upstream session ended")]


def test_a_refused_upgrade_is_a_server_error_for_the_client() -> None:
    session = _session()
    outputs = session.receive(UpstreamRefused(401, "HTTP 401"))
    [error] = _events(outputs)
    assert error["error"]["code"] == "upstream_auth_failed"
    assert "HTTP 401" in error["error"]["message"]
    assert isinstance(outputs[0], NoteUpstream) and not outputs[0].ok
    assert outputs[-1] == EndSession(1011, "upstream_auth_failed")


def test_an_unreachable_upstream_asks_the_client_to_try_later() -> None:
    outputs = _session().receive(UpstreamRefused(None, "ConnectionRefusedError"))
    [error] = _events(outputs)
    assert error["error"]["code"] == "upstream_unavailable"
    assert outputs[-1] == EndSession(1013, "upstream_unavailable")


def test_a_refused_key_after_the_upgrade_is_reported_once() -> None:
    session = _session()
    refusal = {
        "type": "error",
        "event_id": "e",
        "error": {"type": "invalid_request_error", "code": "invalid_api_key", "message": "no"},
    }
    outputs = session.receive(UpstreamEvent(refusal))
    [error] = _events(outputs)
    assert error["error"]["code"] == "upstream_auth_failed"
    assert outputs[-1] == EndSession(1011, "upstream_auth_failed")
    assert session.receive(UpstreamClosed(3000, "")) == []


def test_a_response_past_its_deadline_fails_and_is_cancelled_upstream() -> None:
    session = _session()
    session.receive(_created())
    outputs: list[Any] = []
    for signal in _response_start():
        outputs += session.receive(signal)
    assert ArmTimer(Timer(TimerKind.RESPONSE, "resp_1"), 60.0) in outputs
    outputs = session.receive(TimerExpired(Timer(TimerKind.RESPONSE, "resp_1")))
    events = _events(outputs)
    assert events[-1]["response"]["status_details"]["error"]["code"] == "timeout"
    assert [e["type"] for e in _sent(outputs)] == ["response.cancel"]
    late = {
        "type": "response.done",
        "event_id": "late",
        "response": {"id": "resp_1", "object": "realtime.response", "status": "cancelled"},
    }
    assert session.receive(UpstreamEvent(late)) == []


def test_a_finished_response_disarms_its_deadline() -> None:
    session = _session()
    session.receive(_created())
    for signal in _response_start():
        session.receive(signal)
    usage = {"total_tokens": 30, "input_tokens": 10, "output_tokens": 20}
    done = {
        "type": "response.done",
        "event_id": "d",
        "response": {
            "id": "resp_1",
            "object": "realtime.response",
            "status": "completed",
            "usage": usage,
        },
    }
    outputs = session.receive(UpstreamEvent(done))
    assert outputs[-1] == UpstreamEvent(done).data
    assert DisarmTimer(Timer(TimerKind.RESPONSE, "resp_1")) in outputs


def test_over_webrtc_the_audio_goes_to_the_track_and_barge_in_truncates_upstream() -> None:
    session = _session(transport="webrtc")
    session.receive(_created())
    outputs: list[Any] = []
    for signal in _response_start():
        outputs += session.receive(signal)
    events = _events(outputs)
    assert "response.output_audio.delta" not in [e["type"] for e in events]
    assert "output_audio_buffer.started" in [e["type"] for e in events]
    [play] = [o for o in outputs if isinstance(o, PlayAudio)]
    assert len(play.audio) == 4800 and play.item_id == "item_1"
    speech = {
        "type": "input_audio_buffer.speech_started",
        "event_id": "s",
        "audio_start_ms": 0,
        "item_id": "u1",
    }
    assert ClearAudio() in session.receive(UpstreamEvent(speech))
    outputs = session.receive(PlaybackCleared("resp_1", "item_1", 40.0))
    assert [e["type"] for e in _events(outputs)] == ["output_audio_buffer.cleared"]
    [truncate] = _sent(outputs)
    assert truncate["type"] == "conversation.item.truncate"
    assert truncate["audio_end_ms"] == 40
    validate_client_event(truncate)


def test_over_webrtc_the_buffer_stops_after_the_response() -> None:
    session = _session(transport="webrtc")
    session.receive(_created())
    for signal in _response_start():
        session.receive(signal)
    done = {
        "type": "response.done",
        "event_id": "d",
        "response": {"id": "resp_1", "object": "realtime.response", "status": "completed"},
    }
    assert EndAudio("resp_1") in session.receive(UpstreamEvent(done))
    [stopped] = _events(session.receive(PlaybackStopped("resp_1")))
    assert stopped["type"] == "output_audio_buffer.stopped"


def test_over_webrtc_the_microphone_is_appended_upstream() -> None:
    session = _session(transport="webrtc")
    [append] = _sent(session.append_track_audio(b"\x00\x00" * 480))
    assert validate_client_event(append).audio == b"\x00\x00" * 480
