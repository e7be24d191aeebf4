"""What the log says about one session: its id on every line of its work, a line when it starts
and a line when it ends (how long, how many responses, how it was closed). Never its content:
no transcript, text, instructions or tool arguments is ever part of these lines.

Both transports use it (:mod:`transport.websocket`, :mod:`transport.webrtc.call`)::

    with session_log.context():          # every line written inside names the session
        session_log.started()
        ...                              # session_log.note(event) for each server event
        session_log.ended("the connection closed: 1000 (normal closure)")
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from loguru import logger

from log_setup import session_context

__all__ = ["SessionLog"]

MAX_NAME_CHARS = 64
"""A model name or close reason comes from the client: logged at most this long."""


def quoted(text: str) -> str:
    """``text`` as a short quoted string (it may come from a client)."""
    if len(text) > MAX_NAME_CHARS:
        text = text[:MAX_NAME_CHARS] + "..."
    return repr(text)


class SessionLog:
    """The log lines of one session.

    Parameters:
        session_id: The session's id (``sess_...``), the third column of its lines.
        transport: ``websocket`` or ``webrtc``.
        model: The model name the session was opened with.
        entry: The name of the model-list entry serving it.
    """

    def __init__(self, session_id: str, *, transport: str, model: str, entry: str) -> None:
        self.session_id = session_id
        self._transport = transport
        self._model = model
        self._entry = entry
        self._opened = time.monotonic()
        self.responses = 0

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """Every line written inside (and in the tasks started inside) names the session."""
        with session_context(self.session_id):
            yield

    def started(self, detail: str = "") -> None:
        """The session's first line: transport and model."""
        served = "" if self._entry == self._model else f" (served by {quoted(self._entry)})"
        logger.info(
            f"session started: {self._transport}, model {quoted(self._model)}{served}"
            + (f", {detail}" if detail else "")
        )

    def note(self, event: dict[str, Any]) -> None:
        """Count what the session sends that the end line reports (its responses)."""
        if event.get("type") == "response.done":
            self.responses += 1

    def ended(self, how: str) -> None:
        """The session's last line: ``session ended after 12.3 s, 2 responses: <how>``."""
        elapsed = time.monotonic() - self._opened
        responses = f"{self.responses} response{'' if self.responses == 1 else 's'}"
        logger.info(f"session ended after {elapsed:.1f} s, {responses}: {how}")


CLOSE_CODE_MEANINGS = {
    1000: "normal closure",
    1001: "going away",
    1005: "no close code",
    1006: "connection lost without a close frame",
    1008: "policy violation",
    1009: "message too big",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
}


def close_description(code: int | None, reason: str, *, by_server: bool) -> str:
    """How a WebSocket session ended, for its last line.

    Args:
        code: The close code (None: none known).
        reason: The close reason (may be empty).
        by_server: The session decided to close (its limits, the driver); else the connection
            closed under it: the client closed it, it was lost, or the server is shutting down
            (1012), which the session cannot tell apart.

    Returns:
        ``the server closed it: 1000 'session expired'`` or ``the connection closed: 1000
        (normal closure)``.
    """
    who = "the server closed it" if by_server else "the connection closed"
    if code is None:
        return f"{who} without a close code"
    what = quoted(reason) if reason else f"({CLOSE_CODE_MEANINGS.get(code, 'close code')})"
    return f"{who}: {code} {what}"
