"""Offline models for the "local" profile, loaded once per process and shared by all sessions.

Why a module: it owns the models' lifetime (loading, warming up, sharing, closing) and the
rules for sharing them between sessions (see :class:`LocalModels`). Which files are loaded is
:mod:`.model_refs` (a packaged name, a path or a Hugging Face repo per model) and
:mod:`.model_files` (the packaged files and their checksums); the latter's errors and
``verify_file`` are re-exported here, where callers have always imported them.

Usage::

    models = get_local_models()  # first call loads (~2 s), later calls return the same object
    stt = create_stt(models)      # see services.py: one service instance per session
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from .model_files import (
    VERIFIED,
    LocalModelError,
    ModelChecksumError,
    ModelNotFoundError,
    verify_file,
)
from .model_refs import (
    DEFAULT_LLM_MODEL,
    DEFAULT_TTS_VOICE,
    DEFAULT_WHISPER_MODEL,
    ResolvedModels,
    path_model,
    resolve_model,
    resolve_models,
    verify_model,
    verify_models,
)
from .packaged_whisper import DEFAULT_ENGLISH_WHISPER_MODEL
from .reply_language import DEFAULT_TTS_VOICES, VoiceMapError, parse_voice_map

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from llama_cpp import Llama
    from piper import PiperVoice

    from .speakers import Speaker

__all__ = [
    "LocalModelError",
    "LocalModels",
    "LocalModelsConfig",
    "ModelChecksumError",
    "ModelNotFoundError",
    "get_local_models",
    "verify_file",
]


def _size(path: Path) -> str:
    """A model's size on disk (a file, or a directory's files), for the log."""
    files = path.rglob("*") if path.is_dir() else [path]
    size = sum(file.stat().st_size for file in files if file.is_file())
    return f"{size / 1e6:.0f} MB"


def _vm_rss_mib() -> float | None:
    """Resident set size of this process in MiB (Linux only), for logging."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@dataclass
class LocalModelsConfig:
    """How to load the local models. The defaults suit a 2-core CPU-only machine.

    Parameters:
        whisper_model: The Whisper model: a packaged name, a CTranslate2 directory or a Hugging
            Face repo (:mod:`.model_refs`, ``docs/models.md``).
        llm_model: The LLM: a packaged name, a GGUF file or a repo.
        tts_voice: The Piper voice: a packaged name, an ``.onnx`` (with its ``.onnx.json``) or
            a repo.
        whisper_english_model: The Whisper model of sessions whose transcription language is
            English (a reference like ``whisper_model``), loaded too: tiny.en by default, the
            fast path. None: the main model transcribes English as well.
        whisper_dir: A CTranslate2 Whisper model directory, used instead of ``whisper_model``
            (the older way to name one). It must contain ``tokenizer.json``, or faster-whisper
            tries a download.
        whisper_checksums: Expected SHA-256 per file name inside ``whisper_dir``. Without
            it a custom ``whisper_dir`` is loaded unverified.
        whisper_compute_type: CTranslate2 compute type; int8 is the fastest on CPU.
        whisper_cpu_threads: CTranslate2 intra-op threads (its own default is 4, which
            oversubscribes 2 cores).
        whisper_num_workers: Transcriptions that may run in parallel. With 1, concurrent
            sessions queue inside CTranslate2 (thread-safe) and memory stays minimal.
        llm_n_ctx: llama.cpp context window in tokens.
        llm_n_threads: llama.cpp threads for generation and prompt evaluation. 1, not 2:
            llama.cpp's threads meet at spinning barriers after every layer, so as soon as
            anything else wants a core (Piper speaking the previous sentence of the same
            response, another session's Whisper, other processes) 2 threads collapse.
            Measured here with Piper synthesising in parallel: 2 threads gave 3-29 tok/s
            and up to 1.2 s to the first token, 1 thread 20-62 tok/s and 12-40 ms. On an
            otherwise idle machine 2 threads are ~25% faster (105-111 vs 69-85 tok/s).
        tts_voices: More voices, per language: ``LANG=VOICE`` pairs (:mod:`.reply_language`);
            ``tts_voice`` is the ``en`` voice (it speaks any Latin-script text) unless this
            names another. They are loaded with the models. A voice that cannot load is left
            out with a warning when this is the default (espeak-ng may not be installed), and is
            an error otherwise.
        warm_up: Run one tiny inference per model after loading, so the first session
            does not pay the one-off initialisation (measured 0.1-0.6 s of extra first-token
            latency for llama.cpp).
    """

    whisper_model: str = DEFAULT_WHISPER_MODEL
    llm_model: str = DEFAULT_LLM_MODEL
    tts_voice: str = DEFAULT_TTS_VOICE
    whisper_english_model: str | None = DEFAULT_ENGLISH_WHISPER_MODEL
    whisper_dir: Path | None = None
    whisper_checksums: Mapping[str, str] | None = None
    whisper_compute_type: str = "int8"
    whisper_cpu_threads: int = 2
    whisper_num_workers: int = 1
    llm_n_ctx: int = 2048
    llm_n_threads: int = 1
    tts_voices: str = DEFAULT_TTS_VOICES
    warm_up: bool = True


