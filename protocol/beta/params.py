"""How GA and beta name the same things: parameter paths, audio formats, turn detection fields.

Both directions of the translation use these tables: the client side (:mod:`.client_to_ga`) to
build GA events and to report errors from the GA re-check at the paths the beta client sent, the
server side (:mod:`.server_to_beta`) to flatten GA objects and to rewrite the ``param`` of
``error`` events (docs/protocol.md §9).
"""

from __future__ import annotations

from typing import Any

from protocol.errors import ProtocolError

__all__ = [
    "FORMAT_TO_BETA",
    "FORMAT_TO_GA",
    "GA_TO_BETA_PARAMS",
    "TURN_DETECTION_FIELDS",
    "beta_error",
    "beta_param",
    "ga_param",
]

FORMAT_TO_GA: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
"""Beta audio format names and the GA format objects they stand for."""

FORMAT_TO_BETA: dict[str, str] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}
"""GA format types and their beta names (GA formats without a beta name are left out)."""

TURN_DETECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "server_vad": (
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "create_response",
        "interrupt_response",
    ),
    "semantic_vad": ("eagerness", "create_response", "interrupt_response"),
}
"""The fields each GA turn detection type takes; beta's single flat object may hold both sets."""

GA_TO_BETA_PARAMS: dict[str, str] = {
    "session.audio.input.format": "session.input_audio_format",
    "session.audio.input.transcription": "session.input_audio_transcription",
    "session.audio.input.noise_reduction": "session.input_audio_noise_reduction",
    "session.audio.input.turn_detection": "session.turn_detection",
    "session.audio.output.format": "session.output_audio_format",
    "session.audio.output.voice": "session.voice",
    "session.audio.output.speed": "session.speed",
    "session.output_modalities": "session.modalities",
    "session.max_output_tokens": "session.max_response_output_tokens",
    "response.audio.output.format": "response.output_audio_format",
    "response.audio.output.voice": "response.voice",
    "response.output_modalities": "response.modalities",
    "response.max_output_tokens": "response.max_response_output_tokens",
}
"""GA parameter path prefixes and the beta paths they come from."""


def beta_param(param: str | None) -> str | None:
    """The beta path of a GA parameter path (unchanged when both dialects name it alike)."""
    if param is None:
        return None
    for ga_prefix, beta_prefix in GA_TO_BETA_PARAMS.items():
        rest = param[len(ga_prefix) :]
        if param.startswith(ga_prefix) and (not rest or rest[0] in ".["):
            return beta_prefix + rest
    return param


def ga_param(param: str | None) -> str | None:
    """The GA path of a beta parameter path: the reverse of :func:`beta_param`.

    For errors from an upstream that speaks beta (``relay.dialects.beta``), reported to a GA
    client at the paths it sent.
    """
    if param is None:
        return None
    for ga_prefix, beta_prefix in GA_TO_BETA_PARAMS.items():
        rest = param[len(beta_prefix) :]
        if param.startswith(beta_prefix) and (not rest or rest[0] in ".["):
            return ga_prefix + rest
    return param


def beta_error(error: ProtocolError) -> ProtocolError:
    """The same error, with its ``param`` (and that path in its message) in beta terms."""
    param = beta_param(error.param)
    message = error.message
    if error.param and param != error.param:
        message = message.replace(f"'{error.param}'", f"'{param}'")
    return ProtocolError(
        error.code,
        message,
        param=param,
        event_id=error.event_id,
        error_type=error.error_type,
    )
