"""Audio helpers: moving audio between the Realtime wire formats and the PCM16 the models use.

- :mod:`.base64_audio`: the ``audio``/``delta`` fields of Realtime events;
- :mod:`.g711`: bit-exact G.711 mu-law and A-law codecs (``audioop`` is gone from Python 3.13);
- :mod:`.formats`: :class:`AudioFormat`, one of ``audio/pcm`` (24 kHz), ``audio/pcmu`` and
  ``audio/pcma`` (8 kHz), with its byte/time arithmetic;
- :mod:`.resampling`: :func:`resample` and the streaming :class:`StreamResampler` (soxr);
- :mod:`.converters`: :class:`InputAudioConverter` (client format -> PCM16 for the STT/VAD) and
  :class:`OutputAudioConverter` (TTS PCM16 -> client format), both streaming;
- :mod:`.levels`: :func:`pcm16_rms_dbfs`, a small level meter.

Unless stated otherwise, "PCM16" means signed 16-bit little-endian mono samples.
"""

from audio_utils.base64_audio import decode_base64_audio, encode_base64_audio
from audio_utils.converters import InputAudioConverter, OutputAudioConverter
from audio_utils.formats import PCM24K, PCMA, PCMU, AudioFormat, AudioFormatKind
from audio_utils.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from audio_utils.levels import pcm16_rms_dbfs
from audio_utils.resampling import StreamResampler, resample

__all__ = [
    "PCM24K",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "AudioFormatKind",
    "InputAudioConverter",
    "OutputAudioConverter",
    "StreamResampler",
    "alaw_decode",
    "alaw_encode",
    "decode_base64_audio",
    "encode_base64_audio",
    "pcm16_rms_dbfs",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
]
