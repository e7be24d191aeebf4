"""Beta client events -> GA client events (the tables are in :mod:`protocol.beta`'s docstring).

Only the four events whose beta and GA shapes differ are translated here
(:data:`TRANSLATED_EVENT_TYPES`); every other beta client event is a GA event already. The input
is a beta event that passed the beta schema and checks; the output is re-checked against the GA
schema by :func:`protocol.beta.parse.parse_beta_client_event` (docs/protocol.md §9).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from protocol.beta.params import FORMAT_TO_GA, TURN_DETECTION_FIELDS

__all__ = ["TRANSLATED_EVENT_TYPES", "translate_to_ga"]

_TOOL_CHOICE_OPTIONS = ("auto", "none", "required")
# Beta assistant content types and their GA names (user and system content is named alike).
_ASSISTANT_CONTENT_TO_GA = {"text": "output_text", "audio": "output_audio"}


def _unchanged(event: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(event)


def _envelope(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A GA event of the same type (or another) with the beta event's ``event_id``."""
    ga: dict[str, Any] = {"type": event["type"]}
    if "event_id" in event:
        ga["event_id"] = event["event_id"]
    ga.update(fields)
    return ga


def _session_update_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    session = event["session"]
    ga: dict[str, Any] = {"type": "realtime"}
    for name in ("model", "instructions", "tools", "tracing"):
        if name in session:
            ga[name] = copy.deepcopy(session[name])
    if "tool_choice" in session:
        ga["tool_choice"] = _tool_choice_to_ga(session["tool_choice"])
    _generation_settings_to_ga(session, ga)
    audio_input = _audio_input_to_ga(session)
    audio_output = _audio_output_to_ga(session, with_speed=True)
    audio = {k: v for k, v in (("input", audio_input), ("output", audio_output)) if v}
    if audio:
        ga["audio"] = audio
    # temperature and client_secret have no GA counterpart: validated above, dropped here.
    return _envelope(event, session=ga)


def _transcription_session_update_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    session = event["session"]
    ga: dict[str, Any] = {"type": "transcription"}
    audio_input = _audio_input_to_ga(session)
    if audio_input:
        ga["audio"] = {"input": audio_input}
    if "include" in session:
        ga["include"] = list(session["include"])
    # modalities and client_secret: validated, dropped (a transcription session never responds).
    return {**_envelope(event, session=ga), "type": "session.update"}


def _generation_settings_to_ga(beta: dict[str, Any], ga: dict[str, Any]) -> None:
    """``modalities`` and ``max_response_output_tokens``, shared by sessions and responses."""
    if "modalities" in beta:
        ga["output_modalities"] = _modalities_to_ga(beta["modalities"])
    if "max_response_output_tokens" in beta:
        ga["max_output_tokens"] = beta["max_response_output_tokens"]


def _modalities_to_ga(modalities: list[str]) -> list[str]:
    """GA's ``["audio"]`` streams the transcript too, i.e. it is beta's ``["audio", "text"]``."""
    return ["audio"] if "audio" in modalities else ["text"]


def _audio_input_to_ga(session: dict[str, Any]) -> dict[str, Any]:
    audio_input: dict[str, Any] = {}
    if "input_audio_format" in session:
        audio_input["format"] = dict(FORMAT_TO_GA[session["input_audio_format"]])
    if "input_audio_transcription" in session:
        audio_input["transcription"] = copy.deepcopy(session["input_audio_transcription"])
    if "input_audio_noise_reduction" in session:
        audio_input["noise_reduction"] = copy.deepcopy(session["input_audio_noise_reduction"])
    if "turn_detection" in session:
        audio_input["turn_detection"] = _turn_detection_to_ga(session["turn_detection"])
    return audio_input


def _audio_output_to_ga(settings: dict[str, Any], *, with_speed: bool) -> dict[str, Any]:
    audio_output: dict[str, Any] = {}
    if "output_audio_format" in settings:
        audio_output["format"] = dict(FORMAT_TO_GA[settings["output_audio_format"]])
    if "voice" in settings:
        audio_output["voice"] = settings["voice"]
    if with_speed and "speed" in settings:
        audio_output["speed"] = settings["speed"]
    return audio_output


def _turn_detection_to_ga(turn_detection: dict[str, Any] | None) -> dict[str, Any] | None:
    """Beta's ``type`` is optional (the API's default is ``server_vad``); GA requires it.

    Fields that belong to the other VAD type (``eagerness`` for server VAD, ``threshold`` and
    the durations for semantic VAD) mean nothing there; they are dropped rather than refused,
    since the beta schema allows them.
    """
    if turn_detection is None:
        return None
    kind = turn_detection.get("type", "server_vad")
    fields = TURN_DETECTION_FIELDS[kind]
    return {"type": kind, **{k: turn_detection[k] for k in fields if k in turn_detection}}


def _tool_choice_to_ga(tool_choice: str) -> str | dict[str, Any]:
    """Beta's ``tool_choice`` is a string: an option, or (any other string) a function's name."""
    if tool_choice in _TOOL_CHOICE_OPTIONS:
        return tool_choice
    return {"type": "function", "name": tool_choice}


def _item_create_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    ga = _unchanged(event)
    ga["item"] = _item_to_ga(event["item"])
    return ga


def _item_to_ga(item: dict[str, Any]) -> dict[str, Any]:
    """A beta item (or item reference) as GA: only assistant content types are renamed."""
    ga = copy.deepcopy(item)
    if ga.get("role") == "assistant":
        for part in ga.get("content", []):
            part["type"] = _ASSISTANT_CONTENT_TO_GA.get(part.get("type"), part.get("type"))
    return ga


def _response_create_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    if "response" not in event:
        return _unchanged(event)
    response = event["response"]
    ga: dict[str, Any] = {}
    for name in ("conversation", "instructions", "metadata", "tools"):
        if name in response:
            ga[name] = copy.deepcopy(response[name])
    if "tool_choice" in response:
        ga["tool_choice"] = _tool_choice_to_ga(response["tool_choice"])
    if "input" in response:
        ga["input"] = [_item_to_ga(entry) for entry in response["input"]]
    _generation_settings_to_ga(response, ga)
    audio_output = _audio_output_to_ga(response, with_speed=False)
    if audio_output:
        ga["audio"] = {"output": audio_output}
    # temperature: validated, dropped.
    return _envelope(event, response=ga)


_CLIENT_TRANSLATORS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "session.update": _session_update_to_ga,
    "transcription_session.update": _transcription_session_update_to_ga,
    "conversation.item.create": _item_create_to_ga,
    "response.create": _response_create_to_ga,
}

TRANSLATED_EVENT_TYPES: frozenset[str] = frozenset(_CLIENT_TRANSLATORS)
"""The beta client events whose GA form differs. The others have the same schema in both dialects
(checked by the tests), so they pass to the core as they are, without a GA re-check."""


def translate_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    """The GA form of a valid beta event of one of the :data:`TRANSLATED_EVENT_TYPES`."""
    return _CLIENT_TRANSLATORS[event["type"]](event)
