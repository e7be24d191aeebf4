"""The server: a FastAPI app with the Realtime WebSocket at ``/v1/realtime``.

Run it with ``python main.py`` (the command line: ``main.py --help``), or ``uvicorn main:app``
(``main.app`` is this module's ``app``). ``main.py`` builds the model catalog before it hands the
app to uvicorn; under ``uvicorn main:app`` the app's lifespan builds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, WebSocket
from loguru import logger
from pydantic import ValidationError

import log_redaction
import log_setup
from about import version
from auth import (
    AUTH_FAILED_CLOSE_CODE,
    Authenticator,
    ClientSecretStore,
    presented_key,
)
from client_secrets import router as client_secrets_router
from config import Settings, get_settings
from model_catalog import CatalogConfigError, ModelCatalog, ModelEntry
from pipeline_manager import speculation
from pipeline_manager.local.model_files import LocalModelError
from pipeline_manager.local.model_refs import ModelReferenceError
from pipeline_manager.providers import ProviderConfigError
from protocol import ProtocolError
from startup_errors import OneLineStartupErrors, StartupError, settings_error_line
from transport import RealtimeConnection, choose_subprotocol, wants_beta
from transport.cors import RealtimeCORS
from transport.origins import origin_allowed, refusal_reason
from transport.session_parts import requested_model
from transport.webrtc import hang_up_all, join_call
from transport.webrtc import router as webrtc_router
from web_console import mount_console

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
SESSION_LIMIT_CLOSE_CODE = 1013  # "try again later"
INVALID_MODEL_CLOSE_CODE = 4000  # the real API's close for invalid_request_error.invalid_model
REFUSE_TIMEOUT_S = 5.0
WS_MAX_SIZE = 32 * 1024 * 1024
"""Largest WebSocket message accepted (use ``uvicorn --ws-max-size 33554432`` to match)."""


STARTUP_ERRORS = (CatalogConfigError, ProviderConfigError, LocalModelError)
"""What building the catalog raises for a mistake the operator can fix (one line each)."""


def build_catalog(settings: Settings) -> ModelCatalog:
    """The model catalog of ``settings``, its models loaded (blocking), each entry logged.

    Raises:
        StartupError: the model list, a provider's settings or the local models' install cannot
            be used; ``str()`` is the one line saying why (exit status 1 for a broken model
            install, 2 for the configuration).
    """
    started = time.perf_counter()
    try:
        catalog = ModelCatalog.from_settings(settings)
    except STARTUP_ERRORS as error:
        # A model reference that cannot be used is the configuration's fault (2); a broken
        # install of a packaged model is the machine's (1).
        broken_install = isinstance(error, LocalModelError) and not isinstance(
            error, ModelReferenceError
        )
        status = 1 if broken_install else 2
        raise StartupError(str(error), status=status) from None
    for line in catalog.describe_lines():
        logger.info(line)
    logger.debug(f"profile '{settings.profile}' built in {time.perf_counter() - started:.2f} s")
    return catalog


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the model catalog (loading the models) before the server accepts connections.

    ``python main.py`` has built it already, and set up the log (main.py); for ``uvicorn
    main:app`` it is built here.
    """
    if getattr(app.state, "catalog", None) is None:
        try:
            settings = get_settings()
        except ValidationError as error:
            app.state.startup_error = settings_error_line(error)
            raise StartupError(app.state.startup_error) from None
        log_setup.configure(settings.log_level)
        # Our log and uvicorn's (access lines quote query strings) never show a key or an ek_
        # secret.
        log_redaction.install(settings.api_key_list())
        app.state.settings = settings
        try:
            app.state.catalog = build_catalog(settings)
        except StartupError as error:
            app.state.startup_error = str(error)
            raise  # one line, no traceback: startup_errors.py
    settings = app.state.settings
    log_redaction.install([*settings.api_key_list(), *app.state.catalog.secrets()])
    app.state.connections = set()
    app.state.auth = Authenticator(
        settings.api_key_list(), ClientSecretStore(max_live=settings.max_client_secrets)
    )
    if not app.state.auth.enabled and settings.host not in LOOPBACK_HOSTS:
        logger.warning(
            f"listening on {settings.host} WITHOUT authentication: set REALTIME_API_KEYS "
            "(until then browsers are only accepted from loopback pages or "
            "REALTIME_ALLOWED_ORIGINS)"
        )
    # Everything loaded so far (libraries, models) lives as long as the process: move it out of
    # the collector's sight, so a full collection walks only what sessions made (it otherwise
    # stalls every session for ~200 ms now and then: bench/relay_latency.py's max).
    gc.collect()
    gc.freeze()
    yield
    await hang_up_all(app.state)  # WebRTC calls hold peer connections: end them first


app = FastAPI(title="Realtime voice server", version=version(), lifespan=lifespan)
app.add_middleware(RealtimeCORS)  # CORS for HTTP under /v1/realtime, by the WebSocket's origin rule
app.add_middleware(OneLineStartupErrors)  # a bad model list is one line, not a traceback
app.include_router(client_secrets_router)
# --- WebRTC calls (transport/webrtc/): POST /v1/realtime/calls, .../{id}/hangup, the older
# POST /v1/realtime?model=...; the sideband WS /v1/realtime?call_id=... is routed in realtime().
app.include_router(webrtc_router)
mount_console(app)


