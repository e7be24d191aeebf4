"""The core over WebRTC (``transport="webrtc"``): audio goes to the transport, not into deltas.

Drives ``RealtimeSession`` directly (no sockets, no models): the transport's reports
(``PlaybackStopped``, ``PlaybackCleared``) are applied by hand, the way the WebRTC transport
reports them through the driver. Every event is validated like in ``test_core_session.py``.
"""

from __future__ import annotations

import base64
from typing import Any

from audio_utils import PCM24K, PCMU, AudioFormat
from realtime_session import ClearAudio, EndAudio, PlayAudio, SessionLimits
from realtime_session.signals import (
    PlaybackCleared,
    PlaybackStopped,
    ResponseAudio,
    ResponseDone,
    ResponseText,
    SpeechStarted,
)
from tests.helpers_audio import tone, tone_pcm16
from tests.test_core_session import Core, commands, types

VAD = {"type": "server_vad", "silence_duration_ms": 200}


def webrtc(**session: Any) -> Core:
    return Core(transport="webrtc", **session)


def _audio_response(core: Core, audio_ms: int, *, finish: bool = True) -> tuple[str, list[Any]]:
    """A response with a text and an audio chunk (finished unless told); its id and outputs."""
    response_id = core.create_response()
    outputs = core._take(core.session.receive(ResponseText(response_id, "one two three")))
    outputs += core._take(core.session.receive(ResponseAudio(response_id, tone(audio_ms))))
    if finish:
        outputs += core._take(core.session.receive(ResponseDone(response_id)))
    return response_id, outputs


def test_audio_goes_to_the_track_and_the_buffer_events_frame_it() -> None:
    core = webrtc()
    core.user_text("hi")
    response_id, outputs = _audio_response(core, 300)
    assert "response.output_audio.delta" not in types(outputs)
    sequence = types(outputs)
    started_at = sequence.index("output_audio_buffer.started")
    assert (
        sequence.index("response.content_part.added") < started_at < sequence.index("response.done")
    )
    started = next(o for o in outputs if isinstance(o, dict) and o["type"].endswith("started"))
    assert started["response_id"] == response_id
    (play,) = commands(outputs, PlayAudio)
    assert play.response_id == response_id
    assert play.audio == tone(300)
    assert play.audio_format == PCM24K
    assert commands(outputs, EndAudio) == [EndAudio(response_id)]
    # response.done came first; stopped follows once the transport has played it all.
    stopped = core.receive(PlaybackStopped(response_id))
    assert types(stopped) == ["output_audio_buffer.stopped"]
    assert stopped[0]["response_id"] == response_id
    assert core.receive(PlaybackStopped(response_id)) == []  # reported once
    # The item keeps all of its audio.
    item_id = play.item_id
    retrieved = core.retrieve(item_id)
    assert base64.b64decode(retrieved["content"][0]["audio"]) == tone(300)


def test_output_audio_buffer_clear_cancels_and_truncates_to_what_was_played() -> None:
    core = webrtc()
    core.user_text("hi")
    response_id, outputs = _audio_response(core, 1000, finish=False)
    (play,) = commands(outputs, PlayAudio)
    cleared = core.outputs("output_audio_buffer.clear", event_id="evt_clear")
    done = [e for e in cleared if isinstance(e, dict) and e["type"] == "response.done"]
    assert done[0]["response"]["status"] == "cancelled"
    assert done[0]["response"]["status_details"]["reason"] == "client_cancelled"
    assert commands(cleared, EndAudio) == [EndAudio(response_id)]
    assert commands(cleared, ClearAudio) == [ClearAudio()]
    # The transport played 240 ms of it before the cut.
    reported = core.receive(PlaybackCleared(response_id, play.item_id, 240.4))
    assert types(reported) == ["output_audio_buffer.cleared", "conversation.item.truncated"]
    assert reported[0]["response_id"] == response_id
    assert reported[1]["item_id"] == play.item_id
    assert reported[1]["audio_end_ms"] == 240
    retrieved = core.retrieve(play.item_id)
    assert len(base64.b64decode(retrieved["content"][0]["audio"])) == 240 * 48
    assert core.session.playing == {}


def test_clear_with_nothing_playing_does_nothing() -> None:
    core = webrtc()
    assert core.outputs("output_audio_buffer.clear") == []


