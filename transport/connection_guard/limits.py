"""The limits the guard enforces, and fitting the connection limit to the open-file limit."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from loguru import logger

from config import Settings

OPEN_FILE_RESERVE = 128
"""Files kept free for everything that is not a client connection: models, logs, the listening
socket, connections to remote providers, the connections being refused or evicted right now."""


@dataclass(frozen=True)
class EdgeLimits:
    """The limits the guard enforces (see ``config.py``, section "connection limits")."""

    request_timeout_s: float = 10.0
    max_connections: int = 1000
    max_waiting_per_address: int = 32
    max_header_bytes: int = 16 * 1024
    close_timeout_s: float = 5.0
    send_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeLimits:
        """The settings' limits, with the connection limit fitted to the open-file limit."""
        return cls(
            request_timeout_s=settings.request_timeout_s,
            max_connections=fit_to_open_file_limit(settings.max_connections),
            max_waiting_per_address=settings.max_waiting_per_address,
            max_header_bytes=settings.max_header_bytes,
            close_timeout_s=settings.close_timeout_s,
            send_timeout_s=settings.send_timeout_s,
        )


def fit_to_open_file_limit(wanted: int) -> int:
    """``wanted`` connections, or fewer if the process may not open that many files.

    The soft open-file limit is first raised to the hard limit (as Go's runtime does): every
    socket is a file, and the 1,024 many systems default to is a limit nobody chose for a server.
    What is left after the files already open and :data:`OPEN_FILE_RESERVE` bounds the
    connections, so a full server still has the files to answer ``/health`` and refuse politely.
    """
    try:
        import resource
    except ImportError:  # not a Unix system
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY
    if soft != infinity and (hard == infinity or soft < hard):
        target = hard if hard != infinity else max(soft, wanted + 4 * OPEN_FILE_RESERVE)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == infinity:
        return wanted
    room = soft - _open_file_count() - OPEN_FILE_RESERVE
    fitted = max(1, min(wanted, room))
    if fitted < wanted:
        logger.warning(
            f"REALTIME_MAX_CONNECTIONS {wanted} lowered to {fitted}: the open-file limit is {soft} "
            "(raise it with ulimit -n)"
        )
    return fitted


def _open_file_count() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
