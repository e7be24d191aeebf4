"""CORS on the HTTP endpoints under ``/v1/realtime`` (transport/cors.py).

The origins that get CORS are exactly those the WebSocket accepts (transport/origins.py): with no
``REALTIME_ALLOWED_ORIGINS`` and no API keys, loopback pages; with a list, that list; with keys
and no list, any page. Checked on live servers with raw preflights and requests, and once in
headless Chromium, whose own CORS check is the one that matters.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Origin

from tests.conftest import ServerProcess

KEY = "sk-cors-test-key"
LOOPBACK_PAGE = "http://localhost:5173"
LISTED_PAGE = "https://app.example"
OTHER_PAGE = "https://elsewhere.example"
PATHS = [
    "/v1/realtime/client_secrets",
    "/v1/realtime/sessions",
    "/v1/realtime/calls",  # WebRTC (not on every branch): the rule goes by path
    "/v1/realtime/calls/rtc_123/hangup",
    "/v1/realtime",  # WebRTC's SDP POST
]
SDK_HEADERS = [
    # openai-node on every request (tests/node/node_modules/openai/client.mjs, buildHeaders)
    "authorization",
    "content-type",
    "openai-organization",
    "openai-project",
    "x-stainless-arch",
    "x-stainless-lang",
    "x-stainless-os",
    "x-stainless-package-version",
    "x-stainless-retry-count",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-timeout",
    # the beta dialect's header, and @openai/agents-realtime's WebRTC SDP POST
    # (dist/openaiRealtimeWebRtc.mjs)
    "openai-beta",
    "x-openai-agents-sdk",
]


def preflight(server: ServerProcess, path: str, origin: str) -> httpx.Response:
    return httpx.options(
        server.base_url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(SDK_HEADERS),
        },
    )


def listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def cors_headers(reply: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in reply.headers.items() if k.lower().startswith("access-control-")}


@pytest.fixture(scope="module")
def listing_server() -> Iterator[ServerProcess]:
    process = ServerProcess({"REALTIME_ALLOWED_ORIGINS": f"{LISTED_PAGE},http://127.0.0.1:9"})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[ServerProcess]:
    process = ServerProcess({"REALTIME_API_KEYS": KEY})
    yield process
    process.stop()


def test_a_preflight_from_an_allowed_origin_gets_the_cors_headers(server: ServerProcess) -> None:
    for path in PATHS:
        reply = preflight(server, path, LOOPBACK_PAGE)
        assert reply.status_code == 204, (path, reply.text)
        assert reply.headers["access-control-allow-origin"] == LOOPBACK_PAGE
        assert listed(reply.headers["access-control-allow-methods"]) >= {"post", "options"}
        assert listed(reply.headers["access-control-allow-headers"]) >= set(SDK_HEADERS)
        assert "origin" in listed(reply.headers["vary"])
        assert int(reply.headers["access-control-max-age"]) > 0
        assert "access-control-allow-credentials" not in reply.headers  # no cookies here


def test_a_preflight_from_a_refused_origin_gets_no_cors_headers(server: ServerProcess) -> None:
    for path in PATHS:
        reply = preflight(server, path, OTHER_PAGE)
        assert reply.status_code == 403, path
        assert cors_headers(reply) == {}
        assert reply.json()["error"]["code"] == "forbidden_origin"
        assert "origin" in listed(reply.headers["vary"])


def test_a_post_from_an_allowed_origin_carries_the_origin_and_exposes_location(
    server: ServerProcess,
) -> None:
    url = f"{server.base_url}/v1/realtime/client_secrets"
    reply = httpx.post(url, json={}, headers={"Origin": LOOPBACK_PAGE})
    assert reply.status_code == 200
    assert reply.json()["value"].startswith("ek_")
    assert reply.headers["access-control-allow-origin"] == LOOPBACK_PAGE
    assert "location" in listed(reply.headers["access-control-expose-headers"])
    assert "origin" in listed(reply.headers["vary"])
    # Refused as before, and with nothing that lets the page read the refusal.
    refused = httpx.post(url, json={}, headers={"Origin": OTHER_PAGE})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden_origin"
    assert cors_headers(refused) == {}


def test_paths_outside_v1_realtime_get_no_cors(server: ServerProcess) -> None:
    reply = httpx.options(
        f"{server.base_url}/health",
        headers={"Origin": LOOPBACK_PAGE, "Access-Control-Request-Method": "GET"},
    )
    assert cors_headers(reply) == {}
    assert cors_headers(httpx.get(f"{server.base_url}/v1/models")) == {}


async def websocket_accepts(server: ServerProcess, origin: str) -> bool:
    url = server.base_url.replace("http://", "ws://") + "/v1/realtime"
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        async with websockets.connect(url, origin=Origin(origin), additional_headers=headers):
            return True
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("server", {LOOPBACK_PAGE: True, "http://127.0.0.2:3000": True, "http://[::1]:8080": True,
                    LISTED_PAGE: False, OTHER_PAGE: False, "null": False}),
        ("listing_server", {LOOPBACK_PAGE: False, "http://127.0.0.1:9": True, LISTED_PAGE: True,
                            OTHER_PAGE: False}),
        ("keyed_server", {LOOPBACK_PAGE: True, LISTED_PAGE: True, OTHER_PAGE: True, "null": True}),
    ],
)  # fmt: skip
async def test_cors_and_the_websocket_accept_the_same_origins(
    request: pytest.FixtureRequest, fixture: str, expected: dict[str, bool]
) -> None:
    """One rule: unset means loopback pages without keys and any page with keys; a list replaces
    it (``*`` for any)."""
    server: ServerProcess = request.getfixturevalue(fixture)
    for origin, allowed in expected.items():
        gets_cors = preflight(server, "/v1/realtime/calls", origin).status_code == 204
        assert (gets_cors, await websocket_accepts(server, origin)) == (allowed, allowed), origin


def test_with_keys_a_page_can_read_the_refusal_of_a_missing_key(
    keyed_server: ServerProcess,
) -> None:
    url = f"{keyed_server.base_url}/v1/realtime/client_secrets"
    refused = httpx.post(url, json={}, headers={"Origin": OTHER_PAGE})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == OTHER_PAGE
    minted = httpx.post(
        url, json={}, headers={"Origin": OTHER_PAGE, "Authorization": f"Bearer {KEY}"}
    )
    assert minted.status_code == 200
    assert minted.headers["access-control-allow-origin"] == OTHER_PAGE


# --- in a real browser ------------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -r requirements-browser.txt"
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
    return None


MISSING_BROWSER = _missing_browser()
if MISSING_BROWSER and os.environ.get("CI"):
    raise RuntimeError(f"browser tests cannot run in CI: {MISSING_BROWSER}")

FETCH = """async ([url, headers]) => {
    try {
        const reply = await fetch(url, {method: 'POST', headers, body: '{}'});
        return {status: reply.status, body: await reply.text()};
    } catch (error) {
        return {error: String(error)};
    }
}"""


@pytest.mark.skipif(MISSING_BROWSER is not None, reason=MISSING_BROWSER or "")
def test_chromium_mints_a_secret_cross_origin_only_from_an_allowed_page(
    server: ServerProcess, listing_server: ServerProcess
) -> None:
    """A page at http://localhost:PORT posting to http://127.0.0.1:PORT (another origin) with the
    SDKs' headers: Chromium's preflight passes where the origin is allowed (loopback, no keys)
    and fails where it is not (a server that lists other origins)."""
    from playwright.sync_api import sync_playwright

    headers = {name: "1" for name in SDK_HEADERS}
    headers |= {"authorization": "Bearer sk-page", "content-type": "application/json"}
    results: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            for name, target in (("allowed", server), ("refused", listing_server)):
                page.goto(f"http://localhost:{target.port}/")
                url = f"http://127.0.0.1:{target.port}/v1/realtime/client_secrets"
                results[name] = page.evaluate(FETCH, [url, headers])
        finally:
            browser.close()
    assert results["allowed"]["status"] == 200, results
    assert '"value":"ek_' in results["allowed"]["body"].replace(" ", "")
    assert "Failed to fetch" in results["refused"].get("error", ""), results
