"""The Deepgram provider: ``REALTIME_STT=deepgram``, Deepgram's streaming speech-to-text.

Why a module: Pipecat's Deepgram service streams, but a session transcribes one committed
segment at a time, so :class:`DeepgramSegmentSTTService` adapts one to the other. It needs
Pipecat's optional ``deepgram`` extra: the factory imports this module only when a stage uses
Deepgram, and says how to install the extra when it is missing.
"""

# mypy: disable-error-code="no-untyped-call"
# (Pipecat's Deepgram service leaves ``_connect``, ``cleanup``, ``_on_message`` and
# ``request_finalize`` unannotated: this module calls them.)

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from deepgram.listen.v1.types import ListenV1Finalize
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.stt_service import STTService
from pipecat.utils.time import time_now_iso8601

from config import Settings

from .common import Endpoint, StageBuilder, explain, public_url

DEEPGRAM_DEFAULT_MODEL = "nova-3-general"
DEEPGRAM_HOST = "api.deepgram.com"
CHUNK_BYTES = 3200  # 100 ms of 16 kHz PCM16 per websocket message


class DeepgramSegmentSTTService(DeepgramSTTService):
    """Pipecat's streaming ``DeepgramSTTService``, driven one committed segment at a time.

    The session transcribes each committed item by calling ``run_stt(segment)`` and reading the
    frames it yields, but Pipecat's Deepgram service only sends audio from ``run_stt``: its
    transcripts arrive later, pushed downstream from the websocket's receive loop. This subclass
    sends the segment, asks Deepgram to finalize it (what Pipecat does on
    ``VADUserStoppedSpeakingFrame``), collects the final transcripts instead of pushing them, and
    yields them once Deepgram confirms the finalize, all within ``REALTIME_PROVIDER_TIMEOUT_S``.
    It connects in the background (Pipecat would hold up the session's start until connected or
    given up) and ``run_stt`` waits for the connection, again within the timeout.
    """

    def __init__(self, *, endpoint: Endpoint, **kwargs: Any) -> None:
        """Initialize the service; its errors name ``endpoint``, its waits use its timeout."""
        super().__init__(**kwargs)
        self._endpoint = endpoint
        self._segment_texts: list[str] | None = None
        self._segment_done = asyncio.Event()
        self._segment_error: str | None = None
        self._connection_error: str | None = None
        self._connect_in_background = False
        self._background_connect: asyncio.Task[None] | None = None

    @property
    def wants_wav_segments(self) -> bool:
        """Deepgram's live API takes raw linear16 PCM."""
        return False

    async def setup(self, setup: Any) -> None:
        """Set up the service, connecting in the background."""
        # Pipecat connects here and waits until connected or given up (about 8 s when
        # Deepgram is unreachable), which would hold up session.created: connect in the
        # background instead; run_stt waits for the connection.
        self._connect_in_background = True
        try:
            await super().setup(setup)
        finally:
            self._connect_in_background = False

    async def _connect(self) -> None:
        if self._connect_in_background:
            self._background_connect = self.create_task(super()._connect(), "connect")
        else:
            await super()._connect()

    async def cleanup(self) -> None:
        """Stop connecting, then clean up as Pipecat does."""
        if self._background_connect is not None and not self._background_connect.done():
            await self.cancel_task(self._background_connect)
        await super().cleanup()

    async def push_frame(
        self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
    ) -> None:
        """Keep a segment's transcripts for ``run_stt``; push everything else."""
        if isinstance(frame, TranscriptionFrame) and self._segment_texts is not None:
            self._segment_texts.append(frame.text)
            return
        await super().push_frame(frame, direction)

    async def push_error_frame(
        self, error: ErrorFrame, force_treat_as_permanent: bool = False
    ) -> None:
        """Note the error for the segment (or the connection), then push it."""
        if self._segment_texts is not None:
            self._segment_error = str(error.error)
            self._segment_done.set()
        elif self._connection is None:
            self._connection_error = str(error.error)
        await super().push_error_frame(error, force_treat_as_permanent=force_treat_as_permanent)

    async def _on_message(self, message: Any) -> None:
        await super()._on_message(message)
        if self._segment_texts is not None and getattr(message, "from_finalize", False):
            self._segment_done.set()

    async def _wait_for_connection(self) -> Any:
        """The live connection, waiting for it up to the timeout (None if there is none)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._endpoint.timeout_s
        while self._connection is None and loop.time() < deadline:
            task = self._connection_task
            if task is not None and task.done():
                break  # Pipecat gave up connecting (rejected, or failing repeatedly)
            await asyncio.sleep(0.05)
        return self._connection

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one segment: send it, finalize, and yield its final transcript."""
        connection = await self._wait_for_connection()
        if connection is None:
            reason = self._connection_error or f"none within {self._endpoint.timeout_s:g} s"
            message = f"not connected to Deepgram ({reason})"
            yield ErrorFrame(error=explain(self._endpoint, None, message))
            return
        self._segment_texts = []
        self._segment_error = None
        self._segment_done.clear()
        try:
            for start in range(0, len(audio), CHUNK_BYTES):
                await connection.send_media(audio[start : start + CHUNK_BYTES])
            self.request_finalize()
            await connection.send_finalize(ListenV1Finalize(type="Finalize"))
            await asyncio.wait_for(self._segment_done.wait(), self._endpoint.timeout_s)
        except TimeoutError:
            self._segment_error = (
                f"no final transcript within {self._endpoint.timeout_s:g} s (timed out)"
            )
        except Exception as error:
            self._segment_error = f"sending audio failed: {error}"
        finally:
            texts, self._segment_texts = self._segment_texts, None
        if self._segment_error is not None:
            yield ErrorFrame(error=explain(self._endpoint, None, self._segment_error))
            return
        yield TranscriptionFrame(
            " ".join(t.strip() for t in texts if t.strip()),
            self._user_id,
            time_now_iso8601(),
            finalized=True,
        )


def deepgram_stt(settings: Settings, api_key: str) -> StageBuilder[STTService]:
    """The STT stage at Deepgram (or at ``REALTIME_STT_BASE_URL``).

    Args:
        settings: The server settings.
        api_key: ``REALTIME_DEEPGRAM_API_KEY`` (or ``REALTIME_STT_API_KEY``), checked by the
            factory before it imports this module.
    """
    model = settings.stt_model or DEEPGRAM_DEFAULT_MODEL
    base_url = settings.stt_base_url or ""
    url = public_url(base_url) if base_url else DEEPGRAM_HOST
    endpoint = Endpoint("STT", "deepgram", url, model, settings.provider_timeout_s)

    def create() -> STTService:
        return DeepgramSegmentSTTService(
            api_key=api_key,
            base_url=base_url,
            settings=DeepgramSegmentSTTService.Settings(model=model, interim_results=False),
            endpoint=endpoint,
        )

    return StageBuilder("deepgram", f"deepgram: {model} at {url}", create)
