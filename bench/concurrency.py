"""How many real-time sessions one server holds (mock profile, server VAD): lag, CPU, memory.

Run: ``.venv/bin/python bench/concurrency.py`` (at most ``--budget`` seconds, 500 by default).
Profile one level with py-spy: ``.venv/bin/python bench/concurrency.py --profile 20``.

Each of N sessions streams 24 kHz PCM16 in real time (100 ms ``input_audio_buffer.append`` chunks
on an absolute schedule) from a playlist of the test clips in tests/fixtures/audio played back to
back, so it takes a turn every few seconds; the session keeps the default ``server_vad`` (threshold
0.5, prefix 300 ms, silence 200 ms, ``create_response: true``), so every turn also gets a (mock)
spoken response. Session starts are spread over ``--spread`` seconds so turns do not all end at the
same moment.

**Lag** of a VAD event is its arrival time minus the wall time at which the audio it needed was
sent: for ``speech_stopped`` the chunk that let the server's VAD reach ``audio_end_ms``; for
``speech_started`` the chunk that let it confirm speech (onset + 96 ms). The chunks are known
exactly by replaying each session's stream offline through the server's own resampler and
:class:`pipeline_manager.turn_detection.TurnDetector`, which also gives the events every session
must receive. **Lost**: an expected ``speech_started``/``speech_stopped`` that never came, or a turn
without its ``input_audio_buffer.committed`` and ``response.done`` (status ``completed``).

N steps through ``--levels`` (5, 10, 20, 40, 80, 160) while the p99 lag stays under ``--max-lag-ms``
(100) with nothing lost, then bisects between the last level that passed and the first that
failed, within the time budget. A fresh server is started for every level; its CPU (utime + stime
from ``/proc/<pid>/stat``, in % of one core) and resident memory (``/proc/<pid>/statm``) are read
while the sessions stream. The client runs on the same 2 cores (its own CPU is reported too).
``--workers 2`` serves the same app under uvicorn with two worker processes instead (CPU and memory
are then summed over the process tree; the "loop thread" figures over the workers' main threads).
Results: ``bench/results/concurrency.json`` (``concurrency_workers<K>.json`` with ``--workers``,
``concurrency_profile.*`` for ``--profile``).

``--baseline REF`` compares with a server started from git ``REF`` (a temporary worktree, removed at
the end) instead of searching: each of ``--levels`` (default 20, 40, 80) runs once per server, a
fresh server each time, the order flipping from one level to the next (baseline first, then current
first, ...) so both see the same machine load; ``--repeat`` runs the whole list again. Printed per
level: lag, lost events, CPU, memory of both and the ratios current / baseline; results in
``bench/results/concurrency_vs_baseline.json``. The expected events still come from this
checkout's resampler and ``TurnDetector`` (so a baseline with a different VAD would show as
unexpected or lost events).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as c
from websockets.asyncio.client import ClientConnection, connect

PLAYLIST = ("go_forward_human.wav", "austen_human.wav", "hello_joke_synth.wav")
CHUNK_MS = 100
CONFIRM_MS = 96  # turn_detection.MIN_SPEECH_MS: speech is confirmed this long after its onset
MATCH_TOLERANCE_MS = 64
CONNECT_CONCURRENCY = 8
CONNECT_TIMEOUT_S = 20.0
CONNECT_PHASE_S = 60.0  # bounds a level's connect phase even if the server stops answering
# The server refuses sessions beyond REALTIME_MAX_SESSIONS (100 by default): lift it to measure.
SERVER_ENV = {"REALTIME_MAX_SESSIONS": "100000"}
WORKERS = Path(__file__).resolve().with_name("_workers.py")
DRAIN_S = 6.0
INTERESTING = {
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "response.created",
    "response.done",
    "error",
}


# --- the expected stream ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """A VAD event the server must send, and the chunk that lets it decide."""

    kind: str  # "started" or "stopped"
    audio_ms: float  # audio_start_ms (onset - prefix) or audio_end_ms, on the session clock
    chunk: int


@dataclass
class Stream:
    """One rotation of the playlist: its append frames and the events it must produce."""

    messages: list[str]
    expected: list[Expected]


async def build_stream(rotation: int, duration_s: float, prefix_ms: float = 300) -> Stream:
    """The playlist rotated by ``rotation`` and looped for ``duration_s``; replayed offline."""
    from pipeline_manager.turn_detection import SpeechStarted, TurnDetector

    order = PLAYLIST[rotation:] + PLAYLIST[:rotation]
    pcm = b""
    index = 0
    while len(pcm) < duration_s * 1000 * c.BYTES_PER_MS:
        pcm += c.clip(order[index % len(order)])
        index += 1
    pieces = c.chunks(pcm[: int(duration_s * 1000) * c.BYTES_PER_MS], CHUNK_MS)
    detector = TurnDetector({"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 200})
    from audio_utils import PCM24K, InputAudioConverter

    converter = InputAudioConverter(PCM24K, c.VAD_RATE)
    expected: list[Expected] = []
    last_end = 0.0  # the server's input buffer starts where the last turn ended
    for number, piece in enumerate(pieces):
        for event in await detector.feed(converter.convert(piece)):
            if isinstance(event, SpeechStarted):
                start = max(last_end, event.onset_ms - prefix_ms)
                expected.append(Expected("started", start, number))
            else:
                expected.append(Expected("stopped", event.end_ms, number))
                last_end = event.end_ms
    return Stream([c.append_message(p) for p in pieces], expected)


# --- one session --------------------------------------------------------------------------------


@dataclass
class SessionResult:
    """What one session saw."""

    connected: bool = False
    send_times: list[float] = field(default_factory=list)
    send_late: list[float] = field(default_factory=list)
    arrivals: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    error: str = ""


class Session:
    """One streaming client."""

    def __init__(self, url: str, stream: Stream, compression: str | None) -> None:
        self.url = url
        self.stream = stream
        self.compression = compression
        self.result = SessionResult()
        self.ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._created = asyncio.Event()
        self._done_count = 0
        self.all_done = asyncio.Event()

    async def open(self, gate: asyncio.Semaphore, deadline: float) -> None:
        """Connect and wait for ``session.created`` (give up once ``deadline`` has passed)."""
        async with gate:
            try:
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"connect phase over {CONNECT_PHASE_S:g} s")
                self.ws = await connect(self.url, compression=self.compression, max_size=None)
                self._reader = asyncio.create_task(self._read())
                created = asyncio.create_task(self._created.wait())
                await asyncio.wait(
                    {created, self._reader},
                    timeout=CONNECT_TIMEOUT_S,
                    return_when="FIRST_COMPLETED",
                )
                created.cancel()
                if not self._created.is_set():
                    refusal = f" (closed: {self.ws.close_reason or self.ws.close_code})"
                    raise ConnectionError("no session.created" + refusal)
                self.result.connected = True
            except Exception as exc:
                self.result.error = f"connect: {exc!r}"

    async def _read(self) -> None:
        assert self.ws is not None
        stopped_expected = sum(1 for e in self.stream.expected if e.kind == "stopped")
        try:
            async for message in self.ws:
                now = time.perf_counter()
                text = message if isinstance(message, str) else message.decode()
                kind = c.event_type(text)
                self.result.counts[kind] += 1
                if kind == "session.created":
                    self._created.set()
                elif kind in INTERESTING:
                    self.result.arrivals.append((now, kind, json.loads(text)))
                    if kind == "response.done":
                        self._done_count += 1
                        if self._done_count >= stopped_expected:
                            self.all_done.set()
        except Exception as exc:
            self.result.error = self.result.error or f"read: {exc!r}"

    async def stream_audio(self, start_at: float) -> None:
        """Send every chunk on the real-time schedule starting at ``start_at``."""
        if self.ws is None or not self.result.connected:
            return
        try:
            for number, message in enumerate(self.stream.messages):
                target = start_at + number * CHUNK_MS / 1000
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.ws.send(message)
                now = time.perf_counter()
                self.result.send_times.append(now)
                self.result.send_late.append(max(0.0, now - target))
        except Exception as exc:
            self.result.error = self.result.error or f"send: {exc!r}"

    async def close(self) -> None:
        """Close the connection."""
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception as exc:
                self.result.error = self.result.error or f"close: {exc!r}"
        if self._reader is not None:
            self._reader.cancel()


# --- analysis -------------------------------------------------------------------------------------


@dataclass
class LevelFigures:
    """The figures of one level (N sessions)."""

    n: int
    lag_started: c.Series = field(default_factory=lambda: c.Series("speech_started lag"))
    lag_stopped: c.Series = field(default_factory=lambda: c.Series("speech_stopped lag"))
    response_after_stop: c.Series = field(
        default_factory=lambda: c.Series("speech_stopped -> response.done")
    )
    lost: int = 0
    lost_kinds: Counter[str] = field(default_factory=Counter)
    barge_ins: int = 0
    t0: float = 0.0
    timeline: list[tuple[float, float, str, int]] = field(default_factory=list)
    unexpected: int = 0
    errors: list[str] = field(default_factory=list)
    failed_sessions: int = 0
    turns: int = 0

    def all_lags(self) -> dict[str, float]:
        """Percentiles of both VAD events' lags together."""
        return c.summarize(self.lag_started.values + self.lag_stopped.values)


