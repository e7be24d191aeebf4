"""The server's defaults for what a reply may be: how long a spoken one runs, and tool calls.

Why a module: both are policies of the model entry a session runs on (its settings and what its
LLM can do, given to the core in :class:`~realtime_session.session.SessionLimits`), applied at
the few places where the core builds a response; keeping them here keeps those places short.

- **Spoken-reply cap.** A voice assistant answers in a sentence or two. When the client leaves
  ``max_output_tokens`` at ``"inf"``, an audio response gets the entry's
  ``spoken_reply_max_tokens`` as a *soft* cap: the pipeline ends the reply at the last sentence
  end within it (never mid-word) and the response is ``completed``, because the client asked for
  nothing. A ``max_output_tokens`` the client sets is the protocol's *hard* limit instead: the
  reply stops at that many tokens and the response is ``incomplete`` (``max_output_tokens``).
- **Tool calling.** ``auto``: the model decides when to call a tool. ``forced``: it calls one only
  when ``tool_choice`` is ``required`` or names a function, and answers in words otherwise.
  ``none``: it never calls tools. Setting tools the model will not call gets a notice: an
  ``error`` event sent after the update (or response) it concerns, which is applied anyway.
"""

from __future__ import annotations

from typing import Any, Literal

from protocol.errors import error_event

ToolCalling = Literal["auto", "forced", "none"]
"""What a model does with function tools (see the module docstring)."""


def reply_cap(max_output_tokens: int | str, modalities: list[str], spoken_cap: int) -> int | None:
    """The soft cap of a response in tokens, or None.

    Args:
        max_output_tokens: The response's ``max_output_tokens`` (an int, or ``"inf"``).
        modalities: Its output modalities.
        spoken_cap: The entry's ``spoken_reply_max_tokens`` (0: none).
    """
    if spoken_cap > 0 and max_output_tokens == "inf" and "audio" in modalities:
        return spoken_cap
    return None


def tools_notice(
    tools: list[dict[str, Any]], tool_choice: Any, tool_calling: ToolCalling, where: str
) -> dict[str, Any] | None:
    """The ``error`` event telling the client its tools will not be called, or None.

    Args:
        tools: The effective tools of the session (or the response).
        tool_choice: The effective ``tool_choice``.
        tool_calling: What the model does with tools.
        where: ``session`` or ``response``, for the error's ``param``.
    """
    functions = [tool for tool in tools if tool.get("type", "function") == "function"]
    if not functions or tool_choice == "none" or tool_calling == "auto":
        return None
    if tool_calling == "none":
        return error_event(
            "tools_unsupported",
            "This model cannot call tools: they are ignored and it answers in words.",
            param=f"{where}.tools",
        )
    if tool_choice != "auto":
        return None
    return error_event(
        "tool_choice_unsupported",
        "This model does not decide by itself when to call a tool: with tool_choice 'auto' it "
        "answers in words and never calls one. Set tool_choice to 'required', or to "
        '{"type": "function", "name": "..."}, when a call is wanted.',
        param=f"{where}.tool_choice",
    )
