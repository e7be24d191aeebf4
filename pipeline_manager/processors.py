"""Small Pipecat processors that connect a session's pipeline to the protocol core.

:class:`ReplyCap` ends a reply at a sentence within its soft cap. :class:`TextTap` and
:class:`ResponseSink` hand the event loop back once they have used their fair share of it
(fairness.py: 16 pieces of the reply or 0.5 ms of uninterrupted work). A Pipecat processor
takes frames from an ``asyncio.Queue``, which does not make it wait while frames are queued:
an LLM that delivers a burst of tokens (or a TTS a burst of audio) would otherwise be carried
through the rest of the pipeline in one step of the loop, and every other session would wait
for it. A short reply that keeps up never yields needlessly.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pipecat.frames.frames import (
    ControlFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    MetricsFrame,
    TTSAudioRawFrame,
)
from pipecat.metrics.metrics import LLMUsageMetricsData
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from fairness import REPLY_PIECES_PER_SHARE, FairShare


@dataclass
class ReplyCapFrame(ControlFrame):
    """Sets the soft cap of the next reply (queued just before its ``LLMContextFrame``).

    Parameters:
        tokens: The most LLM text pieces (about tokens) the reply may have; None: no cap.
    """

    tokens: int | None = None


# A sentence ends at terminal punctuation (and any closing quotes or brackets) followed by
# white space; CJK full-width punctuation ends one by itself. "3.5" and "e.g.," do not match.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)|[。！？]+["'”’」』)）]*""")
_ENDS_SENTENCE = re.compile(r"""(?:[.!?…]+["'”’)\]]*|[。！？]+["'”’」』)）]*)\s*$""")


def last_sentence_end(text: str) -> int:
    """The index just past the last confirmed sentence end in ``text`` (0 if none)."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return ends[-1] if ends else 0


def cut_at_word(text: str) -> str:
    """``text`` without its last word, which may still be growing (all of it if one word)."""
    if text[-1:].isspace():
        return text
    cut = max(text.rfind(" "), text.rfind("\n"))
    return text[:cut] if cut > 0 else text


class ReplyCap(FrameProcessor):
    """Ends a reply at the last sentence end within its soft cap (``ReplyCapFrame``).

    Sits right after the LLM. While a reply has a cap, its text is passed on a sentence at a
    time: the sentence still being written is held back, so that when the cap is reached it can
    be dropped rather than spoken half-way. At the cap the reply ends with the last whole
    sentence (or, when no sentence has ended yet, the last whole word), the rest of the LLM's
    text is dropped, and ``stop_llm`` asks the LLM to stop generating. Replies without a cap
    pass through untouched, piece by piece.
    """

    def __init__(self, stop_llm: Callable[[], None] | None = None) -> None:
        super().__init__(name="ReplyCap")
        self._stop_llm = stop_llm
        self._cap: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._pieces = 0
        self._pending = ""
        self._released = False
        self._capped = False
        self._skip_tts: bool | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Hold, release or drop the reply's text; pass every other frame on."""
        await super().process_frame(frame, direction)
        if direction != FrameDirection.DOWNSTREAM:
            await self.push_frame(frame, direction)
        elif isinstance(frame, ReplyCapFrame):
            self._cap = frame.tokens
            self._reset()
        elif isinstance(frame, LLMTextFrame) and (self._cap is not None or self._capped):
            await self._text(frame)
        elif isinstance(frame, LLMFullResponseEndFrame):
            if not self._capped and self._pending:
                await self._release(self._pending)
            self._cap = None
            self._reset()
            await self.push_frame(frame, direction)
        else:
            if isinstance(frame, InterruptionFrame):
                self._cap = None
                self._reset()
            await self.push_frame(frame, direction)

    async def _text(self, frame: LLMTextFrame) -> None:
        if self._capped:
            return  # past the cap: the LLM is being stopped
        self._skip_tts = frame.skip_tts
        self._pending += frame.text
        self._pieces += 1
        end = last_sentence_end(self._pending)
        if end:
            await self._release(self._pending[:end])
            self._pending = self._pending[end:]
        if self._cap is not None and self._pieces >= self._cap:
            await self._end_at_cap()

    async def _end_at_cap(self) -> None:
        pending, self._pending = self._pending, ""
        if pending.strip():
            if _ENDS_SENTENCE.search(pending):
                await self._release(pending)
            elif not self._released:
                await self._release(cut_at_word(pending))
        self._capped = True
        if self._stop_llm is not None:
            self._stop_llm()

    async def _release(self, text: str) -> None:
        if not text:
            return
        self._released = True
        frame = LLMTextFrame(text)
        frame.skip_tts = self._skip_tts
        await self.push_frame(frame)


class TextTap(FrameProcessor):
    """Reports each LLM text frame as it streams (before TTS), then passes it on."""

    def __init__(self, on_text: Callable[[str], Awaitable[None]]) -> None:
        super().__init__(name="TextTap")
        self._share = FairShare(max_items=REPLY_PIECES_PER_SHARE)
        self._on_text = on_text

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Forward every frame; report LLM text on the way."""
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._on_text(frame.text)
            await self.push_frame(frame, direction)
            await self._share.spend()  # a burst of words flows on in fair shares
            return
        await self.push_frame(frame, direction)


class ResponseSink(FrameProcessor):
    """The end of the response pipeline: audio, usage, end of reply and interruptions.

    Every frame is passed on to the worker's own sink (which needs Start/End frames to track the
    pipeline's life); nothing there plays or sends audio.
    """

    def __init__(
        self,
        *,
        on_audio: Callable[[bytes, int], Awaitable[None]],
        on_end: Callable[[], Awaitable[None]],
        on_interrupted: Callable[[], Awaitable[None]],
        on_usage: Callable[[int, int], None],
    ) -> None:
        super().__init__(name="ResponseSink")
        self._share = FairShare(max_items=REPLY_PIECES_PER_SHARE)
        self._on_audio = on_audio
        self._on_end = on_end
        self._on_interrupted = on_interrupted
        self._on_usage = on_usage

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Dispatch the frames the core cares about."""
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            await self._dispatch(frame)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            await self._share.spend()  # a burst of audio goes out in fair shares

    async def _dispatch(self, frame: Frame) -> None:
        if isinstance(frame, TTSAudioRawFrame):
            await self._on_audio(frame.audio, frame.sample_rate)
        elif isinstance(frame, LLMFullResponseEndFrame):
            await self._on_end()
        elif isinstance(frame, InterruptionFrame):
            await self._on_interrupted()
        elif isinstance(frame, MetricsFrame):
            for data in frame.data:
                if isinstance(data, LLMUsageMetricsData):
                    self._on_usage(data.value.prompt_tokens, data.value.completion_tokens)
