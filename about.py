"""The project's name and version, read from ``pyproject.toml`` (the one place the version is
written), with nothing heavier than the standard library: ``python main.py --version`` answers
in the time Python takes to start."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

__all__ = ["NAME", "version"]

NAME = "realtime-voice-server"
"""The project's name (``pyproject.toml``'s ``[project] name``; also the cache directory's)."""

_PYPROJECT = Path(__file__).resolve().parent / "pyproject.toml"


@lru_cache
def version() -> str:
    """``[project] version`` of ``pyproject.toml``, or ``"unknown"`` if it cannot be read."""
    try:
        with _PYPROJECT.open("rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return "unknown"
