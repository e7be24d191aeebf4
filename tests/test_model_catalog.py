"""The model list (``--config``): its file format and one-line errors, the catalog it builds, and
live mock servers serving several models side by side (``model_catalog/``, README "Several
models")."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from config import Settings
from model_catalog import (
    CatalogConfigError,
    ModelCatalog,
    ModelEntry,
    PipelineSpec,
    RelaySpec,
    layered_session,
    load_catalog_config,
)
from model_catalog import catalog as catalog_module
from relay.session import RelaySession
from tests.conftest import ROOT, ServerProcess, free_port, open_client
from tests.realtime_client import validate_server_event
from tests.webrtc_client import WebRTCTestClient
from transport.session_parts import open_session, requested_model

pytestmark = pytest.mark.timeout(90)

WAIT_S = 10.0
EXAMPLE = ROOT / "docs" / "models.example.yaml"


def write(tmp_path: Path, text: str, name: str = "models.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def mock_settings(**values: Any) -> Settings:
    """The server's settings in the mock profile (and ``values``)."""
    return Settings(**{"profile": "mock", **values})


# ------------------------------------------------------------------------------------------------
# The file: one line naming the file, the entry and the field
# ------------------------------------------------------------------------------------------------

BAD_FILES = [
    pytest.param(
        "models:\n  - {name: a, pipeline: {}}\n"
        "  - name: gpt-realtime-openai\n    relay: {provider: opneai, api_key_env: HOME}\n",
        "models[1] 'gpt-realtime-openai': relay.provider: must be one of openai, azure, glm, "
        "realtime (got 'opneai')",
        id="bad-provider",
    ),
    pytest.param(
        "models:\n  - {name: a, pipeline: {llm_api_key: sk-secret}}\n",
        "models[0] 'a': pipeline.llm_api_key: secrets are not written in the config file: put the "
        "key in an environment variable and name it with llm_api_key_env: VARIABLE_NAME",
        id="literal-secret",
    ),
    pytest.param(
        "models:\n  - {name: r, relay: {provider: realtime, url: 'ws://x/v1/realtime', "
        "api_key: sk-secret}}\n",
        "models[0] 'r': relay.api_key: secrets are not written in the config file",
        id="literal-relay-secret",
    ),
    pytest.param(
        "models:\n  - {name: r, relay: {provider: openai, api_key_env: CATALOG_TEST_UNSET}}\n",
        "models[0] 'r': relay.api_key_env: the environment variable CATALOG_TEST_UNSET is not set",
        id="unset-env-var",
    ),
    pytest.param(
        "models:\n  - {name: a, pipeline: {stt_api_key_env: CATALOG_TEST_UNSET}}\n",
        "models[0] 'a': pipeline.stt_api_key_env: the environment variable CATALOG_TEST_UNSET",
        id="unset-pipeline-env-var",
    ),
    pytest.param(
        "models:\n  - {name: a, pipeline: {}}\n  - {name: a, pipeline: {}}\n",
        "models[1] 'a': name: 'a' is already the name of models[0]",
        id="duplicate-names",
    ),
    pytest.param(
        "models:\n  - {name: a, default: true, pipeline: {}}\n"
        "  - {name: b, default: true, pipeline: {}}\n",
        "models[1] 'b': default: models[0] is already the default",
        id="two-defaults",
    ),
    pytest.param(
        "models:\n  - {name: a, pipeline: {sst: mock}}\n",
        "models[0] 'a': pipeline.sst: unknown field (did you mean 'stt'?)",
        id="unknown-field",
    ),
    pytest.param(
        "models:\n  - {name: a, pipline: {}}\n",
        "models[0] 'a': pipline: unknown field (did you mean 'pipeline'?)",
        id="unknown-entry-field",
    ),
    pytest.param(
        "models:\n  - {name: a}\n",
        "models[0] 'a': give exactly one of 'pipeline' and 'relay'",
        id="neither-kind",
    ),
    pytest.param(
        "models:\n  - {name: a, pipeline: {}, relay: {provider: openai, api_key_env: HOME}}\n",
        "models[0] 'a': give exactly one of 'pipeline' and 'relay'",
        id="both-kinds",
    ),
    pytest.param(
        "models:\n  - {name: az, relay: {provider: azure, api_key_env: HOME}}\n",
        "models[0] 'az': relay.url: required for provider 'azure'",
        id="azure-without-url",
    ),
    pytest.param(
        "models:\n  - {name: o, relay: {provider: openai}}\n",
        "models[0] 'o': relay.api_key_env: required for provider 'openai'",
        id="openai-without-key",
    ),
    pytest.param(
        "models:\n  - {name: r, relay: {provider: realtime, url: 'https://x/v1/realtime'}}\n",
        "models[0] 'r': relay.url: must be a ws:// or wss:// URL (got 'https://x/v1/realtime')",
        id="relay-url-scheme",
    ),
    pytest.param(
        "models:\n  - {name: r, relay: {provider: realtime, url: 'ws://x', "
        "headers: {Authorization: Bearer sk}}}\n",
        "models[0] 'r': relay.headers: the Authorization header carries a secret",
        id="secret-header",
    ),
    pytest.param(
        "models:\n  - {name: a, pipeline: {provider_timeout_s: -1}}\n",
        "models[0] 'a': pipeline.provider_timeout_s: must be greater than 0 (got -1)",
        id="out-of-range",
    ),
    pytest.param(
        "models:\n  - {name: a, pipeline: {profile: loco}}\n",
        "models[0] 'a': pipeline.profile: must be one of mock, local (got 'loco')",
        id="bad-profile",
    ),
    pytest.param(
        "models:\n  - {pipeline: {}}\n",
        "models[0]: name: required",
        id="no-name",
    ),
    pytest.param("models: []\n", "models: list at least one model", id="no-models"),
    pytest.param(
        "- just a list\n",
        "expected a mapping with a 'models' list",
        id="not-a-mapping",
    ),
    pytest.param(
        "models:\n  - name: a\n   pipeline: {}\n",
        "line 3, column 4: YAML: ",
        id="yaml-syntax",
    ),
    pytest.param(
        "models:\n  - name: a\n    pipeline: {}\n    pipeline: {profile: mock}\n",
        "line 4, column 5: YAML: the key 'pipeline' appears twice in one mapping",
        id="yaml-duplicate-key",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_a_bad_file_is_one_line_naming_entry_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.delenv("CATALOG_TEST_UNSET", raising=False)
    path = write(tmp_path, text)
    with pytest.raises(CatalogConfigError) as failure:
        load_catalog_config(path)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(CatalogConfigError, match=re.escape(f"{path}: cannot read it: ")):
        load_catalog_config(path)


def test_several_problems_are_still_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "models:\n  - {name: a, pipeline: {sst: x, tss: y, lm: z}}\n")
    with pytest.raises(CatalogConfigError) as failure:
        load_catalog_config(path)
    assert str(failure.value).endswith("(and 2 more problems)")
    assert "\n" not in str(failure.value)


def test_relay_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "models:\n"
        "  - {name: o, relay: {provider: openai, api_key_env: HOME}}\n"
        "  - {name: g, relay: {provider: glm, api_key_env: HOME, model: glm-realtime}}\n"
        "  - {name: r, relay: {provider: realtime, url: 'ws://127.0.0.1:9/v1/realtime'}}\n",
    )
    openai, glm, other = (spec.relay for spec in load_catalog_config(path).models)
    assert openai is not None and glm is not None and other is not None
    assert (openai.url, openai.model) == ("wss://api.openai.com/v1/realtime", "o")
    assert (glm.url, glm.model) == ("wss://open.bigmodel.cn/api/paas/v4/realtime", "glm-realtime")
    assert (other.api_key_env, other.dialect, other.connect_timeout_s) == (None, None, 10.0)


