"""Fuzzing a live mock session with thousands of generated and mutated client events.

Hypothesis generates ``FUZZ_EVENTS`` frames (3000 by default): valid GA client events of every type
taken from a corpus and mutated (fields dropped, added, retyped, replaced with edge values, huge
values, unicode with lone surrogates / RTL / emoji, deep nesting), plus unknown types, invalid JSON,
non-object JSON, binary frames, bad ``event_id`` types, bad base64 and odd-length PCM. They are sent
to a live server in batches of ``BATCH`` over a new connection every ``EVENTS_PER_SESSION``.

The oracle for each frame is the server's own validator run in the test process
(``protocol.validation.parse_client_event``), cross-checked against frames that are invalid by
construction:

- a frame the validator rejects must get exactly one ``error`` event from the live server, with the
  same code and param, echoing the frame's ``event_id`` (frames whose id cannot be read -- invalid
  JSON, binary, non-object, non-string ``event_id`` -- must get an error with ``event_id`` null);
- a frame the validator accepts may still get one error (item not found, already active...), never
  more, and the session must stay usable; a few it accepts must be rejected in any state (bad
  base64 inside a created item, a WebRTC-only event, cancelling a response that never existed);
- frames with very deep nesting may be handled either way (the server's parser runs deeper in the
  stack than ours), but must get a reply and must not break the session.

Each batch ends with a probe event that always fails (retrieving an absent item): once its error
arrives, every reply to the batch has arrived. Every server frame must be strict JSON and validate
under the SDK's strict union. After each session's last batch, a normal text turn must still work
in the same session, and at the end the server log must hold no traceback or ERROR line.

``FUZZ_SEED`` and ``FUZZ_EVENTS`` (environment) reproduce or resize a run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed

from protocol.errors import ProtocolError
from protocol.validation import CLIENT_EVENT_TYPES, MAX_AUDIO_APPEND_BYTES, parse_client_event
from tests.conftest import ROOT, ServerProcess
from tests.realtime_client import RealtimeTestClient, sdk_client, validate_server_event

pytestmark = pytest.mark.timeout(240)

FUZZ_EVENTS = int(os.environ.get("FUZZ_EVENTS", "3000"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", str(random.randrange(2**32))))
EVENTS_PER_SESSION = 500
BATCH = 50
DRAIN_TIMEOUT = 30.0
TURN_TIMEOUT = 15.0
CONNECT_TIMEOUT = 10.0
MAX_REPLAYS = BATCH  # frames replayed one by one to find the one that killed a connection
REPLAY_TIMEOUT = 5.0

PROBE_ITEM = "fuzz_probe_absent_item"
PROBLEM_LINE = re.compile(
    r"Traceback|Exception in ASGI|^ERROR:|\|\s*(ERROR|CRITICAL)\s*\||Task exception was never"
)


# ------------------------------------------------------------------------------------------------
# Frames
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawJSON:
    """JSON text spliced in as is (numbers Python cannot round-trip, very deep nesting)."""

    text: str
    deep: bool = False


@dataclass
class Case:
    """One generated frame, before its event_id is assigned."""

    kind: str
    body: Any = None  # a JSON value (may contain RawJSON); the event_id goes in if it is a dict
    raw: str | bytes | None = None  # or a frame sent exactly as is
    set_id: bool = True  # False: the body carries its own (bad) event_id or none
    must_fail: bool = False  # invalid by construction, whatever the validator says
    ascii_only: bool = True
    id_suffix: str = ""
    lenient: bool = False  # deep nesting: the reply may differ from the in-process validator's
    must_error: bool = False  # schema-valid, but the server must reject it whatever its state


@dataclass
class Frame:
    """A frame ready to send, with what the oracle expects of the live server."""

    index: int
    kind: str
    payload: str | bytes
    event_id: str | None  # the id we put on it (None: no string id)
    expect_error: bool
    expect_code: str | None = None
    expect_param: str | None = None
    expect_echo: bool = False  # the error must carry event_id (else: event_id null)
    lenient: bool = False
    must_error: bool = False


_MARK = "\ue000RAW{}\ue000"


def _with_marks(value: Any, raws: list[RawJSON]) -> Any:
    if isinstance(value, RawJSON):
        raws.append(value)
        return _MARK.format(len(raws) - 1)
    if isinstance(value, dict):
        return {k: _with_marks(v, raws) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_marks(v, raws) for v in value]
    return value


def serialize(value: Any, ascii_only: bool) -> tuple[str, bool]:
    """JSON text of ``value`` with its RawJSON pieces spliced in; also whether any is deep."""
    raws: list[RawJSON] = []
    text = json.dumps(_with_marks(value, raws), ensure_ascii=ascii_only)
    for number, raw in enumerate(raws):
        mark = json.dumps(_MARK.format(number), ensure_ascii=ascii_only)
        text = text.replace(mark, raw.text, 1)
    return text, any(raw.deep for raw in raws)


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def build_frame(index: int, case: Case) -> Frame:
    """Give a case its unique event_id, serialise it and ask the oracle what must happen."""
    event_id: str | None = None
    lenient = False
    if case.raw is not None:
        payload: str | bytes = case.raw
    else:
        body = case.body
        if case.set_id and isinstance(body, dict):
            event_id = f"fz{index}{case.id_suffix}"
            body = {"event_id": event_id, **{k: v for k, v in body.items() if k != "event_id"}}
        elif isinstance(body, dict) and isinstance(body.get("event_id"), str):
            event_id = body["event_id"]
        payload, lenient = serialize(body, True)
        if not case.ascii_only:
            text, _ = serialize(body, False)
            if _utf8_ok(text):
                payload = text
    lenient = lenient or case.lenient
    frame = Frame(index, case.kind, payload, event_id, False, lenient=lenient)
    frame.must_error = case.must_error
    try:
        parse_client_event(payload)
    except ProtocolError as error:
        frame.expect_error = True
        frame.expect_code, frame.expect_param = error.code, error.param
        frame.expect_echo = error.event_id is not None
        assert error.event_id in (None, event_id)
    if case.must_fail and not frame.expect_error:
        raise AssertionError(f"the validator accepts an invalid frame ({case.kind}): {payload!r}")
    return frame


# ------------------------------------------------------------------------------------------------
# The corpus: valid GA client events of every type
# ------------------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


AUDIO_100MS = b64(bytes(4800))
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "create_response": True,
    "interrupt_response": True,
}


# Top-level fields of each GA client event (besides type and event_id): (required, optional).
TOP_LEVEL: dict[str, tuple[set[str], set[str]]] = {
    "session.update": ({"session"}, set()),
    "input_audio_buffer.append": ({"audio"}, set()),
    "input_audio_buffer.commit": (set(), set()),
    "input_audio_buffer.clear": (set(), set()),
    "conversation.item.create": ({"item"}, {"previous_item_id"}),
    "conversation.item.retrieve": ({"item_id"}, set()),
    "conversation.item.truncate": ({"item_id", "content_index", "audio_end_ms"}, set()),
    "conversation.item.delete": ({"item_id"}, set()),
    "response.create": (set(), {"response"}),
    "response.cancel": (set(), {"response_id"}),
    "output_audio_buffer.clear": (set(), set()),
}


def invalid_at_top_level(event: dict[str, Any]) -> bool:
    """Whether the event is invalid by its type and top-level fields alone."""
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in TOP_LEVEL:
        return True
    required, optional = TOP_LEVEL[kind]
    present = set(event) - {"type", "event_id"}
    return bool(required - present or present - required - optional)


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


# idle_timeout_ms is deliberately absent: small values make the server answer itself in a loop
# (see test_idle_timeout_zero_does_not_make_a_response_storm), which would swamp the fuzz run.
CORPUS: list[dict[str, Any]] = [
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": "Be brief.",
            "output_modalities": ["text"],
            "tools": [TOOL],
            "tool_choice": "auto",
            "max_output_tokens": 256,
            "truncation": "auto",
        },
    },
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "noise_reduction": {"type": "near_field"},
                    "transcription": {"model": "whisper-1", "language": "en", "prompt": ""},
                    "turn_detection": SERVER_VAD,
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy", "speed": 1.0},
            },
        },
    },
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {
                "input": {
                    "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
                    "noise_reduction": None,
                    "transcription": None,
                }
            },
            "tool_choice": {"type": "function", "name": "get_weather"},
            "tools": [],
            "instructions": "",
            "max_output_tokens": "inf",
            "output_modalities": ["text"],
        },
    },
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {"input": {"turn_detection": None, "format": {"type": "audio/pcma"}}},
            "tracing": "auto",
            "include": ["item.input_audio_transcription.logprobs"],
            "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
        },
    },
    {"type": "input_audio_buffer.append", "audio": AUDIO_100MS},
    {"type": "input_audio_buffer.append", "audio": ""},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.create", "item": _user("Hello there")},
    {
        "type": "conversation.item.create",
        "previous_item_id": "root",
        "item": {
            "id": "fz_item_1",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": AUDIO_100MS, "transcript": "hi"}],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hi! How can I help?"}],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Speak French."}],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call",
            "call_id": "call_fz",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
    },
    {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_fz", "output": '{"temp": 21}'},
    },
    {"type": "conversation.item.retrieve", "item_id": "fz_item_1"},
    {
        "type": "conversation.item.truncate",
        "item_id": "fz_item_1",
        "content_index": 0,
        "audio_end_ms": 50,
    },
    {"type": "conversation.item.delete", "item_id": "fz_item_1"},
    {"type": "response.create"},
    {
        "type": "response.create",
        "response": {
            "output_modalities": ["text"],
            "instructions": "Answer briefly.",
            "max_output_tokens": 64,
            "metadata": {"topic": "fuzz"},
            "tool_choice": "none",
        },
    },
    {
        "type": "response.create",
        "response": {
            "conversation": "none",
            "input": [{"type": "item_reference", "id": "fz_item_1"}, _user("Summarize.")],
            "output_modalities": ["text"],
        },
    },
    {
        "type": "response.create",
        "response": {
            "output_modalities": ["audio"],
            "max_output_tokens": 16,
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
        },
    },
    {"type": "response.cancel"},
    {"type": "response.cancel", "response_id": "resp_fz"},
    {"type": "output_audio_buffer.clear"},
]

# ------------------------------------------------------------------------------------------------
# Strategies
# ------------------------------------------------------------------------------------------------

SPECIAL_STRINGS = [
    "",
    " ",
    "\x00",
    "\ud800",
    "\udfff",
    "\ud83d",
    "a\udc00b",
    "\u202eevil RTL override",
    "مرحبا بالعالم",
    "שלום עולם",
    "😀",
    "👩‍👩‍👧‍👦",
    "\u200b\u200d",
    "\ufeffBOM",
    "\uffff\ufffe",
    "e\u0301\u0301\u0301",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "\\",
    '"',
    "\n\r\t",
    "%s%n{}",
    "<script>alert(1)</script>",
    "null",
    "0",
    "NaN",
    "inf",
    "auto",
    "none",
    "required",
    "realtime",
    "transcription",
    "message",
    "text",
    "root",
    "fz_item_1",
    "call_fz",
    "get_weather",
    "server_vad",
    "audio/pcmu",
]
TEXTS = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(categories=["Cs", "Cf", "Co", "So", "Mn"]), max_size=6),
    st.sampled_from(SPECIAL_STRINGS),
    st.lists(st.sampled_from(SPECIAL_STRINGS), min_size=2, max_size=4).map("".join),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXTS,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
    max_leaves=8,
)
EDGE_VALUES = st.sampled_from(
    [
        0,
        -1,
        1,
        2**31 - 1,
        2**31,
        2**53 + 1,
        2**63 - 1,
        2**63,
        -(2**63) - 1,
        2**64,
        10**30,
        -(10**30),
        -0.0,
        5e-324,
        1e308,
        -1e308,
        0.5,
        1.5,
        4096,
        4097,
        24000,
        True,
        False,
        None,
        "",
        [],
        {},
        [[]],
        {"": None},
        RawJSON("1e999"),
        RawJSON("-1e999"),
        RawJSON("1E400"),
        RawJSON("0.1e-999"),
        RawJSON("-0"),
        RawJSON("9" * 400),
        RawJSON("9" * 4301),
    ]
)
# Shared containers: callers deep-copy what they draw before mutating anything around it.
WRONG_TYPES = st.sampled_from([None, True, 0, -1, 1.5, "", "x", [], {}, [1], {"a": 1}])


def deep_json(depth: int, opener: str) -> RawJSON:
    """``depth`` levels of nested arrays (``[``) or objects (``{``), built as text."""
    arrays = "[" * depth + "]" * depth
    objects = '{"a":' * depth + "1" + "}" * depth
    return RawJSON(arrays if opener == "[" else objects, deep=depth >= 100)


DEPTHS = st.one_of(
    st.sampled_from([2, 50, 200, 450, 600, 800, 950, 1200, 2000, 5000]), st.integers(1, 3000)
)
DEEP_VALUES = st.builds(deep_json, DEPTHS, st.sampled_from(["[", "{"]))
HUGE_STRINGS = st.builds(
    lambda unit, n: (unit * n)[:n],
    st.sampled_from(["x", "😀", "\u202eش", "a\ud800", "AAAA"]),
    st.sampled_from([5_000, 60_000, 300_000, 1_000_000]),
)
HUGE_VALUES = st.one_of(
    HUGE_STRINGS,
    st.builds(lambda n: list(range(n)), st.sampled_from([1_000, 20_000])),
    st.builds(lambda n: {f"k{i}": i for i in range(n)}, st.sampled_from([100, 5_000])),
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(event: dict[str, Any], path: tuple[Any, ...], new: Any) -> None:
    _get(event, path[:-1])[path[-1]] = new


def _in_text_path(path: tuple[Any, ...]) -> bool:
    """Whether a huge string here would be read back by the model (and spoken by the mock TTS)."""
    return any(part in ("content", "input", "text", "output") for part in path)


ID_SUFFIXES = st.sampled_from(["", "", "", "", "_\ud800", "_😀", "_\u202eلا", "_\x00", "_שלום"])

MUTATIONS = [
    "drop",
    "add",
    "replace_any",
    "wrong_type",
    "edge",
    "text",
    "huge",
    "deep",
    "wrap",
    "type",
]


@st.composite
def mutated_events(draw: st.DrawFn) -> Case:
    event = copy.deepcopy(draw(st.sampled_from(CORPUS)))
    applied: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(event) if p]  # the root itself is never replaced
        if not paths:
            break
        op = draw(st.sampled_from(MUTATIONS))
        path = draw(st.sampled_from(paths))
        parent = _get(event, path[:-1])
        if op == "drop":
            del parent[path[-1]]
        elif op == "add":
            target_path = draw(st.sampled_from([(), *paths]))
            target = _get(event, target_path)
            if not isinstance(target, dict):
                continue
            key = draw(st.one_of(TEXTS, st.just("bogus_field")))
            if key in target or (target_path == () and key == "event_id"):
                continue
            target[key] = draw(JSON_VALUES)
        elif op == "replace_any":
            parent[path[-1]] = draw(JSON_VALUES)
        elif op == "wrong_type":
            parent[path[-1]] = copy.deepcopy(draw(WRONG_TYPES))
        elif op == "edge":
            parent[path[-1]] = copy.deepcopy(draw(EDGE_VALUES))
        elif op == "text":
            parent[path[-1]] = draw(TEXTS)
        elif op == "huge":
            huge = draw(HUGE_VALUES)
            if isinstance(huge, str) and _in_text_path(path):
                huge = huge[:5_000]
            parent[path[-1]] = huge
        elif op == "deep":
            parent[path[-1]] = draw(DEEP_VALUES)
        elif op == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        else:  # another event's type: the fields no longer fit
            event["type"] = draw(st.sampled_from(CLIENT_EVENT_TYPES))
        applied.append(op)
    return Case(
        kind=f"mutated[{'+'.join(applied) or 'none'}]",
        body=event,
        must_fail=invalid_at_top_level(event),
        ascii_only=draw(st.booleans()),
        id_suffix=draw(ID_SUFFIXES),
    )


def always_rejected(event: dict[str, Any]) -> bool:
    """Corpus events the server must reject in any state: a WebRTC-only event, truncating an item
    no client can make truncatable (fz_item_1 is a user item), cancelling a response that never
    existed."""
    return (
        event["type"] == "output_audio_buffer.clear"
        or event["type"] == "conversation.item.truncate"
        or event.get("response_id") == "resp_fz"
    )


@st.composite
def valid_events(draw: st.DrawFn) -> Case:
    event = copy.deepcopy(draw(st.sampled_from(CORPUS)))
    return Case(
        kind="valid",
        body=event,
        ascii_only=draw(st.booleans()),
        id_suffix=draw(ID_SUFFIXES),
        must_error=always_rejected(event),
    )


UNKNOWN_TYPES = st.one_of(
    TEXTS.filter(lambda t: t not in CLIENT_EVENT_TYPES),
    st.sampled_from(
        [
            "transcription_session.update",
            "session.create",
            "Session.Update",
            "session.update ",
            "response.audio.delta",
            "input_audio_buffer",
            "conversation.item.created",
        ]
    ),
)


@st.composite
def unknown_types(draw: st.DrawFn) -> Case:
    body = draw(st.dictionaries(TEXTS, JSON_VALUES, max_size=3))
    body.pop("event_id", None)
    choice = draw(st.sampled_from(["unknown", "non_string", "missing"]))
    if choice == "unknown":
        body["type"] = draw(UNKNOWN_TYPES)
    elif choice == "non_string":
        body["type"] = draw(st.one_of(WRONG_TYPES.filter(lambda v: not isinstance(v, str))))
    else:
        body.pop("type", None)
    return Case(kind=f"type:{choice}", body=body, must_fail=True, id_suffix=draw(ID_SUFFIXES))


@st.composite
def bad_event_ids(draw: st.DrawFn) -> Case:
    body = copy.deepcopy(draw(st.sampled_from(CORPUS)))
    # null is no wrong type: an optional field's null means "not set" (docs/protocol.md §2).
    body["event_id"] = draw(WRONG_TYPES.filter(lambda v: not isinstance(v, str) and v is not None))
    return Case(kind="event_id:wrong_type", body=body, set_id=False, must_fail=True)


def _invalid_json_texts() -> st.SearchStrategy[str]:
    def not_json(text: str) -> bool:
        try:
            json.loads(text)
        except ValueError:
            return True
        return False

    valid = st.sampled_from(CORPUS).map(json.dumps)
    return st.one_of(
        st.text(max_size=40).filter(not_json),
        st.sampled_from(
            [
                "",
                "{",
                "}",
                "nul",
                "{'type': 'response.create'}",
                '{"type": "response.create",}',
                '{"type": "response.create"} {"type": "response.create"}',
                '{"type": NaN}',
                '{"type": "response.create", "x": Infinity}',
                '{"type": "response.create", "x": -Infinity}',
                '{"type": "response.create" /* comment */}',
                '{"type": "\\ud800',
                '{"type": "\\x41"}',
                '{"type": "response.create", "n": 0x10}',
                '{"type": "response.create", "n": 01}',
                '{"type": "response.create", "n": ' + "9" * 4301 + "}",
                "\ufeff{}",
            ]
        ),
        st.builds(
            lambda text, cut: text[: max(1, len(text) * cut // 100)], valid, st.integers(1, 99)
        ),
    )


@st.composite
def raw_frames(draw: st.DrawFn) -> Case:
    choice = draw(st.sampled_from(["invalid_json", "binary", "not_object", "deep_toplevel"]))
    if choice == "invalid_json":
        raw: str | bytes = draw(_invalid_json_texts())
    elif choice == "binary":
        raw = draw(
            st.one_of(
                st.binary(max_size=64),
                st.sampled_from(CORPUS).map(lambda e: json.dumps(e).encode()),
            )
        )
    elif choice == "not_object":
        value = draw(st.one_of(SCALARS, st.lists(JSON_VALUES, max_size=4)))
        raw, _ = serialize(value, True)
    else:
        deep = deep_json(draw(DEPTHS), draw(st.sampled_from(["[", "{"])))
        return Case(kind=f"raw:{choice}", raw=deep.text, must_fail=True, lenient=deep.deep)
    return Case(kind=f"raw:{choice}", raw=raw, must_fail=True)


BAD_BASE64 = st.one_of(
    st.sampled_from(["abc", "AAA=A", "AA AA", "AAAA\n", "ÄAAA", "A", "====", "AA==AA==", "-_-_"]),
    st.binary(min_size=1, max_size=30)
    .map(lambda b: b64(b).rstrip("="))
    .filter(lambda s: len(s) % 4 != 0),
    TEXTS.filter(lambda t: t != "" and not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", t)),
)


AUDIO_CHOICES = ["bad_base64"] * 3 + ["odd_pcm"] * 3 + ["random_pcm", "item"] * 2 + ["big_append"]


@st.composite
def audio_events(draw: st.DrawFn) -> Case:
    choice = draw(st.sampled_from(AUDIO_CHOICES))
    must_fail = False
    if choice == "bad_base64":
        audio = draw(BAD_BASE64)
        must_fail = True
    elif choice == "odd_pcm":
        audio = b64(draw(st.binary(min_size=1, max_size=9601).filter(lambda b: len(b) % 2)))
    elif choice == "random_pcm":
        size = draw(st.sampled_from([2, 480, 4800, 48000]))
        audio = b64(draw(st.sampled_from([bytes(size), random.Random(size).randbytes(size)])))
    elif choice == "big_append":
        audio = b64(bytes(draw(st.sampled_from([64, 256, 1024, 4096])) * 1024 + 1))
    else:
        audio = draw(st.one_of(BAD_BASE64, st.binary(max_size=99).map(b64)))
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": audio}],
        }
        body = {"type": "conversation.item.create", "item": item}
        bad = not re.fullmatch(
            r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", audio
        )
        return Case(kind="audio:item_create", body=body, must_error=bad)
    body = {"type": "input_audio_buffer.append", "audio": audio}
    return Case(kind=f"audio:{choice}", body=body, must_fail=must_fail)


@st.composite
def huge_frames(draw: st.DrawFn) -> Case:
    choice = draw(st.sampled_from(["unknown_keys", "huge_unknown_type", "huge_instructions"]))
    if choice == "unknown_keys":
        body: dict[str, Any] = {"type": "input_audio_buffer.clear"}
        body.update({f"k{i}": i for i in range(draw(st.sampled_from([100, 10_000])))})
        return Case(kind="huge:unknown_keys", body=body, must_fail=True)
    if choice == "huge_unknown_type":
        body = {"type": "x" * draw(st.sampled_from([10_000, 2_000_000]))}
        return Case(kind="huge:type", body=body, must_fail=True)
    session = {"type": "realtime", "instructions": draw(HUGE_STRINGS)}
    return Case(kind="huge:instructions", body={"type": "session.update", "session": session})


NON_FINITE = st.sampled_from([RawJSON("1e999"), RawJSON("-1e999")])


@st.composite
def free_form_fields(draw: st.DrawFn) -> Case:
    """Where the schema takes any JSON (tool parameters, tracing metadata): deep nesting, numbers
    that overflow a double, or any other JSON value."""
    value = draw(st.one_of(DEEP_VALUES, DEEP_VALUES, NON_FINITE, JSON_VALUES))
    tool = {**TOOL, "parameters": {"type": "object", "x": value}}
    where = draw(st.sampled_from(["session_tools", "response_tools", "tracing"]))
    if where == "session_tools":
        body = {"type": "session.update", "session": {"type": "realtime", "tools": [tool]}}
    elif where == "response_tools":
        response = {"conversation": "none", "output_modalities": ["text"], "tools": [tool]}
        body = {"type": "response.create", "response": response}
    else:
        tracing = {"workflow_name": "fuzz", "metadata": {"x": value}}
        body = {"type": "session.update", "session": {"type": "realtime", "tracing": tracing}}
    return Case(kind=f"free_form:{where}", body=body)


CASES = st.one_of(
    mutated_events(),
    mutated_events(),
    mutated_events(),
    mutated_events(),
    mutated_events(),
    valid_events(),
    unknown_types(),
    bad_event_ids(),
    raw_frames(),
    raw_frames(),
    audio_events(),
    audio_events(),
    huge_frames(),
    free_form_fields(),
    st.builds(
        lambda depth, opener, event: Case(
            kind="deep:value",
            body={**event, "deep_field": deep_json(depth, opener)},
        ),
        DEPTHS,
        st.sampled_from(["[", "{"]),
        st.sampled_from(CORPUS),
    ),
)


def generate_cases(count: int, seed: int) -> list[Case]:
    """``count`` cases drawn by hypothesis (its generate phase only: no shrinking, no database)."""
    cases: list[Case] = []

    @hypothesis.seed(seed)
    @settings(
        max_examples=count,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(CASES)
    def collect(case: Case) -> None:
        cases.append(case)

    collect()
    return cases


# ------------------------------------------------------------------------------------------------
# The live side
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerProcess]:
    """A mock server of our own, so its log holds only what the fuzzing did."""
    process = ServerProcess()
    yield process
    process.stop()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


@dataclass
class Report:
    """What a fuzz run found, accumulated across sessions."""

    failures: list[tuple[str, str]] = field(default_factory=list)
    sent: int = 0  # fuzz frames written to a socket (probes and replays not counted)
    checked: int = 0  # ... whose replies were checked against the oracle
    killers: list[str] = field(default_factory=list)
    frames_by_kind: Counter[str] = field(default_factory=Counter)
    error_codes: Counter[str] = field(default_factory=Counter)
    stateful_errors: Counter[str] = field(default_factory=Counter)
    server_events: int = 0
    sessions: int = 0
    turns_ok: int = 0

    def fail(self, category: str, message: str) -> None:
        self.failures.append((category, message[:3000]))

    def summary(self, per_category: int = 3) -> str:
        counts = Counter(category for category, _ in self.failures)
        lines = [f"{len(self.failures)} problems: {dict(counts)}"]
        for category in counts:
            shown = [m for c, m in self.failures if c == category][:per_category]
            lines += [f"[{category}] {message}" for message in shown]
        return "\n".join(lines)


class Live:
    """One fuzzed connection: receives, validates and books every server event."""

    def __init__(self, rt: RealtimeTestClient, report: Report) -> None:
        self.rt = rt
        self.report = report
        self.active: set[str] = set()

    async def recv(self, timeout: float) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.rt.connection.recv_bytes(), timeout)
        try:
            event = json.loads(raw, parse_constant=_reject_constant)
        except ValueError as exc:
            event = json.loads(raw)
            self.report.fail(
                "non-strict JSON from the server",
                f"server frame is not strict JSON ({exc}): {raw[:300]!r}",
            )
        try:
            validate_server_event(event)
            self.rt.invariants.check(event)
        except (ValidationError, AssertionError) as exc:
            self.report.fail(
                "invalid server event",
                f"server event {event.get('type')} is invalid: {exc}\n{raw[:500]!r}",
            )
        self.report.server_events += 1
        kind = event.get("type")
        if kind == "response.created":
            self.active.add(event["response"]["id"])
        elif kind == "response.done":
            self.active.discard(event["response"]["id"])
        return event

    async def send(self, payload: str | bytes) -> None:
        await asyncio.wait_for(self.rt.send_raw(payload), 30)


async def open_live(base_url: str, report: Report, manual: bool) -> Live:
    manager = sdk_client(base_url).realtime.connect(model="gpt-realtime")
    connection = await asyncio.wait_for(manager.enter(), CONNECT_TIMEOUT)
    live = Live(RealtimeTestClient(connection), report)
    created = await live.recv(TURN_TIMEOUT)
    assert created["type"] == "session.created"
    # Text replies keep every response short; odd sessions turn server VAD off.
    session: dict[str, Any] = {"type": "realtime", "output_modalities": ["text"]}
    if manual:
        session["audio"] = {"input": {"turn_detection": None}}
    await live.send(json.dumps({"type": "session.update", "session": session}))
    await _until(live, lambda e: e["type"] == "session.updated", TURN_TIMEOUT)
    report.sessions += 1
    return live


async def close_live(live: Live) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(live.rt.connection.close(), 5)


async def _until(live: Live, predicate: Any, timeout: float) -> list[dict[str, Any]]:
    """Events up to the first that satisfies ``predicate``; TimeoutError after ``timeout`` s.

    A deadline rather than ``asyncio.timeout`` around ``wait_for``: on Python 3.11 that pair can
    swallow the outer cancellation while events keep streaming in.
    """
    deadline = time.monotonic() + timeout
    events = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no matching event within {timeout:g} s")
        event = await live.recv(remaining)
        events.append(event)
        if predicate(event):
            return events


def _describe(frame: Frame) -> str:
    payload = frame.payload
    shown = payload[:200] if len(payload) <= 400 else payload[:200] + f"... ({len(payload)} long)"
    return f"#{frame.index} {frame.kind} id={frame.event_id!r}: {shown!r}"


async def run_batch(
    live: Live,
    frames: list[Frame],
    probe_id: str,
    errors: list[dict[str, Any]],
    timeout: float = DRAIN_TIMEOUT,
) -> None:
    """Send the frames and a probe; collect into ``errors`` the errors that precede the probe's."""
    for frame in frames:
        await live.send(frame.payload)
    probe = {"type": "conversation.item.retrieve", "item_id": PROBE_ITEM, "event_id": probe_id}
    await live.send(json.dumps(probe))

    def collect(event: dict[str, Any]) -> bool:
        if event["type"] != "error":
            return False
        if event["error"]["event_id"] == probe_id:
            assert event["error"]["code"] == "item_not_found", event
            return True
        errors.append(event["error"])
        return False

    await _until(live, collect, timeout)


def check_batch(frames: list[Frame], errors: list[dict[str, Any]], report: Report) -> None:
    """Hold the live errors of a batch against the oracle."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    null_codes: Counter[str | None] = Counter()
    for error in errors:
        report.error_codes[str(error["code"])] += 1
        assert error["message"], error
        if error["event_id"] is None:
            null_codes[error["code"]] += 1
        else:
            by_id.setdefault(error["event_id"], []).append(error)
    expected_null: Counter[str | None] = Counter()
    lenient_unmatched = 0
    for frame in frames:
        got = by_id.pop(frame.event_id, []) if frame.event_id is not None else []
        if len(got) > 1:
            report.fail(
                "several errors for one frame",
                f"{len(got)} errors for one frame {_describe(frame)}: {got}",
            )
        if frame.lenient:
            lenient_unmatched += not got
        elif frame.expect_error and frame.expect_echo:
            if not got:
                report.fail(
                    "no error for an invalid frame",
                    f"no error for invalid frame {_describe(frame)}",
                )
            elif (got[0]["code"], got[0]["param"]) != (frame.expect_code, frame.expect_param):
                report.fail(
                    "error differs from the validator's",
                    f"error {got[0]['code']}/{got[0]['param']} instead of "
                    f"{frame.expect_code}/{frame.expect_param} for {_describe(frame)}",
                )
        elif frame.expect_error:
            if got:
                report.fail(
                    "unexpected event_id echo",
                    f"error echoes an id it cannot know: {_describe(frame)}: {got}",
                )
            expected_null[frame.expect_code] += 1
        elif got:
            report.stateful_errors[str(got[0]["code"])] += 1
        elif frame.must_error:
            report.fail("no error for an invalid frame", f"no error for {_describe(frame)}")
    if by_id:
        report.fail(
            "error for an unknown event_id", f"errors with event_ids that were never sent: {by_id}"
        )
    missing = expected_null - null_codes
    extra = sum((null_codes - expected_null).values())
    if missing or extra > lenient_unmatched:
        kinds = [f.kind for f in frames if f.expect_error and not f.expect_echo]
        report.fail(
            "wrong errors with a null event_id",
            f"errors with a null event_id: got {dict(null_codes)}, expected {dict(expected_null)}"
            f" (+ up to {lenient_unmatched} from deep frames); frames: {kinds}",
        )


async def find_killer(base_url: str, suspects: list[Frame], report: Report) -> int | None:
    """Replay frames in order, each alone in a fresh session; the position of the first one that
    takes its connection down (or stalls it), if any."""
    for position, frame in enumerate(suspects[:MAX_REPLAYS]):
        live = await open_live(base_url, report, manual=True)
        try:
            await run_batch(live, [frame], "replay_probe", [], timeout=REPLAY_TIMEOUT)
        except (ConnectionClosed, TimeoutError):
            return position
        finally:
            await close_live(live)
    return None


def _reply_to(kind: str, event_id: str) -> Any:
    """A predicate: an event of type ``kind``, or the error for the client event ``event_id``."""

    def predicate(event: dict[str, Any]) -> bool:
        if event["type"] == "error":
            return event["error"]["event_id"] == event_id
        return event["type"] == kind

    return predicate


async def settle(live: Live) -> None:
    """Reset the fuzzed session to plain text turns and wait until no response is running."""
    reset = {
        "type": "session.update",
        "event_id": "fuzz_reset",
        "session": {
            "type": "realtime",
            "instructions": "",
            "output_modalities": ["text"],
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "audio": {"input": {"turn_detection": None}},
        },
    }
    await live.send(json.dumps(reset))
    events = await _until(live, _reply_to("session.updated", "fuzz_reset"), TURN_TIMEOUT)
    assert events[-1]["type"] == "session.updated", events[-1]
    for _ in range(5):
        if not live.active:
            return
        for response_id in sorted(live.active):
            await live.send(json.dumps({"type": "response.cancel", "response_id": response_id}))
        await _until(live, lambda e: not live.active, TURN_TIMEOUT)
    assert not live.active, f"responses still running: {live.active}"


async def normal_turn(live: Live, text: str) -> None:
    """User text + response.create -> response.done completed with ``You said: <text>``."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await live.send(json.dumps({"type": "conversation.item.create", "item": item}))
    await live.send(json.dumps({"type": "response.create", "event_id": "fuzz_turn"}))
    events = await _until(live, _reply_to("response.done", "fuzz_turn"), TURN_TIMEOUT)
    done = events[-1]
    assert done["type"] == "response.done", done
    response = done["response"]
    assert response["status"] == "completed", response
    part = response["output"][0]["content"][0]
    assert part.get("text") == f"You said: {text}", response["output"]


async def fuzz_session(base_url: str, number: int, frames: list[Frame], report: Report) -> None:
    """Fuzz one connection with ``frames``, then check a normal turn still works on it.

    If a batch takes the connection down, the frames after the last one answered are replayed
    one by one to find the culprit; the frames after it go on in a new connection.
    """
    manual = number % 2 == 1
    live = await open_live(base_url, report, manual)
    pending = list(frames)
    try:
        while pending:
            batch, pending = pending[:BATCH], pending[BATCH:]
            errors: list[dict[str, Any]] = []
            report.sent += len(batch)
            try:
                await run_batch(live, batch, f"probe_{number}_{batch[0].index}", errors)
            except (ConnectionClosed, TimeoutError) as exc:
                # Replies come in order: the culprit follows the last frame whose error came back.
                answered = {e["event_id"] for e in errors} - {None}
                last = max((i for i, f in enumerate(batch) if f.event_id in answered), default=-1)
                suspects = batch[last + 1 :]
                position = await find_killer(base_url, suspects, report)
                if position is None:
                    shown = [_describe(f) for f in suspects[:5]]
                    report.fail(
                        "session killed (no single frame reproduces it)",
                        f"session {number} lost its connection ({type(exc).__name__}: {exc}); "
                        f"no single frame reproduces it; unanswered frames: {shown}",
                    )
                else:
                    report.fail(
                        "a frame kills the session",
                        f"this frame kills the session: {_describe(suspects[position])}",
                    )
                    report.killers.append(suspects[position].kind)
                    resend = suspects[position + 1 :]
                    report.sent -= len(resend)
                    pending = resend + pending
                await close_live(live)
                live = await open_live(base_url, report, manual)
                continue
            report.checked += len(batch)
            check_batch(batch, errors, report)
        try:
            await settle(live)
            await normal_turn(live, f"fuzz check session {number}")
            report.turns_ok += 1
        except (ConnectionClosed, TimeoutError, AssertionError) as exc:
            report.fail(
                "normal turn failed",
                f"session {number}: the normal turn after fuzzing failed: {exc!r}",
            )
    finally:
        await close_live(live)


@pytest.fixture(scope="module")
def fuzz_frames() -> list[Frame]:
    started = time.monotonic()
    cases = generate_cases(FUZZ_EVENTS, FUZZ_SEED)
    frames = [build_frame(index, case) for index, case in enumerate(cases)]
    print(
        f"\nfuzz: seed {FUZZ_SEED}: generated {len(frames)} frames "
        f"in {time.monotonic() - started:.1f} s"
    )
    return frames


def test_corpus_is_valid_and_covers_every_event_type() -> None:
    for event in CORPUS:
        parse_client_event(json.dumps(event))
    assert {event["type"] for event in CORPUS} == set(CLIENT_EVENT_TYPES)


async def test_fuzz_live_session(fuzz_server: ServerProcess, fuzz_frames: list[Frame]) -> None:
    """~3000 generated frames (FUZZ_EVENTS), a new connection every 500: every reply checked,
    a normal turn after each connection's fuzzing, and a clean server log; the figures are
    printed (run with -s)."""
    report = Report()
    log_start = len(fuzz_server.log())
    started = time.monotonic()
    for number, start in enumerate(range(0, len(fuzz_frames), EVENTS_PER_SESSION)):
        frames = fuzz_frames[start : start + EVENTS_PER_SESSION]
        report.frames_by_kind.update(f.kind.split("[")[0] for f in frames)
        await fuzz_session(fuzz_server.base_url, number, frames, report)
    elapsed = time.monotonic() - started
    expected_errors = sum(f.expect_error for f in fuzz_frames)
    print(
        f"fuzz: sent {report.sent} of {len(fuzz_frames)} generated events ({report.checked} "
        f"checked against the oracle) over "
        f"{report.sessions} connections (replays included) in {elapsed:.1f} s (seed {FUZZ_SEED}); "
        f"{expected_errors} invalid per the validator; {sum(report.error_codes.values())} error "
        f"events, {report.server_events} server events in all; normal turns after fuzzing: "
        f"{report.turns_ok}; frames that killed a session: {Counter(report.killers)}"
        f"\n  frames by kind: {dict(report.frames_by_kind)}\n"
        f"  error codes: {dict(report.error_codes)}\n"
        f"  errors for valid events (state): {dict(report.stateful_errors)}"
    )
    for site, count in exception_sites(fuzz_server.log()[log_start:]).most_common():
        report.fail("exception in the server log", f"{count} x {site}")
    print(report.summary(per_category=50))
    assert not report.failures, report.summary()


def exception_sites(log: str) -> Counter[str]:
    """Tracebacks and ERROR lines in a server log, by the exception and our innermost frames."""
    sites: Counter[str] = Counter()
    for traceback in log.split("Traceback (most recent call last):")[1:]:
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', traceback)
        ours = [
            f"{os.path.relpath(path, ROOT)}:{line} {function}"
            for path, line, function in frames
            if path.startswith(str(ROOT)) and "/.venv/" not in path
        ]
        error = next(
            (ln for ln in traceback.splitlines() if re.match(r"[\w.]+(Error|Exception)\b", ln)),
            "?",
        )
        sites[f"{error[:160]} at {' > '.join(ours[-3:])}"] += 1
    for line in log.splitlines():
        if (
            PROBLEM_LINE.search(line)
            and "Traceback" not in line
            and "Exception in ASGI" not in line
        ):
            line = re.sub(r"^[\d-]+ [\d:.]+ \| ", "", line)  # loguru's timestamp
            sites[re.sub(r"\b(resp|item|event|sess|call)_\w+", r"\1_*", line)[:200]] += 1
    return sites


# ------------------------------------------------------------------------------------------------
# Boundaries the random run only brushes against
# ------------------------------------------------------------------------------------------------


async def _drain_until(live: Live, kinds: set[str], timeout: float) -> dict[str, Any]:
    return (await _until(live, lambda e: e["type"] in kinds, timeout))[-1]


async def test_append_at_the_15_mib_limit(fuzz_server: ServerProcess) -> None:
    """The protocol allows 15 MiB of audio per append; one byte more is a clean error."""
    report = Report()
    live = await open_live(fuzz_server.base_url, report, manual=True)
    try:
        at_limit = {
            "type": "input_audio_buffer.append",
            "event_id": "at_limit",
            "audio": b64(bytes(MAX_AUDIO_APPEND_BYTES)),
        }
        await live.send(json.dumps(at_limit))
        await live.send(json.dumps({"type": "input_audio_buffer.commit", "event_id": "commit"}))
        event = await _drain_until(live, {"input_audio_buffer.committed", "error"}, 60)
        assert event["type"] == "input_audio_buffer.committed", event
        over = {**at_limit, "event_id": "over", "audio": b64(bytes(MAX_AUDIO_APPEND_BYTES + 3))}
        await live.send(json.dumps(over))
        event = await _drain_until(live, {"error"}, 60)
        assert (event["error"]["code"], event["error"]["event_id"]) == (
            "string_above_max_length",
            "over",
        )
        await settle(live)
        await normal_turn(live, "after the big appends")
    finally:
        await close_live(live)
    assert not report.failures, report.failures


@pytest.mark.parametrize("depth", [300, 600, 900])
async def test_deeply_nested_tool_parameters(fuzz_server: ServerProcess, depth: int) -> None:
    """Nesting the parser accepts must not crash the session later (copy, merge, echo)."""
    report = Report()
    live = await open_live(fuzz_server.base_url, report, manual=True)
    try:
        tool = {**TOOL, "parameters": {"type": "object", "x": deep_json(depth, "[")}}
        session = {"type": "realtime", "tools": [tool]}
        event = {"type": "session.update", "event_id": "deep", "session": session}
        await live.send(serialize(event, True)[0])
        reply = await _drain_until(live, {"session.updated", "error"}, TURN_TIMEOUT)
        if reply["type"] == "error":
            assert reply["error"]["event_id"] in ("deep", None)
        await settle(live)
        await normal_turn(live, f"after nesting {depth}")
    finally:
        await close_live(live)
    assert not report.failures, report.failures


async def test_numbers_that_overflow_to_infinity_are_not_echoed(
    fuzz_server: ServerProcess,
) -> None:
    """``1e999`` is valid JSON; the server must not store it as inf and send back ``Infinity``."""
    report = Report()
    live = await open_live(fuzz_server.base_url, report, manual=True)
    try:
        truncation = {"type": "retention_ratio", "retention_ratio": RawJSON("1e999")}
        event = {
            "type": "session.update",
            "event_id": "inf",
            "session": {"type": "realtime", "truncation": truncation},
        }
        await live.send(serialize(event, True)[0])
        reply = await _drain_until(live, {"session.updated", "error"}, TURN_TIMEOUT)
        assert reply["type"] == "error", "1e999 was accepted"
        await normal_turn(live, "after infinity")
    finally:
        await close_live(live)
    assert not report.failures, report.failures


async def test_idle_timeout_zero_does_not_make_a_response_storm(
    fuzz_server: ServerProcess,
) -> None:
    """Without any client input, a tiny idle timeout must not make the server answer itself
    hundreds of times a second (the real API documents the timeout as a pause after the last
    response's audio; a value this small should be rejected or floored)."""
    report = Report()
    live = await open_live(fuzz_server.base_url, report, manual=True)
    try:
        turn_detection = {"type": "server_vad", "idle_timeout_ms": 0}
        session = {"type": "realtime", "audio": {"input": {"turn_detection": turn_detection}}}
        await live.send(json.dumps({"type": "session.update", "session": session}))
        counts: Counter[str] = Counter()

        def count(event: dict[str, Any]) -> bool:
            counts[event["type"]] += 1
            return False

        with contextlib.suppress(TimeoutError):
            await _until(live, count, 1.5)  # a measuring window, not a wait for an event
        assert counts["input_audio_buffer.timeout_triggered"] <= 3, dict(counts)
    finally:
        live.rt.connection._connection.transport.abort()  # no close handshake through a flood
        await close_live(live)


@pytest.mark.parametrize(
    "event",
    [
        {
            "type": "response.create",
            "response": {"output_modalities": ["audio"], "audio": {"output": {"format": {}}}},
        },
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"format": {"rate": 24000}}}},
        },
    ],
    ids=["response_output_format", "session_input_format"],
)
async def test_audio_format_without_type(fuzz_server: ServerProcess, event: dict[str, Any]) -> None:
    """The SDK types leave a format's ``type`` optional: the server must default it or reject
    the event, not fail while applying it."""
    report = Report()
    live = await open_live(fuzz_server.base_url, report, manual=True)
    try:
        await live.send(json.dumps({**event, "event_id": "fmt"}))
        kinds = {"response.created", "session.updated", "error"}
        reply = await _drain_until(live, kinds, TURN_TIMEOUT)
        if reply["type"] == "error":
            assert reply["error"]["event_id"] == "fmt"
        await settle(live)
        await normal_turn(live, "after a format without type")
    finally:
        await close_live(live)
    assert not report.failures, report.summary()


