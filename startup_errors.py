"""Start-up failures the operator can fix, reported as the one line that says how.

Why: every configuration mistake (a flag, a ``REALTIME_*`` variable, the model list, a provider's
settings, the local models' install) should reach the operator as the one line that says what
to fix, never as a traceback with that line at its end.

- ``python main.py`` builds everything before uvicorn starts and prints a :class:`StartupError`
  as ``main.py: error: <the line>`` (exit status 2 for the configuration, 1 for the machine).
- ``uvicorn main:app`` builds in the app's lifespan, and Starlette would hand uvicorn the
  formatted traceback of whatever the lifespan raised. The lifespan raises
  :class:`StartupError` instead, and :class:`OneLineStartupErrors` (ASGI middleware) hands
  uvicorn just its message, which uvicorn logs before "Application startup failed. Exiting.".

:func:`settings_error_line` turns pydantic's report on the settings into that one line.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SECRET_WORDS = ("key", "secret", "token", "password", "credential")


class StartupError(Exception):
    """The app cannot start; ``str()`` is one line saying why and what to fix.

    Parameters:
        message: The line.
        status: The exit status ``main.py`` ends with: 2 for a configuration mistake, 1 for
            something about the machine (a broken model install).
    """

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(" ".join(message.split()))
        self.status = status


def settings_error_line(error: ValidationError, flags: Collection[str] = ()) -> str:
    """The first problem pydantic found in the settings, as one line naming where it was set.

    Args:
        error: What ``config.Settings()`` raised.
        flags: The settings given as command-line flags (``"port"`` for ``--port``): those are
            named as flags, the others as their ``REALTIME_*`` variable.

    Returns:
        e.g. ``REALTIME_PORT: must be less than or equal to 65535 (got '99999')``. The value of
        a setting whose name says it is a secret is never quoted.
    """
    problems = error.errors()
    first = problems[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    where = f"--{field.replace('_', '-')}" if field in flags else f"REALTIME_{field.upper()}"
    message = first["msg"].removeprefix("Value error, ")
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
        value = first.get("input")
        if isinstance(value, str | int | float) and not any(w in field for w in _SECRET_WORDS):
            message += f" (got {value!r})"
    line = f"{where}: {message}"
    if len(problems) > 1:
        more = len(problems) - 1
        line += f" (and {more} more problem{'s' if more > 1 else ''})"
    return line


class OneLineStartupErrors:
    """Replaces the traceback of a :class:`StartupError` in ``lifespan.startup.failed``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_one_line(message: Message) -> None:
            # Starlette sends the failure from inside its `except` block: the error is current.
            error: Any = sys.exc_info()[1]
            if message["type"] == "lifespan.startup.failed" and isinstance(error, StartupError):
                message = {**message, "message": str(error)}
            await send(message)

        await self.app(scope, receive, send_one_line)