def test_pipeline_bounds_are_the_settings_bounds() -> None:
    """A value the env var would refuse is refused in the file too, and the other way round."""
    for name, field in PipelineSpec.model_fields.items():
        if name in Settings.model_fields and not field.exclude:
            assert field.metadata == Settings.model_fields[name].metadata, name


def test_an_entry_changes_only_what_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_TEST_LLM_KEY", "sk-from-env")
    spec = PipelineSpec.model_validate(
        {
            "llm": "OpenAI",
            "llm_model": "m",
            "llm_api_key_env": "CATALOG_TEST_LLM_KEY",
            "response_timeout_s": 5,
            "voice": "verse",
            "instructions": "Be brief.",
        }
    )
    assert spec.settings_update() == {
        "llm": "openai",
        "llm_model": "m",
        "llm_api_key": "sk-from-env",
        "response_timeout_s": 5.0,
    }
    assert spec.session_defaults() == {
        "instructions": "Be brief.",
        "audio": {"output": {"voice": "verse"}},
    }


def test_the_documented_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    monkeypatch.setenv("ZHIPU_API_KEY", "zhipu.key")
    config = load_catalog_config(EXAMPLE)
    names = [spec.name for spec in config.models]
    assert names == [
        "gpt-realtime",
        "gpt-realtime-mock",
        "gpt-realtime-openai",
        "gpt-realtime-azure",
        "glm-realtime",
    ]
    kinds = [spec.relay.provider if spec.relay else "pipeline" for spec in config.models]
    assert kinds == ["pipeline", "pipeline", "openai", "azure", "glm"]
    # The README shows the same file.
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("## Several models", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    example = EXAMPLE.read_text()
    assert shown in example


# ------------------------------------------------------------------------------------------------
# The catalog
# ------------------------------------------------------------------------------------------------


def test_without_a_file_one_default_pipeline_serves_every_name() -> None:
    settings = mock_settings(model_name="my-model")
    catalog = ModelCatalog.from_settings(settings)
    (entry,) = catalog.entries
    assert (entry.name, entry.default, entry.kind) == ("my-model", True, "pipeline")
    assert entry.settings is settings
    assert entry.session_defaults == {}
    assert catalog.resolve("anything") is entry
    assert catalog.resolve(None) is entry
    assert catalog.resolve("") is entry


def test_resolving_without_a_default(tmp_path: Path) -> None:
    path = write(tmp_path, "models:\n  - {name: a, pipeline: {}}\n  - {name: b, pipeline: {}}\n")
    catalog = ModelCatalog.from_settings(mock_settings(config=str(path)))
    a, b = catalog.entries
    assert catalog.resolve("a") is a and catalog.resolve("b") is b
    assert catalog.resolve("c") is None
    assert catalog.resolve(None) is None
    assert catalog.default_name() == "a"
    refusal = catalog.invalid_model("c").to_event()["error"]
    assert refusal["code"] == "invalid_model"
    assert refusal["type"] == "invalid_request_error"
    assert refusal["message"].startswith('Model "c" not found.')


def test_entries_with_the_same_stages_share_one_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Settings] = []
    real = catalog_module.create_service_factory

    def counting(settings: Settings) -> Any:
        made.append(settings)
        return real(settings)

    monkeypatch.setattr(catalog_module, "create_service_factory", counting)
    path = write(
        tmp_path,
        "models:\n"
        "  - {name: a, pipeline: {}}\n"
        "  - {name: b, pipeline: {response_timeout_s: 5, instructions: Hi., voice: verse}}\n"
        "  - {name: c, pipeline: {mock_token_delay_ms: 5}}\n"
        "  - {name: r, relay: {provider: realtime, url: 'ws://127.0.0.1:9/v1/realtime'}}\n",
    )
    catalog = ModelCatalog.from_settings(mock_settings(config=str(path)))
    a, b, c, r = catalog.entries
    assert len(made) == 2
    assert a.services is b.services
    assert c.services is not a.services
    assert r.services is None and r.relay is not None
    # Each entry still has its own settings.
    assert (a.settings.response_timeout_s, b.settings.response_timeout_s) == (60.0, 5.0)
    assert (a.settings.model_name, b.settings.model_name) == ("a", "b")
    assert c.settings.mock_token_delay_ms == 5.0
    assert b.session_defaults == {"instructions": "Hi.", "audio": {"output": {"voice": "verse"}}}


