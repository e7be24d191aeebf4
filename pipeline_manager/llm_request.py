"""The core's LLM request as a Pipecat ``LLMContext`` (OpenAI chat format messages and tools)."""

from __future__ import annotations

from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.processors.aggregators.llm_context import LLMContext

from realtime_session.llm_context import LLMRequest


def llm_context(request: LLMRequest) -> LLMContext:
    """A Pipecat LLM context for one response: messages, function tools and the tool choice."""
    tools = [
        FunctionSchema(
            name=tool["name"],
            description=tool.get("description", ""),
            properties=(tool.get("parameters") or {}).get("properties", {}),
            required=(tool.get("parameters") or {}).get("required", []),
        )
        for tool in request.tools
    ]
    choice = request.tool_choice
    if isinstance(choice, dict):
        choice = {"type": "function", "function": {"name": choice.get("name")}}
    # Already in the OpenAI chat format Pipecat's context holds (its TypedDicts, as plain dicts).
    messages: list[Any] = list(request.messages)
    if tools:
        return LLMContext(
            messages=messages, tools=ToolsSchema(standard_tools=tools), tool_choice=choice
        )
    return LLMContext(messages=messages)
