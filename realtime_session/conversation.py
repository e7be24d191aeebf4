"""The conversation: an ordered list of items with the create/retrieve/delete/truncate rules.

Items are kept in their GA wire shape (``realtime.item`` objects). Audio bytes live beside the item
(never inside the events that announce it) and are only put back into the item by
``conversation.item.retrieve``. Each item also carries ``llm_text``: what the language model sees
for it (the hidden STT transcript of user audio, or the heard part of a truncated assistant reply).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from audio_utils import AudioFormat, encode_base64_audio
from protocol import ProtocolError, new_id


@dataclass
class ItemRecord:
    """One conversation item plus the server-side data that does not travel with it."""

    item: dict[str, Any]
    audio: bytes | bytearray | None = None
    """The item's audio in ``audio_format`` (an assistant message keeps its response's growing
    bytearray: it can be truncated or retrieved while it streams)."""
    audio_format: AudioFormat | None = None
    llm_text: str | None = None
    """What the LLM sees for an audio item; ``None`` while its transcription is pending."""
    transcript_failed: bool = False
    """The STT failed on this item (or missed its deadline): there is no text to answer."""
    transcription: dict[str, Any] | None = None
    """The session's ``audio.input.transcription`` when the item was sent to the STT: the client
    gets transcription events for it only when this is set."""
    streamed: list[str] = field(default_factory=list)
    """The text deltas of an assistant message still streaming (joined on demand: appending to
    one growing string would copy it on every delta)."""

    @property
    def id(self) -> str:
        item_id: str = self.item["id"]
        return item_id

    @property
    def audio_ms(self) -> float:
        """Duration of the item's audio in ms (0 when it has none)."""
        if self.audio is None or self.audio_format is None:
            return 0.0
        return self.audio_format.duration_ms(len(self.audio))

    @property
    def streamed_text(self) -> str:
        """The text an in-progress assistant message has streamed so far."""
        return "".join(self.streamed)

    def public(self) -> dict[str, Any]:
        """The item as announced in events: without audio bytes."""
        return copy.deepcopy(self.item)

    def with_audio(self) -> dict[str, Any]:
        """The item as returned by ``conversation.item.retrieve``: audio included, base64."""
        item = copy.deepcopy(self.item)
        if self.audio is not None:
            for part in item.get("content", []):
                if part.get("type") in ("input_audio", "output_audio"):
                    part["audio"] = encode_base64_audio(self.audio)
        return item


def item_not_found(item_id: str, param: str = "item_id") -> ProtocolError:
    """The error for an id that names no item in the conversation."""
    return ProtocolError("item_not_found", f"Item with item_id not found: {item_id}", param=param)


class Conversation:
    """The default conversation of a session: ordered items, addressable by id."""

    def __init__(self) -> None:
        self.id = new_id("conv")
        self._items: list[ItemRecord] = []
        self._by_id: dict[str, ItemRecord] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def records(self) -> list[ItemRecord]:
        """All items in order (a copy of the list; the records themselves are shared)."""
        return list(self._items)

    def get(self, item_id: str, param: str = "item_id") -> ItemRecord:
        """The item with this id, or an ``item_not_found`` error."""
        record = self._by_id.get(item_id)
        if record is None:
            raise item_not_found(item_id, param)
        return record

    def find(self, item_id: str) -> ItemRecord | None:
        """The item with this id, or ``None``."""
        return self._by_id.get(item_id)

    def last_id(self) -> str | None:
        """The id of the last item, the ``previous_item_id`` of an item appended now."""
        return self._items[-1].id if self._items else None

    def check_insert(self, item_id: str, previous_item_id: str | None) -> None:
        """Raise if an item with this id cannot be inserted after ``previous_item_id``."""
        if item_id in self._by_id:
            raise ProtocolError(
                "item_already_exists", f"Item with id '{item_id}' already exists.", param="item.id"
            )
        if previous_item_id not in (None, "root") and previous_item_id not in self._by_id:
            raise item_not_found(previous_item_id, "previous_item_id")

    def insert(self, record: ItemRecord, previous_item_id: str | None = None) -> str | None:
        """Insert an item after ``previous_item_id`` (``None``: at the end, ``"root"``: first).

        Returns:
            The id of the item now before it (``None`` when it is first).
        """
        self.check_insert(record.id, previous_item_id)
        if previous_item_id is None:
            index = len(self._items)
        elif previous_item_id == "root":
            index = 0
        else:
            index = self._items.index(self._by_id[previous_item_id]) + 1
        self._items.insert(index, record)
        self._by_id[record.id] = record
        return self._items[index - 1].id if index > 0 else None

    def delete(self, item_id: str) -> ItemRecord:
        """Remove an item; raises ``item_not_found`` for an unknown id."""
        record = self.get(item_id)
        self._items.remove(record)
        del self._by_id[item_id]
        return record

    def find_function_call(self, call_id: str) -> ItemRecord | None:
        """The ``function_call`` item with this ``call_id``, if any."""
        for record in self._items:
            if record.item.get("type") == "function_call" and record.item.get("call_id") == call_id:
                return record
        return None
