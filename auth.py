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

import heapq
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


class ClientSecretStoreFull(Exception):
    """No room for another client secret until one is used or expires."""

    def __init__(self, max_live: int, retry_after_s: float) -> None:
        super().__init__(f"{max_live} client secrets are waiting to be used")
        self.max_live = max_live
        self.retry_after_s = retry_after_s


class ClientSecretStore:
    """Single-use, expiring ``ek_`` secrets held in memory, at most ``max_live`` at once.

    Expiry is kept in a heap, so forgetting expired secrets costs O(log n) per secret, once, rather
    than a scan of every secret per mint. Secrets used before they expire leave their heap entry
    behind; the heap is rebuilt when such leftovers outnumber the live secrets (amortised O(1)).
    When the store is full, minting fails (:class:`ClientSecretStoreFull`) rather than evicting
    an unused secret that someone else is about to redeem.
    """

    def __init__(self, clock: Any = time.time, max_live: int = 1000) -> None:
        self._clock = clock
        self.max_live = max_live
        self._secrets: dict[str, ClientSecret] = {}
        self._expiries: list[tuple[float, str]] = []

    def __len__(self) -> int:
        self._forget_expired()
        return len(self._secrets)

    def mint(self, session: dict[str, Any] | None, ttl_s: float) -> ClientSecret:
        """Create a secret that opens one session with ``session`` within ``ttl_s`` seconds."""
        self._forget_expired()
        if len(self._secrets) >= self.max_live:
            raise ClientSecretStoreFull(self.max_live, self._next_expiry() - self._clock())
        value = CLIENT_SECRET_PREFIX + secrets.token_urlsafe(24)
        secret = ClientSecret(value, self._clock() + ttl_s, session)
        self._secrets[value] = secret
        heapq.heappush(self._expiries, (secret.expires_at, value))
        return secret

    def redeem(self, value: str) -> ClientSecret | None:
        """Use a secret up: it is returned once, if it has not expired."""
        self._forget_expired()
        secret = self._secrets.pop(value, None)
        if len(self._expiries) > 2 * len(self._secrets) + 64:
            self._expiries = [(kept.expires_at, kept.value) for kept in self._secrets.values()]
            heapq.heapify(self._expiries)
        return secret

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:
            _, value = heapq.heappop(self._expiries)
            self._secrets.pop(value, None)

    def _next_expiry(self) -> float:
        """When the soonest live secret expires (entries of used secrets are skipped)."""
        while self._expiries and self._expiries[0][1] not in self._secrets:
            heapq.heappop(self._expiries)
        return self._expiries[0][0] if self._expiries else self._clock()


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