def _match(expected: list[Expected], kind: str, audio_ms: float, used: set[int]) -> int | None:
    best = None
    for index, item in enumerate(expected):
        if item.kind != kind or index in used:
            continue
        distance = abs(item.audio_ms - audio_ms)
        if distance <= MATCH_TOLERANCE_MS and (best is None or distance < best[0]):
            best = (distance, index)
    return None if best is None else best[1]


def analyse(session: Session, figures: LevelFigures) -> None:
    """Match one session's events against its expected stream."""
    result = session.result
    if not result.connected or result.error:
        figures.failed_sessions += 1
        figures.errors.append(result.error or "not connected")
        if not result.connected:
            return
    expected = session.stream.expected
    used: set[int] = set()
    committed: set[str] = set()
    stopped_at: dict[str, float] = {}
    done: list[tuple[float, str, str]] = []
    for at, kind, data in result.arrivals:
        if kind == "error":
            figures.errors.append(json.dumps(data.get("error"))[:200])
        elif kind in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"):
            short = "started" if kind.endswith("started") else "stopped"
            audio_ms = data["audio_start_ms" if short == "started" else "audio_end_ms"]
            index = _match(expected, short, audio_ms, used)
            if index is None:
                figures.unexpected += 1
                continue
            used.add(index)
            chunk = expected[index].chunk
            if chunk >= len(result.send_times):
                figures.unexpected += 1
                continue
            lag = at - result.send_times[chunk]
            (figures.lag_started if short == "started" else figures.lag_stopped).add(lag)
            figures.timeline.append((round(at - figures.t0, 2), round(lag * 1000, 1), short, index))
            if short == "stopped":
                stopped_at[data["item_id"]] = at
        elif kind == "input_audio_buffer.committed":
            committed.add(data["item_id"])
        elif kind == "response.done":
            response = data["response"]
            reason = (response.get("status_details") or {}).get("reason", "")
            done.append((at, response["status"], reason))
    for index, item in enumerate(expected):
        if index not in used:
            figures.lost_kinds[f"speech_{item.kind}"] += 1
    turns = sum(1 for e in expected if e.kind == "stopped")
    figures.turns += turns
    figures.lost_kinds["committed"] += len(set(stopped_at) - committed)
    completed = [at for at, status, _ in done if status == "completed"]
    for _, status, reason in done:
        if status == "cancelled" and reason == "turn_detected":
            figures.barge_ins += 1  # the next turn began before the response ended: not a loss
        elif status != "completed":
            figures.lost_kinds[f"response.done {status} ({reason})"] += 1
    figures.lost_kinds["response.done missing"] += max(0, turns - len(done))
    figures.lost = sum(figures.lost_kinds.values())
    for stop, finish in zip(sorted(stopped_at.values()), sorted(completed), strict=False):
        figures.response_after_stop.add(finish - stop)


