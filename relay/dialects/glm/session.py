"""The session as the GA client sees it, and the GLM ``session.update`` body it becomes.

:class:`SessionView` merges every GA ``session.update`` the client sends (the GA merge rules of
docs/protocol.md §2), renders the complete GLM session configuration GLM needs each time (GLM
resets what an update leaves out, e.g. ``turn_detection`` back to ``client_vad``), and renders the
GA session object the client gets in ``session.created`` / ``session.updated``: the client's own
formats (GLM never sees them; the dialect converts), and GLM's values where GLM decides (model,
voice, turn detection). The field mapping is the table in :mod:`relay.dialects.glm`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from audio_utils import AudioFormat

from .audio import GLMInputFormat
from .events import as_str

GLM_MODELS = ("glm-realtime-flash", "glm-realtime-air")
GLM_VOICES = (
    "tongtong",
    "female-tianmei",
    "male-qn-daxuesheng",
    "male-qn-jingying",
    "lovely_girl",
    "female-shaonv",
)
GLM_DEFAULT_VOICE = "tongtong"
GLM_MAX_OUTPUT_TOKENS = 1024
"""GLM's ``max_response_output_tokens`` range is 0-1024 (a string on the wire)."""

GLM_BETA_FIELDS: dict[str, Any] = {"chat_mode": "audio", "tts_source": "e2e"}
"""Sent with every update: ``chat_mode`` is required; ``e2e`` is the only documented TTS."""

_PCM24K: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}
_VAD_TUNING = ("threshold", "prefix_padding_ms", "silence_duration_ms")
# Replaced whole by an update rather than merged key by key (docs/protocol.md §2).
_REPLACED_WHOLE = {"format", "transcription", "noise_reduction", "tools", "tool_choice", "prompt"}
# ``null`` for these means "not set" (keep the current value), not "clear".
_NULL_IS_ABSENT = {
    "instructions",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "model",
    "output_modalities",
    "format",
    "voice",
    "speed",
    "include",
    "truncation",
}


def _default_body() -> dict[str, Any]:
    return {
        "output_modalities": ["audio"],
        "instructions": None,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "audio": {
            "input": {
                "format": dict(_PCM24K),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {"type": "server_vad"},
            },
            "output": {"format": dict(_PCM24K), "voice": None, "speed": 1.0},
        },
    }


