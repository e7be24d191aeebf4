"""Session isolation: does one busy session stall the others? (mock profile)

Run: ``.venv/bin/python bench/isolation.py`` (1-5 minutes; ``--help`` for options).

Every session of a server process shares one event loop. A session whose outbound work (Pipecat
frames, JSON, socket writes) or inbound flood runs for long stretches without giving the loop back
stalls every other session for that long. This measures the stall from the outside. It starts
``main.py --profile mock`` on a free loopback port (``--server-root PATH`` runs another checkout's
``main.py`` instead, e.g. the main branch, to compare) and drives it over raw ``websockets``:

- **Probes** (this process): a quiet session sends ``input_audio_buffer.clear`` every
  ``--probe-interval-ms`` (5) on a fixed schedule, whether or not the last ``cleared`` came, and
  times each from its slot to its ``input_audio_buffer.cleared`` (so a stall counts as every
  request a steady client would have had waiting, not as one sample); a second quiet session
  runs a small out-of-band text turn (``response.create`` with ``conversation: "none"`` ->
  ``response.done``), one at a time, ``--turn-interval-ms`` apart.
- **Quiet**: the probes alone (half before the noise, half after): the baseline of every ratio.
- **(a) Long spoken reply**: a noisy session (a separate process, so that decoding its tens of MB
  of events does not stall the probes' own event loop) creates a user message of ``W - 2`` words
  and asks for a response; the mock LLM answers ``You said: <text>``, i.e. ``W`` words, one LLM
  text frame per word, each spoken by the mock TTS (20 ms of tone per character, so 4,000 words
  are ~8 minutes of audio, ~31 MB of base64). Probes sent between ``response.create`` and
  ``response.done`` count; the **stall** is the longest such round trip.
- **(b) Flood**: the noisy process sends tiny ``input_audio_buffer.append`` events (one sample
  each) as fast as it can, up to ``--flood-rate`` a second, for ``--flood-seconds`` (manual turns,
  so no VAD work: this is the reader/driver path), reading whatever the server answers. It does
  not offer ``permessage-deflate`` (``--flood-compression`` makes it), so that the client, which
  shares the 2 cores, gets nearer the target rate.
- **(c)** The largest reply (words, doubling from ``--words``' smallest, or halving when that
  already stalls) whose stall stays under ``--stall-limit-ms`` (100).

Goal: during the noise the probes' p50 and p99 stay within 3x of quiet. The noisy client shares
the 2 cores with the server, so some slowdown is the machine, not the server; the client's figures
(events, MB, rate achieved) are printed. ``REALTIME_MAX_OUTBOX_BYTES`` is raised to 1 GiB so the
slow-consumer limit never cuts a long reply short. Results go to ``bench/results/isolation.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as c
from websockets.asyncio.client import ClientConnection, connect

CLEAR = json.dumps({"type": "input_audio_buffer.clear"})
TEXT_TURN = json.dumps(
    {
        "type": "response.create",
        "response": {
            "conversation": "none",
            "output_modalities": ["text"],
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello there"}],
                }
            ],
        },
    }
)
MANUAL = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
TINY_APPEND = json.dumps(
    {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\0\0").decode()}
)
PROBE_TIMEOUT_S = 120.0
WORDS = ("alpha", "bravo", "delta", "gamma", "kappa", "omega", "sigma", "theta")


# --- connections -----------------------------------------------------------------------------


async def open_manual(url: str, compression: str | None) -> ClientConnection:
    """A session with manual turns (``turn_detection: null``), ``session.updated`` consumed."""
    ws = await connect(url, compression=compression, max_size=None)
    await ws.send(json.dumps({"type": "session.update", "session": MANUAL}))
    await until(ws, "session.updated", 20.0)
    return ws


async def until(ws: ClientConnection, kind: str, timeout: float) -> str:
    """Read events until one of ``kind``; returns it (raw)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            text = message if isinstance(message, str) else message.decode()
            if c.event_type(text) == kind:
                return text


# --- probes ------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One probe round trip: when it was sent and how long it took (seconds)."""

    sent: float
    rtt: float
    timed_out: bool = False

    def overlaps(self, start: float, end: float) -> bool:
        """True if the round trip was in flight at some point of ``[start, end]``."""
        return self.sent <= end and self.sent + self.rtt >= start


