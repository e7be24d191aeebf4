"""Where a client connects: the server's URLs and the ``openai`` SDK client for them.

Both clients take a Realtime URL such as ``ws://localhost:8000/v1/realtime`` and talk through
``AsyncOpenAI(...).realtime.connect(model=...)``. The SDK wants that URL split (it appends
``/realtime`` itself), an HTTP base URL and an API key; this module does that once for both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from openai import AsyncOpenAI

DEFAULT_URL = "ws://localhost:8000/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"
LOCAL_API_KEY = "sk-local"
"""Sent when no key is configured: a server without API keys accepts any."""


@dataclass(frozen=True)
class ServerUrls:
    """The URLs of one server, derived from its Realtime URL."""

    websocket_base: str
    """The SDK's ``websocket_base_url``: the Realtime URL without ``/realtime``."""
    http_base: str
    """The SDK's ``base_url``: the same path over HTTP (``http://host:port/v1``)."""
    http_root: str
    """The server's root over HTTP, where ``/health`` lives."""


def server_urls(url: str) -> ServerUrls:
    """The :class:`ServerUrls` of ``ws://host:port/v1/realtime`` (``http(s)://`` works too)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/realtime"):
        path = path[: -len("/realtime")]
    ws_scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    http_scheme = {"ws": "http", "wss": "https"}.get(ws_scheme, "http")
    return ServerUrls(
        websocket_base=urlunsplit((ws_scheme, parts.netloc, path, "", "")),
        http_base=urlunsplit((http_scheme, parts.netloc, path, "", "")),
        http_root=urlunsplit((http_scheme, parts.netloc, "", "", "")),
    )


def server_api_key(api_key: str | None = None) -> str:
    """The key for our server: ``api_key``, else ``$REALTIME_API_KEY``, else a placeholder."""
    return api_key or os.environ.get("REALTIME_API_KEY") or LOCAL_API_KEY


def make_client(url: str, api_key: str | None = None, *, max_retries: int = 2) -> AsyncOpenAI:
    """An SDK client whose Realtime connections go to the server at ``url``.

    ``max_retries`` applies to the SDK's HTTP requests (2 is the SDK's default).
    """
    urls = server_urls(url)
    return AsyncOpenAI(
        api_key=server_api_key(api_key),
        base_url=urls.http_base,
        websocket_base_url=urls.websocket_base,
        max_retries=max_retries,
    )


def make_openai_client(api_key: str | None = None) -> AsyncOpenAI:
    """An SDK client for OpenAI's own API (key: ``api_key``, else ``$OPENAI_API_KEY``)."""
    return AsyncOpenAI(api_key=api_key or os.environ.get("OPENAI_API_KEY"))
