"""The local voices behind one interface: a Piper voice or an espeak-ng voice, by reference.

Why a module: the TTS service (:mod:`.piper_tts`) speaks each sentence with the voice of its
language and does not care what kind of voice that is; loading a voice by the name a setting
gives it (:func:`load_speaker`) is the one place that knows the kinds.

A reference is ``espeak:NAME`` (an espeak-ng voice, :mod:`.espeak_tts`) or any Piper voice
reference (:mod:`.model_refs`: a packaged name, an ``.onnx`` path, a Hugging Face repo). Every
:class:`Speaker` is loaded once per process and shared by all sessions (``LocalModels.speaker``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from .espeak_tts import ESPEAK_PREFIX, EspeakVoice
from .model_refs import resolve_model, verify_model

if TYPE_CHECKING:
    from piper import PiperVoice


class Speaker(Protocol):
    """A loaded voice: its name, its sample rate, and 16-bit mono PCM for a sentence."""

    @property
    def name(self) -> str:
        """The voice as a setting names it."""
        ...

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM :meth:`stream` yields."""
        ...

    def stream(self, text: str) -> AsyncIterator[bytes]:
        """The sentence's audio, chunk by chunk, off the event loop."""
        ...


class PiperSpeaker:
    """A loaded ``PiperVoice``, synthesising chunk by chunk in worker threads.

    piper-tts (and the espeak-ng it embeds for phonemes) is GPL-3.0-or-later.
    """

    def __init__(self, voice: PiperVoice, name: str) -> None:
        """Wrap a loaded voice (shared, never copied)."""
        self.voice = voice
        self._name = name

    @property
    def name(self) -> str:
        """The voice's name (``en_US-joe-medium``)."""
        return self._name

    @property
    def sample_rate(self) -> int:
        """The voice's native rate (22050 Hz for en_US-joe-medium)."""
        return int(self.voice.config.sample_rate)

    async def stream(self, text: str) -> AsyncIterator[bytes]:
        """Piper's audio chunks (a chunk per sentence Piper finds in ``text``)."""
        chunks = iter(self.voice.synthesize(text))
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            yield chunk.audio_int16_bytes


def load_speaker(reference: str, loaded: dict[str, PiperVoice] | None = None) -> Speaker:
    """Load a voice by reference (blocking; a Piper voice from a repo is fetched on first use).

    Args:
        reference: ``espeak:NAME``, or a Piper voice reference (:mod:`.model_refs`).
        loaded: Piper voices already loaded, by the real path of their ``.onnx`` (reused, not
            loaded again).

    Raises:
        LocalModelError: The voice is unknown, its files are missing or corrupt, or espeak-ng
            cannot speak it.
    """
    if reference.startswith(ESPEAK_PREFIX):
        return EspeakVoice.load(reference.removeprefix(ESPEAK_PREFIX))
    resolved = resolve_model("piper", reference)
    voice = (loaded or {}).get(os.path.realpath(resolved.path))
    if voice is None:
        from piper import PiperVoice

        verify_model(resolved)
        voice = PiperVoice.load(resolved.path, config_path=resolved.config_path)
    return PiperSpeaker(voice, resolved.label)
