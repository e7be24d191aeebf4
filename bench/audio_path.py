"""Throughput of the server's input audio path, without the server: CPU per second of audio.

Run: ``.venv/bin/python bench/audio_path.py`` (about a minute; ``--help`` for options).

The test clips in tests/fixtures/audio (speech, silence, noise; about 37 s) are looped to
``--seconds`` of audio, cut into ``--chunk-ms`` chunks and sent through the same functions the
server runs for every ``input_audio_buffer.append``, one stage at a time over the whole corpus:

0. ``inflate (permessage-deflate)``: decompressing the frames, as the server's websockets layer
   does when the client offered compression (the SDK does by default; ``--no-deflate`` to skip);
   the frames are compressed once beforehand with the same zlib stream settings as a client;
1. ``parse + validate frame``: ``protocol.validation.parse_client_event`` on the JSON text (JSON
   decode, strict pydantic schema, and the base64 decode of ``audio``, the only one: its bytes
   reach the core in ``ClientEvent.audio``);
2. ``base64 decode (within 1)``: ``audio_utils.decode_base64_audio`` alone, the part of stage 1
   spent decoding (already included in stage 1, so the ``total`` row counts it twice);
3. ``G.711 decode`` (``audio/pcmu``, ``audio/pcma`` only): ``AudioFormat.to_pcm16``;
4. ``resample -> 16 kHz``: the streaming soxr resampler of ``audio_utils.InputAudioConverter``;
5. ``VAD (Silero)``: ``pipeline_manager.turn_detection.TurnDetector.feed`` (server_vad defaults).

CPU time is ``time.process_time`` (all threads of this process). Each stage is repeated
``--repeats`` times and the fastest run is kept (the least disturbed by other processes). Output:
microseconds per chunk, CPU milliseconds per second of audio, and the multiple of real time
(seconds of audio per CPU second, i.e. how many real-time input streams one core could carry
through that stage). Results: ``bench/results/audio_path.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import _common as c

CORPUS = (*c.SPEECH_CLIPS, "silence_2s.wav", "noise_2s.wav")
FORMATS = ("audio/pcm", "audio/pcmu", "audio/pcma")


def corpus(seconds: float) -> bytes:
    """The clips back to back, looped to ``seconds`` of 24 kHz PCM16."""
    pcm = b""
    while len(pcm) < seconds * 1000 * c.BYTES_PER_MS:
        for name in CORPUS:
            pcm += c.clip(name)
    return pcm[: int(seconds * 1000) * c.BYTES_PER_MS]


def encode(pcm24k: bytes, kind: str) -> bytes:
    """The corpus in a wire format (G.711 at 8 kHz)."""
    from audio_utils import alaw_encode, resample, ulaw_encode

    if kind == "audio/pcm":
        return pcm24k
    pcm8k = resample(pcm24k, 24000, 8000)
    return ulaw_encode(pcm8k) if kind == "audio/pcmu" else alaw_encode(pcm8k)


def split(data: bytes, bytes_per_ms: int, chunk_ms: int) -> list[bytes]:
    """Wire bytes cut into chunks of ``chunk_ms``."""
    size = bytes_per_ms * chunk_ms
    return [data[i : i + size] for i in range(0, len(data), size)]


def cpu_of(work: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The least CPU time of ``repeats`` runs of ``work``, and its last result."""
    best = float("inf")
    result: Any = None
    for _ in range(repeats):
        start = time.process_time()
        result = work()
        best = min(best, time.process_time() - start)
    return best, result


