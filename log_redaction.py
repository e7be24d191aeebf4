"""Keeps credentials out of every log line: uvicorn's access and error logs, and our own.

uvicorn logs each request's path *with its query string*, so a client that sends ``?api_key=...``
(or an ``ek_`` secret in the path) would have it written to the log, and exception reports can
quote URLs and headers. Every line therefore goes through :func:`redact`, which replaces:

- query values whose name looks like a credential (``api_key``, ``key``, ``token``,
  ``client_secret``, ``password``, ``auth``..., any case);
- ``ek_`` client secrets and ``sk-`` style keys anywhere in the line;
- the token after ``Bearer`` and the key in the browser subprotocol
  ``openai-insecure-api-key.<key>``;
- the configured API keys (``REALTIME_API_KEYS``) verbatim, wherever they appear.

:func:`install` puts a :class:`RedactingFilter` on the handlers of uvicorn's loggers and the root
logger; :class:`RedactingSink` wraps the stream of our own (loguru) log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

__all__ = ["REDACTED", "RedactingFilter", "RedactingSink", "install", "redact"]

REDACTED = "[redacted]"
MIN_CONFIGURED_KEY_LENGTH = 6
"""Shorter configured keys are left to the patterns: replacing every "abc" would garble the log."""

_CREDENTIAL_WORDS = "key|token|secret|password|passwd|auth|signature|credential"
_CREDENTIAL_NAME = rf"[\w.\-]*?(?:{_CREDENTIAL_WORDS})[\w.\-]*"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # ?api_key=...&token=... : the query parameter's value
    (re.compile(rf"(?i)([?&;]{_CREDENTIAL_NAME}=)[^&#;\s\"']*"), rf"\1{REDACTED}"),
    (re.compile(r"\bek_[A-Za-z0-9_\-]+"), f"ek_{REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), f"sk-{REDACTED}"),
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(openai-insecure-api-key\.)[^\s\"',;]+"), rf"\1{REDACTED}"),
]
_configured_keys: list[str] = []
_exception_formatter = logging.Formatter()


def redact(text: str) -> str:
    """``text`` with every credential replaced by ``[redacted]``."""
    for key in _configured_keys:
        if key in text:
            text = text.replace(key, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_argument(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (int, float)):
        return value  # keeps %d and %f formatting working
    text = str(value)
    redacted = redact(text)
    return value if redacted == text else redacted


class RedactingFilter(logging.Filter):
    """Redacts a stdlib log record's message, arguments, traceback and stack in place.

    Arguments are redacted one by one rather than merged into the message, because uvicorn's
    access formatter reads them (client address, method, path, version, status) separately.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_argument(value) for value in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {name: _redact_argument(value) for name, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = _exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingSink:
    """A loguru sink: the formatted line (traceback included), redacted, to ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, message: str) -> None:
        self._stream.write(redact(str(message)))
        self._stream.flush()


_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "websockets")


def install(api_keys: Iterable[str]) -> None:
    """Redact ``api_keys`` (and the patterns) from every stdlib handler uvicorn logs through.

    Idempotent; call it again if the handlers change (``uvicorn`` configures them at startup,
    before the application's lifespan, where ``main.py`` calls this).
    """
    keys = {key for key in api_keys if len(key) >= MIN_CONFIGURED_KEY_LENGTH}
    _configured_keys[:] = sorted(keys, key=len, reverse=True)
    handlers = {handler for name in _LOGGERS for handler in logging.getLogger(name).handlers}
    if logging.lastResort is not None:
        handlers.add(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())