def test_two_local_entries_load_the_local_models_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline_manager.local import models as local_models
    from pipeline_manager.local.reply_language import DEFAULT_TTS_VOICES

    loads: list[object] = []

    def fake_load(config: object = None, **_: object) -> Any:
        loads.append(config)
        return SimpleNamespace(
            whisper_name="w",
            llm_name="l",
            piper_voice_name="p",
            whisper=SimpleNamespace(supported_languages=["en", "zh"]),
            whisper_multilingual=True,
            whisper_model=lambda reference: (None, reference),
            config=SimpleNamespace(tts_voices=DEFAULT_TTS_VOICES),
            voice_map={"en": "en_US-joe-medium"},
            unavailable_voices={},
            speaker=lambda reference: SimpleNamespace(name=reference),
        )

    monkeypatch.setattr(local_models, "_shared", {})
    monkeypatch.setattr(local_models.LocalModels, "load", staticmethod(fake_load))
    path = write(
        tmp_path,
        "models:\n"
        "  - {name: one, pipeline: {profile: local}}\n"
        "  - {name: two, pipeline: {profile: local, instructions: Other.}}\n"
        "  - {name: three, pipeline: {profile: local, llm: mock}}\n",
    )
    catalog = ModelCatalog.from_settings(mock_settings(config=str(path)))
    one, two, three = catalog.entries
    assert one.services is two.services
    assert three.services is not one.services
    assert len(loads) == 1  # three entries, two factories, the models once


