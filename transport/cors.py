"""CORS for the HTTP endpoints under ``/v1/realtime``, so a page at an allowed origin can call them.

A browser page may POST to another origin only if that origin's server says so: first an
``OPTIONS`` preflight (any request with ``Authorization`` or a JSON or SDP body needs one), then
``Access-Control-Allow-Origin`` on the reply, or the page cannot read it. The endpoints are every
path under ``/v1/realtime`` answered over HTTP: ``/v1/realtime/client_secrets``,
``/v1/realtime/sessions``, and WebRTC's ``/v1/realtime/calls`` and SDP ``POST /v1/realtime`` where
they exist (the rule goes by path, not by route). The WebSocket needs no CORS: a browser opens it
from any page and sends ``Origin``, checked by the route itself.

Which origins get CORS is decided by :func:`transport.origins.origin_allowed`, the rule the
WebSocket and the minting endpoints already apply; there is no second list:

- an allowed origin's preflight gets ``204`` with the origin echoed, the methods, the request
  headers the OpenAI SDKs send (:data:`ALLOWED_HEADERS`) and a ``Max-Age``; its requests' replies,
  errors included, get ``Access-Control-Allow-Origin`` and expose ``Location`` (where WebRTC's
  ``/v1/realtime/calls`` puts the call id);
- any other origin's preflight gets ``403 forbidden_origin`` with no CORS header, so the browser
  never sends the request; the request itself, sent anyway, is refused by its route as before;
- every reply on these paths says ``Vary: Origin``, since it depends on it.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transport.origins import origin_allowed, refusal_reason

CORS_PATH = "/v1/realtime"
ALLOWED_METHODS = "POST, OPTIONS"
ALLOWED_HEADERS = ", ".join(
    [
        "Authorization",
        "Content-Type",
        "OpenAI-Beta",
        # openai-node (also the browser build) on every request:
        "OpenAI-Organization",
        "OpenAI-Project",
        "X-Stainless-Arch",
        "X-Stainless-Helper-Method",
        "X-Stainless-Lang",
        "X-Stainless-OS",
        "X-Stainless-Package-Version",
        "X-Stainless-Retry-Count",
        "X-Stainless-Runtime",
        "X-Stainless-Runtime-Version",
        "X-Stainless-Timeout",
        # @openai/agents-realtime's WebRTC transport, with its SDP offer:
        "X-OpenAI-Agents-SDK",
    ]
)
EXPOSED_HEADERS = "Location"
MAX_AGE_S = 600


def is_cors_path(path: str) -> bool:
    """``/v1/realtime`` and everything under it."""
    return path == CORS_PATH or path.startswith(CORS_PATH + "/")


class RealtimeCORS:
    """ASGI middleware applying the module's rule to HTTP requests on :func:`is_cors_path`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_cors_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and _origin_allowed(scope, origin)
        if scope["method"] == "OPTIONS" and origin and "access-control-request-method" in headers:
            await _preflight(scope, origin, allowed)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                reply = MutableHeaders(scope=message)
                reply.add_vary_header("Origin")
                if allowed and origin is not None:
                    reply["Access-Control-Allow-Origin"] = origin
                    reply["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _origin_allowed(scope: Scope, origin: str) -> bool:
    state = scope["app"].state
    return origin_allowed(origin, state.settings, keys_set=state.auth.enabled)


def _preflight(scope: Scope, origin: str, allowed: bool) -> Response:
    if not allowed:
        settings = scope["app"].state.settings
        error = {
            "message": f"Origin {origin!r} is {refusal_reason(settings)}.",
            "type": "invalid_request_error",
            "param": None,
            "code": "forbidden_origin",
        }
        return JSONResponse({"error": error}, status_code=403, headers={"Vary": "Origin"})
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(MAX_AGE_S),
            "Vary": "Origin",
        },
    )
