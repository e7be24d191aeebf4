"""Authentication: API keys and short-lived ``ek_`` client secrets.

Clients authenticate like they do with OpenAI: ``Authorization: Bearer <key>``, or (browsers,
which cannot set headers) the subprotocol ``openai-insecure-api-key.<key>``. A client secret minted
by ``POST /v1/realtime/client_secrets`` (or the beta ``POST /v1/realtime/sessions``) is accepted the
same way, once, before it expires, and opens a session with the configuration it was minted with.

Keys are compared in constant time and never logged. With no keys configured, authentication is
off (the default for local use on 127.0.0.1); client secrets still work then, for their session
configuration.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

SUBPROTOCOL_KEY_PREFIX = "openai-insecure-api-key."
CLIENT_SECRET_PREFIX = "ek_"
AUTH_FAILED_CLOSE_CODE = 3000


@dataclass(frozen=True)
class ClientSecret:
    """A minted, not yet used client secret."""

    value: str
    expires_at: float
    session: dict[str, Any] | None
    """A GA ``session.update`` body applied when the session opens (``None``: defaults)."""


class ClientSecretStore:
    """Single-use, expiring ``ek_`` secrets held in memory."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._secrets: dict[str, ClientSecret] = {}

    def mint(self, session: dict[str, Any] | None, ttl_s: float) -> ClientSecret:
        """Create a secret that opens one session with ``session`` within ``ttl_s`` seconds."""
        self._forget_expired()
        value = CLIENT_SECRET_PREFIX + secrets.token_urlsafe(24)
        secret = ClientSecret(value, self._clock() + ttl_s, session)
        self._secrets[value] = secret
        return secret

    def redeem(self, value: str) -> ClientSecret | None:
        """Use a secret up: it is returned once, if it has not expired."""
        self._forget_expired()
        return self._secrets.pop(value, None)

    def _forget_expired(self) -> None:
        now = self._clock()
        for value in [v for v, s in self._secrets.items() if s.expires_at <= now]:
            del self._secrets[value]


def presented_key(headers: Any, subprotocols: list[str]) -> str | None:
    """The key a client presents: the bearer token, else the browser subprotocol's key."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for protocol in subprotocols:
        if protocol.startswith(SUBPROTOCOL_KEY_PREFIX):
            return protocol[len(SUBPROTOCOL_KEY_PREFIX) :]
    return None


class Authenticator:
    """Decides whether a presented key opens a session, and with which configuration."""

    def __init__(self, api_keys: list[str], store: ClientSecretStore) -> None:
        self._keys = [key.encode() for key in api_keys]
        self.store = store

    @property
    def enabled(self) -> bool:
        """True when API keys are configured."""
        return bool(self._keys)

    def is_api_key(self, key: str | None) -> bool:
        """Constant-time check against every configured key (no early exit)."""
        if key is None:
            return False
        candidate = key.encode()
        matched = False
        for expected in self._keys:
            matched |= hmac.compare_digest(candidate, expected)
        return matched

    def authenticate(self, key: str | None) -> tuple[bool, dict[str, Any] | None]:
        """``(allowed, session_config)`` for a WebSocket presenting ``key``."""
        if key is not None and key.startswith(CLIENT_SECRET_PREFIX):
            secret = self.store.redeem(key)
            return (secret is not None, secret.session if secret else None)
        if not self.enabled:
            return True, None
        return self.is_api_key(key), None
