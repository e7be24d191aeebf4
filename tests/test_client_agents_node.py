"""OpenAI's Agents SDK for JavaScript (``@openai/agents-realtime``) against the mock server.

Each scenario is a Node script in ``tests/node/`` that drives a ``RealtimeSession`` over the SDK's
own WebSocket transport (``transport: 'websocket'``, ``url: ws://127.0.0.1:PORT/v1/realtime``) and
prints one JSON report: what the SDK saw (its history, tool runs, audio) and every raw server event
and client event on the wire. Here the report is checked, and every server event the SDK received is
validated against the Python SDK's strict GA union and the protocol invariants.

The Node packages are pinned in ``tests/node/package-lock.json``; ``make test`` installs them with
``npm ci --prefix tests/node``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT, ServerProcess
from tests.helpers_audio import mock_reply_bytes
from tests.realtime_client import InvariantChecker, validate_server_event

pytestmark = pytest.mark.timeout(60)

NODE_DIR = ROOT / "tests" / "node"
SCENARIO_TIMEOUT_S = 30.0
SDK = NODE_DIR / "node_modules" / "@openai" / "agents-realtime" / "package.json"


def run_scenario(server: ServerProcess, name: str) -> dict[str, Any]:
    """Run ``tests/node/scenario_<name>.mjs`` against ``server``; return its JSON report."""
    node = shutil.which("node")
    assert node, "Node.js is not installed (the Node client tests need node >= 20)"
    assert SDK.exists(), "Node packages missing: run `npm ci --prefix tests/node` (make test does)"
    url = f"ws://127.0.0.1:{server.port}/v1/realtime"
    script = NODE_DIR / f"scenario_{name}.mjs"
    done = subprocess.run(
        [node, str(script), "--url", url],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT_S,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no report from {script.name} (exit {done.returncode}): {done.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    assert report["ok"] and done.returncode == 0, (
        f"{script.name} failed: {report.get('error')}\nstderr: {done.stderr[-3000:]}\n"
        f"server events: {[e['type'] for e in report['serverEvents']]}"
    )
    check_server_events(report["serverEvents"])
    return report


def check_server_events(events: list[dict[str, Any]]) -> None:
    """Every server event is a valid GA event; the stream keeps the invariants; no ``error``."""
    invariants = InvariantChecker()
    for event in events:
        validate_server_event(event)
        invariants.check(event)
    errors = [e for e in events if e["type"] == "error"]
    assert not errors, errors


def types_sent(report: dict[str, Any]) -> list[str]:
    return [e["type"] for e in report["clientEvents"]]


def sdk_version() -> str:
    return str(json.loads(SDK.read_text())["version"])


def test_sdk_version_is_the_pinned_one() -> None:
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/@openai/agents-realtime"]["version"]
    assert sdk_version() == pinned, (
        "tests/node/node_modules is stale: run npm ci --prefix tests/node"
    )


def test_text_turn(server: ServerProcess) -> None:
    report = run_scenario(server, "text")
    result = report["result"]
    # The SDK's session.update was applied as sent.
    updated = result["sessionUpdated"]
    assert updated["instructions"] == "Answer briefly."
    assert updated["output_modalities"] == ["text"]
    assert updated["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert types_sent(report)[:2] == ["session.update", "session.update"]
    # The turn: sendMessage() -> conversation.item.create + response.create -> a text reply.
    assert types_sent(report)[2:] == ["conversation.item.create", "response.create"]
    done = result["responseDone"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"] == [
        {"type": "output_text", "text": "You said: Hello from Node"}
    ]
    assert result["agentEndOutput"] == "You said: Hello from Node"
    # The SDK's own history holds the user message and the completed reply.
    history = [(h["role"], h["status"], h["content"]) for h in report["history"]]
    assert history == [
        ("user", "completed", [{"type": "input_text", "text": "Hello from Node"}]),
        ("assistant", "completed", [{"type": "output_text", "text": "You said: Hello from Node"}]),
    ]
    assert report["audioDeltaBytes"] == 0


def test_tool_turn(server: ServerProcess) -> None:
    report = run_scenario(server, "tool")
    result = report["result"]
    question = "What is the weather in Paris? Please use get_weather."
    assert result["sessionCreated"]["tools"] == []
    # The SDK ran its local tool with the arguments the model produced.
    assert result["toolStarted"]["name"] == "get_weather"
    assert json.loads(result["toolStarted"]["arguments"]) == {"text": question}
    assert result["calls"] == [question]
    tool_output = '{"city":"Paris","temperature_c":21}'
    assert result["toolResult"] == tool_output
    # It sent the output back and asked for the next response, which used it.
    sent = report["clientEvents"]
    outputs = [e["item"] for e in sent if e["type"] == "conversation.item.create"][1:]
    assert len(outputs) == 1
    assert outputs[0]["type"] == "function_call_output"
    assert outputs[0]["output"] == tool_output
    calls = [
        e["item"]
        for e in report["serverEvents"]
        if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"
    ]
    assert [c["call_id"] for c in calls] == [outputs[0]["call_id"]]
    assert types_sent(report)[2:] == [
        "conversation.item.create",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    final = result["finalResponse"]
    assert final["status"] == "completed"
    assert final["output"][0]["content"] == [
        {"type": "output_text", "text": f"Tool result: {tool_output}"}
    ]


def test_audio_turn(server: ServerProcess) -> None:
    report = run_scenario(server, "audio")
    result = report["result"]
    # The SDK's defaults: semantic_vad with a response on turn end, input transcription, audio out.
    detection = result["sessionUpdated"]["audio"]["input"]["turn_detection"]
    assert detection["type"] == "semantic_vad"
    assert detection["create_response"] is True
    assert result["sessionUpdated"]["output_modalities"] == ["audio"]
    assert result["clipBytes"] == 229740
    # The clip's speech is 1.00-2.86 s (tests/fixtures/audio/manifest.json).
    assert abs(result["speechStarted"]["audio_start_ms"] - 1000) <= 400
    assert result["speechStopped"]["audio_end_ms"] > 2860
    transcript = result["transcript"]
    assert re.fullmatch(r"audio of \d+ ms", transcript), transcript
    reply = f"You said: {transcript}"
    done = result["responseDone"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": reply}]
    # The reply's audio reached the SDK's `audio` event whole.
    assert report["audioDeltaBytes"] == mock_reply_bytes(reply)
    assert result["sdkAudioBytes"] == mock_reply_bytes(reply)
    history = [
        (h["role"], h["content"][0]["type"], h["content"][0]["transcript"])
        for h in report["history"]
    ]
    assert history == [("user", "input_audio", transcript), ("assistant", "output_audio", reply)]
    # Only audio went in: no commit, no response.create (the server's VAD did both).
    sent = set(types_sent(report))
    assert "input_audio_buffer.commit" not in sent
    assert "response.create" not in sent
