"""Start-up a user can read: ``--help``/``--version`` at once, every configuration mistake one
line and a non-zero exit, a busy port before any model loads, the ready line, the model files
verified once, and a session's lines in the log (its id, its end)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline_manager.local import model_files
from pipeline_manager.local.model_files import (
    LLM_FILE,
    PIPER_CONFIG_FILE,
    PIPER_MODEL_FILE,
    WHISPER_FILES,
    ModelChecksumError,
    verify_file,
)
from tests.conftest import ROOT, ServerProcess, free_port, open_client

HEAVY_MODULES = (
    "pipecat",
    "faster_whisper",
    "ctranslate2",
    "llama_cpp",
    "piper",
    "onnxruntime",
    "torch",
    "fastapi",
    "uvicorn",
    "openai",
    "pydantic",
)
QUICK_S = 10.0
"""Generous bound for what takes well under a second on an idle machine (tests share 2 cores)."""


def run_main(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # No provider keys from the developer's environment: the provider cases expect none.
    base = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    base = {k: v for k, v in base.items() if not k.startswith("REALTIME_")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], expected: str, status: int) -> None:
    """Exit status ``status``, no traceback, and stderr's last line is the error, ``expected``
    in it."""
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == status, output
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("main.py: error: "), output
    assert expected in last, output


# --- --help and --version ------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_answer_at_once_without_heavy_imports(flag: str) -> None:
    started = time.monotonic()
    done = run_main("-X", "importtime", "main.py", flag)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < QUICK_S
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert imported, "no -X importtime report"
    assert not imported & set(HEAVY_MODULES), sorted(imported & set(HEAVY_MODULES))
    if flag == "--version":
        assert re.fullmatch(r"realtime-voice-server \d+\.\d+\.\d+\S*\n", done.stdout)
    else:
        assert "--profile" in done.stdout and "--port" in done.stdout


# --- configuration mistakes: one line each -------------------------------------------------------

MOCK = ["--profile", "mock", "--port", "0"]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--profile", "nonsense"], {}, "argument --profile: invalid choice: 'nonsense'"),
        (["--port", "99999"], {}, "--port: must be less than or equal to 65535 (got '99999')"),
        (["--port", "http"], {}, "argument --port: invalid int value: 'http'"),
        (
            ["--log-level", "verbose"],
            {},
            "--log-level: must be one of critical, error, warning, info, debug, trace "
            "(got 'verbose')",
        ),
        ([], {"REALTIME_PORT": "abc"}, "REALTIME_PORT: must be a valid integer"),
        ([], {"REALTIME_LOG_LEVEL": "loud"}, "REALTIME_LOG_LEVEL: must be one of critical"),
        (
            [],
            {"REALTIME_MAX_SESSIONS": "0"},
            "REALTIME_MAX_SESSIONS: must be greater than or equal to 1 (got '0')",
        ),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
    ],
)
def test_a_bad_flag_or_variable_is_one_line_before_anything_loads(
    args: list[str], env: dict[str, str], expected: str
) -> None:
    started = time.monotonic()
    done = run_main("main.py", *args, env=env)
    assert_one_line(done, expected, 2)
    assert time.monotonic() - started < QUICK_S


def test_a_secret_setting_is_never_quoted() -> None:
    from pydantic import ValidationError

    from config import Settings
    from startup_errors import settings_error_line

    with pytest.raises(ValidationError) as caught:
        Settings(provider_max_retries="sk-not-a-number")  # type: ignore[arg-type]
    assert "sk-not-a-number" in settings_error_line(caught.value)  # not a secret: quoted
    error = ValidationError.from_exception_data(
        "Settings",
        [
            {
                "type": "string_type",
                "loc": ("llm_api_key",),
                "input": 12345,
            }
        ],
    )
    line = settings_error_line(error)
    assert line.startswith("REALTIME_LLM_API_KEY: must be a valid string") and "12345" not in line


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REALTIME_LLM": "openai"}, "REALTIME_LLM=openai without REALTIME_LLM_BASE_URL"),
        ({"REALTIME_STT": "deepgram"}, "REALTIME_STT=deepgram needs REALTIME_DEEPGRAM_API_KEY"),
        ({"REALTIME_SSL_CERTFILE": "/nonexistent.pem"}, "TLS"),
    ],
)
def test_a_provider_or_tls_mistake_is_one_line(env: dict[str, str], expected: str) -> None:
    if "REALTIME_SSL_CERTFILE" in env:
        env = {**env, "REALTIME_SSL_KEYFILE": "/nonexistent.key"}
    assert_one_line(run_main("main.py", *MOCK, env=env), expected, 2)


def test_a_bad_setting_under_uvicorn_is_one_line_too() -> None:
    done = run_main(
        "-m",
        "uvicorn",
        "main:app",
        "--port",
        str(free_port()),
        env={"REALTIME_MAX_SESSIONS": "0", "REALTIME_PROFILE": "mock"},
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    expected = "REALTIME_MAX_SESSIONS: must be greater than or equal to 1 (got '0')"
    assert any(line.endswith(expected) for line in done.stderr.splitlines()), done.stderr


def fake_model_packages(root: Path, *, with_files: bool) -> dict[str, str]:
    """Packages named like the local profile's model packages, found first on PYTHONPATH: with
    garbage in each model file (a broken install) or with no files at all (an incomplete one)."""
    for model_file in (*WHISPER_FILES, LLM_FILE, PIPER_MODEL_FILE, PIPER_CONFIG_FILE):
        package = root / model_file.package
        package.mkdir(exist_ok=True)
        (package / "__init__.py").touch()
        if with_files:
            path = package / model_file.relative_path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not the model")
    return {"PYTHONPATH": str(root), "XDG_CACHE_HOME": str(root / "cache")}


@pytest.mark.parametrize(
    ("with_files", "expected"),
    [(False, "Model file missing from package"), (True, "Checksum mismatch for model file")],
)
def test_a_broken_model_install_is_one_line(
    tmp_path: Path, with_files: bool, expected: str
) -> None:
    env = fake_model_packages(tmp_path, with_files=with_files)
    done = run_main("main.py", "--profile", "local", "--port", "0", env=env)
    assert_one_line(done, expected, 1)


# --- the port -------------------------------------------------------------------------------------


def test_a_busy_port_is_reported_before_the_models_load() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = run_main("main.py", "--profile", "local", "--port", str(port))
        elapsed = time.monotonic() - started
    assert_one_line(done, f"port {port} on 127.0.0.1 is already in use", 1)
    assert "loading" not in done.stderr
    assert elapsed < QUICK_S


# --- the ready line and a session's lines ---------------------------------------------------------


def test_the_log_says_when_the_server_is_ready_and_where(server: ServerProcess) -> None:
    log = server.log()
    assert re.search(r"\| INFO     \| starting realtime-voice-server \S+ \(process \d+\)", log)
    ready = f"ws://127.0.0.1:{server.port}/v1/realtime (models: gpt-realtime)"
    assert re.search(rf"\| INFO     \| ready in [\d.]+ s: {re.escape(ready)}", log), log
    assert "Traceback" not in log and "ᓚᘏᗢ" not in log  # nor Pipecat's banner


async def test_a_session_ends_with_one_line_naming_it(server: ServerProcess) -> None:
    async with open_client(server.base_url) as client:
        session_id = client.session["id"]
        await client.send({"type": "response.create"})
        await client.wait_for("response.done")
    pattern = (
        rf"\| INFO     \| {session_id} \| session ended after [\d.]+ s, 1 response: "
        r"the connection closed: 1000 \(normal closure\)\n"
    )
    deadline = time.monotonic() + 10
    while not re.search(pattern, server.log()):
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.05)
    started = f"| {session_id} | session started: websocket, model 'gpt-realtime'"
    assert started in server.log()


# --- model files: verified once -------------------------------------------------------------------


@pytest.fixture
def verified_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model_files.VERIFIED.forget()
    yield tmp_path
    model_files.VERIFIED.forget()


def test_a_verified_file_is_not_hashed_again_until_it_changes(
    verified_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = verified_cache / "model.bin"
    path.write_bytes(b"the model")
    digest = model_files.sha256_file(path)
    hashed: list[Path] = []
    real_hash = model_files.sha256_file

    def counting(file: Path) -> str:
        hashed.append(file)
        return real_hash(file)

    monkeypatch.setattr(model_files, "sha256_file", counting)
    verify_file(path, digest)
    model_files.VERIFIED.forget()  # as a new process would: from the file in the cache
    verify_file(path, digest)
    assert len(hashed) == 1
    cache = verified_cache / "cache" / "realtime-voice-server" / "verified-model-files.json"
    assert str(path.resolve()) in cache.read_text()

    # Corrupted in place, its size and modification time put back: still caught.
    stat = path.stat()
    path.write_bytes(b"the mode!")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(ModelChecksumError):
        verify_file(path, digest)
    # Replaced by a different file: caught too.
    path.unlink()
    path.write_bytes(b"the model, longer")
    with pytest.raises(ModelChecksumError):
        verify_file(path, digest)
    assert len(hashed) == 3


def test_a_cache_that_cannot_be_written_only_means_hashing(
    verified_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = verified_cache / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = verified_cache / "model.bin"
    path.write_bytes(b"the model")
    digest = model_files.sha256_file(path)
    verify_file(path, digest)
    verify_file(path, digest)
    with pytest.raises(ModelChecksumError):
        verify_file(path, "0" * 64)
