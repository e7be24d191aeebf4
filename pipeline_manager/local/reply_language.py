"""Which voice speaks a sentence: the voice map setting, and the sentence's language by script.

Why a module: plain functions with no model behind them (the settings check them before any
model loads, and the tests run them alone).

**The voice map** (``REALTIME_LOCAL_TTS_VOICES``, or ``local_tts_voices`` in a pipeline entry):
``LANG=VOICE`` pairs separated by commas, by default ``zh=espeak:cmn-latn-pinyin``. ``LANG`` is
a language code (``zh``, ``ja``, ...); ``VOICE`` is ``espeak:NAME`` for an espeak-ng voice, or
any Piper voice reference (a packaged name, an ``.onnx`` path, a Hugging Face repo). The ``en``
voice is ``REALTIME_LOCAL_TTS_VOICE`` (the joe voice by default) unless the map names one.

**A sentence's language** (:func:`sentence_language`) is guessed from its writing system alone,
which costs microseconds and needs no model: count the letters of each script, a Han character
counting as two Latin letters (it is a whole syllable); the script with the most wins. Kana make
it Japanese, Hangul Korean, and Cyrillic, Greek, Arabic, Hebrew, Thai and Devanagari give
``ru``, ``el``, ``ar``, ``he``, ``th`` and ``hi``. Latin script (or no letters at all) cannot be
told apart this way: it goes to the ``en`` voice if there is one, else to the map's first voice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

DEFAULT_TTS_VOICES = "zh=espeak:cmn-latn-pinyin"
LATIN = "latin"

_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x3040, 0x30FF, "ja"),  # Hiragana, Katakana
    (0x31F0, 0x31FF, "ja"),  # Katakana phonetic extensions
    (0x3400, 0x4DBF, "zh"),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF, "zh"),  # CJK Unified Ideographs
    (0xF900, 0xFAFF, "zh"),  # CJK Compatibility Ideographs
    (0x20000, 0x2FA1F, "zh"),  # CJK Extensions B-F, Compatibility Supplement
    (0x1100, 0x11FF, "ko"),  # Hangul Jamo
    (0xAC00, 0xD7AF, "ko"),  # Hangul syllables
    (0x0400, 0x04FF, "ru"),  # Cyrillic
    (0x0370, 0x03FF, "el"),  # Greek
    (0x0600, 0x06FF, "ar"),  # Arabic
    (0x0590, 0x05FF, "he"),  # Hebrew
    (0x0E00, 0x0E7F, "th"),  # Thai
    (0x0900, 0x097F, "hi"),  # Devanagari
)
_WEIGHTS = {"zh": 2, "ja": 2, "ko": 2}
"""Letters a character of the script is worth (a Han character or a Hangul block is a syllable)."""


class VoiceMapError(ValueError):
    """The voice map setting cannot be read."""


def parse_voice_map(spec: str) -> dict[str, str]:
    """The ``LANG=VOICE`` pairs of ``spec``, in order (none for an empty ``spec``).

    Raises:
        VoiceMapError: A pair is malformed or a language repeats.
    """
    voices: dict[str, str] = {}
    for raw in spec.split(","):
        pair = raw.strip()
        if not pair:
            continue
        language, sep, voice = (part.strip() for part in pair.partition("="))
        language = language.lower()
        if not sep or not voice or not language.isalpha() or not 2 <= len(language) <= 3:
            raise VoiceMapError(
                f"'{pair}' is not LANG=VOICE (e.g. 'zh=espeak:cmn-latn-pinyin', "
                "'en=en_US-joe-medium')"
            )
        if language in voices:
            raise VoiceMapError(f"the language '{language}' has two voices")
        voices[language] = voice
    return voices


def _script(char: str) -> str | None:
    if char.isascii():
        return LATIN if char.isalpha() else None
    code = ord(char)
    for low, high, language in _SCRIPT_RANGES:
        if low <= code <= high:
            return language
    return LATIN if char.isalpha() else None


def sentence_language(text: str) -> str | None:
    """The language of ``text`` by its script (see the module docstring); None for Latin
    script or text without letters."""
    counts: Counter[str] = Counter()
    for char in text:
        script = _script(char)
        if script is not None:
            counts[script] += _WEIGHTS.get(script, 1)
    if counts["ja"] and counts["zh"]:
        counts["ja"] += counts.pop("zh")  # kanji among kana: Japanese
    if not counts:
        return None
    script, _count = counts.most_common(1)[0]
    return None if script == LATIN else script


def has_letters(text: str) -> bool:
    """Whether ``text`` has anything to say (not only punctuation, digits' absence aside)."""
    return any(char.isalnum() for char in text)


def voice_language(text: str, voices: Mapping[str, object]) -> str | None:
    """The key of ``voices`` that should speak ``text``, or None if none can.

    Args:
        text: One sentence.
        voices: Voices by language, in the configured order.
    """
    language = sentence_language(text)
    if language is not None:
        return language if language in voices else None
    if "en" in voices:
        return "en"
    return next(iter(voices), None)