# --- one level ------------------------------------------------------------------------------------


_STREAMS: dict[tuple[int, float], Stream] = {}


async def get_stream(rotation: int, duration_s: float) -> Stream:
    """The (cached) stream of one rotation."""
    key = (rotation, duration_s)
    if key not in _STREAMS:
        _STREAMS[key] = await build_stream(rotation, duration_s)
    return _STREAMS[key]


async def _probe(url: str, stop: asyncio.Event, rtts: list[tuple[float, float]]) -> None:
    """Round trips of ``input_audio_buffer.clear`` -> ``cleared`` on an extra, silent session.

    The server answers it at once, so its round trip shows how responsive the server's event loop
    is at each moment (a stall there delays every session's events alike).
    """
    clear = json.dumps({"type": "input_audio_buffer.clear"})
    session = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        while c.event_type(str(await ws.recv())) != "session.updated":
            pass
        while not stop.is_set():
            sent = time.perf_counter()
            await ws.send(clear)
            while c.event_type(str(await ws.recv())) != "input_audio_buffer.cleared":
                pass
            rtts.append((sent, time.perf_counter() - sent))
            await asyncio.sleep(0.1)


async def _loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """The client's own event loop delay (to tell a slow client from a slow server)."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(max(0.0, time.perf_counter() - before - 0.01))


async def _sample_rss(pid: int, stop: asyncio.Event, samples: list[int]) -> None:
    while not stop.is_set():
        samples.append(c.tree_rss_bytes(pid))
        await asyncio.sleep(1.0)


async def run_level(
    n: int, args: argparse.Namespace, profile_to: Path | None = None, tree: c.Tree | None = None
) -> dict:
    """Start a server (from ``tree``, default this checkout), run N sessions, return the figures."""
    streams = [await get_stream(i % len(PLAYLIST), args.duration) for i in range(n)]
    compression = None if args.no_compression else "deflate"
    wrapper = [] if args.workers == 1 else [sys.executable, str(WORKERS), str(args.workers)]
    where = {} if tree is None else {"root": tree.root, "label": tree.label}
    code = {} if tree is None else {"server_code_sha1": c.code_fingerprint(tree.root)}
    server = c.ServerProcess("mock", env=SERVER_ENV, wrapper=wrapper, **where)
    profiler: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.sleep(0.5)
        rss_idle_server = c.tree_rss_bytes(server.pid)
        sessions = [Session(server.ws_url, stream, compression) for stream in streams]
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        connect_start = time.perf_counter()
        deadline = time.perf_counter() + CONNECT_PHASE_S
        await asyncio.gather(*(s.open(gate, deadline) for s in sessions))
        connect_s = time.perf_counter() - connect_start
        await asyncio.sleep(1.0)
        rss_connected = c.tree_rss_bytes(server.pid)

        stop = asyncio.Event()
        loop_lags: list[float] = []
        rss_samples: list[int] = []
        probe_rtts: list[tuple[float, float]] = []
        monitors = [
            asyncio.create_task(_loop_lag(stop, loop_lags)),
            asyncio.create_task(_sample_rss(server.pid, stop, rss_samples)),
            asyncio.create_task(_probe(server.ws_url, stop, probe_rtts)),
        ]
        if profile_to is not None:
            profiler = _start_profiler(server.pid, args.duration + args.spread, profile_to)
        cpu_start = c.tree_cpu_seconds(server.pid)
        sched_start = c.tree_schedstat(server.pid)
        client_sched_start = c.schedstat(os.getpid())
        client_cpu_start = time.process_time()
        wall_start = time.perf_counter()
        t0 = wall_start + 0.2
        await asyncio.gather(
            *(s.stream_audio(t0 + i * args.spread / n) for i, s in enumerate(sessions))
        )
        wall_streaming = time.perf_counter() - wall_start
        cpu_streaming = c.tree_cpu_seconds(server.pid) - cpu_start
        sched = [b - a for a, b in zip(sched_start, c.tree_schedstat(server.pid), strict=True)]
        client_sched = [
            b - a for a, b in zip(client_sched_start, c.schedstat(os.getpid()), strict=True)
        ]
        client_cpu = time.process_time() - client_cpu_start
        waiting = [asyncio.create_task(s.all_done.wait()) for s in sessions if s.result.connected]
        if waiting:
            await asyncio.wait(waiting, timeout=DRAIN_S)
        for task in waiting:
            task.cancel()
        stop.set()
        await asyncio.gather(*monitors, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in sessions))
    finally:
        if profiler is not None:
            try:
                profiler.wait(30)
            except subprocess.TimeoutExpired:
                profiler.kill()
        server.stop()

    figures = LevelFigures(n, t0=t0)
    for session in sessions:
        analyse(session, figures)
    worst = sorted(figures.timeline, key=lambda x: -x[1])[:8]
    lags = figures.all_lags()
    send_late = c.summarize([x for s in sessions for x in s.result.send_late])
    peak_rss = max(rss_samples or [rss_connected])
    passed = (
        lags.get("n", 0) > 0
        and lags["p99"] < args.max_lag_ms
        and figures.lost == 0
        and figures.unexpected == 0
        and figures.failed_sessions == 0
        and not figures.errors
    )
    return {
        "n": n,
        "passed": passed,
        "turns": figures.turns,
        "lost": figures.lost,
        "lost_kinds": {k: v for k, v in figures.lost_kinds.items() if v},
        "responses_cancelled_by_next_turn": figures.barge_ins,
        "worst_lags_s_ms_kind": [list(w[:3]) for w in worst],
        "unexpected": figures.unexpected,
        "failed_sessions": figures.failed_sessions,
        "errors": figures.errors[:5],
        "lag_ms": lags,
        "lag_started_ms": figures.lag_started.summary(),
        "lag_stopped_ms": figures.lag_stopped.summary(),
        "response_done_after_stop_ms": figures.response_after_stop.summary(),
        "client_send_late_ms": send_late,
        "client_loop_lag_ms": c.summarize(loop_lags),
        "server_probe_rtt_ms": c.summarize([rtt for _, rtt in probe_rtts]),
        "worst_probe_rtts_s_ms": [
            [round(at - t0, 2), round(rtt * 1000, 1)]
            for at, rtt in sorted(probe_rtts, key=lambda x: -x[1])[:5]
        ],
        "client_cpu_pct": round(100 * client_cpu / wall_streaming, 1),
        "server_cpu_pct": round(100 * cpu_streaming / wall_streaming, 1),
        "server_main_thread_running_pct": round(100 * sched[0] / wall_streaming, 1),
        "server_main_thread_waiting_for_cpu_pct": round(100 * sched[1] / wall_streaming, 1),
        "client_main_thread_waiting_for_cpu_pct": round(100 * client_sched[1] / wall_streaming, 1),
        "server_cpu_pct_per_session": round(100 * cpu_streaming / wall_streaming / n, 2),
        "rss_idle_server_mib": round(rss_idle_server / 2**20, 1),
        "rss_connected_mib": round(rss_connected / 2**20, 1),
        "rss_peak_mib": round(peak_rss / 2**20, 1),
        "rss_per_session_mib": round((peak_rss - rss_idle_server) / n / 2**20, 2),
        "connect_all_s": round(connect_s, 2),
        "load_average": c.load_average(),
        **code,
    }


def print_level(level: dict[str, Any], label: str = "") -> None:
    """One line per level (``label``: which server, with ``--baseline``)."""
    lag = level["lag_ms"]
    verdict = "PASS" if level["passed"] else "FAIL"
    print(
        f"{label}N={level['n']:>4} {verdict}  lag p50 {lag.get('p50', 0):7.1f}"
        f" p99 {lag.get('p99', 0):7.1f} max {lag.get('max', 0):7.1f} ms"
        f" | turns {level['turns']:>4} lost {level['lost']}"
        f" unexp {level['unexpected']} failed {level['failed_sessions']}"
        f" barge-in {level['responses_cancelled_by_next_turn']}"
        f" | server CPU {level['server_cpu_pct']:5.1f}% ({level['server_cpu_pct_per_session']:.2f}"
        f"%/session) RSS {level['rss_peak_mib']:.0f} MiB ({level['rss_per_session_mib']:.2f}"
        f" MiB/session) | probe RTT p99 {level['server_probe_rtt_ms'].get('p99', 0):.1f} ms"
        f" | client CPU {level['client_cpu_pct']:.0f}% loop lag p99"
        f" {level['client_loop_lag_ms'].get('p99', 0):.1f} ms"
        f" | load {level['load_average'][0]:.1f}"
        f" | server loop thread ran {level['server_main_thread_running_pct']:.0f}%, waited for a"
        f" CPU {level['server_main_thread_waiting_for_cpu_pct']:.0f}%",
        flush=True,
    )
    if level["lag_ms"].get("p99", 0) > 50:
        print(f"        worst lags (s, ms, event): {level['worst_lags_s_ms_kind'][:5]}")
        print(f"        worst probe round trips (s, ms): {level['worst_probe_rtts_s_ms']}")
    if level["lost_kinds"]:
        print(f"        lost: {level['lost_kinds']}")
    if level["errors"]:
        print(f"        errors: {level['errors'][:3]}")


# --- profiling ----------------------------------------------------------------------------------


def _start_profiler(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    command = [str(py_spy), "record", "--pid", str(pid), "--rate", "100", "--subprocesses"]
    command += ["--duration", str(int(seconds)), "--format", "raw", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    stdlib = f"/lib/python{sys.version_info.major}.{sys.version_info.minor}/"
    for marker in ("site-packages/", stdlib, f"{c.ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


_PROJECT = {p.name for p in c.ROOT.iterdir() if not p.name.startswith(".")} - {"main.py"}


def _is_project(frame: str) -> bool:
    """A frame of this repository's code (py-spy prints paths relative to ``sys.path``)."""
    match = _FRAME.match(frame.strip())
    path = match["file"] if match else ""
    return path.split("/", 1)[0] in _PROJECT


