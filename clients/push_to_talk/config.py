"""What the voice client was asked to do: :class:`ClientConfig`, filled from the command line.

A separate module so the app, the session setup and the tests share one definition without
importing the command line parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clients.connection import DEFAULT_MODEL, DEFAULT_URL


@dataclass
class ClientConfig:
    """What the command line chose."""

    url: str = DEFAULT_URL
    model: str = DEFAULT_MODEL
    voice: str | None = None
    instructions: str | None = None
    openai: bool = False
    api_key: str | None = None
    hands_free: bool = False
    transcription_model: str = "whisper-1"
    input_wav: Path | None = None
    output_wav: Path | None = None

    @property
    def display_url(self) -> str:
        """Where we connect, for the status line."""
        return "OpenAI (api.openai.com)" if self.openai else self.url
