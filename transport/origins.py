"""Which browser origins may use the server: the WebSocket and the endpoints that mint secrets.

A browser lets any web page open a WebSocket to any host, ``ws://127.0.0.1:8000`` included, and
send simple cross-site POSTs; it only tells the server where the page came from, in ``Origin``.
With no API keys configured, a server on a developer's machine would therefore take orders from
any page its user visits (or, by DNS rebinding, from any site at all). So:

- ``REALTIME_ALLOWED_ORIGINS`` set: only those origins (``*``: any);
- else, with API keys set: any origin (a page still needs a key, which it cannot read from here);
- else: only loopback pages, ``http(s)://localhost``, ``127.0.0.1`` (any 127.x.y.z) or ``[::1]``
  on any port, such as the console this server serves itself.

A request without ``Origin`` is not a browser's cross-site request (SDKs, curl, the terminal
clients) and is always allowed: the origin check protects browser users, keys protect the server.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from config import Settings

ANY_ORIGIN = "*"
LOOPBACK_NAMES = {"localhost"}


def is_loopback_origin(origin: str) -> bool:
    """``http(s)://`` on localhost, a 127.x.y.z address or [::1], any port."""
    try:
        parts = urlsplit(origin)
        host, _port = parts.hostname, parts.port  # .port raises ValueError if malformed
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_allowed(origin: str | None, settings: Settings, *, keys_set: bool) -> bool:
    """Whether a request with this ``Origin`` header may proceed (see the module docstring)."""
    if origin is None:
        return True
    allowed = settings.origin_list()
    if allowed:
        return ANY_ORIGIN in allowed or origin.rstrip("/").lower() in {
            entry.lower() for entry in allowed
        }
    return keys_set or is_loopback_origin(origin)


def refusal_reason(settings: Settings) -> str:
    """Why an origin was refused, for the log and the HTTP error message."""
    if settings.origin_list():
        return "not in REALTIME_ALLOWED_ORIGINS"
    return (
        "not a loopback origin, and the server has no API keys: set REALTIME_ALLOWED_ORIGINS "
        "or REALTIME_API_KEYS to accept other pages"
    )
