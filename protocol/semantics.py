"""The checks on GA client events that the SDK's TypedDicts cannot express.

Numeric ranges, value combinations, what each content part type must carry and the encoding of
appended audio are not in the TypedDicts at all; they are checked here once the schema has passed
(docs/protocol.md §2, §3, §5, §6 and the limits of §10). The beta dialect reuses
:func:`check_truncate` and :func:`decode_append_audio` for its events that are identical to GA's
(and gets the content part checks through the GA re-check of its translated events).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from audio_utils import decode_base64_audio
from protocol.errors import ProtocolError
from protocol.wording import check_range, json_type, missing

__all__ = [
    "MAX_AUDIO_APPEND_BYTES",
    "SEMANTIC_CHECKS",
    "check_truncate",
    "decode_append_audio",
]

MAX_AUDIO_APPEND_BYTES = 15 * 1024 * 1024
"""Most decoded audio one ``input_audio_buffer.append`` may carry (15 MiB, as on the real API)."""

# Strict base64 has no whitespace and is padded to a multiple of 4 characters, so a string of at
# most this length decodes to at most MAX_AUDIO_APPEND_BYTES bytes (and every longer one to more).
_MAX_AUDIO_APPEND_CHARS = 4 * math.ceil(MAX_AUDIO_APPEND_BYTES / 3)


def decode_append_audio(event: dict[str, Any]) -> bytes:
    """The decoded ``audio`` of a schema-valid ``input_audio_buffer.append``.

    ``audio`` must be strict (padded, no whitespace) base64 of at most 15 MiB. Decoding is the
    check: the bytes it yields are the ones the core receives, so audio is decoded exactly once.
    """
    audio = event["audio"]
    if len(audio) > _MAX_AUDIO_APPEND_CHARS:
        raise ProtocolError(
            "string_above_max_length",
            "Invalid 'audio': string too long. Expected a string with maximum length "
            f"{_MAX_AUDIO_APPEND_CHARS} ({MAX_AUDIO_APPEND_BYTES} bytes of audio), but got a "
            f"string with length {len(audio)} instead.",
            param="audio",
        )
    try:
        return decode_base64_audio(audio)
    except ValueError:  # bad alphabet, padding or non-ASCII characters
        raise ProtocolError(
            "invalid_value",
            "Invalid value for 'audio': expected base64-encoded audio.",
            param="audio",
        ) from None


def check_truncate(event: dict[str, Any]) -> None:
    """``conversation.item.truncate``: indexes and offsets are not negative."""
    check_range(event, "content_index", "", minimum=0)
    check_range(event, "audio_end_ms", "", minimum=0)


# What a content part of each type must carry, although the SDK's content TypedDicts are flat
# (every field optional, whatever the ``type``). Each entry is one the real API is known to enforce:
# ``input_text`` without ``text`` is refused (missing_required_parameter). Not added, for want of
# such evidence: ``input_audio`` (a part with only a ``transcript`` replays history; this server
# gives the model the transcript), ``input_image`` without ``image_url`` and the assistant's
# ``output_text`` / ``output_audio`` (harmless here: they add nothing to the model's context).
_PART_PAYLOADS = {"input_text": "text"}


def _check_item_create(event: dict[str, Any]) -> None:
    _check_item(event["item"], "item")


def _check_item(item: dict[str, Any], path: str) -> None:
    """A message's content parts carry what their type requires (:data:`_PART_PAYLOADS`)."""
    if item.get("type") != "message":
        return
    for index, part in enumerate(item["content"]):
        payload = _PART_PAYLOADS.get(part["type"])
        if payload is not None and payload not in part:
            raise missing(f"{path}.content[{index}].{payload}")


def _check_session_update(event: dict[str, Any]) -> None:
    session = event["session"]
    audio_input = session.get("audio", {}).get("input", {})
    turn_detection = audio_input.get("turn_detection")
    if turn_detection is not None and turn_detection.get("type") == "server_vad":
        path = "session.audio.input.turn_detection"
        check_range(turn_detection, "threshold", path, minimum=0.0, maximum=1.0)
        for name in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            check_range(turn_detection, name, path, minimum=0)
    audio_output = session.get("audio", {}).get("output", {})
    check_range(audio_output, "speed", "session.audio.output", minimum=0.25, maximum=1.5)
    _check_response_settings(session, "session")


def _check_response_create(event: dict[str, Any]) -> None:
    response = event.get("response", {})
    _check_response_settings(response, "response")
    for index, item in enumerate(response.get("input", [])):
        _check_item(item, f"response.input[{index}]")


def _check_response_settings(settings: dict[str, Any], path: str) -> None:
    """``max_output_tokens`` and ``output_modalities``, shared by sessions and responses."""
    check_range(settings, "max_output_tokens", path, minimum=1, maximum=4096)
    for index, tool in enumerate(settings.get("tools") or []):
        parameters = tool.get("parameters")
        is_function = tool.get("type", "function") == "function"
        if is_function and "parameters" in tool and not isinstance(parameters, dict):
            raise ProtocolError(
                "invalid_type",
                f"Invalid type for '{path}.tools[{index}].parameters': expected an object, "
                f"but got {json_type(parameters)} instead.",
                param=f"{path}.tools[{index}].parameters",
            )
    modalities = settings.get("output_modalities")
    if modalities is not None and modalities not in (["audio"], ["text"]):
        raise ProtocolError(
            "invalid_value",
            f"Invalid modalities: {modalities!r}. "
            "Supported combinations are: ['text'] and ['audio'].",
            param=f"{path}.output_modalities",
        )


SEMANTIC_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "session.update": _check_session_update,
    "response.create": _check_response_create,
    "conversation.item.create": _check_item_create,
    "conversation.item.truncate": check_truncate,
}
"""GA event type -> its checks beyond the schema (``input_audio_buffer.append``'s check is
:func:`decode_append_audio`, which also yields the audio)."""
