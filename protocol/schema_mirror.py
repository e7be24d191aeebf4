"""Mirroring the SDK's client-event TypedDicts into types pydantic validates the way the API does.

The schemas are the installed ``openai`` SDK's TypedDicts (``openai.types.realtime.*_param`` for
GA, ``openai.types.beta.realtime.*_param`` for beta). They are not used as they are: a
:class:`SchemaMirror` copies them into equivalent TypedDicts. The mirror

- sets ``__pydantic_config__ = ConfigDict(extra="forbid", strict=True)`` on every TypedDict, so
  unknown fields and wrong JSON types are errors (a TypedDict cannot take
  ``TypeAdapter(config=...)``). Setting it on copies rather than on the SDK's own classes keeps
  this package free of side effects on anything else in the process that uses those classes;
- turns ``Iterable[X]`` / ``Sequence[X]`` into ``list[X]``: pydantic validates ``Iterable`` lazily
  (a ``ValidatorIterator`` that accepts even a string and only fails when consumed), so errors
  inside ``item.content`` would otherwise never surface;
- gives every union that holds objects a :class:`UnionDiscriminator` that picks the member from
  the JSON value (its ``type``, and ``role`` for messages), so a realtime session with a bogus
  field reports ``session.bogus_field`` instead of one error per union member;
- applies the corrections it is given: fields the API documents as nullable although the SDK
  annotation lacks ``None``, and fields the SDK marks optional although the API requires them;
- marks on each copy the optional fields whose ``null`` means "not set" (the rule of
  :mod:`protocol.absent_nulls`, minus the fields a correction covers), which
  :func:`protocol.absent_nulls.drop_absent_nulls` removes from an event before it is validated.

GA and beta each instantiate one mirror with their own corrections (:mod:`protocol.validation`,
:mod:`protocol.beta.schema`); the algorithm exists once, here. :mod:`protocol.schema_errors`
walks the mirrored types to word pydantic's errors the way the API words them.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import typing_extensions
from pydantic import ConfigDict, Discriminator, Tag

from protocol.errors import ProtocolError
from protocol.wording import invalid_type, invalid_value, join, missing

__all__ = [
    "DISCRIMINATING_FIELDS",
    "FieldSet",
    "SchemaMirror",
    "UnionDiscriminator",
    "absent_when_null",
    "discriminator_of",
    "mirrored_hints",
    "sdk_fields",
    "strip_none",
]

FieldSet = frozenset[tuple[type, str]]
"""Fields of SDK TypedDicts, each named by its owner class and its name (the corrections)."""

_STRICT = ConfigDict(extra="forbid", strict=True)
_SCALAR_TAG = "<scalar>"  # tag of the non-object members of a discriminated union
_NO_MATCH_TAG = "<no match>"  # returned when no member fits; pydantic reports union_tag_invalid
DISCRIMINATING_FIELDS = ("type", "role")  # messages share type "message" and differ by role
_ABSENT_WHEN_NULL = "__absent_when_null__"  # set on each mirrored TypedDict: field names

# The typing special forms, subscripted below with types only known at runtime (which a static
# checker cannot follow, hence ``Any``).
_REQUIRED: Any = typing_extensions.Required
_NOT_REQUIRED: Any = typing_extensions.NotRequired
_ANNOTATED: Any = typing.Annotated
_MAKE_TYPEDDICT: Any = typing_extensions.TypedDict


class SchemaMirror:
    """Mirrors SDK type annotations into strict, validatable ones, with a set of corrections.

    ``nullable`` fields also accept ``null``; ``required`` fields must be present;
    ``absent_when_null`` fields (neither of those) are marked on their copy for
    :func:`absent_when_null`. Each SDK TypedDict is mirrored once per instance (cached), so
    recursive and shared types stay shared.
    """

    def __init__(
        self, *, nullable: FieldSet, required: FieldSet, absent_when_null: FieldSet = frozenset()
    ) -> None:
        self._nullable = nullable
        self._required = required
        self._absent_when_null = absent_when_null
        self._cache: dict[type, Any] = {}
        self.absent_when_null: set[tuple[type, str]] = set()
        """The ``absent_when_null`` fields this mirror met and marked (corrections win over it)."""

    def __call__(self, tp: Any) -> Any:
        """The validatable equivalent of an SDK type annotation."""
        origin = typing.get_origin(tp)
        if typing_extensions.is_typeddict(tp):
            return self._typeddict(tp)
        if origin in (Union, types.UnionType):
            return self._union(typing.get_args(tp))
        if origin in (list, Iterable, Sequence):
            (item,) = typing.get_args(tp)
            return types.GenericAlias(list, (self(item),))
        if origin is dict:
            key, value = typing.get_args(tp)
            return types.GenericAlias(dict, (key, self(value)))
        return tp  # str, int, float, bool, object, Literal[...]

    def _typeddict(self, cls: type) -> Any:
        """Copy an SDK TypedDict: mirrored field types, the corrections, the strict config."""
        if cls in self._cache:
            return self._cache[cls]
        fields: dict[str, Any] = {}
        absent: set[str] = set()
        for name, (hint, required) in sdk_fields(cls).items():
            mirrored = self(hint)
            nullable = (cls, name) in self._nullable
            if nullable:
                mirrored = mirrored | None
            required = required or (cls, name) in self._required
            fields[name] = (_REQUIRED if required else _NOT_REQUIRED)[mirrored]
            # A corrected field keeps its correction: null clears it, or null is not "absent".
            if (cls, name) in self._absent_when_null and not (required or nullable):
                absent.add(name)
                self.absent_when_null.add((cls, name))
        mirror = _MAKE_TYPEDDICT(cls.__name__, fields)
        mirror.__pydantic_config__ = _STRICT
        setattr(mirror, _ABSENT_WHEN_NULL, frozenset(absent))
        self._cache[cls] = mirror
        return mirror

    def _union(self, args: tuple[Any, ...]) -> Any:
        """Mirror a union; one that holds objects gets a :class:`UnionDiscriminator`."""
        nullable = type(None) in args
        members = [self(arg) for arg in args if arg is not type(None)]
        objects = [m for m in members if typing_extensions.is_typeddict(m)]
        scalars = [m for m in members if not typing_extensions.is_typeddict(m)]
        if len(members) == 1:
            result = members[0]
        elif not objects or (len(objects) == 1 and not scalars):
            result = _union_of(members)
        else:
            result = _discriminated_union(objects, scalars)
        return result | None if nullable else result


@dataclass(eq=False)
class _ObjectMember:
    """One object (TypedDict) member of a union, with the values its discriminating fields take."""

    tag: str
    schema: Any
    # field name -> (allowed values, whether the field is required); only Literal-typed fields.
    literals: dict[str, tuple[tuple[Any, ...], bool]]

    def accepts(self, value: dict[str, Any], name: str) -> bool:
        """Whether ``value[name]`` (possibly absent) is compatible with this member."""
        if name not in self.literals:
            return True
        allowed, required = self.literals[name]
        return value[name] in allowed if name in value else not required


@dataclass(eq=False)  # compared and hashed by identity: it sits inside typing.Annotated metadata
class UnionDiscriminator:
    """Picks the member of a union for a JSON value, the way the API tells union members apart.

    Objects are matched on ``type`` and then ``role``; anything else goes to the union's
    non-object members (or, if it has none, to its first object member, so pydantic reports
    "expected an object"). When no object member fits, :meth:`error` explains why.
    """

    objects: list[_ObjectMember]
    scalars: Any = None  # the non-object members (a type or a plain Union), if any
    members: dict[str, Any] = field(default_factory=dict)  # tag -> mirrored member type

    @property
    def __name__(self) -> str:  # pydantic names a callable discriminator in its errors
        return "type_and_role"

    def __call__(self, value: Any) -> str:
        if not isinstance(value, dict):
            return _SCALAR_TAG if self.scalars is not None else self.objects[0].tag
        candidates = self.objects
        for name in DISCRIMINATING_FIELDS:
            candidates = [m for m in candidates if m.accepts(value, name)]
        return candidates[0].tag if candidates else _NO_MATCH_TAG

    def error(self, value: dict[str, Any], path: str) -> ProtocolError:
        """The error for an object that matches no member: its first bad discriminating field."""
        candidates = self.objects
        for name in DISCRIMINATING_FIELDS:
            allowed = tuple(
                dict.fromkeys(
                    v for m in candidates if name in m.literals for v in m.literals[name][0]
                )
            )
            matching = [m for m in candidates if m.accepts(value, name)]
            if allowed and not matching:
                param = join(path, name)
                if name not in value:
                    return missing(param)
                if not isinstance(value[name], str):
                    return invalid_type(param, "a string", value[name])
                return invalid_value(param, value[name], allowed)
            candidates = matching
        return ProtocolError("invalid_value", f"Invalid value for '{path}'.", param=path)


def _discriminated_union(objects: list[Any], scalars: list[Any]) -> Any:
    """``Annotated[Union[Annotated[member, Tag], ...], Discriminator]`` for a union with objects."""
    discriminator = UnionDiscriminator(objects=[_object_member(cls) for cls in objects])
    discriminator.members = {member.tag: member.schema for member in discriminator.objects}
    if len(discriminator.members) != len(objects):  # tags are class names; they must differ
        raise RuntimeError(f"ambiguous union members: {[m.tag for m in discriminator.objects]}")
    if scalars:
        discriminator.scalars = _union_of(scalars)
        discriminator.members[_SCALAR_TAG] = discriminator.scalars
    tagged = tuple(_ANNOTATED[tp, Tag(tag)] for tag, tp in discriminator.members.items())
    return _ANNOTATED[_union_of(tagged), Discriminator(discriminator)]


def _union_of(members: Sequence[Any]) -> Any:
    """``members[0] | members[1] | ...``, built at runtime (a single member stays itself)."""
    return functools.reduce(operator.or_, members)


def _object_member(cls: Any) -> _ObjectMember:
    """Describe a mirrored TypedDict as a union member (its tag is its class name)."""
    literals: dict[str, tuple[tuple[Any, ...], bool]] = {}
    hints = mirrored_hints(cls)
    for name in DISCRIMINATING_FIELDS:
        hint = hints.get(name)
        if hint is None:
            continue
        # Every mirrored field is Required[...] or NotRequired[...] around the real type.
        (inner,) = typing.get_args(hint)
        if typing.get_origin(inner) is typing.Literal:
            required = typing.get_origin(hint) is typing_extensions.Required
            literals[name] = (typing.get_args(inner), required)
    return _ObjectMember(tag=cls.__name__, schema=cls, literals=literals)


def sdk_fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """An SDK TypedDict's fields: name -> (annotation without ``Required``/``NotRequired``,
    whether the SDK requires the field)."""
    fields: dict[str, tuple[Any, bool]] = {}
    # include_extras keeps Required[...]: the SDK modules use ``from __future__ import
    # annotations``, which leaves ``cls.__required_keys__`` empty on Python 3.11.
    for name, hint in typing_extensions.get_type_hints(cls, include_extras=True).items():
        wrapper_origin: object = typing.get_origin(hint)
        required = wrapper_origin is typing_extensions.Required or (
            getattr(cls, "__total__", True) and wrapper_origin is not typing_extensions.NotRequired
        )
        if wrapper_origin in (typing_extensions.Required, typing_extensions.NotRequired):
            (hint,) = typing.get_args(hint)
        fields[name] = (hint, required)
    return fields


def absent_when_null(mirrored: Any) -> frozenset[str]:
    """The fields of a mirrored TypedDict whose ``null`` means "not set" (see
    :mod:`protocol.absent_nulls`); empty for anything else."""
    names: frozenset[str] = getattr(mirrored, _ABSENT_WHEN_NULL, frozenset())
    return names


@functools.cache
def mirrored_hints(cls: type) -> dict[str, Any]:
    """The field annotations of a mirrored TypedDict (each ``Required[X]`` / ``NotRequired[X]``)."""
    return typing_extensions.get_type_hints(cls, include_extras=True)


def strip_none(tp: Any) -> Any:
    """``Optional[X]`` -> ``X`` (pydantic's nullable wrapper adds nothing to error locations)."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def discriminator_of(tp: Any) -> UnionDiscriminator | None:
    """The :class:`UnionDiscriminator` of a mirrored discriminated union, else ``None``."""
    for meta in getattr(strip_none(tp), "__metadata__", ()):
        if isinstance(meta, Discriminator) and isinstance(meta.discriminator, UnionDiscriminator):
            return meta.discriminator
    return None
