"""The browser voice console: a single static page served at ``/`` (see docs/console.md).

``mount_console(app)`` adds:

- ``GET /``: the page (``static/index.html``); its scripts and styles under ``/console/static/``.
- ``GET /console/config``: what the page needs to know before it connects: whether the server
  wants a key, and whether ``POST /console/session`` will hand out a client secret.
- ``POST /console/session``: mints a short-lived, single-use ``ek_`` client secret with the
  server's own authenticator, so the page never holds a real API key.

Minting for the console is a deliberate opt-in when API keys are configured: anyone who can open
the page could then talk to the server, so it is on only with ``REALTIME_CONSOLE_CLIENT_SECRETS``
true (a ``console_client_secrets`` setting, or the environment variable). With no API keys
configured, authentication is off and the page connects without a key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from auth import ClientSecretStoreFull
from transport.origins import origin_allowed

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/console/static"
CONSOLE_SECRETS_ENV = "REALTIME_CONSOLE_CLIENT_SECRETS"
_TRUE = {"1", "true", "yes", "on"}
_NO_CACHE = {"Cache-Control": "no-cache"}


def _auth(app: FastAPI) -> Any | None:
    """The server's authenticator (``auth.Authenticator``), if this server has one."""
    return getattr(app.state, "auth", None)


def auth_required(app: FastAPI) -> bool:
    """True when the server only accepts sessions that present a key or a client secret."""
    auth = _auth(app)
    return bool(auth is not None and auth.enabled)


def console_mints_secrets(app: FastAPI) -> bool:
    """True when ``POST /console/session`` may mint a client secret.

    Always with authentication off (a secret then grants nothing a bare connection does not);
    with API keys configured only when the operator opted in.
    """
    auth = _auth(app)
    if auth is None:
        return False
    if not auth.enabled:
        return True
    setting = getattr(getattr(app.state, "settings", None), "console_client_secrets", None)
    if setting is not None:
        return bool(setting)
    return os.environ.get(CONSOLE_SECRETS_ENV, "").strip().lower() in _TRUE


def _model_name(app: FastAPI, settings: Any) -> str:
    """The model the console asks for: the catalog's default (or first) model."""
    catalog = getattr(app.state, "catalog", None)
    if catalog is not None:
        name: str = catalog.default_name()
        return name
    return getattr(settings, "model_name", "gpt-realtime")


def _same_origin(request: Request) -> bool:
    """A browser's cross-site request carries a foreign ``Origin``: refuse to mint for it."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site request (curl, same-origin GET-style fetches)
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


def _error(status: int, code: str, message: str) -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=status)


def mount_console(app: FastAPI) -> None:
    """Serve the console page at ``/`` with its assets and its two small JSON routes."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="console-static")

    @app.get("/", include_in_schema=False)
    async def console_page() -> FileResponse:
        """The console page."""
        return FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)

    @app.get("/console/config", include_in_schema=False)
    async def console_config(request: Request) -> JSONResponse:
        """Whether a key is needed, and whether the server will mint one for the page."""
        settings = getattr(request.app.state, "settings", None)
        return JSONResponse(
            {
                "auth_required": auth_required(request.app),
                "client_secrets": console_mints_secrets(request.app),
                "model": _model_name(request.app, settings),
                "profile": getattr(settings, "profile", None),
            },
            headers=_NO_CACHE,
        )

    @app.post("/console/session", include_in_schema=False)
    async def console_session(request: Request) -> JSONResponse:
        """Mint a single-use ``ek_`` client secret for the page (default session settings).

        The page configures its session with ``session.update`` once connected, exactly as it
        does with a pasted key, so the secret carries no session configuration of its own.
        """
        auth = _auth(request.app)
        if auth is None:
            return _error(501, "not_supported", "This server cannot mint client secrets.")
        settings = getattr(request.app.state, "settings", None)
        # Same origin, and an origin the server accepts at all (with no API keys: loopback
        # only), so a DNS-rebound page whose Host matches its Origin gets nothing either.
        if not _same_origin(request) or (
            settings is not None
            and not origin_allowed(request.headers.get("origin"), settings, keys_set=auth.enabled)
        ):
            return _error(403, "forbidden_origin", "Client secrets are only minted for this page.")
        if not console_mints_secrets(request.app):
            return _error(
                403,
                "console_client_secrets_disabled",
                "This server requires an API key and does not mint client secrets for the "
                f"console. Paste an API key or an ek_ client secret, or start the server with "
                f"{CONSOLE_SECRETS_ENV}=true.",
            )
        ttl = float(getattr(settings, "client_secret_ttl_s", 60.0))
        try:
            secret = auth.store.mint(None, ttl)
        except ClientSecretStoreFull:
            return _error(
                429, "rate_limit_exceeded", "Too many unused client secrets; try again shortly."
            )
        return JSONResponse(
            {"value": secret.value, "expires_at": int(secret.expires_at)}, headers=_NO_CACHE
        )
