"""The HTTP side of WebRTC calls, shaped like the real API's (docs/protocol.md §11):

- ``POST /v1/realtime/calls``: the SDP offer as an ``application/sdp`` body (browsers, with an
  ``ek_`` client secret or a key), or ``multipart/form-data`` with parts ``sdp`` and ``session``
  (a server with a real key configuring the session it opens: validated like ``session.update``).
  ``201`` with the SDP answer (``application/sdp``) and ``Location: /v1/realtime/calls/{id}``.
- ``POST /v1/realtime?model=...``: the older spelling of the same, an ``application/sdp`` body.
- ``POST /v1/realtime/calls/{id}/hangup``: end a call (a real key when authentication is on).
- ``WS /v1/realtime?call_id=...``: the sideband (:func:`join_call`; ``main.py`` routes it here).

Browsers post the offer from the app's own page: a page the origin rule refuses
(``transport/origins.py``, the rule the WebSocket handshake follows) gets 403 ``forbidden_origin``,
and the CORS middleware (``transport/cors.py``) answers preflights and exposes ``Location`` by the
same rule.

Refusals are the real API's JSON errors, and leave nothing allocated: 401 ``invalid_api_key``,
400 ``invalid_offer`` (an SDP offer aiortc cannot take), 400 with the ``session.update`` error for
a bad ``session`` part, 400 ``invalid_model`` for a model the catalog does not serve (the model
is the client secret's, else the ``session`` part's, else ``?model=``; see ``model_catalog``),
429 ``session_limit_reached`` when ``REALTIME_MAX_SESSIONS`` sessions (calls and WebSockets
together) or the model's own ``max_sessions`` are open. A bad offer is caught before an ``ek_``
secret is used up when it does not even parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiortc.sdp import SessionDescription
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.datastructures import UploadFile
from starlette.websockets import WebSocket

from auth import AUTH_FAILED_CLOSE_CODE, CLIENT_SECRET_PREFIX, presented_key
from model_catalog import ModelCatalog
from protocol import ProtocolError
from protocol.validation import parse_client_event
from realtime_session.session_config import SessionConfig
from transport.origins import origin_allowed, refusal_reason
from transport.session_parts import requested_model
from transport.webrtc.call import RealtimeCall
from transport.webrtc.registry import CallRegistry
from transport.websocket import choose_subprotocol, wants_beta

router = APIRouter()
MAX_OFFER_BYTES = 256 * 1024
CALL_NOT_FOUND_CLOSE_CODE = 1008
INVALID_OFFER = "Invalid SDP offer. Please try again with a WHIP-compliant offer."
INVALID_KEY = "Incorrect API key provided."


def calls_of(state: Any) -> CallRegistry[RealtimeCall]:
    """The app's call registry (made on first use)."""
    registry: CallRegistry[RealtimeCall] | None = getattr(state, "calls", None)
    if registry is None:
        registry = state.calls = CallRegistry()
    return registry


async def hang_up_all(state: Any) -> None:
    """End every call (server shutdown)."""
    await asyncio.gather(*(call.hangup() for call in calls_of(state).all()))


def _error(status: int, code: str | None, message: str, param: str | None = None) -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status)


# --- origins -------------------------------------------------------------------------------------


def _refused_origin(request: Request) -> JSONResponse | None:
    """403 for a browser page the origin rule refuses (transport/origins.py; the CORS headers
    themselves come from the CORS middleware, transport/cors.py, by the same rule)."""
    settings = request.app.state.settings
    origin = request.headers.get("origin")
    if origin_allowed(origin, settings, keys_set=request.app.state.auth.enabled):
        return None
    return _error(403, "forbidden_origin", f"Origin {origin!r} is {refusal_reason(settings)}.")


# --- POST /v1/realtime/calls ------------------------------------------------------------------


@router.post("/v1/realtime/calls")
async def create_call(request: Request) -> Response:
    """Start a WebRTC call: SDP offer in, SDP answer out."""
    return _refused_origin(request) or await _create_call(request)


@router.post("/v1/realtime")
async def create_call_legacy(request: Request) -> Response:
    """The older endpoint: ``POST /v1/realtime?model=...`` with an ``application/sdp`` body."""
    return await create_call(request)


async def _create_call(request: Request) -> Response:
    state = request.app.state
    settings = state.settings
    auth = state.auth
    key = presented_key(request.headers, [])
    is_secret = key is not None and key.startswith(CLIENT_SECRET_PREFIX)
    if not is_secret and auth.enabled and not auth.is_api_key(key):
        return _error(401, "invalid_api_key", INVALID_KEY)
    offer = await _read_offer(request)
    if isinstance(offer, Response):
        return offer
    sdp, form_session = offer
    if form_session is not None:
        try:
            parse_client_event(json.dumps({"type": "session.update", "session": form_session}))
        except ProtocolError as error:
            return _error(400, error.code, error.message, error.param)
    if not _parses(sdp):
        return _error(400, "invalid_offer", INVALID_OFFER)
    if len(state.connections) >= settings.max_sessions:
        message = f"This server is at its limit of {settings.max_sessions} concurrent sessions."
        return _error(429, "session_limit_reached", message)
    secret_session = None
    if is_secret:
        allowed, secret_session = auth.authenticate(key)
        if not allowed:
            return _error(401, "invalid_api_key", INVALID_KEY)
    catalog: ModelCatalog = state.catalog
    form_model = (form_session or {}).get("model")
    name = requested_model(secret_session, form_model, request.query_params.get("model"))
    entry = catalog.resolve(name)
    if entry is None:
        refusal = catalog.invalid_model(name)
        return _error(400, refusal.code, refusal.message, refusal.param)
    model = name or entry.name
    try:
        initial = _initial_session(model, secret_session, form_session)
    except ProtocolError as error:
        return _error(400, error.code, error.message, error.param)
    if not entry.try_open():
        return _error(429, "session_limit_reached", entry.limit_message())
    call = RealtimeCall(
        entry,
        model=model,
        initial_session=initial,
        beta=wants_beta(request.headers, []),
        on_end=lambda ended: _forget(state, ended),
    )
    registry = calls_of(state)
    # Counted at once (no await in between): concurrent offers cannot overshoot the cap.
    state.connections.add(call)
    try:
        answer = await call.answer(sdp)
    except Exception as exc:
        logger.info(f"refused an SDP offer: {exc}")
        await call.abort()
        return _error(400, "invalid_offer", INVALID_OFFER)
    registry.add(call)
    call.start()
    return Response(
        answer,
        status_code=201,
        media_type="application/sdp",
        headers={"Location": f"/v1/realtime/calls/{call.id}"},
    )


