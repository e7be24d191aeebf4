"""Conversation items between GA and GLM (the item table in :mod:`relay.dialects.glm`).

GA names content parts ``input_text`` / ``input_audio`` / ``input_image`` (user, system) and
``output_text`` / ``output_audio`` (assistant); GLM names them ``input_text`` / ``input_audio`` and
``text`` (assistant), and has no images in items (video frames are a separate event).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .events import as_str, new_id

_ITEM_STATUSES = ("completed", "incomplete", "in_progress")


class ItemRefused(ValueError):
    """A GA item GLM cannot take; ``param`` is the GA path of the offending field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def ga_item_to_glm(
    item: Mapping[str, Any],
    *,
    convert_audio: Callable[[str], str],
    upstream_call_id: Callable[[str | None], str | None],
) -> dict[str, Any]:
    """A GA item (``conversation.item.create``) as GLM's ``RealtimeConversationItem``.

    Args:
        item: The GA item.
        convert_audio: Base64 audio in the client's input format -> base64 in GLM's.
        upstream_call_id: A GA ``call_id`` -> the one GLM knows (``None`` to leave it out: the
            dialect made it up because GLM gave none).

    Raises:
        ItemRefused: for an item type GLM lacks, or a message with nothing GLM can read.
    """
    item_type = item.get("type")
    glm: dict[str, Any] = {"type": item_type, "object": "realtime.item"}
    if as_str(item.get("id")):
        glm["id"] = item["id"]
    if item.get("status") in ("completed", "incomplete"):
        glm["status"] = item["status"]
    if item_type == "message":
        role = item.get("role", "user")
        glm["role"] = role
        glm["content"] = _content_to_glm(role, item.get("content") or [], convert_audio)
        if not glm["content"]:
            raise ItemRefused(
                "GLM-Realtime cannot take this message: none of its content parts has a type it "
                "supports (text, or audio for a user message).",
                "item.content",
            )
    elif item_type == "function_call":
        glm["name"] = item.get("name", "")
        glm["arguments"] = item.get("arguments", "")
        call_id = upstream_call_id(as_str(item.get("call_id")))
        if call_id:
            glm["call_id"] = call_id
    elif item_type == "function_call_output":
        glm["output"] = item.get("output", "")
        call_id = upstream_call_id(as_str(item.get("call_id")))
        if call_id:
            glm["call_id"] = call_id
    else:
        raise ItemRefused(
            f"GLM-Realtime has no '{item_type}' items; supported item types are 'message', "
            "'function_call' and 'function_call_output'.",
            "item.type",
        )
    return glm


def _content_to_glm(
    role: str, parts: list[Any], convert_audio: Callable[[str], str]
) -> list[dict[str, Any]]:
    glm_parts: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        text = part.get("text")
        transcript = part.get("transcript")
        if kind in ("input_text", "output_text", "text") and isinstance(text, str):
            glm_parts.append(
                {"type": "text" if role == "assistant" else "input_text", "text": text}
            )
        elif kind == "input_audio" and role == "user":
            glm_part: dict[str, Any] = {"type": "input_audio"}
            if as_str(part.get("audio")):
                glm_part["audio"] = convert_audio(part["audio"])
            if isinstance(transcript, str):
                glm_part["transcript"] = transcript
            if len(glm_part) > 1:
                glm_parts.append(glm_part)
        elif kind in ("output_audio", "audio") and isinstance(transcript, str):
            # An assistant's earlier audio: GLM takes the words it said as text.
            glm_parts.append(
                {"type": "text" if role == "assistant" else "input_text", "text": transcript}
            )
        # input_image and anything else: GLM items carry no images (see docs/glm.md).
    return glm_parts


def glm_item_to_ga(item: Mapping[str, Any], *, call_id: str | None = None) -> dict[str, Any] | None:
    """A GLM item (``conversation.item.created``) as a GA item, or ``None`` if GA lacks it.

    ``call_id`` fills in a function item's call id when GLM's item has none.
    """
    item_type = item.get("type")
    status = item.get("status") if item.get("status") in _ITEM_STATUSES else "completed"
    ga: dict[str, Any] = {
        "id": as_str(item.get("id")) or new_id("item"),
        "object": "realtime.item",
        "type": item_type,
        "status": status,
    }
    if item_type == "message":
        role = item.get("role")
        if role not in ("user", "assistant", "system"):
            role = "user"
        ga["role"] = role
        ga["content"] = _content_to_ga(role, item.get("content") or [])
    elif item_type == "function_call":
        ga["name"] = item.get("name") if isinstance(item.get("name"), str) else ""
        ga["arguments"] = item.get("arguments") if isinstance(item.get("arguments"), str) else ""
        ga["call_id"] = as_str(item.get("call_id")) or call_id or new_id("call")
    elif item_type == "function_call_output":
        ga["output"] = item.get("output") if isinstance(item.get("output"), str) else ""
        ga["call_id"] = as_str(item.get("call_id")) or call_id or ""
    else:
        return None
    return ga


def _content_to_ga(role: str, parts: list[Any]) -> list[dict[str, Any]]:
    ga_parts: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        text = part.get("text") if isinstance(part.get("text"), str) else None
        transcript = part.get("transcript") if isinstance(part.get("transcript"), str) else None
        if role == "assistant":
            if kind in ("audio", "output_audio"):
                ga_parts.append({"type": "output_audio", "transcript": transcript})
            elif text is not None:
                ga_parts.append({"type": "output_text", "text": text})
        elif kind == "input_audio" and role == "user":
            ga_parts.append({"type": "input_audio", "transcript": transcript})
        elif text is not None:
            ga_parts.append({"type": "input_text", "text": text})
    return ga_parts
