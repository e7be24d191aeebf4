"""The models this server serves, built once at start-up: :class:`ModelCatalog`.

Why a catalog: one process can serve several models side by side, each a pipeline (its own
stage settings, limits and session defaults) or a relay to an upstream realtime API, chosen per
connection by the ``model`` the client names. Without ``--config`` the catalog is one default
pipeline from the ``REALTIME_*`` settings, which serves every model name: the server behaves
exactly as before there was a catalog.

Costs are shared where they can be: entries whose effective stage settings are identical share
one service factory, and the local profile's models are loaded once per process whatever the
number of entries using them (:func:`pipeline_manager.local.get_local_models`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from typing import Any

from loguru import logger

from config import Settings
from model_catalog.entry import ModelEntry
from model_catalog.loader import CatalogConfigError, entry_label, load_catalog_config
from model_catalog.schema import CatalogConfig, ModelSpec
from pipeline_manager import ServiceFactory, create_service_factory
from pipeline_manager.local.model_files import LocalModelError
from pipeline_manager.providers import ProviderConfigError
from protocol import ProtocolError
from realtime_session.defaults import SHORT_REPLY_INSTRUCTIONS

SESSION_ONLY_SETTINGS = frozenset(
    {
        "model_name",
        "config",
        "response_timeout_s",
        "transcription_timeout_s",
        "max_reply_tokens",
        "spoken_reply_max_tokens",
    }
)
"""Settings the service factories never read: entries differing only in these share one."""


SECRET_SETTINGS = (
    "llm_api_key",
    "stt_api_key",
    "tts_api_key",
    "deepgram_api_key",
    "elevenlabs_api_key",
)


class ModelCatalog:
    """The served models by name, and which one serves a name that is not among them."""

    def __init__(self, entries: Sequence[ModelEntry]) -> None:
        if not entries:
            raise ValueError("a catalog needs at least one model")
        self.entries: tuple[ModelEntry, ...] = tuple(entries)
        self._by_name = {entry.name: entry for entry in self.entries}
        if len(self._by_name) != len(self.entries):
            raise ValueError("model names must be unique")
        defaults = [entry for entry in self.entries if entry.default]
        if len(defaults) > 1:
            raise ValueError("at most one model may be the default")
        self.default: ModelEntry | None = defaults[0] if defaults else None

    # --- building -----------------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelCatalog:
        """The catalog of ``settings.config``, or without one today's single pipeline.

        Blocking (it may load the local models): call it at start-up.

        Raises:
            CatalogConfigError: the file cannot be used, or a pipeline entry's providers are
                misconfigured (one line naming the entry).
            ProviderConfigError: without a file, the ``REALTIME_*`` providers are misconfigured.
        """
        if settings.config is None:
            entry = ModelEntry(
                settings.model_name,
                settings,
                services=create_service_factory(settings),
                session_defaults=policy_session_defaults(settings),
                default=True,
            )
            return cls([entry])
        config = load_catalog_config(settings.config)
        return cls.from_config(config, settings, source=settings.config)

    @classmethod
    def from_config(
        cls, config: CatalogConfig, settings: Settings, *, source: str = "config"
    ) -> ModelCatalog:
        """Build every entry of a validated model list on top of the server's settings.

        Raises:
            CatalogConfigError: a pipeline entry's providers are misconfigured, or its local
                models cannot be found, fetched or verified.
        """
        factories: dict[str, tuple[str, ServiceFactory]] = {}
        entries = []
        for index, spec in enumerate(config.models):
            try:
                entries.append(_build_entry(spec, settings, factories))
            except (ProviderConfigError, LocalModelError) as error:
                raise CatalogConfigError(
                    f"{source}: {entry_label(index, spec.name)}: pipeline: "
                    f"{_in_file_terms(str(error))}"
                ) from None
        return cls(entries)

    # --- looking up ---------------------------------------------------------------------------

    def resolve(self, name: str | None) -> ModelEntry | None:
        """The entry serving ``name``: its own, else the default; None if neither.

        No name (None or empty) means the default entry.
        """
        if name:
            entry = self._by_name.get(name)
            if entry is not None:
                return entry
        return self.default

    def default_name(self) -> str:
        """The name a client without a preference should use: the default's, else the first."""
        return (self.default or self.entries[0]).name

    def invalid_model(self, name: str | None) -> ProtocolError:
        """The error for a name nothing serves (``invalid_model``, like the real API's)."""
        served = ", ".join(entry.name for entry in self.entries)
        if name:
            message = f'Model "{name}" not found. Models served here: {served}.'
        else:
            message = (
                "No model given, and this server has no default model. "
                f"Models served here: {served}."
            )
        return ProtocolError("invalid_model", message, param="model")

    # --- reporting ----------------------------------------------------------------------------

    def health(self) -> dict[str, dict[str, Any]]:
        """``/health``'s ``models``: each entry's health by name."""
        return {entry.name: entry.health() for entry in self.entries}

    def degraded(self) -> list[str]:
        """The relays whose latest upstream connect failed."""
        return [
            entry.name
            for entry in self.entries
            if entry.upstream is not None and not entry.upstream.ok
        ]

    def secrets(self) -> list[str]:
        """Every provider key the entries hold (relay upstream keys, pipeline provider keys), so
        that the log redacts them as it does our own API keys."""
        found: list[str] = []
        for entry in self.entries:
            if entry.relay_api_key:
                found.append(entry.relay_api_key)
            for name in SECRET_SETTINGS:
                value = getattr(entry.settings, name, None)
                if isinstance(value, str) and value:
                    found.append(value)
        return found

    def describe_lines(self) -> list[str]:
        """A line per entry for the start-up log: ``model 'gpt-realtime' (default): stt ...``."""
        return [f"model {_describe_entry(entry)}" for entry in self.entries]


