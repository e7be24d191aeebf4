"""Tests of the ``beta`` upstream dialect (``relay.dialects.beta``).

Client side: GA client events out as beta client events, each one accepted by our strict beta
parser (``protocol.beta.parse_beta_client_event``, the SDK's beta TypedDicts), whose GA
translation gives back the GA event sent, less the documented drops.

Server side: beta server events in as GA server events, each valid under the SDK's GA union in
strict mode. The round trip runs a real ``RealtimeSession`` as a beta upstream (the same core
behind ``protocol.beta``, as our own server runs it for a beta client): GA client events go
through the dialect, the beta parser and the core; the core's GA events through
``BetaServerTranslator`` and back through the dialect; what the client gets must equal what the
core emitted, less the documented losses.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import copy
import json
import typing
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from openai import AsyncOpenAI
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.beta.realtime.session import Session as BetaSession
from openai.types.beta.realtime.transcription_session import (
    InputAudioTranscription as BetaTranscription,
)
from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from pydantic import Field, TypeAdapter

from protocol import ProtocolError
from protocol.beta import DROPPED_SERVER_EVENT_TYPES, BetaServerTranslator, parse_beta_client_event
from protocol.beta.params import GA_TO_BETA_PARAMS, beta_param, ga_param
from protocol.beta.server_to_beta import _RENAMED_SERVER_EVENTS
from protocol.validation import parse_client_event
from realtime_session import RealtimeSession
from realtime_session.signals import (
    IDLE_TIMER,
    PlaybackCleared,
    PlaybackStopped,
    ResponseAudio,
    ResponseDone,
    ResponseFailed,
    ResponseFunctionCall,
    ResponseText,
    SpeechStarted,
    SpeechStopped,
    TimerExpired,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
)
from relay.dialects import BetaUpstreamDialect, Dialect
from relay.dialects.beta import DROPPED_UPSTREAM_EVENT_TYPES, RENAMED_UPSTREAM_EVENTS
from tests.audio_clips import clip, stream
from tests.realtime_client import EventWaiting, InvariantChecker, validate_server_event

BETA_SERVER_EVENT = TypeAdapter(Annotated[BetaServerEvent, Field(discriminator="type")])

TIMEOUT = 10.0
AUDIO_100MS = base64.b64encode(bytes(4800)).decode()
PCM_20MS = b"\x00" * 960

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
MCP_TOOL = {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com"}

BETA_MODELS = typing.get_args(typing.get_args(BetaSession.model_fields["model"].annotation)[0])
BETA_TRANSCRIPTION_MODELS = typing.get_args(
    typing.get_args(BetaTranscription.model_fields["model"].annotation)[0]
)


def beta_union_types() -> set[str]:
    union = typing.get_args(BetaServerEvent)[0]
    return {
        typing.get_args(model.model_fields["type"].annotation)[0]
        for model in typing.get_args(union)
    }


# =============================================================================================
# Helpers
# =============================================================================================


def ga_client(event: dict[str, Any]) -> dict[str, Any]:
    """A GA client event as the relay hands it to the dialect: validated, nulls-as-absent out."""
    return parse_client_event(json.dumps(event)).data


def to_beta(
    event: dict[str, Any], dialect: BetaUpstreamDialect | None = None
) -> list[dict[str, Any]]:
    """The dialect's beta events for a GA client event; each must pass the strict beta parser."""
    produced = (dialect or BetaUpstreamDialect()).client_to_upstream(ga_client(event))
    for beta in produced:
        parse_beta_client_event(json.dumps(beta))
    return produced


def one_beta(event: dict[str, Any]) -> dict[str, Any]:
    (beta,) = to_beta(event)
    return beta


def to_ga(dialect: BetaUpstreamDialect, event: dict[str, Any]) -> list[dict[str, Any]]:
    """The dialect's GA events for a beta server event; each must validate strictly, and the
    upstream's event is left as it was."""
    before = copy.deepcopy(event)
    produced = dialect.upstream_to_client(event)
    assert event == before
    for ga in produced:
        validate_server_event(ga)
    return produced


def strip_ids(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "event_id"} for e in events]


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


# --- the documented drops and losses, applied to GA events ------------------------------------


def _drop_parts(item: dict[str, Any], part_types: tuple[str, ...]) -> None:
    if "content" in item:
        item["content"] = [p for p in item["content"] if p.get("type") not in part_types]


def _session_without_beta_drops(session: dict[str, Any]) -> None:
    """What a GA session (update or object) loses through beta, in place."""
    transcription = session["type"] == "transcription"
    for name in ("truncation", "prompt", "reasoning", "parallel_tool_calls"):
        session.pop(name, None)
    if not transcription:
        session.pop("include", None)
    if "model" in session and session["model"] not in BETA_MODELS:
        del session["model"]
    audio_input = session.get("audio", {}).get("input", {})
    if audio_input.get("turn_detection"):
        audio_input["turn_detection"].pop("idle_timeout_ms", None)
        if transcription:
            for name in ("create_response", "interrupt_response"):
                audio_input["turn_detection"].pop(name, None)
    if audio_input.get("noise_reduction"):
        audio_input["noise_reduction"].pop("strength", None)
    transcription_settings = audio_input.get("transcription")
    if transcription_settings:
        for name in ("delay", "keywords", "languages"):
            transcription_settings.pop(name, None)
        if transcription and transcription_settings.get("model") not in BETA_TRANSCRIPTION_MODELS:
            transcription_settings.pop("model", None)
    _settings_without_beta_drops(session)


def _settings_without_beta_drops(settings: dict[str, Any]) -> None:
    """Tools, tool choice and voice: what sessions and responses lose alike."""
    if "tools" in settings:
        settings["tools"] = [
            t for t in settings["tools"] if t.get("type", "function") == "function"
        ]
    if isinstance(settings.get("tool_choice"), dict) and settings["tool_choice"]["type"] == "mcp":
        del settings["tool_choice"]
    output = settings.get("audio", {}).get("output", {})
    if isinstance(output.get("voice"), dict):
        output["voice"] = output["voice"]["id"]


def client_without_beta_drops(event: dict[str, Any]) -> dict[str, Any]:
    """A GA client event less what the module docstring says beta has no place for."""
    event = copy.deepcopy(event)
    if event["type"] == "session.update":
        _session_without_beta_drops(event["session"])
    elif event["type"] == "conversation.item.create":
        _drop_parts(event["item"], ("input_image",))
    elif event["type"] == "response.create" and "response" in event:
        response = event["response"]
        for name in ("prompt", "reasoning", "parallel_tool_calls"):
            response.pop(name, None)
        _settings_without_beta_drops(response)
        for item in response.get("input", []):
            _drop_parts(item, ("input_image", "output_audio"))
    return event


def server_without_beta_losses(event: dict[str, Any]) -> dict[str, Any]:
    """A GA server event less what a beta upstream cannot report (module docstring)."""
    event = copy.deepcopy(event)
    if event["type"] in ("session.created", "session.updated"):
        _session_without_beta_drops(event["session"])
    elif event["type"] == "conversation.item.input_audio_transcription.completed":
        event.pop("languages", None)
    elif event["type"] == "response.done" and event["response"].get("usage"):
        details = event["response"]["usage"].get("input_token_details") or {}
        details.pop("image_tokens", None)
        details.pop("cached_tokens_details", None)
    for item in _items_of(event):
        _drop_parts(item, ("input_image",))
    return event


