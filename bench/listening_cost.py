"""The cost of listening: a spoken turn against the same turn typed, on the embedded default.

Run: ``.venv/bin/python bench/listening_cost.py`` (a few minutes; ``--help`` for options).

It starts ``main.py --profile local`` (with ``REALTIME_DEBUG_ENDPOINTS`` for the speculation
counters) and, per speech clip of tests/fixtures/audio (or ``--clips``), ``--repeats`` times,
alternating on the same server:

(a) **spoken**: a fresh session (server_vad defaults, input transcription on so the stages are
    visible) gets the clip streamed in real time in 20 ms chunks, then silence; timed from
    ``input_audio_buffer.speech_stopped`` to the first ``response.output_audio.delta``;
(b) **typed**: a fresh session gets the clip's own transcript (manifest) as a user ``input_text``
    item and ``response.create``; timed from sending ``response.create`` to the first audio delta.

Printed: medians of (a) and (b) and their ratio a/b, "the cost of listening"; for (a) the stages
(``speech_stopped`` -> transcription completed -> first audio); how many speculative
transcriptions were used and thrown away (``/debug/stats``). Then ``--concurrent`` sessions (4)
speaking at once, and typing at once: first-audio p50/p90 of each and the same ratio.

``--no-speculation`` runs the server with ``REALTIME_SPECULATIVE_TURNS=false`` (the before);
``--language xx`` sets ``audio.input.transcription.language`` (the English path with ``en``, the
multilingual path otherwise). Results: ``bench/results/listening_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import _common as c
from websockets.asyncio.client import ClientConnection, connect

CHUNK_MS = 20
TAIL_SILENCE_MS = 1500
WAIT_S = 120.0


@dataclass
class Timing:
    """Arrival times of the events of one turn (perf_counter seconds)."""

    sent_create: float | None = None
    speech_stopped: float | None = None
    transcribed: float | None = None
    first_audio: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    errors: list[str] = field(default_factory=list)

    def spoken_s(self) -> float | None:
        if self.speech_stopped is None or self.first_audio is None:
            return None
        return self.first_audio - self.speech_stopped

    def typed_s(self) -> float | None:
        if self.sent_create is None or self.first_audio is None:
            return None
        return self.first_audio - self.sent_create


async def _read(ws: ClientConnection, timing: Timing, created: asyncio.Event) -> None:
    async for message in ws:
        at = time.perf_counter()
        text = message if isinstance(message, str) else message.decode()
        kind = c.event_type(text)
        if kind == "session.created":
            created.set()
        elif kind == "input_audio_buffer.speech_stopped":
            timing.speech_stopped = at  # the last turn's: a clip may hold two
        elif kind == "response.created":
            timing.first_audio = None  # the completed response is the last one
        elif kind == "conversation.item.input_audio_transcription.completed":
            timing.transcribed = at
        elif kind == "response.output_audio.delta" and timing.first_audio is None:
            timing.first_audio = at
        elif kind == "response.done" and '"status":"completed"' in text:
            timing.done.set()
        elif kind == "error":
            timing.errors.append(text[:200])


async def _session(url: str, session: dict[str, Any]) -> tuple[ClientConnection, Timing, Any]:
    ws = await connect(url, max_size=None)
    timing = Timing()
    created = asyncio.Event()
    reader = asyncio.create_task(_read(ws, timing, created))
    await asyncio.wait_for(created.wait(), 30)
    await ws.send(json.dumps({"type": "session.update", "session": session}))
    return ws, timing, reader


def _transcription(language: str | None) -> dict[str, Any]:
    transcription: dict[str, Any] = {"model": "whisper-1"}
    if language:
        transcription["language"] = language
    return transcription


async def spoken_turn(url: str, clip: str, language: str | None) -> Timing:
    session = {"type": "realtime", "audio": {"input": {"transcription": _transcription(language)}}}
    ws, timing, reader = await _session(url, session)
    try:
        pcm = c.clip(clip) + bytes(TAIL_SILENCE_MS * c.BYTES_PER_MS)
        start = time.perf_counter() + 0.05
        for number, chunk in enumerate(c.chunks(pcm, CHUNK_MS)):
            await asyncio.sleep(max(0.0, start + number * CHUNK_MS / 1000 - time.perf_counter()))
            await ws.send(c.append_message(chunk))
        await asyncio.wait_for(timing.done.wait(), WAIT_S)
    except TimeoutError:
        timing.errors.append("no response.done")
    finally:
        reader.cancel()
        await ws.close()
    return timing


async def typed_turn(url: str, text: str, language: str | None) -> Timing:
    session = {"type": "realtime", "audio": {"input": {"transcription": _transcription(language)}}}
    ws, timing, reader = await _session(url, session)
    try:
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await ws.send(json.dumps({"type": "response.create"}))
        timing.sent_create = time.perf_counter()
        await asyncio.wait_for(timing.done.wait(), WAIT_S)
    except TimeoutError:
        timing.errors.append("no response.done")
    finally:
        reader.cancel()
        await ws.close()
    return timing


def _stats(base_url: str) -> dict[str, float]:
    with urllib.request.urlopen(base_url + "/debug/stats", timeout=5) as reply:
        return dict(json.loads(reply.read()).get("speculation") or {})


def _median_ms(values: list[float]) -> float | None:
    return round(statistics.median(values) * 1000, 1) if values else None


def _p90_ms(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000, 1)


async def run(args: argparse.Namespace, server: c.ServerProcess) -> dict[str, Any]:
    manifest = c.manifest()
    clips = args.clips or [
        name for name, entry in manifest.items() if entry.get("transcript") and "zh" not in name
    ]
    url = server.ws_url
    before = await asyncio.to_thread(_stats, server.base_url)
    per_clip: dict[str, dict[str, list[float]]] = {}
    stages: dict[str, list[float]] = {"stt": [], "after_stt": []}
    errors: list[str] = []
    for repeat in range(args.repeats):
        for clip in clips:
            text = manifest[clip]["transcript"]
            order = ("spoken", "typed") if repeat % 2 == 0 else ("typed", "spoken")
            for kind in order:
                if kind == "spoken":
                    timing = await spoken_turn(url, clip, args.language)
                    value = timing.spoken_s()
                    if timing.transcribed and timing.speech_stopped and timing.first_audio:
                        stages["stt"].append(timing.transcribed - timing.speech_stopped)
                        stages["after_stt"].append(timing.first_audio - timing.transcribed)
                else:
                    timing = await typed_turn(url, text, args.language)
                    value = timing.typed_s()
                errors += timing.errors
                if value is not None:
                    per_clip.setdefault(clip, {"spoken": [], "typed": []})[kind].append(value)
    after = await asyncio.to_thread(_stats, server.base_url)
    spoken = [v for clip in per_clip.values() for v in clip["spoken"]]
    typed = [v for clip in per_clip.values() for v in clip["typed"]]
    report: dict[str, Any] = {
        "clips": clips,
        "repeats": args.repeats,
        "speculation": not args.no_speculation,
        "language": args.language,
        "spoken_median_ms": _median_ms(spoken),
        "typed_median_ms": _median_ms(typed),
        "ratio": round(statistics.median(spoken) / statistics.median(typed), 2)
        if spoken and typed
        else None,
        "stages_median_ms": {name: _median_ms(values) for name, values in stages.items()},
        "per_clip_median_ms": {
            clip: {kind: _median_ms(values) for kind, values in kinds.items()}
            for clip, kinds in per_clip.items()
        },
        "speculation_counts": {k: round(after.get(k, 0) - before.get(k, 0), 1) for k in after},
        "errors": errors[:10],
    }
    if args.concurrent:
        report["concurrent"] = await run_concurrent(args, url, clips, manifest)
    return report


async def run_concurrent(
    args: argparse.Namespace, url: str, clips: list[str], manifest: dict[str, Any]
) -> dict[str, Any]:
    n = args.concurrent
    spoken: list[float] = []
    typed: list[float] = []
    for repeat in range(args.repeats):
        picks = [clips[(repeat + i) % len(clips)] for i in range(n)]
        timings = await asyncio.gather(*(spoken_turn(url, p, args.language) for p in picks))
        spoken += [t.spoken_s() for t in timings if t.spoken_s() is not None]  # type: ignore[misc]
        texts = [manifest[p]["transcript"] for p in picks]
        timings = await asyncio.gather(*(typed_turn(url, t, args.language) for t in texts))
        typed += [t.typed_s() for t in timings if t.typed_s() is not None]  # type: ignore[misc]
    return {
        "sessions": n,
        "spoken_p50_ms": _median_ms(spoken),
        "spoken_p90_ms": _p90_ms(spoken),
        "typed_p50_ms": _median_ms(typed),
        "typed_p90_ms": _p90_ms(typed),
        "ratio_p50": round(statistics.median(spoken) / statistics.median(typed), 2)
        if spoken and typed
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="passes over the clips (3)")
    parser.add_argument("--clips", nargs="*", help="clip names (default: the English speech)")
    parser.add_argument("--language", help="audio.input.transcription.language (e.g. en)")
    parser.add_argument("--concurrent", type=int, default=4, help="sessions at once (4; 0: skip)")
    parser.add_argument("--no-speculation", action="store_true", help="the server without it")
    parser.add_argument("--profile", default="local", help="server profile (local)")
    args = parser.parse_args()
    print(f"busy neighbours: {c.busy_neighbours() or 'none'}")
    env = {"REALTIME_DEBUG_ENDPOINTS": "1"}
    if args.no_speculation:
        env["REALTIME_SPECULATIVE_TURNS"] = "false"
    with c.ServerProcess(profile=args.profile, env=env, label="listening") as server:
        report = c.run(run(args, server))
    print(json.dumps(report, indent=2))
    path = c.save_results("listening_cost" + ("_nospec" if args.no_speculation else ""), report)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
