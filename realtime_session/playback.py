"""The output audio buffer of a session whose transport plays the audio itself (WebRTC).

Over WebSocket the client gets the reply's audio in ``response.output_audio.delta`` events, plays
it, and tells the server what was heard with ``conversation.item.truncate``. Over WebRTC the
server plays it: the audio goes to the transport's track (:class:`PlayAudio`) instead of into
deltas, and the session reports what the buffer does, as the real API does over WebRTC
(docs/protocol.md §12):

- ``output_audio_buffer.started`` when a response's first audio goes into the buffer;
- ``output_audio_buffer.stopped`` when the transport has played all of it (``PlaybackStopped``,
  after the response closed: :class:`EndAudio`);
- ``output_audio_buffer.cleared`` when playback is cut off (``output_audio_buffer.clear``, or
  speech during playback with ``interrupt_response``). Only the transport knows how much went out
  before the cut, so it reports it (``PlaybackCleared``) and the item is truncated to that here,
  exactly as ``conversation.item.truncate`` would: the model only keeps what the user heard.

Nothing here runs unless the session was created with ``transport="webrtc"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realtime_session.commands import ClearAudio, EndAudio, PlayAudio
from realtime_session.events import server_event
from realtime_session.handlers.items import is_assistant_audio, truncate_audio
from realtime_session.response import Response

if TYPE_CHECKING:
    from realtime_session.session import Output, RealtimeSession


def play(session: RealtimeSession, response: Response, audio: bytes) -> list[Output]:
    """Record a response's audio and queue it on the track (no delta event)."""
    if not audio or not response.accepts_audio:
        return []
    outputs: list[Output] = list(response.on_audio(audio))
    item_id = response.audio_item_id
    assert item_id is not None  # on_audio opened the message
    if response.id not in session.playing:
        session.playing[response.id] = item_id
        outputs.append(server_event("output_audio_buffer.started", response_id=response.id))
    outputs.append(PlayAudio(response.id, item_id, audio, response.output_format))
    return outputs


def response_closed(session: RealtimeSession, response_id: str) -> list[Output]:
    """A response ended: its audio in the buffer is all there will be."""
    return [EndAudio(response_id)] if response_id in session.playing else []


def stopped(session: RealtimeSession, response_id: str) -> list[Output]:
    """The transport played a response's audio to the end."""
    if session.playing.pop(response_id, None) is None:
        return []
    return [server_event("output_audio_buffer.stopped", response_id=response_id)]


def clear(session: RealtimeSession, reason: str, *, cancel_active: bool) -> list[Output]:
    """Cut playback off: cancel the responses still making audio for it, clear the track.

    Args:
        reason: The cancel reason of those responses (``client_cancelled``, ``turn_detected``).
        cancel_active: Also cancel the default conversation's response when it has not produced
            audio yet (``output_audio_buffer.clear`` stops the audio being generated too).
    """
    doomed = [response_id for response_id in session.playing if response_id in session.responses]
    active = session.state.active
    if cancel_active and active is not None and active not in doomed:
        doomed.append(active)
    outputs: list[Output] = []
    for response_id in doomed:
        outputs += session.cancel_response(response_id, reason)
    if session.playing:
        outputs.append(ClearAudio())
    return outputs


def cleared(
    session: RealtimeSession, response_id: str, item_id: str, played_ms: float
) -> list[Output]:
    """The transport dropped a response's unplayed audio: announce it and truncate the item."""
    if session.playing.pop(response_id, None) is None:
        return []
    outputs: list[Output] = [server_event("output_audio_buffer.cleared", response_id=response_id)]
    record = session.conversation.find(item_id)
    if record is None or not is_assistant_audio(record):
        return outputs  # deleted meanwhile, or its audio was dropped by the byte budget
    end_ms = int(played_ms)
    if end_ms < int(record.audio_ms):
        outputs.append(truncate_audio(record, end_ms))
    return outputs