def summarize_profile(raw: Path, top: int) -> dict[str, Any]:
    """Self and inclusive shares of samples per function from py-spy's collapsed stacks."""
    self_time: Counter[str] = Counter()
    project: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        total += count
        self_time[_short(frames[-1])] += count
        for name in {_short(f) for f in frames if _is_project(f)}:
            project[name] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / max(total, 1), 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "self": share(self_time), "inclusive_project": share(project)}


def _categories(raw: Path) -> list[tuple[str, float]]:
    """Samples grouped by what the innermost recognisable frame is doing."""
    rules = [
        ("Silero VAD (onnxruntime run)", "onnxruntime"),
        ("soxr resampling", "soxr"),
        ("pydantic validation", "pydantic"),
        ("base64", "base64"),
        ("json encode/decode", "json/"),
        ("websockets protocol / deflate", "websockets/"),
        ("uvicorn/starlette", "uvicorn/"),
        ("pipecat frames", "pipecat/"),
        ("loguru", "loguru/"),
        ("event loop (uvloop, C: I/O, callbacks)", "asyncio/runners.py"),
        ("asyncio (Python)", "asyncio/"),
    ]
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        label = "other"
        for frame in reversed(frames):
            hit = next((name for name, key in rules if key in frame), None)
            if hit is not None:
                label = hit
                break
        counts[label] += count
    shares = [(name, round(100 * n / max(total, 1), 1)) for name, n in counts.most_common()]
    return [(name, share) for name, share in shares if share > 0]


