#!/usr/bin/env python
"""A push-to-talk terminal client for the Realtime API (our server or OpenAI's).

Press ``K`` to start talking, ``K`` again to send the turn, ``C`` to interrupt the assistant and
``Q`` to quit. It speaks the standard protocol through the official ``openai`` SDK
(``AsyncOpenAI().realtime.connect``), so the same program works against this server and, with
``--openai``, against OpenAI's API.

    python push_to_talk_app.py                          # ws://localhost:8000/v1/realtime
    python push_to_talk_app.py --url ws://gpu-box:8000/v1/realtime --voice marin
    python push_to_talk_app.py --hands-free             # server VAD decides when you stopped
    python push_to_talk_app.py --openai                 # OpenAI's API, key from OPENAI_API_KEY
    python push_to_talk_app.py --input-wav question.wav --output-wav reply.wav   # no sound card

Audio devices need the client extras (``pip install -r requirements-client.txt``, plus PortAudio);
``sounddevice`` is imported only when a device is really used, so the server install never needs
PortAudio. Without a usable device the app says so and can run from WAV files instead.

The code is in ``clients/push_to_talk/`` (see ``docs/clients.md``); this file is the entry point.
"""

from __future__ import annotations

import sys

CLIENT_EXTRAS = {"openai", "rich", "textual"}
"""Packages the app imports that a server-only install may lack."""

try:
    from clients.push_to_talk.cli import main
except ImportError as missing:  # pragma: no cover - depends on the install
    if (missing.name or "").split(".")[0] not in CLIENT_EXTRAS:
        raise
    raise SystemExit(
        f"push_to_talk_app.py needs the client extras ({missing.name} is missing): "
        "pip install -r requirements-client.txt"
    ) from missing

if __name__ == "__main__":
    sys.exit(main())
