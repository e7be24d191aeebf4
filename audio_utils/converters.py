"""Streaming converters between a client's audio format and the PCM16 rates the models use."""

from __future__ import annotations

from audio_utils.formats import AudioFormat
from audio_utils.resampling import StreamResampler


class InputAudioConverter:
    """Streaming converter from a client audio format to PCM16 at a target rate.

    G.711 input is decoded then resampled (8 kHz -> ``target_rate``); PCM16
    input (24 kHz) is resampled directly. Chunks of any size are accepted,
    including odd byte counts for PCM16.
    """

    def __init__(self, fmt: AudioFormat, target_rate: int = 16000) -> None:
        """Create a converter.

        Args:
            fmt: The client's input audio format.
            target_rate: Sample rate in Hz the pipeline expects.
        """
        self.format = fmt
        self.target_rate = target_rate
        self._resampler = StreamResampler(fmt.sample_rate, target_rate)

    def convert(self, data: bytes) -> bytes:
        """Convert the next chunk of client audio.

        Args:
            data: Raw (already base64-decoded) bytes in the client format.

        Returns:
            PCM16 at :attr:`target_rate` available so far.
        """
        if self.format.kind == "audio/pcm":
            # Raw bytes go straight to the resampler so odd lengths are carried.
            return self._resampler.process(data)
        return self._resampler.process(self.format.to_pcm16(data))

    def flush(self) -> bytes:
        """Emit the remaining tail and reset the converter.

        Returns:
            The final PCM16 bytes at :attr:`target_rate`.
        """
        return self._resampler.flush()

    def reset(self) -> None:
        """Drop buffered state without producing output (e.g. on buffer clear)."""
        self._resampler.reset()


class OutputAudioConverter:
    """Streaming converter from PCM16 at a source rate to a client audio format.

    Typically fed the TTS output (e.g. 22050 or 24000 Hz). For exact integer
    ratios the total output after :meth:`flush` is exact, e.g. N samples at
    24000 Hz give N / 3 bytes of ``audio/pcmu``.
    """

    def __init__(self, fmt: AudioFormat, source_rate: int) -> None:
        """Create a converter.

        Args:
            fmt: The client's output audio format.
            source_rate: Sample rate in Hz of the PCM16 fed to :meth:`convert`.
        """
        self.format = fmt
        self.source_rate = source_rate
        self._resampler = StreamResampler(source_rate, fmt.sample_rate)

    def convert(self, pcm16: bytes) -> bytes:
        """Convert the next chunk of PCM16.

        Args:
            pcm16: PCM16 bytes at :attr:`source_rate` (any length).

        Returns:
            Bytes in the client format available so far.
        """
        return self.format.from_pcm16(self._resampler.process(pcm16))

    def flush(self) -> bytes:
        """Emit the remaining tail (call at the end of a response) and reset.

        Returns:
            The final bytes in the client format.
        """
        return self.format.from_pcm16(self._resampler.flush())

    def reset(self) -> None:
        """Drop buffered state without producing output (e.g. on interruption)."""
        self._resampler.reset()
