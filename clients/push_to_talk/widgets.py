"""The voice client's screen parts: status line, recording meter and the current turn.

Each widget only renders reactive attributes the app sets, so the app decides what to show and
the widgets decide how it looks.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from audio_utils import pcm16_rms_dbfs

METER_CELLS = 24
METER_FLOOR_DB = -60.0
IDLE_HINT = "Press K to talk, C to interrupt, Q to quit"


def level_dbfs(pcm: bytes) -> float:
    """The RMS level of PCM16 audio in dBFS, floored at :data:`METER_FLOOR_DB`."""
    return max(METER_FLOOR_DB, pcm16_rms_dbfs(pcm))


def meter_bar(db: float, cells: int = METER_CELLS) -> str:
    """A text level meter: ``███████░░░░`` from :data:`METER_FLOOR_DB` to 0 dBFS."""
    filled = round((db - METER_FLOOR_DB) / -METER_FLOOR_DB * cells)
    filled = min(cells, max(0, filled))
    return "█" * filled + "░" * (cells - filled)


class StatusLine(Static):
    """Connection state, session id and turn mode."""

    state = reactive("connecting")
    detail = reactive("")
    session_id = reactive("")

    def render(self) -> Text:
        """``● connected · session sess_… · detail``."""
        marks = {"connected": ("●", "green"), "connecting": ("◌", "yellow"), "down": ("○", "red")}
        mark, colour = marks.get(self.state, ("?", "white"))
        text = Text.assemble((f"{mark} {self.state}", f"bold {colour}"))
        if self.session_id:
            text.append(f"  session {self.session_id}", style="bold")
        if self.detail:
            text.append(f"  {self.detail}", style="dim")
        return text


class RecordingIndicator(Static):
    """Recording state and a live input level meter."""

    recording = reactive(False)
    level_db = reactive(METER_FLOOR_DB)
    note = reactive(IDLE_HINT)

    def render(self) -> Text:
        """``🔴 REC ████░░░ -23 dB`` while recording, the hint otherwise."""
        if not self.recording:
            return Text.assemble(("⚪ ", ""), (self.note, "dim"))
        return Text.assemble(
            ("🔴 REC ", "bold red"),
            (meter_bar(self.level_db), "green" if self.level_db > -40 else "dim green"),
            (f" {self.level_db:5.1f} dB  ", ""),
            (self.note, "dim"),
        )


class TurnText(Static):
    """One side of the current turn: a label and text that may stream in."""

    text = reactive("")
    detail = reactive("")

    def __init__(self, label: str, style: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label
        self.label_style = style

    def render(self) -> Text:
        """``You: …`` / ``Assistant: …`` (server text is never parsed as markup)."""
        text = Text.assemble((f"{self.label}: ", self.label_style), self.text)
        if self.detail:
            text.append(f"  {self.detail}" if self.text else self.detail, style="dim")
        return text
