"""The local profile's offline models (pipeline_manager.local), run for real.

The models load once for the module (about 3 s, ~550 MiB RSS); the whole file takes about
10 s on 2 cores. Network connections to anything but loopback fail while these tests run, so
a model that tries to download something fails the test instead of silently succeeding.
Skipped when the local requirements (requirements-local.txt) are not installed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

for _module in ("faster_whisper", "llama_cpp", "piper", "soxr"):
    pytest.importorskip(_module)

import soxr  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import LLMUsageMetricsData  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.tests.utils import SleepFrame, run_test  # noqa: E402
from pipecat.transcriptions.language import Language  # noqa: E402

from pipeline_manager.llm_request import llm_context  # noqa: E402
from pipeline_manager.local.models import (  # noqa: E402
    LocalModels,
    ModelChecksumError,
    get_local_models,
    verify_file,
)
from pipeline_manager.local.services import (  # noqa: E402
    LlamaCppLLMService,
    create_llm,
    create_stt,
    create_tts,
)
from pipeline_manager.processors import ReplyCap, ReplyCapFrame  # noqa: E402
from realtime_session.llm_context import LLMRequest  # noqa: E402
from tests.audio_clips import clip, manifest  # noqa: E402

pytestmark = pytest.mark.local_models

# Whisper writes numbers as digits ("10 meters"); the manifest spells them out.
_NUMBER_WORDS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
    "7": "seven", "8": "eight", "9": "nine", "10": "ten", "11": "eleven", "12": "twelve",
    "20": "twenty", "100": "hundred",
}  # fmt: skip


def _words(text: str) -> list[str]:
    words = re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()
    return [_NUMBER_WORDS.get(w, w) for w in words]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance divided by the reference length."""
    ref, hyp = _words(reference), _words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="module")
def no_network() -> Iterator[list[Any]]:
    """Refuse (and record) outgoing non-loopback connections while this module runs."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(sock: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            attempts.append(address)
            raise OSError(f"network disabled in test_local_models: {address}")
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            attempts.append(address)
            return 111  # ECONNREFUSED
        return real_connect_ex(sock, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        yield attempts


@pytest.fixture(scope="module")
def models(no_network: list[Any]) -> LocalModels:
    """The process-wide local models, loaded once, with the network disabled."""
    loaded = get_local_models()
    assert not no_network, f"loading tried to reach the network: {no_network}"
    return loaded


def _read_clip(name: str) -> tuple[np.ndarray, int]:
    return np.frombuffer(clip(name), dtype=np.int16), 24000  # clip() checks 24 kHz mono


def test_checksum_mismatch_raises(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"not the model")
    with pytest.raises(ModelChecksumError, match="Checksum mismatch"):
        verify_file(path, "0" * 64)


def test_services_share_the_model_objects(models: LocalModels) -> None:
    assert get_local_models() is models
    stt_a, stt_b = create_stt(models), create_stt(models)
    llm_a, llm_b = create_llm(models), create_llm(models)
    tts_a, tts_b = create_tts(models), create_tts(models)
    assert stt_a is not stt_b and llm_a is not llm_b and tts_a is not tts_b
    assert stt_a._model is stt_b._model is models.whisper
    assert stt_a._english_model is stt_b._english_model is models.whisper_model("tiny.en")[0]
    assert llm_a.llm is llm_b.llm is models.llm
    assert tts_a.voices["en"] is tts_b.voices["en"]
    assert tts_a.voices["zh"] is tts_b.voices["zh"]
    assert tts_a.voices["en"].voice is models.piper  # type: ignore[attr-defined]


def test_the_main_model_is_multilingual_with_an_english_fast_path(models: LocalModels) -> None:
    assert models.whisper_multilingual  # the packaged base
    assert not models.whisper_model("tiny.en")[0].model.is_multilingual
    stt = create_stt(models, language=Language.EN)
    assert stt._choose_model() == models.whisper_model("tiny.en")
    stt.configure_transcription("fr-FR", None)
    assert stt._choose_model() == (models.whisper, models.whisper_name)


@pytest.mark.asyncio
@pytest.mark.parametrize("pipeline_rate", [16000, 24000])
async def test_stt_transcribes_speech(models: LocalModels, pipeline_rate: int) -> None:
    """At 24 kHz this also checks that the service resamples to Whisper's 16 kHz."""
    pcm, rate = _read_clip("go_forward_human.wav")
    pcm = soxr.resample(pcm, rate, pipeline_rate)
    chunk = pipeline_rate // 50  # 20 ms frames, as a transport would send them
    audio_frames = [
        InputAudioRawFrame(audio=pcm[i : i + chunk].tobytes(), sample_rate=pipeline_rate,
                           num_channels=1)
        for i in range(0, len(pcm), chunk)
    ]  # fmt: skip
    down, _ = await run_test(
        create_stt(models),
        frames_to_send=[
            VADUserStartedSpeakingFrame(),
            *audio_frames,
            VADUserStoppedSpeakingFrame(),
        ],
        pipeline_params=PipelineParams(audio_in_sample_rate=pipeline_rate),
    )
    text = " ".join(f.text for f in down if isinstance(f, TranscriptionFrame))
    reference = manifest()["go_forward_human.wav"]
    wer = word_error_rate(reference["transcript"], text)
    assert wer <= 0.25, f"WER {wer:.0%}: {text!r} vs {reference['transcript']!r}"