def _items_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    if "item" in event:
        return [event["item"]]
    if "response" in event:
        return list(event["response"].get("output") or [])
    return []


# Events the beta upstream never reports (conversation.item.done is not among them: the dialect
# rebuilds it).
UNREPORTED_GA_EVENTS = DROPPED_SERVER_EVENT_TYPES - {"conversation.item.done"}


# =============================================================================================
# The class
# =============================================================================================


def test_is_a_dialect_named_beta() -> None:
    dialect: Dialect = BetaUpstreamDialect()
    assert dialect.name == "beta"


def test_each_session_has_its_own_state() -> None:
    first, second = BetaUpstreamDialect(), BetaUpstreamDialect()
    announce_call(first)
    done = to_ga(second, arguments_done())
    assert done[0]["name"] == ""
    assert to_ga(first, arguments_done())[0]["name"] == "get_weather"


# =============================================================================================
# Client events, GA -> beta
# =============================================================================================

FULL_GA_SESSION: dict[str, Any] = {
    "type": "realtime",
    "model": "gpt-4o-realtime-preview",
    "output_modalities": ["audio"],
    "instructions": "Be brief.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "transcription": {"model": "whisper-1", "language": "en", "prompt": "hi"},
            "noise_reduction": {"type": "far_field"},
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.6,
                "prefix_padding_ms": 200,
                "silence_duration_ms": 400,
                "create_response": False,
                "interrupt_response": False,
            },
        },
        "output": {"format": {"type": "audio/pcma"}, "voice": "verse", "speed": 1.2},
    },
    "tools": [TOOL],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "max_output_tokens": 512,
    "tracing": {"workflow_name": "demo", "group_id": "g1", "metadata": {"k": "v"}},
}


def test_full_session_update() -> None:
    beta = one_beta({"type": "session.update", "event_id": "evt_1", "session": FULL_GA_SESSION})
    assert beta == {
        "type": "session.update",
        "event_id": "evt_1",
        "session": {
            "model": "gpt-4o-realtime-preview",
            "modalities": ["text", "audio"],
            "instructions": "Be brief.",
            "input_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": "hi"},
            "input_audio_noise_reduction": {"type": "far_field"},
            "turn_detection": FULL_GA_SESSION["audio"]["input"]["turn_detection"],
            "voice": "verse",
            "output_audio_format": "g711_alaw",
            "speed": 1.2,
            "tools": [TOOL],
            "tool_choice": "get_weather",
            "max_response_output_tokens": 512,
            "tracing": {"workflow_name": "demo", "group_id": "g1", "metadata": {"k": "v"}},
        },
    }


def test_session_update_drops_what_beta_lacks() -> None:
    beta = one_beta(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "model": "gpt-realtime-mini",
                "output_modalities": ["text"],
                "include": ["item.input_audio_transcription.logprobs"],
                "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
                "prompt": {"id": "pmpt_1"},
                "audio": {
                    "input": {
                        "noise_reduction": {"type": "near_field"},
                        "turn_detection": {
                            "type": "semantic_vad",
                            "eagerness": "low",
                            "create_response": True,
                        },
                    },
                    "output": {"voice": {"id": "voice_custom"}},
                },
                "tools": [TOOL, MCP_TOOL],
                "tool_choice": {"type": "mcp", "server_label": "docs"},
            },
        }
    )
    assert beta["session"] == {
        "modalities": ["text"],
        "input_audio_noise_reduction": {"type": "near_field"},
        "turn_detection": {"type": "semantic_vad", "eagerness": "low", "create_response": True},
        "voice": "voice_custom",
        "tools": [TOOL],
    }


def test_session_update_clears_with_null() -> None:
    beta = one_beta(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tracing": None,
                "audio": {
                    "input": {
                        "turn_detection": None,
                        "transcription": None,
                        "noise_reduction": None,
                    }
                },
            },
        }
    )
    assert beta["session"] == {
        "tracing": None,
        "turn_detection": None,
        "input_audio_transcription": None,
        "input_audio_noise_reduction": None,
    }


def test_transcription_session_update() -> None:
    beta = one_beta(
        {
            "type": "session.update",
            "event_id": "evt_t",
            "session": {
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": {"model": "gpt-4o-transcribe", "language": "de"},
                        "noise_reduction": {"type": "near_field"},
                        "turn_detection": {
                            "type": "server_vad",
                            "threshold": 0.4,
                            "idle_timeout_ms": 6000,
                            "create_response": True,
                        },
                    }
                },
                "include": ["item.input_audio_transcription.logprobs"],
            },
        }
    )
    assert beta == {
        "type": "transcription_session.update",
        "event_id": "evt_t",
        "session": {
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "de"},
            "input_audio_noise_reduction": {"type": "near_field"},
            "turn_detection": {"type": "server_vad", "threshold": 0.4},
            "include": ["item.input_audio_transcription.logprobs"],
        },
    }


def test_transcription_model_outside_beta_names_is_dropped() -> None:
    beta = one_beta(
        {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {"input": {"transcription": {"model": "parakeet", "language": "en"}}},
            },
        }
    )
    assert beta["session"] == {"input_audio_transcription": {"language": "en"}}


def test_item_create_renames_assistant_content() -> None:
    beta = one_beta(
        {
            "type": "conversation.item.create",
            "event_id": "evt_i",
            "previous_item_id": "root",
            "item": {
                "id": "item_a",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": "Hello."},
                    {"type": "output_audio", "transcript": "Hello.", "audio": AUDIO_100MS},
                ],
            },
        }
    )
    assert beta == {
        "type": "conversation.item.create",
        "event_id": "evt_i",
        "previous_item_id": "root",
        "item": {
            "id": "item_a",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "text", "text": "Hello."},
                {"type": "audio", "transcript": "Hello.", "audio": AUDIO_100MS},
            ],
        },
    }


def test_item_create_drops_images_and_refuses_mcp_items() -> None:
    beta = one_beta(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                    {"type": "input_text", "text": "What is this?"},
                ],
            },
        }
    )
    assert beta["item"]["content"] == [{"type": "input_text", "text": "What is this?"}]
    mcp = {
        "type": "conversation.item.create",
        "item": {
            "type": "mcp_approval_response",
            "id": "item_m",
            "approval_request_id": "apr_1",
            "approve": True,
        },
    }
    with pytest.raises(ProtocolError) as refusal:
        to_beta(mcp)
    assert refusal.value.code == "unsupported_by_upstream"


def test_response_create() -> None:
    beta = one_beta(
        {
            "type": "response.create",
            "event_id": "evt_r",
            "response": {
                "output_modalities": ["audio"],
                "instructions": "Answer in French.",
                "audio": {"output": {"voice": "ash", "format": {"type": "audio/pcmu"}}},
                "tools": [TOOL, MCP_TOOL],
                "tool_choice": "required",
                "max_output_tokens": "inf",
                "conversation": "none",
                "metadata": {"topic": "weather"},
                "input": [
                    {"type": "item_reference", "id": "item_a"},
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "?"}],
                    },
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [
                            {"type": "output_text", "text": "!"},
                            {"type": "output_audio", "transcript": "!"},
                        ],
                    },
                    {
                        "type": "function_call",
                        "call_id": "call_1",
                        "name": "get_weather",
                        "arguments": "{}",
                    },
                    {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
                ],
            },
        }
    )
    assert beta == {
        "type": "response.create",
        "event_id": "evt_r",
        "response": {
            "modalities": ["text", "audio"],
            "instructions": "Answer in French.",
            "voice": "ash",
            "output_audio_format": "g711_ulaw",
            "tools": [TOOL],
            "tool_choice": "required",
            "max_response_output_tokens": "inf",
            "conversation": "none",
            "metadata": {"topic": "weather"},
            "input": [
                {"type": "item_reference", "id": "item_a"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "?"}],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "text", "text": "!"}],
                },
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "get_weather",
                    "arguments": "{}",
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
            ],
        },
    }


