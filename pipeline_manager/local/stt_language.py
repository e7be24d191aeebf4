"""The user's language on the local STT: detecting it, trusting the transcript, Simplified Chinese.

Why a module: what the local STT does with one utterance, apart from Pipecat, so the service
(:mod:`.whisper_stt`) stays a thin adapter and this can be measured and tested on its own.

One utterance (:func:`transcribe`):

1. **Language.** The session's ``audio.input.transcription.language`` when it sets one; else
   Whisper detects it, among ``candidates`` when given (the languages the server answers in, by
   default; see ``REALTIME_LOCAL_WHISPER_LANGUAGES``). Detection costs almost nothing extra:
   :class:`LanguageWhisperModel` keeps the encoder output it computed for the detection and hands
   it to the transcription, which would otherwise encode the same 30-s window a second time (the
   encoder is most of the cost: measured 1.2-1.5 CPU-s per utterance for base with detection,
   2.5-3.0 CPU-s without this reuse).
2. **Decoding**: greedy, temperature 0 only (no fallback: a fallback re-decodes up to five times,
   which took 8-18 CPU-s on noise and hard clips; an utterance that needs it is one we should not
   trust anyway), no timestamps, the session's ``prompt`` as Whisper's initial prompt, and at
   most 16 + 12 tokens per second of audio (a hallucinated repetition stops there).
3. **Trust** (:func:`unsure_reason`): the transcript is refused, and the turn's transcription
   fails, when Whisper itself is unsure. The thresholds are Whisper's own defaults where they
   separate our measurements, else the midpoint of the gap we measured (tests/fixtures/audio,
   12 Mandarin and 8 English espeak-ng clips, and noise, silence, tone, clicks, babble; greedy
   decoding):

   - ``avg_logprob`` (token-weighted over segments) below :data:`MIN_AVG_LOGPROB` (-0.9): every
     accepted transcript measured -0.06 to -0.73 (English -0.06..-0.68, Mandarin on base
     -0.42..-0.73), every garbled one -1.02 or lower (tiny.en on Mandarin -1.10..-1.89, base on
     badly recognised Mandarin -1.02..-1.68);
   - ``no_speech_prob`` above :data:`MAX_NO_SPEECH_PROB` (0.6, Whisper's ``no_speech_threshold``):
     speech measured at most 0.46, hallucinations on noise and babble 0.68-0.94;
   - ``compression_ratio`` above :data:`MAX_COMPRESSION_RATIO` (2.4, Whisper's own): a
     repetition loop ("Yes, yes, yes, ...");
   - a detected language whose probability is below :data:`MIN_LANGUAGE_PROBABILITY` (0.4): right
     detections measured 0.40-0.98, wrong ones down to 0.06 (most of them are also caught by the
     log-probability);
   - no text at all (silence and noise: Whisper's own filter already drops those segments).
4. **Simplified Chinese**: a ``zh`` transcript is converted with OpenCC's ``t2s`` (Whisper base
   writes Traditional characters about half the time).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim

MIN_AVG_LOGPROB = -0.9
MAX_NO_SPEECH_PROB = 0.6
MAX_COMPRESSION_RATIO = 2.4
MIN_LANGUAGE_PROBABILITY = 0.4
SAMPLE_RATE = 16000

DECODING: dict[str, Any] = {
    "beam_size": 1,
    "temperature": 0.0,
    "without_timestamps": True,
    "condition_on_previous_text": False,
}
"""faster-whisper options of every transcription (see the module docstring)."""


class LanguageWhisperModel(WhisperModel):
    """A ``WhisperModel`` that detects the language without encoding the audio twice.

    :meth:`language_probabilities` encodes the utterance's first window and keeps the result
    (per thread: the model is shared by every session's worker threads); the next ``encode`` in
    the same thread, if it is for the same window (``transcribe`` of the same audio right after),
    returns it instead of running the encoder again. Anything else encodes as usual.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Load the model (``WhisperModel``'s arguments)."""
        super().__init__(*args, **kwargs)
        self._kept = threading.local()

    def encode(self, features: np.ndarray) -> Any:
        """The encoder output of ``features`` (reused when it was just computed)."""
        kept: tuple[np.ndarray, Any] | None = getattr(self._kept, "value", None)
        self._kept.value = None
        if kept is not None:
            window, output = kept
            if window.shape == features.shape and np.array_equal(window, features):
                return output
        return super().encode(features)

    def language_probabilities(self, audio: np.ndarray) -> list[tuple[str, float]]:
        """Every language Whisper knows with its probability for ``audio``, most likely first.

        Args:
            audio: 16 kHz mono float32 samples.
        """
        features = self.feature_extractor(audio)
        # The first window exactly as ``transcribe`` will encode it (see generate_segments).
        frames = max(1, min(self.feature_extractor.nb_max_frames, features.shape[-1] - 1))
        window = pad_or_trim(features[:, :frames])
        output = super().encode(window)
        self._kept.value = (window, output)
        results = self.model.detect_language(output)[0]
        return [(token[2:-2], float(prob)) for token, prob in results]


@dataclass(frozen=True)
class Transcript:
    """One utterance's transcript and how sure Whisper was of it.

    Parameters:
        text: The transcript (Simplified characters for ``zh``), stripped.
        language: The language it was transcribed as.
        language_probability: 1.0 when the session set the language, else the detection's.
        detected: Whether the language was detected rather than given.
        avg_logprob: Token-weighted mean log-probability of the text (0 without text).
        no_speech_prob: Highest probability of "no speech" over its segments.
        compression_ratio: Highest gzip compression ratio over its segments.
        model: Label of the model that transcribed it.
    """

    text: str
    language: str
    language_probability: float
    detected: bool
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    model: str

    def describe(self) -> str:
        """A one-line summary for logs (no transcript text: that is content)."""
        how = "detected" if self.detected else "given"
        return (
            f"{self.model}, language {self.language} ({how}, p={self.language_probability:.2f}), "
            f"avg_logprob {self.avg_logprob:.2f}, no_speech {self.no_speech_prob:.2f}, "
            f"compression {self.compression_ratio:.2f}, {len(self.text)} chars"
        )


def base_language(code: str | None) -> str | None:
    """A Whisper language code from an ISO-639-1 code or a locale (``zh-CN`` -> ``zh``).

    Empty or None means "detect it". Whisper's codes are 2 letters, except ``haw`` and ``yue``.
    """
    if code is None:
        return None
    code = str(code).strip().lower().replace("_", "-")
    if not code:
        return None
    return code.split("-", 1)[0]


def transcribe(
    model: WhisperModel,
    audio: np.ndarray,
    *,
    model_name: str,
    language: str | None,
    candidates: tuple[str, ...] = (),
    prompt: str | None = None,
) -> Transcript:
    """Transcribe one utterance (blocking: run it in a worker thread).

    Args:
        model: The Whisper model (a :class:`LanguageWhisperModel` detects more cheaply).
        audio: 16 kHz mono float32 samples in [-1, 1].
        model_name: Label of the model, for the result.
        language: A Whisper language code, or None to detect it.
        candidates: Languages the detection chooses among (empty: any language Whisper knows).
        prompt: Whisper's initial prompt (the session's transcription ``prompt``).

    Returns:
        The transcript; judge it with :func:`unsure_reason`.
    """
    detected = False
    probability = 1.0
    if not model.model.is_multilingual:
        language = "en"
    elif language is None:
        language, probability = _detect(model, audio, candidates)
        detected = True
    seconds = len(audio) / SAMPLE_RATE
    segments, _info = model.transcribe(
        audio,
        language=language,
        initial_prompt=prompt or None,
        max_new_tokens=min(200, int(16 + 12 * seconds)),
        **DECODING,
    )
    segments = list(segments)  # decoding is lazy: it runs here, in this thread
    text = "".join(segment.text for segment in segments).strip()
    tokens = sum(len(segment.tokens) for segment in segments)
    avg_logprob = (
        sum(segment.avg_logprob * len(segment.tokens) for segment in segments) / tokens
        if tokens
        else 0.0
    )
    if language == "zh":
        text = to_simplified(text)
    return Transcript(
        text=text,
        language=language,
        language_probability=probability,
        detected=detected,
        avg_logprob=avg_logprob,
        no_speech_prob=max((segment.no_speech_prob for segment in segments), default=0.0),
        compression_ratio=max((segment.compression_ratio for segment in segments), default=0.0),
        model=model_name,
    )


def _detect(
    model: WhisperModel, audio: np.ndarray, candidates: tuple[str, ...]
) -> tuple[str, float]:
    """The most probable language (among ``candidates`` if any) and its probability."""
    if isinstance(model, LanguageWhisperModel):
        probabilities = model.language_probabilities(audio)
    else:
        _language, _probability, probabilities = model.detect_language(audio)
    if candidates:
        allowed = [(lang, p) for lang, p in probabilities if lang in candidates]
        probabilities = allowed or probabilities
    language, probability = max(probabilities, key=lambda pair: pair[1])
    return language, probability


def unsure_reason(transcript: Transcript) -> str | None:
    """Why the transcript must not be taken as what the user said, or None if it may.

    The reason is shown to the client (``conversation.item.input_audio_transcription.failed``).
    """
    if not transcript.text:
        return "no speech was recognised in the audio"
    problems = []
    if transcript.detected and transcript.language_probability < MIN_LANGUAGE_PROBABILITY:
        problems.append(
            f"language '{transcript.language}' detected with probability "
            f"{transcript.language_probability:.2f} < {MIN_LANGUAGE_PROBABILITY}"
        )
    if transcript.avg_logprob < MIN_AVG_LOGPROB:
        problems.append(f"average log-probability {transcript.avg_logprob:.2f} < {MIN_AVG_LOGPROB}")
    if transcript.no_speech_prob > MAX_NO_SPEECH_PROB:
        problems.append(
            f"no-speech probability {transcript.no_speech_prob:.2f} > {MAX_NO_SPEECH_PROB}"
        )
    if transcript.compression_ratio > MAX_COMPRESSION_RATIO:
        problems.append(
            f"repetitive text (compression ratio {transcript.compression_ratio:.2f} > "
            f"{MAX_COMPRESSION_RATIO})"
        )
    if not problems:
        return None
    return "the speech was not recognised clearly enough to answer (" + "; ".join(problems) + ")"


_converter: Any = None
_converter_lock = threading.Lock()


def to_simplified(text: str) -> str:
    """``text`` with Traditional Chinese characters converted to Simplified (OpenCC ``t2s``)."""
    global _converter
    with _converter_lock:
        if _converter is None:
            import opencc

            _converter = opencc.OpenCC("t2s")
        converted: str = _converter.convert(text)
    return converted