def test_a_provider_error_names_the_entry(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "models:\n  - {name: fine, pipeline: {}}\n"
        "  - {name: broken, pipeline: {llm: openai, llm_base_url: 'http://127.0.0.1:9/v1'}}\n",
    )
    with pytest.raises(CatalogConfigError) as failure:
        ModelCatalog.from_settings(mock_settings(config=str(path)))
    assert str(failure.value) == (
        f"{path}: models[1] 'broken': pipeline: llm_base_url is set (http://127.0.0.1:9/v1) but "
        "llm_model is not: set it to a model that server serves"
    )


def test_an_entry_counts_sessions_usage_and_upstream() -> None:
    pipeline = ModelCatalog.from_settings(mock_settings()).entries[0]
    entry = ModelEntry("r", mock_settings(), relay=a_relay(), max_sessions=2)
    assert entry.try_open() and entry.try_open()
    assert not entry.try_open()
    entry.closed()
    assert entry.try_open()
    entry.record_usage({"total_tokens": 10, "input_tokens": 4, "output_tokens": 6, "x": 1})
    entry.record_usage({"total_tokens": 3, "input_tokens": None})
    entry.record_usage(None)
    assert entry.usage == {"total_tokens": 13, "input_tokens": 4, "output_tokens": 6}
    health = entry.health()
    assert (health["kind"], health["ready"], health["last_connect"]) == ("relay", None, None)
    assert (health["sessions"], health["max_sessions"]) == (2, 2)
    entry.note_upstream(False, "HTTP 401")
    health = entry.health()
    assert health["ready"] is False
    assert health["last_connect"]["detail"] == "HTTP 401"
    assert abs(health["last_connect"]["at"] - time.time()) < 60
    catalog = ModelCatalog([pipeline, entry])
    assert catalog.degraded() == ["r"]
    entry.note_upstream(True, "connected")
    assert catalog.degraded() == []
    assert catalog.health()["r"]["ready"] is True
    assert catalog.health()[pipeline.name]["kind"] == "pipeline"


def a_relay() -> RelaySpec:
    return RelaySpec.model_validate({"provider": "realtime", "url": "ws://127.0.0.1:9/v1"})


