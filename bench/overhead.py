"""Server overhead in the mock profile, against a bare websockets echo server as the floor.

Run: ``.venv/bin/python bench/overhead.py`` (about 3 minutes; ``--help`` for options).

It starts ``main.py --profile mock`` and a bare ``websockets`` echo server (a separate process, same
event loop kind as uvicorn) on free loopback ports, then measures over raw ``websockets``:

1. **Manual turns** (``turn_detection: null``): 500 ms of speech is appended, then the client sends
   ``input_audio_buffer.commit`` and ``response.create`` back to back; the clock starts when both
   are written and stops at ``input_audio_buffer.committed``, ``response.created``, the first
   ``response.output_audio.delta`` and ``response.done``. In the mock profile STT, LLM and TTS take
   no time, so this is the server's own overhead (validation, core, Pipecat frames, JSON, socket).
2. **End of speech** (``server_vad``, defaults, ``create_response: false``): a clip is streamed
   (its speech part fast, 100 ms chunks at ``--speed`` times real time), then its silent tail in
   20 ms chunks paced in real time. The VAD decides the turn is over at ``audio_end_ms`` (the end
   of speech plus the 200 ms silence window, on the audio clock); the latency is the wall time from
   sending the chunk that let the server's VAD reach ``audio_end_ms`` (found by replaying the chunks
   through the server's own streaming resampler) to receiving ``speech_stopped``. So the silence
   window itself is not counted: this is the VAD's and the server's processing delay.
3. **Floor**: round trips of a ~40-byte text frame through the echo server, half before and half
   after the turns (so both see the same machine load).

Results are printed as p50/p90/p95/p99 and written to ``bench/results/overhead.json``.

``--baseline REF`` starts a second server from git ``REF`` (a temporary worktree, removed at the
end) next to this checkout's; both are up for the whole run and their turns alternate in blocks of
``--block`` (baseline, current, then current, baseline, ...), each server on its own connections, so
both see the same machine load. One floor is shared. Every row is printed for both with the ratio
current / baseline; results in ``bench/results/overhead_vs_baseline.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import _common as c
from websockets.asyncio.client import ClientConnection, connect

COMMIT = json.dumps({"type": "input_audio_buffer.commit"})
CREATE = json.dumps({"type": "response.create"})
PING = json.dumps({"type": "ping", "event_id": "event_0123456789abcdef"})
MANUAL_AUDIO_MS = 500
MANUAL_AUDIO_FROM_MS = 1000  # go_forward_human speaks from 1.0 s
PACED_CHUNK_MS = 20
EXTRA_SILENCE_MS = 1000
EVENT_TIMEOUT_S = 20.0


# --- the echo server (a subprocess of this script) --------------------------------------------


async def _serve_echo(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", port, max_size=None) as server:
        await server.serve_forever()


class EchoServer:
    """This script run with ``--serve-echo PORT`` in a subprocess."""

    def __init__(self) -> None:
        self.port = c.free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-echo", str(self.port)], cwd=c.ROOT
        )

    async def wait_ready(self) -> None:
        """Wait until it accepts connections."""
        for _ in range(200):
            try:
                async with connect(self.url):
                    return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("echo server did not start")

    def stop(self) -> None:
        """Terminate it."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def measure_echo(url: str, rounds: int, compression: str | None) -> list[float]:
    """Round-trip times of a small text frame."""
    rtts: list[float] = []
    async with connect(url, compression=compression, max_size=None) as ws:
        for _ in range(10):  # warm-up
            await ws.send(PING)
            await ws.recv()
        for _ in range(rounds):
            start = time.perf_counter()
            await ws.send(PING)
            await ws.recv()
            rtts.append(time.perf_counter() - start)
    return rtts


# --- a realtime connection with timestamped events --------------------------------------------


@dataclass
class Arrival:
    """One server event as received."""

    at: float
    type: str
    raw: str

    def data(self) -> dict[str, Any]:
        """The event parsed."""
        return dict(json.loads(self.raw))


