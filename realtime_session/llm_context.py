"""Turning conversation items into the chat messages a text LLM sees.

The conversation is the single source of truth: creating, deleting or truncating items changes the
next response's context. Audio items contribute their (hidden) STT transcript, a truncated assistant
reply only the part the user heard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realtime_session.conversation import ItemRecord


@dataclass(frozen=True)
class LLMRequest:
    """What the pipeline needs to generate one response."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: Any
    max_output_tokens: int | str
    modalities: tuple[str, ...]
    voice: str
    reply_cap: int | None = None
    """A soft cap in tokens (the default length of a spoken reply): the pipeline ends the reply
    at the last sentence end within it, and the response completes. None: no cap."""


def item_text(record: ItemRecord) -> str:
    """The text of a message item as the LLM should see it."""
    if record.llm_text is not None:
        return record.llm_text
    parts = []
    for part in record.item.get("content", []):
        for key in ("text", "transcript"):
            value = part.get(key)
            if value:
                parts.append(value)
                break
    return " ".join(parts)


def build_messages(instructions: str, records: list[ItemRecord]) -> list[dict[str, Any]]:
    """OpenAI chat-completions messages for these items, led by the instructions."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for record in records:
        item = record.item
        kind = item.get("type")
        if kind == "message":
            messages.append({"role": item["role"], "content": item_text(record)})
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item.get("arguments", "")},
            }
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {"role": "tool", "tool_call_id": item["call_id"], "content": item.get("output", "")}
            )
    return messages


def estimate_tokens_of(messages: list[dict[str, Any]]) -> int:
    """Estimate the input tokens of a chat request (four characters a token, four per message)."""
    chars = 0
    for message in messages:
        chars += len(message.get("content") or "")
        for call in message.get("tool_calls", []):
            chars += len(call["function"]["name"]) + len(call["function"]["arguments"])
    return (chars + 3) // 4 + 4 * len(messages)
