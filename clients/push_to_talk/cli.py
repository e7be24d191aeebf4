"""The voice client's command line: options, choosing the audio devices, running the app.

``push_to_talk_app.py`` at the top of the repository calls :func:`main`; the options and the
messages about missing devices are documented in ``docs/clients.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from clients.connection import DEFAULT_MODEL, DEFAULT_URL
from clients.push_to_talk.app import RealtimeApp
from clients.push_to_talk.audio_io import AudioSink, AudioSource, AudioUnavailable
from clients.push_to_talk.config import ClientConfig
from clients.push_to_talk.devices import MicrophoneSource, SpeakerSink, probe_device
from clients.push_to_talk.files import WavFileSink, WavFileSource
from clients.push_to_talk.playback import NullSink

DESCRIPTION = "A push-to-talk terminal client for the Realtime API (our server or OpenAI's)."


def parse_args(argv: list[str] | None = None) -> ClientConfig:
    """The command line as a :class:`ClientConfig`."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"server (default {DEFAULT_URL})")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model (default {DEFAULT_MODEL})")
    parser.add_argument("--voice", help="assistant voice (default: the server's)")
    parser.add_argument("--instructions", help="system instructions for the session")
    parser.add_argument(
        "--openai", action="store_true", help="use OpenAI's API (key from OPENAI_API_KEY)"
    )
    parser.add_argument(
        "--api-key", help="API key (default: $REALTIME_API_KEY, or $OPENAI_API_KEY with --openai)"
    )
    parser.add_argument(
        "--hands-free", action="store_true", help="server VAD decides when a turn ends"
    )
    parser.add_argument("--transcription-model", default="whisper-1", help="input transcription")
    parser.add_argument(
        "--input-wav", type=Path, help="speak this 24 kHz mono PCM16 WAV instead of the microphone"
    )
    parser.add_argument(
        "--output-wav", type=Path, help="save the reply audio here instead of playing it"
    )
    args = parser.parse_args(argv)
    if args.openai and not (args.api_key or os.environ.get("OPENAI_API_KEY")):
        parser.error("--openai needs OPENAI_API_KEY in the environment (or --api-key)")
    return ClientConfig(**{k: v for k, v in vars(args).items() if v is not None})


def open_audio(config: ClientConfig) -> tuple[AudioSource | None, AudioSink, list[str]]:
    """The audio source and sink for ``config``, and notes about missing devices."""
    notes: list[str] = []
    source: AudioSource | None
    if config.input_wav is not None:
        source = WavFileSource(config.input_wav)
    else:
        try:
            probe_device("input")
            source = MicrophoneSource()
        except AudioUnavailable as error:
            source = None
            notes.append(f"No microphone: {error}. Use --input-wav FILE to speak from a WAV file.")
    sink: AudioSink
    if config.output_wav is not None:
        sink = WavFileSink(config.output_wav)
    else:
        try:
            probe_device("output")
            sink = SpeakerSink()
        except AudioUnavailable as error:
            sink = NullSink()
            notes.append(
                f"No speaker: {error}. Replies are shown, not played; --output-wav FILE saves them."
            )
    return source, sink, notes


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the process exit code."""
    config = parse_args(argv)
    try:
        source, sink, notes = open_audio(config)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for note in notes:
        print(note, file=sys.stderr)
    RealtimeApp(config, source=source, sink=sink, notes=notes).run()
    return 0