def run_vad(chunks16k: Iterable[bytes]) -> int:
    """Feed a fresh detector every chunk; return the number of turn events."""
    from pipeline_manager.turn_detection import TurnDetector

    detector = TurnDetector({"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 200})

    async def feed_all() -> int:
        events = 0
        for chunk in chunks16k:
            events += len(await detector.feed(chunk))
        return events

    return asyncio.run(feed_all())


def measure(
    kind: str, pcm24k: bytes, chunk_ms: int, repeats: int, deflate: bool = True
) -> dict[str, Any]:
    """Every stage for one wire format and chunk size."""
    from audio_utils import AudioFormat, StreamResampler, decode_base64_audio
    from protocol.validation import parse_client_event

    rate = 24000 if kind == "audio/pcm" else 8000
    audio_format = AudioFormat.from_session({"type": kind})
    wire = encode(pcm24k, kind)
    pieces = split(wire, audio_format.bytes_per_sample * rate // 1000, chunk_ms)
    texts = [base64.b64encode(p).decode("ascii") for p in pieces]
    frames = [json.dumps({"type": "input_audio_buffer.append", "audio": t}) for t in texts]
    seconds = len(pcm24k) / c.BYTES_PER_MS / 1000

    stages: list[tuple[str, float]] = []
    if deflate:
        compressor = zlib.compressobj(wbits=-15, memLevel=5)
        compressed = [  # RFC 7692: the sender drops the flush's 00 00 ff ff, the receiver adds it
            (compressor.compress(f.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
            for f in frames
        ]

        def inflate_all() -> list[bytes]:
            inflater = zlib.decompressobj(wbits=-15)
            return [inflater.decompress(b + b"\x00\x00\xff\xff") for b in compressed]

        cpu, _ = cpu_of(inflate_all, repeats)
        stages.append(("inflate (permessage-deflate)", cpu))
    cpu, _ = cpu_of(lambda: [parse_client_event(f) for f in frames], repeats)
    stages.append(("parse + validate frame", cpu))
    cpu, decoded = cpu_of(lambda: [decode_base64_audio(t) for t in texts], repeats)
    stages.append(("base64 decode (within 1)", cpu))
    pcm_native = decoded
    if kind != "audio/pcm":
        cpu, pcm_native = cpu_of(lambda: [audio_format.to_pcm16(d) for d in decoded], repeats)
        stages.append(("G.711 decode", cpu))

    def resample_all() -> list[bytes]:
        resampler = StreamResampler(rate, c.VAD_RATE)
        return [resampler.process(p) for p in pcm_native]

    cpu, pcm16k = cpu_of(resample_all, repeats)
    stages.append((f"resample {rate // 1000} kHz -> 16 kHz", cpu))
    cpu, events = cpu_of(lambda: run_vad(pcm16k), repeats)
    stages.append(("VAD (Silero, 32 ms windows)", cpu))
    windows = sum(len(p) for p in pcm16k) // 2 // 512

    rows = []
    for name, stage_cpu in stages:
        rows.append(_row(name, stage_cpu, seconds, len(pieces)))
    total = sum(cpu for _, cpu in stages)
    rows.append(_row("total", total, seconds, len(pieces)))
    vad_cpu = stages[-1][1]
    return {
        "format": kind,
        "chunk_ms": chunk_ms,
        "audio_seconds": round(seconds, 2),
        "chunks": len(pieces),
        "vad_events": events,
        "vad_us_per_window": round(vad_cpu / max(windows, 1) * 1e6, 1),
        "stages": rows,
    }


def _row(name: str, cpu: float, seconds: float, chunks: int) -> dict[str, Any]:
    return {
        "stage": name,
        "us_per_chunk": round(cpu / chunks * 1e6, 1),
        "cpu_ms_per_audio_s": round(cpu / seconds * 1000, 3),
        "x_real_time": round(seconds / cpu) if cpu > 0 else None,
    }


def print_table(result: dict[str, Any]) -> None:
    """One format's stages."""
    print(
        f"\n{result['format']}, {result['chunk_ms']} ms chunks ({result['chunks']} chunks, "
        f"{result['audio_seconds']:g} s of audio; Silero {result['vad_us_per_window']} us/window)"
    )
    print(f"  {'stage':<34}{'us/chunk':>10}{'CPU ms/audio s':>16}{'x real time':>13}")
    for row in result["stages"]:
        x = row["x_real_time"]
        print(
            f"  {row['stage']:<34}{row['us_per_chunk']:>10.1f}{row['cpu_ms_per_audio_s']:>16.3f}"
            f"{(str(x) + 'x') if x else '-':>13}"
        )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="audio per run (120)")
    parser.add_argument("--chunk-ms", default="20,100", help="chunk sizes, ms (20,100)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="wire formats (all three)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per stage, fastest kept (3)")
    parser.add_argument("--no-deflate", action="store_true", help="leave out the inflate stage")
    args = parser.parse_args()

    from pipeline_manager.turn_detection import SharedTurnModels

    SharedTurnModels.silero_session()  # load the model outside the timings
    pcm24k = corpus(args.seconds)
    print(f"{args.seconds:g} s of audio per run; load {c.load_average()}")
    results = []
    for chunk_ms in (int(x) for x in args.chunk_ms.split(",")):
        for kind in args.formats.split(","):
            result = measure(kind, pcm24k, chunk_ms, args.repeats, not args.no_deflate)
            print_table(result)
            results.append(result)
    path = c.save_results("audio_path", {"settings": vars(args), "results": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