@dataclass
class LocalModels:
    """The three offline models, loaded once and shared by every session's services.

    Thread-safety, which matters because all sessions share these objects and inference
    always runs in worker threads (never on the event loop):

    - ``whisper`` (CTranslate2): safe to call from several threads; calls beyond
      ``whisper_num_workers`` queue inside CTranslate2.
    - ``piper``: onnxruntime sessions are thread-safe and Piper serialises its espeak-ng
      phonemizer with its own global lock.
    - ``llm`` (llama.cpp): NOT thread-safe; one ``Llama`` holds one KV cache. Every use must
      hold ``llm_lock``. The LLM service runs each whole completion as one job on
      ``llm_executor``, a single dedicated thread, so sessions' completions are serialised
      in arrival order and a session waiting for the model never occupies a thread of the
      default executor that STT/TTS of other sessions need.

    Parameters:
        whisper: The faster-whisper model.
        whisper_dir: Directory the Whisper model was loaded from.
        whisper_name: Label of the Whisper model (for logs and settings).
        llm: The llama.cpp model.
        llm_path: Path of the GGUF file.
        llm_name: Label of the LLM (for logs and settings).
        piper: The Piper voice.
        piper_model_path: Path of the voice's ONNX file.
        piper_config_path: Path of the voice's JSON config.
        piper_voice_name: Name of the voice.
        load_times: Seconds spent loading each model (keys "whisper", "llm", "piper").
        llm_lock: Lock serialising every use of ``llm``.
        llm_executor: The single thread that runs llama.cpp completions.
        config: The options the models were loaded with.
        voice_map: The voices of ``config.tts_voices`` that loaded, by language (references).
        unavailable_voices: Those that could not load, by language, with why.
    """

    whisper: WhisperModel
    whisper_dir: Path
    whisper_name: str
    llm: Llama
    llm_path: Path
    llm_name: str
    piper: PiperVoice
    piper_model_path: Path
    piper_config_path: Path
    piper_voice_name: str
    load_times: dict[str, float] = field(default_factory=dict)
    llm_lock: threading.Lock = field(default_factory=threading.Lock)
    llm_executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp")
    )
    config: LocalModelsConfig = field(default_factory=lambda: LocalModelsConfig())
    voice_map: dict[str, str] = field(default_factory=dict)
    unavailable_voices: dict[str, str] = field(default_factory=dict)
    _whispers: dict[str, tuple[WhisperModel, str]] = field(default_factory=dict, repr=False)
    _speakers: dict[str, Speaker] = field(default_factory=dict, repr=False)
    _extra_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def whisper_multilingual(self) -> bool:
        """Whether the loaded Whisper model can transcribe languages other than English."""
        return bool(self.whisper.model.is_multilingual)

    @property
    def piper_sample_rate(self) -> int:
        """Native sample rate of the Piper voice (22050 Hz for en_US-joe-medium)."""
        return int(self.piper.config.sample_rate)

    def whisper_model(self, reference: str) -> tuple[WhisperModel, str]:
        """A further Whisper model (the English fast path), loaded on first use and kept.

        Args:
            reference: A model reference (:mod:`.model_refs`: a packaged name, a directory,
                a Hugging Face repo).

        Returns:
            ``(model, label)``; the main model itself when ``reference`` is its files.
        """
        with self._extra_lock:
            if reference not in self._whispers:
                resolved = resolve_model("whisper", reference)
                if os.path.realpath(resolved.path) == os.path.realpath(self.whisper_dir):
                    self._whispers[reference] = (self.whisper, self.whisper_name)
                else:
                    verify_model(resolved)
                    t0 = time.perf_counter()
                    model = _load_whisper(resolved.path, self.config)
                    self._whispers[reference] = (model, resolved.label)
                    logger.info(
                        f"loaded STT {resolved.label} for English sessions: "
                        f"{_size(resolved.path)} in {time.perf_counter() - t0:.2f} s"
                    )
            return self._whispers[reference]

    def speaker(self, reference: str) -> Speaker:
        """A voice by reference (a Piper voice reference or ``espeak:NAME``), loaded on first
        use and kept.

        Raises:
            LocalModelError: The voice cannot be loaded.
        """
        from .speakers import load_speaker

        with self._extra_lock:
            if reference not in self._speakers:
                t0 = time.perf_counter()
                loaded = {os.path.realpath(self.piper_model_path): self.piper}
                speaker = load_speaker(reference, loaded)
                self._speakers[reference] = speaker
                if getattr(speaker, "voice", None) is self.piper:
                    return speaker  # the voice loaded above, not loaded again
                logger.info(
                    f"loaded TTS voice {speaker.name} in {time.perf_counter() - t0:.2f} s "
                    f"({speaker.sample_rate} Hz)"
                )
            return self._speakers[reference]

    def load_voice_map(self, spec: str, *, lenient: bool) -> tuple[dict[str, str], dict[str, str]]:
        """Load the voices of a voice map setting (blocking; at start-up).

        The ``en`` voice, which also speaks any Latin-script text, is ``config.tts_voice``
        unless ``spec`` names another.

        Args:
            spec: ``LANG=VOICE`` pairs (may be empty).
            lenient: Leave out (with a warning) a voice that cannot load, instead of raising.

        Returns:
            ``(available, unavailable)``: references by language, and why each missing one is.

        Raises:
            LocalModelError: The map is malformed, or (not ``lenient``) a voice cannot load.
        """
        try:
            voices = {"en": self.config.tts_voice, **parse_voice_map(spec)}
        except VoiceMapError as exc:
            raise LocalModelError(f"REALTIME_LOCAL_TTS_VOICES: {exc}") from exc
        available: dict[str, str] = {}
        unavailable: dict[str, str] = {}
        for language, reference in voices.items():
            try:
                self.speaker(reference)
            except LocalModelError as exc:
                if not lenient:
                    raise LocalModelError(f"the '{language}' voice {reference}: {exc}") from exc
                logger.warning(
                    f"the '{language}' TTS voice {reference} is unavailable ({exc}); "
                    f"replies in '{language}' will fail until it is"
                )
                unavailable[language] = f"{reference} is unavailable: {exc}"
            else:
                available[language] = reference
        return available, unavailable

    @classmethod
    def load(
        cls, config: LocalModelsConfig | None = None, *, resolved: ResolvedModels | None = None
    ) -> LocalModels:
        """Locate, verify and load all three models. Prefer :func:`get_local_models`.

        Args:
            config: Loading options; defaults to :class:`LocalModelsConfig`.
            resolved: The config's models already resolved (:func:`resolve_config`).

        Returns:
            The loaded models.

        Raises:
            ModelNotFoundError: If a model package or file is missing.
            ModelChecksumError: If a model file does not match its recorded SHA-256.
            ModelReferenceError: If a model reference cannot be resolved (one line).
        """
        config = config or LocalModelsConfig()
        t_all = time.perf_counter()
        load_times: dict[str, float] = {}
        logger.info("loading the local models...")

        # Verify everything before loading anything, so a bad wheel fails fast.
        resolved = resolved or resolve_config(config)
        t0 = time.perf_counter()
        hashed = VERIFIED.hashed
        verify_models(resolved)
        whisper_dir, whisper_name = resolved.whisper.path, resolved.whisper.label
        llm_path, llm_name = resolved.llm.path, resolved.llm.label
        piper_model_path, piper_voice_name = resolved.piper.path, resolved.piper.label
        assert resolved.piper.config_path is not None
        piper_config_path = resolved.piper.config_path
        hashed = VERIFIED.hashed - hashed
        logger.info(
            f"model files verified in {time.perf_counter() - t0:.2f} s "
            + (
                f"({hashed} hashed, remembered until they change)"
                if hashed
                else "(unchanged since they were hashed)"
            )
        )

        t0 = time.perf_counter()
        whisper = _load_whisper(whisper_dir, config)
        load_times["whisper"] = time.perf_counter() - t0
        logger.info(
            f"loaded STT {whisper_name}: {_size(whisper_dir)} in {load_times['whisper']:.2f} s "
            f"(faster-whisper, {config.whisper_compute_type})"
        )
        logger.debug(f"STT model directory: {whisper_dir}")

        t0 = time.perf_counter()
        from llama_cpp import Llama

        # The chat template comes from the GGUF metadata (ChatML for SmolLM2).
        llm = Llama(
            model_path=str(llm_path),
            n_ctx=config.llm_n_ctx,
            n_threads=config.llm_n_threads,
            n_threads_batch=config.llm_n_threads,
            verbose=False,
        )
        load_times["llm"] = time.perf_counter() - t0
        logger.info(
            f"loaded LLM {llm_name}: {_size(llm_path)} in {load_times['llm']:.2f} s "
            f"(llama.cpp, n_ctx {config.llm_n_ctx}, {config.llm_n_threads} thread(s))"
        )
        logger.debug(f"LLM file: {llm_path}")

        t0 = time.perf_counter()
        from piper import PiperVoice

        piper = PiperVoice.load(piper_model_path, config_path=piper_config_path)
        load_times["piper"] = time.perf_counter() - t0
        logger.info(
            f"loaded TTS voice {piper_voice_name}: {_size(piper_model_path)} in "
            f"{load_times['piper']:.2f} s (Piper, {piper.config.sample_rate} Hz)"
        )
        logger.debug(f"TTS voice file: {piper_model_path}")

        models = cls(
            whisper=whisper,
            whisper_dir=whisper_dir,
            whisper_name=whisper_name,
            llm=llm,
            llm_path=llm_path,
            llm_name=llm_name,
            piper=piper,
            piper_model_path=piper_model_path,
            piper_config_path=piper_config_path,
            piper_voice_name=piper_voice_name,
            load_times=load_times,
            config=config,
        )
        if config.whisper_english_model:
            t0 = time.perf_counter()
            models.whisper_model(config.whisper_english_model)
            load_times["whisper_english"] = time.perf_counter() - t0
        models.voice_map, models.unavailable_voices = models.load_voice_map(
            config.tts_voices, lenient=config.tts_voices == DEFAULT_TTS_VOICES
        )
        if config.warm_up:
            models.warm_up()
        rss = _vm_rss_mib()
        logger.info(
            f"local models ready in {time.perf_counter() - t_all:.2f} s"
            + (f", process RSS {rss:.0f} MiB" if rss is not None else "")
        )
        return models

    def warm_up(self) -> None:
        """Run one tiny inference per model whose first request would otherwise be slower.

        Not Whisper: its first transcription measured as fast as the next ones (base 0.96 s then
        0.98 s, tiny.en 0.47 s then 0.54 s), so warming it up (it encodes a whole 30-s window
        whatever the audio) only cost 1.5-2 CPU-s at every start.
        """
        t0 = time.perf_counter()
        with self.llm_lock:
            # A chat completion, so the template's default system prompt is cached too.
            self.llm.create_chat_completion([{"role": "user", "content": "Hi"}], max_tokens=1)
        for _ in self.piper.synthesize("Hi."):
            pass
        self.load_times["warm_up"] = time.perf_counter() - t0
        logger.info(f"warmed up in {self.load_times['warm_up']:.2f} s (one short run per model)")

    def close(self) -> None:
        """Release the LLM worker thread and the llama.cpp model (end of process / tests)."""
        self.llm_executor.shutdown(wait=True, cancel_futures=True)
        with self.llm_lock:
            self.llm.close()