@dataclass
class Connection:
    """A raw websockets connection whose reader task timestamps every server event."""

    ws: ClientConnection
    queue: asyncio.Queue[Arrival] = field(default_factory=asyncio.Queue)
    errors: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async for message in self.ws:
            now = time.perf_counter()
            text = message if isinstance(message, str) else message.decode()
            kind = c.event_type(text)
            if kind == "error":
                self.errors.append(text[:300])
            self.queue.put_nowait(Arrival(now, kind, text))

    def start(self) -> None:
        """Start the reader."""
        self.reader = asyncio.create_task(self._read())

    async def until(
        self, kind: str, timeout: float = EVENT_TIMEOUT_S
    ) -> tuple[Arrival, list[Arrival]]:
        """Wait for the next event of ``kind``; returns it and every event before it."""
        seen: list[Arrival] = []
        async with asyncio.timeout(timeout):
            while True:
                arrival = await self.queue.get()
                seen.append(arrival)
                if arrival.type == kind:
                    return arrival, seen

    async def close(self) -> None:
        """Close the socket and the reader."""
        await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


async def open_session(url: str, compression: str | None, session: dict[str, Any]) -> Connection:
    """Connect, consume ``session.created``, apply ``session`` and wait for ``session.updated``."""
    ws = await connect(url, compression=compression, max_size=None)
    conn = Connection(ws)
    conn.start()
    await conn.until("session.created")
    await ws.send(
        json.dumps({"type": "session.update", "session": {"type": "realtime", **session}})
    )
    await conn.until("session.updated")
    return conn


# --- manual turns -------------------------------------------------------------------------------


@dataclass
class ManualFigures:
    """Latencies from the commit + response.create pair."""

    committed: c.Series = field(default_factory=lambda: c.Series("-> input_audio_buffer.committed"))
    created: c.Series = field(default_factory=lambda: c.Series("-> response.created"))
    first_audio: c.Series = field(default_factory=lambda: c.Series("-> first output_audio.delta"))
    done: c.Series = field(default_factory=lambda: c.Series("-> response.done"))
    failed: int = 0


