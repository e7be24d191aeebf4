"""The model list's file format (``--config``): what one entry may say, checked strictly.

Why pydantic with ``extra="forbid"``: the file is written by hand, and a typo (``sst:``) must stop
start-up naming the field rather than be ignored. Why secrets only by environment variable name
(``llm_api_key_env: NAME``): the file can then be committed, shared and shown in an issue; a
literal key written in it is refused with a message saying so, and a named variable that is not
set is refused at start-up, not at a session's first reply.

A check of a whole object or list puts the location it is about in its error's ``ctx`` as
``loc`` (a tuple appended to the error's own location): :mod:`model_catalog.loader` uses it, so
every message names the entry and the field.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from config import LLMProvider, LocalLLMTools, Profile, STTProvider, TTSProvider

RelayProvider = Literal["openai", "azure", "glm", "realtime"]
RelayDialect = Literal["ga", "beta"]
DEFAULT_RELAY_URLS: dict[str, str] = {
    "openai": "wss://api.openai.com/v1/realtime",
    "glm": "wss://open.bigmodel.cn/api/paas/v4/realtime",
}
"""Where a relay connects when its entry gives no ``url`` (azure and realtime must give one)."""
KEYED_RELAY_PROVIDERS = frozenset({"openai", "azure", "glm"})
"""Relay providers that always need an API key (``realtime``: any server, perhaps keyless)."""
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})
"""Relay headers that carry credentials: the key comes from ``api_key_env`` instead."""


def _refuse_literal_secret(value: object, info: ValidationInfo) -> None:
    raise PydanticCustomError(
        "literal_secret",
        "secrets are not written in the config file: put the key in an environment variable "
        "and name it with {field}_env: VARIABLE_NAME",
        {"field": info.field_name},
    )


def _env_var_is_set(name: str) -> str:
    if not name.strip():
        raise PydanticCustomError("env_var_name", "must name an environment variable")
    if not os.environ.get(name):
        raise PydanticCustomError(
            "env_var_unset",
            "the environment variable {name} is not set (or is empty)",
            {"name": name},
        )
    return name


LiteralSecret = Annotated[None, BeforeValidator(_refuse_literal_secret)]
"""A field that exists only to refuse a literal secret with a helpful message."""
EnvVarName = Annotated[str, AfterValidator(_env_var_is_set)]
"""The name of an environment variable holding a secret; it must be set at start-up."""


def _lower_stage(value: object) -> object:
    """Stage providers in any case, like ``REALTIME_STT`` (``config.Settings``)."""
    return value.strip().lower() if isinstance(value, str) else value


class PipelineSpec(BaseModel):
    """A pipeline entry: everything a pipeline takes from ``REALTIME_*`` today, per entry.

    Unset fields keep the server's settings (environment, ``.env`` and flags), so an entry only
    says what differs. The bounds are those of :class:`config.Settings` (a test holds them equal).
    """

    model_config = ConfigDict(extra="forbid")

    profile: Profile | None = None
    stt: STTProvider | None = None
    llm: LLMProvider | None = None
    tts: TTSProvider | None = None
    llm_base_url: str | None = None
    llm_model: str | None = None
    stt_base_url: str | None = None
    stt_model: str | None = None
    tts_base_url: str | None = None
    tts_model: str | None = None
    elevenlabs_voice_id: str | None = None
    # the local profile's models: packaged names, paths or Hugging Face repos (docs/models.md)
    local_whisper_model: str | None = Field(None, min_length=1)
    local_llm_model: str | None = Field(None, min_length=1)
    local_tts_voice: str | None = Field(None, min_length=1)
    local_llm_threads: int | None = Field(None, ge=1, le=256)
    local_whisper_threads: int | None = Field(None, ge=1, le=256)
    local_whisper_english_model: str | None = None
    local_whisper_languages: str | None = None
    local_tts_voices: str | None = None
    provider_timeout_s: float | None = Field(None, gt=0)
    provider_max_retries: int | None = Field(None, ge=0, le=5)
    mock_token_delay_ms: float | None = Field(None, ge=0)
    mock_fault: str | None = None
    mock_speculation: bool | None = None
    speculative_turns: bool | None = None
    tts_first_phrase: bool | None = None
    response_timeout_s: float | None = Field(None, gt=0)
    transcription_timeout_s: float | None = Field(None, gt=0)
    max_reply_tokens: int | None = Field(None, ge=1, le=4096)
    spoken_reply_max_tokens: int | None = Field(None, ge=0, le=4096)
    local_llm_tools: LocalLLMTools | None = None
    # --- session defaults: applied beneath a client secret's session and the client's updates
    voice: str | None = Field(None, min_length=1)
    instructions: str | None = None
    # --- secrets, by environment variable name only
    llm_api_key_env: EnvVarName | None = None
    stt_api_key_env: EnvVarName | None = None
    tts_api_key_env: EnvVarName | None = None
    deepgram_api_key_env: EnvVarName | None = None
    elevenlabs_api_key_env: EnvVarName | None = None
    llm_api_key: LiteralSecret = Field(None, exclude=True)
    stt_api_key: LiteralSecret = Field(None, exclude=True)
    tts_api_key: LiteralSecret = Field(None, exclude=True)
    deepgram_api_key: LiteralSecret = Field(None, exclude=True)
    elevenlabs_api_key: LiteralSecret = Field(None, exclude=True)

    @field_validator("stt", "llm", "tts", "local_llm_tools", mode="before")
    @classmethod
    def _stage(cls, value: object) -> object:
        return _lower_stage(value)

    def settings_update(self) -> dict[str, Any]:
        """What this entry changes in the server's settings, secrets read from their variables."""
        update: dict[str, Any] = {}
        for name, value in self.model_dump(exclude={"voice", "instructions"}).items():
            if value is None:
                continue
            if name.endswith("_api_key_env"):
                update[name.removesuffix("_env")] = os.environ.get(value)
            else:
                update[name] = value
        return update

    def session_defaults(self) -> dict[str, Any]:
        """The GA session fragment of this entry's ``voice`` and ``instructions``."""
        fragment: dict[str, Any] = {}
        if self.instructions is not None:
            fragment["instructions"] = self.instructions
        if self.voice is not None:
            fragment["audio"] = {"output": {"voice": self.voice}}
        return fragment


