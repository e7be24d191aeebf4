"""An espeak-ng voice for the local TTS: the out-of-the-box Mandarin voice, ``cmn-latn-pinyin``.

Why a module: no package ships a neural Mandarin voice, but Debian's espeak-ng speaks Mandarin
(robotic, intelligible). It reads Han characters directly (its ``cmn`` dictionary turns them
into pinyin with tones), so a reply is handed to it as written. Its ``cmn-latn-pinyin`` voice
also reads Latin letters as pinyin; the plain ``cmn`` voice reads them, and every tone digit,
as English, so it is refused.

espeak-ng runs as a subprocess per sentence (``espeak-ng -v VOICE --stdout --stdin``, the text
on standard input, so no text is ever parsed as an option), asynchronously: an interrupted reply
kills it. It writes a WAV stream (22.05 kHz, 16-bit mono) whose header gives the sample rate.
espeak-ng is GPL-3.0-or-later, like the copy piper-tts embeds; it is a separate program here.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator

from .model_files import LocalModelError

ESPEAK_PREFIX = "espeak:"
REFUSED_VOICES = {"cmn": "it reads Latin letters and tone digits as English; use cmn-latn-pinyin"}
INSTALL_HINT = "install it with `apt-get install espeak-ng` (Debian/Ubuntu)"
WAV_HEADER_BYTES = 44
CHUNK_BYTES = 8192


class EspeakVoice:
    """One espeak-ng voice, checked once (it exists and speaks), then used by every session.

    Parameters:
        voice: The espeak-ng voice name (``cmn-latn-pinyin``).
        executable: Path of the ``espeak-ng`` program.
        sample_rate: The rate espeak-ng writes (read from its first output).
    """

    def __init__(self, voice: str, executable: str, sample_rate: int) -> None:
        """Wrap a voice that :meth:`load` has checked."""
        self.voice = voice
        self.executable = executable
        self.sample_rate = sample_rate

    @property
    def name(self) -> str:
        """The voice as a setting names it (``espeak:cmn-latn-pinyin``)."""
        return f"{ESPEAK_PREFIX}{self.voice}"

    @classmethod
    def load(cls, voice: str) -> EspeakVoice:
        """Check that espeak-ng is installed and speaks ``voice`` (blocking, ~20 ms).

        Raises:
            LocalModelError: espeak-ng is missing, the voice is refused or does not exist.
        """
        if voice in REFUSED_VOICES:
            raise LocalModelError(f"espeak-ng voice '{voice}' is refused: {REFUSED_VOICES[voice]}")
        executable = shutil.which("espeak-ng")
        if executable is None:
            raise LocalModelError(f"espeak-ng is not installed: {INSTALL_HINT}")
        done = subprocess.run(
            [executable, "-v", voice, "--stdout", "--stdin"],
            input=b"a",
            capture_output=True,
            timeout=10,
            check=False,
        )
        if done.returncode != 0 or len(done.stdout) <= WAV_HEADER_BYTES:
            message = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
            raise LocalModelError(f"espeak-ng cannot speak with voice '{voice}': {message}")
        return cls(voice, executable, int.from_bytes(done.stdout[24:28], "little"))

    async def stream(self, text: str) -> AsyncIterator[bytes]:
        """16-bit mono PCM of ``text`` at :attr:`sample_rate`, as espeak-ng writes it.

        Raises:
            RuntimeError: espeak-ng failed (its message).
        """
        process = await asyncio.create_subprocess_exec(
            self.executable,
            "-v",
            self.voice,
            "--stdout",
            "--stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(text.encode())
            process.stdin.close()
            header = await process.stdout.readexactly(WAV_HEADER_BYTES)
            del header  # its data length is "unknown" (0x7fffffff): read to the end instead
            carry = b""
            while chunk := await process.stdout.read(CHUNK_BYTES):
                chunk = carry + chunk
                usable = len(chunk) - len(chunk) % 2
                carry = chunk[usable:]
                if usable:
                    yield chunk[:usable]
            if await process.wait() != 0:
                assert process.stderr is not None
                message = (await process.stderr.read()).decode(errors="replace").strip()
                raise RuntimeError(f"espeak-ng failed: {message or process.returncode}")
        except asyncio.IncompleteReadError as exc:
            raise RuntimeError("espeak-ng wrote no audio") from exc
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
