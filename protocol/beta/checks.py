"""The checks on beta client events that the beta TypedDicts cannot express.

Beta has settings GA lacks (``temperature``) and names others differently
(``max_response_output_tokens``, ``modalities``), so its ranges are checked on the beta event,
before translation, with beta paths in the errors (docs/protocol.md §9). Events whose schema is
GA's are checked as GA checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol.errors import ProtocolError
from protocol.semantics import check_truncate
from protocol.wording import check_range

__all__ = ["BETA_SEMANTIC_CHECKS", "TEMPERATURE_MAX", "TEMPERATURE_MIN"]

TEMPERATURE_MIN, TEMPERATURE_MAX = 0.6, 1.2
"""The beta ``temperature`` range (accepted, validated, not used)."""


def _check_beta_session_update(event: dict[str, Any]) -> None:
    session = event["session"]
    _check_turn_detection(session.get("turn_detection"), "session.turn_detection")
    check_range(session, "speed", "session", minimum=0.25, maximum=1.5)
    _check_generation_settings(session, "session")


def _check_beta_transcription_session_update(event: dict[str, Any]) -> None:
    session = event["session"]
    _check_turn_detection(session.get("turn_detection"), "session.turn_detection")
    _check_modalities(session.get("modalities"), "session.modalities")


def _check_beta_response_create(event: dict[str, Any]) -> None:
    _check_generation_settings(event.get("response", {}), "response")


def _check_turn_detection(turn_detection: dict[str, Any] | None, path: str) -> None:
    """VAD ranges; beta has one flat turn detection object, so they apply to either type."""
    if turn_detection is None:
        return
    check_range(turn_detection, "threshold", path, minimum=0.0, maximum=1.0)
    for name in ("prefix_padding_ms", "silence_duration_ms"):
        check_range(turn_detection, name, path, minimum=0)


def _check_generation_settings(settings: dict[str, Any], path: str) -> None:
    """``temperature``, ``max_response_output_tokens``, ``modalities`` (sessions and responses)."""
    check_range(settings, "temperature", path, minimum=TEMPERATURE_MIN, maximum=TEMPERATURE_MAX)
    check_range(settings, "max_response_output_tokens", path, minimum=1, maximum=4096)
    _check_modalities(settings.get("modalities"), f"{path}.modalities")


def _check_modalities(modalities: list[str] | None, param: str) -> None:
    """Beta allows ``["text"]`` and ``["audio", "text"]`` (any order); ``["audio"]`` is taken as
    the latter, since GA's ``["audio"]`` also streams the transcript. Only ``[]`` is refused."""
    if modalities is not None and not modalities:
        raise ProtocolError(
            "invalid_value",
            "Invalid modalities: []. Supported combinations are: ['text'] and ['audio', 'text'].",
            param=param,
        )


BETA_SEMANTIC_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "session.update": _check_beta_session_update,
    "transcription_session.update": _check_beta_transcription_session_update,
    "response.create": _check_beta_response_create,
    "conversation.item.truncate": check_truncate,
}
"""Beta event type -> its checks beyond the schema (an append's check is GA's
:func:`~protocol.semantics.decode_append_audio`, which also yields the audio)."""