class ManualRunner:
    """Manual turns against one server, ``per_session`` per connection, run in blocks.

    The connection stays open between blocks (``--baseline`` alternates two servers' blocks).
    """

    def __init__(self, url: str, per_session: int, compression: str | None) -> None:
        self.url = url
        self.per_session = per_session
        self.compression = compression
        self.figures = ManualFigures()
        self.conn: Connection | None = None
        self.in_conn = 0
        pcm = c.clip("go_forward_human.wav")
        start = MANUAL_AUDIO_FROM_MS * c.BYTES_PER_MS
        speech = pcm[start:][: MANUAL_AUDIO_MS * 48]
        self.audio = [c.append_message(p) for p in c.chunks(speech, 100)]

    async def run(self, turns: int) -> None:
        """``turns`` more commit + response.create turns."""
        session = {"audio": {"input": {"turn_detection": None}}}
        figures = self.figures
        try:
            for _ in range(turns):
                if self.conn is None:
                    self.conn = await open_session(self.url, self.compression, session)
                    self.in_conn = 0
                conn = self.conn
                for message in self.audio:
                    await conn.ws.send(message)
                await conn.ws.send(COMMIT)
                await conn.ws.send(CREATE)
                sent = time.perf_counter()
                done, seen = await conn.until("response.done")
                first: dict[str, float] = {}
                for arrival in seen:
                    first.setdefault(arrival.type, arrival.at)
                status = done.data()["response"]["status"]
                if status != "completed" or "response.output_audio.delta" not in first:
                    figures.failed += 1
                else:
                    figures.committed.add(first["input_audio_buffer.committed"] - sent)
                    figures.created.add(first["response.created"] - sent)
                    figures.first_audio.add(first["response.output_audio.delta"] - sent)
                    figures.done.add(done.at - sent)
                await conn.until("rate_limits.updated")
                self.in_conn += 1
                if self.in_conn >= self.per_session:
                    await self.close()
        except BaseException:
            await self.close(check=False)
            raise

    async def close(self, check: bool = True) -> None:
        """Close the open connection (raise if the server sent errors on it)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            if check and conn.errors:
                raise RuntimeError(f"server errors: {conn.errors[:3]}")
        finally:
            await conn.close()


async def manual_turns(
    url: str, turns: int, per_session: int, compression: str | None
) -> ManualFigures:
    """Commit + response.create turns, ``per_session`` per connection."""
    runner = ManualRunner(url, per_session, compression)
    try:
        await runner.run(turns)
    finally:
        await runner.close()
    return runner.figures


# --- end of speech ------------------------------------------------------------------------------


@dataclass
class VadFigures:
    """Latency from the chunk completing the silence window to ``speech_stopped``."""

    paced: c.Series = field(default_factory=lambda: c.Series("completing chunk -> speech_stopped"))
    unpaced: int = 0  # turns ended inside the fast part of a clip (a pause in the speech)
    beyond_energy_end: list[float] = field(default_factory=list)
    missing: int = 0


class VadStream:
    """One server_vad connection: sends chunks, replays them, times ``speech_stopped``."""

    def __init__(self, conn: Connection, figures: VadFigures) -> None:
        self.conn = conn
        self.figures = figures
        self.trigger = c.TriggerMap()
        self.send_times: list[float] = []
        self.audio_ms = 0.0
        self.energy_end_ms = 0.0  # audio clock position of the current clip's end of speech
        self.paced_from = 0  # first chunk index of the current clip's paced part
        self.stopped = asyncio.Event()
        self.watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            arrival = await self.conn.queue.get()
            if arrival.type != "input_audio_buffer.speech_stopped":
                continue
            end_ms = arrival.data()["audio_end_ms"]
            index = self.trigger.chunk_for_ms(end_ms)
            if index is None:
                self.figures.missing += 1
            elif index >= self.paced_from:
                self.figures.paced.add(arrival.at - self.send_times[index])
                self.figures.beyond_energy_end.append(end_ms - self.energy_end_ms)
                self.stopped.set()
            else:
                self.figures.unpaced += 1

    async def send(self, pcm: bytes) -> None:
        """Append one chunk and note when it left."""
        await self.conn.ws.send(c.append_message(pcm))
        self.send_times.append(time.perf_counter())
        self.trigger.feed(pcm)
        self.audio_ms += len(pcm) / c.BYTES_PER_MS

    async def turn(self, name: str, speed: float) -> None:
        """Stream one clip: speech fast, then the silent tail paced until ``speech_stopped``."""
        pcm = c.clip(name) + bytes(EXTRA_SILENCE_MS * c.BYTES_PER_MS)
        cut = int(c.speech_end_ms(name) // PACED_CHUNK_MS * PACED_CHUNK_MS) * c.BYTES_PER_MS
        self.energy_end_ms = self.audio_ms + c.speech_end_ms(name)
        self.stopped.clear()
        self.paced_from = sys.maxsize  # a turn ending in the fast part is not timed
        for chunk in c.chunks(pcm[:cut], 100):
            await self.send(chunk)
            await asyncio.sleep(0.1 / speed)
        await asyncio.sleep(0.05)  # let the server catch up with the fast part
        self.paced_from = len(self.send_times)
        next_at = time.perf_counter()
        for chunk in c.chunks(pcm[cut:], PACED_CHUNK_MS):
            if not self.stopped.is_set():
                next_at += PACED_CHUNK_MS / 1000
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await self.send(chunk)
        try:
            await asyncio.wait_for(self.stopped.wait(), 2.0)
        except TimeoutError:
            self.figures.missing += 1


class VadRunner:
    """server_vad turns against one server over the speech clips in turn, run in blocks."""

    def __init__(self, url: str, per_session: int, speed: float, compression: str | None) -> None:
        self.url = url
        self.per_session = per_session
        self.speed = speed
        self.compression = compression
        self.figures = VadFigures()
        self.stream: VadStream | None = None
        self.in_conn = 0
        self.done_turns = 0

    async def run(self, turns: int) -> None:
        """``turns`` more clips streamed and timed."""
        vad = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300}
        vad |= {"silence_duration_ms": 200, "create_response": False}
        session = {"audio": {"input": {"turn_detection": vad}}}
        try:
            for _ in range(turns):
                if self.stream is None:
                    conn = await open_session(self.url, self.compression, session)
                    self.stream = VadStream(conn, self.figures)
                    self.in_conn = 0
                name = c.SPEECH_CLIPS[self.done_turns % len(c.SPEECH_CLIPS)]
                await self.stream.turn(name, self.speed)
                self.done_turns += 1
                self.in_conn += 1
                if self.in_conn >= self.per_session:
                    await self.close()
        except BaseException:
            await self.close(check=False)
            raise

    async def close(self, check: bool = True) -> None:
        """Close the open connection (raise if the server sent errors on it)."""
        stream, self.stream = self.stream, None
        if stream is None:
            return
        try:
            if check and stream.conn.errors:
                raise RuntimeError(f"server errors: {stream.conn.errors[:3]}")
        finally:
            stream.watcher.cancel()
            await stream.conn.close()


async def vad_turns(
    url: str, turns: int, per_session: int, speed: float, compression: str | None
) -> VadFigures:
    """Stream clips and time ``speech_stopped`` against the chunk that completed the window."""
    runner = VadRunner(url, per_session, speed, compression)
    try:
        await runner.run(turns)
    finally:
        await runner.close()
    return runner.figures


# --- main ----------------------------------------------------------------------------------------


def ratio(value: dict[str, float], floor: dict[str, float], key: str) -> str:
    """``value[key] / floor[key]`` as text."""
    if not value.get("n") or not floor.get("n") or not floor[key]:
        return "-"
    return f"{value[key] / floor[key]:.1f}x"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the servers, measure, print."""
    compression = None if args.no_compression else "deflate"
    echo = EchoServer()
    server = c.ServerProcess("mock")
    try:
        await echo.wait_ready()
        print(
            f"server pid {server.pid} on port {server.port}, echo on {echo.port}; loop "
            f"{c.loop_name()}; compression {compression}; load {c.load_average()}"
        )
        half = args.echo_rounds // 2
        rtts = await measure_echo(echo.url, half, compression)
        manual = await manual_turns(server.ws_url, args.turns, args.per_session, compression)
        print(f"manual turns done ({args.turns})")
        vad = await vad_turns(
            server.ws_url, args.vad_turns, args.per_session, args.speed, compression
        )
        print(f"vad turns done ({args.vad_turns})")
        rtts += await measure_echo(echo.url, args.echo_rounds - half, compression)
    finally:
        server.stop()
        echo.stop()

    floor = c.summarize(rtts)
    rows = {
        "echo round trip (floor)": floor,
        **{
            f"commit+create {s.name}": s.summary()
            for s in (manual.committed, manual.created, manual.first_audio, manual.done)
        },
        f"VAD: {vad.paced.name}": vad.paced.summary(),
    }
    print()
    print(c.format_header(52) + f"{'p50/floor':>11}{'p99/floor':>11}")
    for name, summary in rows.items():
        print(
            c.format_row(name, summary, 52) + f"{ratio(summary, floor, 'p50'):>11}"
            f"{ratio(summary, floor, 'p99'):>11}"
        )
    beyond = c.summarize([ms / 1000 for ms in vad.beyond_energy_end])
    print(
        f"\nmanual turns failed: {manual.failed}; VAD turns without a paced speech_stopped: "
        f"{vad.missing}; mid-clip turn ends (not timed): {vad.unpaced}"
    )
    print(
        f"audio_end_ms beyond the clip's energy end of speech (audio clock, includes the "
        f"200 ms window): p50 {beyond.get('p50', 0):.0f} ms, p90 {beyond.get('p90', 0):.0f} ms"
    )
    neighbours = c.busy_neighbours()
    if neighbours:
        print("other busy processes at the end of the run:\n  " + "\n  ".join(neighbours))
    results = {
        "settings": vars(args) | {"compression": compression},
        "rows_ms": rows,
        "ratios_to_floor": {
            k: {"p50": ratio(v, floor, "p50"), "p99": ratio(v, floor, "p99")}
            for k, v in rows.items()
        },
        "manual_failed": manual.failed,
        "vad_missing": vad.missing,
        "vad_mid_clip_turn_ends": vad.unpaced,
        "vad_audio_end_beyond_energy_end_ms": beyond,
        "load_average_at_end": c.load_average(),
        "busy_neighbours_at_end": neighbours,
    }
    print(f"\nwritten to {c.save_results('overhead', results)}")
    return results


