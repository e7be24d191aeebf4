"""The responses an upstream is producing, seen from its events, so that one cut off by an
upstream failure (a disconnect, a deadline) can still be ended properly for the client.

The client's SDK keeps state machines over the events (parts opened and closed, items added and
done, one ``response.done`` per ``response.created``); a relay that stops in the middle of a
response would leave them hanging. :class:`OpenResponses` follows every response from
``response.created`` to ``response.done`` and can close one: the open content parts (with what
their deltas added up to), the open items (``incomplete``), then ``response.done`` with status
``failed`` and the error in ``status_details``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from realtime_session.events import server_event

Event = dict[str, Any]
PartKey = tuple[str, int]
"""An item id and a content index."""

_TEXT_DELTAS = {
    "response.output_text.delta": "text",
    "response.output_audio_transcript.delta": "transcript",
}


@dataclass
class _Part:
    part: dict[str, Any]
    output_index: int
    text: list[str] = field(default_factory=list)


@dataclass
class _Response:
    response: dict[str, Any]
    items: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    """Items added and not done yet: item id -> (output index, item)."""
    done_items: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    parts: dict[PartKey, _Part] = field(default_factory=dict)


class OpenResponses:
    """The upstream's responses between ``response.created`` and ``response.done``."""

    def __init__(self) -> None:
        self._open: dict[str, _Response] = {}

    def __contains__(self, response_id: object) -> bool:
        return response_id in self._open

    def __len__(self) -> int:
        return len(self._open)

    def ids(self) -> list[str]:
        return list(self._open)

    def observe(self, event: Event) -> None:
        """Follow one GA server event on its way to the client."""
        kind = event.get("type")
        if kind == "response.created":
            response = event.get("response") or {}
            if isinstance(response.get("id"), str):
                self._open[response["id"]] = _Response(copy.deepcopy(response))
            return
        open_response = self._open.get(str(event.get("response_id")))
        if kind == "response.done":
            self._open.pop(str((event.get("response") or {}).get("id")), None)
        elif open_response is None:
            return
        elif kind == "response.output_item.added":
            item = event.get("item") or {}
            open_response.items[str(item.get("id"))] = (
                int(event.get("output_index") or 0),
                copy.deepcopy(item),
            )
        elif kind == "response.output_item.done":
            item = event.get("item") or {}
            added = open_response.items.pop(str(item.get("id")), None)
            index = added[0] if added else int(event.get("output_index") or 0)
            open_response.done_items.append((index, copy.deepcopy(item)))
        elif kind == "response.content_part.added":
            key = (str(event.get("item_id")), int(event.get("content_index") or 0))
            open_response.parts[key] = _Part(
                copy.deepcopy(event.get("part") or {}), int(event.get("output_index") or 0)
            )
        elif kind == "response.content_part.done":
            open_response.parts.pop(
                (str(event.get("item_id")), int(event.get("content_index") or 0)), None
            )
        elif kind in _TEXT_DELTAS:
            part = open_response.parts.get(
                (str(event.get("item_id")), int(event.get("content_index") or 0))
            )
            if part is not None:
                part.text.append(str(event.get("delta") or ""))

    def fail(self, response_id: str, code: str, message: str) -> list[Event]:
        """End one open response as ``failed``: the events that close it for the client."""
        state = self._open.pop(response_id, None)
        if state is None:
            return []
        events: list[Event] = []
        contents: dict[str, list[dict[str, Any]]] = {}
        for (item_id, content_index), part in state.parts.items():
            finished = dict(part.part)
            text_field = "text" if finished.get("type") == "text" else "transcript"
            if text_field in finished or part.text:
                finished[text_field] = "".join(part.text)
            contents.setdefault(item_id, []).append(finished)
            events.append(
                server_event(
                    "response.content_part.done",
                    response_id=response_id,
                    item_id=item_id,
                    output_index=part.output_index,
                    content_index=content_index,
                    part=finished,
                )
            )
        output = list(state.done_items)
        for item_id, (index, item) in state.items.items():
            closed = {**item, "status": "incomplete"}
            if item.get("type") == "message":
                closed["content"] = [
                    _content_of(part) for part in contents.get(item_id, item.get("content", []))
                ]
            events.append(
                server_event(
                    "response.output_item.done",
                    response_id=response_id,
                    output_index=index,
                    item=closed,
                )
            )
            output.append((index, closed))
        response = {
            **state.response,
            "status": "failed",
            "status_details": {
                "type": "failed",
                "error": {"type": "server_error", "code": code, "message": message},
            },
            "output": [item for _, item in sorted(output, key=lambda pair: pair[0])],
        }
        events.append(server_event("response.done", response=response))
        return events

    def fail_all(self, code: str, message: str) -> list[Event]:
        """End every open response as ``failed``."""
        events: list[Event] = []
        for response_id in self.ids():
            events += self.fail(response_id, code, message)
        return events


def _content_of(part: dict[str, Any]) -> dict[str, Any]:
    """A content part of a response event (``text``/``audio``) as it appears inside a message
    item (``output_text``/``output_audio``); parts already in item shape are kept."""
    if part.get("type") == "audio":
        return {"type": "output_audio", "transcript": part.get("transcript") or ""}
    if part.get("type") == "text":
        return {"type": "output_text", "text": part.get("text") or ""}
    return part
