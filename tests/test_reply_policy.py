"""Safe demo defaults (realtime_session/reply_policy.py): short spoken replies, and tools a model
will not call.

- The soft cap of a spoken reply: cut at the last sentence end (never mid-word), status
  ``completed``; a client's own ``max_output_tokens`` stays the protocol's hard limit
  (``incomplete``). Deterministic on the mock profile, whose LLM writes one piece per word.
- What a model does with tools (``auto``, ``forced``, ``none``): advertised in ``/health`` and
  ``/v1/models``, a notice (``error`` event) when a client sets tools that will not be called,
  and the local LLM's constrained tool step (its pure parts: plan, schema, parsing).

The local LLM itself, for real, is in tests/test_local_models.py and tests/test_local_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from pipecat.frames.frames import LLMFullResponseEndFrame, LLMTextFrame
from pipecat.tests.utils import run_test

from config import Settings
from model_catalog import ModelCatalog
from model_catalog.schema import CatalogConfig
from pipeline_manager.local.llama_tools import (
    ToolStep,
    parse_step,
    plan_tool_step,
    step_messages,
    step_schema,
)
from pipeline_manager.processors import ReplyCap, ReplyCapFrame, cut_at_word, last_sentence_end
from realtime_session import SessionLimits
from realtime_session.defaults import DEFAULT_INSTRUCTIONS, SHORT_REPLY_INSTRUCTIONS
from realtime_session.reply_policy import reply_cap, tools_notice
from tests.conftest import ServerProcess, open_client
from tests.realtime_client import RealtimeTestClient, audio_of
from tests.test_core_session import TOOL, Core, types
from transport.session_parts import session_limits

CAP = 10
MS_PER_CHARACTER = 20  # the mock TTS
BYTES_PER_MS = 48
TIMEOUT = 20.0


@pytest.fixture(scope="module")
def capped_server() -> Iterator[ServerProcess]:
    """A mock-profile server whose spoken replies are capped at ``CAP`` pieces (words)."""
    process = ServerProcess({"REALTIME_SPOKEN_REPLY_MAX_TOKENS": str(CAP)})
    yield process
    process.stop()


async def ask(client: RealtimeTestClient, text: str, **response: Any) -> list[dict[str, Any]]:
    """A user message and a response to it: every event up to ``response.done``."""
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    await client.send({"type": "conversation.item.create", "item": item})
    await client.send({"type": "response.create", **({"response": response} if response else {})})
    return await client.collect_until("response.done", timeout=TIMEOUT)


def spoken(events: list[dict[str, Any]]) -> str:
    """The transcript of the reply, checked equal to its streamed deltas."""
    done = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    deltas = [e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"]
    assert "".join(deltas) == done["transcript"]
    transcript: str = done["transcript"]
    return transcript


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


# --- the soft cap, end to end on the mock profile --------------------------------------------


async def test_a_long_spoken_reply_ends_at_the_last_sentence_within_the_cap(
    capped_server: ServerProcess,
) -> None:
    async with open_client(capped_server.base_url) as client:
        events = await ask(
            client, "The first sentence is here. The second one runs on well past the cap."
        )
    done = events[-1]["response"]
    # "You said: The first sentence is here." is 7 words; the cap (10) falls inside the next
    # sentence, which is dropped whole rather than spoken half-way.
    assert spoken(events) == "You said: The first sentence is here."
    assert done["status"] == "completed"
    assert done["status_details"] is None
    assert done["max_output_tokens"] == "inf"
    # The audio is the transcript's, no more (the mock TTS: 20 ms a character).
    assert len(audio_of(events)) == len(spoken(events)) * MS_PER_CHARACTER * BYTES_PER_MS


async def test_a_sentence_that_ends_exactly_at_the_cap_is_kept(
    capped_server: ServerProcess,
) -> None:
    async with open_client(capped_server.base_url) as client:
        events = await ask(client, "One two three. Four five six seven eight. Nine ten.")
    # Piece 10 is "eight.": the sentence it ends is complete, so it is spoken.
    assert spoken(events) == "You said: One two three. Four five six seven eight."
    assert events[-1]["response"]["status"] == "completed"


async def test_without_a_sentence_end_the_cap_cuts_at_a_word(
    capped_server: ServerProcess,
) -> None:
    async with open_client(capped_server.base_url) as client:
        events = await ask(client, "alpha beta gamma delta epsilon zeta eta theta iota kappa")
    # Ten pieces: "You said: alpha ... eta theta"; the last may still be growing, so it goes.
    assert spoken(events) == "You said: alpha beta gamma delta epsilon zeta eta"
    assert events[-1]["response"]["status"] == "completed"


async def test_a_short_reply_is_untouched(capped_server: ServerProcess) -> None:
    async with open_client(capped_server.base_url) as client:
        events = await ask(client, "Hello there, how are you")
    assert spoken(events) == "You said: Hello there, how are you"
    assert events[-1]["response"]["status"] == "completed"


async def test_the_clients_max_output_tokens_is_a_hard_limit(
    capped_server: ServerProcess,
) -> None:
    async with open_client(capped_server.base_url) as client:
        long = "One two three. Four five six seven. Eight nine ten eleven twelve thirteen."
        events = await ask(client, long, max_output_tokens=14)
    done = events[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    # Cut at the 14th piece, mid-sentence, as the real API cuts at the 14th token.
    assert (
        spoken(events)
        == "You said: One two three. Four five six seven. Eight nine ten eleven twelve"
    )


async def test_text_replies_are_not_capped(capped_server: ServerProcess) -> None:
    async with open_client(capped_server.base_url) as client:
        text = "One two three. Four five six seven. Eight nine ten eleven twelve."
        events = await ask(client, text, output_modalities=["text"])
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == f"You said: {text}"


async def test_capped_sessions_ask_for_short_replies_until_the_client_says_otherwise(
    capped_server: ServerProcess,
) -> None:
    async with open_client(capped_server.base_url) as client:
        assert client.session["instructions"] == SHORT_REPLY_INSTRUCTIONS
        updated = await client.update_session(instructions="Tell long stories.")
        assert updated["session"]["instructions"] == "Tell long stories."


async def test_capabilities_are_advertised(capped_server: ServerProcess) -> None:
    health = await asyncio.to_thread(get_json, f"{capped_server.base_url}/health")
    expected = {"tool_calling": "auto", "spoken_reply_max_tokens": CAP}
    assert health["models"]["gpt-realtime"]["capabilities"] == expected
    models = await asyncio.to_thread(get_json, f"{capped_server.base_url}/v1/models")
    assert models["data"][0]["capabilities"] == expected


def test_a_model_entry_sets_its_own_cap() -> None:
    config = CatalogConfig.model_validate(
        {
            "models": [
                {"name": "short", "pipeline": {"profile": "mock", "spoken_reply_max_tokens": 20}},
                {
                    "name": "own-words",
                    "pipeline": {
                        "profile": "mock",
                        "spoken_reply_max_tokens": 20,
                        "instructions": "Be yourself.",
                    },
                },
                {"name": "plain", "pipeline": {"profile": "mock"}},
            ]
        }
    )
    short, own_words, plain = ModelCatalog.from_config(config, Settings(profile="mock")).entries
    assert short.capabilities() == {"tool_calling": "auto", "spoken_reply_max_tokens": 20}
    assert short.session_defaults == {"instructions": SHORT_REPLY_INSTRUCTIONS}
    assert session_limits(short.settings, short.services).spoken_reply_max_tokens == 20
    assert own_words.session_defaults == {"instructions": "Be yourself."}
    assert plain.capabilities() == {"tool_calling": "auto", "spoken_reply_max_tokens": 0}
    assert plain.session_defaults == {}


def test_the_cap_defaults_to_the_local_llms_only() -> None:
    assert Settings(profile="local").spoken_reply_cap() == 60
    assert Settings(profile="mock").spoken_reply_cap() == 0
    assert Settings(profile="mock", llm="local").spoken_reply_cap() == 60
    assert Settings(profile="local", llm="openai").spoken_reply_cap() == 0
    assert Settings(profile="local", spoken_reply_max_tokens=0).spoken_reply_cap() == 0
    assert Settings(profile="mock", spoken_reply_max_tokens=25).spoken_reply_cap() == 25


# --- the pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("Hello there. How", len("Hello there.")),
        ('He said "yes." Then', len('He said "yes."')),
        ("Really?! Yes", len("Really?!")),
        ("你好。今天", len("你好。")),
        ("It is 3.5 km", 0),  # a decimal point
        ("Done.", 0),  # not confirmed until white space follows
        ("One. Two. Thr", len("One. Two.")),
    ],
)
def test_sentence_ends(text: str, end: int) -> None:
    assert last_sentence_end(text) == end


def test_cut_at_word() -> None:
    assert cut_at_word("one two thr") == "one two"
    assert cut_at_word("one two ") == "one two "
    assert cut_at_word("single") == "single"


async def test_reply_cap_processor_stops_the_llm_and_drops_the_rest() -> None:
    stops: list[bool] = []
    pieces = ["Hi", " there.", " This", " one", " is", " cut", " off.", " More", " text."]
    frames = [ReplyCapFrame(5), *[LLMTextFrame(p) for p in pieces], LLMFullResponseEndFrame()]
    down, _ = await run_test(ReplyCap(lambda: stops.append(True)), frames_to_send=frames)
    texts = [f.text for f in down if isinstance(f, LLMTextFrame)]
    assert texts == ["Hi there."]
    assert stops == [True]
    assert isinstance(down[-1], LLMFullResponseEndFrame)


async def test_reply_cap_processor_passes_uncapped_replies_piece_by_piece() -> None:
    pieces = ["Hi", " there.", " This", " one"]
    frames = [ReplyCapFrame(None), *[LLMTextFrame(p) for p in pieces], LLMFullResponseEndFrame()]
    down, _ = await run_test(ReplyCap(), frames_to_send=frames)
    assert [f.text for f in down if isinstance(f, LLMTextFrame)] == pieces


def test_reply_cap_applies_to_spoken_replies_left_at_inf() -> None:
    assert reply_cap("inf", ["audio"], 60) == 60
    assert reply_cap(200, ["audio"], 60) is None
    assert reply_cap("inf", ["text"], 60) is None
    assert reply_cap("inf", ["audio"], 0) is None


def test_the_core_puts_the_cap_in_the_llm_request() -> None:
    core = Core(limits=SessionLimits(spoken_reply_max_tokens=40))
    core.user_text("hello")
    first = core.create_response()
    assert core.request(first).reply_cap == 40
    core.done(first)
    capped_off = core.create_response(max_output_tokens=100)
    assert core.request(capped_off).reply_cap is None


# --- tools a model will not call -------------------------------------------------------------


def test_tools_notice_follows_what_the_model_does() -> None:
    tools = [TOOL]
    assert tools_notice(tools, "auto", "auto", "session") is None
    assert tools_notice(tools, "required", "forced", "session") is None
    assert tools_notice(tools, {"type": "function", "name": "x"}, "forced", "session") is None
    assert tools_notice(tools, "none", "none", "session") is None
    assert tools_notice([], "auto", "none", "session") is None
    forced = tools_notice(tools, "auto", "forced", "session")
    assert forced is not None and forced["error"]["code"] == "tool_choice_unsupported"
    assert forced["error"]["param"] == "session.tool_choice"
    never = tools_notice(tools, "required", "none", "response")
    assert never is not None and never["error"]["code"] == "tools_unsupported"
    assert never["error"]["param"] == "response.tools"


def test_setting_tools_a_model_will_not_choose_gets_a_notice_and_still_applies() -> None:
    core = Core(limits=SessionLimits(tool_calling="forced"))
    produced = core.send("session.update", session={"type": "realtime", "tools": [TOOL]})
    assert types(produced) == ["session.updated", "error"]
    assert produced[0]["session"]["tools"] == [TOOL]
    assert produced[1]["error"]["code"] == "tool_choice_unsupported"
    # Forcing the call is what this model can do: no notice.
    forced = core.send("session.update", session={"type": "realtime", "tool_choice": "required"})
    assert types(forced) == ["session.updated"]
    # Nor for updates that do not touch the tools.
    core.send("session.update", session={"type": "realtime", "tool_choice": "auto"})
    assert types(core.send("session.update", session={"type": "realtime"})) == ["session.updated"]
    # A response that brings its own tools gets the notice after response.created.
    core.user_text("hello")
    created = core.send("response.create", response={"tools": [TOOL], "tool_choice": "auto"})
    assert types(created) == ["response.created", "error"]


def test_a_model_that_chooses_tools_gets_no_notice() -> None:
    core = Core()
    produced = core.send("session.update", session={"type": "realtime", "tools": [TOOL]})
    assert types(produced) == ["session.updated"]
    assert produced[0]["session"]["instructions"] == DEFAULT_INSTRUCTIONS


# --- the local LLM's tool step (pure parts) ----------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIMER = {"type": "function", "function": {"name": "set_timer", "parameters": {}}}


def test_the_tool_step_follows_tool_choice_and_the_models_ability() -> None:
    tools = [WEATHER, TIMER]
    assert plan_tool_step("forced", tools, "auto") is None
    assert plan_tool_step("auto", tools, "none") is None
    assert plan_tool_step("none", tools, "required") is None
    assert plan_tool_step("auto", [], "required") is None
    auto = plan_tool_step("auto", tools, "auto")
    assert auto is not None and auto.may_decline and auto.names == ["get_weather", "set_timer"]
    required = plan_tool_step("forced", tools, "required")
    assert required is not None and not required.may_decline
    named = plan_tool_step("forced", tools, {"type": "function", "function": {"name": "set_timer"}})
    assert named == ToolStep((TIMER,), may_decline=False, named="set_timer")
    unknown = {"type": "function", "function": {"name": "nope"}}
    assert plan_tool_step("forced", tools, unknown) is None


def test_the_tool_step_schema_allows_exactly_the_calls_it_may_make() -> None:
    schema = step_schema(ToolStep((WEATHER,), may_decline=False, named="get_weather"))
    assert schema["properties"]["tool"] == {"const": "get_weather"}
    assert schema["properties"]["arguments"]["required"] == ["city"]
    declinable = step_schema(ToolStep((WEATHER, TIMER), may_decline=True))
    assert len(declinable["oneOf"]) == 3
    assert declinable["oneOf"][2]["properties"]["tool"] == {"type": "null"}
    # A tool without parameters takes an empty object.
    assert declinable["oneOf"][1]["properties"]["arguments"] == {"type": "object", "properties": {}}


def test_the_tool_step_prompt_keeps_the_instructions() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    prompt = step_messages(messages, ToolStep((WEATHER,), may_decline=True))
    assert prompt[0]["content"].startswith("Be brief.\n\nYou can call these tools:")
    assert "- get_weather: Get the weather." in prompt[0]["content"]
    assert '{"tool": null}' in prompt[0]["content"]
    assert prompt[1:] == messages[1:]
    assert messages[0]["content"] == "Be brief."  # not modified in place
    bare = step_messages(
        [{"role": "user", "content": "hi"}], ToolStep((TIMER,), False, "set_timer")
    )
    assert bare[0]["role"] == "system"
    assert bare[0]["content"].startswith("Tool: set_timer Arguments: {}\nCall it now")


def test_parsing_the_tool_step() -> None:
    step = ToolStep((WEATHER,), may_decline=True)
    call = '{ "tool": "get_weather", "arguments": { "city": "Paris" } }'
    assert parse_step(call, step) == ("get_weather", {"city": "Paris"})
    assert parse_step('{"tool": null}', step) is None
    assert parse_step('{"tool": "get_wea', step) is None  # cut short: no call
    with pytest.raises(ValueError, match="no valid tool call"):
        parse_step('{"tool": "get_wea', ToolStep((WEATHER,), may_decline=False))
