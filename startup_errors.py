"""Start-up failures the operator can fix, reported as the one line that says how.

Why: a bad model list or provider setting found while the app starts (in its lifespan) would
reach the operator as a traceback, because Starlette hands uvicorn the formatted traceback of
whatever the lifespan raised. The lifespan raises :class:`StartupError` instead, and
:class:`OneLineStartupErrors` (ASGI middleware) hands uvicorn just its message, which uvicorn
logs before "Application startup failed. Exiting.". ``python main.py`` then exits with status 2,
like a bad flag.
"""

from __future__ import annotations

import sys
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class StartupError(Exception):
    """The app cannot start; ``str()`` is one line saying why and what to fix."""


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
