"""Latency of the embedded default (``--profile local``): per stage and end to end.

Run: ``.venv/bin/python bench/local_profile.py`` (about 3 minutes; ``--help`` for options).

It starts ``main.py --profile local`` on a free loopback port (it exits with a clear message when
the local profile is not available). For each speech clip of the test clips in tests/fixtures/audio,
``--repeats`` times, a fresh session (server_vad defaults, audio output, input transcription on so
its timing is visible) gets the clip streamed in real time in 100 ms chunks, followed by a second of
silence; the client then waits for the response to finish.

Each completed response is timed from the client's side of the socket (arrival times), per stage:

- ``VAD end of speech``: ``speech_stopped`` arrival minus the send time of the chunk that let the
  server's VAD reach ``audio_end_ms`` (processing delay; the 200 ms silence window is not in it);
  ``audio_end_ms`` minus the clip's energy end of speech is reported too (audio clock);
- ``STT``: ``speech_stopped`` -> ``conversation.item.input_audio_transcription.completed``;
- ``LLM first token``: transcription completed -> first ``response.output_audio_transcript.delta``
  (the transcript deltas are the LLM's text, tapped before TTS);
- ``LLM total``: transcription completed -> last transcript delta;
- ``TTS first audio``: first transcript delta -> first ``response.output_audio.delta`` (includes
  waiting for the first sentence, as the TTS speaks whole sentences);
- ``end to end``: ``speech_stopped`` -> first ``response.output_audio.delta`` (and ->
  ``response.done``).

A clip whose speech has pauses longer than the silence window gives several turns; a turn whose
response is cancelled by the next turn (``turn_detected``) is counted, not timed.
Results: ``bench/results/local_profile.json``, printed as median and p90.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import _common as c
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

CHUNK_MS = 100
TAIL_SILENCE_MS = 1000
RESPONSE_WAIT_S = 90.0
STAGES = (
    "VAD end of speech (processing)",
    "STT",
    "LLM first token",
    "LLM total",
    "TTS first audio",
    "end to end: speech_stopped -> first audio",
    "speech_stopped -> response.done",
)


@dataclass
class Response:
    """What one response's events said."""

    created_at: float
    stopped_at: float | None
    item_id: str | None
    first_text: float | None = None
    last_text: float | None = None
    first_audio: float | None = None
    done_at: float | None = None
    status: str = ""
    text: str = ""


@dataclass
class Turn:
    """One session streaming one clip."""

    clip: str
    send_times: list[float] = field(default_factory=list)
    trigger: c.TriggerMap = field(default_factory=c.TriggerMap)
    stops: list[tuple[float, int, str]] = field(default_factory=list)  # (at, audio_end, item)
    transcripts: dict[str, tuple[float, str]] = field(default_factory=dict)
    responses: dict[str, Response] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, at: float, kind: str, text: str) -> None:
        """Record one server event."""
        if kind in ("response.output_audio.delta", "response.output_audio_transcript.delta"):
            data = json.loads(text) if kind.endswith("transcript.delta") else None
            response_id = _field(text, "response_id")
            response = self.responses.get(response_id)
            if response is None:
                return
            if data is not None:
                response.first_text = response.first_text or at
                response.last_text = at
                response.text += data["delta"]
            else:
                response.first_audio = response.first_audio or at
            return
        if kind == "input_audio_buffer.speech_stopped":
            data = json.loads(text)
            self.stops.append((at, data["audio_end_ms"], data["item_id"]))
        elif kind == "conversation.item.input_audio_transcription.completed":
            data = json.loads(text)
            self.transcripts[data["item_id"]] = (at, data["transcript"])
        elif kind == "response.created":
            data = json.loads(text)
            stop = self.stops[-1] if self.stops else None
            self.finished.clear()
            self.responses[data["response"]["id"]] = Response(
                at, stop[0] if stop else None, stop[2] if stop else None
            )
        elif kind == "response.done":
            data = json.loads(text)["response"]
            response = self.responses.get(data["id"])
            if response is not None:
                response.done_at = at
                response.status = data["status"]
            if all(r.done_at is not None for r in self.responses.values()):
                self.finished.set()
        elif kind == "error":
            self.errors.append(text[:300])


def _field(text: str, name: str) -> str:
    """A top-level string field of a large event without parsing it all."""
    start = text.find(f'"{name}":"')
    if start < 0:
        return ""
    start += len(name) + 4
    return text[start : text.find('"', start)]


async def run_turn(url: str, name: str) -> Turn:
    """One fresh session streaming one clip in real time."""
    turn = Turn(name)
    async with connect(url, max_size=None) as ws:
        created = asyncio.Event()
        reader = asyncio.create_task(_read(ws, turn, created))
        await asyncio.wait_for(created.wait(), 30)
        session = {
            "type": "realtime",
            "audio": {"input": {"transcription": {"model": "whisper-1"}}},
        }
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        pcm = c.clip(name) + bytes(TAIL_SILENCE_MS * c.BYTES_PER_MS)
        start = time.perf_counter() + 0.1
        for number, chunk in enumerate(c.chunks(pcm, CHUNK_MS)):
            await asyncio.sleep(max(0.0, start + number * CHUNK_MS / 1000 - time.perf_counter()))
            await ws.send(c.append_message(chunk))
            turn.send_times.append(time.perf_counter())
            turn.trigger.feed(chunk)
        try:
            await asyncio.wait_for(turn.finished.wait(), RESPONSE_WAIT_S if turn.stops else 3.0)
        except TimeoutError:
            turn.errors.append(f"no response.done within {RESPONSE_WAIT_S:g} s")
        reader.cancel()
    return turn


