"""Small Pipecat processors that connect a session's pipeline to the protocol core.

Both hand the event loop back once they have used their fair share of it (fairness.py:
16 pieces of the reply or 0.5 ms of uninterrupted work). A Pipecat processor takes frames from an
``asyncio.Queue``, which does not make it wait while frames are queued: an LLM that delivers a
burst of tokens (or a TTS a burst of audio) would otherwise be carried through the rest of the
pipeline in one step of the loop, and every other session would wait for it. A short reply that
keeps up never yields needlessly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pipecat.frames.frames import (
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
