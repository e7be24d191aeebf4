"""``test_client.py``'s command line: the automatic check by default, the chat with ``-i``.

Exit codes: 0 when no step failed (passed, or skipped because the model cannot do it) or the
chat ended normally, 1 otherwise, 130 when the chat is interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from clients.check.chat import interactive
from clients.check.steps import DEFAULT_WAV, Checker
from clients.connection import DEFAULT_URL

DESCRIPTION = "Check a running Realtime server end to end, or chat with it in the terminal."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"server (default {DEFAULT_URL})")
    parser.add_argument("-i", "--interactive", action="store_true", help="chat in the terminal")
    parser.add_argument("--wav", type=Path, default=DEFAULT_WAV, help="24 kHz mono PCM16 WAV")
    parser.add_argument("--save-audio", type=Path, metavar="DIR", help="-i: save replies here")
    parser.add_argument("--api-key", help="API key (default: $REALTIME_API_KEY or sk-local)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait per event")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if args.interactive:
        try:
            return asyncio.run(interactive(args.url, args.api_key, args.save_audio, args.timeout))
        except KeyboardInterrupt:
            return 130
    checker = Checker(args.url, args.wav, args.api_key, args.timeout, sys.stdout)
    return 0 if asyncio.run(checker.run()) else 1
