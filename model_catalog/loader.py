"""Reading ``--config``: every problem becomes ONE line naming the file, the entry and the field.

Why one line: the server refuses to start on a bad file, and the operator reads the reason in a
terminal or a service log. ``models.yaml: models[1] 'gpt-realtime-openai': relay.provider: must
be one of openai, azure, glm, realtime (got 'opneai')`` says where to look and what to write;
pydantic's multi-line report, or a traceback, does not.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from model_catalog.schema import CatalogConfig, ModelSpec, PipelineSpec, RelaySpec

__all__ = ["CatalogConfigError", "entry_label", "load_catalog_config"]


class CatalogConfigError(Exception):
    """The model list cannot be used; ``str()`` is one line saying where and why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def entry_label(index: int, name: object) -> str:
    """How an entry is named in messages: ``models[1] 'gpt-realtime-openai'``."""
    return f"models[{index}] {name!r}" if isinstance(name, str) else f"models[{index}]"


def load_catalog_config(path: str | Path) -> CatalogConfig:
    """Read and validate a model list.

    Raises:
        CatalogConfigError: the file is missing or unreadable, is not YAML, or breaks the schema
            (:mod:`model_catalog.schema`; also an unset environment variable it names).
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CatalogConfigError(f"{where}: not UTF-8 text") from None
    except OSError as error:
        raise CatalogConfigError(f"{where}: cannot read it: {error.strerror or error}") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise CatalogConfigError(f"{where}: {_yaml_problem(error)}") from None
    if not isinstance(data, dict):
        raise CatalogConfigError(
            f"{where}: expected a mapping with a 'models' list (see docs/models.example.yaml)"
        )
    try:
        return CatalogConfig.model_validate(data)
    except ValidationError as error:
        problems = error.errors()
        line = f"{where}: {_describe(problems[0], data)}"
        if len(problems) > 1:
            more = len(problems) - 1
            line += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise CatalogConfigError(line) from None


# --- YAML ----------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (YAML would keep the last
    silently: a second ``pipeline:`` would replace the first)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        if mark is not None:
            return f"line {mark.line + 1}, column {mark.column + 1}: YAML: {problem}"
        return f"YAML: {problem}"
    return f"YAML: {error}"


# --- schema errors -------------------------------------------------------------------------------

_NESTED: dict[str, type[BaseModel]] = {"pipeline": PipelineSpec, "relay": RelaySpec}


def _describe(error: ErrorDetails, data: dict[str, Any]) -> str:
    """``models[1] 'name': relay.provider: <what is wrong>`` for one pydantic error."""
    loc: list[int | str] = list(error["loc"])
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("loc"), tuple):
        loc.extend(ctx["loc"])  # a check of a whole object, about one of its parts
    parts: list[str] = []
    if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
        index = loc[1]
        models = data.get("models")
        entry = models[index] if isinstance(models, list) and index < len(models) else None
        parts.append(entry_label(index, entry.get("name") if isinstance(entry, dict) else None))
        field = loc[2:]
    else:
        field = loc
    if field:
        parts.append(".".join(str(part) for part in field))
    parts.append(_message(error, loc))
    return ": ".join(parts)


def _message(error: ErrorDetails, loc: list[int | str]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return _unknown_field(loc)
    if kind in ("model_type", "dict_type"):
        return "must be a mapping" + (f" (got {value!r})" if _scalar(value) else "")
    if kind == "too_short" and loc == ["models"]:
        return "list at least one model"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
        return f"must be one of {', '.join(expected)} (got {value!r})"
    message = error["msg"].removeprefix("Value error, ")
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
        if _scalar(value):
            message += f" (got {value!r})"
    return message


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _unknown_field(loc: list[int | str]) -> str:
    known = [
        name
        for name, field in _model_at(loc[:-1]).model_fields.items()
        if not field.exclude  # the literal-secret traps are not suggested
    ]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(known)}"
    return f"unknown field ({hint})"


def _model_at(loc: list[int | str]) -> type[BaseModel]:
    """The schema class of the object at ``loc`` (the parent of an unknown field)."""
    if not loc:
        return CatalogConfig
    last = loc[-1]
    if isinstance(last, int):
        return ModelSpec
    return _NESTED.get(last, ModelSpec)
