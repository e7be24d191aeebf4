"""GA objects (sessions, items, content parts, responses) in the shape beta server events use.

A beta client reads flat sessions (``input_audio_format``, ``voice``, ...), assistant content
typed ``text`` / ``audio``, responses with ``modalities``, and nothing GA-only. These functions
build those objects from the GA ones the core emits; :mod:`.server_to_beta` places them in the
beta events (docs/protocol.md §9).
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterable
from typing import Any, Literal

from openai.types.beta.realtime import transcription_session as beta_transcription_session
from openai.types.beta.realtime.session import Session as BetaSession
from pydantic import BaseModel

from protocol.beta.params import FORMAT_TO_BETA, TURN_DETECTION_FIELDS

__all__ = [
    "item_to_beta",
    "part_to_beta",
    "realtime_session_to_beta",
    "response_to_beta",
    "transcription_session_to_beta",
]

_CONTENT_TO_BETA = {"output_text": "text", "output_audio": "audio"}
_BETA_CONTENT_TYPES = ("input_text", "input_audio", "item_reference", "text", "audio")
_BETA_CONTENT_FIELDS = ("type", "id", "text", "transcript", "audio")
_BETA_ITEM_TYPES = ("message", "function_call", "function_call_output")
_BETA_ITEM_FIELDS = (
    "id",
    "object",
    "type",
    "status",
    "role",
    "content",
    "call_id",
    "name",
    "arguments",
    "output",
)
_BETA_USAGE_FIELDS = {
    "total_tokens": None,
    "input_tokens": None,
    "output_tokens": None,
    "input_token_details": ("text_tokens", "audio_tokens", "cached_tokens"),
    "output_token_details": ("text_tokens", "audio_tokens"),
}
_TOOL_FIELDS = ("type", "name", "description", "parameters")


def _literal_values(model: type[BaseModel], name: str) -> tuple[str, ...]:
    """The values an ``Optional[Literal[...]]`` field of an SDK model allows."""
    annotation = model.model_fields[name].annotation
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is Literal:
            return typing.get_args(arg)
    return ()


# Beta sessions name their model with a closed Literal; another name would fail the schema.
_BETA_MODELS = _literal_values(BetaSession, "model")
_BETA_TRANSCRIPTION_MODELS = _literal_values(
    beta_transcription_session.InputAudioTranscription, "model"
)


def realtime_session_to_beta(session: dict[str, Any]) -> dict[str, Any]:
    """A GA realtime session object flattened into the beta session object."""
    beta: dict[str, Any] = _session_identity(session)
    if session.get("model") in _BETA_MODELS:
        beta["model"] = session["model"]
    if "output_modalities" in session:
        beta["modalities"] = _modalities_to_beta(session["output_modalities"])
    if "instructions" in session:
        beta["instructions"] = session["instructions"]
    beta.update(_audio_input_to_beta(session.get("audio", {}).get("input", {}), realtime=True))
    audio_output = session.get("audio", {}).get("output", {})
    if "voice" in audio_output:
        beta["voice"] = _voice_to_beta(audio_output["voice"])
    _set_format(beta, "output_audio_format", audio_output.get("format"))
    if "speed" in audio_output:
        beta["speed"] = audio_output["speed"]
    if "tools" in session:
        beta["tools"] = _tools_to_beta(session["tools"])
    tool_choice = _tool_choice_to_beta(session.get("tool_choice"))
    if tool_choice is not None:
        beta["tool_choice"] = tool_choice
    if "max_output_tokens" in session:
        beta["max_response_output_tokens"] = session["max_output_tokens"]
    if "tracing" in session:
        beta["tracing"] = copy.deepcopy(session["tracing"])
    return beta


def transcription_session_to_beta(session: dict[str, Any]) -> dict[str, Any]:
    """A GA transcription session flattened into the beta transcription session's fields."""
    beta = _session_identity(session)
    beta.update(_audio_input_to_beta(session.get("audio", {}).get("input", {}), realtime=False))
    if "include" in session:
        beta["include"] = copy.deepcopy(session["include"])
    return beta


def _session_identity(session: dict[str, Any]) -> dict[str, Any]:
    """``id``, ``object`` and ``expires_at``, which the real beta API also reported."""
    return {k: session[k] for k in ("id", "object", "expires_at") if k in session}


def _audio_input_to_beta(audio_input: dict[str, Any], *, realtime: bool) -> dict[str, Any]:
    beta: dict[str, Any] = {}
    _set_format(beta, "input_audio_format", audio_input.get("format"))
    if "transcription" in audio_input:
        beta["input_audio_transcription"] = _transcription_to_beta(
            audio_input["transcription"], realtime=realtime
        )
    if "noise_reduction" in audio_input:
        noise_reduction = audio_input["noise_reduction"]
        beta["input_audio_noise_reduction"] = (
            None if noise_reduction is None else _pick(noise_reduction, ("type",))
        )
    if "turn_detection" in audio_input:
        beta["turn_detection"] = _turn_detection_to_beta(
            audio_input["turn_detection"], realtime=realtime
        )
    return beta


