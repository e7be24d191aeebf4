"""Server configuration: environment variables with the ``REALTIME_`` prefix, an optional ``.env``
file, and command-line flags of ``main.py`` on top."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["mock", "local"]
# Per-stage providers (see docs/providers.md); "default" uses the profile's model for the stage.
STTProvider = Literal["default", "local", "mock", "openai", "deepgram"]
LLMProvider = Literal["default", "local", "mock", "openai", "ollama"]
LocalLLMTools = Literal["default", "auto", "forced", "none"]
"""What the local llama.cpp LLM does with function tools (``REALTIME_LOCAL_LLM_TOOLS``)."""

LOCAL_SPOKEN_REPLY_MAX_TOKENS = 60
"""The local LLM's default cap on a spoken reply, in tokens (about 45 words, two or three
sentences): what ``spoken_reply_max_tokens`` unset means when the local model answers."""
TTSProvider = Literal["default", "local", "mock", "openai", "elevenlabs"]
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
"""The log levels (uvicorn's names; loguru knows each of them too)."""


class Settings(BaseSettings):
    """Everything that can be configured. Each field is also ``REALTIME_<NAME>`` in the env."""

    model_config = SettingsConfigDict(env_prefix="REALTIME_", env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on.")
    ssl_certfile: str | None = Field(
        None,
        description="PEM certificate (chain) file; with ssl_keyfile, main.py serves https:// and "
        "wss:// instead of http:// and ws:// (both or neither).",
    )
    ssl_keyfile: str | None = Field(
        None, description="PEM private key of ssl_certfile (not encrypted)."
    )
    profile: Profile = Field(
        "local",
        description="Model profile: 'local' (offline models) or 'mock' (deterministic, instant, "
        "no weights; for tests and benchmarks).",
    )
    log_level: str = Field(
        "info", description="Log level: critical, error, warning, info, debug or trace."
    )
    model_name: str = Field(
        "gpt-realtime",
        description="Model name reported in sessions and by /v1/models when no config file "
        "lists the models (then it names the one entry, which serves every name).",
    )
    config: str | None = Field(
        None,
        description="A YAML file listing the models this server serves, each a pipeline or a "
        "relay (model_catalog/, README 'Several models'). Unset: one pipeline from these "
        "settings serves every model name.",
    )
    mock_token_delay_ms: float = Field(
        0.0, ge=0, description="Mock LLM: delay before each word, to test cancel and barge-in."
    )
    mock_speculation: bool = Field(
        False,
        description="Mock profile: speculate during pauses too (REALTIME_SPECULATIVE_TURNS), for "
        "tests. Off by default: the mock's transcript says how long the audio was, so a "
        "transcript made at the pause differs from one of the whole committed turn.",
    )
    tts_first_phrase: bool = Field(
        True,
        description="Start speaking a reply at its first clause (a comma after a few words) "
        "instead of its first full sentence (pipeline_manager/first_phrase.py). Not in the mock "
        "profile, whose TTS length is exact per character.",
    )
    speculative_turns: bool = Field(
        False,
        description="Transcribe a turn at each pause that could end it, during the silence "
        "window, and use it if the turn does end (pipeline_manager/speculation.py). Only for an "
        "STT that runs in this process (local): a remote STT provider would bill every guess. "
        "Off by default for now: on 2 cores a pass started at a pause inside the turn is still "
        "running at the turn's last pause, so it gains nothing yet (bench/listening_cost.py).",
    )
    mock_fault: str = Field(
        "",
        description="Mock profile fault injection for tests: '<stt|llm|tts>:<raise|hang|garbage>' "
        "(the first call of each session misbehaves).",
    )
    response_timeout_s: float = Field(
        60.0,
        gt=0,
        description="A response may take at most this long from the moment it starts generating "
        "(its transcripts are in); then it fails with status_details.error.code 'timeout'.",
    )
    api_keys: str = Field(
        "",
        description="Comma-separated API keys clients must present. Empty: no authentication "
        "(fine on 127.0.0.1; set keys before listening on other interfaces).",
    )
    client_secret_ttl_s: float = Field(
        60.0, gt=0, le=7200, description="Default lifetime of a minted ek_ client secret."
    )
    allowed_origins: str = Field(
        "",
        description="Comma-separated Origins browsers may connect and mint client secrets from "
        "(e.g. https://app.example.com), or '*' for any. Empty: loopback origins only while "
        "no API keys are set, any origin once they are (transport/origins.py).",
    )
    max_sessions: int = Field(100, ge=1, description="Concurrent sessions; the newest is refused.")
    max_session_duration_s: float = Field(
        3600.0,
        gt=0,
        description="A session is closed after this long (like the real API's 60 min).",
    )
    max_input_buffer_ms: float = Field(
        600_000.0, gt=0, description="Uncommitted input audio a session may hold (10 minutes)."
    )
    max_conversation_items: int = Field(
        1000, ge=2, description="Items kept per conversation; the oldest are deleted beyond it."
    )
    max_stored_audio_bytes: int = Field(
        32 * 1024 * 1024,
        ge=0,
        description="Audio a session's conversation items may hold (32 MiB, about 11 minutes "
        "at 24 kHz); beyond it the oldest items lose their audio (their text stays).",
    )
    max_reply_tokens: int = Field(
        1024,
        ge=1,
        le=4096,
        description="What max_output_tokens 'inf' means: a reply stops (status incomplete) "
        "after this many tokens. The real API allows up to 4096.",
    )
    spoken_reply_max_tokens: int | None = Field(
        None,
        ge=0,
        le=4096,
        description="Default length of a spoken reply, in tokens, when the client left "
        "max_output_tokens at 'inf': the reply ends at the last sentence end within it, status "
        "completed (docs/protocol.md). 0: no cap. Unset: "
        f"{LOCAL_SPOKEN_REPLY_MAX_TOKENS} when the local LLM answers, else 0.",
    )
    local_llm_tools: LocalLLMTools = Field(
        "default",
        description="Function tools on the local LLM: 'auto' (the model decides when to call, "
        "by a JSON-constrained first step), 'forced' (it calls a tool only when tool_choice is "
        "'required' or names a function; with 'auto' it answers in words), 'none' (tools are "
        "ignored). 'default': 'forced' for the packaged SmolLM2-135M, which cannot tell when "
        "a tool is needed, 'auto' for any other model.",
    )
    max_client_events_per_s: float = Field(
        1000.0,
        gt=0,
        description="Client events a session may send per second on average; beyond it events "
        "are dropped with a rate_limit_exceeded error (at most one a second).",
    )
    max_client_event_burst: float = Field(
        2000.0, ge=1, description="Client events a session may send at once (the burst)."
    )
    session_idle_timeout_s: float = Field(
        900.0,
        ge=0,
        description="A session with no client or server event for this long is closed with a "
        "session_idle_timeout error, then close 1000 (0: never).",
    )
    max_outbox_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="Server events queued for a client that does not read; beyond it the "
        "session is closed (slow consumer).",
    )
    console_client_secrets: bool = Field(
        False,
        description="The console at / mints single-use ek_ secrets for itself when API keys are "
        "set: anyone who can open the page can then use the server.",
    )
    debug_endpoints: bool = Field(
        False, description="Serve GET /debug/stats (task count, memory) for leak tests."
    )
    transcription_timeout_s: float = Field(
        30.0, gt=0, description="Transcribing one item may take at most this long."
    )

    # --- the local profile's models (pipeline_manager/local/model_refs.py, docs/models.md) -----
    local_whisper_model: str = Field(
        "base",
        min_length=1,
        description="Local STT model: a packaged name (base: multilingual; tiny.en: English "
        "only), a CTranslate2 Whisper directory, "
        "or a Hugging Face repo (owner/name[@revision][:folder]), optionally #sha256=<hex> of its "
        "model.bin. A repo is fetched on first use into the Hugging Face cache (docs/models.md).",
    )
    local_llm_model: str = Field(
        "smollm2-135m",
        min_length=1,
        description="Local LLM: a packaged name (smollm2-135m), a GGUF file, or a Hugging Face "
        "repo (owner/name[@revision][:file.gguf]), optionally #sha256=<hex> (docs/models.md).",
    )
    local_tts_voice: str = Field(
        "en_US-joe-medium",
        min_length=1,
        description="Local TTS voice: a packaged name (en_US-joe-medium), a Piper .onnx (its "
        ".onnx.json beside it), or a Hugging Face repo (owner/name[@revision][:path.onnx or "
        "voice name]), optionally #sha256=<hex> of the .onnx (docs/models.md).",
    )
    local_llm_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="llama.cpp threads of the local LLM. 1 suits 2 cores (threads that wait for "
        "a busy core stall every token); on more cores a bigger model wants more (docs/models.md).",
    )
    local_whisper_threads: int = Field(
        2, ge=1, le=256, description="CTranslate2 threads of the local Whisper model."
    )
    local_whisper_english_model: str = Field(
        "tiny.en",
        description="Local STT model of sessions whose transcription language is English, the "
        "fast path (a reference like local_whisper_model); empty: local_whisper_model transcribes "
        "English too.",
    )
    local_whisper_languages: str = Field(
        "en,zh",
        description="Local STT: the languages Whisper's detection chooses among when a session "
        "sets no transcription language (comma-separated codes; '*': any language Whisper knows).",
    )
    local_tts_voices: str = Field(
        "zh=espeak:cmn-latn-pinyin",
        description="Local TTS: more voices, per language, as LANG=VOICE pairs separated by "
        "commas; VOICE is espeak:NAME (an espeak-ng voice) or a Piper voice reference. Each "
        "sentence is spoken by the voice of its script's language; Latin script by the en voice, "
        "local_tts_voice unless this names another.",
    )

    # --- providers per stage (pipeline_manager/providers/, docs/providers.md) -----------------
    stt: STTProvider = Field(
        "default",
        description="Speech-to-text provider: default (the profile's), local, mock, openai "
        "(any OpenAI-compatible /v1/audio/transcriptions), deepgram.",
    )
    llm: LLMProvider = Field(
        "default",
        description="Language model provider: default (the profile's), local, mock, openai "
        "(any OpenAI-compatible /v1/chat/completions: OpenAI, vLLM, llama.cpp server, ...), "
        "ollama.",
    )
    tts: TTSProvider = Field(
        "default",
        description="Text-to-speech provider: default (the profile's), local, mock, openai "
        "(any OpenAI-compatible /v1/audio/speech), elevenlabs.",
    )
    llm_base_url: str | None = Field(
        None, description="LLM endpoint base URL (e.g. http://localhost:8080/v1)."
    )
    llm_api_key: str | None = Field(None, description="LLM API key.")
    llm_model: str | None = Field(None, description="LLM model name.")
    stt_base_url: str | None = Field(None, description="STT endpoint base URL.")
    stt_api_key: str | None = Field(None, description="STT API key.")
    stt_model: str | None = Field(None, description="STT model name.")
    tts_base_url: str | None = Field(None, description="TTS endpoint base URL.")
    tts_api_key: str | None = Field(None, description="TTS API key.")
    tts_model: str | None = Field(None, description="TTS model name.")
    deepgram_api_key: str | None = Field(
        None, description="Deepgram API key (REALTIME_STT=deepgram)."
    )
    elevenlabs_api_key: str | None = Field(
        None, description="ElevenLabs API key (REALTIME_TTS=elevenlabs)."
    )
    elevenlabs_voice_id: str | None = Field(
        None,
        description="ElevenLabs voice id used for every session voice; unset: the table in "
        "pipeline_manager/voices.py.",
    )
    provider_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Remote providers: a request that cannot connect, or goes this long without "
        "receiving data, fails (connecting is bounded by at most 5 s).",
    )
    provider_max_retries: int = Field(
        0,
        ge=0,
        le=5,
        description="Remote providers: retries of a failed request (connection errors, 408, 429, "
        "5xx). Each retry can take another REALTIME_PROVIDER_TIMEOUT_S.",
    )

    @field_validator("stt", "llm", "tts", "local_llm_tools", mode="before")
    @classmethod
    def _stage_provider(cls, value: object) -> object:
        """Accept any case and an empty value (meaning the default)."""
        if isinstance(value, str):
            value = value.strip().lower()
            return value or "default"
        return value if value is not None else "default"

    def llm_stage(self) -> str:
        """Who answers: the LLM provider, with ``default`` resolved to the profile."""
        return self.profile if self.llm == "default" else self.llm

    def spoken_reply_cap(self) -> int:
        """The effective ``spoken_reply_max_tokens`` (0: no cap)."""
        if self.spoken_reply_max_tokens is not None:
            return self.spoken_reply_max_tokens
        return LOCAL_SPOKEN_REPLY_MAX_TOKENS if self.llm_stage() == "local" else 0

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> object:
        """Any case; refused at start-up if uvicorn or loguru would not know it."""
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in LOG_LEVELS:
                raise ValueError(f"must be one of {', '.join(LOG_LEVELS)} (got {value!r})")
        return value

    def api_key_list(self) -> list[str]:
        """The configured API keys."""
        return [key.strip() for key in self.api_keys.split(",") if key.strip()]

    def origin_list(self) -> list[str]:
        """The allowed browser origins as written (empty: see transport/origins.py)."""
        return [
            origin.strip().rstrip("/")
            for origin in self.allowed_origins.split(",")
            if origin.strip()
        ]

    # --- connection limits (transport/connection_guard/) ---
    request_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A connection must deliver a complete request (request line, headers, any "
        "body; for a WebSocket its upgrade request) within this long of opening, or of starting "
        "its next request; else it is closed (HTTP 408 if it sent part of one). Ends silent and "
        "slowloris connections.",
    )
    keep_alive_timeout_s: int = Field(
        5, ge=1, description="An idle HTTP keep-alive connection is closed after this long."
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Open TCP connections, HTTP and WebSocket. At the limit the oldest connection "
        "still waiting for its request is closed to make room; if every connection is busy the "
        "new one gets HTTP 503. Lowered at startup to fit the process's open-file limit.",
    )
    max_waiting_per_address: int = Field(
        32,
        ge=0,
        description="Connections one client address may hold open without a complete request "
        "(new, slow or idle keep-alive); beyond it that address's oldest such connection is "
        "closed once it has waited over a second. Loopback is not exempt. 0: no cap.",
    )
    max_header_bytes: int = Field(
        16 * 1024,
        ge=1024,
        description="Request line plus headers; a larger request gets HTTP 431 and is closed. "
        "(On /v1/realtime any single header line over 8 KiB also gets 431: the WebSocket "
        "library's own limit.)",
    )
    close_timeout_s: float = Field(
        5.0,
        gt=0,
        description="A closing connection (its session or request over, or the server shutting "
        "down after close 1012) that has not taken its last bytes within this long is dropped: "
        "bounds shutdown when a client does not read.",
    )
    send_timeout_s: float = Field(
        30.0,
        gt=0,
        description="A connection whose client takes none of the bytes the server is sending "
        "(an HTTP response, WebSocket events) for this long is dropped.",
    )
    max_request_body_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Body of POST /v1/realtime/client_secrets and /v1/realtime/sessions; larger "
        "gets HTTP 413.",
    )
    max_client_secrets: int = Field(
        1000,
        ge=1,
        description="Minted client secrets held at once (neither used nor expired); minting "
        "beyond it gets HTTP 429 until some are used or expire.",
    )

    # --- WebRTC (transport/webrtc/) ------------------------------------------------------------
    ice_servers: str = Field(
        "",
        description="STUN/TURN servers for WebRTC calls: comma-separated URLs "
        "(stun:host:port,turn:host:port) or a JSON list of RTCIceServer-like objects "
        '([{"urls": "turn:host:3478", "username": "u", "credential": "p"}]). Empty: host '
        "candidates only (one machine, a LAN).",
    )
    webrtc_connect_timeout_s: float = Field(
        20.0,
        gt=0,
        description="A call whose peer has not connected (ICE + DTLS) this long after the "
        "answer is ended and its session freed.",
    )
    webrtc_peer_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A connected call that receives nothing from its peer (no audio, no RTCP, "
        "no data channel traffic) for this long is ended: the peer vanished.",
    )

    @field_validator("ice_servers")
    @classmethod
    def _ice_servers(cls, value: str) -> str:
        """Refuse a malformed REALTIME_ICE_SERVERS at start-up rather than at the first call."""
        if value.strip():  # (the import is heavy: not for the default, which has nothing to check)
            from transport.webrtc.ice import parse_ice_servers

            parse_ice_servers(value)
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
