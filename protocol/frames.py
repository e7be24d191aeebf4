"""Decoding one client WebSocket frame into a JSON object, before any schema is looked at.

Both dialects (:mod:`protocol.validation`, :mod:`protocol.beta`) start here, so a frame is parsed
the same way whichever dialect the connection speaks: text frames only, strict JSON (no ``NaN`` or
``Infinity``, no float that overflows), a bounded nesting depth, and an object at the top
(docs/protocol.md §8 for the error codes, §10 for the limits).
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from protocol.errors import ProtocolError
from protocol.wording import json_type

__all__ = ["MAX_NESTING_DEPTH", "decode_frame"]

MAX_NESTING_DEPTH = 64
"""Deeper JSON is refused up front: nothing in the protocol nests that deep, and deep values would
exhaust the stack of every later deep copy of the session."""


def decode_frame(raw: str | bytes) -> dict[str, Any]:
    """Parse the frame's JSON text into an object.

    A frame that is valid JSON but not an object (``[]``, ``"hi"``, ``42``) is reported as
    ``invalid_type`` rather than ``invalid_json``: the text did parse, the value just has the
    wrong type, and that is how the API reports wrong types everywhere else.
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raise ProtocolError(
            "invalid_event", "Expected a text WebSocket message; binary frames are not supported."
        )
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise _invalid_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except ValueError as exc:  # NaN / Infinity (not JSON), or an integer too long to convert
        raise _invalid_json(f"{exc}.") from None
    except RecursionError:
        raise _invalid_json("Nesting too deep.") from None
    if not isinstance(data, dict):
        raise ProtocolError(
            "invalid_type",
            f"Invalid event: expected a JSON object, but got {json_type(data)} instead.",
        )
    if _nesting_depth(data) > MAX_NESTING_DEPTH:
        raise _invalid_json(f"Nesting deeper than {MAX_NESTING_DEPTH} levels is not supported.")
    return data


def _nesting_depth(value: Any) -> int:
    """The depth of nested arrays/objects, computed without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children: Any
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a valid JSON value")


def _invalid_json(detail: str) -> ProtocolError:
    return ProtocolError("invalid_json", f"Invalid event: failed to parse JSON value. {detail}")
