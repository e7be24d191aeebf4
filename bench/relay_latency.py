"""The latency a relay adds: the same mock-profile upstream reached directly and through a relay.

Run: ``.venv/bin/python bench/relay_latency.py`` (about a minute; ``--help`` for options).

Two servers run on loopback: the upstream (``main.py --profile mock``) and a front server whose
model list (``--config``) relays its default entry to the upstream over WebSocket. Over raw
``websockets`` the script measures, alternating direct and relayed in blocks so both see the same
machine load:

1. **First audio**: on an open session, ``conversation.item.create`` (user text) and
   ``response.create`` are written back to back; the clock starts when both are written and stops
   at the first ``response.output_audio.delta`` (and at ``response.done``). In the mock profile the
   models take no time, so the difference is what the relay adds: validation at the front, the
   extra hop, JSON in and out once more.
2. **Session set-up**: connect to ``session.created`` (the relay connects upstream first).

Printed side by side as p50/p90/p95/p99/max with relay - direct and relay / direct; results in
``bench/results/relay_latency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c
from websockets.asyncio.client import ClientConnection, connect

EVENT_TIMEOUT_S = 20.0
ITEM = json.dumps(
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "How far is it to the station?"}],
        },
    }
)
CREATE = json.dumps({"type": "response.create"})


async def _until(ws: ClientConnection, kind: str) -> float:
    """Read events until one of ``kind``; the time it arrived."""
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while True:
            message = await ws.recv()
            assert isinstance(message, str)
            if c.event_type(message) == kind:
                return time.perf_counter()


async def _turn(ws: ClientConnection) -> tuple[float, float]:
    """One text turn: seconds to the first audio delta and to ``response.done``."""
    await ws.send(ITEM)
    await ws.send(CREATE)
    started = time.perf_counter()
    first_audio = await _until(ws, "response.output_audio.delta") - started
    done = await _until(ws, "response.done") - started
    return first_audio, done


async def _setup(url: str) -> tuple[ClientConnection, float]:
    started = time.perf_counter()
    ws = await connect(url, max_size=None, compression=None)
    ready = await _until(ws, "session.created")
    return ws, ready - started


async def measure(urls: dict[str, str], turns: int, block: int) -> dict[str, dict[str, c.Series]]:
    series = {
        name: {
            "first_audio": c.Series(f"{name}: first audio delta"),
            "done": c.Series(f"{name}: response.done"),
            "setup": c.Series(f"{name}: connect -> session.created"),
        }
        for name in urls
    }
    sessions: dict[str, ClientConnection] = {}
    for name, url in urls.items():
        sessions[name], _ = await _setup(url)
        for _ in range(5):  # warm-up
            await _turn(sessions[name])
    order = list(urls)
    for start in range(0, turns, block):
        for name in order:
            for _ in range(min(block, turns - start)):
                first_audio, done = await _turn(sessions[name])
                series[name]["first_audio"].add(first_audio)
                series[name]["done"].add(done)
            ws, setup = await _setup(urls[name])
            series[name]["setup"].add(setup)
            await ws.close()
        order.reverse()
    for ws in sessions.values():
        await ws.close()
    return series


def _write_config(directory: Path, upstream: c.ServerProcess) -> Path:
    url = upstream.base_url.replace("http", "ws", 1) + "/v1/realtime"
    path = directory / "relay.yaml"
    path.write_text(
        "models:\n"
        "  - name: gpt-realtime\n"
        "    default: true\n"
        "    relay: {provider: realtime, url: " + url + ", model: gpt-realtime}\n"
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="turns per path (default 300)")
    parser.add_argument("--block", type=int, default=10, help="turns per block (default 10)")
    args = parser.parse_args()
    print(f"busy neighbours: {c.busy_neighbours() or 'none'}")
    with tempfile.TemporaryDirectory() as tmp, c.ServerProcess(label="upstream") as upstream:
        config = _write_config(Path(tmp), upstream)
        with c.ServerProcess(env={"REALTIME_CONFIG": str(config)}, label="relay") as front:
            urls = {"direct": upstream.ws_url, "relay": front.ws_url}
            series = c.run(measure(urls, args.turns, args.block))
    report: dict[str, Any] = {"turns": args.turns, "block": args.block, "rows": {}}
    print(c.format_header(52))
    for metric in ("first_audio", "done", "setup"):
        direct = series["direct"][metric].summary()
        relay = series["relay"][metric].summary()
        print(c.format_row(series["direct"][metric].name, direct, 52))
        print(c.format_row(series["relay"][metric].name, relay, 52))
        added = {k: round(relay[k] - direct[k], 3) for k in direct if k.startswith("p")}
        ratio = {
            k: round(relay[k] / direct[k], 2) for k in direct if k.startswith("p") and direct[k]
        }
        print(f"  relay - direct (ms): {added}")
        print(f"  relay / direct:      {ratio}")
        report["rows"][metric] = {
            "direct": direct,
            "relay": relay,
            "added_ms": added,
            "ratio": ratio,
        }
    path = c.save_results("relay_latency", report)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
