"""Which voice of the configured TTS speaks a session's voice name.

The Realtime API names voices ``alloy``, ``ash``, ``ballad``, ``coral``, ``echo``, ``sage``,
``shimmer``, ``verse``, ``marin`` and ``cedar`` (and clients may send any string). Each TTS provider
has its own voices, so the session's (or the response's) voice is mapped per provider:

| session | OpenAI | OpenAI tts-1 | ElevenLabs (default table)        | local (Piper)    |
| ------- | ------ | ------------ | --------------------------------- | ---------------- |
| alloy   | alloy  | alloy        | River    ``SAz9YHcvj6GT2YYXdXww`` | en_US-joe-medium |
| ash     | ash    | ash          | Brian    ``nPczCjzI2devNBz1zQrb`` | en_US-joe-medium |
| ballad  | ballad | fable        | George   ``JBFqnCBsd6RMkjVDRZzb`` | en_US-joe-medium |
| coral   | coral  | coral        | Jessica  ``cgSgspJ2msm6clMCkdW9`` | en_US-joe-medium |
| echo    | echo   | echo         | Eric     ``cjVigY5qzO86Huf0OWal`` | en_US-joe-medium |
| sage    | sage   | sage         | Alice    ``Xb7hH8MSUJpSbSDYk0k2`` | en_US-joe-medium |
| shimmer | shimmer| shimmer      | Lily     ``pFZP5JQG7iQjIQuC4Bku`` | en_US-joe-medium |
| verse   | verse  | echo         | Chris    ``iP95p4xoKVk53GoZ742B`` | en_US-joe-medium |
| marin   | marin  | coral        | Sarah    ``EXAVITQu4vr4xnSDxMaL`` | en_US-joe-medium |
| cedar   | cedar  | onyx         | Daniel   ``onwK4e9ZLuTAKqWW03F9`` | en_US-joe-medium |

"OpenAI" is ``gpt-4o-mini-tts`` (the default) and any other model; "OpenAI tts-1" is ``tts-1`` and
``tts-1-hd``, which lack four of the Realtime voices. Any other session voice: OpenAI keeps it if it
has it (``fable``, ``nova``, ``onyx``; tts-1 likewise), else ``alloy``; ElevenLabs keeps it if it
looks like a voice id (20 letters and digits), else River; Piper always speaks its one voice.

- OpenAI: Pipecat's ``OpenAITTSService`` only accepts OpenAI's voice names (it rejects anything
  else before sending), so OpenAI-compatible servers get OpenAI names too and must accept them
  (many map them to voices of their own).
- ElevenLabs: ``REALTIME_ELEVENLABS_VOICE_ID``, when set, speaks every session voice; otherwise the
  table above (ElevenLabs' premade voices, available to every account).
- local and mock: one voice each (the packaged Piper voice; the mock's tone), so the session voice
  changes nothing.
"""

from __future__ import annotations

import re

REALTIME_VOICES: tuple[str, ...] = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
"""The voice names of the Realtime API."""

OPENAI_TTS_VOICES: frozenset[str] = frozenset(
    {
        "alloy",
        "ash",
        "ballad",
        "cedar",
        "coral",
        "echo",
        "fable",
        "marin",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
    }
)
"""Voices of OpenAI's ``gpt-4o-mini-tts`` (the set Pipecat's ``OpenAITTSService`` accepts)."""

OPENAI_TTS1_VOICES: frozenset[str] = frozenset(
    {"alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"}
)
"""Voices of OpenAI's older ``tts-1`` and ``tts-1-hd`` models."""

OPENAI_TTS1_FALLBACK: dict[str, str] = {
    "ballad": "fable",
    "verse": "echo",
    "marin": "coral",
    "cedar": "onyx",
}
"""Realtime voices that ``tts-1``/``tts-1-hd`` lack, mapped to a similar voice they have."""

OPENAI_DEFAULT_VOICE = "alloy"

ELEVENLABS_VOICE_IDS: dict[str, str] = {
    "alloy": "SAz9YHcvj6GT2YYXdXww",  # River
    "ash": "nPczCjzI2devNBz1zQrb",  # Brian
    "ballad": "JBFqnCBsd6RMkjVDRZzb",  # George
    "coral": "cgSgspJ2msm6clMCkdW9",  # Jessica
    "echo": "cjVigY5qzO86Huf0OWal",  # Eric
    "sage": "Xb7hH8MSUJpSbSDYk0k2",  # Alice
    "shimmer": "pFZP5JQG7iQjIQuC4Bku",  # Lily
    "verse": "iP95p4xoKVk53GoZ742B",  # Chris
    "marin": "EXAVITQu4vr4xnSDxMaL",  # Sarah
    "cedar": "onwK4e9ZLuTAKqWW03F9",  # Daniel
}
"""Default ElevenLabs premade voice per Realtime voice (used without a configured voice id)."""

ELEVENLABS_DEFAULT_VOICE_ID = ELEVENLABS_VOICE_IDS["alloy"]

PIPER_VOICE = "en_US-joe-medium"
"""The one voice the local profile ships."""

_ELEVENLABS_ID = re.compile(r"^[A-Za-z0-9]{20}$")


def _is_tts1(model: str | None) -> bool:
    return model is not None and model.startswith("tts-1")


def openai_voice(voice: str, model: str | None = None) -> str:
    """The OpenAI TTS voice for a session voice.

    Args:
        voice: The session's (or response's) voice name.
        model: The OpenAI TTS model; ``tts-1``/``tts-1-hd`` have fewer voices.

    Returns:
        A voice the model has (see the module's table).
    """
    name = (voice or "").strip().lower()
    if _is_tts1(model):
        if name in OPENAI_TTS1_VOICES:
            return name
        return OPENAI_TTS1_FALLBACK.get(name, OPENAI_DEFAULT_VOICE)
    return name if name in OPENAI_TTS_VOICES else OPENAI_DEFAULT_VOICE


def elevenlabs_voice(voice: str, configured_voice_id: str | None = None) -> str:
    """The ElevenLabs voice id for a session voice.

    Args:
        voice: The session's (or response's) voice name.
        configured_voice_id: ``REALTIME_ELEVENLABS_VOICE_ID``; when set it is always used.

    Returns:
        An ElevenLabs voice id.
    """
    if configured_voice_id:
        return configured_voice_id
    name = (voice or "").strip()
    if name.lower() in ELEVENLABS_VOICE_IDS:
        return ELEVENLABS_VOICE_IDS[name.lower()]
    if _ELEVENLABS_ID.match(name):
        return name  # already an ElevenLabs voice id
    return ELEVENLABS_DEFAULT_VOICE_ID


def piper_voice(voice: str) -> str:
    """The Piper voice for a session voice: always the packaged one.

    Args:
        voice: The session's voice name (ignored).

    Returns:
        :data:`PIPER_VOICE`.
    """
    return PIPER_VOICE
