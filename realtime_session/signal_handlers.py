"""Applying what the pipeline and the timers report to the session (one function per signal).

Every handler tolerates signals about responses or items that are gone: the pipeline reports
without knowing the core's state, so a delta may arrive after its response was cancelled, or a
transcript after its item was deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol import new_id
from realtime_session import lifecycle, playback
from realtime_session.commands import CancelTranscription, DisarmTimer
from realtime_session.events import server_event
from realtime_session.signals import (
    PlaybackCleared,
    PlaybackStopped,
    ResponseAudio,
    ResponseDone,
    ResponseFailed,
    ResponseFunctionCall,
    ResponseText,
    Signal,
    SpeechStarted,
    SpeechStopped,
    Timer,
    TimerExpired,
    TimerKind,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)

if TYPE_CHECKING:
    from realtime_session.session import Output, RealtimeSession


def apply_signal(session: RealtimeSession, signal: Signal) -> list[Output]:
    """Route one signal to its handler."""
    match signal:
        case SpeechStarted(epoch, onset_ms):
            return _speech_started(session, epoch, onset_ms)
        case SpeechStopped(epoch, end_ms):
            return session.step(lifecycle.SpeechEnded(epoch, end_ms))
        case TranscriptDelta(item_id, delta):
            return _transcript_delta(session, item_id, delta)
        case TranscriptCompleted(item_id, transcript, audio_seconds):
            return _transcript_completed(session, item_id, transcript, audio_seconds)
        case TranscriptFailed(item_id, message):
            return _transcript_failed(session, item_id, message)
        case ResponseText(response_id, delta):
            return _response_text(session, response_id, delta)
        case ResponseAudio(response_id, audio):
            return _response_audio(session, response_id, audio)
        case ResponseFunctionCall(response_id, name, arguments, call_id):
            response = session.responses.get(response_id)
            return list(response.on_function_call(name, arguments, call_id)) if response else []
        case ResponseDone(response_id, usage):
            response = session.responses.get(response_id)
            if response is None:
                return []
            return session.close_response(response, response.finish(usage), by_pipeline=True)
        case ResponseFailed(response_id, message, code):
            response = session.responses.get(response_id)
            if response is None:
                return []
            events = response.fail(message, code)
            return session.close_response(response, events, by_pipeline=True)
        case PlaybackStopped(response_id):
            return playback.stopped(session, response_id)
        case PlaybackCleared(response_id, item_id, played_ms):
            return playback.cleared(session, response_id, item_id, played_ms)
        case TimerExpired(timer):
            return _timer_expired(session, timer)


def _speech_started(session: RealtimeSession, epoch: int, onset_ms: float) -> list[Output]:
    """Open a turn; over WebRTC, speech that interrupts also cuts the playback off (barge-in
    while the reply is still being heard, even when its generation has finished)."""
    start_ms = max(session.buffer.start_ms, onset_ms - session.prefix_padding_ms())
    was_open = session.state.speech is not None
    outputs = session.step(lifecycle.SpeechBegan(epoch, new_id("item"), start_ms))
    opened = not was_open and session.state.speech is not None
    interrupts = opened and session.state.settings.interrupt_response
    if interrupts and session.transport == "webrtc" and session.playing:
        outputs += playback.clear(session, "turn_detected", cancel_active=False)
    return outputs


def _timer_expired(session: RealtimeSession, timer: Timer) -> list[Output]:
    if timer.kind is TimerKind.IDLE:
        return session.step(lifecycle.IdleTimedOut())
    if timer.kind is TimerKind.RESPONSE:
        response = session.responses.get(timer.key)
        if response is None:
            return []
        seconds = session.limits.response_timeout_s
        events = response.fail(f"The response timed out after {seconds:g} s.", "timeout")
        return session.close_response(response, events, by_pipeline=False)
    if timer.key not in session.state.transcribing:
        return []
    seconds = session.limits.transcription_timeout_s
    message = f"transcription timed out after {seconds:g} s"
    return [CancelTranscription(timer.key), *_transcript_failed(session, timer.key, message)]


def _transcript_delta(session: RealtimeSession, item_id: str, delta: str) -> list[Output]:
    record = session.conversation.find(item_id)
    if record is None or record.transcription is None:
        return []
    event = server_event(
        "conversation.item.input_audio_transcription.delta",
        item_id=item_id,
        content_index=0,
        delta=delta,
    )
    return [event]


def _settle(session: RealtimeSession, item_id: str) -> list[Output]:
    """The item's transcript is final (either way): waiting responses may start now."""
    timer = DisarmTimer(Timer(TimerKind.TRANSCRIPTION, item_id))
    return [timer, *session.step(lifecycle.TranscriptionSettled(item_id))]


def _transcript_completed(
    session: RealtimeSession, item_id: str, transcript: str, audio_seconds: float
) -> list[Output]:
    """The LLM sees the transcript; the client sees it if it asked."""
    if item_id not in session.state.transcribing:
        return []  # already failed by its deadline
    record = session.conversation.find(item_id)
    events: list[Output] = []
    if record is not None:
        record.llm_text = transcript
        if record.transcription is not None:
            for part in record.item["content"]:
                if part.get("type") == "input_audio":
                    part["transcript"] = transcript
            events.append(
                server_event(
                    "conversation.item.input_audio_transcription.completed",
                    item_id=item_id,
                    content_index=0,
                    transcript=transcript,
                    usage={"type": "duration", "seconds": round(audio_seconds, 3)},
                )
            )
    return events + _settle(session, item_id)


def _transcript_failed(session: RealtimeSession, item_id: str, message: str) -> list[Output]:
    """The LLM will see the item as empty; the client hears of the failure if it asked."""
    if item_id not in session.state.transcribing:
        return []
    record = session.conversation.find(item_id)
    events: list[Output] = []
    if record is not None:
        record.llm_text = ""
        record.transcript_failed = True
        if record.transcription is not None:
            error: dict[str, Any] = {
                "type": "transcription_error",
                "code": "transcription_failed",
                "message": message,
                "param": None,
            }
            events.append(
                server_event(
                    "conversation.item.input_audio_transcription.failed",
                    item_id=item_id,
                    content_index=0,
                    error=error,
                )
            )
    return events + _settle(session, item_id)


def _response_text(session: RealtimeSession, response_id: str, delta: str) -> list[Output]:
    response = session.responses.get(response_id)
    if response is None:
        return []
    events = response.on_text(delta)
    if response.over_token_limit():
        events += response.truncate_for_limit()
        return session.close_response(response, events, by_pipeline=False)
    return list(events)


def _response_audio(session: RealtimeSession, response_id: str, audio: bytes) -> list[Output]:
    response = session.responses.get(response_id)
    if response is None:
        return []
    if session.transport == "webrtc":
        outputs = playback.play(session, response, audio)
    else:
        outputs = list(response.on_audio(audio))
    if outputs:
        session.voice_locked = True
    return outputs
