"""``null`` for an optional field means "not set": which fields, and taking them out of an event.

The API reports ``null`` for the optional fields of its own objects, and clients send it back:
LiveKit Agents sends ``"instructions": null`` with every reply, and clients built on pydantic
models dump every unset field as ``null``. The SDK's param TypedDicts, which the schema mirrors,
do not accept ``None`` there; its models (``openai.types.realtime.*``, not ``*_param``: the
session, response and item objects the API returns) declare the same fields ``Optional``. The
rule (docs/protocol.md §2):

    a field is *absent when null* when the SDK's param TypedDict has it optional
    (``NotRequired``) and without ``None``, and the same field of the SDK's model is ``Optional``.

In openai 3.52 every optional field of those models is ``Optional`` (the SDK's generator declares
them so), so the model side keeps nothing out today; it is there for an SDK that declares a field
non-nullable, which the rule would then leave strict. What stays strict is listed below.

:func:`absent_when_null_fields` computes these fields at import, walking each client event's
param TypedDict alongside its model. :class:`~protocol.schema_mirror.SchemaMirror` marks them on
its copies, and :func:`drop_absent_nulls` deletes those keys from an event's data before the
event is validated: the core never sees ``None`` for them, and every other error keeps its path
and wording.

Never absent when null (``null`` keeps the meaning it has, or stays an error):

- fields the SDK param already types ``Optional``: there ``null`` is a value and reaches the core
  as such (``turn_detection`` and ``tracing`` off, ``idle_timeout_ms`` none, ``prompt`` cleared);
- the dialect's nullable corrections (``noise_reduction``, ``transcription``, beta
  ``input_audio_transcription``, ...): ``null`` clears them (the mirror lets a correction win);
- required fields, in the SDK or by correction: ``null`` is ``invalid_type``;
- :data:`~protocol.schema_mirror.DISCRIMINATING_FIELDS` (``type``, ``role``): they say what kind
  of object this is and pick the union member it is validated as; a ``null`` there is a client
  bug to report, not a default to guess (a function tool's ``type`` may be left out, not nulled).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

import typing_extensions
from pydantic import BaseModel

from protocol.schema_mirror import (
    DISCRIMINATING_FIELDS,
    FieldSet,
    absent_when_null,
    discriminator_of,
    mirrored_hints,
    sdk_fields,
    strip_none,
)

__all__ = ["absent_when_null_fields", "drop_absent_nulls"]

_UNIONS = (Union, types.UnionType)
_SEQUENCES = (list, Iterable, Sequence)


def absent_when_null_fields(params: Iterable[type], models: Any) -> FieldSet:
    """The fields of these SDK client event TypedDicts (and of every TypedDict inside them) that
    are absent when null, given ``models``: the SDK's union of the same client events as models."""
    found: set[tuple[type, str]] = set()
    seen: set[tuple[type, type | None]] = set()
    event_models = _models_in(models)
    for param in params:
        _walk(param, _counterpart(param, event_models), found, seen)
    return frozenset(found)


def _walk(
    param: type,
    model: type[BaseModel] | None,
    found: set[tuple[type, str]],
    seen: set[tuple[type, type | None]],
) -> None:
    """Pair ``param``'s fields with ``model``'s, note the absent-when-null ones, go deeper."""
    if (param, model) in seen:
        return
    seen.add((param, model))
    model_fields = model.model_fields if model is not None else {}
    for name, (hint, required) in sdk_fields(param).items():
        counterpart = model_fields.get(name)
        model_hint = counterpart.annotation if counterpart is not None else None
        if (
            not required
            and name not in DISCRIMINATING_FIELDS
            and not _accepts_none(hint)
            and _accepts_none(model_hint)
        ):
            found.add((param, name))
        members = _models_in(model_hint)
        for typed_dict in _typeddicts_in(hint):
            _walk(typed_dict, _counterpart(typed_dict, members), found, seen)


def _counterpart(param: type, models: list[type[BaseModel]]) -> type[BaseModel] | None:
    """The model among ``models`` that describes the same object as the TypedDict ``param``.

    The SDK names them alike (``FooParam`` / ``Foo``); where it does not (a TypedDict with
    item references, the event TypedDicts' own union), the one whose ``type`` and ``role``
    literals fit, if exactly one does.
    """
    name = param.__name__.removesuffix("Param")
    for model in models:
        if model.__name__ == name:
            return model
    fitting = [m for m in models if all(_literals_fit(param, m, f) for f in DISCRIMINATING_FIELDS)]
    return fitting[0] if len(fitting) == 1 else None