def _describe_entry(entry: ModelEntry) -> str:
    label = f"{entry.name!r}{' (default)' if entry.default else ''}"
    if entry.relay is not None:
        return f"{label}: relay to {entry.relay.provider} {entry.relay.model}"
    assert entry.services is not None
    stages = ", ".join(f"{stage} {what}" for stage, what in entry.services.describe().items())
    return f"{label}: {stages}"


def _build_entry(
    spec: ModelSpec, settings: Settings, factories: dict[str, tuple[str, ServiceFactory]]
) -> ModelEntry:
    """One entry; a pipeline reuses the factory of an earlier entry with the same stages."""
    common: dict[str, Any] = {"max_sessions": spec.max_sessions, "default": spec.default}
    if spec.relay is not None:
        api_key_env = spec.relay.api_key_env
        return ModelEntry(
            spec.name,
            settings.model_copy(update={"model_name": spec.name}),
            relay=spec.relay,
            relay_api_key=os.environ.get(api_key_env) if api_key_env else None,
            **common,
        )
    assert spec.pipeline is not None
    effective = settings.model_copy(
        update={"model_name": spec.name, **spec.pipeline.settings_update()}
    )
    key = _factory_key(effective)
    if key in factories:
        first, services = factories[key]
        logger.info(f"model {spec.name!r} shares the pipeline services of {first!r}")
    else:
        services = create_service_factory(effective)
        factories[key] = (spec.name, services)
    return ModelEntry(
        spec.name,
        effective,
        services=services,
        session_defaults={
            **policy_session_defaults(effective),
            **spec.pipeline.session_defaults(),
        },
        **common,
    )


def policy_session_defaults(settings: Settings) -> dict[str, Any]:
    """The session defaults a pipeline's reply policy implies: with a soft cap on spoken
    replies, instructions asking for one or two sentences (an entry's own replace them)."""
    if settings.spoken_reply_cap() > 0:
        return {"instructions": SHORT_REPLY_INSTRUCTIONS}
    return {}


def _in_file_terms(message: str) -> str:
    """A provider error in the config file's words: ``REALTIME_LLM_MODEL`` is ``llm_model``
    there, and ``REALTIME_LLM_API_KEY`` is ``llm_api_key_env``."""

    def field(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        return f"{name}_env" if name.endswith("_api_key") else name

    return re.sub(r"\bREALTIME_([A-Z0-9_]+)", field, message)


def _factory_key(settings: Settings) -> str:
    """Equal for settings that make the same service factory (secrets included: only kept in
    memory, as a dictionary key)."""
    values = settings.model_dump(mode="json", exclude=set(SESSION_ONLY_SETTINGS))
    return json.dumps(values, sort_keys=True)
