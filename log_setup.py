"""How the server writes its log: one line format, the session on every line of a session's work.

Why a module: ``main.py`` sets the log up before anything heavy is imported (its first line comes
at once), the app's lifespan sets it up when uvicorn runs the app itself (``uvicorn main:app``),
and the transports mark their sessions' lines; all three need the same format. The lines are::

    2026-12-02 17:06:22.110 | INFO     | ready: ws://127.0.0.1:8000/v1/realtime (models: ...)
    2026-12-02 17:06:25.020 | INFO     | sess_idTFyNFrb0NE8ut2E73Jo | session started: ...

A line written while a session is at work (in its task, a task it started, or a thread it started
with ``asyncio.to_thread``) carries the session's id in the third column (:func:`session_context`).
At ``debug`` the line also says where it was written (``module:function:line``). Every line goes
through :mod:`log_redaction`.

Under ``python main.py`` uvicorn's own lines (access log, errors) are written in the same format
(:func:`configure` with ``stdlib=True``), and its start-up and shutdown chatter, which the
server's own lines replace, only at ``debug``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

from loguru import logger

from log_redaction import RedactingSink

__all__ = ["configure", "session_context"]

_QUIET_UVICORN_LINES = frozenset(
    {
        "Started server process [%d]",
        "Waiting for application startup.",
        "Application startup complete.",
        "Waiting for application shutdown.",
        "Application shutdown complete.",
        # websockets' own, one per connection with nothing to tell them apart: the sessions'
        # start and end lines say more.
        "connection open",
        "connection closed",
    }
)
_verbose = False
"""Whether the level is debug or trace: then every line says where it was written."""


def _format(record: Any) -> str:
    line = "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    if record["extra"].get("session"):
        line += "<cyan>{extra[session]}</cyan> | "
    if _verbose:
        line += "{name}:{function}:{line} - "
    return line + "{message}\n{exception}"


def _keep(record: Any) -> bool:
    # Pipecat greets with an ASCII-art banner when it is imported: not news to an operator.
    return _verbose or not (record["name"] == "pipecat" and record["function"] == "<module>")


class _ToLoguru(logging.Handler):
    """Writes the standard library's records (uvicorn's) through loguru, in the same format."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if not _verbose and record.msg in _QUIET_UVICORN_LINES and record.levelno <= 20:
                return
            try:
                level: str | int = logger.level(record.levelname).name
            except ValueError:
                level = record.levelno

            def where(line: Any) -> None:  # the module, function and line of the record's call
                line.update(name=record.name, function=record.funcName, line=record.lineno)

            logger.patch(where).opt(exception=record.exc_info or None).log(
                level, record.getMessage()
            )
        except Exception:
            self.handleError(record)


def configure(level: str, *, stdlib: bool = False) -> None:
    """Write the log to stderr at ``level`` (one of ``config.LOG_LEVELS``), in this module's format.

    Args:
        level: The lowest level written.
        stdlib: Also write the standard library's log (uvicorn's loggers, other libraries'
            warnings, Python's ``warnings``) in this format: for ``main.py``, which gives uvicorn
            no logging config of its own. Idempotent.
    """
    global _verbose
    _verbose = level.lower() in ("debug", "trace")
    logger.remove()
    # diagnose=False: loguru would print variable values, keys included, in tracebacks.
    logger.add(
        RedactingSink(sys.stderr),
        level=level.upper(),
        format=_format,
        filter=_keep,
        colorize=sys.stderr.isatty(),
        diagnose=False,
    )
    if stdlib:
        root = logging.getLogger()
        if not any(isinstance(handler, _ToLoguru) for handler in root.handlers):
            root.addHandler(_ToLoguru())
        logging.captureWarnings(True)  # Python's warnings (deprecations) as log lines too


@contextlib.contextmanager
def session_context(session_id: str) -> Iterator[None]:
    """Every line written inside (in this task, and the tasks it starts) names the session."""
    with logger.contextualize(session=session_id):
        yield
