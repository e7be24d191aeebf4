"""The local profile's text-to-speech: Pipecat's Piper service on the shared Piper voice.

Why a module: one Pipecat service per module, as in Pipecat's own layout. Synthesis runs
sentence by sentence in ``asyncio.to_thread`` (Pipecat's ``PiperTTSService``), never on the
event loop. piper-tts (and the espeak-ng it embeds) is GPL-3.0-or-later.
"""

from __future__ import annotations

from typing import Any

from pipecat.services.piper.tts import PiperTTSService, PiperTTSSettings
from pipecat.services.tts_service import TTSService
from piper import PiperVoice

from .models import LocalModels


class LocalPiperTTSService(PiperTTSService):
    """Pipecat's in-process Piper TTS service, using a voice that is already loaded.

    ``PiperTTSService.__init__`` downloads the voice unless it is in its cache directory
    and then loads a new ``PiperVoice`` per instance, so this class skips it and calls
    ``TTSService.__init__`` with the same arguments; everything else (``run_tts``,
    resampling from 22.05 kHz to the pipeline output rate) is inherited unchanged.

    piper-tts (and the espeak-ng it embeds) is GPL-3.0-or-later.
    """

    def __init__(
        self,
        *,
        voice: PiperVoice,
        voice_name: str,
        settings: PiperTTSSettings | None = None,
        **kwargs: Any,
    ):
        """Initialize the service around a loaded voice.

        Args:
            voice: A loaded ``piper.PiperVoice``, shared, never copied.
            voice_name: Voice name stored in the settings (e.g. ``en_US-joe-medium``).
            settings: Settings delta applied over the defaults. Changing ``voice`` at run
                time is only stored, as in the parent: the loaded voice keeps speaking.
            **kwargs: Passed to ``TTSService`` (e.g. ``sample_rate``).
        """
        merged = self.Settings(model=None, voice=voice_name, language=None)
        if settings is not None:
            merged.apply_update(settings)
        # Deliberately NOT PiperTTSService.__init__ (download + per-instance load); keep
        # these arguments in step with it when upgrading Pipecat.
        TTSService.__init__(
            self,
            push_start_frame=True,
            push_stop_frames=True,
            settings=merged,
            **kwargs,
        )
        self._voice = voice


def create_tts(
    models: LocalModels,
    *,
    settings: PiperTTSSettings | None = None,
    **kwargs: Any,
) -> LocalPiperTTSService:
    """Create a per-session Piper TTS service around the shared voice.

    Args:
        models: The shared models.
        settings: Settings delta.
        **kwargs: Passed to ``TTSService`` (e.g. ``sample_rate``; by default the
            pipeline's output rate, to which the 22.05 kHz voice is resampled).

    Returns:
        A new service wrapping ``models.piper``.
    """
    return LocalPiperTTSService(
        voice=models.piper, voice_name=models.piper_voice_name, settings=settings, **kwargs
    )