async def _max_loop_lag(stop: asyncio.Event) -> float:
    """Largest delay of a 10 ms sleep on the event loop until ``stop`` is set."""
    worst = 0.0
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - before - 0.01)
    return worst


@pytest.mark.asyncio
async def test_llm_streams_text_off_the_event_loop(models: LocalModels) -> None:
    llm = create_llm(models, settings=LlamaCppLLMService.Settings(max_tokens=48))
    context = LLMContext(
        messages=[{"role": "user", "content": "Describe your favourite city in a few sentences."}]
    )
    stop = asyncio.Event()
    lag = asyncio.create_task(_max_loop_lag(stop))
    down, _ = await run_test(llm, frames_to_send=[LLMContextFrame(context)])
    stop.set()
    kinds = [type(f) for f in down]
    assert LLMFullResponseStartFrame in kinds and LLMFullResponseEndFrame in kinds
    start, end = kinds.index(LLMFullResponseStartFrame), kinds.index(LLMFullResponseEndFrame)
    texts = [f.text for f in down[start:end] if isinstance(f, LLMTextFrame)]
    assert "".join(texts).strip(), "the LLM produced no text"
    assert len(texts) <= 48
    # Generation (~0.5 s for 48 tokens) runs in the llama worker thread, so the event loop,
    # which carries every session's audio, keeps running meanwhile.
    assert await lag < 0.25


@pytest.mark.asyncio
async def test_llm_interruption_stops_generation(models: LocalModels) -> None:
    llm = create_llm(models, settings=LlamaCppLLMService.Settings(max_tokens=1000))
    context = LLMContext(
        messages=[{"role": "user", "content": "Write a very long story about a dragon."}]
    )
    started = time.perf_counter()
    down, _ = await run_test(
        llm, frames_to_send=[LLMContextFrame(context), SleepFrame(0.3), InterruptionFrame()]
    )
    # The worker thread must have stopped and released the shared model promptly: it
    # would otherwise hold it for the ~8 s that 1000 tokens take.
    acquired = await asyncio.to_thread(models.llm_lock.acquire, timeout=1.0)
    assert acquired, "the llama.cpp worker kept the model after the interruption"
    models.llm_lock.release()
    assert time.perf_counter() - started < 5.0
    assert sum(isinstance(f, LLMTextFrame) for f in down) < 500


@pytest.mark.asyncio
async def test_tts_produces_speech(models: LocalModels) -> None:
    assert models.piper_sample_rate == 22050
    down, _ = await run_test(
        create_tts(models),
        frames_to_send=[TTSSpeakFrame("Hello there.")],
        pipeline_params=PipelineParams(audio_out_sample_rate=24000),
    )
    audio_frames = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio_frames, "no audio"
    assert {f.sample_rate for f in audio_frames} == {24000}  # resampled from 22.05 kHz
    samples = np.frombuffer(b"".join(f.audio for f in audio_frames), dtype=np.int16)
    seconds = len(samples) / 24000
    assert 0.3 < seconds < 3.0, seconds
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    assert rms > 300, f"audio is (nearly) silent: RMS {rms:.0f}"


# --- safe demo defaults on the real LLM (realtime_session/reply_policy.py) ---------------------

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


