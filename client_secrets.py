"""HTTP endpoints that mint short-lived ``ek_`` client secrets for browsers and phones.

- ``POST /v1/realtime/client_secrets`` (GA): body ``{"expires_after": {"anchor": "created_at",
  "seconds": N}, "session": {...}}``; reply ``{"value": "ek_...", "expires_at", "session"}``.
- ``POST /v1/realtime/sessions`` (beta): body is a flat beta session; reply is the beta session
  object with ``client_secret: {"value", "expires_at"}``.

Minting needs a real API key when authentication is on, and a browser page at an allowed origin
(``transport/origins.py``). The session configuration is validated exactly like a
``session.update`` and applied when the secret opens its (single) session.

What one request can cost is bounded: the body is read up to ``REALTIME_MAX_REQUEST_BODY_BYTES``
(HTTP 413 beyond), parsed like a client event (strict JSON, bounded nesting: HTTP 400 with an
OpenAI-shaped error, never a 500), and at most ``REALTIME_MAX_CLIENT_SECRETS`` unused secrets are
held (HTTP 429 with ``Retry-After`` beyond).

A secret's ``session.model`` must be one the catalog serves (``model_catalog``; with a default
entry, any name is): else HTTP 400 ``invalid_model``. The model binds the session the secret
opens; without one, the connection's ``?model=`` chooses. The reply's session shows the model's
session defaults (voice, instructions) beneath the secret's own configuration.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from auth import ClientSecret, ClientSecretStoreFull, presented_key
from model_catalog import ModelCatalog, layered_session
from protocol import ProtocolError
from protocol.beta import BetaServerTranslator, parse_beta_client_event
from protocol.frames import decode_frame
from protocol.validation import parse_client_event
from realtime_session import RealtimeSession
from transport.origins import origin_allowed, refusal_reason

router = APIRouter()
MIN_TTL_S = 10.0
MAX_TTL_S = 7200.0


def _error(
    status: int,
    code: str | None,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status, headers=headers)


async def _authorised_json_body(request: Request) -> dict[str, Any] | JSONResponse:
    """The request's JSON object, or the error reply: 403 from a refused browser origin, 401
    without a real key, 413 over the size limit, 400 for anything but a JSON object."""
    settings = request.app.state.settings
    auth = request.app.state.auth
    origin = request.headers.get("origin")
    if not origin_allowed(origin, settings, keys_set=auth.enabled):
        return _error(403, "forbidden_origin", f"Origin {origin!r} is {refusal_reason(settings)}.")
    if auth.enabled and not auth.is_api_key(presented_key(request.headers, [])):
        return _error(401, "invalid_api_key", "Incorrect API key provided.")
    limit = settings.max_request_body_bytes
    try:
        raw = await _body_within(request, limit)
    except ClientDisconnect:  # gone, or cut off by the request deadline: nobody reads a reply
        return _error(400, "invalid_json", "The request body was not completed.")
    if raw is None:
        # Closing, the connection guard discards what is left of the body for a moment (so the
        # client can read this) instead of parsing all of it.
        return _error(
            413,
            "request_too_large",
            f"The request body is larger than {limit} bytes.",
            headers={"Connection": "close"},
        )
    try:
        return decode_frame(raw.decode("utf-8") if raw.strip() else "{}")
    except UnicodeDecodeError:
        return _error(400, "invalid_json", "The request body is not UTF-8 text.")
    except ProtocolError as error:  # invalid_json (syntax, NaN, nesting) or invalid_type
        detail = error.message.removeprefix("Invalid event: ")
        return _error(400, error.code, f"The request body is invalid: {detail}")


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None  # refused before reading a byte (and before any 100 Continue)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _mint(
    request: Request, session: dict[str, Any] | None, ttl_s: float
) -> ClientSecret | JSONResponse:
    """A new secret, or 429 while the server holds its limit of unused secrets."""
    try:
        secret: ClientSecret = request.app.state.auth.store.mint(session, ttl_s)
    except ClientSecretStoreFull as full:
        retry_after = max(1, math.ceil(full.retry_after_s))
        return _error(
            429,
            "rate_limit_exceeded",
            f"This server holds its limit of {full.max_live} unused client secrets; use or let "
            f"some expire (the next in {retry_after} s) before minting more.",
            headers={"Retry-After": str(retry_after)},
        )
    return secret


def _effective_session(
    request: Request, update: dict[str, Any] | None
) -> dict[str, Any] | JSONResponse:
    """The session object a secret's session will start with (its model's session defaults
    beneath it), or 400 ``invalid_model`` for a model the catalog does not serve."""
    catalog: ModelCatalog = request.app.state.catalog
    name = (update or {}).get("model")
    entry = catalog.resolve(name)
    if entry is None:
        refusal = catalog.invalid_model(name)
        return _error(400, refusal.code, refusal.message, "session.model")
    model = name or entry.name
    session_type = (update or {}).get("type", "realtime")
    initial = layered_session(
        entry.session_defaults, model=model, session_type=session_type, initial=update
    )
    core = RealtimeSession(model=model, session_type=session_type, initial_session=initial)
    return core.config.to_dict()


@router.post("/v1/realtime/client_secrets")
async def create_client_secret(request: Request) -> JSONResponse:
    """Mint a GA client secret."""
    body = await _authorised_json_body(request)
    if isinstance(body, JSONResponse):
        return body
    settings = request.app.state.settings
    ttl = settings.client_secret_ttl_s
    expires_after = body.get("expires_after")
    if expires_after is not None:
        seconds = expires_after.get("seconds") if isinstance(expires_after, dict) else None
        if not isinstance(seconds, (int, float)) or not MIN_TTL_S <= seconds <= MAX_TTL_S:
            return _error(
                400,
                "invalid_value",
                f"expires_after.seconds must be between {MIN_TTL_S:g} and {MAX_TTL_S:g}.",
                "expires_after.seconds",
            )
        ttl = float(seconds)
    session = body.get("session")
    if session is not None:
        try:
            update = parse_client_event(json.dumps({"type": "session.update", "session": session}))
        except ProtocolError as error:
            return _error(400, error.code, error.message, error.param)
        session = update.data["session"]  # as validated: a null that means "not set" is left out
    effective = _effective_session(request, session)
    if isinstance(effective, JSONResponse):
        return effective
    secret = _mint(request, session, ttl)
    if isinstance(secret, JSONResponse):
        return secret
    return JSONResponse(
        {"value": secret.value, "expires_at": int(secret.expires_at), "session": effective}
    )


@router.post("/v1/realtime/sessions")
async def create_beta_session(request: Request) -> JSONResponse:
    """Mint a beta client secret (the beta ``sessions`` endpoint)."""
    body = await _authorised_json_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        update = parse_beta_client_event(json.dumps({"type": "session.update", "session": body}))
    except ProtocolError as error:
        return _error(400, error.code, error.message, error.param)
    settings = request.app.state.settings
    ga_session = update.data["session"]
    effective = _effective_session(request, ga_session)
    if isinstance(effective, JSONResponse):
        return effective
    created = {"type": "session.created", "event_id": "event_mint", "session": effective}
    (beta_event,) = BetaServerTranslator().translate(created)
    secret = _mint(request, ga_session, settings.client_secret_ttl_s)
    if isinstance(secret, JSONResponse):
        return secret
    beta_session = beta_event["session"]
    beta_session["client_secret"] = {"value": secret.value, "expires_at": int(secret.expires_at)}
    return JSONResponse(beta_session)
