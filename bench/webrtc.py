"""WebRTC next to WebSocket, same clips, same run: first-audio latency and server CPU per session.

Run: ``.venv/bin/python bench/webrtc.py`` (about 4 minutes; ``--help`` for options).

Each phase starts a fresh ``main.py --profile mock`` per transport, on a free loopback port, and
drives it the way real clients do: raw ``websockets`` (``input_audio_buffer.append`` events, as the
SDK sends them) and an aiortc peer (``tests/webrtc_client.py``: a microphone track and the
``oai-events`` channel, like a browser). Audio is sent in 20 ms frames paced in real time on both.

1. **First-audio latency** (one session at a time, default ``server_vad``): each speech clip of
   ``tests/fixtures/audio`` is sent, then 1.5 s of silence. The clock starts when the client sends
   the 20 ms frame holding the clip's end of speech (the manifest's last speech segment) and stops
   at the first reply audio of the clip's last turn (hello_joke is more than one VAD turn): the
   first ``response.output_audio.delta`` over WebSocket, the first non-silent frame decoded from the
   server's track over WebRTC (after RTP and Opus decoding; the client decodes each packet on
   arrival like the server does, ``--aiortc-jitter-buffer`` for aiortc's own 4-packet buffer). Both
   include the VAD's 200 ms silence window and the (instant) mock pipeline, so their difference is
   the transport's. Also reported: the last ``speech_stopped`` on each transport (the event path
   alone) and WebRTC's ``output_audio_buffer.started``.
2. **Server CPU per session**: ``--sessions`` sessions at once, first connected and silent for
   ``--idle-seconds``, then each streaming the clips (1 s of silence after each) for
   ``--seconds``, with default ``server_vad`` so every turn is answered. Server CPU = utime +
   stime of the server process over each window (``/proc``), per session, in % of one core; RSS
   growth per session. Over WebRTC that includes SRTP, Opus decoding of the microphone and Opus
   encoding of the outbound track, which runs all the time (silence between replies), as a WebRTC
   peer's does; an idle WebSocket costs nothing.

Printed side by side with WebRTC / WebSocket ratios; written to ``bench/results/webrtc.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Any

import _common as c
from websockets.asyncio.client import connect

from tests.webrtc_client import WebRTCTestClient

FRAME_MS = 20
TAIL_MS = 1500
GAP_MS = 1000
EVENT_TIMEOUT_S = 30.0


@dataclass
class Turn:
    """One latency turn: when the end of speech left, and when things came back.

    Some clips are more than one VAD turn (hello_joke pauses mid-sentence), so what is timed is
    the last turn: its ``speech_stopped`` (the last one) and the first reply audio after it.
    """

    clip: str
    end_sent: float
    speech_stopped: float | None = None
    first_audio: float | None = None
    buffer_started: float | None = None

    def ms(self, at: float | None) -> float | None:
        return None if at is None else (at - self.end_sent) * 1000


def padded(pcm: bytes, tail_ms: int) -> bytes:
    return pcm + bytes(tail_ms * c.BYTES_PER_MS)


def end_frame(name: str) -> int:
    """Index of the 20 ms frame holding the clip's end of speech."""
    return int(c.speech_end_ms(name) // FRAME_MS)


def last_at(arrivals: list[tuple[str, float]], kind: str) -> float | None:
    times = [at for event_type, at in arrivals if event_type == kind]
    return times[-1] if times else None


def first_after(arrivals: list[tuple[str, float]], kind: str, after: float) -> float | None:
    return next((at for event_type, at in arrivals if event_type == kind and at > after), None)


async def until_after_last_turn(
    arrivals: list[tuple[str, float]], changed: asyncio.Event, kind: str
) -> None:
    """Wait for a ``kind`` event after the last ``speech_stopped`` (the last turn's end)."""
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while True:
            stopped = last_at(arrivals, "input_audio_buffer.speech_stopped")
            if stopped is not None and first_after(arrivals, kind, stopped) is not None:
                return
            changed.clear()
            await changed.wait()


# --- latency over WebSocket -------------------------------------------------------------------


async def ws_turn(server: c.ServerProcess, name: str) -> Turn:
    frames = c.chunks(padded(c.clip(name), TAIL_MS), FRAME_MS)
    arrivals: list[tuple[str, float]] = []
    changed = asyncio.Event()
    async with connect(server.ws_url, max_size=None) as ws:
        assert c.event_type(str(await ws.recv())) == "session.created"

        async def read() -> None:
            async for message in ws:
                arrivals.append((c.event_type(str(message)), time.perf_counter()))
                changed.set()

        reader = asyncio.create_task(read())
        start = time.perf_counter()
        sent: list[float] = []
        for index, frame in enumerate(frames):
            delay = start + index * FRAME_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(c.append_message(frame))
            sent.append(time.perf_counter())
        await until_after_last_turn(arrivals, changed, "response.done")
        reader.cancel()
    turn = Turn(name, sent[end_frame(name)])
    turn.speech_stopped = last_at(arrivals, "input_audio_buffer.speech_stopped")
    assert turn.speech_stopped is not None
    turn.first_audio = first_after(arrivals, "response.output_audio.delta", turn.speech_stopped)
    return turn


# --- latency over WebRTC ----------------------------------------------------------------------


async def rtc_turn(server: c.ServerProcess, name: str, on_arrival: bool) -> Turn:
    client = WebRTCTestClient(decode_on_arrival=on_arrival)
    try:
        reply = await client.connect(server.base_url)
        if reply.status_code != 201:
            raise RuntimeError(f"call refused: {reply.status_code} {reply.text}")
        await client.wait_for("session.created")
        arrivals: list[tuple[str, float]] = []
        changed = asyncio.Event()

        async def read() -> None:
            while True:
                event = await client.next_event(EVENT_TIMEOUT_S * 2)
                arrivals.append((event["type"], time.perf_counter()))
                changed.set()

        reader = asyncio.create_task(read())
        client.mic.say(padded(c.clip(name), TAIL_MS))
        await client.mic.drained()
        await until_after_last_turn(arrivals, changed, "output_audio_buffer.stopped")
        reader.cancel()
        turn = Turn(name, client.mic.sent_at[end_frame(name)])
        turn.speech_stopped = last_at(arrivals, "input_audio_buffer.speech_stopped")
        assert turn.speech_stopped is not None
        turn.buffer_started = first_after(
            arrivals, "output_audio_buffer.started", turn.speech_stopped
        )
        turn.first_audio = client.received.first_audible_at(after=turn.speech_stopped)
        return turn
    finally:
        await client.close()


async def latency_phase(transport: str, args: argparse.Namespace) -> list[Turn]:
    turns: list[Turn] = []
    label = f"webrtc-bench-{transport}"
    with c.ServerProcess("mock", log_level=args.log_level, label=label) as server:

        async def measure(name: str) -> Turn:
            if transport == "websocket":
                return await ws_turn(server, name)
            return await rtc_turn(server, name, not args.aiortc_jitter_buffer)

        await measure(c.SPEECH_CLIPS[0])  # warm-up (lazy imports, the first pipeline)
        for _ in range(args.passes):
            for name in c.SPEECH_CLIPS:
                turn = await measure(name)
                turns.append(turn)
                print(f"  {transport:9} {name:24} {fmt(turn.ms(turn.first_audio))} ms")
    return turns


# --- CPU with concurrent sessions -------------------------------------------------------------


def playlist(seconds: float) -> bytes:
    """The speech clips, each followed by 1 s of silence, repeated to ``seconds``."""
    one = b"".join(padded(c.clip(name), GAP_MS) for name in c.SPEECH_CLIPS)
    wanted = int(seconds * 1000) * c.BYTES_PER_MS
    return (one * (wanted // len(one) + 1))[:wanted]


@dataclass
class Load:
    """What the sessions of one transport did and cost over the streaming window."""

    transport: str
    sessions: int
    seconds: float
    cpu_s: float = 0.0
    idle_cpu_s: float = 0.0
    idle_seconds: float = 0.0
    rss_before: int = 0
    rss_after: int = 0
    responses: int = 0
    client_cpu_s: float = 0.0

    @property
    def cpu_pct_per_session(self) -> float:
        return self.cpu_s / self.seconds / self.sessions * 100

    @property
    def idle_cpu_pct_per_session(self) -> float:
        if not self.idle_seconds:
            return 0.0
        return self.idle_cpu_s / self.idle_seconds / self.sessions * 100

    @property
    def rss_mib_per_session(self) -> float:
        return (self.rss_after - self.rss_before) / self.sessions / 1024 / 1024

    def to_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "seconds": self.seconds,
            "server_cpu_s": round(self.cpu_s, 3),
            "server_cpu_pct_per_session": round(self.cpu_pct_per_session, 3),
            "idle_seconds": self.idle_seconds,
            "idle_server_cpu_pct_per_session": round(self.idle_cpu_pct_per_session, 3),
            "rss_mib_per_session": round(self.rss_mib_per_session, 2),
            "responses_done": self.responses,
            "client_cpu_pct": round(self.client_cpu_s / self.seconds * 100, 1),
        }


class WsSession:
    """One WebSocket session streaming 20 ms appends on an absolute schedule."""

    def __init__(self, server: c.ServerProcess, load: Load) -> None:
        self._server = server
        self._load = load
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._ws = await connect(self._server.ws_url, max_size=None)
        await self._ws.recv()  # session.created
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if c.event_type(str(message)) == "response.done":
                self._load.responses += 1

    async def stream(self, start: float, audio: bytes) -> None:
        for index, frame in enumerate(c.chunks(audio, FRAME_MS)):
            delay = start + index * FRAME_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._ws.send(c.append_message(frame))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self._ws.close()


class RtcSession:
    """One WebRTC call streaming on its microphone track."""

    def __init__(self, server: c.ServerProcess, load: Load) -> None:
        self._server = server
        self._load = load
        self._client = WebRTCTestClient()
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        reply = await self._client.connect(self._server.base_url)
        if reply.status_code != 201:
            raise RuntimeError(f"call refused: {reply.status_code} {reply.text[:200]}")
        await self._client.wait_for("session.created")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            event = await self._client.next_event(timeout=3600)
            if event["type"] == "response.done":
                self._load.responses += 1

    async def stream(self, start: float, audio: bytes) -> None:
        delay = start - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        self._client.mic.say(audio)
        await self._client.mic.drained(timeout=len(audio) / c.BYTES_PER_MS / 1000 + 30)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self._client.close()


async def load_phase(
    transport: str, sessions: int, seconds: float, idle_seconds: float, log_level: str
) -> Load:
    """Open ``sessions`` sessions, leave them idle for ``idle_seconds``, then stream
    ``seconds`` on all of them; measure the server in both windows."""
    load = Load(transport, sessions, seconds, idle_seconds=idle_seconds)
    env = {"REALTIME_MAX_SESSIONS": str(sessions + 10)}
    label = f"webrtc-load-{transport}"
    with c.ServerProcess("mock", env=env, log_level=log_level, label=label) as server:
        load.rss_before = c.rss_bytes(server.pid)
        kind = WsSession if transport == "websocket" else RtcSession
        opened = [kind(server, load) for _ in range(sessions)]
        for session in opened:  # one by one: set-up is not what is measured
            await session.open()
        await asyncio.sleep(1.0)
        idle0 = c.cpu_seconds(server.pid)
        await asyncio.sleep(idle_seconds)  # connected, nobody talking (WebRTC: silence both ways)
        load.idle_cpu_s = c.cpu_seconds(server.pid) - idle0
        audio = playlist(seconds)
        start = time.perf_counter() + 1.0
        stagger = 1.0 / sessions  # the sessions' turns do not all end at once
        streams = [
            asyncio.create_task(session.stream(start + i * stagger, audio))
            for i, session in enumerate(opened)
        ]
        await asyncio.sleep(start - time.perf_counter())
        cpu0, client0 = c.cpu_seconds(server.pid), time.process_time()
        await asyncio.sleep(seconds)
        load.cpu_s = c.cpu_seconds(server.pid) - cpu0
        load.client_cpu_s = time.process_time() - client0
        load.rss_after = c.rss_bytes(server.pid)
        await asyncio.gather(*streams)
        for session in opened:
            await session.close()
    return load


# --- report -----------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:7.1f}"


def seconds_of(turns: list[Turn], what: str) -> list[float]:
    values = [getattr(turn, what) for turn in turns]
    return [at - turn.end_sent for turn, at in zip(turns, values, strict=True) if at is not None]


def latency_report(ws: list[Turn], rtc: list[Turn]) -> dict[str, Any]:
    rows = {
        "first audio (WebSocket: first audio delta; WebRTC: first audible frame decoded)": (
            c.summarize(seconds_of(ws, "first_audio")),
            c.summarize(seconds_of(rtc, "first_audio")),
        ),
        "speech_stopped event": (
            c.summarize(seconds_of(ws, "speech_stopped")),
            c.summarize(seconds_of(rtc, "speech_stopped")),
        ),
    }
    started = c.summarize(seconds_of(rtc, "buffer_started"))
    print("\nFirst-audio latency: end of a clip's speech (frame sent) -> ..., ms")
    print(f"{'':<44}{'WebSocket p50':>14}{'p90':>8}{'WebRTC p50':>12}{'p90':>8}{'ratio p50':>11}")
    for name, (a, b) in rows.items():
        label = name if len(name) <= 43 else name[:40] + "..."
        print(
            f"{label:<44}{a.get('p50', float('nan')):>14.1f}{a.get('p90', float('nan')):>8.1f}"
            f"{b.get('p50', float('nan')):>12.1f}{b.get('p90', float('nan')):>8.1f}"
            f"{c.ratio_text(b.get('p50'), a.get('p50')):>11}"
        )
    print(f"{'WebRTC output_audio_buffer.started event':<44}{'':>22}{started.get('p50', 0):>12.1f}")
    per_clip = {}
    for name in c.SPEECH_CLIPS:
        a = c.summarize(seconds_of([t for t in ws if t.clip == name], "first_audio"))
        b = c.summarize(seconds_of([t for t in rtc if t.clip == name], "first_audio"))
        per_clip[name] = {"websocket": a, "webrtc": b}
        ratio = c.ratio_text(b.get("p50"), a.get("p50"))
        print(
            f"  {name:<42}{a.get('p50', float('nan')):>14.1f}{'':>8}"
            f"{b.get('p50', float('nan')):>12.1f}{'':>8}{ratio:>11}"
        )
    return {
        "rows": {name: {"websocket": a, "webrtc": b} for name, (a, b) in rows.items()},
        "webrtc_output_audio_buffer_started": started,
        "first_audio_per_clip": per_clip,
    }


def load_report(ws: Load, rtc: Load) -> None:
    print(f"\nServer cost with {ws.sessions} concurrent sessions streaming {ws.seconds:g} s each")
    print(f"{'':<40}{'WebSocket':>12}{'WebRTC':>12}{'ratio':>9}")
    rows = [
        ("server CPU per session (% of a core)", ws.cpu_pct_per_session, rtc.cpu_pct_per_session),
        (
            "  idle, connected (% of a core)",
            ws.idle_cpu_pct_per_session,
            rtc.idle_cpu_pct_per_session,
        ),
        ("server RSS growth per session (MiB)", ws.rss_mib_per_session, rtc.rss_mib_per_session),
        ("responses completed", float(ws.responses), float(rtc.responses)),
        (
            "client process CPU (% of a core)",
            ws.client_cpu_s / ws.seconds * 100,
            rtc.client_cpu_s / rtc.seconds * 100,
        ),
    ]
    for name, a, b in rows:
        print(f"{name:<40}{a:>12.2f}{b:>12.2f}{c.ratio_text(b, a):>9}")


async def main(args: argparse.Namespace) -> None:
    load_before = c.load_average()
    print(f"machine: {c.machine()['cpus']} CPUs, load average {load_before[0]:.2f}")
    print(f"latency: {len(c.SPEECH_CLIPS)} clips x {args.passes} passes per transport")
    ws_turns = await latency_phase("websocket", args)
    rtc_turns = await latency_phase("webrtc", args)
    latency = latency_report(ws_turns, rtc_turns)
    print(f"\nload: {args.sessions} sessions x {args.seconds:g} s per transport")
    phase = (args.sessions, args.seconds, args.idle_seconds, args.log_level)
    ws_load = await load_phase("websocket", *phase)
    rtc_load = await load_phase("webrtc", *phase)
    load_report(ws_load, rtc_load)
    busy = c.busy_neighbours()
    if busy:
        print("\nother busy processes at the end:", *busy, sep="\n  ")
    path = c.save_results(
        "webrtc",
        {
            "loop": c.loop_name(),
            "options": vars(args),
            "load_average_before": [round(x, 2) for x in load_before],
            "latency": latency,
            "latency_turns": {
                "websocket": [turn.__dict__ for turn in ws_turns],
                "webrtc": [turn.__dict__ for turn in rtc_turns],
            },
            "load": {"websocket": ws_load.to_dict(), "webrtc": rtc_load.to_dict()},
            "busy_neighbours": busy,
        },
    )
    print(f"\nresults: {path.relative_to(c.ROOT)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--passes", type=int, default=3, help="latency passes over the clips")
    parser.add_argument("--sessions", type=int, default=6, help="concurrent sessions (CPU)")
    parser.add_argument("--seconds", type=float, default=30.0, help="streaming time (CPU)")
    parser.add_argument(
        "--idle-seconds", type=float, default=10.0, help="connected-but-silent time (CPU)"
    )
    parser.add_argument(
        "--aiortc-jitter-buffer",
        action="store_true",
        help="the WebRTC client keeps aiortc's own jitter buffer (4 packets held before "
        "decoding: +80-100 ms) instead of decoding on arrival like the server",
    )
    parser.add_argument("--log-level", default="warning", help="the servers' log level")
    return parser.parse_args()


if __name__ == "__main__":
    c.run(main(parse_args()))