async def test_function_call_item_without_call_id(fuzz_server: ServerProcess) -> None:
    """``call_id`` is optional on a client-created function_call item; accepting one without it
    must not break every later response of the conversation."""
    report = Report()
    live = await open_live(fuzz_server.base_url, report, manual=True)
    try:
        item = {"type": "function_call", "name": "get_weather", "arguments": "{}"}
        event = {"type": "conversation.item.create", "event_id": "no_call_id", "item": item}
        await live.send(json.dumps(event))
        await _until(live, _reply_to("conversation.item.done", "no_call_id"), TURN_TIMEOUT)
        await normal_turn(live, "after a call without id")
    finally:
        await close_live(live)
    assert not report.failures, report.summary()


@pytest.mark.parametrize("parameters", [[1], "schema", 5, {"properties": []}])
async def test_tool_parameters_that_are_not_a_schema(
    fuzz_server: ServerProcess, parameters: Any
) -> None:
    """``parameters`` is typed ``object`` in the SDK, so any JSON passes the schema; a value that
    is not a JSON-schema object must be rejected, or else must not break the session's responses."""
    report = Report()
    live = await open_live(fuzz_server.base_url, report, manual=True)
    try:
        tool = {**TOOL, "parameters": parameters}
        event = {"type": "session.update", "event_id": "params", "session": {"type": "realtime"}}
        event["session"]["tools"] = [tool]
        await live.send(json.dumps(event))
        await _until(live, _reply_to("session.updated", "params"), TURN_TIMEOUT)
        await normal_turn(live, "after odd tool parameters")
    finally:
        await close_live(live)
    assert not report.failures, report.summary()
