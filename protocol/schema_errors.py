"""Turning pydantic's validation errors into the one error the Realtime API would send.

pydantic reports every problem it finds, with locations that include union branch tags and in its
own words. The API reports one problem per event: a code (``unknown_parameter``,
``missing_required_parameter``, ``invalid_type``, ``invalid_value``), a message and a ``param``
path such as ``item.content[0].type`` (docs/protocol.md §8). :func:`most_relevant` picks the error
and words it, following each location through the mirrored schema
(:mod:`protocol.schema_mirror`) to find what the field's type allows.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, Union

import typing_extensions
from pydantic_core import ErrorDetails

from protocol.errors import ProtocolError
from protocol.schema_mirror import discriminator_of, mirrored_hints, strip_none
from protocol.wording import invalid_type, invalid_value, join, missing

__all__ = ["most_relevant"]

# pydantic error types that mean "wrong JSON type", and what the API says was expected.
_EXPECTED_JSON_TYPE = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a decimal",
    "bool_type": "a boolean",
    "dict_type": "an object",
    "list_type": "an array",
}


def most_relevant(errors: Sequence[ErrorDetails], schema: Any) -> ProtocolError:
    """Pick one error: the first, unless a plain union offered a better-fitting branch.

    ``schema`` is the mirrored event type the errors were found against. Discriminated unions
    leave one branch; plain unions of scalars (``int | "inf"``, ``str | Literal[...]``) still
    report every branch. For a string input the literal branch is the one the client aimed at, so
    "Invalid value: 'abc'. Supported values are: 'inf'." wins over "expected an integer".
    """
    first_path = _resolve_location(errors[0]["loc"], schema)[0]
    for error in errors[1:]:
        if (
            error["type"] == "literal_error"
            and isinstance(error["input"], str)
            and _resolve_location(error["loc"], schema)[0] == first_path
        ):
            return _translate(error, schema)
    return _translate(errors[0], schema)


def _translate(error: ErrorDetails, schema: Any) -> ProtocolError:
    """Turn one pydantic error into the API's error code, message and param."""
    path, tp = _resolve_location(error["loc"], schema)
    kind, value = error["type"], error["input"]
    if kind == "extra_forbidden":
        return ProtocolError("unknown_parameter", f"Unknown parameter: '{path}'.", param=path)
    if kind == "missing":
        return missing(path)
    discriminator = discriminator_of(tp)
    if kind in ("union_tag_invalid", "union_tag_not_found") and discriminator is not None:
        return discriminator.error(value, path)
    if kind == "literal_error":
        return invalid_value(path, value, _literal_values(tp))
    if kind in _EXPECTED_JSON_TYPE:
        return invalid_type(path, _EXPECTED_JSON_TYPE[kind], value)
    return ProtocolError(
        "invalid_value", f"Invalid value for '{path}': {error['msg']}.", param=path
    )


def _resolve_location(loc: tuple[int | str, ...], schema: Any) -> tuple[str, Any]:
    """Follow a pydantic error location through the schema.

    Returns the API-style path (``item.content[0].type``: dots for fields, brackets for list
    indexes, union branch tags dropped) and the type found at its end (``None`` if unknown).
    """
    path, tp = "", schema
    for part in loc:
        tp, branch = _step_into_union(tp, part)
        if branch:
            continue  # the part was a union branch tag, not a place in the JSON
        if isinstance(part, int):
            path += f"[{part}]"
            tp = _list_item_type(tp)
        else:
            path = join(path, str(part))
            tp = _field_type(tp, str(part))
    return path, tp


def _step_into_union(tp: Any, part: int | str) -> tuple[Any, bool]:
    """If ``tp`` is a union and ``part`` names one of its branches, return that branch."""
    tp = strip_none(tp)
    discriminator = discriminator_of(tp)
    if discriminator is not None:
        if part in discriminator.members:
            return discriminator.members[str(part)], True
        return tp, False
    if typing.get_origin(tp) in (Union, types.UnionType) and isinstance(part, str):
        # A plain union: pydantic labels branches "str", "int", "literal['inf']", "list[str]".
        for member in typing.get_args(tp):
            label = "literal[" if typing.get_origin(member) is Literal else _label(member)
            if part.startswith(label):
                return member, True
        return None, True
    return tp, False


def _label(tp: Any) -> str:
    origin = typing.get_origin(tp) or tp
    return str(getattr(origin, "__name__", repr(origin)))


def _list_item_type(tp: Any) -> Any:
    tp = strip_none(tp)
    return typing.get_args(tp)[0] if typing.get_origin(tp) is list else None


def _field_type(tp: Any, name: str) -> Any:
    """The type of field ``name`` of a TypedDict, or of the values of a ``dict[str, X]``."""
    tp = strip_none(tp)
    if typing.get_origin(tp) is dict:
        return typing.get_args(tp)[1]
    if typing_extensions.is_typeddict(tp):
        hint = mirrored_hints(tp).get(name)
        return typing.get_args(hint)[0] if hint is not None else None
    return None


def _literal_values(tp: Any) -> tuple[Any, ...]:
    tp = strip_none(tp)
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else ()