@app.get("/health")
async def health() -> dict[str, object]:
    """Liveness and readiness, with the number of open sessions and each model's state.

    A relay whose upstream is down is listed in ``degraded``; the server itself stays
    ``healthy`` (its other models serve), so a load balancer does not take it out.
    """
    catalog: ModelCatalog = app.state.catalog
    return {
        "status": "healthy",
        "active_sessions": len(app.state.connections),
        "profile": app.state.settings.profile,
        "models": catalog.health(),
        "degraded": catalog.degraded(),
    }


@app.get("/v1/models")
async def list_models() -> dict[str, object]:
    """The models this server serves, in the OpenAI list shape."""
    catalog: ModelCatalog = app.state.catalog
    return {
        "object": "list",
        "data": [entry.model_object() for entry in catalog.entries],
    }


@app.get("/debug/stats", include_in_schema=False)
async def debug_stats() -> dict[str, object]:
    """Process figures for leak tests; only served when ``REALTIME_DEBUG_ENDPOINTS`` is on."""
    if not app.state.settings.debug_endpoints:
        raise HTTPException(status_code=404)
    gc.collect()
    guard = getattr(app.state, "connection_guard", None)  # not set by `uvicorn main:app`
    return {
        "tasks": len(asyncio.all_tasks()),
        "rss_bytes": _rss_bytes(),
        "active_sessions": len(app.state.connections),
        "open_connections": guard.open_count if guard else None,
        "waiting_connections": guard.waiting_count if guard else None,
        "max_connections": guard.limits.max_connections if guard else None,
        "stalled_connections": guard.stalled_count if guard else None,
        "speculation": speculation.STATS.as_dict(),
    }


def _rss_bytes() -> int:
    """Resident memory of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


@app.websocket("/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    """One Realtime API session."""
    settings = app.state.settings
    offered = websocket.scope.get("subprotocols", [])
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, settings, keys_set=app.state.auth.enabled):
        logger.info(f"refused a WebSocket from origin {origin!r}: {refusal_reason(settings)}")
        await websocket.close(code=1008)  # before accept: the browser gets HTTP 403
        return
    if "call_id" in websocket.query_params:  # a sideband joining a WebRTC call
        await join_call(websocket, app.state)
        return
    await websocket.accept(subprotocol=choose_subprotocol(offered))
    allowed_in, initial_session = app.state.auth.authenticate(
        presented_key(websocket.headers, offered)
    )
    if not allowed_in:
        await refuse(websocket, AUTH_FAILED_CLOSE_CODE, "invalid_api_key", INVALID_KEY_MESSAGE)
        return
    if len(app.state.connections) >= settings.max_sessions:
        message = f"This server is at its limit of {settings.max_sessions} concurrent sessions."
        await refuse(websocket, SESSION_LIMIT_CLOSE_CODE, "session_limit_reached", message)
        return
    params = websocket.query_params
    catalog: ModelCatalog = app.state.catalog
    name = requested_model(initial_session, params.get("model"))
    entry = catalog.resolve(name)
    if entry is None:
        await refuse_with(
            websocket,
            INVALID_MODEL_CLOSE_CODE,
            catalog.invalid_model(name),
            reason="invalid_request_error.invalid_model",
        )
        return
    if not entry.try_open():
        await refuse(
            websocket, SESSION_LIMIT_CLOSE_CODE, "session_limit_reached", entry.limit_message()
        )
        return
    try:
        session_type = "transcription" if params.get("intent") == "transcription" else "realtime"
        await serve(
            websocket,
            entry,
            model=name or entry.name,
            session_type=session_type,
            beta=wants_beta(websocket.headers, offered),
            initial_session=initial_session,
        )
    finally:
        entry.closed()


async def serve(
    websocket: WebSocket,
    entry: ModelEntry,
    *,
    model: str,
    session_type: str,
    beta: bool,
    initial_session: dict[str, Any] | None,
) -> None:
    """Serve one session of ``entry`` on an accepted WebSocket until it ends."""
    connection = RealtimeConnection(
        websocket,
        entry,
        model=model,
        session_type=session_type,
        beta=beta,
        initial_session=initial_session,
    )
    app.state.connections.add(connection)
    try:
        await connection.run()
    finally:
        app.state.connections.discard(connection)


INVALID_KEY_MESSAGE = (
    "Incorrect API key provided. Present a key with 'Authorization: Bearer <key>' or the "
    "'openai-insecure-api-key.<key>' subprotocol, or a client secret minted by "
    "POST /v1/realtime/client_secrets."
)


async def refuse(websocket: WebSocket, close_code: int, code: str, message: str) -> None:
    """Answer like the real API: an ``error`` event after the upgrade, then a close."""
    await refuse_with(websocket, close_code, ProtocolError(code, message))


async def refuse_with(
    websocket: WebSocket, close_code: int, error: ProtocolError, reason: str | None = None
) -> None:
    """Send ``error`` as an ``error`` event, then close with ``close_code`` (and ``reason``)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.send_text(json.dumps(error.to_event())), REFUSE_TIMEOUT_S)
        await asyncio.wait_for(websocket.close(code=close_code, reason=reason), REFUSE_TIMEOUT_S)