def test_clear_is_an_error_over_websocket() -> None:
    core = Core()
    error = core.error("output_audio_buffer.clear", event_id="evt_1")
    assert error["code"] == "invalid_value"
    assert error["event_id"] == "evt_1"


def test_speech_during_playback_clears_it_even_after_response_done() -> None:
    core = webrtc(audio={"input": {"turn_detection": VAD}})
    core.user_text("hi")
    response_id, outputs = _audio_response(core, 2000)
    (play,) = commands(outputs, PlayAudio)
    epoch = core.session.state.epoch
    produced = core._take(core.session.receive(SpeechStarted(epoch, 5000.0)))
    assert types(produced) == ["input_audio_buffer.speech_started"]
    assert commands(produced, ClearAudio) == [ClearAudio()]
    reported = core.receive(PlaybackCleared(response_id, play.item_id, 900.0))
    assert types(reported) == ["output_audio_buffer.cleared", "conversation.item.truncated"]
    assert reported[1]["audio_end_ms"] == 900


def test_speech_interrupting_a_running_response_cancels_then_clears() -> None:
    core = webrtc(audio={"input": {"turn_detection": VAD}})
    core.user_text("hi")
    _audio_response(core, 2000, finish=False)
    epoch = core.session.state.epoch
    produced = core._take(core.session.receive(SpeechStarted(epoch, 5000.0)))
    sequence = types(produced)
    assert sequence[0] == "input_audio_buffer.speech_started"
    assert "response.done" in sequence
    done = next(e for e in produced if isinstance(e, dict) and e["type"] == "response.done")
    assert done["response"]["status_details"]["reason"] == "turn_detected"
    assert commands(produced, ClearAudio) == [ClearAudio()]


def test_speech_does_not_clear_without_interrupt_response() -> None:
    vad = {**VAD, "interrupt_response": False}
    core = webrtc(audio={"input": {"turn_detection": vad}})
    core.user_text("hi")
    _audio_response(core, 2000)
    epoch = core.session.state.epoch
    produced = core._take(core.session.receive(SpeechStarted(epoch, 5000.0)))
    assert types(produced) == ["input_audio_buffer.speech_started"]
    assert commands(produced, ClearAudio) == []


def test_a_played_out_item_is_not_truncated() -> None:
    core = webrtc()
    core.user_text("hi")
    response_id, outputs = _audio_response(core, 500)
    (play,) = commands(outputs, PlayAudio)
    core.outputs("output_audio_buffer.clear")
    reported = core.receive(PlaybackCleared(response_id, play.item_id, 500.0))
    assert types(reported) == ["output_audio_buffer.cleared"]


def test_track_audio_is_appended_in_the_session_format() -> None:
    core = webrtc(audio={"input": {"format": {"type": "audio/pcmu"}}})
    assert core.session.buffer.format == PCMU
    for _ in range(10):
        assert core.session.append_track_audio(tone_pcm16(20)) == []
    # 200 ms at 24 kHz PCM16 became ~200 ms of G.711 (the resampler holds back a few samples).
    assert 180 <= core.session.buffer.duration_ms <= 200
    committed = core.send("input_audio_buffer.commit")
    assert types(committed)[0] == "input_audio_buffer.committed"


def test_track_audio_feeds_the_vad_and_reports_a_full_buffer_once() -> None:
    limits = SessionLimits(max_input_buffer_ms=100)
    core = Core(limits=limits, transport="webrtc")
    for _ in range(5):
        assert core.session.append_track_audio(tone_pcm16(20)) == []
    first = core._take(core.session.append_track_audio(tone_pcm16(20)))
    assert types(first) == ["error"]
    assert first[0]["error"]["code"] == "input_audio_buffer_full"
    assert core.session.append_track_audio(tone_pcm16(20)) == []  # not again
    core.send("input_audio_buffer.clear")
    assert core.session.append_track_audio(tone_pcm16(20)) == []
    with_vad = webrtc(audio={"input": {"turn_detection": VAD}})
    fed = with_vad.session.append_track_audio(tone_pcm16(20))
    assert [type(c).__name__ for c in fed] == ["FeedAudio"]
    assert fed[0].audio_format == AudioFormat("audio/pcm", 24000)