def test_bare_response_create() -> None:
    assert one_beta({"type": "response.create", "event_id": "e"}) == {
        "type": "response.create",
        "event_id": "e",
    }
    assert one_beta({"type": "response.create", "response": {}}) == {
        "type": "response.create",
        "response": {},
    }


PASS_THROUGH_CLIENT_EVENTS: list[dict[str, Any]] = [
    {"type": "input_audio_buffer.append", "event_id": "evt_a", "audio": AUDIO_100MS},
    {"type": "input_audio_buffer.commit", "event_id": "evt_c"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.retrieve", "item_id": "item_a"},
    {
        "type": "conversation.item.truncate",
        "item_id": "item_a",
        "content_index": 0,
        "audio_end_ms": 100,
    },
    {"type": "conversation.item.delete", "event_id": "evt_d", "item_id": "item_a"},
    {"type": "response.cancel"},
    {"type": "response.cancel", "response_id": "resp_1"},
    {"type": "output_audio_buffer.clear", "event_id": "evt_o"},
]


@pytest.mark.parametrize("event", PASS_THROUGH_CLIENT_EVENTS, ids=lambda e: e["type"])
def test_other_client_events_pass_unchanged(event: dict[str, Any]) -> None:
    assert to_beta(event) == [event]


# --- round trip: GA -> dialect -> beta parser -> GA --------------------------------------------

GA_CLIENT_CORPUS: list[dict[str, Any]] = [
    {"type": "session.update", "event_id": "evt_s1", "session": FULL_GA_SESSION},
    {"type": "session.update", "session": {"type": "realtime"}},
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "model": "gpt-realtime-mini",
            "output_modalities": ["text"],
            "instructions": "Think, then answer.",
            "tool_choice": "auto",
            "tools": [TOOL, MCP_TOOL],
            "include": ["item.input_audio_transcription.logprobs"],
            "truncation": "disabled",
            "tracing": "auto",
            "max_output_tokens": "inf",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-mini-transcribe", "language": "fr"},
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {
                        "type": "semantic_vad",
                        "eagerness": "high",
                        "create_response": True,
                        "interrupt_response": False,
                    },
                },
                "output": {"voice": {"id": "voice_custom"}, "speed": 0.8},
            },
        },
    },
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "tracing": None,
            "audio": {
                "input": {
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000},
                }
            },
        },
    },
    {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
    },
    {
        "type": "session.update",
        "event_id": "evt_t",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcma"},
                    "transcription": {"model": "whisper-1", "prompt": "names: Zoë"},
                    "noise_reduction": {"type": "far_field"},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.3,
                        "prefix_padding_ms": 100,
                        "silence_duration_ms": 900,
                        "create_response": False,
                    },
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
    },
    {"type": "session.update", "session": {"type": "transcription"}},
    {
        "type": "conversation.item.create",
        "event_id": "evt_u",
        "item": {
            "id": "item_u",
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Hi"},
                {"type": "input_audio", "audio": AUDIO_100MS},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ],
        },
    },
    {
        "type": "conversation.item.create",
        "previous_item_id": "item_u",
        "item": {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Speak slowly."}],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "output_text", "text": "Hello."},
                {"type": "output_audio", "transcript": "Hello."},
            ],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {
            "id": "item_fc",
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
    },
    {
        "type": "conversation.item.create",
        "previous_item_id": "item_fc",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 12}'},
    },
    {"type": "response.create"},
    {
        "type": "response.create",
        "event_id": "evt_r",
        "response": {
            "conversation": "none",
            "output_modalities": ["text"],
            "instructions": "Sum up.",
            "metadata": {"purpose": "summary"},
            "tools": [TOOL],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "max_output_tokens": 200,
            "audio": {"output": {"voice": "marin", "format": {"type": "audio/pcm", "rate": 24000}}},
            "input": [
                {"type": "item_reference", "id": "item_u"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Sum up"}],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": "Sure"},
                        {"type": "output_audio", "transcript": "Sure"},
                    ],
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
            ],
        },
    },
    {"type": "response.create", "response": {"output_modalities": ["audio"], "tools": [MCP_TOOL]}},
    *PASS_THROUGH_CLIENT_EVENTS,
]


@pytest.mark.parametrize("event", GA_CLIENT_CORPUS, ids=lambda e: e["type"])
def test_client_round_trip(event: dict[str, Any]) -> None:
    """The beta parser's GA form of what the dialect sends is the GA event, less the drops."""
    ga = ga_client(event)
    (beta,) = BetaUpstreamDialect().client_to_upstream(copy.deepcopy(ga))
    assert parse_beta_client_event(json.dumps(beta)).data == client_without_beta_drops(ga)


def test_client_corpus_covers_every_ga_client_event_and_the_drops() -> None:
    union = typing.get_args(typing.get_args(RealtimeClientEvent)[0])
    ga_types = {typing.get_args(m.model_fields["type"].annotation)[0] for m in union}
    assert {e["type"] for e in GA_CLIENT_CORPUS} == ga_types
    dropped = [e for e in map(ga_client, GA_CLIENT_CORPUS) if client_without_beta_drops(e) != e]
    assert len(dropped) >= 5  # the round trip does test the drops


def test_client_events_are_not_modified() -> None:
    for event in map(ga_client, GA_CLIENT_CORPUS):
        before = copy.deepcopy(event)
        BetaUpstreamDialect().client_to_upstream(event)
        assert event == before


# =============================================================================================
# Server events, beta -> GA: by hand, as a beta API sends them
# =============================================================================================

# What the real beta API (and Azure's 2024-10-01-preview) reported: every field, nulls included,
# ``temperature`` and ``client_secret`` too.
BETA_SESSION: dict[str, Any] = {
    "id": "sess_001",
    "object": "realtime.session",
    "model": "gpt-4o-realtime-preview-2024-12-17",
    "expires_at": 1_700_000_000,
    "modalities": ["audio", "text"],
    "instructions": "Be nice.",
    "voice": "alloy",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "input_audio_noise_reduction": None,
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "create_response": True,
        "interrupt_response": True,
    },
    "tools": [],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
    "speed": 1.1,
    "tracing": None,
    "client_secret": None,
    "include": None,
}


def test_beta_session_created() -> None:
    event = {"type": "session.created", "event_id": "event_1", "session": BETA_SESSION}
    BETA_SERVER_EVENT.validate_python(event, strict=True)
    assert to_ga(BetaUpstreamDialect(), event) == [
        {
            "type": "session.created",
            "event_id": "event_1",
            "session": {
                "type": "realtime",
                "id": "sess_001",
                "object": "realtime.session",
                "expires_at": 1_700_000_000,
                "model": "gpt-4o-realtime-preview-2024-12-17",
                "output_modalities": ["audio"],
                "instructions": "Be nice.",
                "tools": [],
                "tool_choice": "auto",
                "max_output_tokens": "inf",
                "tracing": None,
                "include": None,
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": None,
                        "noise_reduction": None,
                        "turn_detection": BETA_SESSION["turn_detection"],
                    },
                    "output": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "voice": "alloy",
                        "speed": 1.1,
                    },
                },
            },
        }
    ]


