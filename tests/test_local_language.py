"""The user's language on the local profile, end to end through the SDK (issue 16, part 2).

One real server for the module, local profile (real Whisper base and tiny.en, real Piper and
espeak-ng voices) with the mock LLM, whose reply echoes the transcript ("You said: ..."), so a
Chinese reply is certain and the assertions do not depend on what a 135M-parameter model says.
Two entries: the default voices, and an entry whose only voice is English (a Chinese reply then
has no voice and must fail loudly). The assertions never expect an exact transcript from the
tiny models: Han characters, Simplified, an English word error rate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline_manager.local.reply_language import (
    VoiceMapError,
    parse_voice_map,
    sentence_language,
    voice_language,
)
from pipeline_manager.local.stt_language import base_language
from tests.audio_clips import clip, manifest
from tests.conftest import ServerProcess, open_client
from tests.realtime_client import RealtimeTestClient, audio_of
from tests.test_local_e2e import is_speech, word_error_rate

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
CONFIG = """\
models:
  - name: local-languages
    default: true
    pipeline: {profile: local, llm: mock}
  - name: english-voice-only
    pipeline: {profile: local, llm: mock, local_tts_voices: "en=en_US-joe-medium"}
"""


@pytest.fixture(scope="module")
def language_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    pytest.importorskip("opencc")
    config = tmp_path_factory.mktemp("language") / "models.yaml"
    config.write_text(CONFIG)
    env = {"REALTIME_CONFIG": str(config), "REALTIME_LOG_LEVEL": "debug"}
    process = ServerProcess(env, profile="local")
    yield process
    process.stop()


async def spoken_turn(
    client: RealtimeTestClient, name: str, transcription: dict[str, Any]
) -> list[dict[str, Any]]:
    """Commit one clip as a turn (manual commit), ask for a response, collect to its end."""
    await client.update_session(
        audio={"input": {"turn_detection": None, "transcription": transcription}}
    )
    await client.append_audio(clip(name))
    await client.send({"type": "input_audio_buffer.commit"})
    await client.send({"type": "response.create"})
    return await client.collect_until("response.done", timeout=90)


def transcript_of(events: list[dict[str, Any]]) -> str:
    done = [e for e in events if e["type"].startswith("conversation.item.input_audio_transcr")]
    assert done and done[-1]["type"].endswith(".completed"), done
    transcript: str = done[-1]["transcript"]
    return transcript


def assert_simplified_han(text: str) -> None:
    from pipeline_manager.local.stt_language import to_simplified

    assert len(HAN.findall(text)) >= 4, text
    assert to_simplified(text) == text, f"Traditional characters in {text!r}"


@pytest.mark.local_models
async def test_mandarin_turn_is_transcribed_in_simplified_chinese_and_answered_aloud(
    language_server: ServerProcess,
) -> None:
    async with open_client(language_server.base_url) as client:
        events = await spoken_turn(
            client, "joke_zh_synth.wav", {"model": "whisper-1", "language": "zh"}
        )
    assert_simplified_han(transcript_of(events))
    done = events[-1]["response"]
    assert done["status"] == "completed", done
    reply = done["output"][0]["content"][0]["transcript"]
    assert HAN.search(reply), reply  # the mock LLM's echo: a Chinese reply
    audio = audio_of(events)
    assert len(audio) / 48000 > 1.0, "the Chinese reply was not spoken"
    assert is_speech(audio)


@pytest.mark.local_models
async def test_mandarin_is_detected_when_the_session_sets_no_language(
    language_server: ServerProcess,
) -> None:
    async with open_client(language_server.base_url) as client:
        events = await spoken_turn(client, "dinner_zh_synth.wav", {"model": "whisper-1"})
    assert_simplified_han(transcript_of(events))
    assert events[-1]["response"]["status"] == "completed"


@pytest.mark.local_models
async def test_english_turn_takes_the_english_path(language_server: ServerProcess) -> None:
    async with open_client(language_server.base_url) as client:
        events = await spoken_turn(
            client, "go_forward_human.wav", {"model": "whisper-1", "language": "en"}
        )
    transcript = transcript_of(events)
    assert word_error_rate(manifest()["go_forward_human.wav"]["transcript"], transcript) <= 0.25
    assert "STT: faster-whisper-tiny.en, language en (given" in language_server.log()
    assert events[-1]["response"]["status"] == "completed"
    assert is_speech(audio_of(events))


@pytest.mark.local_models
@pytest.mark.parametrize("name", ["noise_2s.wav", "silence_2s.wav"])
async def test_audio_without_speech_is_not_answered_as_heard(
    language_server: ServerProcess, name: str
) -> None:
    async with open_client(language_server.base_url) as client:
        events = await spoken_turn(client, name, {"model": "whisper-1"})
    failed = [
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.failed"
    ]
    assert failed, [e["type"] for e in events]
    assert "recognised" in failed[0]["error"]["message"]
    done = events[-1]["response"]
    assert done["status"] == "failed" and not done["output"]
    assert done["status_details"]["error"]["code"] == "transcription_failed"
    assert not audio_of(events)


@pytest.mark.local_models
async def test_a_reply_no_voice_can_speak_fails_loudly(language_server: ServerProcess) -> None:
    async with open_client(language_server.base_url, model="english-voice-only") as client:
        events = await spoken_turn(
            client, "joke_zh_synth.wav", {"model": "whisper-1", "language": "zh"}
        )
    done = events[-1]["response"]
    assert done["status"] == "failed", done
    message = done["status_details"]["error"]["message"]
    assert "cannot be spoken" in message and "'zh'" in message, message
    assert not audio_of(events)


# --- the pieces, without models ------------------------------------------------------------------


def test_voice_map_setting() -> None:
    assert parse_voice_map(" en=en_US-joe-medium , zh=espeak:cmn-latn-pinyin ") == {
        "en": "en_US-joe-medium",
        "zh": "espeak:cmn-latn-pinyin",
    }
    assert parse_voice_map("") == {}
    for bad in ("en", "english=x", "en=a,en=b", "=x"):
        with pytest.raises(VoiceMapError):
            parse_voice_map(bad)


def test_a_sentence_goes_to_the_voice_of_its_script() -> None:
    voices = {"en": 1, "zh": 2}
    assert sentence_language("你好，今天天气怎么样？") == "zh"
    assert sentence_language("You said: 请给我看一个小话") == "zh"
    assert sentence_language("Hello, 你好!") is None  # mostly Latin
    assert sentence_language("こんにちは、元気ですか") == "ja"
    assert voice_language("Hello there.", voices) == "en"
    assert voice_language("谢谢。", voices) == "zh"
    assert voice_language("Привет!", voices) is None
    assert voice_language("Bonjour.", {"fr": 1}) == "fr"


def test_transcription_languages_are_whisper_codes() -> None:
    assert base_language("zh-CN") == "zh"
    assert base_language("en_US") == "en"
    assert base_language(" ") is None
    assert base_language(None) is None


def test_the_joined_base_model_is_verified_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("faster_whisper")
    from pipeline_manager.local import packaged_whisper
    from pipeline_manager.local.model_files import ModelNotFoundError

    try:
        first = packaged_whisper.joined_base_dir(tmp_path)
    except ModelNotFoundError:
        pytest.skip("the Whisper base packages are not installed")
    assert sorted(p.name for p in first.iterdir() if not p.name.startswith(".")) == [
        "config.json",
        "model.bin",
        "model.bin.verified.json",
        "tokenizer.json",
        "vocabulary.json",
    ]

    def no_join(*_args: Any) -> None:
        raise AssertionError("joined again although the file is unchanged")

    monkeypatch.setattr(packaged_whisper, "_join", no_join)
    assert packaged_whisper.joined_base_dir(tmp_path) == first  # size and mtime match
    model_bin = first / "model.bin"
    with model_bin.open("r+b") as f:  # same size, new mtime: not trusted any more
        f.write(b"\0")
    monkeypatch.undo()
    packaged_whisper.joined_base_dir(tmp_path)
    assert packaged_whisper.sha256_file(model_bin) == packaged_whisper.BASE_MODEL_BIN_SHA256