def _literals_fit(param: type, model: type[BaseModel], name: str) -> bool:
    """Whether a TypedDict and a model could both hold this ``type``/``role`` value."""
    hint = sdk_fields(param).get(name, (None, False))[0]
    field = model.model_fields.get(name)
    model_hint = field.annotation if field is not None else None
    if typing.get_origin(hint) is not typing.Literal:
        return True
    model_values = typing.get_args(strip_none(model_hint))
    if typing.get_origin(strip_none(model_hint)) is not typing.Literal:
        return True
    return bool(set(typing.get_args(hint)) & set(model_values))


def _accepts_none(tp: Any) -> bool:
    """Whether an annotation allows ``None`` (``Optional[X]``, ``X | None``, possibly Annotated)."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if tp is type(None):
        return True
    return typing.get_origin(tp) in _UNIONS and any(_accepts_none(a) for a in typing.get_args(tp))


def _members(tp: Any) -> list[Any]:
    """The types an annotation may hold, through Annotated, unions, lists and dict values."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _members(args[0])
    if origin in _UNIONS:
        return [member for arg in args for member in _members(arg)]
    if origin in _SEQUENCES and args:
        return _members(args[0])
    if origin is dict and len(args) == 2:
        return _members(args[1])
    return [tp]


def _models_in(tp: Any) -> list[type[BaseModel]]:
    return [m for m in _members(tp) if isinstance(m, type) and issubclass(m, BaseModel)]


def _typeddicts_in(tp: Any) -> list[type]:
    return [m for m in _members(tp) if typing_extensions.is_typeddict(m)]


def drop_absent_nulls(value: Any, tp: Any) -> None:
    """Delete, in place, every absent-when-null key whose value is ``null`` from JSON data.

    ``tp`` is the mirrored type ``value`` is about to be validated as. ``value`` need not be valid:
    only dicts and lists that sit where the schema expects them are entered, a union's member is
    the one its discriminator picks (it reads only ``type`` and ``role``, which are never
    dropped), and anything else is left for validation to report.
    """
    drop = _dropper(tp)
    if drop is not None:
        drop(value)


_Drop = Callable[[Any], None]


@functools.cache
def _dropper(tp: Any) -> _Drop | None:
    """What :func:`drop_absent_nulls` does for values of a mirrored type, worked out once per
    type (an append is validated for every audio chunk); ``None`` where there is nothing to do,
    so only the parts of an event that can hold such a field are walked."""
    tp = strip_none(tp)
    discriminator = discriminator_of(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if discriminator is not None:
        by_tag = {tag: _dropper(member) for tag, member in discriminator.members.items()}
        if not any(by_tag.values()):
            return None
        return lambda value: _call(by_tag.get(discriminator(value)), value)
    if origin in _UNIONS:  # a plain union: at most one member is an object, one an array
        members = [(member, drop) for member in args if (drop := _dropper(member)) is not None]
        if not members:
            return None
        return lambda value: _call(next((d for m, d in members if _holds(m, value)), None), value)
    if origin in (list, dict):
        entry = _dropper(args[-1])
        if entry is None:
            return None
        if origin is list:
            return lambda value: _each(entry, value if isinstance(value, list) else ())
        return lambda value: _each(entry, value.values() if isinstance(value, dict) else ())
    if not typing_extensions.is_typeddict(tp):
        return None
    absent = absent_when_null(tp)
    # Every mirrored field is Required[...] or NotRequired[...] around its type.
    inner = {name: _dropper(typing.get_args(hint)[0]) for name, hint in mirrored_hints(tp).items()}
    nested = {name: drop for name, drop in inner.items() if drop is not None}
    if not absent and not nested:
        return None
    return lambda value: _drop_fields(value, absent, nested)


def _drop_fields(value: Any, absent: frozenset[str], nested: dict[str, _Drop]) -> None:
    if not isinstance(value, dict):
        return
    for name in absent:
        if name in value and value[name] is None:
            del value[name]
    for name, drop in nested.items():
        if name in value:
            drop(value[name])


def _call(drop: _Drop | None, value: Any) -> None:
    if drop is not None:
        drop(value)


def _each(drop: _Drop, values: Iterable[Any]) -> None:
    for value in values:
        drop(value)


def _holds(member: Any, value: Any) -> bool:
    """Whether a plain union member is the object or array kind that ``value`` is."""
    if isinstance(value, dict):
        return typing_extensions.is_typeddict(member) or typing.get_origin(member) is dict
    return isinstance(value, list) and typing.get_origin(member) is list