# --- main -----------------------------------------------------------------------------------------


def _estimate_s(n: int, args: argparse.Namespace) -> float:
    return 10 + n * 0.05 + args.duration + args.spread + DRAIN_S


async def search(args: argparse.Namespace) -> dict[str, Any]:
    """Step the levels, then bisect, within the budget."""
    began = time.monotonic()
    levels: list[dict[str, Any]] = []
    best: int | None = None
    worst: int | None = None

    def room_for(n: int) -> bool:
        return time.monotonic() - began + _estimate_s(n, args) <= args.budget

    for n in args.levels:
        if not room_for(n):
            print(f"N={n}: skipped, not enough time budget left")
            break
        level = await run_level(n, args)
        levels.append(level)
        print_level(level)
        if level["passed"]:
            best = n
        else:
            worst = n
            break
    low = best or 0
    high = worst
    while high is not None and high - low > max(1, int(low * 0.15)):
        mid = (low + high) // 2
        if mid <= 0 or not room_for(mid):
            break
        level = await run_level(mid, args)
        levels.append(level)
        print_level(level)
        if level["passed"]:
            low = best = mid
        else:
            high = mid
    return {"levels": levels, "max_sessions": best, "first_failing": high}


# --- --baseline: both servers at the same levels ------------------------------------------------

