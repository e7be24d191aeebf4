"""The first-phrase aggregator: a reply's first clause goes to the TTS alone, then sentences."""

from __future__ import annotations

from pipeline_manager.first_phrase import FirstPhraseAggregator


async def aggregate(tokens: list[str]) -> list[str]:
    aggregator = FirstPhraseAggregator()
    out = []
    for token in tokens:
        async for aggregation in aggregator.aggregate(token):
            out.append(aggregation.text)
    flushed = await aggregator.flush()
    if flushed is not None:
        out.append(flushed.text)
    return out


def tokens(text: str) -> list[str]:
    """Split like an LLM stream: words with their leading spaces."""
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


async def test_the_first_clause_goes_alone_then_sentences() -> None:
    text = "Sure, the station is ten minutes away, past the park. Turn left at the bank. Enjoy!"
    out = await aggregate(tokens(text))
    assert out[0] == "Sure, the station is ten minutes away,"
    assert "".join(out).replace(" ", "") == text.replace(" ", "")
    assert out[1].strip().startswith("past the park.")


async def test_a_short_opening_clause_is_not_split_off() -> None:
    out = await aggregate(tokens("Well, I think it is sunny today. Yes."))
    assert out[0] == "Well, I think it is sunny today."


async def test_a_reply_that_starts_with_a_sentence_is_aggregated_as_before() -> None:
    out = await aggregate(tokens("Hello there. How are you, my friend, today?"))
    assert out[0] == "Hello there."
    assert out[1].strip() == "How are you, my friend, today?"


async def test_each_reply_gets_its_first_phrase() -> None:
    aggregator = FirstPhraseAggregator()
    for _ in range(2):
        out = []
        for token in tokens("Of course you can, here is the answer. Done."):
            async for aggregation in aggregator.aggregate(token):
                out.append(aggregation.text)
        await aggregator.flush()
        assert out[0] == "Of course you can,"