def test_beta_session_updated_with_nulls_and_odd_values() -> None:
    """``null`` means "not reported" except where it means off; unknown names are left out."""
    session = {
        "id": "sess_002",
        "modalities": None,
        "voice": None,
        "instructions": None,
        "input_audio_format": "opus",
        "output_audio_format": None,
        "turn_detection": {"type": "semantic_vad", "eagerness": "auto", "threshold": None},
        "input_audio_transcription": {"model": "whisper-1", "language": None, "prompt": None},
        "tool_choice": "get_weather",
        "tools": [{**TOOL, "description": None}],
    }
    (updated,) = to_ga(
        BetaUpstreamDialect(), {"type": "session.updated", "event_id": "e", "session": session}
    )
    assert updated["session"] == {
        "type": "realtime",
        "id": "sess_002",
        "tools": [{**TOOL, "description": None}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "audio": {
            "input": {
                "transcription": {"model": "whisper-1", "language": None, "prompt": None},
                "turn_detection": {"type": "semantic_vad", "eagerness": "auto"},
            }
        },
    }
    odd = {"id": "s", "turn_detection": {"type": "push_to_talk"}}
    (updated,) = to_ga(
        BetaUpstreamDialect(), {"type": "session.updated", "event_id": "e", "session": odd}
    )
    assert updated["session"] == {"type": "realtime", "id": "s"}


BETA_TRANSCRIPTION_SESSION: dict[str, Any] = {
    "id": "sess_t",
    "object": "realtime.transcription_session",
    "expires_at": 0,
    "input_audio_format": "g711_ulaw",
    "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": ""},
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
    },
    "input_audio_noise_reduction": {"type": "near_field"},
    "modalities": ["text"],
    "include": None,
    "client_secret": {"value": "", "expires_at": 0},
}
GA_TRANSCRIPTION_SESSION: dict[str, Any] = {
    "type": "transcription",
    "id": "sess_t",
    "object": "realtime.transcription_session",
    "expires_at": 0,
    "include": None,
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": ""},
            "noise_reduction": {"type": "near_field"},
            "turn_detection": BETA_TRANSCRIPTION_SESSION["turn_detection"],
        }
    },
}


@pytest.mark.parametrize(
    ("kind", "ga_kind"),
    [
        ("transcription_session.created", "session.created"),
        ("transcription_session.updated", "session.updated"),
        ("session.created", "session.created"),
    ],
)
def test_beta_transcription_sessions(kind: str, ga_kind: str) -> None:
    """The real beta API sent ``transcription_session.created`` (the SDK's union lacks it; our own
    beta edge sends ``session.created`` with the transcription session's ``object``)."""
    event = {"type": kind, "event_id": "e", "session": BETA_TRANSCRIPTION_SESSION}
    assert to_ga(BetaUpstreamDialect(), event) == [
        {"type": ga_kind, "event_id": "e", "session": GA_TRANSCRIPTION_SESSION}
    ]


def test_conversation_created_is_dropped() -> None:
    event = {
        "type": "conversation.created",
        "event_id": "e",
        "conversation": {"id": "conv_1", "object": "realtime.conversation"},
    }
    assert to_ga(BetaUpstreamDialect(), event) == []


def test_client_item_created_is_added_then_done() -> None:
    item = {
        "id": "item_1",
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None, "audio": AUDIO_100MS}],
    }
    event = {
        "type": "conversation.item.created",
        "event_id": "event_9",
        "previous_item_id": "item_0",
        "item": item,
    }
    added, done = to_ga(BetaUpstreamDialect(), event)
    announced = {**item, "content": [{"type": "input_audio", "transcript": None}]}
    assert added == {
        "type": "conversation.item.added",
        "event_id": "event_9",
        "previous_item_id": "item_0",
        "item": announced,
    }
    assert done["event_id"] != "event_9"
    assert {**done, "event_id": "x"} == {
        "type": "conversation.item.done",
        "event_id": "x",
        "previous_item_id": "item_0",
        "item": announced,
    }


