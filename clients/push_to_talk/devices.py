"""The microphone and the speaker, through ``sounddevice`` (PortAudio).

``sounddevice`` is imported only when a device is really used (:func:`load_sounddevice`), so
importing the client, or running it from WAV files, never needs PortAudio; every way a device
can be missing becomes :class:`~clients.push_to_talk.audio_io.AudioUnavailable`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from clients.push_to_talk.audio_io import AudioUnavailable
from clients.push_to_talk.playback import PlaybackQueue
from clients.wav import CHUNK_MS, SAMPLE_RATE


def load_sounddevice() -> Any:
    """Import ``sounddevice`` on demand, turning every failure into :class:`AudioUnavailable`."""
    try:
        import sounddevice  # optional: lazily
    except ImportError as error:
        raise AudioUnavailable(
            "the sounddevice package is not installed (pip install -r requirements-client.txt)"
        ) from error
    except OSError as error:  # raised by sounddevice itself when libportaudio is missing
        raise AudioUnavailable(f"{error} (install PortAudio, see docs/clients.md)") from error
    return sounddevice


def probe_device(kind: str) -> str:
    """The name of the default ``input`` or ``output`` device; :class:`AudioUnavailable` if none."""
    sd = load_sounddevice()
    try:
        info = sd.query_devices(kind=kind)
    except Exception as error:  # sounddevice raises PortAudioError or ValueError
        raise AudioUnavailable(f"no default {kind} device ({error})") from error
    return str(info.get("name", kind))


def make_resampler(rate_in: int, rate_out: int) -> Callable[[bytes], bytes]:
    """A streaming PCM16 resampler (the server's soxr one; numpy and soxr are server needs)."""
    from audio_utils import StreamResampler

    return StreamResampler(rate_in, rate_out).process


class MicrophoneSource:
    """The default input device through sounddevice (resampled if it will not open at 24 kHz)."""

    live = True

    def __init__(self, device: str | int | None = None) -> None:
        self.name = "microphone"
        self.device = device
        self._stream: Any = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._resample: Callable[[bytes], bytes] | None = None

    async def start(self) -> None:
        """Open and start the input stream."""
        sd = load_sounddevice()
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()

        def on_audio(data: Any, frames: int, when: Any, status: Any) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, bytes(data))

        try:
            self._stream = self._open(sd, SAMPLE_RATE, on_audio)
            self._resample = None
        except Exception:  # the device may refuse 24 kHz: capture natively and resample
            try:
                rate = int(sd.query_devices(self.device, kind="input")["default_samplerate"])
                self._stream = self._open(sd, rate, on_audio)
                self._resample = make_resampler(rate, SAMPLE_RATE)
            except Exception as error:
                raise AudioUnavailable(f"cannot open the microphone: {error}") from error
        self._stream.start()

    def _open(self, sd: Any, rate: int, callback: Callable[..., None]) -> Any:
        return sd.RawInputStream(
            samplerate=rate,
            channels=1,
            dtype="int16",
            blocksize=rate * CHUNK_MS // 1000,
            device=self.device,
            callback=callback,
        )

    async def read(self) -> bytes | None:
        """The next captured chunk (``None`` after :meth:`stop`)."""
        chunk = await self._queue.get()
        if chunk is not None and self._resample is not None:
            chunk = self._resample(chunk)
        return chunk

    async def stop(self) -> None:
        """Stop and close the stream."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()
        self._queue.put_nowait(None)


class SpeakerSink(PlaybackQueue):
    """The default output device through sounddevice; the device callback consumes the queue."""

    name = "speaker"

    def __init__(self, device: str | int | None = None) -> None:
        super().__init__()
        self.device = device
        self._stream: Any = None

    async def start(self) -> None:
        """Open the output stream (silence until audio is queued)."""
        sd = load_sounddevice()
        try:
            self._stream = sd.RawOutputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=SAMPLE_RATE // 50,
                device=self.device,
                callback=self._fill,
            )
            self._stream.start()
        except Exception as error:
            raise AudioUnavailable(f"cannot open the speaker: {error}") from error

    def _fill(self, out: Any, frames: int, when: Any, status: Any) -> None:
        data = b"".join(pcm for _, pcm in self.consume(frames * 2))
        out[: len(data)] = data
        out[len(data) :] = b"\x00" * (frames * 2 - len(data))

    async def close(self) -> None:
        """Stop and close the stream."""
        self.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()
