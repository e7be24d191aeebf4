"""One GLM response as the GA event sequence of docs/protocol.md §6.

GLM streams a response as ``response.created``, transcript / text / audio deltas (in no fixed
order across kinds), their ``.done`` events, function calls as one
``response.function_call_arguments.done`` each, and ``response.done``; it does not reliably send
``response.output_item.*`` or ``response.content_part.*``. :class:`ResponseTracker` builds the
GA sequence from whatever arrives: it opens the assistant item and its content part on the first
output, makes the deltas add up to the ``.done`` text, emits each function call as the full GA
item sequence after closing the message, and closes whatever is still open before
``response.done`` (status ``incomplete`` items when the response did not complete).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from audio_utils import AudioFormat, encode_base64_audio

from .audio import OutputAudioTranslator
from .events import Event, new_id, server_event


class Conversation:
    """The order in which items were announced to the client (``previous_item_id``)."""

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self.last_item_id: str | None = None
        self.announced: set[str] = set()

    def announce(self, item_id: str) -> str | None:
        """Record ``item_id`` as the newest item; returns the item before it."""
        previous = self.last_item_id
        self.last_item_id = item_id
        self.announced.add(item_id)
        return previous


@dataclass
class ResponseOptions:
    """What a response takes from the session when it starts."""

    modalities: list[str]
    output_format: dict[str, Any]
    voice: str
    max_output_tokens: int | str
    conversation_id: str

    @property
    def audio_out(self) -> bool:
        return self.modalities == ["audio"]


@dataclass
class _Message:
    item_id: str
    output_index: int
    text: str = ""
    part_open: bool = False
    audio_done: bool = False
    text_done: bool = False
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ResponseTracker:
    """Turns the events of one GLM response into GA events."""

    def __init__(self, response_id: str, conversation: Conversation, options: ResponseOptions):
        self.id = response_id
        self.conversation = conversation
        self.options = options
        self.done = False
        self.barged_in = False
        self.output: list[dict[str, Any]] = []
        self.call_arguments: dict[str, str] = {}
        self._message: _Message | None = None
        self._audio = (
            OutputAudioTranslator(AudioFormat.from_session(options.output_format))
            if options.audio_out
            else None
        )

    # --- objects --------------------------------------------------------------------------------

    def to_object(
        self,
        status: str = "in_progress",
        status_details: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The GA ``realtime.response`` object (no audio bytes in its output items)."""
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": status_details,
            "output": copy.deepcopy(self.output),
            "conversation_id": self.options.conversation_id,
            "output_modalities": list(self.options.modalities),
            "max_output_tokens": self.options.max_output_tokens,
            "audio": {
                "output": {
                    "format": dict(self.options.output_format),
                    "voice": self.options.voice,
                }
            },
            "usage": usage,
            "metadata": None,
        }

    def created(self) -> list[Event]:
        return [server_event("response.created", response=self.to_object())]

    def _message_item(self, message: _Message, status: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if message.part_open or message.text:
            if self.options.audio_out:
                content.append({"type": "output_audio", "transcript": message.text})
            else:
                content.append({"type": "output_text", "text": message.text})
        return {
            "id": message.item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": content,
        }

    def _part(self, text: str) -> dict[str, Any]:
        if self.options.audio_out:
            return {"type": "audio", "transcript": text}
        return {"type": "text", "text": text}

    def _ref(self, message: _Message) -> dict[str, Any]:
        return {
            "response_id": self.id,
            "item_id": message.item_id,
            "output_index": message.output_index,
            "content_index": 0,
        }

    # --- the assistant message ------------------------------------------------------------------

    def open_message(self, item_id: str | None = None) -> list[Event]:
        """Announce the assistant message (``item_id`` is GLM's when it gave one)."""
        if self.done:
            return []
        message = self._message
        if message is not None and not message.done:
            if item_id is None or item_id == message.item_id:
                return []
            events = self.close_message("completed")
        else:
            events = []
        if item_id is None or item_id in self.conversation.announced:
            item_id = new_id("item")
        message = _Message(item_id=item_id, output_index=len(self.output))
        self._message = message
        item = self._message_item(message, "in_progress")
        self.output.append(item)
        previous = self.conversation.announce(item_id)
        events.append(
            server_event(
                "response.output_item.added",
                response_id=self.id,
                output_index=message.output_index,
                item=item,
            )
        )
        events.append(server_event("conversation.item.added", previous_item_id=previous, item=item))
        return events

    def open_part(self, item_id: str | None = None) -> list[Event]:
        """Open the message's content part (and the message first, if needed)."""
        if self.done:
            return []
        message = self._message
        if message is None or message.done or message.text_done:
            events = self.open_message(item_id)
            message = self._message
            assert message is not None
        else:
            events = []
        if not message.part_open:
            message.part_open = True
            events.append(
                server_event(
                    "response.content_part.added", **self._ref(message), part=self._part("")
                )
            )
        return events

    def text_delta(self, delta: str, item_id: str | None = None) -> list[Event]:
        """A transcript piece (audio responses) or text piece (text responses)."""
        if self.done or not delta:
            return []
        events = self.open_part(item_id)
        message = self._message
        assert message is not None
        message.text += delta
        kind = (
            "response.output_audio_transcript.delta"
            if self.options.audio_out
            else "response.output_text.delta"
        )
        events.append(server_event(kind, **self._ref(message), delta=delta))
        return events

    def audio_delta(self, pcm16: bytes, item_id: str | None = None) -> list[Event]:
        """GLM's PCM16 24 kHz audio, converted to the client's output format."""
        if self.done or self._audio is None or not pcm16:
            return []
        message = self._message
        if message is not None and message.audio_done and not message.done:
            return []  # GLM already ended this message's audio
        events = self.open_part(item_id)
        message = self._message
        assert message is not None
        audio = self._audio.convert(pcm16)
        if audio:
            events.append(
                server_event(
                    "response.output_audio.delta",
                    **self._ref(message),
                    delta=encode_base64_audio(audio),
                )
            )
        return events

    def audio_done(self) -> list[Event]:
        """``response.output_audio.done`` (after the resampler's tail, if any)."""
        message = self._message
        if self.done or self._audio is None or message is None or message.done:
            return []
        if message.audio_done or not message.part_open:
            return []
        message.audio_done = True
        events: list[Event] = []
        tail = self._audio.flush()
        if tail:
            events.append(
                server_event(
                    "response.output_audio.delta",
                    **self._ref(message),
                    delta=encode_base64_audio(tail),
                )
            )
        events.append(server_event("response.output_audio.done", **self._ref(message)))
        return events

    def text_done(self, final: str | None = None) -> list[Event]:
        """``.done`` of the transcript / text; GLM's final text, as far as deltas can carry it.

        The deltas must add up to the ``.done`` text: a final text that extends what was streamed
        is sent as one more delta first; one that does not is ignored for what was streamed.
        """
        if self.done:
            return []
        message = self._message
        events: list[Event] = []
        if message is None or message.done or message.text_done:
            if not final:
                return []
            events = self.open_part()
            message = self._message
            assert message is not None
        if not message.part_open:
            events += self.open_part()
        if isinstance(final, str) and final.startswith(message.text) and final != message.text:
            events += self.text_delta(final[len(message.text) :])
        message.text_done = True
        if self.options.audio_out:
            events.append(
                server_event(
                    "response.output_audio_transcript.done",
                    **self._ref(message),
                    transcript=message.text,
                )
            )
        else:
            events.append(
                server_event("response.output_text.done", **self._ref(message), text=message.text)
            )
        return events

    def close_message(self, status: str = "completed") -> list[Event]:
        """Close the open part and the message item (``status`` ``completed``/``incomplete``)."""
        message = self._message
        if message is None or message.done:
            return []
        events: list[Event] = []
        if message.part_open:
            events += self.audio_done()
            if not message.text_done:
                message.text_done = True
                kind, key = (
                    ("response.output_audio_transcript.done", "transcript")
                    if self.options.audio_out
                    else ("response.output_text.done", "text")
                )
                events.append(server_event(kind, **self._ref(message), **{key: message.text}))
            events.append(
                server_event(
                    "response.content_part.done",
                    **self._ref(message),
                    part=self._part(message.text),
                )
            )
        message.done = True
        item = self._message_item(message, status)
        self.output[message.output_index] = item
        events.append(server_event("conversation.item.done", item=copy.deepcopy(item)))
        events.append(
            server_event(
                "response.output_item.done",
                response_id=self.id,
                output_index=message.output_index,
                item=copy.deepcopy(item),
            )
        )
        return events

    # --- function calls -------------------------------------------------------------------------

    def function_call(
        self, name: str, arguments: str, call_id: str, item_id: str | None = None
    ) -> list[Event]:
        """One complete call, as GA's item sequence, after the message (if any) is closed."""
        if self.done:
            return []
        events = self.close_message("completed")
        if item_id is None or item_id in self.conversation.announced:
            item_id = new_id("item")
        output_index = len(self.output)
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id,
            "arguments": "",
        }
        self.output.append(item)
        previous = self.conversation.announce(item_id)
        ref = {"response_id": self.id, "item_id": item_id, "output_index": output_index}
        events.append(
            server_event(
                "response.output_item.added",
                response_id=self.id,
                output_index=output_index,
                item=copy.deepcopy(item),
            )
        )
        events.append(
            server_event(
                "conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item)
            )
        )
        if arguments:
            events.append(
                server_event(
                    "response.function_call_arguments.delta",
                    **ref,
                    call_id=call_id,
                    delta=arguments,
                )
            )
        events.append(
            server_event(
                "response.function_call_arguments.done",
                **ref,
                call_id=call_id,
                name=name,
                arguments=arguments,
            )
        )
        item = {**item, "status": "completed", "arguments": arguments}
        self.output[output_index] = item
        events.append(server_event("conversation.item.done", item=copy.deepcopy(item)))
        events.append(
            server_event(
                "response.output_item.done",
                response_id=self.id,
                output_index=output_index,
                item=copy.deepcopy(item),
            )
        )
        return events

    # --- the end --------------------------------------------------------------------------------

    def finish(
        self,
        status: str,
        status_details: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
    ) -> list[Event]:
        """Close what is open, then ``response.done`` with ``status``."""
        if self.done:
            return []
        events = self.close_message("completed" if status == "completed" else "incomplete")
        self.done = True
        events.append(
            server_event("response.done", response=self.to_object(status, status_details, usage))
        )
        return events