def message(status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "item_a",
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def test_generated_item_is_done_before_its_output_item_done() -> None:
    dialect = BetaUpstreamDialect()
    ref = {"response_id": "resp_1", "output_index": 0}
    added = to_ga(
        dialect,
        {
            "type": "response.output_item.added",
            "event_id": "e1",
            **ref,
            "item": message("in_progress", []),
        },
    )
    assert added == [
        {
            "type": "response.output_item.added",
            "event_id": "e1",
            **ref,
            "item": message("in_progress", []),
        }
    ]
    created = to_ga(
        dialect,
        {
            "type": "conversation.item.created",
            "event_id": "e2",
            "previous_item_id": "item_u",
            "item": message("in_progress", []),
        },
    )
    assert types(created) == ["conversation.item.added"]
    assert created[0]["previous_item_id"] == "item_u"
    final = message("completed", [{"type": "text", "text": "Hi."}])
    ga_final = message("completed", [{"type": "output_text", "text": "Hi."}])
    done = to_ga(
        dialect, {"type": "response.output_item.done", "event_id": "e3", **ref, "item": final}
    )
    assert strip_ids(done) == [
        {"type": "conversation.item.done", "item": ga_final},
        {"type": "response.output_item.done", **ref, "item": ga_final},
    ]
    assert done[1]["event_id"] == "e3"
    # owed once only
    assert types(
        to_ga(
            dialect, {"type": "response.output_item.done", "event_id": "e4", **ref, "item": final}
        )
    ) == ["response.output_item.done"]


def test_out_of_band_output_item_gets_no_conversation_events() -> None:
    dialect = BetaUpstreamDialect()
    ref = {"response_id": "resp_1", "output_index": 0}
    to_ga(
        dialect,
        {
            "type": "response.output_item.added",
            "event_id": "e1",
            **ref,
            "item": message("in_progress", []),
        },
    )
    done = to_ga(
        dialect,
        {
            "type": "response.output_item.done",
            "event_id": "e2",
            **ref,
            "item": message("completed", []),
        },
    )
    assert types(done) == ["response.output_item.done"]


def test_response_done_finishes_items_left_open() -> None:
    dialect = BetaUpstreamDialect()
    to_ga(
        dialect,
        {
            "type": "response.output_item.added",
            "event_id": "e1",
            "response_id": "resp_1",
            "output_index": 0,
            "item": message("in_progress", []),
        },
    )
    to_ga(
        dialect,
        {"type": "conversation.item.created", "event_id": "e2", "item": message("in_progress", [])},
    )
    produced = to_ga(
        dialect,
        {
            "type": "response.done",
            "event_id": "e3",
            "response": {
                "id": "resp_1",
                "object": "realtime.response",
                "status": "failed",
                "status_details": {
                    "type": "failed",
                    "error": {"type": "server_error", "code": "boom", "message": "Boom."},
                },
                "output": [message("incomplete", [{"type": "audio", "transcript": "Hel"}])],
            },
        },
    )
    assert types(produced) == ["conversation.item.done", "response.done"]
    assert produced[0]["item"] == message(
        "incomplete", [{"type": "output_audio", "transcript": "Hel"}]
    )


BETA_RESPONSE: dict[str, Any] = {
    "id": "resp_1",
    "object": "realtime.response",
    "status": "completed",
    "status_details": None,
    "output": [
        message("completed", [{"type": "audio", "transcript": "Hi."}]),
        {
            "id": "item_f",
            "object": "realtime.item",
            "type": "function_call",
            "status": "completed",
            "name": "get_weather",
            "call_id": "call_1",
            "arguments": "{}",
        },
    ],
    "conversation_id": "conv_1",
    "modalities": ["text", "audio"],
    "voice": "sage",
    "output_audio_format": "g711_alaw",
    "temperature": 0.8,
    "max_output_tokens": 300,
    "metadata": None,
    "usage": {
        "total_tokens": 30,
        "input_tokens": 20,
        "output_tokens": 10,
        "input_token_details": {"cached_tokens": 0, "text_tokens": 15, "audio_tokens": 5},
        "output_token_details": {"text_tokens": 4, "audio_tokens": 6},
    },
}


def test_response_object() -> None:
    (done,) = to_ga(
        BetaUpstreamDialect(), {"type": "response.done", "event_id": "e", "response": BETA_RESPONSE}
    )
    assert done["response"] == {
        "id": "resp_1",
        "object": "realtime.response",
        "status": "completed",
        "status_details": None,
        "output": [
            message("completed", [{"type": "output_audio", "transcript": "Hi."}]),
            BETA_RESPONSE["output"][1],
        ],
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "audio": {"output": {"format": {"type": "audio/pcma"}, "voice": "sage"}},
        "max_output_tokens": 300,
        "metadata": None,
        "usage": BETA_RESPONSE["usage"],
    }
    (created,) = to_ga(
        BetaUpstreamDialect(),
        {
            "type": "response.created",
            "event_id": "e",
            "response": {
                "id": "r",
                "object": "realtime.response",
                "status": "in_progress",
                "modalities": ["text"],
                "output": [],
                "usage": None,
            },
        },
    )
    assert created["response"] == {
        "id": "r",
        "object": "realtime.response",
        "status": "in_progress",
        "output_modalities": ["text"],
        "output": [],
        "usage": None,
    }


def test_items_beta_cannot_mean_in_ga() -> None:
    """Parts GA has no place for are dropped; a message without a role is no GA item."""
    (done,) = to_ga(
        BetaUpstreamDialect(),
        {
            "type": "conversation.item.retrieved",
            "event_id": "e",
            "item": {
                "id": "item_u",
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "item_reference", "id": "item_0"},
                    {"type": "input_text", "text": "hi", "id": None},
                    {"type": "input_audio", "audio": AUDIO_100MS, "transcript": "hi"},
                ],
            },
        },
    )
    assert done["item"]["content"] == [
        {"type": "input_text", "text": "hi"},
        {"type": "input_audio", "audio": AUDIO_100MS, "transcript": "hi"},
    ]
    no_role = {"id": "item_x", "type": "message", "content": []}
    assert (
        to_ga(
            BetaUpstreamDialect(),
            {"type": "conversation.item.retrieved", "event_id": "e", "item": no_role},
        )
        == []
    )


def test_function_call_item_without_name_or_arguments() -> None:
    item = {"id": "item_f", "type": "function_call", "call_id": "call_1", "status": "in_progress"}
    (added,) = to_ga(
        BetaUpstreamDialect(),
        {
            "type": "response.output_item.added",
            "event_id": "e",
            "response_id": "r",
            "output_index": 0,
            "item": item,
        },
    )
    assert added["item"] == {**item, "name": "", "arguments": ""}


def announce_call(dialect: BetaUpstreamDialect) -> None:
    to_ga(
        dialect,
        {
            "type": "response.output_item.added",
            "event_id": "e1",
            "response_id": "resp_1",
            "output_index": 0,
            "item": {
                "id": "item_f",
                "object": "realtime.item",
                "type": "function_call",
                "status": "in_progress",
                "name": "get_weather",
                "call_id": "call_1",
                "arguments": "",
            },
        },
    )


def arguments_done() -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.done",
        "event_id": "e2",
        "response_id": "resp_1",
        "item_id": "item_f",
        "output_index": 0,
        "call_id": "call_1",
        "arguments": '{"city": "Oslo"}',
    }


def test_function_call_arguments_done_gets_its_name() -> None:
    dialect = BetaUpstreamDialect()
    announce_call(dialect)
    (done,) = to_ga(dialect, arguments_done())
    assert done == {**arguments_done(), "name": "get_weather"}


def test_transcription_completed_without_usage() -> None:
    """Older beta servers sent no ``usage``; GA requires one."""
    event = {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "e",
        "item_id": "item_1",
        "content_index": 0,
        "transcript": "Hello.",
    }
    (completed,) = to_ga(BetaUpstreamDialect(), event)
    assert completed == {**event, "usage": {"type": "duration", "seconds": 0.0}}
    with_usage = {
        **event,
        "usage": {"type": "tokens", "input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
    }
    assert to_ga(BetaUpstreamDialect(), with_usage) == [with_usage]


def test_error_param_back_to_ga() -> None:
    event = {
        "type": "error",
        "event_id": "e",
        "error": {
            "type": "invalid_request_error",
            "code": "invalid_value",
            "message": "Invalid value: 'opus'. 'session.input_audio_format' must be 'pcm16'.",
            "param": "session.input_audio_format",
            "event_id": "evt_client",
        },
    }
    (error,) = to_ga(BetaUpstreamDialect(), event)
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Invalid value: 'opus'. 'session.audio.input.format' must be 'pcm16'.",
        "param": "session.audio.input.format",
        "event_id": "evt_client",
    }


@pytest.mark.parametrize(
    ("beta", "ga"),
    [
        ("session.input_audio_format", "session.audio.input.format"),
        ("session.turn_detection.threshold", "session.audio.input.turn_detection.threshold"),
        ("session.voice", "session.audio.output.voice"),
        ("session.modalities[0]", "session.output_modalities[0]"),
        ("response.max_response_output_tokens", "response.max_output_tokens"),
        ("session.voices", "session.voices"),  # not a path boundary
        ("item.content[0].type", "item.content[0].type"),
        (None, None),
    ],
)
def test_ga_param(beta: str | None, ga: str | None) -> None:
    assert ga_param(beta) == ga
    assert beta_param(ga) == beta


def test_ga_param_reverses_every_beta_param() -> None:
    for ga, beta in GA_TO_BETA_PARAMS.items():
        assert ga_param(beta) == ga
        assert ga_param(beta + ".type") == ga + ".type"


def test_renames_reverse_the_beta_edge() -> None:
    renamed = {v: k for k, v in _RENAMED_SERVER_EVENTS.items() if k != "conversation.item.added"}
    assert renamed == RENAMED_UPSTREAM_EVENTS


def test_unknown_and_malformed_events_are_dropped() -> None:
    dialect = BetaUpstreamDialect()
    assert dialect.upstream_to_client({"type": "response.reasoning.delta"}) == []
    assert dialect.upstream_to_client({"no": "type"}) == []
    assert dialect.upstream_to_client({"type": "conversation.item.created", "event_id": "e"}) == []
    assert dialect.upstream_to_client({"type": "response.done", "response": None}) == []
    assert dialect.upstream_to_client({"type": "session.updated", "session": "x"}) == []