def _set_format(beta: dict[str, Any], name: str, ga_format: dict[str, Any] | None) -> None:
    """Set a beta format name from a GA format object (left out if it has no beta name)."""
    if ga_format is not None and ga_format.get("type") in FORMAT_TO_BETA:
        beta[name] = FORMAT_TO_BETA[ga_format["type"]]


def _transcription_to_beta(
    transcription: dict[str, Any] | None, *, realtime: bool
) -> dict[str, Any] | None:
    if transcription is None:
        return None
    beta = _pick(transcription, ("model", "language", "prompt"))
    # A transcription session's model is a closed Literal in beta; a realtime session's is a str.
    if not realtime and beta.get("model") not in _BETA_TRANSCRIPTION_MODELS:
        beta.pop("model", None)
    return beta


def _turn_detection_to_beta(
    turn_detection: dict[str, Any] | None, *, realtime: bool
) -> dict[str, Any] | None:
    """Beta's fields of the turn detection; ``idle_timeout_ms`` is GA only.

    ``create_response`` / ``interrupt_response`` are "not available for transcription sessions"
    in beta, so a transcription session does not report them.
    """
    if turn_detection is None:
        return None
    fields = TURN_DETECTION_FIELDS.get(turn_detection.get("type", "server_vad"), ())
    if not realtime:
        fields = tuple(f for f in fields if f not in ("create_response", "interrupt_response"))
    return _pick(turn_detection, ("type", *fields))


def _modalities_to_beta(modalities: list[str]) -> list[str]:
    """GA ``["audio"]`` is beta ``["text", "audio"]`` (the order the beta docs use)."""
    return ["text", "audio"] if "audio" in modalities else ["text"]


def _voice_to_beta(voice: Any) -> Any:
    """GA also allows ``{"id": ...}`` (custom voices); beta only has the string."""
    return voice["id"] if isinstance(voice, dict) else voice


def _tools_to_beta(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Function tools only: beta has no MCP tools."""
    return [_pick(t, _TOOL_FIELDS) for t in tools if t.get("type", "function") == "function"]


def _tool_choice_to_beta(tool_choice: Any) -> str | None:
    """The reverse of the client side's ``tool_choice`` translation.

    MCP choices have no beta form (``None``).
    """
    if isinstance(tool_choice, str):
        return tool_choice
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        return tool_choice.get("name")
    return None


def item_to_beta(item: dict[str, Any]) -> dict[str, Any] | None:
    """A GA item in beta shape, or ``None`` if beta cannot express it (MCP items)."""
    if item.get("type") not in _BETA_ITEM_TYPES:
        return None
    beta = _pick(item, _BETA_ITEM_FIELDS)
    if "content" in beta:
        parts = (part_to_beta(part) for part in item["content"])
        beta["content"] = [part for part in parts if part is not None]
    return beta


def part_to_beta(part: dict[str, Any]) -> dict[str, Any] | None:
    """A content part in beta shape; ``None`` for parts beta lacks (``input_image``)."""
    kind = part.get("type")
    if isinstance(kind, str):
        kind = _CONTENT_TO_BETA.get(kind, kind)
    if kind not in _BETA_CONTENT_TYPES:
        return None
    return {**_pick(part, _BETA_CONTENT_FIELDS), "type": kind}


def response_to_beta(response: dict[str, Any]) -> dict[str, Any]:
    names = ("object", "id", "status", "status_details", "conversation_id", "metadata")
    beta = _pick(response, names)
    if "output" in response:
        items = (item_to_beta(item) for item in response["output"])
        beta["output"] = [item for item in items if item is not None]
    if "output_modalities" in response:
        beta["modalities"] = _modalities_to_beta(response["output_modalities"])
    audio_output = (response.get("audio") or {}).get("output") or {}
    if "voice" in audio_output:
        beta["voice"] = _voice_to_beta(audio_output["voice"])
    _set_format(beta, "output_audio_format", audio_output.get("format"))
    if "max_output_tokens" in response:
        beta["max_output_tokens"] = response["max_output_tokens"]
    if "usage" in response:
        beta["usage"] = _usage_to_beta(response["usage"])
    return beta


def _usage_to_beta(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Usage with beta's fields (GA adds image tokens and cached-token details)."""
    if usage is None:
        return None
    beta: dict[str, Any] = {}
    for name, sub_fields in _BETA_USAGE_FIELDS.items():
        if name not in usage:
            continue
        value = usage[name]
        beta[name] = _pick(value, sub_fields) if sub_fields and isinstance(value, dict) else value
    return beta


def _pick(source: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """A deep copy of the listed fields of ``source`` that are present."""
    return {name: copy.deepcopy(source[name]) for name in names if name in source}