def test_session_defaults_go_beneath_the_secret() -> None:
    defaults = {"instructions": "Entry.", "audio": {"output": {"voice": "verse"}}}
    secret = {"type": "realtime", "model": "m", "instructions": "Secret."}
    layered = layered_session(defaults, model="m", session_type="realtime", initial=secret)
    assert layered is not None
    assert layered["instructions"] == "Secret."  # the secret wins
    assert layered["audio"]["output"]["voice"] == "verse"  # the entry's stays beneath
    assert layered["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    alone = layered_session(defaults, model="m", session_type="realtime", initial=None)
    assert alone is not None and alone["instructions"] == "Entry."
    # A transcription session has neither field: no defaults.
    assert layered_session(defaults, model="m", session_type="transcription", initial=None) is None
    # The session reports the name that chose its entry.
    assert layered_session({}, model="a", session_type="realtime", initial={"model": "b"}) == {
        "model": "a"
    }


def test_a_client_secret_binds_its_model() -> None:
    assert requested_model({"model": "minted"}, "asked") == "minted"
    assert requested_model({"type": "realtime"}, None, "asked") == "asked"
    assert requested_model(None, "", None) is None


def test_a_relay_entry_gets_a_relayed_session() -> None:
    entry = ModelEntry("r", mock_settings(), relay=a_relay())
    core, _ = open_session(
        entry,
        entry.settings,
        model="r",
        session_type="realtime",
        initial_session=None,
        transport="websocket",
    )
    assert isinstance(core, RelaySession) and core.model == "r"


# ------------------------------------------------------------------------------------------------
# Start-up: one line, no traceback
# ------------------------------------------------------------------------------------------------


def run_server(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout, done.stderr


def test_main_refuses_a_bad_file_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "models:\n  - {name: a, relay: {provider: opneai}}\n", "bad.yaml")
    code, _, stderr = run_server(
        ["main.py", "--profile", "mock", "--port", str(free_port()), "--config", str(path)], {}
    )
    assert code == 2
    assert "Traceback" not in stderr
    expected = (
        f"main.py: error: {path}: models[0] 'a': relay.provider: must be one of openai, azure, "
        "glm, realtime (got 'opneai')"
    )
    assert expected in stderr.splitlines()


def test_a_provider_error_at_startup_is_one_line_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "models:\n  - {name: broken, pipeline: {llm: openai, llm_base_url: 'http://127.0.0.1:9/v1'}}\n",
    )
    expected = f"{path}: models[0] 'broken': pipeline: llm_base_url is set"
    code, stdout, stderr = run_server(
        ["main.py", "--profile", "mock", "--port", str(free_port()), "--config", str(path)], {}
    )
    assert code == 2
    assert "Traceback" not in stdout + stderr
    assert any(expected in line for line in stderr.splitlines())
    # uvicorn main:app, configured by the environment, says the same in one line.
    code, stdout, stderr = run_server(
        ["-m", "uvicorn", "main:app", "--port", str(free_port())],
        {"REALTIME_CONFIG": str(path), "REALTIME_PROFILE": "mock"},
    )
    assert code != 0
    assert "Traceback" not in stdout + stderr
    assert any(expected in line for line in stderr.splitlines())


def test_uvicorn_refuses_a_bad_file_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "models:\n  - {name: a, pipeline: {sst: mock}}\n")
    code, stdout, stderr = run_server(
        ["-m", "uvicorn", "main:app", "--port", str(free_port())],
        {"REALTIME_CONFIG": str(path), "REALTIME_PROFILE": "mock"},
    )
    assert code != 0
    assert "Traceback" not in stdout + stderr
    expected = f"{path}: models[0] 'a': pipeline.sst: unknown field (did you mean 'stt'?)"
    assert any(line.endswith(expected) for line in stderr.splitlines())


# ------------------------------------------------------------------------------------------------
# Live servers
# ------------------------------------------------------------------------------------------------

SIDE_BY_SIDE = """\
models:
  - name: quick
    pipeline:
      instructions: The quick model.
  - name: slow
    max_sessions: 1
    pipeline:
      mock_token_delay_ms: 400
      response_timeout_s: 0.5
      instructions: The slow model.
      voice: verse
  - name: upstream
    relay:
      provider: realtime
      url: ws://127.0.0.1:9/v1/realtime
"""


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Two mock pipelines and a relay, no default."""
    path = tmp_path_factory.mktemp("catalog") / "models.yaml"
    path.write_text(SIDE_BY_SIDE)
    process = ServerProcess({"REALTIME_CONFIG": str(path)})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A default entry with session defaults, and another model."""
    path = tmp_path_factory.mktemp("catalog") / "models.yaml"
    path.write_text(
        "models:\n"
        "  - {name: main, default: true, pipeline: {instructions: The default model.}}\n"
        "  - {name: other, pipeline: {}}\n"
    )
    process = ServerProcess({"REALTIME_CONFIG": str(path)})
    yield process
    process.stop()


def ws_url(server: ServerProcess, query: str = "") -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/realtime" + query


async def first_event_and_close(url: str, **kwargs: Any) -> tuple[dict[str, Any], int | None, str]:
    """Connect, read the first event, then wait for the server's close."""
    async with websockets.connect(url, open_timeout=WAIT_S, **kwargs) as ws:
        event = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        validate_server_event(event)
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WAIT_S)
        return event, ws.close_code, ws.close_reason or ""