async def _answer(llm: LlamaCppLLMService, text: str, tool_choice: Any) -> tuple[list[Any], str]:
    """The function calls and the text of the LLM's answer to ``text`` with the weather tool."""
    calls: list[Any] = []

    async def started(_service: Any, function_calls: list[Any]) -> None:
        calls.extend(function_calls)

    async def client_runs_it(params: Any) -> None:
        await params.result_callback(None)

    llm.register_function(None, client_runs_it)
    llm.add_event_handler("on_function_calls_started", started)
    request = LLMRequest(
        messages=[{"role": "user", "content": text}],
        tools=[WEATHER_TOOL],
        tool_choice=tool_choice,
        max_output_tokens="inf",
        modalities=("audio",),
        voice="alloy",
    )
    down, _ = await run_test(llm, frames_to_send=[LLMContextFrame(llm_context(request))])
    return calls, "".join(f.text for f in down if isinstance(f, LLMTextFrame))


@pytest.mark.asyncio
async def test_llm_calls_tools_only_when_told_to(models: LocalModels) -> None:
    """SmolLM2-135M cannot tell when a tool is needed (docs/protocol.md §6), so it is ``forced``:
    a named tool_choice gets a well-formed call with the user's argument, ``auto`` words."""
    assert create_llm(models).tool_calling == "forced"
    question = "What is the weather in Paris?"
    named = {"type": "function", "name": "get_weather"}
    calls, text = await _answer(create_llm(models), question, named)
    assert [call.function_name for call in calls] == ["get_weather"], text
    assert "paris" in str(calls[0].arguments.get("city", "")).lower(), calls[0].arguments
    calls, text = await _answer(create_llm(models), question, "auto")
    assert not calls and text.strip()


@pytest.mark.asyncio
async def test_a_capped_reply_of_the_llm_ends_at_a_sentence(models: LocalModels) -> None:
    settings = LlamaCppLLMService.Settings(seed=7, max_tokens=400)
    llm = create_llm(models, settings=settings)
    context = LLMContext(
        messages=[{"role": "user", "content": "Tell me the whole history of Rome in detail."}]
    )
    down, _ = await run_test(
        Pipeline([llm, ReplyCap(llm.stop_generation)]),
        frames_to_send=[ReplyCapFrame(40), LLMContextFrame(context)],
        pipeline_params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
    )
    text = "".join(f.text for f in down if isinstance(f, LLMTextFrame))
    assert text.strip(), "the LLM produced no text"
    assert re.search(r"""[.!?]["')]*$""", text), f"not cut at a sentence end: {text!r}"
    assert len(_words(text)) <= 40  # at most 40 tokens
    # The LLM stopped at the cap (within a token or two) instead of writing all 400 tokens.
    usage = [
        data.value
        for frame in down
        if isinstance(frame, MetricsFrame)
        for data in frame.data
        if isinstance(data, LLMUsageMetricsData)
    ]
    assert usage and usage[-1].completion_tokens <= 42, usage


def test_a_voice_that_cannot_load_is_named_in_the_error_of_its_replies(
    models: LocalModels,
) -> None:
    from pipeline_manager.local.model_files import LocalModelError

    spec = "en=en_US-joe-medium,zh=espeak:nonexistent"
    with pytest.raises(LocalModelError, match="nonexistent"):
        models.load_voice_map(spec, lenient=False)
    with pytest.raises(LocalModelError, match="refused"):
        models.load_voice_map("zh=espeak:cmn", lenient=False)  # reads tone digits in English
    available, unavailable = models.load_voice_map(spec, lenient=True)
    assert available == {"en": "en_US-joe-medium"} and set(unavailable) == {"zh"}


@pytest.mark.asyncio
async def test_tts_speaks_mandarin_or_says_why_it_cannot(models: LocalModels) -> None:
    from pipecat.frames.frames import ErrorFrame

    params = PipelineParams(audio_out_sample_rate=24000)
    down, _ = await run_test(
        create_tts(models), frames_to_send=[TTSSpeakFrame("你好，今天天气很好。")],
        pipeline_params=params,
    )  # fmt: skip
    samples = np.frombuffer(
        b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame)), dtype=np.int16
    )
    assert len(samples) / 24000 > 1.0, "the Mandarin sentence was not spoken"
    tts = create_tts(
        models, voices={"en": "en_US-joe-medium"}, unavailable={"zh": "espeak:x is unavailable"}
    )
    down, up = await run_test(tts, frames_to_send=[TTSSpeakFrame("谢谢。")], pipeline_params=params)
    assert not [f for f in down if isinstance(f, TTSAudioRawFrame)]
    errors = [f.error for f in up if isinstance(f, ErrorFrame)]
    assert errors and "the 'zh' voice espeak:x is unavailable" in errors[0], errors
