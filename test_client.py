#!/usr/bin/env python
"""Check a running Realtime server end to end, or chat with it in the terminal.

    python test_client.py                      # automatic check of ws://localhost:8000/v1/realtime
    python test_client.py --url ws://HOST:PORT/v1/realtime --wav my_question.wav
    python test_client.py -i                   # interactive text chat
    python test_client.py -i --save-audio replies/   # ... saving each spoken reply as a WAV

The automatic check runs five steps (health, session, a text turn, an audio turn from a WAV file, a
tool call round trip), prints each with PASS/FAIL/SKIP and its timing, and exits 0 unless a step
failed (a step the model cannot do, such as a tool call on a model that cannot call tools, is
skipped).
It needs nothing beyond the server's own requirements (the official ``openai`` SDK).

The code is in ``clients/check/`` (see ``docs/clients.md``); this file is the entry point.
"""

from __future__ import annotations

import sys

from clients.check.cli import main

if __name__ == "__main__":
    sys.exit(main())
