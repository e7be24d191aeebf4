"""``test_client.py -i``: a text chat with the server in the terminal, or through a pipe.

Type a line and watch the reply stream in; with ``--save-audio DIR`` each spoken reply is also
kept as a WAV file. End of input or ``/quit`` leaves, so the chat can be scripted.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import TextIO

from clients.check.session import Session, StepFailed
from clients.connection import DEFAULT_MODEL, make_client
from clients.wav import write_wav


def stdin_lines(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines of ``stream`` delivered on the event loop (``None`` at end of input).

    A daemon thread reads, so a blocked ``readline`` never keeps the process alive.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    return queue


class Chat:
    """Type a line, watch the reply stream in; optionally keep each spoken reply as a WAV."""

    def __init__(self, session: Session, save_dir: Path | None, out: TextIO) -> None:
        self.session = session
        self.save_dir = save_dir
        self.out = out
        self.replies = 0

    def write(self, text: str) -> None:
        """Print without a newline, flushed (deltas appear as they arrive)."""
        self.out.write(text)
        self.out.flush()

    async def run(self, lines: asyncio.Queue[str | None], prompt: bool) -> None:
        """The read-reply loop, until end of input or ``/quit``."""
        while True:
            if prompt:
                self.write("you> ")
            line = await lines.get()
            if line is None or line.strip() in ("/quit", "/exit"):
                return
            if not line.strip():
                continue
            if not prompt:  # piped input: echo it so the transcript reads like a chat
                self.write(f"you> {line.strip()}\n")
            await self.turn(line.strip())

    async def turn(self, text: str) -> None:
        """One exchange: send ``text``, stream the reply, save its audio."""
        await self.session.say(text)
        self.write("assistant> ")
        reply = await self.session.collect_reply(on_text=self.write)
        self.write("\n")
        for error in reply.errors:
            self.write(f"error: {error}\n")
        if reply.status not in ("completed", "refused"):
            self.write(f"[response {reply.status}]\n")
        if self.save_dir is not None and reply.audio:
            self.replies += 1
            path = self.save_dir / f"reply-{self.replies:03d}.wav"
            write_wav(path, reply.audio)
            self.write(f"(saved {path}, {reply.audio_ms / 1000:.2f} s)\n")


async def interactive(url: str, api_key: str | None, save_dir: Path | None, timeout: float) -> int:
    """Run the chat; returns the exit code."""
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    client = make_client(url, api_key, max_retries=0)
    try:
        async with client.realtime.connect(model=DEFAULT_MODEL) as connection:
            session = Session(connection, timeout)
            created = await session.wait_for("session.created")
            await session.update(audio={"input": {"turn_detection": None}})
            print(f"Connected to {url}, session {created['session']['id']}.")
            print("Type a message and press Enter; /quit or end of input leaves.")
            chat = Chat(session, save_dir, sys.stdout)
            await chat.run(stdin_lines(sys.stdin), prompt=sys.stdin.isatty())
    except StepFailed as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # refused, HTTP errors on upgrade, connection lost
        print(f"\nerror: {url}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    return 0
