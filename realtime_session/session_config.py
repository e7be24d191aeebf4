"""The session configuration and the ``session.update`` merge rules.

Only the fields present in an update change. ``""`` clears the instructions, ``[]`` the tools, and
``null`` turns off ``turn_detection``, ``noise_reduction`` and ``transcription``. A turn detection
object of a new type starts from that type's defaults; of the same type it merges. An update is
validated whole before anything is applied, so an invalid update changes nothing.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from protocol import ProtocolError, new_id
from realtime_session.defaults import (
    TURN_DETECTION_DEFAULTS,
    default_realtime_session,
    default_transcription_session,
)

SESSION_LIFETIME_S = 3600

# Sub-objects that are replaced wholesale rather than merged key by key.
_REPLACED_WHOLE = {"format", "transcription", "noise_reduction", "tools", "tool_choice", "prompt"}


class SessionConfig:
    """The effective session configuration of one connection, as a GA session object."""

    def __init__(
        self, model: str, session_type: str = "realtime", *, lifetime_s: int = SESSION_LIFETIME_S
    ) -> None:
        if session_type == "transcription":
            body = default_transcription_session()
        else:
            body = default_realtime_session(model)
        self.id = new_id("sess")
        self.expires_at = int(time.time()) + lifetime_s
        self._body = body

    @property
    def type(self) -> str:
        """``realtime`` or ``transcription``."""
        session_type: str = self._body["type"]
        return session_type

    def to_dict(self) -> dict[str, Any]:
        """The full session object as sent in ``session.created`` / ``session.updated``."""
        body = copy.deepcopy(self._body)
        return {"id": self.id, **body, "expires_at": self.expires_at}

    # --- read accessors used by the session logic -------------------------------------------

    @property
    def input_format(self) -> dict[str, Any]:
        return self._audio_input("format") or {"type": "audio/pcm", "rate": 24000}

    @property
    def output_format(self) -> dict[str, Any]:
        output_format: dict[str, Any] = self._audio_output("format", {"type": "audio/pcm"})
        return output_format

    @property
    def voice(self) -> str:
        voice: str = self._audio_output("voice", "alloy")
        return voice

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        return self._audio_input("turn_detection")

    @property
    def transcription(self) -> dict[str, Any] | None:
        return self._audio_input("transcription")

    @property
    def noise_reduction(self) -> dict[str, Any] | None:
        return self._audio_input("noise_reduction")

    def _audio_input(self, key: str) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self._body["audio"]["input"][key]
        return value

    def _audio_output(self, key: str, default: Any) -> Any:
        return self._body.get("audio", {}).get("output", {}).get(key, default)

    def get(self, key: str, default: Any = None) -> Any:
        """A top-level field of the session (``instructions``, ``tools``, ...)."""
        return copy.deepcopy(self._body.get(key, default))

    # --- updates ------------------------------------------------------------------------------

    def merged(self, update: dict[str, Any]) -> dict[str, Any]:
        """Return the body this update would produce, without applying it.

        Raises:
            ProtocolError: if the update tries to change the session type.
        """
        new_type = update.get("type", self.type)
        if new_type != self.type:
            raise ProtocolError(
                "invalid_value",
                f"Cannot update a session's type from '{self.type}' to '{new_type}'.",
                param="session.type",
            )
        body = copy.deepcopy(self._body)
        _merge_into(body, {k: v for k, v in update.items() if k != "type"})
        return body

    def apply(self, body: dict[str, Any]) -> None:
        """Install a body previously returned by :meth:`merged`."""
        self._body = body


def _merge_into(target: dict[str, Any], update: dict[str, Any]) -> None:
    """Deep-merge ``update`` into ``target`` following the session update rules."""
    for key, value in update.items():
        if key == "turn_detection" and isinstance(value, dict):
            current = target.get(key)
            if isinstance(current, dict) and current.get("type") == value.get(
                "type", current["type"]
            ):
                current.update(value)
            else:
                fresh = copy.deepcopy(TURN_DETECTION_DEFAULTS[value.get("type", "server_vad")])
                fresh.update(value)
                target[key] = fresh
        elif (
            isinstance(value, dict)
            and key not in _REPLACED_WHOLE
            and isinstance(target.get(key), dict)
        ):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
