"""A relayed WebRTC call: the call's track plays the upstream's audio (docs/protocol.md §12).

The upstream is reached over WebSocket, where the client plays the audio and truncates what it
did not play; over WebRTC that client is us. So, as :mod:`realtime_session.playback` does for a
local pipeline, the upstream's audio deltas go to the call's output track instead of the data
channel, the buffer events (``output_audio_buffer.started/stopped/cleared``) are ours, and a cut
(``output_audio_buffer.clear``, or the user speaking over the reply) truncates the upstream's item
to what was actually played, with the ``conversation.item.truncate`` a WebSocket client sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audio_utils import PCM24K, decode_base64_audio, encode_base64_audio
from protocol import new_id
from realtime_session.commands import ClearAudio, EndAudio, PlayAudio
from realtime_session.events import server_event
from realtime_session.signals import PlaybackCleared

if TYPE_CHECKING:
    from relay.session import Output, RelaySession

BYTES_PER_MS = PCM24K.sample_rate * 2 / 1000


def without_audio_formats(session: dict[str, Any]) -> dict[str, Any]:
    """A session configuration without audio formats: over WebRTC the track fixes them (the
    upstream must keep sending PCM16 at 24 kHz, which the track encodes)."""
    audio = session.get("audio")
    if not isinstance(audio, dict):
        return session
    trimmed = {}
    for direction, settings in audio.items():
        if isinstance(settings, dict):
            settings = {key: value for key, value in settings.items() if key != "format"}
        trimmed[direction] = settings
    return {**session, "audio": trimmed}


def append_event(pcm: bytes) -> dict[str, Any]:
    """The call's microphone audio as the append a WebSocket client would send."""
    return {
        "type": "input_audio_buffer.append",
        "event_id": new_id("event"),
        "audio": encode_base64_audio(pcm),
    }


def on_upstream_event(session: RelaySession, event: dict[str, Any]) -> list[Output]:
    """One GA upstream event of a WebRTC call: audio to the track, the rest to the client."""
    kind = event.get("type")
    response_id = str(event.get("response_id") or "")
    if kind == "response.output_audio.delta":
        audio = decode_base64_audio(str(event.get("delta") or ""))
        if not audio:
            return []
        item_id = str(event.get("item_id"))
        outputs: list[Output] = []
        if response_id not in session.playing:
            session.playing[response_id] = item_id
            session.played_bytes[response_id] = 0
            outputs.append(server_event("output_audio_buffer.started", response_id=response_id))
        session.played_bytes[response_id] += len(audio)
        outputs.append(PlayAudio(response_id, item_id, audio, PCM24K))
        return outputs
    if kind == "response.done":
        done_id = str((event.get("response") or {}).get("id"))
        return [event, *response_closed(session, done_id)]
    if kind == "input_audio_buffer.speech_started" and session.playing:
        return [event, ClearAudio()]
    return [event]


def response_closed(session: RelaySession, response_id: str) -> list[Output]:
    """No more audio will come for the response."""
    return [EndAudio(response_id)] if response_id in session.playing else []


def stopped(session: RelaySession, response_id: str) -> list[Output]:
    """The track played a response's audio to the end."""
    if session.playing.pop(response_id, None) is None:
        return []
    session.played_bytes.pop(response_id, None)
    return [server_event("output_audio_buffer.stopped", response_id=response_id)]


def cleared(session: RelaySession, signal: PlaybackCleared) -> list[Output]:
    """The track dropped a response's unplayed audio: announce it, truncate the upstream item."""
    if session.playing.pop(signal.response_id, None) is None:
        return []
    sent_ms = session.played_bytes.pop(signal.response_id, 0) / BYTES_PER_MS
    outputs: list[Output] = [
        server_event("output_audio_buffer.cleared", response_id=signal.response_id)
    ]
    end_ms = int(signal.played_ms)
    if end_ms < int(sent_ms):
        truncate = {
            "type": "conversation.item.truncate",
            "event_id": new_id("event"),
            "item_id": signal.item_id,
            "content_index": 0,
            "audio_end_ms": end_ms,
        }
        outputs += session.send_upstream(truncate)
    return outputs


def clear(session: RelaySession, *, cancel: bool) -> list[Output]:
    """``output_audio_buffer.clear``: stop playing, and stop the responses still generating."""
    outputs: list[Output] = []
    if cancel:
        for response_id in session.responses.ids():
            cancel_event = {
                "type": "response.cancel",
                "event_id": new_id("event"),
                "response_id": response_id,
            }
            outputs += session.send_upstream(cancel_event)
    if session.playing:
        outputs.append(ClearAudio())
    return outputs
