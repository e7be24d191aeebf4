"""How the Realtime API words its validation errors, shared by every check in this package.

The schema error translation (:mod:`protocol.schema_errors`), the union discriminator
(:mod:`protocol.schema_mirror`), the GA semantic checks (:mod:`protocol.semantics`) and the beta
checks (:mod:`protocol.beta.checks`) all report the same few kinds of problem; building those
errors in one place is what keeps their codes and messages identical to the real API's
(docs/protocol.md §8).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from protocol.errors import ProtocolError

__all__ = [
    "check_range",
    "invalid_type",
    "invalid_value",
    "join",
    "json_type",
    "missing",
    "show",
]


def missing(param: str) -> ProtocolError:
    """``missing_required_parameter`` for ``param``."""
    return ProtocolError(
        "missing_required_parameter", f"Missing required parameter: '{param}'.", param=param
    )


def invalid_type(param: str, expected: str, value: Any) -> ProtocolError:
    """``invalid_type``: ``expected`` is the API's name of a JSON type (``"a string"``, ...)."""
    return ProtocolError(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
        param=param,
    )


def invalid_value(param: str, value: Any, supported: Iterable[Any]) -> ProtocolError:
    """``invalid_value``, listing the supported values when there are any."""
    listed = ", ".join(show(v) for v in supported)
    message = f"Invalid value: {show(value)}."
    if listed:
        message += f" Supported values are: {listed}."
    return ProtocolError("invalid_value", message, param=param)


def show(value: Any) -> str:
    """A value as it appears in messages: strings in single quotes, the rest as JSON."""
    if isinstance(value, str):
        return f"'{value}'"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def json_type(value: Any) -> str:
    """The JSON type of a parsed value, as the API names it in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def join(path: str, name: str) -> str:
    """``path.name``, or just ``name`` at the top level of the event."""
    return f"{path}.{name}" if path else name


def check_range(
    container: dict[str, Any],
    name: str,
    path: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> None:
    """Check ``container[name]`` against inclusive bounds; absent, null and strings pass.

    Integer bounds give the ``integer_*`` codes, float bounds the ``decimal_*`` ones (the schema
    has already made sure an integer field holds an integer).
    """
    value = container.get(name)
    if value is None or isinstance(value, str):
        return
    param = join(path, name)
    kind = (
        "decimal" if isinstance(minimum if minimum is not None else maximum, float) else "integer"
    )
    if minimum is not None and value < minimum:
        raise ProtocolError(
            f"{kind}_below_min_value",
            f"Invalid '{param}': {kind} below minimum value. Expected a value greater than or "
            f"equal to {minimum}, but got {value} instead.",
            param=param,
        )
    if maximum is not None and value > maximum:
        raise ProtocolError(
            f"{kind}_above_max_value",
            f"Invalid '{param}': {kind} above maximum value. Expected a value less than or "
            f"equal to {maximum}, but got {value} instead.",
            param=param,
        )
