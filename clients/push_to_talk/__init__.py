"""The push-to-talk voice client (``push_to_talk_app.py``), split by role.

- :mod:`.app`: the Textual app (screen, keys, connection loop, recording, barge-in),
- :mod:`.handlers`: what each server event does to the screen and the playback,
- :mod:`.widgets`: the status line, the recording meter and the turn views,
- :mod:`.playback`: the playback queue and the barge-in bookkeeping (what was heard),
- :mod:`.devices`: microphone and speaker through ``sounddevice``, imported lazily,
- :mod:`.files`: WAV file input and output for machines without a sound card,
- :mod:`.audio_io`: the ``AudioSource`` and ``AudioSink`` interfaces,
- :mod:`.session`: the SDK client, ``session.update``, reconnect backoff, close reasons,
- :mod:`.event_log`: the event record tests wait on,
- :mod:`.config` and :mod:`.cli`: the options and the command line.

Importing this package needs the client extras (Textual, Rich); see ``docs/clients.md``. Tests
that fake the sound card patch ``clients.push_to_talk.devices.load_sounddevice``.
"""

from __future__ import annotations

from clients.push_to_talk.app import MIN_COMMIT_MS, RealtimeApp
from clients.push_to_talk.audio_io import AudioSink, AudioSource, AudioUnavailable
from clients.push_to_talk.cli import main, open_audio, parse_args
from clients.push_to_talk.config import ClientConfig
from clients.push_to_talk.devices import MicrophoneSource, SpeakerSink
from clients.push_to_talk.event_log import ClientEvent, EventLog
from clients.push_to_talk.files import WavFileSink, WavFileSource
from clients.push_to_talk.playback import ClockedSink, NullSink, PlaybackQueue, PlaybackTracker
from clients.wav import BYTES_PER_MS, CHUNK_BYTES, CHUNK_MS, SAMPLE_RATE

__all__ = [
    "BYTES_PER_MS",
    "CHUNK_BYTES",
    "CHUNK_MS",
    "MIN_COMMIT_MS",
    "SAMPLE_RATE",
    "AudioSink",
    "AudioSource",
    "AudioUnavailable",
    "ClientConfig",
    "ClientEvent",
    "ClockedSink",
    "EventLog",
    "MicrophoneSource",
    "NullSink",
    "PlaybackQueue",
    "PlaybackTracker",
    "RealtimeApp",
    "SpeakerSink",
    "WavFileSink",
    "WavFileSource",
    "main",
    "open_audio",
    "parse_args",
]