def get_json(server: ServerProcess, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(server.base_url + path, timeout=WAIT_S) as reply:
        body: dict[str, Any] = json.loads(reply.read())
        return body


async def health(server: ServerProcess) -> dict[str, Any]:
    return await asyncio.to_thread(get_json, server, "/health")


async def poll(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """For server state no event announces (``/health``): ask until true, or fail."""
    deadline = time.monotonic() + WAIT_S
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {WAIT_S:g} s")
        await asyncio.sleep(0.05)


async def sessions_of(server: ServerProcess, name: str) -> int:
    return int((await health(server))["models"][name]["sessions"])


def mint(server: ServerProcess, session: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        server.base_url + "/v1/realtime/client_secrets",
        data=json.dumps({"session": session}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def say(client: Any, text: str) -> dict[str, Any]:
    """A user message and a text response; returns its ``response.done``."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await client.send({"type": "conversation.item.create", "item": item})
    await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    done: dict[str, Any] = await client.wait_for("response.done")
    return done


async def test_two_pipelines_side_by_side_each_on_its_settings(
    catalog_server: ServerProcess,
) -> None:
    async with (
        open_client(catalog_server.base_url, model="quick") as quick,
        open_client(catalog_server.base_url, model="slow") as slow,
    ):
        assert quick.session["model"] == "quick"
        assert quick.session["instructions"] == "The quick model."
        assert slow.session["model"] == "slow"
        assert slow.session["instructions"] == "The slow model."
        assert slow.session["audio"]["output"]["voice"] == "verse"
        assert quick.session["audio"]["output"]["voice"] != "verse"
        quick_done, slow_done = await asyncio.gather(
            say(quick, "hello there my friend"), say(slow, "hello there my friend")
        )
        # The quick model answers; the slow one (400 ms a word) runs into its own 0.5 s limit.
        assert quick_done["response"]["status"] == "completed"
        assert slow_done["response"]["status"] == "failed"
        assert slow_done["response"]["status_details"]["error"]["code"] == "timeout"
        usage = (await health(catalog_server))["models"]["quick"]["usage"]
        assert usage["total_tokens"] >= quick_done["response"]["usage"]["total_tokens"] > 0


async def test_an_unknown_model_without_a_default_is_invalid_model(
    catalog_server: ServerProcess,
) -> None:
    messages = []
    for query in ("?model=gpt-nope", ""):  # an unknown name, and none
        event, code, reason = await first_event_and_close(ws_url(catalog_server, query))
        assert event["type"] == "error"
        assert event["error"]["type"] == "invalid_request_error"
        assert event["error"]["code"] == "invalid_model"
        assert code == 4000
        assert reason == "invalid_request_error.invalid_model"
        messages.append(event["error"]["message"])
    assert messages[0].startswith('Model "gpt-nope" not found.')
    assert messages[1].startswith("No model given")


async def test_the_sdk_sees_invalid_model_too(catalog_server: ServerProcess) -> None:
    from tests.realtime_client import sdk_client

    async with sdk_client(catalog_server.base_url).realtime.connect(model="gpt-nope") as conn:
        event = json.loads(await asyncio.wait_for(conn.recv_bytes(), WAIT_S))
        assert event["error"]["code"] == "invalid_model"
        with pytest.raises(Exception):  # noqa: B017 (the SDK's close error type varies)
            await asyncio.wait_for(conn.recv_bytes(), WAIT_S)


async def test_a_model_at_its_max_sessions_is_refused(catalog_server: ServerProcess) -> None:
    await poll(lambda: _is(sessions_of(catalog_server, "slow"), 0), "no slow session")
    async with open_client(catalog_server.base_url, model="slow"):
        event, code, _ = await first_event_and_close(ws_url(catalog_server, "?model=slow"))
        assert event["error"]["code"] == "session_limit_reached"
        assert "'slow'" in event["error"]["message"]
        assert code == 1013
        async with open_client(catalog_server.base_url, model="quick") as other:
            assert other.session["model"] == "quick"  # another model still opens
    await poll(lambda: _is(sessions_of(catalog_server, "slow"), 0), "the slow session gone")
    async with open_client(catalog_server.base_url, model="slow") as again:
        assert again.session["model"] == "slow"


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_relay_entry_whose_upstream_is_down(catalog_server: ServerProcess) -> None:
    event, code, _ = await first_event_and_close(ws_url(catalog_server, "?model=upstream"))
    assert event["error"]["type"] == "server_error"
    assert event["error"]["code"] == "upstream_unavailable"
    assert code == 1013
    await poll(lambda: _is(sessions_of(catalog_server, "upstream"), 0), "the slot freed")


async def test_models_and_health_list_the_entries(catalog_server: ServerProcess) -> None:
    models = await asyncio.to_thread(get_json, catalog_server, "/v1/models")
    assert models["object"] == "list"
    assert [(m["id"], m["owned_by"]) for m in models["data"]] == [
        ("quick", "realtime-server"),
        ("slow", "realtime-server"),
        ("upstream", "relay:realtime"),
    ]
    body = await health(catalog_server)
    assert body["status"] == "healthy"
    assert body["profile"] == "mock"
    assert body["degraded"] in ([], ["upstream"])
    assert list(body["models"]) == ["quick", "slow", "upstream"]
    slow = body["models"]["slow"]
    assert (slow["kind"], slow["ready"], slow["max_sessions"]) == ("pipeline", True, 1)
    assert slow["models"]["llm"] == "mock-llm"
    upstream = body["models"]["upstream"]
    assert upstream["kind"] == "relay"
    assert upstream["provider"] == "realtime"
    # (None until a session tried it; False once one did: the upstream here is down.)
    assert upstream["ready"] in (None, False)


async def test_a_client_secret_carries_its_model(catalog_server: ServerProcess) -> None:
    status, minted = await asyncio.to_thread(
        mint, catalog_server, {"type": "realtime", "model": "slow"}
    )
    assert status == 200
    assert minted["session"]["model"] == "slow"
    assert minted["session"]["instructions"] == "The slow model."  # the entry's defaults
    assert minted["session"]["audio"]["output"]["voice"] == "verse"
    await poll(lambda: _is(sessions_of(catalog_server, "slow"), 0), "no slow session")
    # The secret's model binds the session, whatever the connection asks for.
    url = ws_url(catalog_server, "?model=quick")
    protocols = [Subprotocol("realtime"), Subprotocol(f"openai-insecure-api-key.{minted['value']}")]
    async with websockets.connect(url, subprotocols=protocols, open_timeout=WAIT_S) as ws:
        created = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        assert created["type"] == "session.created"
        assert created["session"]["model"] == "slow"
        assert created["session"]["instructions"] == "The slow model."
        assert await sessions_of(catalog_server, "slow") == 1
    # Unknown models are refused at minting; relay entries can be minted for.
    status, refused = await asyncio.to_thread(
        mint, catalog_server, {"type": "realtime", "model": "gpt-nope"}
    )
    assert status == 400
    assert refused["error"]["code"] == "invalid_model"
    assert refused["error"]["param"] == "session.model"
    status, relay = await asyncio.to_thread(
        mint, catalog_server, {"type": "realtime", "model": "upstream"}
    )
    assert status == 200
    assert relay["session"]["model"] == "upstream"


async def test_a_call_resolves_its_model(catalog_server: ServerProcess) -> None:
    refused = WebRTCTestClient()
    try:
        reply = await refused.connect(catalog_server.base_url, path="/v1/realtime?model=gpt-nope")
        assert reply.status_code == 400
        assert reply.json()["error"]["code"] == "invalid_model"
        assert reply.json()["error"]["type"] == "invalid_request_error"
    finally:
        await refused.close()
    client = WebRTCTestClient()
    try:
        session = {"type": "realtime", "model": "slow"}
        reply = await client.connect(catalog_server.base_url, session=session)
        assert reply.status_code == 201
        created = await client.next_event()
        assert created["session"]["model"] == "slow"
        assert created["session"]["instructions"] == "The slow model."
        assert await sessions_of(catalog_server, "slow") == 1
    finally:
        await client.close()
    await poll(lambda: _is(sessions_of(catalog_server, "slow"), 0), "the call's slot freed")


async def test_with_a_default_an_unknown_name_is_served_and_echoed(
    default_server: ServerProcess,
) -> None:
    async with open_client(default_server.base_url, model="gpt-anything") as client:
        assert client.session["model"] == "gpt-anything"
        assert client.session["instructions"] == "The default model."
        assert await sessions_of(default_server, "main") == 1
    async with open_client(default_server.base_url, model="other") as other:
        assert other.session["instructions"] != "The default model."
    # No model at all: the default's name.
    async with websockets.connect(ws_url(default_server), open_timeout=WAIT_S) as ws:
        created = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        assert created["session"]["model"] == "main"
    status, minted = await asyncio.to_thread(mint, default_server, {"type": "realtime"})
    assert status == 200
    assert minted["session"]["model"] == "main"


async def test_without_a_file_any_name_is_served(server: ServerProcess) -> None:
    async with open_client(server.base_url, model="whatever-model") as client:
        assert client.session["model"] == "whatever-model"
