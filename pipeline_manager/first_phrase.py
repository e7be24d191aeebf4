"""Speak from the first phrase: the TTS starts on a reply's first clause, not its first sentence.

Pipecat's TTS services collect the LLM's tokens into whole sentences before synthesising
(``SimpleTextAggregator``): natural prosody, but the reply's first audio waits for the first
sentence, the longest wait in a reply. :class:`FirstPhraseAggregator` lets the *first* piece of
each reply go as soon as it reaches a clause boundary (``,`` ``;`` ``:`` or a dash, then a space)
with at least ``MIN_WORDS`` words, long enough to be said with its own intonation; everything after
it is aggregated into sentences as before, so only one extra break is added per reply, where a
speaker would pause anyway. A reply with no early clause boundary is unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pipecat.services.tts_service import TTSService
from pipecat.utils.text.base_text_aggregator import Aggregation, BaseTextAggregator, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

MIN_WORDS = 3
"""A first phrase has at least this many words (a one-word "Well," is not worth a break)."""
MAX_FIRST_PHRASE_CHARS = 160
"""Past this, the first phrase is a sentence after all: stop looking for a clause boundary."""
CLAUSE_MARKS = ",;:\u2014\u2013"
"""Comma, semicolon, colon, em and en dash (and their CJK forms below)."""
CJK_CLAUSE_MARKS = "\uff0c\u3001\uff1b\uff1a"
"""Fullwidth comma, ideographic comma, fullwidth semicolon and colon: no space follows them."""


class FirstPhraseAggregator(BaseTextAggregator):
    """Sentences, except that a reply's first clause is released on its own."""

    def __init__(self, *, language: str | None = None) -> None:
        super().__init__(aggregation_type=TextType.SENTENCE, language=language)
        self._sentences = SimpleTextAggregator(
            aggregation_type=TextType.SENTENCE, language=language
        )
        self._head = ""
        self._looking = True

    @property
    def text(self) -> Aggregation:
        return Aggregation(
            text=(self._head + self._sentences.text.text).strip(" "), type=TextType.SENTENCE
        )

    def set_language(self, language: str | None) -> None:
        super().set_language(language)
        self._sentences.set_language(language)

    async def aggregate(self, text: str) -> AsyncIterator[Aggregation]:
        if not self._looking:
            async for aggregation in self._sentences.aggregate(text):
                yield aggregation
            return
        for index, char in enumerate(text):
            self._head += char
            phrase = self._first_phrase()
            if phrase is not None:
                self._looking = False
                yield Aggregation(text=phrase, type=TextType.SENTENCE)
                async for aggregation in self._sentences.aggregate(text[index + 1 :]):
                    yield aggregation
                return
            if self._ends_sentence() or len(self._head) > MAX_FIRST_PHRASE_CHARS:
                # A sentence (or a long run) came first: sentences from here on, as before.
                self._looking = False
                head, self._head = self._head, ""
                async for aggregation in self._sentences.aggregate(head + text[index + 1 :]):
                    yield aggregation
                return

    def _first_phrase(self) -> str | None:
        """The head, if it now ends with a clause boundary after enough words."""
        head = self._head
        if len(head) >= 2 and head[-1] == " " and head[-2] in CLAUSE_MARKS:
            candidate = head[:-1]
        elif head and head[-1] in CJK_CLAUSE_MARKS:
            candidate = head
        else:
            return None
        words = len(candidate.split()) if head[-1] == " " else len(candidate) // 2
        if words < MIN_WORDS:
            return None
        self._head = ""
        return candidate.strip()

    def _ends_sentence(self) -> bool:
        return bool(self._head) and self._head.rstrip()[-1:] in ".!?\u3002\uff01\uff1f"

    async def flush(self) -> Aggregation | None:
        """The reply is over: what is left goes out; the next reply starts looking again."""
        head, self._head, self._looking = self._head, "", True
        rest = await self._sentences.flush()
        text = (head + (rest.text if rest is not None else "")).strip()
        return Aggregation(text=text, type=TextType.SENTENCE) if text else None

    async def handle_interruption(self) -> None:
        self._head, self._looking = "", True
        await self._sentences.handle_interruption()

    async def reset(self) -> None:
        self._head, self._looking = "", True
        await self._sentences.reset()


def speak_from_first_phrase(tts: TTSService) -> bool:
    """Give a sentence-aggregating TTS service the first-phrase aggregator (else leave it).

    Pipecat 1.14 has no constructor argument for the aggregator, so the one it made is replaced.
    """
    current = getattr(tts, "_text_aggregator", None)
    if type(current) is not SimpleTextAggregator or current.aggregation_type != TextType.SENTENCE:
        return False
    aggregator: BaseTextAggregator = FirstPhraseAggregator(language=current.language)
    setattr(tts, "_text_aggregator", aggregator)  # noqa: B010  (its type says the simple one)
    return True
