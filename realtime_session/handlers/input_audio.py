"""The input audio buffer's client events: append, commit, clear (and the WebRTC-only
``output_audio_buffer.clear``, which cuts playback off)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol import ClientEvent, ProtocolError
from realtime_session import lifecycle, playback
from realtime_session.commands import FeedAudio
from realtime_session.events import server_event

if TYPE_CHECKING:
    from realtime_session.session import Output, RealtimeSession

MIN_COMMIT_MS = 100
IDLE_BUFFER_MARGIN_MS = 1000
"""How much audio beyond the prefix padding is kept while nobody speaks (server VAD)."""


def on_append(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Buffer the audio (decoded by validation) and, under turn detection, feed the VAD."""
    return append_audio(session, event.audio or b"")


def append_audio(session: RealtimeSession, audio: bytes) -> list[Output]:
    """Append audio in the buffer's format: ``input_audio_buffer.append``, or a WebRTC track.

    Raises:
        ProtocolError: ``input_audio_buffer_full`` (the audio is dropped).
    """
    buffer = session.buffer
    added_ms = buffer.format.duration_ms(len(audio))
    limit_ms = session.limits.max_input_buffer_ms
    if buffer.duration_ms + added_ms > limit_ms:
        raise ProtocolError(
            "input_audio_buffer_full",
            f"The input audio buffer would exceed its limit of {limit_ms:.0f} ms; commit or "
            "clear it first.",
            param="audio",
        )
    buffer.append(audio)
    if session.config.turn_detection is None:
        return []
    if session.state.speech is None:
        # Nobody is speaking: keep only what a future turn's prefix padding could need.
        buffer.keep_last(session.prefix_padding_ms() + IDLE_BUFFER_MARGIN_MS)
    return [FeedAudio(audio, buffer.format)]


def on_commit(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Commit the whole buffer as a user item (at least 100 ms, as the real API requires)."""
    buffered_ms = session.buffer.duration_ms
    if buffered_ms < MIN_COMMIT_MS:
        raise ProtocolError(
            "input_audio_buffer_commit_empty",
            "Error committing input audio buffer: buffer too small. Expected at least "
            f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
        )
    reset = session.step(lifecycle.BufferReset())
    return reset + session.commit_audio(session.buffer.take_all(), session.buffer.format)


def on_clear(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Drop the buffered audio; an open VAD turn is forgotten with it."""
    session.buffer.clear()
    reset = session.step(lifecycle.BufferReset())
    return [*reset, server_event("input_audio_buffer.cleared")]


def on_output_audio_buffer_clear(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Cut the audio being played off (WebRTC); only WebRTC and SIP sessions have a
    server-side output buffer to clear, so over WebSocket it is an error."""
    if session.transport != "webrtc":
        raise ProtocolError(
            "invalid_value",
            "output_audio_buffer.clear is only supported for WebRTC and SIP sessions; over "
            "WebSocket, stop playback locally and send conversation.item.truncate.",
            param="type",
        )
    return playback.clear(session, "client_cancelled", cancel_active=True)