# --- --baseline: two servers, interleaved ------------------------------------------------------


async def _alternate(
    runners: dict[str, ManualRunner] | dict[str, VadRunner], total: int, block: int
) -> None:
    """``total`` turns per runner in blocks of ``block``, the order flipping each round (AB BA)."""
    labels = list(runners)
    left = dict.fromkeys(labels, total)
    number = 0
    while any(left.values()):
        for label in labels if number % 2 == 0 else labels[::-1]:
            turns = min(block, left[label])
            if turns:
                await runners[label].run(turns)
                left[label] -= turns
        number += 1


def _server_rows(manual: ManualFigures, vad: VadFigures) -> dict[str, dict[str, float]]:
    return {
        **{
            f"commit+create {s.name}": s.summary()
            for s in (manual.committed, manual.created, manual.first_audio, manual.done)
        },
        f"VAD: {vad.paced.name}": vad.paced.summary(),
    }


async def compare(args: argparse.Namespace, trees: list[c.Tree]) -> dict[str, Any]:
    """Both servers (baseline first) up at once; their turns alternate in blocks; one floor."""
    compression = None if args.no_compression else "deflate"
    echo = EchoServer()
    servers: dict[str, c.ServerProcess] = {}
    manual: dict[str, ManualRunner] = {}
    vad: dict[str, VadRunner] = {}
    codes: dict[str, str] = {}
    try:
        for tree in trees:
            codes[tree.label] = c.code_fingerprint(tree.root)
            servers[tree.label] = c.ServerProcess("mock", root=tree.root, label=tree.label)
        await echo.wait_ready()
        for tree in trees:
            server = servers[tree.label]
            print(
                f"{tree.title}: server pid {server.pid} on port {server.port}, ready in "
                f"{server.started_s:.1f} s, from {tree.root}"
            )
        print(
            f"echo on {echo.port}; loop {c.loop_name()}; compression {compression}; blocks of "
            f"{args.block} turns alternating between the servers; load {c.load_average()}",
            flush=True,
        )
        half = args.echo_rounds // 2
        rtts = await measure_echo(echo.url, half, compression)
        manual = {
            label: ManualRunner(server.ws_url, args.per_session, compression)
            for label, server in servers.items()
        }
        try:
            await _alternate(manual, args.turns, args.block)
        finally:
            for runner in manual.values():
                await runner.close()
        print(f"manual turns done ({args.turns} per server)", flush=True)
        vad = {
            label: VadRunner(server.ws_url, args.per_session, args.speed, compression)
            for label, server in servers.items()
        }
        try:
            await _alternate(vad, args.vad_turns, args.block)
        finally:
            for vad_runner in vad.values():
                await vad_runner.close()
        print(f"vad turns done ({args.vad_turns} per server)", flush=True)
        rtts += await measure_echo(echo.url, args.echo_rounds - half, compression)
    finally:
        for server in servers.values():
            server.stop()
        echo.stop()

    floor = c.summarize(rtts)
    rows = {t.label: _server_rows(manual[t.label].figures, vad[t.label].figures) for t in trees}
    base, current = trees[0].label, trees[1].label
    width = 52
    print()
    print(c.format_header(width) + f"{'p50/floor':>11}{'p99/floor':>11}")
    print(c.format_row("echo round trip (floor)", floor, width))
    for name in rows[base]:
        print(name)
        for tree in trees:
            summary = rows[tree.label][name]
            print(
                c.format_row(f"  {tree.title}", summary, width)
                + f"{ratio(summary, floor, 'p50'):>11}{ratio(summary, floor, 'p99'):>11}"
            )
        print(
            c.format_ratio_row("  current / baseline", rows[current][name], rows[base][name], width)
        )
    per_server: dict[str, dict[str, Any]] = {}
    print()
    for tree in trees:
        figures_m, figures_v = manual[tree.label].figures, vad[tree.label].figures
        beyond = c.summarize([ms / 1000 for ms in figures_v.beyond_energy_end])
        print(
            f"{tree.title}: manual turns failed {figures_m.failed}; VAD turns without a paced "
            f"speech_stopped {figures_v.missing}; mid-clip turn ends (not timed) "
            f"{figures_v.unpaced}; audio_end_ms beyond the energy end of speech p50 "
            f"{beyond.get('p50', 0):.0f} ms, p90 {beyond.get('p90', 0):.0f} ms"
        )
        per_server[tree.label] = {
            "tree": tree.describe(),
            "server_ready_s": round(servers[tree.label].started_s, 2),
            "server_code_sha1": codes[tree.label],
            "rows_ms": rows[tree.label],
            "ratios_to_floor": {
                k: {"p50": ratio(v, floor, "p50"), "p99": ratio(v, floor, "p99")}
                for k, v in rows[tree.label].items()
            },
            "manual_failed": figures_m.failed,
            "vad_missing": figures_v.missing,
            "vad_mid_clip_turn_ends": figures_v.unpaced,
            "vad_audio_end_beyond_energy_end_ms": beyond,
        }
    neighbours = c.busy_neighbours()
    if neighbours:
        print("other busy processes at the end of the run:\n  " + "\n  ".join(neighbours))
    results = {
        "settings": vars(args) | {"compression": compression},
        "floor_ms": floor,
        "servers": per_server,
        "current_to_baseline": {
            name: c.ratios(rows[current][name], rows[base][name]) for name in rows[base]
        },
        "load_average_at_end": c.load_average(),
        "busy_neighbours_at_end": neighbours,
    }
    print(f"\nwritten to {c.save_results('overhead_vs_baseline', results)}")
    return results


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=250, help="manual commit turns (250)")
    parser.add_argument("--vad-turns", type=int, default=200, help="server_vad turns (200)")
    parser.add_argument("--per-session", type=int, default=50, help="turns per connection (50)")
    parser.add_argument("--echo-rounds", type=int, default=1000, help="echo round trips (1000)")
    parser.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="speed of the fast part of each clip, x real time (10)",
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="do not offer permessage-deflate (the SDK offers it by default)",
    )
    c.add_baseline_option(parser)
    parser.add_argument(
        "--block",
        type=int,
        default=10,
        help="with --baseline: turns per block, the servers alternating block by block (10)",
    )
    parser.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        c.run(_serve_echo(args.serve_echo))
        return
    if args.baseline:
        current = c.current_tree()
        with c.baseline_tree(args.baseline) as baseline:
            c.run(compare(args, [baseline, current]))
        return
    c.run(run(args))


if __name__ == "__main__":
    main()