async def _read_offer(request: Request) -> tuple[str, dict[str, Any] | None] | Response:
    """The SDP offer and the optional ``session`` part, or the error reply."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=2, max_fields=8)
        except Exception:
            return _error(400, "invalid_request_error", "The multipart body could not be parsed.")
        sdp = await _part_text(form.get("sdp"))
        if sdp is None:
            return _error(
                400, "missing_required_parameter", "Missing required parameter: 'sdp'.", "sdp"
            )
        session_text = await _part_text(form.get("session"))
        session = None
        if session_text is not None:
            try:
                session = json.loads(session_text)
            except ValueError:
                session = None
            if not isinstance(session, dict):
                message = "The 'session' part must be a JSON object."
                return _error(400, "invalid_json", message, "session")
        return sdp, session
    if content_type in ("application/sdp", "text/plain", ""):
        body = await request.body()
        if len(body) > MAX_OFFER_BYTES:
            return _error(400, "invalid_offer", INVALID_OFFER)
        return body.decode("utf-8", errors="replace"), None
    return _error(
        400,
        "invalid_request_error",
        f"Unsupported Content-Type '{content_type}': send the SDP offer as application/sdp, or "
        "multipart/form-data with the parts 'sdp' and 'session'.",
    )


async def _part_text(part: Any) -> str | None:
    if part is None:
        return None
    if isinstance(part, UploadFile):
        data = await part.read(MAX_OFFER_BYTES + 1)
        return data.decode("utf-8", errors="replace")
    return str(part)


def _parses(sdp: str) -> bool:
    """Whether the offer is a WebRTC offer at all: SDP with media, each with its ICE credentials
    and a DTLS fingerprint (checked before a client secret is used up)."""
    if len(sdp) > MAX_OFFER_BYTES or not sdp.lstrip().startswith("v=") or "\nm=" not in sdp:
        return False
    try:
        description = SessionDescription.parse(sdp)
    except Exception:
        return False
    media = description.media
    return bool(media) and all(
        m.ice is not None
        and bool(m.ice.usernameFragment and m.ice.password)
        and m.dtls is not None
        and bool(m.dtls.fingerprints)
        for m in media
    )


def _initial_session(
    model: str, secret: dict[str, Any] | None, form: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The configuration the call's session opens with: a client secret's, then the form's."""
    if secret is None or form is None:
        return secret if form is None else form
    config = SessionConfig(model, secret.get("type", "realtime"))
    config.apply(config.merged(secret))
    return config.merged(form)


def _forget(state: Any, call: RealtimeCall) -> None:
    state.connections.discard(call)
    calls_of(state).remove(call)
    call.entry.closed()


# --- POST /v1/realtime/calls/{id}/hangup ------------------------------------------------------


@router.post("/v1/realtime/calls/{call_id}/hangup")
async def hangup_call(call_id: str, request: Request) -> Response:
    """End a call; everything it held is freed before the reply."""
    return _refused_origin(request) or await _hangup(call_id, request)


async def _hangup(call_id: str, request: Request) -> Response:
    auth = request.app.state.auth
    if auth.enabled and not auth.is_api_key(presented_key(request.headers, [])):
        return _error(401, "invalid_api_key", INVALID_KEY)
    call = calls_of(request.app.state).get(call_id)
    if call is None:
        return _error(404, "call_not_found", f"Call '{call_id}' not found.", "call_id")
    await call.hangup()
    return Response(status_code=200)


# --- WS /v1/realtime?call_id=... ----------------------------------------------------------------


async def join_call(websocket: WebSocket, state: Any) -> None:
    """The sideband: a server with a real key joins a call's event stream."""
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol=choose_subprotocol(offered))
    auth = state.auth
    if auth.enabled and not auth.is_api_key(presented_key(websocket.headers, offered)):
        await _refuse(websocket, AUTH_FAILED_CLOSE_CODE, "invalid_api_key", INVALID_KEY)
        return
    call_id = websocket.query_params.get("call_id", "")
    call = calls_of(state).get(call_id)
    if call is None:
        message = f"Call '{call_id}' not found (it has ended, or never existed)."
        await _refuse(websocket, CALL_NOT_FOUND_CLOSE_CODE, "call_not_found", message)
        return
    await call.join(websocket, beta=wants_beta(websocket.headers, offered))


async def _refuse(websocket: WebSocket, close_code: int, code: str, message: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps(ProtocolError(code, message).to_event()))
        await websocket.close(code=close_code)