COMPARED = (
    ("p99 lag ms", lambda level: level["lag_ms"].get("p99")),
    ("p50 lag ms", lambda level: level["lag_ms"].get("p50")),
    ("server CPU %", lambda level: level["server_cpu_pct"]),
    ("peak RSS MiB", lambda level: level["rss_peak_mib"]),
    ("probe RTT p99 ms", lambda level: level["server_probe_rtt_ms"].get("p99")),
)


def _compare_line(n: int, base: dict[str, Any], current: dict[str, Any]) -> str:
    cells = []
    for name, get in COMPARED:
        a, b = get(base), get(current)
        cells.append(f"{name} {a or 0:.1f} -> {b or 0:.1f} ({c.ratio_text(b, a)})")
    return f"N={n:>4} baseline -> current: " + "; ".join(cells)


async def compare(args: argparse.Namespace, trees: list[c.Tree]) -> dict[str, Any]:
    """Each level once per server (fresh server each time), the order flipping every level."""
    levels = args.levels
    runs = len(levels) * args.repeat * len(trees)
    estimate = sum(_estimate_s(n, args) for n in levels) * args.repeat * len(trees)
    print(
        f"{runs} level runs ({', '.join(map(str, levels))} x {args.repeat} x {len(trees)} "
        f"servers), about {estimate / 60:.0f} min; {', '.join(t.title for t in trees)}",
        flush=True,
    )
    pairs: list[dict[str, Any]] = []
    number = 0
    for repeat in range(args.repeat):
        for n in levels:
            order = trees if number % 2 == 0 else trees[::-1]
            number += 1
            measured: dict[str, dict[str, Any]] = {}
            for tree in order:
                level = await run_level(n, args, tree=tree)
                print_level(level, f"{tree.label:<8} ")
                measured[tree.label] = level
            base, current = measured["baseline"], measured["current"]
            print(_compare_line(n, base, current), flush=True)
            pairs.append(
                {
                    "n": n,
                    "repeat": repeat,
                    "order": [t.label for t in order],
                    "baseline": base,
                    "current": current,
                    "current_to_baseline": {
                        name: _divide(get(current), get(base)) for name, get in COMPARED
                    },
                }
            )
    print(
        f"\n{'N':>4}  {'server':<36}{'p50 lag':>9}{'p99 lag':>9}{'lost':>6}{'CPU %':>8}"
        f"{'%/sess':>8}{'RSS MiB':>9}{'probe p99':>11}{'CPU wait':>10}  result"
    )
    for pair in pairs:
        for tree in trees:
            level = pair[tree.label]
            lag = level["lag_ms"]
            print(
                f"{pair['n']:>4}  {tree.title:<36}"
                f"{lag.get('p50', 0):>9.1f}{lag.get('p99', 0):>9.1f}"
                f"{level['lost']:>6}{level['server_cpu_pct']:>8.1f}"
                f"{level['server_cpu_pct_per_session']:>8.2f}{level['rss_peak_mib']:>9.0f}"
                f"{level['server_probe_rtt_ms'].get('p99', 0):>11.1f}"
                f"{level['server_main_thread_waiting_for_cpu_pct']:>9.0f}%"
                f"  {'pass' if level['passed'] else 'FAIL'}"
            )
        ratio = pair["current_to_baseline"]
        print(
            f"{'':>4}  {'current / baseline':<36}{_ratio(ratio['p50 lag ms']):>9}"
            f"{_ratio(ratio['p99 lag ms']):>9}{'':>6}{_ratio(ratio['server CPU %']):>8}"
            f"{'':>8}{_ratio(ratio['peak RSS MiB']):>9}{_ratio(ratio['probe RTT p99 ms']):>11}"
        )
    print(
        "CPU wait: time the server's event-loop thread was runnable but kept off the CPUs by "
        "other processes, % of the streaming time (compare it before reading a lag ratio)"
    )
    for tree in trees:
        codes = {pair[tree.label]["server_code_sha1"] for pair in pairs}
        if len(codes) > 1:
            print(
                f"note: the {tree.label} server's code changed during the run ({len(codes)} "
                "versions measured, see server_code_sha1 per level)"
            )
    neighbours = c.busy_neighbours()
    if neighbours:
        print("other busy processes at the end of the run:\n  " + "\n  ".join(neighbours))
    name = "concurrency_vs_baseline"
    if args.workers != 1:
        name += f"_workers{args.workers}"
    path = c.save_results(
        name,
        {
            "settings": _settings(args),
            "trees": {t.label: t.describe() for t in trees},
            "pairs": pairs,
            "busy_neighbours_at_end": neighbours,
        },
    )
    print(f"written to {path}")
    return {"pairs": pairs}