def test_fields_ga_lacks_are_removed_and_event_ids_owed() -> None:
    dialect = BetaUpstreamDialect()
    (cleared,) = to_ga(dialect, {"type": "input_audio_buffer.cleared", "event_id": "e", "x": 1})
    assert cleared == {"type": "input_audio_buffer.cleared", "event_id": "e"}
    (cleared,) = to_ga(dialect, {"type": "input_audio_buffer.cleared"})
    assert cleared["event_id"].startswith("event_")


# =============================================================================================
# Server events: round trip through a real core behind our own beta edge
# =============================================================================================


BETA_TYPES_SEEN: set[str] = set()
"""Every beta event type a :class:`BetaUpstream` has produced (for the coverage test)."""


class BetaUpstream:
    """A ``RealtimeSession`` behind the beta edge (the upstream), and the dialect in front of it.

    ``originals``: the GA events the core emitted. ``received``: the GA events the dialect made of
    their beta translation, i.e. what the relayed GA client gets.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.core = RealtimeSession(**kwargs)
        self.edge = BetaServerTranslator()
        self.dialect = BetaUpstreamDialect()
        self.originals: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []

    def out(self, outputs: list[Any]) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        for output in outputs:
            if not isinstance(output, dict):
                continue  # a pipeline command
            validate_server_event(output)
            self.originals.append(output)
            for beta in self.edge.translate(output):
                BETA_SERVER_EVENT.validate_python(beta, strict=True)
                BETA_TYPES_SEEN.add(beta["type"])
                received += to_ga(self.dialect, beta)
        self.received += received
        return received

    def start(self) -> list[dict[str, Any]]:
        return self.out(self.core.start())

    def send(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        """A GA client event, through the dialect and the beta edge into the core."""
        ga = ga_client({"type": kind, **fields})
        received: list[dict[str, Any]] = []
        for beta in self.dialect.client_to_upstream(ga):
            received += self.out(self.core.handle(parse_beta_client_event(json.dumps(beta))))
        return received

    def signal(self, signal: Any) -> list[dict[str, Any]]:
        return self.out(self.core.receive(signal))

    def respond(
        self,
        words: list[str],
        *,
        audio: bool = False,
        call: tuple[str, str] | None = None,
        **response: Any,
    ) -> str:
        fields = {"response": response} if response else {}
        created = self.send("response.create", **fields)
        response_id: str = next(e for e in created if e["type"] == "response.created")["response"][
            "id"
        ]
        for word in words:
            self.signal(ResponseText(response_id, word))
            if audio:
                self.signal(ResponseAudio(response_id, PCM_20MS))
        if call is not None:
            self.signal(ResponseFunctionCall(response_id, *call, "call_1"))
        self.signal(ResponseDone(response_id))
        return response_id

    def check_round_trip(self) -> None:
        """What the client got is what the core said, less what beta cannot carry."""
        invariants = InvariantChecker()
        for event in self.received:
            invariants.check(event)
        expected = [
            server_without_beta_losses(e)
            for e in self.originals
            if e["type"] not in UNREPORTED_GA_EVENTS
        ]
        assert types(self.received) == types(expected)
        for got, want in zip(self.received, expected, strict=True):
            if want["type"] != "conversation.item.done":  # rebuilt: the id is the dialect's
                assert got["event_id"] == want["event_id"]
            assert strip_ids([got]) == strip_ids([want]), want["type"]


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_round_trip_session_configuration() -> None:
    upstream = BetaUpstream()
    upstream.start()
    upstream.send("session.update", session=FULL_GA_SESSION)
    upstream.send(
        "session.update",
        session={
            "type": "realtime",
            "output_modalities": ["text"],
            "include": ["item.input_audio_transcription.logprobs"],
            "truncation": "disabled",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "noise_reduction": None,
                    "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
                },
                "output": {"voice": "marin", "speed": 1.0},
            },
            "tool_choice": "none",
        },
    )
    upstream.send("session.update", session={"type": "realtime", "model": "gpt-realtime-mini"})
    upstream.check_round_trip()
    assert types(upstream.received) == ["session.created", *["session.updated"] * 3]
    session = upstream.received[-1]["session"]
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["audio"]["output"]["voice"] == "marin"


def test_round_trip_text_turn_and_items() -> None:
    upstream = BetaUpstream()
    upstream.start()
    upstream.send(
        "session.update",
        session={
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": None}},
        },
    )
    added = upstream.send("conversation.item.create", event_id="evt_u", item=user_text("Hi"))
    assert types(added) == ["conversation.item.added", "conversation.item.done"]
    upstream.send(
        "conversation.item.create",
        item={
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Be brief."}],
        },
    )
    upstream.send(
        "conversation.item.create",
        item={
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                {"type": "input_text", "text": "And this?"},
            ],
        },
    )
    upstream.send(
        "conversation.item.create",
        item={
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "A cat."}],
        },
    )
    upstream.respond(["Hello", " there."])
    item_id = [e for e in upstream.received if e["type"] == "response.output_item.done"][-1][
        "item"
    ]["id"]
    upstream.send("conversation.item.retrieve", item_id=item_id)
    upstream.send("conversation.item.delete", item_id=item_id)
    upstream.send("conversation.item.retrieve", event_id="evt_gone", item_id=item_id)
    upstream.check_round_trip()
    assert upstream.received[-1]["error"]["event_id"] == "evt_gone"


def test_round_trip_audio_turn() -> None:
    upstream = BetaUpstream()
    upstream.start()
    upstream.send(
        "session.update",
        session={
            "type": "realtime",
            "audio": {
                "input": {"turn_detection": None, "transcription": {"model": "whisper-1"}},
                "output": {"voice": "coral"},
            },
        },
    )
    for _ in range(3):
        upstream.send("input_audio_buffer.append", audio=AUDIO_100MS)
    committed = upstream.send("input_audio_buffer.commit", event_id="evt_commit")
    assert types(committed) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    user_item = committed[0]["item_id"]
    upstream.signal(TranscriptDelta(user_item, "What time"))
    upstream.signal(TranscriptCompleted(user_item, "What time is it?", 0.3))
    upstream.respond(["It is", " noon."], audio=True)
    assistant = next(
        e for e in reversed(upstream.received) if e["type"] == "response.output_item.done"
    )["item"]
    upstream.send("conversation.item.retrieve", item_id=assistant["id"])
    upstream.send(
        "conversation.item.truncate", item_id=assistant["id"], content_index=0, audio_end_ms=10
    )
    upstream.send("input_audio_buffer.append", audio=AUDIO_100MS)
    upstream.send("input_audio_buffer.clear")
    upstream.send("input_audio_buffer.commit", event_id="evt_empty")
    upstream.check_round_trip()
    retrieved = next(e for e in upstream.received if e["type"] == "conversation.item.retrieved")
    assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == PCM_20MS * 2


def test_round_trip_function_call_turn() -> None:
    upstream = BetaUpstream()
    upstream.start()
    upstream.send(
        "session.update",
        session={
            "type": "realtime",
            "tools": [TOOL],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "audio": {"input": {"turn_detection": None}},
        },
    )
    upstream.send("conversation.item.create", item=user_text("Weather in Oslo?"))
    upstream.respond(["Let me check."], call=("get_weather", '{"city": "Oslo"}'))
    done = next(
        e for e in upstream.received if e["type"] == "response.function_call_arguments.done"
    )
    assert done["name"] == "get_weather"
    upstream.send(
        "conversation.item.create",
        item={"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 12}'},
    )
    upstream.respond(["It is 12 degrees."], audio=True)
    upstream.check_round_trip()


def test_round_trip_cancel_failure_and_out_of_band() -> None:
    upstream = BetaUpstream()
    upstream.start()
    upstream.send(
        "session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    (added, _) = upstream.send("conversation.item.create", item=user_text("Tell me a story."))
    created = upstream.send("response.create", response={"output_modalities": ["text"]})
    response_id = created[0]["response"]["id"]
    upstream.signal(ResponseText(response_id, "Once"))
    upstream.send("response.cancel")
    created = upstream.send("response.create")
    response_id = created[0]["response"]["id"]
    upstream.signal(ResponseText(response_id, "Once upon"))
    upstream.signal(ResponseFailed(response_id, "LLM down", code="timeout"))
    upstream.respond(
        ["A summary."],
        conversation="none",
        output_modalities=["text"],
        metadata={"purpose": "summary"},
        instructions="Sum up.",
        max_output_tokens=50,
        input=[
            {"type": "item_reference", "id": added["item"]["id"]},
            user_text("Sum it up."),
        ],
    )
    upstream.check_round_trip()
    done = [e for e in upstream.received if e["type"] == "response.done"]
    assert [d["response"]["status"] for d in done] == ["cancelled", "failed", "completed"]
    assert done[-1]["response"]["conversation_id"] is None


def test_round_trip_server_vad_idle_timeout_and_webrtc_playback() -> None:
    upstream = BetaUpstream(transport="webrtc")
    upstream.start()
    upstream.send(
        "session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}},
        },
    )
    upstream.send("input_audio_buffer.append", audio=AUDIO_100MS * 5)
    epoch = upstream.core.state.epoch
    upstream.signal(SpeechStarted(epoch, 100))
    received = upstream.signal(SpeechStopped(epoch, 400))
    response_id = next(e for e in received if e["type"] == "response.created")["response"]["id"]
    upstream.signal(ResponseText(response_id, "Yes?"))
    upstream.signal(ResponseAudio(response_id, PCM_20MS))
    upstream.signal(ResponseDone(response_id))
    upstream.signal(PlaybackStopped(response_id))
    # a reply cut off by the client: output_audio_buffer.cleared
    upstream.send(
        "session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    response_id = upstream.send("response.create")[0]["response"]["id"]
    item_id = upstream.signal(ResponseText(response_id, "Well,"))[0]["item"]["id"]
    upstream.signal(ResponseAudio(response_id, PCM_20MS))
    upstream.send("output_audio_buffer.clear")
    upstream.signal(PlaybackCleared(response_id, item_id, 10))
    upstream.send(
        "session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}},
        },
    )
    upstream.signal(TimerExpired(IDLE_TIMER))
    upstream.check_round_trip()
    assert "input_audio_buffer.timeout_triggered" in types(upstream.originals)
    playback = {"output_audio_buffer.started", "output_audio_buffer.stopped"}
    assert playback | {"output_audio_buffer.cleared"} <= set(types(upstream.received))


def test_round_trip_errors_keep_ga_params() -> None:
    upstream = BetaUpstream()
    upstream.start()
    upstream.send(
        "session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    upstream.send("conversation.item.create", item=user_text("Hi"))
    upstream.respond(["Hi"], audio=True)
    errors = upstream.send(
        "session.update",
        event_id="evt_v",
        session={"type": "realtime", "audio": {"output": {"voice": "ash"}}},
    )
    upstream.check_round_trip()
    (error,) = errors
    assert error["error"]["code"] == "cannot_update_voice"
    assert error["error"]["param"] == "session.audio.output.voice"
    assert error["error"]["event_id"] == "evt_v"


def test_round_trip_transcription_session() -> None:
    upstream = BetaUpstream(session_type="transcription")
    upstream.start()
    upstream.send(
        "session.update",
        session={
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcma"},
                    "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en"},
                    "turn_detection": None,
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
    )
    upstream.send("input_audio_buffer.append", audio=AUDIO_100MS)
    committed = upstream.send("input_audio_buffer.commit")
    upstream.signal(TranscriptFailed(committed[0]["item_id"], "STT down"))
    upstream.send("input_audio_buffer.append", audio=AUDIO_100MS)
    committed = upstream.send("input_audio_buffer.commit")
    upstream.signal(TranscriptCompleted(committed[0]["item_id"], "Hello.", 0.1))
    upstream.check_round_trip()
    assert upstream.received[1]["session"]["type"] == "transcription"
    assert upstream.received[1]["session"]["audio"]["input"]["format"] == {"type": "audio/pcma"}


HAND_WRITTEN_GA_SERVER_EVENTS: list[dict[str, Any]] = [
    {
        "type": "session.updated",
        "event_id": "event_s",
        "session": {
            "type": "realtime",
            "id": "sess_1",
            "object": "realtime.session",
            "expires_at": 1,
            "model": "gpt-realtime-2025-08-28",
            "output_modalities": ["text"],
            "prompt": {"id": "pmpt_1", "version": "2"},
            "truncation": {"type": "retention_ratio", "retention_ratio": 0.8},
            "include": ["item.input_audio_transcription.logprobs"],
            "tools": [TOOL, MCP_TOOL],
            "tool_choice": {"type": "mcp", "server_label": "docs"},
            "audio": {
                "input": {
                    "noise_reduction": {"type": "far_field", "strength": 0.5},
                    "transcription": {"model": "gpt-4o-transcribe", "languages": ["en", "de"]},
                    "turn_detection": {"type": "server_vad", "idle_timeout_ms": 9000},
                },
                "output": {"voice": {"id": "voice_custom"}, "format": {"type": "audio/pcmu"}},
            },
        },
    },
    {
        "type": "session.created",
        "event_id": "event_t",
        "session": {
            "type": "transcription",
            "id": "sess_2",
            "object": "realtime.transcription_session",
            "expires_at": 1,
            "include": ["item.input_audio_transcription.logprobs"],
            "audio": {
                "input": {
                    "transcription": {"model": "parakeet", "language": "en"},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.2,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                }
            },
        },
    },
    {
        "type": "conversation.item.input_audio_transcription.delta",
        "event_id": "event_d",
        "item_id": "item_1",
        "content_index": 0,
        "delta": "Hel",
        "logprobs": [{"token": "Hel", "bytes": [72, 101, 108], "logprob": -0.1}],
    },
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "event_c",
        "item_id": "item_1",
        "content_index": 0,
        "transcript": "Hello",
        "languages": [{"code": "en"}],
        "logprobs": [{"token": "Hello", "bytes": [72], "logprob": -0.2}],
        "usage": {
            "type": "tokens",
            "input_tokens": 10,
            "output_tokens": 2,
            "total_tokens": 12,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 10},
        },
    },
    {
        "type": "response.done",
        "event_id": "event_r",
        "response": {
            "id": "resp_1",
            "object": "realtime.response",
            "status": "incomplete",
            "status_details": {"type": "incomplete", "reason": "max_output_tokens"},
            "output": [],
            "conversation_id": "conv_1",
            "output_modalities": ["text"],
            "max_output_tokens": 5,
            "metadata": {"k": "v"},
            "usage": {
                "total_tokens": 9,
                "input_tokens": 4,
                "output_tokens": 5,
                "input_token_details": {
                    "text_tokens": 2,
                    "audio_tokens": 1,
                    "image_tokens": 1,
                    "cached_tokens": 2,
                    "cached_tokens_details": {"text_tokens": 2, "audio_tokens": 0},
                },
                "output_token_details": {"text_tokens": 5, "audio_tokens": 0},
            },
        },
    },
    {
        "type": "error",
        "event_id": "event_e",
        "error": {
            "type": "invalid_request_error",
            "code": "invalid_value",
            "message": "Invalid 'session.audio.input.turn_detection.threshold': too high.",
            "param": "session.audio.input.turn_detection.threshold",
            "event_id": None,
        },
    },
]


@pytest.mark.parametrize("event", HAND_WRITTEN_GA_SERVER_EVENTS, ids=lambda e: e["type"])
def test_round_trip_of_events_the_core_does_not_make(event: dict[str, Any]) -> None:
    validate_server_event(event)
    received: list[dict[str, Any]] = []
    dialect = BetaUpstreamDialect()
    for beta in BetaServerTranslator().translate(event):
        BETA_SERVER_EVENT.validate_python(beta, strict=True)
        received += to_ga(dialect, beta)
    assert received == [server_without_beta_losses(event)]


def test_round_trips_cover_the_beta_union() -> None:
    """Every beta server event type occurs in the round trips above or in a hand-written test."""
    BETA_TYPES_SEEN.clear()
    for scenario in (
        test_round_trip_session_configuration,
        test_round_trip_text_turn_and_items,
        test_round_trip_audio_turn,
        test_round_trip_function_call_turn,
        test_round_trip_cancel_failure_and_out_of_band,
        test_round_trip_server_vad_idle_timeout_and_webrtc_playback,
        test_round_trip_errors_keep_ga_params,
        test_round_trip_transcription_session,
    ):
        scenario()
    by_hand = {"conversation.created"}  # test_conversation_created_is_dropped
    assert beta_union_types() - BETA_TYPES_SEEN == by_hand
    assert by_hand == DROPPED_UPSTREAM_EVENT_TYPES


# =============================================================================================
# Live: a GA client relayed to a real server process speaking beta (``OpenAI-Beta: realtime=v1``)
# =============================================================================================


class RelayedClient(EventWaiting):
    """What a relay does with one session: GA events in through the dialect to a beta upstream (the
    SDK's beta connection to our mock server), beta events back through it as GA. Every beta
    event is checked against the beta union, every GA one against the GA union and the
    cross-event invariants."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.dialect = BetaUpstreamDialect()
        self.invariants = InvariantChecker()
        self.pending: collections.deque[dict[str, Any]] = collections.deque()

    async def send(self, event: dict[str, Any]) -> None:
        for beta in self.dialect.client_to_upstream(ga_client(event)):
            await asyncio.wait_for(self.connection._connection.send(json.dumps(beta)), TIMEOUT)

    async def next_event(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while not self.pending:
                beta = json.loads(await self.connection.recv_bytes())
                BETA_SERVER_EVENT.validate_python(beta, strict=True)
                for ga in self.dialect.upstream_to_client(beta):
                    validate_server_event(ga)
                    self.invariants.check(ga)
                    self.pending.append(ga)
        return self.pending.popleft()


@contextlib.asynccontextmanager
async def relayed(base_url: str) -> AsyncIterator[tuple[RelayedClient, dict[str, Any]]]:
    """A relayed session and the GA ``session.created`` it started with."""
    ws_url = base_url.replace("http://", "ws://") + "/v1"
    sdk = AsyncOpenAI(base_url=f"{base_url}/v1", websocket_base_url=ws_url, api_key="sk-test")
    async with sdk.beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        client = RelayedClient(connection)
        created = await client.next_event()
        assert created["type"] == "session.created"
        yield client, created["session"]


async def test_live_text_turn_and_tool_call(server: Any) -> None:
    async with relayed(server.base_url) as (client, session):
        assert session["type"] == "realtime"
        assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "tools": [{**TOOL, "name": "lookup"}],
                    "truncation": "disabled",  # dropped on the way: beta has none
                },
            }
        )
        updated = (await client.collect_until("session.updated"))[-1]["session"]
        assert updated["output_modalities"] == ["text"]
        assert updated["tools"] == [{**TOOL, "name": "lookup"}]
        await client.send({"type": "conversation.item.create", "item": user_text("hello")})
        added = await client.collect_until("conversation.item.done")
        assert types(added) == ["conversation.item.added", "conversation.item.done"]
        await client.send({"type": "response.create"})
        events = await client.collect_until("response.done")
        assert "response.output_text.done" in types(events)
        assert events[-1]["response"]["output"][0]["content"] == [
            {"type": "output_text", "text": "You said: hello"}
        ]
        await client.send({"type": "conversation.item.create", "item": user_text("lookup cats")})
        await client.collect_until("conversation.item.done")
        await client.send({"type": "response.create"})
        events = await client.collect_until("response.done")
        arguments = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert arguments["name"] == "lookup"
        kinds = types(events)
        assert kinds.index("conversation.item.done") == kinds.index("response.output_item.done") - 1


