"""Base64 for the ``audio``/``delta`` fields of Realtime events: strict on the way in."""

from __future__ import annotations

import base64
import binascii


def decode_base64_audio(data: str) -> bytes:
    """Strictly decode a base64 audio payload.

    Args:
        data: Base64 text (standard alphabet, with padding) as sent in
            ``input_audio_buffer.append`` and similar events.

    Returns:
        The decoded bytes.

    Raises:
        ValueError: If ``data`` is not valid base64 text (characters outside
            the alphabet, bad padding, non-ASCII text, wrong type, ...).
    """
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"Invalid base64 audio: {exc}") from exc


def encode_base64_audio(data: bytes | bytearray) -> str:
    """Encode audio bytes as standard base64 text.

    Args:
        data: Raw audio bytes.

    Returns:
        The base64 encoding as an ASCII ``str``.
    """
    return base64.b64encode(data).decode("ascii")