def _divide(current: float | None, baseline: float | None) -> float | None:
    if current is None or not baseline:
        return None
    return round(current / baseline, 3)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


async def run(args: argparse.Namespace) -> None:
    """Entry point for both modes."""
    print(
        f"loop {c.loop_name()}; {args.duration:g} s of audio per session; load {c.load_average()}",
        flush=True,
    )
    if args.profile:
        raw = c.RESULTS_DIR / "concurrency_profile.txt"
        c.RESULTS_DIR.mkdir(exist_ok=True)
        level = await run_level(args.profile, args, profile_to=raw)
        print_level(level)
        if not raw.exists():
            raise SystemExit("py-spy wrote no profile (is ptrace allowed?)")
        summary = summarize_profile(raw, args.top)
        categories = _categories(raw)
        print(f"\nprofile of the server, N={args.profile}, {summary['samples']} samples")
        print("\nby activity (innermost recognisable frame):")
        for name, share in categories:
            print(f"  {share:5.1f}%  {name}")
        print("\ntop functions by own time:")
        for name, share in summary["self"]:
            print(f"  {share:5.1f}%  {name}")
        print("\ntop functions of this repository by inclusive time (own + callees):")
        for name, share in summary["inclusive_project"]:
            print(f"  {share:5.1f}%  {name}")
        path = c.save_results(
            "concurrency_profile",
            {
                "settings": _settings(args),
                "level": level,
                "by_activity": categories,
                **summary,
            },
        )
        print(f"\nwritten to {path} (collapsed stacks: {raw})")
        return
    outcome = await search(args)
    print(
        f"\nlargest N with p99 lag < {args.max_lag_ms:g} ms and nothing lost: "
        f"{outcome['max_sessions']} (first failing: {outcome['first_failing']})"
    )
    neighbours = c.busy_neighbours()
    if neighbours:
        print("other busy processes at the end of the run:\n  " + "\n  ".join(neighbours))
    name = "concurrency" if args.workers == 1 else f"concurrency_workers{args.workers}"
    path = c.save_results(
        name,
        {
            "settings": _settings(args),
            **outcome,
            "busy_neighbours_at_end": neighbours,
        },
    )
    print(f"written to {path}")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items()} | {"playlist": PLAYLIST}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--levels",
        type=lambda s: [int(x) for x in s.split(",")],
        help="N to try in order (5,10,20,40,80,160); with --baseline, the fixed levels both "
        "servers run, no search (20,40,80)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=30.0,
        help="seconds of audio each session streams per level (30)",
    )
    parser.add_argument(
        "--spread",
        type=float,
        default=3.0,
        help="session starts are spread over this many seconds (3)",
    )
    parser.add_argument("--max-lag-ms", type=float, default=100.0, help="p99 lag limit (100)")
    parser.add_argument("--budget", type=float, default=500.0, help="time budget, s (500)")
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="do not offer permessage-deflate (the SDK offers it by default)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server worker processes (1: main.py; more: uvicorn --workers)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="run only N sessions with py-spy attached to the server",
    )
    parser.add_argument("--top", type=int, default=20, help="hot spots listed (20)")
    c.add_baseline_option(parser)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="with --baseline: run the levels this many times (1)",
    )
    args = parser.parse_args()
    if args.baseline is None:
        args.levels = args.levels or [5, 10, 20, 40, 80, 160]
        c.run(run(args))
        return
    if args.profile:
        parser.error("--profile does not combine with --baseline")
    args.levels = args.levels or [20, 40, 80]
    current = c.current_tree()
    with c.baseline_tree(args.baseline) as baseline:
        c.run(compare(args, [baseline, current]))


if __name__ == "__main__":
    main()
