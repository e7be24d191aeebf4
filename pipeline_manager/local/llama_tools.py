"""Function tools on the local LLM: a JSON-constrained first step that calls a tool or declines.

Why a module: llama.cpp has no tool calling of its own for a small model's chat template, so the
local LLM service (:mod:`.llama_llm`) asks the model a separate question first, whose answer a
grammar (built from the tools' JSON schemas by llama.cpp's ``LlamaGrammar.from_json_schema``)
forces into one of a few shapes::

    {"tool": "<name>", "arguments": {...}}    # a call; the arguments match the tool's schema
    {"tool": null}                            # no call: the reply is then written in words

Everything here is pure (prompt, schema, parsing); the model runs in :mod:`.llama_worker`.

What the step may answer follows ``tool_choice`` and what the model can do (``tool_calling``,
:mod:`realtime_session.reply_policy`): a named function allows only that call; ``required``
any call but no ``null``; ``auto`` a call or ``null``, but only for a model trusted to decide
(``tool_calling: auto``). Measured on the packaged SmolLM2-135M-Instruct (docs/protocol.md §6):
a named call comes out well-formed every time, with the right arguments 6 times in 7, but left
to decide the model is right on 4 to 7 prompts of 12, calling a tool on "Hello, how are you?"
or on nothing at all depending on the prompt's wording, so for that model the default is
``forced``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from realtime_session.reply_policy import ToolCalling

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar

STEP_SAMPLING: dict[str, Any] = {"temperature": 0.0, "repeat_penalty": 1.0}
"""Greedy decoding for the step: the most likely call, and no penalty on JSON's repeated
punctuation."""


@dataclass(frozen=True)
class ToolStep:
    """The constrained first step of one reply.

    Parameters:
        tools: The function tools the step may call (OpenAI chat format).
        may_decline: Whether ``{"tool": null}`` (no call) is allowed.
        named: Set when ``tool_choice`` names one function (``tools`` is then just that one).
    """

    tools: tuple[dict[str, Any], ...]
    may_decline: bool
    named: str | None = None

    @property
    def names(self) -> list[str]:
        """The names of the tools the step may call."""
        return [tool_name(tool) for tool in self.tools]


def tool_name(tool: dict[str, Any]) -> str:
    """The function's name of an OpenAI chat-format tool."""
    return str(tool.get("function", {}).get("name", ""))


def plan_tool_step(
    tool_calling: ToolCalling, tools: list[dict[str, Any]], tool_choice: Any
) -> ToolStep | None:
    """The step a reply starts with, or None when it is written in words straight away.

    Args:
        tool_calling: What the model does with tools.
        tools: The request's tools (OpenAI chat format: ``{"type": "function", "function":
            {...}}``).
        tool_choice: ``auto``, ``none``, ``required`` or ``{"type": "function", "function":
            {"name": ...}}``.
    """
    functions = tuple(tool for tool in tools if tool.get("type") == "function")
    if not functions or tool_calling == "none" or tool_choice in ("none", None):
        return None
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        chosen = tuple(tool for tool in functions if tool_name(tool) == name)
        return ToolStep(chosen, may_decline=False, named=name) if chosen else None
    if tool_choice == "required":
        return ToolStep(functions, may_decline=False)
    if tool_calling == "auto":
        return ToolStep(functions, may_decline=True)
    return None  # tool_choice auto on a model that is not trusted to decide


def step_schema(step: ToolStep) -> dict[str, Any]:
    """The JSON schema the step's answer is constrained to."""
    options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {"tool": {"const": tool_name(tool)}, "arguments": _parameters(tool)},
            "required": ["tool", "arguments"],
        }
        for tool in step.tools
    ]
    if step.may_decline:
        options.append(
            {"type": "object", "properties": {"tool": {"type": "null"}}, "required": ["tool"]}
        )
    return options[0] if len(options) == 1 else {"oneOf": options}


def _parameters(tool: dict[str, Any]) -> dict[str, Any]:
    parameters = tool.get("function", {}).get("parameters") or {}
    if not parameters.get("properties"):
        return {"type": "object", "properties": {}}
    return {
        "type": "object",
        "properties": parameters["properties"],
        "required": list(parameters.get("required", [])),
    }


@lru_cache(maxsize=64)
def _grammar(schema_json: str) -> LlamaGrammar:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


def step_grammar(step: ToolStep) -> LlamaGrammar:
    """The llama.cpp grammar of the step's schema (cached: sessions reuse the same tools)."""
    return _grammar(json.dumps(step_schema(step), sort_keys=True))


def step_messages(messages: list[dict[str, str]], step: ToolStep) -> list[dict[str, str]]:
    """The conversation with the tools and the answer's shape added to its system message.

    The wording was chosen on SmolLM2-135M (a named call's arguments: 6 of 7 right with this
    one-tool form, 5 of 7 with the list form; the list then names the tool to copy instead of
    the user's words).
    """
    if step.named is not None:
        (tool,) = step.tools
        description = _description(tool)
        about = f" ({description})" if description else ""
        lines = [
            f"Tool: {step.named}{about} Arguments: {json.dumps(_properties(tool))}",
            "Call it now, with the arguments taken from the user's words.",
        ]
    else:
        lines = ["You can call these tools:"]
        for tool in step.tools:
            description = _description(tool)
            head = f"- {tool_name(tool)}: {description}" if description else f"- {tool_name(tool)}:"
            lines.append(f"{head} Arguments: {json.dumps(_properties(tool))}")
        if step.may_decline:
            lines.append(
                'If a tool answers the user\'s request, reply {"tool": "<name>", "arguments": '
                '{...}}. Otherwise reply {"tool": null}.'
            )
        else:
            lines.append(
                'Call the tool that fits the user\'s request: reply {"tool": "<name>", '
                '"arguments": {...}}.'
            )
    tools_text = "\n".join(lines)
    result = [dict(message) for message in messages]
    if result and result[0]["role"] == "system":
        result[0]["content"] = f"{result[0]['content']}\n\n{tools_text}"
    else:
        result.insert(0, {"role": "system", "content": tools_text})
    return result


def _description(tool: dict[str, Any]) -> str:
    return str(tool.get("function", {}).get("description") or "").strip()


def _properties(tool: dict[str, Any]) -> dict[str, Any]:
    properties = (tool.get("function", {}).get("parameters") or {}).get("properties")
    return properties if isinstance(properties, dict) else {}


def parse_step(text: str, step: ToolStep) -> tuple[str, dict[str, Any]] | None:
    """The call the step's answer makes, ``(name, arguments)``, or None for no call.

    Raises:
        ValueError: The answer is not a call although the step must call (it was cut short by
            ``max_tokens``: the grammar allows nothing else).
    """
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        answer = None
    name = answer.get("tool") if isinstance(answer, dict) else None
    if name in step.names:
        arguments = answer.get("arguments") if isinstance(answer, dict) else None
        return str(name), arguments if isinstance(arguments, dict) else {}
    if step.may_decline:
        return None
    raise ValueError(f"the local LLM gave no valid tool call: {text[:200]!r}")
