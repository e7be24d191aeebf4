"""Transcription of committed audio items with the session's STT service.

Every committed user audio item is transcribed (the LLM needs its text even when the client did
not ask for transcription events), one at a time per session, with the session's noise reduction
applied first. Results are reported as signals; the deadline is the connection's (it cancels the
item with :meth:`Transcriber.cancel` when it passes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loguru import logger
from pipecat.audio.filters.rnnoise_filter import RNNoiseFilter
from pipecat.audio.utils import pcm_to_wav
from pipecat.frames.frames import ErrorFrame, TranscriptionFrame
from pipecat.services.stt_service import SegmentedSTTService, STTService

from audio_utils import resample
from pipeline_manager.turn_input import PIPELINE_IN_RATE, start_noise_filter
from realtime_session.commands import TranscribeAudio
from realtime_session.signals import Signal, TranscriptCompleted, TranscriptFailed

if TYPE_CHECKING:
    from pipeline_manager.speculation import TurnSpeculation


class _ServiceError(Exception):
    """The STT service reported an error (its message is passed on as it is)."""


class Transcriber:
    """Runs one session's transcriptions and reports their results."""

    def __init__(self, stt: STTService, report: Callable[[Signal], None]) -> None:
        self._stt = stt
        self._report = report
        self._lock = asyncio.Lock()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._noise_filter: RNNoiseFilter | None = None
        self.speculation: TurnSpeculation | None = None
        """Set by the session pipeline when turn detection speculates on pauses."""

    def configure(self, transcription: dict[str, Any] | None) -> None:
        """Apply the session's ``audio.input.transcription`` language and prompt to the STT.

        Only an STT service with ``configure_transcription(language, prompt)`` takes them (the
        local Whisper service); others keep their own configuration.
        """
        configure = getattr(self._stt, "configure_transcription", None)
        if configure is None:
            return
        options = transcription or {}
        language, prompt = options.get("language"), options.get("prompt")
        configure(
            language if isinstance(language, str) else None,
            prompt if isinstance(prompt, str) else None,
        )

    async def set_noise_reduction(self, noise_reduction: dict[str, Any] | None) -> None:
        """Build the session's transcription noise filter (once per configuration)."""
        if self._noise_filter is not None:
            await self._noise_filter.stop()
        self._noise_filter = await start_noise_filter(noise_reduction)

    def submit(self, command: TranscribeAudio) -> None:
        """Start transcribing an item in the background (or take its speculative transcript)."""
        item_id = command.item_id
        speculated = None
        if self.speculation is not None:
            speculated = self.speculation.take(command.turn_start_ms)
        task = asyncio.create_task(self._transcribe(command, speculated))
        self._tasks[item_id] = task
        task.add_done_callback(lambda _task: self._forget(item_id, _task))

    def _forget(self, item_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(item_id) is task:
            del self._tasks[item_id]

    def cancel(self, item_id: str) -> None:
        """Stop transcribing an item (its result is no longer wanted)."""
        task = self._tasks.pop(item_id, None)
        if task is not None:
            task.cancel()

    async def close(self, timeout_s: float) -> None:
        """Cancel everything in flight and wait (boundedly) for it to stop."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout_s)

    async def transcribe_pcm(self, pcm: bytes) -> str:
        """Transcribe 16 kHz PCM16 that is already denoised (a speculative pass)."""
        async with self._lock:
            return await self._run_stt(pcm)

    async def _transcribe(
        self, command: TranscribeAudio, speculated: asyncio.Future[str] | None = None
    ) -> None:
        fmt = command.audio_format
        seconds = fmt.duration_ms(len(command.audio)) / 1000
        if speculated is not None:
            try:
                transcript = await speculated
            except _ServiceError as exc:  # the STT's verdict on this same audio (e.g. unsure)
                logger.info(f"STT failed for {command.item_id}: {exc}")
                self._report(TranscriptFailed(command.item_id, str(exc)))
                return
            except Exception:  # a failed guess: transcribe for real below
                pass
            else:
                self._report(TranscriptCompleted(command.item_id, transcript, seconds))
                return
        pcm = resample(fmt.to_pcm16(command.audio), fmt.sample_rate, PIPELINE_IN_RATE)
        seconds = len(pcm) / 2 / PIPELINE_IN_RATE
        try:
            async with self._lock:
                if self._noise_filter is not None:
                    pcm = await self._noise_filter.filter(pcm)
                transcript = await self._run_stt(pcm)
        except Exception as exc:
            message = str(exc) if isinstance(exc, _ServiceError) else f"transcription failed: {exc}"
            logger.warning(f"STT failed for {command.item_id}: {message}")
            self._report(TranscriptFailed(command.item_id, message))
            return
        self._report(TranscriptCompleted(command.item_id, transcript, seconds))

    async def _run_stt(self, pcm: bytes) -> str:
        """The service's transcript of one 16 kHz segment; an ``ErrorFrame`` raises."""
        audio = pcm_to_wav(pcm, PIPELINE_IN_RATE) if _wants_wav(self._stt) else pcm
        texts: list[str] = []
        async for frame in self._stt.run_stt(audio):
            if isinstance(frame, TranscriptionFrame):
                if not isinstance(frame.text, str):
                    raise TypeError(f"malformed transcript {frame.text!r}")
                texts.append(frame.text.strip())
            elif isinstance(frame, ErrorFrame):
                raise _ServiceError(frame.error)
        return " ".join(t for t in texts if t)


def _wants_wav(stt: STTService) -> bool:
    """Segmented services say whether they take WAV; streaming ones take raw PCM."""
    return stt.wants_wav_segments if isinstance(stt, SegmentedSTTService) else False