@dataclass
class Probe:
    """Repeats one request/answer pair on its own session and keeps every round trip.

    ``scheduled`` (the clear probe): requests go out on a fixed schedule, ``interval_s`` apart,
    whether or not the previous answer came; each round trip is timed from the request's slot
    on the schedule to its answer (answers come in order). So a stall of S seconds shows as
    S / interval samples of up to S, as a client sending steadily would see it, rather than as one
    sample (a probe that waits for each answer before the next request under-counts stalls).
    Otherwise (the text turn): one request at a time, ``interval_s`` after the previous answer.
    """

    name: str
    request: str
    answer: str
    interval_s: float
    scheduled: bool = False
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0

    async def run(self, url: str, compression: str | None, stop: asyncio.Event) -> None:
        """Probe until ``stop`` is set (a probe that gets no answer is recorded as timed out)."""
        ws = await open_manual(url, compression)
        try:
            if self.scheduled:
                await self._run_scheduled(ws, stop)
            else:
                await self._run_closed(ws, stop)
        finally:
            await ws.close()

    async def _run_closed(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = time.perf_counter()
            await ws.send(self.request)
            try:
                await until(ws, self.answer, PROBE_TIMEOUT_S)
            except TimeoutError:
                self.samples.append(Sample(sent, time.perf_counter() - sent, True))
                return
            self.samples.append(Sample(sent, time.perf_counter() - sent))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)

    async def _run_scheduled(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        pending: deque[float] = deque()

        async def receive() -> None:
            async for message in ws:
                kind = c.event_type(message if isinstance(message, str) else message.decode())
                if kind in (self.answer, "error") and pending:
                    slot = pending.popleft()
                    self.samples.append(Sample(slot, time.perf_counter() - slot))
                    self.errors += kind == "error"

        reader = asyncio.create_task(receive())
        try:
            began = time.perf_counter()
            slots = 0
            while not stop.is_set():
                slots += 1
                slot = began + slots * self.interval_s
                await asyncio.sleep(max(0.0, slot - time.perf_counter()))
                pending.append(slot)
                await ws.send(self.request)
            deadline = time.perf_counter() + PROBE_TIMEOUT_S
            while pending and time.perf_counter() < deadline and not reader.done():
                await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.samples += [Sample(slot, now - slot, True) for slot in pending]
        finally:
            reader.cancel()

    def between(self, windows: list[tuple[float, float]]) -> list[Sample]:
        """The samples in flight during any of ``windows``."""
        return [s for s in self.samples if any(s.overlaps(a, b) for a, b in windows)]

    def outside(self, windows: list[tuple[float, float]]) -> list[Sample]:
        """The samples in flight during none of ``windows``."""
        return [s for s in self.samples if not any(s.overlaps(a, b) for a, b in windows)]


def summary(samples: list[Sample]) -> dict[str, float]:
    """:func:`_common.summarize` of the round trips (ms), plus how many timed out."""
    out = c.summarize([s.rtt for s in samples])
    if any(s.timed_out for s in samples):
        out["timed_out"] = sum(s.timed_out for s in samples)
    return out


# --- the noisy client (a subprocess: ``--worker reply|flood``) ---------------------------------


def say(**fields: Any) -> None:
    """One JSON line to the parent."""
    print(json.dumps(fields), flush=True)


def user_text(words: int) -> str:
    """``words`` words of text (the mock reply adds two: ``You said:``)."""
    return " ".join(WORDS[i % len(WORDS)] for i in range(max(1, words)))


async def worker_reply(url: str, compression: str | None, lengths: list[int]) -> None:
    """One long reply per entry of ``lengths`` (words), each on a fresh session."""
    for words in lengths:
        ws = await open_manual(url, compression)
        try:
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": user_text(words - 2)}],
            }
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await until(ws, "conversation.item.done", 60.0)
            await asyncio.sleep(0.2)  # let the probes see a quiet loop again
            events = size = 0
            first = None
            start = time.perf_counter()
            await ws.send(json.dumps({"type": "response.create"}))
            async with asyncio.timeout(600.0):
                while True:
                    message = await ws.recv()
                    text = message if isinstance(message, str) else message.decode()
                    events += 1
                    size += len(text)
                    kind = c.event_type(text)
                    if first is None and kind.endswith(".delta"):
                        first = time.perf_counter()
                    if kind == "response.done":
                        status = json.loads(text)["response"]["status"]
                        break
            say(
                words=words,
                start=start,
                first=first,
                done=time.perf_counter(),
                status=status,
                events=events,
                mb=round(size / 1e6, 2),
            )
        finally:
            await ws.close()
        await asyncio.sleep(0.3)


