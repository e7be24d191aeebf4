"""Shared helpers of the benchmarks: the server process, clips, statistics, /proc figures.

Every script in ``bench/`` starts its own server (``main.py``) on a free loopback port, so a run
never touches a server somebody else started. Importing this module puts the repository root on
``sys.path``, so the scripts can import the server's own modules (``audio_utils``,
``pipeline_manager.turn_detection``) for offline simulation.

``--baseline REF`` (overhead.py, concurrency.py): :func:`baseline_tree` checks ``REF`` out into a
temporary ``git worktree`` and the script starts a second server from it (same Python, same
client code and clips from this checkout), so both servers are measured in one run under the same
machine load; :func:`ratio_text` prints current / baseline.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
AUDIO_DIR = ROOT / "tests" / "fixtures" / "audio"
RESULTS_DIR = BENCH_DIR / "results"
LOG_DIR = BENCH_DIR / "logs"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SAMPLE_RATE = 24000
BYTES_PER_MS = 48  # 24 kHz PCM16 mono
VAD_RATE = 16000
SPEECH_CLIPS = (
    "go_forward_human.wav",
    "austen_human.wav",
    "hello_joke_synth.wav",
    "weather_zh_synth.wav",
)
STARTUP_TIMEOUT_S = 120.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that is free right now on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``python main.py --port P --profile X`` in a subprocess on loopback; a context manager.

    ``root`` is the checkout the server runs from (its working directory; default: this one, a
    baseline worktree for ``--baseline``); ``label`` goes into the log file's name.
    """

    def __init__(
        self,
        profile: str = "mock",
        env: dict[str, str] | None = None,
        log_level: str = "warning",
        wrapper: Sequence[str] = (),
        root: Path = ROOT,
        label: str = "",
    ) -> None:
        self.profile = profile
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/v1/realtime?model=gpt-realtime"
        LOG_DIR.mkdir(exist_ok=True)
        tag = f"{label}-" if label else ""
        self.log_path = LOG_DIR / f"server-{tag}{profile}-{self.port}.log"
        self._log = self.log_path.open("w")
        full_env = {**os.environ, "REALTIME_LOG_LEVEL": log_level, **(env or {})}
        command = [sys.executable, "main.py", "--port", str(self.port), "--profile", profile]
        self.process = subprocess.Popen(
            [*wrapper, *command],
            cwd=root,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.started_s = 0.0
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        began = time.monotonic()
        deadline = began + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server ({self.profile}) exited with code {self.process.returncode}:\n"
                    f"{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                self.health()
                self.started_s = time.monotonic() - began
                return
            time.sleep(0.05)
        raise RuntimeError(f"server ({self.profile}) did not start:\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def health(self) -> dict[str, Any]:
        """``GET /health``."""
        with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as reply:
            return dict(json.loads(reply.read()))

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text()[-chars:]
        return ""

    def stop(self) -> None:
        """Terminate the server (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- baseline: a second server from another git ref ------------------------------------------


@dataclass(frozen=True)
class Tree:
    """A checkout a server runs from: this one (``current``) or a baseline worktree."""

    label: str  # "current" or "baseline"
    root: Path
    ref: str  # as given ("HEAD" plus local changes for the current checkout)
    commit: str
    changes: tuple[str, ...] = ()  # uncommitted changes outside bench/ (``git status --porcelain``)

    @property
    def title(self) -> str:
        """``label`` with its commit, for tables."""
        dirty = " + local changes" if self.changes else ""
        return f"{self.label} {self.commit[:9]}{dirty}"

    def describe(self) -> dict[str, Any]:
        """For the JSON results."""
        return {
            "label": self.label,
            "ref": self.ref,
            "commit": self.commit,
            "uncommitted_changes_outside_bench": list(self.changes),
        }


def _git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.rstrip("\n")


def current_tree() -> Tree:
    """This checkout, with its commit and uncommitted changes (the server runs the working tree).

    Changes under ``bench/`` are left out: the server does not run that code.
    """
    status = _git("status", "--porcelain", "--untracked-files=all").splitlines()
    changes = tuple(line for line in status if not line[3:].startswith("bench/"))
    return Tree("current", ROOT, "HEAD", _git("rev-parse", "HEAD"), changes)


def code_fingerprint(root: Path) -> str:
    """SHA-1 over the checkout's files as they are now (tracked and untracked, not ignored).

    ``bench/`` is left out (the server does not use it). Recorded each time a server starts with
    ``--baseline``, so a run shows whether the working tree changed under it.
    """
    names = _git("ls-files", "-z", "-co", "--exclude-standard", cwd=root).split("\0")
    digest = hashlib.sha1()
    for name in sorted({n for n in names if n and not n.startswith("bench/")}):
        with contextlib.suppress(OSError):
            data = (root / name).read_bytes()
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def baseline_tree(ref: str) -> Iterator[Tree]:
    """``ref`` checked out (detached) in a temporary ``git worktree``, removed when done.

    Only the server runs from it (``main.py``, with this venv's Python); the benchmark's own code
    and the clips stay this checkout's. An ``.env`` in this checkout is copied so both servers see
    the same settings.
    """
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    path = tmp / "tree"
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so a kill still cleans up
    try:
        _git("worktree", "add", "--detach", str(path), commit)
        if (ROOT / ".env").exists():
            shutil.copy(ROOT / ".env", path / ".env")
        print(f"baseline {ref} ({commit[:9]}) checked out in {path}", flush=True)
        yield Tree("baseline", path, ref, commit)
    finally:
        try:
            if path.exists():
                _git("worktree", "remove", "--force", str(path))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
                _git("worktree", "prune")
            signal.signal(signal.SIGTERM, previous)


def add_baseline_option(parser: Any) -> None:
    """The ``--baseline REF`` option (an ``argparse`` parser)."""
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also measure a server started from git REF (a temporary worktree), interleaved "
        "with this checkout's, and print current/baseline ratios",
    )


def ratio_text(current: float | None, baseline: float | None) -> str:
    """``current / baseline`` as text (``-`` when undefined)."""
    if current is None or baseline is None or not baseline:
        return "-"
    return f"{current / baseline:.2f}x"


def ratios(current: dict[str, float], baseline: dict[str, float]) -> dict[str, float | None]:
    """current / baseline per percentile of two :func:`summarize` results."""
    out: dict[str, float | None] = {}
    for key in [f"p{p}" for p in PERCENTILES] + ["max"]:
        a, b = current.get(key), baseline.get(key)
        out[key] = round(a / b, 3) if a is not None and b else None
    return out


def format_ratio_row(
    name: str, current: dict[str, float], baseline: dict[str, float], width: int = 46
) -> str:
    """A :func:`format_row`-shaped line of current / baseline ratios."""
    cells = "".join(
        f"{ratio_text(current.get(f'p{p}'), baseline.get(f'p{p}')):>9}" for p in PERCENTILES
    )
    return f"{name:<{width}}{'':>6}{cells}{ratio_text(current.get('max'), baseline.get('max')):>9}"


# --- /proc figures ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def schedstat(pid: int, tid: int | None = None) -> tuple[float, float]:
    """Seconds a thread (default: the main thread) ran on a CPU and waited for one to be free.

    From ``/proc/<pid>/task/<tid>/schedstat``; the wait (time runnable but not running) shows how
    much other processes kept it off the CPUs.
    """
    with open(f"/proc/{pid}/task/{tid or pid}/schedstat") as stat:
        running, waiting, _ = stat.read().split()
    return int(running) / 1e9, int(waiting) / 1e9


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from ``/proc/<pid>/statm``."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from ``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    pending = [pid]
    while pending and len(found) < 1000:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
    return found


def tree_schedstat(pid: int) -> tuple[float, float]:
    """:func:`schedstat` of the main thread of a process and of each descendant, summed."""
    running = waiting = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            ran, waited = schedstat(member)
            running += ran
            waiting += waited
    return running, waiting


def tree_cpu_seconds(pid: int) -> float:
    """:func:`cpu_seconds` summed over a process and its descendants."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(member)
    return total


def tree_rss_bytes(pid: int) -> int:
    """:func:`rss_bytes` summed over a process and its descendants (shared pages counted twice)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += rss_bytes(member)
    return total


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = os.getloadavg()
    return one, five, fifteen


def machine() -> dict[str, Any]:
    """What the figures were taken on."""
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "load_average_when_saved": [round(x, 2) for x in load_average()],
    }


def busy_neighbours(exclude: Iterable[int] = ()) -> list[str]:
    """Other processes using CPU right now (a short sample of ``ps``), to report load honestly."""
    skip = {os.getpid(), *exclude}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["ps", "-eo", "pid,pcpu,comm,args", "--sort=-pcpu", "--no-headers"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        busy = []
        for line in out.splitlines()[:15]:
            parts = line.split(None, 3)
            if len(parts) == 4 and int(parts[0]) not in skip and float(parts[1]) >= 10.0:
                busy.append(f"{parts[1]}% {parts[3][:90]}")
        return busy
    return []


# --- clips ------------------------------------------------------------------------------------


@cache
def manifest() -> dict[str, Any]:
    """The test clips' manifest (text and speech segments per file)."""
    return dict(json.loads((AUDIO_DIR / "manifest.json").read_text()))


@cache
def clip(name: str) -> bytes:
    """A test clip's PCM16 24 kHz mono samples."""
    with wave.open(str(AUDIO_DIR / name)) as wav:
        if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1:
            raise ValueError(f"{name}: expected 24 kHz mono")
        return wav.readframes(wav.getnframes())


def speech_end_ms(name: str) -> float:
    """End of the clip's last speech segment (manifest, energy-based), in milliseconds."""
    segments = manifest()[name]["speech_segments_s"]
    return float(segments[-1][1]) * 1000


def chunks(pcm: bytes, chunk_ms: int) -> list[bytes]:
    """``pcm`` cut into chunks of ``chunk_ms`` (the last may be shorter)."""
    size = chunk_ms * BYTES_PER_MS
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def append_message(pcm: bytes) -> str:
    """An ``input_audio_buffer.append`` frame as JSON text."""
    audio = base64.b64encode(pcm).decode("ascii")
    return json.dumps({"type": "input_audio_buffer.append", "audio": audio})


def event_type(message: str) -> str:
    """The ``type`` of a server event without parsing it (the server writes ``type`` first)."""
    start = message.find('"type":"')
    if start < 0:
        return ""
    start += 8
    return message[start : message.find('"', start)]


class TriggerMap:
    """Which input chunk makes the server's VAD reach a given stream position.

    The server turns each appended chunk into 16 kHz audio with a streaming soxr resampler
    (``audio_utils.InputAudioConverter``), which holds back a short filter delay. A VAD decision at
    stream position ``t`` can only be taken once the resampler has released 16 kHz samples up to
    ``t``; this replays the same chunks through the same converter to find that chunk exactly.
    """

    def __init__(self) -> None:
        from audio_utils import PCM24K, InputAudioConverter

        self._converter = InputAudioConverter(PCM24K, VAD_RATE)
        self.released: list[int] = []  # cumulative 16 kHz samples released after each chunk
        self._total = 0

    def feed(self, pcm: bytes) -> None:
        """Replay the next chunk."""
        self._total += len(self._converter.convert(pcm)) // 2
        self.released.append(self._total)

    def chunk_for_ms(self, stream_ms: float) -> int | None:
        """Index of the first chunk after which ``stream_ms`` of 16 kHz audio was released."""
        needed = round(stream_ms * VAD_RATE / 1000)
        index = bisect.bisect_left(self.released, needed)
        return index if index < len(self.released) else None


# --- statistics -------------------------------------------------------------------------------


PERCENTILES = (50, 90, 95, 99)
T = TypeVar("T")


@dataclass
class Series:
    """A named list of durations in seconds."""

    name: str
    values: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self.values.append(seconds)

    def summary(self) -> dict[str, float]:
        """Count, then p50/p90/p95/p99/max in milliseconds (empty when no values)."""
        return summarize(self.values)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Count and percentiles (linear interpolation) of durations in seconds, in milliseconds."""
    if not values:
        return {"n": 0}
    array = np.asarray(values, dtype=float) * 1000
    out: dict[str, float] = {"n": len(values)}
    for p in PERCENTILES:
        out[f"p{p}"] = round(float(np.percentile(array, p)), 3)
    out["max"] = round(float(array.max()), 3)
    return out


def format_row(name: str, summary: dict[str, float], width: int = 46) -> str:
    """One line of a percentile table."""
    if not summary.get("n"):
        return f"{name:<{width}} (no samples)"
    cells = "".join(f"{summary.get(f'p{p}', float('nan')):>9.2f}" for p in PERCENTILES)
    return f"{name:<{width}}{int(summary['n']):>6}{cells}{summary['max']:>9.2f}"


def format_header(width: int = 46) -> str:
    """The header of :func:`format_row` tables (milliseconds)."""
    cells = "".join(f"{'p' + str(p):>9}" for p in PERCENTILES)
    return f"{'ms':<{width}}{'n':>6}{cells}{'max':>9}"


def save_results(name: str, data: dict[str, Any]) -> Path:
    """Write a script's figures to ``bench/results/<name>.json``."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    data = {"taken_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(), **data}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the benchmark's coroutine on uvloop when available (the server uses it too)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def loop_name() -> str:
    """The running event loop's kind, for the report."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]
