"""Relay set-ups for the tests: a front server whose model list relays to an upstream on loopback.

The upstream is a second instance of this server in the mock profile (or a stand-in that speaks
another provider's shapes); the front server reads a model list written to a temporary file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ServerProcess


def write_config(directory: Path, models: list[dict[str, Any]]) -> Path:
    """A model list file (``REALTIME_CONFIG``) with these entries."""
    path = directory / f"models-{len(list(directory.glob('models-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump({"models": models}, sort_keys=False))
    return path


def relay_entry(name: str, upstream: ServerProcess | str, **relay: Any) -> dict[str, Any]:
    """An entry relaying ``name`` to an upstream server (provider ``realtime`` by default)."""
    url = upstream if isinstance(upstream, str) else ws_url(upstream)
    spec: dict[str, Any] = {"provider": "realtime", "url": url, "model": "gpt-realtime", **relay}
    return {"name": name, "relay": spec}


def ws_url(server: ServerProcess) -> str:
    return server.base_url.replace("http", "ws", 1) + "/v1/realtime"


@contextlib.contextmanager
def front_server(
    directory: Path, models: list[dict[str, Any]], env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """A server whose model list is ``models``; stopped at the end."""
    config = write_config(directory, models)
    process = ServerProcess({"REALTIME_CONFIG": str(config), **(env or {})})
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def relayed_mock(directory: Path, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A front server whose default entry relays everything to a fresh mock-profile upstream
    (``env`` configures the upstream)."""
    upstream = ServerProcess(env)
    try:
        entry = {**relay_entry("gpt-realtime", upstream), "default": True}
        with front_server(directory, [entry]) as front:
            yield front
    finally:
        upstream.stop()
