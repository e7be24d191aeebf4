"""The repository is self-contained: nothing in it refers to files beside it.

A plain ``git clone`` must pass the tests, run the benchmarks and the clients, and read the docs:
test audio lives in ``tests/fixtures/audio``, the clients' sample in ``docs/samples``, and the wire
reference is ``docs/protocol.md``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Written so that this file does not match itself.
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", r"PROTOCOL" + r"\.md", r'"shared"' + r"\s*/"]))


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    suffixes = {".py", ".md", ".txt", ".toml", ".js", ".html", ".css", ".json", ""}
    return [ROOT / name for name in listed if Path(name).suffix in suffixes]


def test_no_file_refers_outside_the_repository() -> None:
    offenders = []
    for path in tracked_text_files():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_fixture_clips_and_their_manifest_are_in_the_repository() -> None:
    from tests.audio_clips import AUDIO_DIR, manifest

    assert AUDIO_DIR.is_relative_to(ROOT)
    for name in manifest():
        assert (AUDIO_DIR / name).is_file(), name
    assert (ROOT / "docs" / "samples" / "go_forward.wav").is_file()
    assert (ROOT / "docs" / "protocol.md").is_file()
