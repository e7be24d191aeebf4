"""The official ``openai`` package for Node (7.x) against the server's own TLS.

``OpenAIRealtimeWS`` ('openai/realtime/ws') and ``OpenAIRealtimeWebSocket``
('openai/realtime/websocket') build their URL from the client's ``baseURL`` and always dial
``wss:`` (an ``http://`` base URL is rewritten too), so an app moves to this server by changing
only ``baseURL`` to ``https://HOST:PORT/v1``, and the server must speak TLS. Here the server runs
on a throwaway self-signed certificate (``REALTIME_SSL_CERTFILE``/``KEYFILE``) that Node trusts
through ``NODE_EXTRA_CA_CERTS``; verification stays on. ``tests/node/scenario_openai_sdk.mjs``
does a text turn and a tool turn and reports every event; each server event is validated against
the Python SDK's strict GA union and the protocol invariants.

The Node packages are pinned in ``tests/node/package-lock.json`` (``npm ci --prefix tests/node``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT, ServerProcess
from tests.realtime_client import InvariantChecker, validate_server_event
from tests.tls_cert import CertificateFiles, make_self_signed

pytestmark = pytest.mark.timeout(90)

NODE_DIR = ROOT / "tests" / "node"
SCRIPT = NODE_DIR / "scenario_openai_sdk.mjs"
SDK = NODE_DIR / "node_modules" / "openai" / "package.json"
KEY = "sk-openai-node-test-key"
SCENARIO_TIMEOUT_S = 45.0
QUESTION = "What is the weather in Paris? Please use get_weather."
TOOL_OUTPUT = '{"city":"Paris","temperature_c":21}'


def node() -> str:
    found = shutil.which("node")
    assert found, "Node.js is not installed (the Node client tests need node >= 20)"
    assert SDK.exists(), "Node packages missing: run `npm ci --prefix tests/node` (make test does)"
    return found


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_self_signed(tmp_path_factory.mktemp("openai-node-tls"))


@pytest.fixture(scope="module")
def tls_server(cert: CertificateFiles) -> Iterator[ServerProcess]:
    env = {
        "REALTIME_SSL_CERTFILE": str(cert.cert),
        "REALTIME_SSL_KEYFILE": str(cert.key),
        "REALTIME_API_KEYS": KEY,
    }
    process = ServerProcess(env, cafile=cert.cert)
    yield process
    process.stop()


def run_sdk(base_url: str, client: str, trusted: CertificateFiles | None) -> dict[str, Any]:
    """Run the scenario with ``client`` (ws or websocket); return its JSON report."""
    executable = node()
    version = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    # The platform WebSocket is global from Node 22; Node 20 has it behind a flag.
    flags = ["--experimental-websocket"] if client == "websocket" and major < 22 else []
    env = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}
    if trusted is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(trusted.cert)
    arguments = ["--base-url", base_url, "--api-key", KEY, "--client", client]
    done = subprocess.run(
        [executable, *flags, str(SCRIPT), *arguments],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT_S,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no report from {SCRIPT.name} (exit {done.returncode}): {done.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    report["returncode"] = done.returncode
    report["stderr"] = done.stderr[-3000:]
    return report


def test_sdk_version_is_a_pinned_7x() -> None:
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/openai"]["version"]
    assert pinned.startswith("7."), pinned
    assert lock["packages"][""]["dependencies"]["openai"] == pinned  # a direct dependency
    assert json.loads(SDK.read_text())["version"] == pinned, (
        "tests/node/node_modules is stale: run npm ci --prefix tests/node"
    )


@pytest.mark.parametrize("client", ["ws", "websocket"])
def test_text_and_tool_turns_over_wss(
    tls_server: ServerProcess, cert: CertificateFiles, client: str
) -> None:
    report = run_sdk(f"{tls_server.base_url}/v1", client, cert)
    assert report["ok"] and report["returncode"] == 0, (
        f"{client}: {report.get('error')}\nstderr: {report['stderr']}\n"
        f"server events: {[e['type'] for e in report['serverEvents']]}"
    )
    assert report["url"] == f"wss://127.0.0.1:{tls_server.port}/v1/realtime?model=gpt-realtime"
    invariants = InvariantChecker()
    for event in report["serverEvents"]:
        validate_server_event(event)
        invariants.check(event)
    assert not [e for e in report["serverEvents"] if e["type"] == "error"]

    result = report["result"]
    assert result["sessionCreated"]["model"] == "gpt-realtime"
    updated = result["sessionUpdated"]
    assert updated["output_modalities"] == ["text"]
    assert [tool["name"] for tool in updated["tools"]] == ["get_weather"]
    text = result["textResponse"]
    assert text["status"] == "completed"
    reply = {"type": "output_text", "text": "You said: Hello over TLS"}
    assert text["output"][0]["content"] == [reply]
    (call,) = result["toolCallResponse"]["output"]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"text": QUESTION}
    sent = [e for e in report["clientEvents"] if e["type"] == "conversation.item.create"]
    assert sent[-1]["item"] == {
        "type": "function_call_output",
        "call_id": call["call_id"],
        "output": TOOL_OUTPUT,
    }
    final = result["finalResponse"]
    assert final["status"] == "completed"
    assert final["output"][0]["content"] == [
        {"type": "output_text", "text": f"Tool result: {TOOL_OUTPUT}"}
    ]


def test_an_http_base_url_is_dialled_as_wss_too(server: ServerProcess) -> None:
    """Why the server needs TLS for openai-node: ``http://`` does not give ``ws://``."""
    report = run_sdk(f"{server.base_url}/v1", "ws", None)
    assert report["url"] == f"wss://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"
    assert not report["ok"] and report["returncode"] == 1
    assert report["serverEvents"] == []
