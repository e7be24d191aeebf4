"""``session.update``: merge, check, apply, and reconfigure the input when it changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol import ClientEvent, ProtocolError
from realtime_session.events import server_event
from realtime_session.reply_policy import tools_notice

if TYPE_CHECKING:
    from realtime_session.session import Output, RealtimeSession


def on_session_update(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Apply the update whole or not at all; ``session.updated`` echoes the result."""
    config = session.config
    before = config.to_dict()["audio"]["input"]
    body = config.merged(event.data["session"])
    _check_voice_lock(session, body)
    config.apply(body)
    session.buffer.set_format(session.input_format)
    outputs: list[Output] = [server_event("session.updated", session=config.to_dict())]
    if config.transcription != before["transcription"]:
        outputs.append(session.configure_transcription())
    if (config.turn_detection, config.noise_reduction) != (
        before["turn_detection"],
        before["noise_reduction"],
    ):
        outputs += session.reconfigure_input()
    if config.type == "realtime" and {"tools", "tool_choice"} & event.data["session"].keys():
        notice = tools_notice(
            config.get("tools", []),
            config.get("tool_choice", "auto"),
            session.limits.tool_calling,
            "session",
        )
        if notice is not None:
            outputs.append(notice)
    return outputs


def _check_voice_lock(session: RealtimeSession, body: dict[str, Any]) -> None:
    """The voice cannot change once the conversation holds assistant audio."""
    voice = body.get("audio", {}).get("output", {}).get("voice")
    if session.voice_locked and voice != session.config.voice:
        raise ProtocolError(
            "cannot_update_voice",
            "Cannot update a conversation's voice if assistant audio is present.",
            param="session.audio.output.voice",
        )