def _load_whisper(directory: Path, config: LocalModelsConfig) -> WhisperModel:
    """Load a CTranslate2 Whisper directory (a directory: faster-whisper never calls the hub),
    as a model whose language detection reuses the transcription's encoder pass."""
    from .stt_language import LanguageWhisperModel

    return LanguageWhisperModel(
        str(directory),
        device="cpu",
        compute_type=config.whisper_compute_type,
        cpu_threads=config.whisper_cpu_threads,
        num_workers=config.whisper_num_workers,
    )


def resolve_config(config: LocalModelsConfig) -> ResolvedModels:
    """The files of a config's three models (fetched on first use; not yet verified)."""
    whisper = None
    if config.whisper_dir is not None:
        whisper = path_model("whisper", config.whisper_dir, config.whisper_checksums)
    return resolve_models(
        config.whisper_model, config.llm_model, config.tts_voice, whisper_model=whisper
    )


_shared: dict[tuple[object, ...], LocalModels] = {}
"""The loaded models by the files they load (:attr:`ResolvedModels.key`)."""
_shared_lock = threading.Lock()


def get_local_models(config: LocalModelsConfig | None = None) -> LocalModels:
    """Return the process-wide :class:`LocalModels` of a config, loading them on first use.

    Configs whose references resolve to the same files share one :class:`LocalModels`: the
    models are loaded once per set of files, whatever the number of pipelines using them.

    Blocking (about 2 s plus warm-up on first call, more when a model must be fetched): call
    it at start-up, or via ``asyncio.to_thread`` from async code. Thread-safe; concurrent
    first callers wait for one load.

    Args:
        config: The models and loading options; the options (threads, context, ...) are used
            only by the call that actually loads a set of files.

    Returns:
        The shared models.
    """
    config = config or LocalModelsConfig()
    with _shared_lock:
        resolved = resolve_config(config)
        models = _shared.get(resolved.key)
        if models is None:
            models = _shared[resolved.key] = LocalModels.load(config, resolved=resolved)
        else:
            for model in resolved:
                if model.pinned:  # this reference's own pin (the files were verified at load)
                    verify_model(model)
            logger.debug("Local models already loaded for these files; sharing them")
        return models