class RelaySpec(BaseModel):
    """A relay entry: sessions proxied to an upstream realtime API.

    After validation ``url`` and ``model`` are always set (the provider's default URL, the
    entry's name); ``dialect`` None means the relay derives it from the provider.
    """

    model_config = ConfigDict(extra="forbid")

    provider: RelayProvider
    url: str | None = None
    model: str | None = Field(None, min_length=1)
    """The upstream model or (Azure) deployment; default: the entry's name."""
    api_key_env: EnvVarName | None = None
    api_key: LiteralSecret = Field(None, exclude=True)
    api_version: str | None = None
    """Azure's older URL shape (``/openai/realtime?api-version=...&deployment=...``)."""
    dialect: RelayDialect | None = None
    connect_timeout_s: float = Field(10.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra, non-secret headers of the upstream handshake."""

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("ws://", "wss://")):
            raise PydanticCustomError(
                "relay_url", "must be a ws:// or wss:// URL (got '{url}')", {"url": url}
            )
        return url

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if name.strip().lower() in SECRET_HEADERS:
                raise PydanticCustomError(
                    "literal_secret",
                    "the {header} header carries a secret: name the environment variable "
                    "holding the key with api_key_env: VARIABLE_NAME instead",
                    {"header": name},
                )
        return headers

    @model_validator(mode="after")
    def _provider_needs(self) -> RelaySpec:
        if self.url is None:
            if self.provider not in DEFAULT_RELAY_URLS:
                raise PydanticCustomError(
                    "missing_for_provider",
                    "required for provider '{provider}' (its realtime WebSocket URL)",
                    {"provider": self.provider, "loc": ("url",)},
                )
            self.url = DEFAULT_RELAY_URLS[self.provider]
        if self.api_key_env is None and self.provider in KEYED_RELAY_PROVIDERS:
            raise PydanticCustomError(
                "missing_for_provider",
                "required for provider '{provider}': the name of the environment variable "
                "holding its API key",
                {"provider": self.provider, "loc": ("api_key_env",)},
            )
        return self


class ModelSpec(BaseModel):
    """One entry of ``models``: a name clients pass as ``?model=``, served by a pipeline or a
    relay."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    default: bool = False
    """Serve any model name that is not in the list."""
    max_sessions: int | None = Field(None, ge=1)
    """Concurrent sessions of this entry (the server-wide REALTIME_MAX_SESSIONS holds too)."""
    pipeline: PipelineSpec | None = None
    relay: RelaySpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ModelSpec:
        if (self.pipeline is None) == (self.relay is None):
            raise PydanticCustomError("entry_kind", "give exactly one of 'pipeline' and 'relay'")
        if self.relay is not None and self.relay.model is None:
            self.relay.model = self.name
        return self


class CatalogConfig(BaseModel):
    """The whole file: at least one entry, unique names, at most one default."""

    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_and_default(self) -> CatalogConfig:
        first: dict[str, int] = {}
        default: int | None = None
        for index, spec in enumerate(self.models):
            if spec.name in first:
                raise PydanticCustomError(
                    "duplicate_name",
                    "'{name}' is already the name of models[{other}]",
                    {
                        "name": spec.name,
                        "other": first[spec.name],
                        "loc": ("models", index, "name"),
                    },
                )
            first[spec.name] = index
            if spec.default:
                if default is not None:
                    raise PydanticCustomError(
                        "two_defaults",
                        "models[{other}] is already the default (at most one entry may be)",
                        {"other": default, "loc": ("models", index, "default")},
                    )
                default = index
        return self
