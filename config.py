"""Server configuration: environment variables with the ``REALTIME_`` prefix, an optional ``.env``
file, and command-line flags of ``main.py`` on top."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["mock", "local"]


class Settings(BaseSettings):
    """Everything that can be configured. Each field is also ``REALTIME_<NAME>`` in the env."""

    model_config = SettingsConfigDict(env_prefix="REALTIME_", env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on.")
    profile: Profile = Field(
        "local",
        description="Model profile: 'local' (offline models) or 'mock' (deterministic, instant, "
        "no weights; for tests and benchmarks).",
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    model_name: str = Field(
        "gpt-realtime", description="Model name reported in sessions and by /v1/models."
    )
    mock_token_delay_ms: float = Field(
        0.0, ge=0, description="Mock LLM: delay before each word, to test cancel and barge-in."
    )
    response_timeout_s: float = Field(
        60.0, gt=0, description="A response that makes no progress for this long fails."
    )
    debug_endpoints: bool = Field(
        False, description="Serve GET /debug/stats (task count, memory) for leak tests."
    )
    transcription_timeout_s: float = Field(
        30.0, gt=0, description="Transcribing one item may take at most this long."
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
