"""Conversation item client events: create, retrieve, truncate, delete."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from audio_utils import decode_base64_audio
from protocol import ClientEvent, ProtocolError, new_id
from realtime_session.conversation import ItemRecord
from realtime_session.events import server_event

if TYPE_CHECKING:
    from realtime_session.session import Output, RealtimeSession


def on_create(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Insert a client item (after ``previous_item_id`` when given); audio gets transcribed."""
    if session.config.type != "realtime":
        raise not_in_transcription_session(event.type)
    previous_id = event.data.get("previous_item_id")
    record = record_from_client_item(session, event.data["item"])
    session.conversation.check_insert(record.id, previous_id)
    previous = session.conversation.insert(record, previous_id)
    outputs: list[Output] = [
        server_event("conversation.item.added", previous_item_id=previous, item=record.public()),
        server_event("conversation.item.done", previous_item_id=previous, item=record.public()),
    ]
    if record.audio is not None:
        outputs += session.transcribe(record)
    return outputs + session.enforce_item_limit()


def record_from_client_item(
    session: RealtimeSession, item: dict[str, Any], param: str = "item"
) -> ItemRecord:
    """Normalise an item sent by the client into a stored record (audio decoded aside)."""
    item = copy.deepcopy(item)
    kind = item["type"]
    if kind not in ("message", "function_call", "function_call_output"):
        raise ProtocolError(
            "invalid_value",
            f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call' and "
            "'function_call_output'.",
            param=f"{param}.type",
        )
    item.setdefault("id", new_id("item"))
    item["object"] = "realtime.item"
    item["status"] = "completed"
    audio = None
    if kind == "function_call_output":
        if session.conversation.find_function_call(item["call_id"]) is None:
            raise ProtocolError(
                "invalid_value",
                f"No function call with call_id '{item['call_id']}' found in the conversation.",
                param=f"{param}.call_id",
            )
    elif kind == "function_call":
        item.setdefault("arguments", "")
    elif kind == "message":
        for index, part in enumerate(item["content"]):
            if part.get("type") == "input_audio" and "audio" in part:
                try:
                    audio = (audio or b"") + decode_base64_audio(part.pop("audio"))
                except ValueError as error:
                    raise ProtocolError(
                        "invalid_value", str(error), param=f"{param}.content[{index}].audio"
                    ) from None
                part.setdefault("transcript", None)
    fmt = session.input_format if audio is not None else None
    return ItemRecord(item=item, audio=audio, audio_format=fmt)


def on_retrieve(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """The item with its audio (base64) put back in."""
    record = session.conversation.get(event.data["item_id"])
    return [server_event("conversation.item.retrieved", item=record.with_audio())]


def on_delete(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    item_id = event.data["item_id"]
    session.conversation.delete(item_id)
    return [server_event("conversation.item.deleted", item_id=item_id)]


def on_truncate(session: RealtimeSession, event: ClientEvent) -> list[Output]:
    """Cut an assistant audio item to what the user heard; the model keeps the heard text."""
    data = event.data
    record = session.conversation.get(data["item_id"])
    if not is_assistant_audio(record):
        raise ProtocolError(None, "Only model output audio messages can be truncated")
    if data["content_index"] != 0:
        raise ProtocolError(
            "invalid_value",
            f"Invalid content_index: {data['content_index']}. The item has one content part.",
            param="content_index",
        )
    end_ms = data["audio_end_ms"]
    duration = record.audio_ms
    if end_ms > duration + 0.5:
        raise ProtocolError(
            "invalid_value",
            f"audio_end_ms ({end_ms}) is longer than the item's audio ({duration:.0f} ms).",
            param="audio_end_ms",
        )
    return [truncate_audio(record, end_ms)]


def truncate_audio(record: ItemRecord, end_ms: int) -> dict[str, Any]:
    """Cut an assistant audio item at ``end_ms`` and return ``conversation.item.truncated``.

    Shared by ``conversation.item.truncate`` and by WebRTC playback that was cut off (the
    transport reports how much it played; see :mod:`realtime_session.playback`).
    """
    assert record.audio is not None and record.audio_format is not None
    duration = record.audio_ms
    heard = min(1.0, end_ms / duration) if duration else 0.0
    record.audio = bytes(record.audio[: record.audio_format.bytes_for_ms(end_ms)])
    full_text = record.llm_text if record.llm_text is not None else record.streamed_text
    # The wire transcript is dropped like the real API does; the model keeps the heard part.
    record.llm_text = heard_prefix(full_text, heard)
    record.item["content"] = [{"type": "output_audio", "transcript": ""}]
    return server_event(
        "conversation.item.truncated", item_id=record.id, content_index=0, audio_end_ms=end_ms
    )


def is_assistant_audio(record: ItemRecord) -> bool:
    """Whether an item is an assistant message that still holds its audio (truncatable)."""
    item = record.item
    return (
        item.get("type") == "message"
        and item.get("role") == "assistant"
        and record.audio is not None
        and record.audio_format is not None
    )


def heard_prefix(text: str, fraction: float) -> str:
    """The part of a reply the user heard, cut at a word boundary (speech has an even pace)."""
    if fraction >= 1.0:
        return text
    cut = int(len(text) * fraction)
    prefix = text[:cut]
    if cut < len(text) and " " in prefix:
        prefix = prefix[: prefix.rfind(" ")]
    return prefix.strip()


def not_in_transcription_session(event_type: str) -> ProtocolError:
    """The error for an event a transcription session does not take."""
    return ProtocolError(
        "invalid_value",
        f"'{event_type}' is not supported in a transcription session.",
        param="type",
    )
