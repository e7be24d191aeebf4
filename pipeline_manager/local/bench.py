"""Measure the local models on this machine: ``python -m pipeline_manager.local.bench [wav]``.

Reports each model's load time, resident memory after loading, Whisper's real-time factor
on a clip, llama.cpp's time to first token and tokens per second, and Piper's time for a
10-word sentence. The numbers are medians over a few runs; other processes on the machine
skew them (on 2 cores one busy neighbour halves the LLM's speed).

``--languages`` measures instead what the user's language costs: each clip of
tests/fixtures/audio transcribed as the STT service does, by tiny.en (a session whose language
is ``en``), by base with the language given, and by base detecting it (no language set), in
CPU-seconds (all threads) and wall time per utterance.
"""

from __future__ import annotations

import argparse
import statistics
import time
import wave
from pathlib import Path

import numpy as np

from .llama_worker import stream_chat
from .models import LocalModels, LocalModelsConfig, _vm_rss_mib

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "docs" / "samples" / "go_forward.wav"
TEN_WORDS = "The quick brown fox jumps over the lazy dog today."
PROMPTS = (
    "Hi! What is the capital of France?",
    "Give me one tip for sleeping better.",
    "Tell me something interesting about the ocean.",
)


def bench_stt(models: LocalModels, clip: Path, runs: int = 5) -> dict[str, float]:
    """Transcribe ``clip`` (mono PCM16 WAV, any rate) as the STT service does."""
    import soxr

    with wave.open(str(clip)) as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    audio = soxr.resample(pcm, rate, 16000).astype(np.float32) / 32768.0
    duration = len(pcm) / rate
    times = []
    text = ""
    for _ in range(runs):
        t0 = time.perf_counter()
        segments, _ = models.whisper.transcribe(audio, language="en", beam_size=1)
        text = "".join(s.text for s in segments)
        times.append(time.perf_counter() - t0)
    secs = statistics.median(times)
    print(f"STT  {clip.name} ({duration:.2f}s): {secs * 1000:.0f} ms, RTF {secs / duration:.3f}")
    print(f"     transcript: {text.strip()!r}")
    return {"stt_secs": secs, "stt_rtf": secs / duration}


def bench_llm(models: LocalModels, max_tokens: int = 128) -> dict[str, float]:
    """Stream completions with the service's default sampling settings."""
    ttfts, rates = [], []
    for prompt in PROMPTS:
        with models.llm_lock:
            t0 = time.perf_counter()
            first = None
            n = 0
            for chunk in stream_chat(
                models.llm,
                [{"role": "user", "content": prompt}],
                temperature=0.2,
                repeat_penalty=1.3,
                max_tokens=max_tokens,
            ):
                if chunk["choices"][0]["delta"].get("content"):
                    n += 1
                    if first is None:
                        first = time.perf_counter()
            end = time.perf_counter()
        if first is None:
            continue
        ttfts.append(first - t0)
        if n > 1:
            rates.append((n - 1) / (end - first))
        print(f"LLM  {n:3d} tokens, first {(first - t0) * 1000:.0f} ms, {rates[-1]:.0f} tok/s")
    result = {"llm_ttft_secs": statistics.median(ttfts), "llm_tok_per_s": statistics.median(rates)}
    print(
        f"LLM  median: first token {result['llm_ttft_secs'] * 1000:.0f} ms, "
        f"{result['llm_tok_per_s']:.0f} tok/s"
    )
    return result


def bench_tts(models: LocalModels, runs: int = 5) -> dict[str, float]:
    """Synthesise a 10-word sentence."""
    times, firsts = [], []
    samples = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        first = None
        samples = 0
        for chunk in models.piper.synthesize(TEN_WORDS):
            first = first or time.perf_counter()
            samples += len(chunk.audio_int16_array)
        times.append(time.perf_counter() - t0)
        firsts.append((first or time.perf_counter()) - t0)
    secs = statistics.median(times)
    audio_secs = samples / models.piper_sample_rate
    print(
        f"TTS  10 words -> {audio_secs:.2f}s audio in {secs * 1000:.0f} ms "
        f"(RTF {secs / audio_secs:.3f}, first chunk {statistics.median(firsts) * 1000:.0f} ms)"
    )
    return {"tts_secs": secs, "tts_rtf": secs / audio_secs}


LANGUAGE_CLIPS = {
    "go_forward_human.wav": "en",
    "austen_human.wav": "en",
    "hello_joke_synth.wav": "en",
    "joke_zh_synth.wav": "zh",
    "dinner_zh_synth.wav": "zh",
    "weather_zh_synth.wav": "zh",
    "noise_2s.wav": "en",
    "silence_2s.wav": "en",
}


def bench_stt_languages(models: LocalModels, runs: int = 3) -> None:
    """CPU-seconds and wall time per utterance of the three STT routes (median of ``runs``)."""
    import soxr

    from .stt_language import transcribe, unsure_reason

    clips = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "audio"
    tiny, tiny_name = models.whisper_model("tiny.en")
    routes = {
        "tiny.en": (tiny, tiny_name, True),
        "base fixed": (models.whisper, models.whisper_name, True),
        "base detect": (models.whisper, models.whisper_name, False),
    }
    totals: dict[str, list[float]] = {route: [] for route in routes}
    for name, language in LANGUAGE_CLIPS.items():
        with wave.open(str(clips / name)) as wav:
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        audio = soxr.resample(pcm, rate, 16000).astype(np.float32) / 32768.0
        for route, (model, label, fixed) in routes.items():
            cpu, wall = [], []
            for _ in range(runs):
                c0, w0 = time.process_time(), time.perf_counter()
                result = transcribe(
                    model,
                    audio,
                    model_name=label,
                    language=language if fixed else None,
                    candidates=("en", "zh"),
                )
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
            totals[route].append(statistics.median(cpu))
            verdict = unsure_reason(result)
            print(
                f"STT  {name:22s} {route:11s} {statistics.median(cpu):5.2f} CPU-s "
                f"{statistics.median(wall):5.2f} s wall  {result.language} "
                f"p={result.language_probability:.2f} lp={result.avg_logprob:.2f} "
                f"{'REFUSED' if verdict else repr(result.text)}"
            )
    for route, cpus in totals.items():
        print(f"STT  {route:11s} median {statistics.median(cpus):.2f} CPU-s per utterance")


def main() -> None:
    """Load the models and print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--llm-threads", type=int, default=LocalModelsConfig.llm_n_threads)
    parser.add_argument("--languages", action="store_true", help="the STT language routes only")
    args = parser.parse_args()

    rss_before = _vm_rss_mib() or 0.0
    models = LocalModels.load(LocalModelsConfig(llm_n_threads=args.llm_threads))
    rss_after = _vm_rss_mib() or 0.0
    for name, secs in models.load_times.items():
        print(f"load {name:8s} {secs:.2f}s")
    print(f"RSS  {rss_after:.0f} MiB after loading (+{rss_after - rss_before:.0f} MiB)")
    if args.languages:
        bench_stt_languages(models)
        models.close()
        return
    bench_stt(models, args.clip)
    bench_llm(models)
    bench_tts(models)
    print(f"RSS  {_vm_rss_mib() or 0.0:.0f} MiB after the benchmarks")
    models.close()


if __name__ == "__main__":
    main()