def _merge(target: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if value is None and key in _NULL_IS_ABSENT:
            continue
        if key == "turn_detection" and isinstance(value, Mapping):
            current = target.get(key)
            if isinstance(current, dict) and value.get("type", current["type"]) == current["type"]:
                current.update(copy.deepcopy(dict(value)))
            else:
                target[key] = {"type": "server_vad", **copy.deepcopy(dict(value))}
        elif (
            isinstance(value, Mapping)
            and key not in _REPLACED_WHOLE
            and isinstance(target.get(key), dict)
        ):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class SessionView:
    """One session's configuration, in the GA client's terms and in GLM's."""

    def __init__(
        self,
        *,
        model: str,
        glm_input_format: GLMInputFormat,
        default_voice: str = GLM_DEFAULT_VOICE,
        beta_fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.glm_input_format: GLMInputFormat = glm_input_format
        self.default_voice = default_voice
        self.beta_fields = {**GLM_BETA_FIELDS, **(beta_fields or {})}
        self.session_id: str | None = None
        self._glm_instructions: str | None = None
        self._body = _default_body()

    # --- the client's side ---------------------------------------------------------------------

    def update(self, session: Mapping[str, Any]) -> None:
        """Merge one GA ``session.update`` body (``type`` already checked by the caller)."""
        update = {k: v for k, v in session.items() if k not in ("type", "id", "object")}
        model = update.pop("model", None)
        if model in GLM_MODELS:
            self.model = model
        _merge(self._body, update)

    @property
    def input_format(self) -> AudioFormat:
        return AudioFormat.from_session(self._body["audio"]["input"]["format"])

    @property
    def output_format(self) -> AudioFormat:
        return AudioFormat.from_session(self._body["audio"]["output"]["format"])

    @property
    def output_modalities(self) -> list[str]:
        return ["text"] if self._body["output_modalities"] == ["text"] else ["audio"]

    @property
    def transcription_on(self) -> bool:
        return self._body["audio"]["input"]["transcription"] is not None

    @property
    def server_vad(self) -> bool:
        return self._body["audio"]["input"]["turn_detection"] is not None

    @property
    def voice(self) -> str:
        """The GLM voice: the client's when it names one of GLM's voices, else the default."""
        voice = self._body["audio"]["output"]["voice"]
        return voice if voice in GLM_VOICES else self.default_voice

    @property
    def max_output_tokens(self) -> int | str:
        """``"inf"`` or the client's limit, capped at GLM's 1024."""
        limit = self._body["max_output_tokens"]
        if isinstance(limit, int) and not isinstance(limit, bool):
            return min(limit, GLM_MAX_OUTPUT_TOKENS)
        return "inf"

    def _function_tools(self) -> list[Mapping[str, Any]]:
        tools = self._body["tools"] or []
        return [t for t in tools if isinstance(t, Mapping) and t.get("type") == "function"]

    # --- GLM's side -----------------------------------------------------------------------------

    def glm_session(self) -> dict[str, Any]:
        """The complete ``session`` of a GLM ``session.update`` (GLM resets omitted fields)."""
        body = self._body
        audio_in = body["audio"]["input"]
        session: dict[str, Any] = {
            "model": self.model,
            "modalities": ["text"] if self.output_modalities == ["text"] else ["text", "audio"],
            "voice": self.voice,
            "input_audio_format": self.glm_input_format,
            "output_audio_format": "pcm",
            "turn_detection": self._glm_turn_detection(),
            "tools": [
                {
                    "type": "function",
                    "name": tool.get("name", ""),
                    "description": tool.get("description") or "",
                    "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
                }
                for tool in self._function_tools()
            ],
            "beta_fields": dict(self.beta_fields),
        }
        if isinstance(body["instructions"], str):
            session["instructions"] = body["instructions"]
        limit = self.max_output_tokens
        if isinstance(limit, int):
            session["max_response_output_tokens"] = str(limit)
        noise = audio_in["noise_reduction"]
        if isinstance(noise, Mapping) and noise.get("type") in ("near_field", "far_field"):
            session["input_audio_noise_reduction"] = {"type": noise["type"]}
        return session

    def _glm_turn_detection(self) -> dict[str, Any]:
        detection = self._body["audio"]["input"]["turn_detection"]
        if detection is None:
            return {"type": "client_vad"}
        glm: dict[str, Any] = {"type": "server_vad"}
        if detection.get("type") == "server_vad":
            glm.update({k: detection[k] for k in _VAD_TUNING if detection.get(k) is not None})
        return glm

    def absorb_glm(self, session: Any) -> None:
        """Note what GLM reports about itself in ``session.created`` / ``session.updated``."""
        if not isinstance(session, Mapping):
            return
        self.session_id = as_str(session.get("id")) or self.session_id
        model = session.get("model")
        if model in GLM_MODELS:
            self.model = model
        instructions = session.get("instructions")
        if isinstance(instructions, str):
            self._glm_instructions = instructions

    # --- the GA session object -----------------------------------------------------------------

    def ga_session(self) -> dict[str, Any]:
        """The GA session object of ``session.created`` / ``session.updated``."""
        body = self._body
        audio_in = body["audio"]["input"]
        instructions = body["instructions"]
        if not isinstance(instructions, str):
            instructions = self._glm_instructions or ""
        session: dict[str, Any] = {
            "type": "realtime",
            "object": "realtime.session",
            "model": self.model,
            "output_modalities": self.output_modalities,
            "instructions": instructions,
            "tools": [
                {
                    "type": "function",
                    "name": t.get("name", ""),
                    "description": t.get("description") or "",
                    "parameters": t.get("parameters") or {"type": "object", "properties": {}},
                }
                for t in self._function_tools()
            ],
            "tool_choice": copy.deepcopy(body["tool_choice"]),
            "max_output_tokens": self.max_output_tokens,
            "tracing": copy.deepcopy(body["tracing"]),
            "truncation": copy.deepcopy(body["truncation"]),
            "prompt": copy.deepcopy(body["prompt"]),
            "include": copy.deepcopy(body["include"]),
            "audio": {
                "input": {
                    "format": copy.deepcopy(audio_in["format"]),
                    "transcription": copy.deepcopy(audio_in["transcription"]),
                    "noise_reduction": copy.deepcopy(audio_in["noise_reduction"]),
                    "turn_detection": self._ga_turn_detection(),
                },
                "output": {
                    "format": copy.deepcopy(body["audio"]["output"]["format"]),
                    "voice": self.voice,
                    "speed": body["audio"]["output"]["speed"],
                },
            },
        }
        if self.session_id is not None:
            session["id"] = self.session_id
        return session

    def _ga_turn_detection(self) -> dict[str, Any] | None:
        """What runs: GLM's server VAD (it always answers and lets itself be interrupted)."""
        detection = self._glm_turn_detection()
        if detection["type"] == "client_vad":
            return None
        return {
            "type": "server_vad",
            **{k: v for k, v in detection.items() if k != "type"},
            "create_response": True,
            "interrupt_response": True,
        }
