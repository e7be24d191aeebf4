"""Azure OpenAI relays: both URL shapes and the ``api-key`` header, against a stand-in on loopback.

Azure's GA endpoint is ``/openai/v1/realtime?model=<deployment>``; the older one is
``/openai/realtime?api-version=...&deployment=<deployment>`` and speaks the beta dialect. The
stand-in records each upgrade request and answers in the dialect its path implies, with session
objects made by our own core (and our beta translator for the older shape).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request

from protocol.beta import BetaServerTranslator
from realtime_session import RealtimeSession
from tests.realtime_client import DEFAULT_TIMEOUT, validate_server_event
from tests.relay_servers import front_server

pytestmark = pytest.mark.timeout(60)

AZURE_KEY = "azure-secret-key-123"


@dataclass
class Upgrade:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    received: list[dict[str, Any]] = field(default_factory=list)


class AzureStandIn:
    """Answers like Azure: GA on ``/openai/v1/realtime``, beta on ``/openai/realtime``."""

    def __init__(self) -> None:
        self.upgrades: list[Upgrade] = []
        self.url = ""

    def _record(self, connection: ServerConnection, request: Request) -> None:
        parts = urlsplit(request.path)
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        self.upgrades.append(Upgrade(parts.path, parse_qs(parts.query), headers))

    async def _serve(self, connection: ServerConnection) -> None:
        upgrade = self.upgrades[-1]
        beta = not upgrade.path.startswith("/openai/v1/")
        core = RealtimeSession(model=upgrade.query.get("model", ["deployment"])[0])
        translator = BetaServerTranslator() if beta else None

        async def send(event: dict[str, Any]) -> None:
            for out in translator.translate(event) if translator else [event]:
                await connection.send(json.dumps(out))

        for event in core.start():
            if isinstance(event, dict):
                await send(event)
        async for message in connection:
            event = json.loads(message)
            upgrade.received.append(event)
            if event["type"] == "session.update":
                session = dict(event["session"])
                if beta:  # the beta shape must have arrived: answer with the GA equivalent
                    assert "type" not in session
                    session = {"type": "realtime", "instructions": session.get("instructions", "")}
                created = core.start()[0]
                updated = {**created["session"], **session}
                await send({"type": "session.updated", "event_id": "ev_u", "session": updated})

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[AzureStandIn]:
        async with serve(self._serve, "127.0.0.1", 0, process_request=self._record) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}"
            yield self


async def _first_turn(url: str) -> list[dict[str, Any]]:
    """Open a session, change its instructions, return what the client got."""
    async with websockets.connect(url, open_timeout=DEFAULT_TIMEOUT) as ws:
        got = [json.loads(await asyncio.wait_for(ws.recv(), DEFAULT_TIMEOUT))]
        update = {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]}
        await ws.send(json.dumps({"type": "session.update", "session": update}))
        got.append(json.loads(await asyncio.wait_for(ws.recv(), DEFAULT_TIMEOUT)))
    for event in got:
        validate_server_event(event)
    return got


async def test_both_azure_url_shapes_and_the_api_key_header(tmp_path: Path) -> None:
    async with AzureStandIn().running() as azure:
        common = {"provider": "azure", "model": "my-deployment", "api_key_env": "AZURE_KEY"}
        models = [
            {"name": "azure-ga", "relay": {**common, "url": f"{azure.url}/openai/v1/realtime"}},
            {
                "name": "azure-preview",
                "relay": {
                    **common,
                    "url": f"{azure.url}/openai/realtime",
                    "api_version": "2024-10-01-preview",
                },
            },
        ]
        env = {"AZURE_KEY": AZURE_KEY}
        with front_server(tmp_path, models, env) as front:
            base = front.base_url.replace("http", "ws", 1) + "/v1/realtime?model="
            ga_events = await _first_turn(base + "azure-ga")
            preview_events = await _first_turn(base + "azure-preview")

    ga, preview = azure.upgrades
    assert ga.path == "/openai/v1/realtime"
    assert ga.query == {"model": ["my-deployment"]}
    assert preview.path == "/openai/realtime"
    assert preview.query == {"api-version": ["2024-10-01-preview"], "deployment": ["my-deployment"]}
    for upgrade in (ga, preview):
        assert upgrade.headers["api-key"] == AZURE_KEY
        assert "authorization" not in upgrade.headers
    # The GA endpoint got GA, the older one beta; the client got GA from both.
    assert ga.received[-1]["session"]["output_modalities"] == ["text"]
    assert ga.received[-1]["session"]["type"] == "realtime"
    assert preview.received[-1]["session"]["modalities"] == ["text"]
    for events, name in ((ga_events, "azure-ga"), (preview_events, "azure-preview")):
        assert [e["type"] for e in events] == ["session.created", "session.updated"]
        assert events[0]["session"]["model"] == name
        assert events[1]["session"]["instructions"] == "Be brief."