async def test_live_audio_turn_with_server_vad(server: Any) -> None:
    async with relayed(server.base_url) as (client, _):
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "transcription": {"model": "whisper-1"},
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                        },
                        "output": {"format": {"type": "audio/pcmu"}, "voice": "echo"},
                    },
                },
            }
        )
        updated = (await client.collect_until("session.updated"))[-1]["session"]
        assert updated["audio"]["output"] == {
            "format": {"type": "audio/pcmu"},
            "voice": "echo",
            "speed": 1.0,
        }
        await stream(client, clip("go_forward_human.wav"), speed=0)
        events = await client.collect_until("response.done")
        kinds = types(events)
        assert (
            kinds.index("input_audio_buffer.speech_started")
            < kinds.index("input_audio_buffer.committed")
            < kinds.index("conversation.item.added")
            < kinds.index("response.created")
        )
        assert "response.output_audio.delta" in kinds
        assert "response.output_audio_transcript.done" in kinds
        done = events[-1]["response"]
        assert done["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "echo"}
        assert done["output"][0]["content"][0]["type"] == "output_audio"


async def test_live_errors_come_back_with_ga_params(server: Any) -> None:
    async with relayed(server.base_url) as (client, _):
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_empty"})
        error = (await client.collect_until("error"))[-1]["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert error["event_id"] == "evt_empty"
        await client.send({"type": "conversation.item.create", "item": user_text("speak")})
        await client.send({"type": "response.create"})
        await client.collect_until("response.done")
        await client.send(
            {
                "type": "session.update",
                "event_id": "evt_voice",
                "session": {"type": "realtime", "audio": {"output": {"voice": "ash"}}},
            }
        )
        error = (await client.collect_until("error"))[-1]["error"]
        assert (error["code"], error["param"], error["event_id"]) == (
            "cannot_update_voice",
            "session.audio.output.voice",
            "evt_voice",
        )