async def worker_flood(url: str, compression: str | None, seconds: float, rate: float) -> None:
    """Tiny appends as fast as possible, at most ``rate`` a second, for ``seconds``."""
    ws = await open_manual(url, compression)
    answers: list[str] = []  # error events count: a server may refuse excess appends

    async def drain() -> None:
        async for message in ws:
            answers.append(c.event_type(str(message)))

    reader = asyncio.create_task(drain())
    sent = 0
    start = time.perf_counter()
    end = start + seconds
    try:
        while (now := time.perf_counter()) < end:
            due = int((now - start) * rate) - sent
            if due <= 0:
                await asyncio.sleep(0.001)
                continue
            for _ in range(min(due, 200)):
                await ws.send(TINY_APPEND)
            sent += min(due, 200)
            await asyncio.sleep(0)  # let the reader run
        stopped = time.perf_counter()
        # One more round trip: the flood is over once the server has read every append. The
        # server's event rate limit may drop this clear too (its bucket is empty after a flood),
        # so it is sent again every half second until it is answered (for at most a minute).
        deadline = time.perf_counter() + 60
        while "input_audio_buffer.cleared" not in answers and time.perf_counter() < deadline:
            await ws.send(CLEAR)
            resend = time.perf_counter() + 0.5
            while "input_audio_buffer.cleared" not in answers and time.perf_counter() < resend:
                await asyncio.sleep(0.01)
        say(
            start=start,
            sent_until=stopped,
            done=time.perf_counter(),
            sent=sent,
            errors=answers.count("error"),
        )
    finally:
        reader.cancel()
        await ws.close()


def worker_main(args: argparse.Namespace) -> None:
    """Entry point of the noisy subprocess."""
    compression = None if args.no_compression else "deflate"
    if args.worker == "reply":
        c.run(worker_reply(args.url, compression, args.lengths))
    else:
        flood_compression = "deflate" if args.flood_compression else None
        c.run(worker_flood(args.url, flood_compression, args.flood_seconds, args.flood_rate))


async def noisy(args: argparse.Namespace, url: str, *extra: str) -> list[dict[str, Any]]:
    """Run this script as the noisy worker; returns the JSON lines it printed."""
    command = [sys.executable, __file__, "--url", url, *extra]
    if args.no_compression:
        command.append("--no-compression")
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    while line := await process.stdout.readline():
        lines.append(json.loads(line))
    if await process.wait() != 0:
        raise RuntimeError(f"noisy worker {extra} exited with {process.returncode}")
    return lines


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Figures:
    """Probe figures during one kind of noise, with ratios to quiet."""

    label: str
    clear: dict[str, float]
    turn: dict[str, float]
    stall_ms: float
    noise: list[dict[str, Any]]

    def row(self, quiet_clear: dict[str, float], quiet_turn: dict[str, float]) -> dict[str, Any]:
        """The figures as one JSON-able row."""
        return {
            "label": self.label,
            "clear_rtt_ms": self.clear,
            "clear_ratio": {k: _ratio(self.clear, quiet_clear, k) for k in ("p50", "p99")},
            "stall_ms": self.stall_ms,
            "text_turn_ms": self.turn,
            "text_turn_ratio": {k: _ratio(self.turn, quiet_turn, k) for k in ("p50", "p99")},
            "noise": self.noise,
        }


def _ratio(value: dict[str, float], base: dict[str, float], key: str) -> float | None:
    if not value.get("n") or not base.get("n") or not base.get(key):
        return None
    return round(value[key] / base[key], 2)


def _cell(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1f}x"


