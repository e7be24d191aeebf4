"""The deterministic ``mock`` profile: instant, no model weights, used by tests and benchmarks.

- STT: a committed user audio item's transcript is ``audio of N ms`` (N: its duration, whole ms).
- LLM: the reply to the latest user text T is ``You said: T``, one text piece per word (so a
  soft reply cap counts words). If function tools are configured and
  T contains a tool's name, it calls that tool with arguments ``{"text": T}`` instead; after a
  ``function_call_output`` item with output O it replies ``Tool result: O``.
  ``REALTIME_MOCK_TOKEN_DELAY_MS`` makes it wait that long before each word.
- TTS: 20 ms of a 440 Hz tone per character of text.

They are real Pipecat services (subclasses of Pipecat's STT, LLM and TTS bases), so the mock profile
exercises the same pipeline code as the real models.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    FunctionCallFromLLM,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings, STTSettings, TTSSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.tts_service import TextAggregationMode, TTSService
from pipecat.utils.time import time_now_iso8601

from fairness import REPLY_PIECES_PER_SHARE, FairShare

MS_PER_CHARACTER = 20
TONE_HZ = 440.0
FAULT_KINDS = ("raise", "hang", "garbage")


class FaultInjector:
    """``REALTIME_MOCK_FAULT=<stage>:<kind>`` makes a mock stage misbehave once per session.

    ``stage`` is ``stt``, ``llm`` or ``tts``; ``kind`` is ``raise`` (an exception), ``hang`` (never
    answers; the server's timeouts must catch it) or ``garbage`` (a malformed result). Only the
    first call of each session's service misbehaves, so tests can check the next turn works.
    """

    def __init__(self, spec: str, stage: str) -> None:
        wanted_stage, _, kind = spec.partition(":")
        self.kind = kind if wanted_stage == stage and kind in FAULT_KINDS else None

    async def strike(self) -> str | None:
        """The fault to act out now (``None`` once used up); raises or hangs by itself."""
        kind, self.kind = self.kind, None
        if kind == "raise":
            raise RuntimeError("injected fault")
        if kind == "hang":
            await asyncio.Event().wait()
        return kind


class MockSTTService(SegmentedSTTService):
    """Transcribes any audio as ``audio of N ms``."""

    def __init__(self, *, fault: str = "", **kwargs: Any) -> None:
        self._fault = FaultInjector(fault, "stt")
        super().__init__(
            trailing_silence_secs=0.0,
            settings=STTSettings(model="mock-stt", language=None),
            **kwargs,
        )

    @property
    def wants_wav_segments(self) -> bool:
        """The mock measures raw PCM, so no WAV header."""
        return False

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Yield one transcription naming the segment's duration in whole milliseconds."""
        if await self._fault.strike() == "garbage":
            yield TranscriptionFrame(None, "", time_now_iso8601(), finalized=True)  # type: ignore[arg-type]
            return
        duration_ms = len(audio) // 2 * 1000 / self.sample_rate
        # A tiny epsilon keeps exact durations (e.g. 1000.0) from flooring to 999 after resampling.
        text = f"audio of {math.floor(duration_ms + 1e-6)} ms"
        yield TranscriptionFrame(text, "", time_now_iso8601(), finalized=True)


def mock_reply(
    messages: list[dict[str, Any]], tools: list[str], tool_choice: Any = "auto"
) -> tuple[str, str | None]:
    """The mock LLM's answer to a chat: ``(text, tool_name_or_None)``.

    ``tool_choice`` is honoured: ``none`` never calls a tool; ``auto`` calls a tool whose name is in
    the user's text; ``required`` calls that tool or else the first one; a named function always
    calls that function.
    """
    last = messages[-1] if messages else None
    if last is not None and last.get("role") == "tool":
        return f"Tool result: {last.get('content', '')}", None
    user_text = next(
        (m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), None
    )
    if tool_choice == "none" or not tools:
        tools = []
    elif isinstance(tool_choice, dict):
        chosen = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        if chosen in tools:
            return user_text or "", chosen
    named = next((name for name in tools if user_text and name in user_text), None)
    if named is None and tool_choice == "required" and tools:
        named = tools[0]
    if named is not None:
        return user_text or "", named
    if user_text is None:
        return "Hello.", None
    return f"You said: {user_text}", None


class MockLLMService(LLMService):
    """An LLM that echoes the user, calls tools named in the user's text, reports tool results."""

    def __init__(self, *, token_delay_ms: float = 0.0, fault: str = "", **kwargs: Any) -> None:
        self._fault = FaultInjector(fault, "llm")
        settings = LLMSettings(
            model="mock-llm",
            system_instruction=None,
            temperature=None,
            max_tokens=None,
            top_p=None,
            top_k=None,
            frequency_penalty=None,
            presence_penalty=None,
            seed=None,
            filter_incomplete_user_turns=None,
            user_turn_completion_config=None,
        )
        super().__init__(settings=settings, **kwargs)
        self._token_delay_s = token_delay_ms / 1000
        self._stop_requested = False

    def stop_generation(self) -> None:
        """Stop the reply being written after its current word (a soft cap was reached)."""
        self._stop_requested = True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Answer each ``LLMContextFrame``; pass everything else on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._respond(frame)
        else:
            await self.push_frame(frame, direction)

    async def _respond(self, frame: LLMContextFrame) -> None:
        context = frame.context
        messages: list[dict[str, Any]] = [
            dict(m) for m in context.get_messages() if isinstance(m, dict)
        ]
        text, tool = mock_reply(messages, _tool_names(context.tools), context.tool_choice)
        self._stop_requested = False
        await self.push_frame(LLMFullResponseStartFrame())
        try:
            if await self._fault.strike() == "garbage":
                await self.push_frame(LLMTextFrame(None))  # type: ignore[arg-type]
            elif tool is not None:
                call = FunctionCallFromLLM(
                    function_name=tool,
                    tool_call_id=f"call_{abs(hash((tool, text, len(messages)))) % 10**12:012d}",
                    arguments={"text": text},
                    context=context,
                )
                await self.run_function_calls([call])
            else:
                words = text.split(" ")
                share = FairShare(max_items=REPLY_PIECES_PER_SHARE)
                for index, word in enumerate(words):
                    if self._stop_requested:
                        break
                    # A real LLM awaits its stream between tokens; without a delay the mock still
                    # gives the loop back in fair shares, or it would push a whole reply in one
                    # step of the event loop and every other session would wait for it.
                    if self._token_delay_s:
                        await asyncio.sleep(self._token_delay_s)
                    await self._push_llm_text(word if index == 0 else " " + word)
                    await share.spend()
        except Exception as error:
            await self.push_error_frame(ErrorFrame(error=f"mock LLM failed: {error}"))
        finally:
            await self.push_frame(LLMFullResponseEndFrame())


def _tool_names(tools: Any) -> list[str]:
    """The function names advertised in a Pipecat ``ToolsSchema`` (or none)."""
    standard = getattr(tools, "standard_tools", None) or []
    return [name for name in (getattr(t, "name", None) for t in standard) if name]


class MockTTSService(TTSService):
    """Speaks every character as 20 ms of a 440 Hz tone at the pipeline's output rate."""

    def __init__(self, *, fault: str = "", **kwargs: Any) -> None:
        self._fault = FaultInjector(fault, "tts")
        # Token mode hands every LLM text frame straight to run_tts, so the audio length is an exact
        # function of the transcript (no sentence buffering, no whitespace merging).
        # push_text_frames=True says what is true: the mock reports no word timestamps. With False,
        # Pipecat builds a word-completion tracker per sentence, which diffs the whole sentence
        # (difflib, quadratic) in one go at the end of the reply; an echo without a full stop is
        # one sentence, so 4,000 words took ~3 s of event loop (bench/isolation.py).
        super().__init__(
            text_aggregation_mode=TextAggregationMode.TOKEN,
            push_text_frames=True,
            settings=TTSSettings(model="mock-tts", voice=None, language=None),
            **kwargs,
        )
        self._phase = 0

    def can_generate_metrics(self) -> bool:
        """No metrics for the mock."""
        return False

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        """Yield the tone for ``text`` in one frame."""
        if await self._fault.strike() == "garbage":
            # Text where audio bytes belong (Pipecat itself repairs odd byte counts).
            yield TTSAudioRawFrame("garbage", self.sample_rate, 1, context_id=context_id)  # type: ignore[arg-type]
            return
        rate = self.sample_rate
        samples = len(text) * MS_PER_CHARACTER * rate // 1000
        t = (np.arange(samples) + self._phase) / rate
        self._phase += samples
        tone = (0.3 * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2")
        yield TTSAudioRawFrame(tone.tobytes(), rate, 1, context_id=context_id)