async def _read(ws: ClientConnection, turn: Turn, created: asyncio.Event) -> None:
    async for message in ws:
        at = time.perf_counter()
        text = message if isinstance(message, str) else message.decode()
        kind = c.event_type(text)
        if kind == "session.created":
            created.set()
        turn.on_event(at, kind, text)


def stage_times(turn: Turn) -> tuple[list[dict[str, float]], int]:
    """Stage durations (seconds) of every completed response of a turn; and the cancelled count."""
    timed: list[dict[str, float]] = []
    cancelled = 0
    stops = {item: (at, end) for at, end, item in turn.stops}
    for response in turn.responses.values():
        if response.status != "completed" or response.item_id not in stops:
            cancelled += response.status != "completed"
            continue
        stopped_at, audio_end = stops[response.item_id]
        figures: dict[str, float] = {}
        index = turn.trigger.chunk_for_ms(audio_end)
        if index is not None and index < len(turn.send_times):
            figures[STAGES[0]] = stopped_at - turn.send_times[index]
        transcript = turn.transcripts.get(response.item_id)
        if transcript is not None:
            figures[STAGES[1]] = transcript[0] - stopped_at
            if response.first_text is not None and response.last_text is not None:
                figures[STAGES[2]] = response.first_text - transcript[0]
                figures[STAGES[3]] = response.last_text - transcript[0]
        if response.first_text is not None and response.first_audio is not None:
            figures[STAGES[4]] = response.first_audio - response.first_text
        if response.first_audio is not None:
            figures[STAGES[5]] = response.first_audio - stopped_at
        if response.done_at is not None:
            figures[STAGES[6]] = response.done_at - stopped_at
        figures["audio_end_beyond_energy_end"] = (audio_end - c.speech_end_ms(turn.clip)) / 1000
        timed.append(figures)
    return timed, cancelled


async def run(args: argparse.Namespace) -> int:
    """Start the local server, stream the clips, print the table."""
    try:
        server = c.ServerProcess("local", log_level="info")
    except RuntimeError as exc:
        print(
            "The local profile is not available on this machine, so there is nothing to measure "
            "(the results row stays 'pending').\nInstall it with `pip install --no-deps "
            "--require-hashes -r requirements-local.txt`, then re-run.\n\nServer said:\n"
            f"{str(exc)[-1500:]}"
        )
        return 2
    rows: list[dict[str, float]] = []
    per_clip: dict[str, list[float]] = {}
    cancelled = 0
    errors: list[str] = []
    samples: list[dict[str, Any]] = []
    try:
        print(f"local profile ready in {server.started_s:.1f} s: {server.health()['models']}")
        print(f"loop {c.loop_name()}; load {c.load_average()}")
        for repeat in range(args.repeats):
            for name in args.clips.split(","):
                turn = await run_turn(server.ws_url, name)
                timed, lost = stage_times(turn)
                rows += timed
                per_clip.setdefault(name, []).extend(r[STAGES[5]] for r in timed if STAGES[5] in r)
                cancelled += lost
                errors += turn.errors
                for response in turn.responses.values():
                    transcript = turn.transcripts.get(response.item_id or "", (0.0, ""))[1]
                    samples.append(
                        {
                            "clip": name,
                            "repeat": repeat,
                            "heard": transcript,
                            "reply": response.text[:120],
                            "status": response.status,
                        }
                    )
                e2e = [r.get(STAGES[5], float("nan")) * 1000 for r in timed]
                print(
                    f"  {name:<24} responses {len(turn.responses)} completed {len(timed)}; "
                    f"speech_stopped -> first audio {', '.join(f'{x:.0f}' for x in e2e)} ms",
                    flush=True,
                )
    finally:
        server.stop()
    print(f"\n{'ms':<46}{'n':>5}{'median':>10}{'p90':>10}")
    table: dict[str, dict[str, float]] = {}
    for stage in (*STAGES, "audio_end_beyond_energy_end"):
        values = [r[stage] * 1000 for r in rows if stage in r]
        if not values:
            continue
        median = statistics.median(values)
        p90 = float(np.percentile(values, 90))
        table[stage] = {"n": len(values), "median": round(median, 1), "p90": round(p90, 1)}
        label = (
            "VAD end (audio clock, incl. 200 ms window)" if stage.startswith("audio_") else stage
        )
        print(f"{label:<46}{len(values):>5}{median:>10.0f}{p90:>10.0f}")
    clip_medians = {
        name: round(statistics.median(values) * 1000) for name, values in per_clip.items() if values
    }
    medians = ", ".join(f"{name.removesuffix('.wav')} {ms}" for name, ms in clip_medians.items())
    print(f"\nend to end (speech_stopped -> first audio), median per clip, ms: {medians}")
    print(f"responses cancelled by the next turn (not timed): {cancelled}; errors: {len(errors)}")
    for error in errors[:3]:
        print(f"  {error}")
    neighbours = c.busy_neighbours()
    if neighbours:
        print("other busy processes at the end of the run:\n  " + "\n  ".join(neighbours))
    path = c.save_results(
        "local_profile",
        {
            "settings": vars(args),
            "stages_ms": table,
            "end_to_end_median_per_clip_ms": clip_medians,
            "cancelled": cancelled,
            "errors": errors[:10],
            "samples": samples,
            "busy_neighbours_at_end": neighbours,
        },
    )
    print(f"written to {path}")
    return 0


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="passes over the clips (3)")
    parser.add_argument("--clips", default=",".join(c.SPEECH_CLIPS), help="clips to stream")
    raise SystemExit(c.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