class Bench:
    """The server, the two probes and the windows of noise."""

    def __init__(self, args: argparse.Namespace, url: str) -> None:
        self.args = args
        self.url = url
        self.compression = None if args.no_compression else "deflate"
        self.clear = Probe(
            "clear",
            CLEAR,
            "input_audio_buffer.cleared",
            args.probe_interval_ms / 1000,
            scheduled=True,
        )
        self.turn = Probe("text turn", TEXT_TURN, "response.done", args.turn_interval_ms / 1000)
        self.windows: list[tuple[float, float]] = []

    def figures(self, label: str, windows: list[tuple[float, float]], noise: list[Any]) -> Figures:
        """The probes' figures during ``windows``."""
        clear = self.clear.between(windows)
        stall = max((s.rtt for s in clear), default=0.0) * 1000
        return Figures(label, summary(clear), summary(self.turn.between(windows)), stall, noise)

    async def replies(self, lengths: list[int], label: str | None = None) -> list[Figures]:
        """One noisy reply per length, in order; figures per distinct length."""
        lines = await noisy(
            self.args, self.url, "--worker", "reply", "--lengths", *map(str, lengths)
        )
        out: list[Figures] = []
        for words in dict.fromkeys(lengths):
            mine = [line for line in lines if line["words"] == words]
            windows = [(line["start"], line["done"]) for line in mine]
            self.windows += windows
            figures = self.figures(label or f"reply of {words} words", windows, mine)
            out.append(figures)
            print(self.describe(figures), flush=True)
        return out

    async def flood(self) -> Figures:
        """The flood, once."""
        compression = ["--flood-compression"] if self.args.flood_compression else []
        lines = await noisy(
            self.args,
            self.url,
            *compression,
            "--worker",
            "flood",
            "--flood-seconds",
            str(self.args.flood_seconds),
            "--flood-rate",
            str(self.args.flood_rate),
        )
        windows = [(line["start"], line["done"]) for line in lines]
        self.windows += windows
        figures = self.figures(f"flood ({self.args.flood_rate:g}/s target)", windows, lines)
        print(self.describe(figures), flush=True)
        return figures

    def describe(self, figures: Figures) -> str:
        """A one-line progress report."""
        clear = figures.clear
        if not clear.get("n"):
            return f"{figures.label}: no probe samples"
        noise = figures.noise
        extra = ""
        if noise and "sent" in noise[0]:
            line = noise[0]
            rate = line["sent"] / max(1e-9, line["sent_until"] - line["start"])
            extra = f"; {line['sent']} appends at {rate:.0f}/s, errors {line['errors']}"
        elif noise:
            took = [line["done"] - line["start"] for line in noise]
            extra = (
                f"; reply {min(took):.2f}-{max(took):.2f} s, {noise[0]['events']} events, "
                f"{noise[0]['mb']} MB, status {noise[0]['status']}"
            )
        return (
            f"{figures.label}: clear p50 {clear['p50']:.2f} ms p99 {clear['p99']:.2f} ms, stall "
            f"{figures.stall_ms:.1f} ms (n {int(clear['n'])}){extra}"
        )

    async def quiet(self, seconds: float) -> None:
        """Nothing but the probes for ``seconds``."""
        await asyncio.sleep(seconds)


