"""What runs on the llama.cpp worker thread: fitting the prompt, and streaming one completion.

Why a module: this code runs on ``models.llm_executor`` holding ``models.llm_lock``, never on
the event loop, and talks to llama.cpp only; :mod:`.llama_llm` is the Pipecat side.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, cast

from loguru import logger
from pipecat.metrics.metrics import LLMTokenUsage

from .models import LocalModels

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_types import (
        ChatCompletionRequestMessage,
        CreateChatCompletionStreamResponse,
    )


def to_llama_messages(messages: Any) -> list[dict[str, str]]:
    """Flatten OpenAI-format messages into the role/str-content form llama.cpp templates use.

    List contents keep their text parts only; tool results become user messages; assistant
    messages with only tool calls are dropped.
    """
    result: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role", "user")
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(
                part.get("text", "") for part in content if part.get("type") == "text"
            )
        if not content:
            continue
        if role == "tool":
            role, content = "user", f"[tool result] {content}"
        elif role not in ("system", "user", "assistant"):
            role = "user"
        result.append({"role": role, "content": str(content)})
    return result


def fit_to_context(
    llm: Llama, messages: list[dict[str, str]], max_tokens: int, max_prompt_tokens: int
) -> list[dict[str, str]]:
    """Shorten the conversation so the prompt fits the token budget.

    The budget is ``max_prompt_tokens``, and never more than the context window minus the
    reply. The oldest non-system messages are dropped first; if the newest message alone
    is still too long, only its end is kept. Token counts are per-message estimates
    (content plus template overhead), enough to avoid llama.cpp's "exceeds context window"
    error. Call with the lock held (it uses the model's tokenizer).
    """
    per_message_overhead = 6  # <|im_start|>role\n ... <|im_end|>\n
    budget = min(max_prompt_tokens, llm.n_ctx() - max_tokens - 16)

    def tokens(text: str) -> list[int]:
        return llm.tokenize(text.encode(), add_bos=False, special=False)

    costs = [len(tokens(m["content"])) + per_message_overhead for m in messages]
    kept = list(range(len(messages)))
    while sum(costs[i] for i in kept) > budget:
        droppable = [i for i in kept[:-1] if messages[i]["role"] != "system"]
        if not droppable:
            break
        kept.remove(droppable[0])
    result = [dict(messages[i]) for i in kept]
    excess = sum(costs[i] for i in kept) - budget
    if excess > 0 and result:
        last = tokens(result[-1]["content"])
        keep = max(1, len(last) - excess)
        result[-1]["content"] = llm.detokenize(last[-keep:]).decode("utf-8", errors="ignore")
        logger.debug(f"Local LLM: kept the last {keep} tokens of an over-long message")
    if len(kept) < len(messages):
        logger.debug(f"Local LLM: dropped {len(messages) - len(kept)} old messages to fit")
    return result


def stream_chat(
    llm: Llama, messages: list[dict[str, str]], **kwargs: Any
) -> Generator[CreateChatCompletionStreamResponse, None, None]:
    """llama.cpp's chat completion with ``stream=True``: a generator of chunks.

    The messages are role/content dicts of strings, which the chat template takes as
    llama.cpp's message types. Call with the lock held.
    """
    return cast(
        "Generator[CreateChatCompletionStreamResponse, None, None]",
        llm.create_chat_completion(
            messages=cast("list[ChatCompletionRequestMessage]", messages), stream=True, **kwargs
        ),
    )


def generate(
    models: LocalModels,
    messages: list[dict[str, str]],
    kwargs: dict[str, Any],
    max_prompt_tokens: int,
    stop: threading.Event,
    emit: Callable[[str | LLMTokenUsage], None],
) -> None:
    """Stream one completion (runs in the llama worker thread, holding the model lock)."""
    with models.llm_lock:
        if stop.is_set():  # interrupted while waiting for the model
            return
        llm = models.llm
        messages = fit_to_context(
            llm, messages, int(kwargs.get("max_tokens") or 256), max_prompt_tokens
        )
        stream = stream_chat(llm, messages, **kwargs)
        completion_tokens = 0
        try:
            for chunk in stream:
                if stop.is_set():
                    break
                content = chunk["choices"][0]["delta"].get("content")
                if isinstance(content, str) and content:
                    completion_tokens += 1
                    emit(content)
        finally:
            stream.close()
        # After a completion the KV state holds prompt + generated tokens.
        prompt_tokens = max(0, llm.n_tokens - completion_tokens)
    emit(
        LLMTokenUsage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
    )