async def largest_under(bench: Bench, measured: dict[int, Figures], limit_ms: float) -> int | None:
    """The largest reply (words) whose stall stays under ``limit_ms``, by doubling or halving."""
    args = bench.args

    def passes(words: int) -> bool:
        return measured[words].stall_ms < limit_ms

    lengths = sorted(measured)
    if passes(lengths[0]):
        best = max(w for w in lengths if all(passes(v) for v in lengths if v <= w))
        if best < lengths[-1]:
            return best  # a measured length above it failed
        words = best * 2
        while words <= args.max_words:
            measured[words] = (await bench.replies([words]))[0]
            if not passes(words):
                break
            best, words = words, words * 2
        return best
    words = lengths[0] // 2
    while words >= args.min_words:
        measured[words] = (await bench.replies([words]))[0]
        if passes(words):
            return words
        words //= 2
    return None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, measure, print."""
    root = Path(args.server_root).resolve() if args.server_root else c.ROOT
    server = c.ServerProcess(
        "mock",
        root=root,
        env={"REALTIME_MAX_OUTBOX_BYTES": str(2**30), "REALTIME_MAX_REPLY_TOKENS": "4096"},
    )
    stop = asyncio.Event()
    bench = Bench(args, server.ws_url)
    probes = [
        asyncio.create_task(bench.clear.run(server.ws_url, bench.compression, stop)),
        asyncio.create_task(bench.turn.run(server.ws_url, bench.compression, stop)),
    ]
    try:
        print(
            f"server pid {server.pid} on port {server.port} from {root}; loop {c.loop_name()}; "
            f"compression {bench.compression}; load {c.load_average()}",
            flush=True,
        )
        await bench.quiet(args.quiet_seconds / 2)
        measured: dict[int, Figures] = {}
        lengths = [w for w in args.words for _ in range(args.repeats)]
        for figures in await bench.replies(lengths):
            measured[int(figures.noise[0]["words"])] = figures
        flood = await bench.flood()
        largest = await largest_under(bench, measured, args.stall_limit_ms)
        await bench.quiet(args.quiet_seconds / 2)
    finally:
        stop.set()
        await asyncio.wait(probes, timeout=PROBE_TIMEOUT_S + 5)
        server.stop()
    for task in probes:
        if task.done() and task.exception() is not None:
            print(f"probe failed: {task.exception()!r}")

    quiet_clear = summary(bench.clear.outside(bench.windows))
    quiet_turn = summary(bench.turn.outside(bench.windows))
    rows = [measured[w] for w in sorted(measured)] + [flood]
    width = 30
    print(f"\nquiet: clear {_brief(quiet_clear)}; text turn {_brief(quiet_turn)}")
    if bench.clear.errors:
        print(f"the server answered {bench.clear.errors} clears with an error (counted as answers)")
    print(
        f"{'during':<{width}}{'clear p50':>11}{'p99':>9}{'stall ms':>10}{'p50/q':>8}{'p99/q':>8}"
        f"{'turn p50':>10}{'p99':>9}{'p50/q':>8}{'p99/q':>8}"
    )
    for figures in rows:
        row = figures.row(quiet_clear, quiet_turn)
        cl, tu = figures.clear, figures.turn
        print(
            f"{figures.label:<{width}}{cl.get('p50', 0):>11.2f}{cl.get('p99', 0):>9.2f}"
            f"{figures.stall_ms:>10.1f}{_cell(row['clear_ratio']['p50']):>8}"
            f"{_cell(row['clear_ratio']['p99']):>8}{tu.get('p50', 0):>10.2f}"
            f"{tu.get('p99', 0):>9.2f}{_cell(row['text_turn_ratio']['p50']):>8}"
            f"{_cell(row['text_turn_ratio']['p99']):>8}"
        )
    verdict = f"{largest} words" if largest is not None else f"none down to {args.min_words} words"
    print(f"\nlargest reply with a stall under {args.stall_limit_ms:g} ms: {verdict}")
    neighbours = c.busy_neighbours()
    if neighbours:
        print("other busy processes at the end of the run:\n  " + "\n  ".join(neighbours))
    results = {
        "settings": vars(args) | {"server_root": str(root)},
        "quiet": {"clear_rtt_ms": quiet_clear, "text_turn_ms": quiet_turn},
        "during": [f.row(quiet_clear, quiet_turn) for f in rows],
        "largest_reply_under_stall_limit_words": largest,
        "clear_probe_errors": bench.clear.errors,
        "load_average_at_end": c.load_average(),
        "busy_neighbours_at_end": neighbours,
    }
    print(f"\nwritten to {c.save_results(args.results_name, results)}")
    return results


def _brief(summary: dict[str, float]) -> str:
    if not summary.get("n"):
        return "no samples"
    return f"p50 {summary['p50']:.2f} ms, p99 {summary['p99']:.2f} ms (n {int(summary['n'])})"


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--words",
        type=int,
        nargs="+",
        default=[1000, 2000, 4000],
        help="reply lengths in words for (a) (1000 2000 4000)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="replies per length (2)")
    parser.add_argument(
        "--max-words", type=int, default=16000, help="(c) doubles up to this (16000)"
    )
    parser.add_argument("--min-words", type=int, default=32, help="(c) halves down to this (32)")
    parser.add_argument("--stall-limit-ms", type=float, default=100.0, help="(c) limit (100)")
    parser.add_argument("--flood-seconds", type=float, default=8.0, help="(b) duration (8)")
    parser.add_argument("--flood-rate", type=float, default=38000.0, help="(b) target (38000/s)")
    parser.add_argument(
        "--flood-compression",
        action="store_true",
        help="the flooding client offers permessage-deflate too (it does not by default)",
    )
    parser.add_argument("--quiet-seconds", type=float, default=6.0, help="quiet probing (6)")
    parser.add_argument(
        "--probe-interval-ms", type=float, default=5.0, help="pause between clears (5)"
    )
    parser.add_argument(
        "--turn-interval-ms", type=float, default=50.0, help="pause between text turns (50)"
    )
    parser.add_argument(
        "--server-root",
        metavar="PATH",
        help="run main.py from this checkout instead of this one (e.g. a worktree of main)",
    )
    parser.add_argument("--results-name", default="isolation", help="bench/results/<name>.json")
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="do not offer permessage-deflate (the SDK offers it by default)",
    )
    parser.add_argument("--worker", choices=("reply", "flood"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--lengths", type=int, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    c.run(run(args))


if __name__ == "__main__":
    main()
