"""The GLM-Realtime dialect (relay/dialects/glm, docs/glm.md), event by event and end to end.

Every GA event the dialect produces is validated strictly against the SDK's GA server event union
and checked for the cross-event invariants of docs/protocol.md §6 (tests/realtime_client.py); every
GLM event it produces is checked against GLM's documented shapes (tests/glm_standin.py). The end
to end tests run a GA client's events through the dialect to the stand-in GLM server and back.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from audio_utils import alaw_encode, ulaw_decode, ulaw_encode
from relay.dialects import GLM_DEFAULT_MODEL, GLM_DEFAULT_URL, Dialect, GLMDialect, glm_headers
from relay.dialects.glm import GLM_VOICES
from relay.dialects.glm.audio import parse_wav, wav_file
from tests.glm_standin import (
    FunctionCallScript,
    GLMStandIn,
    client_event_problem,
    tone_pcm16,
)
from tests.realtime_client import (
    EventWaiting,
    InvariantChecker,
    audio_of,
    types_of,
    validate_server_event,
)

TIMEOUT = 10.0
API_KEY = "glm-test.secret"
Event = dict[str, Any]


# --- helpers --------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def tone(ms: int, rate: int, hz: float = 440.0) -> bytes:
    """``ms`` of a sine tone as PCM16 at ``rate``."""
    n = np.arange(rate * ms // 1000)
    return (np.sin(2 * np.pi * hz * n / rate) * 8000).astype("<i2").tobytes()


def dominant_hz(pcm16: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


def to_glm(dialect: GLMDialect, event: Event) -> list[Event]:
    """A GA client event through the dialect; every GLM event must match GLM's documented shape."""
    out = dialect.client_to_upstream(event)
    for glm in out:
        assert client_event_problem(glm) is None, (client_event_problem(glm), glm)
    return out


class GAStream:
    """Validates every GA event strictly and checks the invariants across all of them."""

    def __init__(self) -> None:
        self.invariants = InvariantChecker()
        self.events: list[Event] = []

    def take(self, events: list[Event]) -> list[Event]:
        for event in events:
            validate_server_event(event)
            self.invariants.check(event)
            self.events.append(event)
        return events


def from_glm(dialect: GLMDialect, event: Event, stream: GAStream | None = None) -> list[Event]:
    return (stream or GAStream()).take(dialect.upstream_to_client(event))


def pending(dialect: GLMDialect, stream: GAStream | None = None) -> list[Event]:
    return (stream or GAStream()).take(dialect.drain_client_events())


def configured(**kwargs: Any) -> GLMDialect:
    """A dialect whose initial configuration has been sent already."""
    dialect = GLMDialect(**kwargs)
    dialect.initial_upstream_events()
    return dialect


def session_update(**session: Any) -> Event:
    return {
        "type": "session.update",
        "event_id": "evt_update",
        "session": {"type": "realtime", **session},
    }


def appends(dialect: GLMDialect, pcm: bytes, chunk_bytes: int) -> list[Event]:
    out: list[Event] = []
    for start in range(0, len(pcm), chunk_bytes):
        audio = b64(pcm[start : start + chunk_bytes])
        out += to_glm(dialect, {"type": "input_audio_buffer.append", "audio": audio})
    return out


def wavs_of(events: list[Event]) -> list[Any]:
    return [
        parse_wav(base64.b64decode(e["audio"]))
        for e in events
        if e["type"] == "input_audio_buffer.append"
    ]


def response_events(
    dialect: GLMDialect,
    stream: GAStream,
    *,
    response_id: str = "resp_1",
    transcript: tuple[str, ...] = ("Hel", "lo"),
    audio_ms: int = 300,
) -> None:
    """GLM's audio response as the official docs show it (no output_item / content_part events)."""
    ref = {"response_id": response_id, "item_id": "item_a", "output_index": 0, "content_index": 0}
    from_glm(
        dialect,
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}},
        stream,
    )
    for index, piece in enumerate(transcript):
        from_glm(
            dialect, {"type": "response.audio_transcript.delta", **ref, "delta": piece}, stream
        )
        chunk = tone(100, 24000)
        if index * 100 < audio_ms:
            from_glm(dialect, {"type": "response.audio.delta", **ref, "delta": b64(chunk)}, stream)


# --- the module's public API ----------------------------------------------------------------------


def test_connection_helpers() -> None:
    assert GLM_DEFAULT_URL == "wss://open.bigmodel.cn/api/paas/v4/realtime"
    assert GLM_DEFAULT_MODEL == "glm-realtime-flash"
    assert glm_headers("abc.def") == {"Authorization": "Bearer abc.def"}
    dialect: Dialect = GLMDialect()
    assert dialect.name == "glm"


# --- session.update, GA -> GLM --------------------------------------------------------------------


def test_session_update_becomes_the_whole_glm_session() -> None:
    dialect = GLMDialect()
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"type": "mcp", "server_label": "x", "server_url": "https://example.com"},
    ]
    out = to_glm(
        dialect,
        session_update(
            instructions="Be brief.",
            tools=tools,
            max_output_tokens=4096,
            audio={
                "input": {
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.6,
                        "silence_duration_ms": 500,
                    },
                    "noise_reduction": {"type": "near_field"},
                },
                "output": {"voice": "alloy"},
            },
        ),
    )
    assert len(out) == 1
    assert out[0]["type"] == "session.update"
    assert out[0]["event_id"] == "evt_update"
    assert out[0]["session"] == {
        "model": "glm-realtime-flash",
        "modalities": ["text", "audio"],
        "voice": "tongtong",  # "alloy" is not a GLM voice
        "instructions": "Be brief.",
        "input_audio_format": "wav",
        "output_audio_format": "pcm",
        "turn_detection": {"type": "server_vad", "threshold": 0.6, "silence_duration_ms": 500},
        "tools": [tools[0]],
        "max_response_output_tokens": "1024",
        "input_audio_noise_reduction": {"type": "near_field"},
        "beta_fields": {"chat_mode": "audio", "tts_source": "e2e"},
    }


def test_every_update_repeats_the_whole_configuration() -> None:
    """GLM resets what an update leaves out (turn detection back to client VAD)."""
    dialect = GLMDialect(beta_fields={"auto_search": False})
    to_glm(
        dialect,
        session_update(audio={"output": {"voice": "female-tianmei"}}, model="glm-realtime-air"),
    )
    (update,) = to_glm(dialect, session_update(instructions="Hi"))
    session = update["session"]
    assert session["turn_detection"] == {"type": "server_vad"}
    assert session["voice"] == "female-tianmei"
    assert session["model"] == "glm-realtime-air"
    assert session["beta_fields"] == {
        "chat_mode": "audio",
        "tts_source": "e2e",
        "auto_search": False,
    }
    assert "max_response_output_tokens" not in session  # "inf"


@pytest.mark.parametrize(
    ("ga", "glm"),
    [
        (None, {"type": "client_vad"}),
        ({"type": "semantic_vad", "eagerness": "high"}, {"type": "server_vad"}),
        (
            {"type": "server_vad", "prefix_padding_ms": 100},
            {"type": "server_vad", "prefix_padding_ms": 100},
        ),
    ],
)
def test_turn_detection(ga: Any, glm: Event) -> None:
    dialect = GLMDialect()
    (update,) = to_glm(dialect, session_update(audio={"input": {"turn_detection": ga}}))
    assert update["session"]["turn_detection"] == glm


def test_text_output_modality() -> None:
    dialect = GLMDialect()
    (update,) = to_glm(dialect, session_update(output_modalities=["text"]))
    assert update["session"]["modalities"] == ["text"]


def test_a_transcription_session_is_refused() -> None:
    dialect = configured()
    event = {"type": "session.update", "event_id": "evt_t", "session": {"type": "transcription"}}
    assert to_glm(dialect, event) == []
    (error,) = pending(dialect)
    assert error["error"]["code"] == "invalid_value"
    assert error["error"]["param"] == "session.type"
    assert error["error"]["event_id"] == "evt_t"
    assert dialect.pending_client_events == []


def test_the_first_event_upstream_carries_the_configuration() -> None:
    dialect = GLMDialect()
    first = to_glm(dialect, {"type": "input_audio_buffer.append", "audio": b64(tone(200, 24000))})
    assert [e["type"] for e in first] == ["session.update", "input_audio_buffer.append"]
    assert first[0]["session"]["turn_detection"] == {"type": "server_vad"}
    second = to_glm(dialect, {"type": "input_audio_buffer.append", "audio": b64(tone(100, 24000))})
    assert [e["type"] for e in second] == ["input_audio_buffer.append"]
    # Whatever the first event is, the configuration goes with it.
    truncating = GLMDialect()
    truncate = {
        "type": "conversation.item.truncate",
        "item_id": "i",
        "content_index": 0,
        "audio_end_ms": 0,
    }
    assert [e["type"] for e in to_glm(truncating, truncate)] == ["session.update"]

    eager = GLMDialect()
    (update,) = eager.initial_upstream_events()
    assert client_event_problem(update) is None
    assert [e["type"] for e in to_glm(eager, {"type": "response.create"})] == ["response.create"]


# --- sessions, GLM -> GA --------------------------------------------------------------------------


def test_glm_sessions_become_ga_sessions() -> None:
    dialect = GLMDialect()
    glm_session = {
        "id": "sess_glm",
        "model": "glm-realtime-flash",
        "instructions": "你是小智。",
        "input_audio_format": "wav",
    }
    (created,) = from_glm(dialect, {"type": "session.created", "session": glm_session})
    assert created["type"] == "session.created"
    session = created["session"]
    assert session["id"] == "sess_glm"
    assert session["instructions"] == "你是小智。"  # GLM's own, until the client sets some
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"]["voice"] == "tongtong"
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"

    to_glm(
        dialect,
        session_update(
            instructions="Be brief.",
            audio={
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "turn_detection": None,
                    "transcription": {"model": "whisper-1"},
                },
                "output": {"format": {"type": "audio/pcma"}, "voice": "marin"},
            },
        ),
    )
    (updated,) = from_glm(
        dialect, {"type": "session.updated", "session": {**glm_session, "voice": "tongtong"}}
    )
    assert updated["type"] == "session.updated"
    session = updated["session"]
    assert session["instructions"] == "Be brief."
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcma"}
    assert session["audio"]["output"]["voice"] == "tongtong"
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}


def test_a_first_session_updated_also_gives_session_created() -> None:
    dialect = GLMDialect()
    events = from_glm(dialect, {"type": "session.updated", "session": {"id": "s"}})
    assert types_of(events) == ["session.created", "session.updated"]


def test_a_relay_that_greets_the_client_itself() -> None:
    dialect = GLMDialect()
    greeting = dialect.session_created_event()
    validate_server_event(greeting)
    assert types_of(from_glm(dialect, {"type": "session.created", "session": {}})) == [
        "session.updated"
    ]


# --- input audio ----------------------------------------------------------------------------------


def test_one_second_of_24k_pcm_becomes_one_second_of_16k_wav() -> None:
    dialect = configured()
    pcm = tone(1000, 24000)
    sent = appends(dialect, pcm, chunk_bytes=960)  # 20 ms appends
    wavs = wavs_of(sent)
    assert len(wavs) == 9  # 100 ms packets; the rest waits for more audio or the commit
    for wav in wavs:
        assert (wav.rate, wav.channels, wav.bits) == (16000, 1, 16)
        assert len(wav.pcm) == 3200  # 100 ms at 16 kHz
    tail = to_glm(dialect, {"type": "input_audio_buffer.commit", "event_id": "evt_c"})
    assert [e["type"] for e in tail][-1] == "input_audio_buffer.commit"
    assert tail[-1]["event_id"] == "evt_c"
    wavs += wavs_of(tail)
    received = b"".join(w.pcm for w in wavs)
    assert abs(len(received) // 2 - 16000) <= 2  # 1 s in, 1 s out
    assert abs(dominant_hz(received, 16000) - 440) < 2


@pytest.mark.parametrize("encode", [ulaw_encode, alaw_encode])
def test_g711_input_is_decoded_and_resampled(encode: Any) -> None:
    dialect = configured()
    kind = "audio/pcmu" if encode is ulaw_encode else "audio/pcma"
    to_glm(dialect, session_update(audio={"input": {"format": {"type": kind}}}))
    g711 = encode(tone(1000, 8000))
    assert len(g711) == 8000
    sent = appends(dialect, g711, chunk_bytes=160)  # 20 ms of G.711
    sent += to_glm(dialect, {"type": "input_audio_buffer.commit"})
    received = b"".join(w.pcm for w in wavs_of(sent))
    assert abs(len(received) // 2 - 16000) <= 2
    assert abs(dominant_hz(received, 16000) - 440) < 2


def test_raw_pcm24_upstream_passes_audio_through() -> None:
    dialect = configured(input_format="pcm24", packet_ms=0)
    (update,) = to_glm(dialect, session_update())
    assert update["session"]["input_audio_format"] == "pcm24"
    pcm = tone(200, 24000)
    sent = appends(dialect, pcm, chunk_bytes=960)
    assert b"".join(base64.b64decode(e["audio"]) for e in sent) == pcm
    # A relay may hand over the append's audio already decoded (protocol.ClientEvent.audio).
    (raw,) = to_glm(dialect, {"type": "input_audio_buffer.append", "audio": pcm[:960]})
    assert base64.b64decode(raw["audio"]) == pcm[:960]


def test_clear_drops_the_held_audio() -> None:
    dialect = configured()
    assert appends(dialect, tone(60, 24000), chunk_bytes=2880) == []  # under one packet
    assert [e["type"] for e in to_glm(dialect, {"type": "input_audio_buffer.clear"})] == [
        "input_audio_buffer.clear"
    ]
    assert [e["type"] for e in to_glm(dialect, {"type": "input_audio_buffer.commit"})] == [
        "input_audio_buffer.commit"
    ]


# --- output audio and the response sequence -------------------------------------------------------


def test_an_audio_response_becomes_the_ga_sequence() -> None:
    dialect = configured()
    stream = GAStream()
    response_events(dialect, stream)
    ref = {"response_id": "resp_1", "item_id": "item_a", "output_index": 0, "content_index": 0}
    from_glm(dialect, {"type": "response.audio.done", **ref}, stream)
    from_glm(
        dialect, {"type": "response.audio_transcript.done", **ref, "transcript": "Hello!"}, stream
    )
    usage = {
        "total_tokens": 9,
        "input_tokens": 4,
        "output_tokens": 5,
        "input_token_details": {"text_tokens": 1, "audio_tokens": 3},
        "output_token_details": {"text_tokens": 2, "audio_tokens": 3},
    }
    from_glm(
        dialect,
        {
            "type": "response.done",
            "response": {"id": "resp_1", "status": "completed", "usage": usage},
        },
        stream,
    )
    assert types_of(stream.events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.delta",  # "!": GLM's final transcript extends the deltas
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    done = stream.events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"] == [
        {
            "id": "item_a",
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_audio", "transcript": "Hello!"}],
        }
    ]
    assert done["usage"]["input_token_details"] == {
        "text_tokens": 1,
        "audio_tokens": 3,
        "image_tokens": 0,
        "cached_tokens": 0,
    }
    assert done["usage"]["total_tokens"] == 9
    # pcm 24 kHz out: GLM's bytes unchanged.
    assert audio_of(stream.events) == tone(100, 24000) * 2


def test_g711_output_keeps_the_duration() -> None:
    dialect = configured()
    to_glm(dialect, session_update(audio={"output": {"format": {"type": "audio/pcmu"}}}))
    stream = GAStream()
    ref = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    from_glm(dialect, {"type": "response.created", "response": {"id": "r"}}, stream)
    for start in range(0, 1000, 100):  # 1 s of GLM audio in 100 ms deltas
        from_glm(
            dialect,
            {"type": "response.audio.delta", **ref, "delta": b64(tone_pcm16(100, start_ms=start))},
            stream,
        )
    from_glm(dialect, {"type": "response.audio.done", **ref}, stream)
    from_glm(
        dialect, {"type": "response.done", "response": {"id": "r", "status": "completed"}}, stream
    )
    ulaw = audio_of(stream.events)
    assert len(ulaw) == 8000  # 1 s at 8 kHz
    assert abs(dominant_hz(ulaw_decode(ulaw), 8000) - 440) < 2
    assert stream.events[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}


def test_a_text_response() -> None:
    dialect = configured()
    to_glm(dialect, session_update(output_modalities=["text"]))
    stream = GAStream()
    ref = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    from_glm(dialect, {"type": "response.created", "response": {"id": "r"}}, stream)
    from_glm(dialect, {"type": "response.text.delta", **ref, "delta": "你好"}, stream)
    from_glm(dialect, {"type": "response.text.done", **ref, "text": "你好"}, stream)
    from_glm(
        dialect, {"type": "response.done", "response": {"id": "r", "status": "completed"}}, stream
    )
    kinds = types_of(stream.events)
    assert "response.output_text.delta" in kinds and "response.output_text.done" in kinds
    assert stream.events[3]["part"] == {"type": "text", "text": ""}
    assert stream.events[-1]["response"]["output"][0]["content"] == [
        {"type": "output_text", "text": "你好"}
    ]
    assert stream.events[-1]["response"]["output_modalities"] == ["text"]


def test_glm_item_and_part_events_fold_into_the_sequence() -> None:
    """GLM sometimes sends output_item.added with only an item_id; nothing is announced twice."""
    dialect = configured()
    stream = GAStream()
    from_glm(dialect, {"type": "response.created", "response_id": "r"}, stream)  # GLM-4.5 style
    from_glm(
        dialect,
        {"type": "response.output_item.added", "response_id": "r", "item_id": "item_x"},
        stream,
    )
    from_glm(
        dialect,
        {
            "type": "conversation.item.created",
            "item": {"id": "item_x", "type": "message", "role": "assistant", "content": []},
        },
        stream,
    )
    from_glm(
        dialect,
        {
            "type": "response.audio_transcript.delta",
            "response_id": "r",
            "item_id": "item_x",
            "delta": "Hi",
        },
        stream,
    )
    from_glm(
        dialect,
        {"type": "response.output_item.done", "response_id": "r", "item_id": "item_x"},
        stream,
    )
    from_glm(dialect, {"type": "response.done", "response_id": "r"}, stream)
    assert types_of(stream.events).count("response.output_item.added") == 1
    assert types_of(stream.events).count("conversation.item.added") == 1
    assert stream.events[-1]["response"]["output"][0]["id"] == "item_x"


def test_a_response_glm_never_announced() -> None:
    dialect = configured()
    stream = GAStream()
    from_glm(dialect, {"type": "response.audio_transcript.delta", "delta": "Hi"}, stream)
    from_glm(dialect, {"type": "response.done", "response": {"status": "completed"}}, stream)
    assert types_of(stream.events)[0] == "response.created"
    assert types_of(stream.events)[-1] == "response.done"


# --- function calls -------------------------------------------------------------------------------


def test_a_function_call_without_call_id() -> None:
    dialect = configured()
    stream = GAStream()
    from_glm(dialect, {"type": "response.created", "response": {"id": "r"}}, stream)
    from_glm(
        dialect,
        {
            "type": "response.audio_transcript.delta",
            "response_id": "r",
            "item_id": "i",
            "delta": "Let me check.",
        },
        stream,
    )
    from_glm(
        dialect,
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r",
            "output_index": 0,
            "name": "get_weather",
            "arguments": '{"city": "北京"}',
        },
        stream,
    )
    from_glm(
        dialect, {"type": "response.done", "response": {"id": "r", "status": "completed"}}, stream
    )
    kinds = types_of(stream.events)
    call_start = kinds.index("response.output_item.added", 2)
    assert kinds[call_start:] == [
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    assert kinds.index("response.output_item.done") < call_start  # the message closed first
    done = stream.events[kinds.index("response.function_call_arguments.done")]
    assert done["name"] == "get_weather" and done["arguments"] == '{"city": "北京"}'
    assert done["output_index"] == 1
    call_id = done["call_id"]
    assert call_id.startswith("call_")
    assert stream.events[-1]["response"]["output"][1]["call_id"] == call_id

    # The made-up call id is left out when the output goes back to GLM...
    (create,) = to_glm(
        dialect,
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": "晴"},
        },
    )
    assert create["item"] == {
        "type": "function_call_output",
        "object": "realtime.item",
        "output": "晴",
    }
    # ...and restored in GLM's echo of it.
    (added, _) = from_glm(
        dialect,
        {
            "type": "conversation.item.created",
            "item": {"id": "item_o", "type": "function_call_output", "output": "晴"},
        },
    )
    assert added["item"]["call_id"] == call_id


def test_glm_call_ids_pass_both_ways() -> None:
    dialect = configured()
    stream = GAStream()
    from_glm(dialect, {"type": "response.created", "response": {"id": "r"}}, stream)
    events = from_glm(
        dialect,
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r",
            "call_id": "call_glm",
            "item_id": "item_fc",
            "name": "f",
            "arguments": "",
        },
        stream,
    )
    assert "response.function_call_arguments.delta" not in types_of(events)  # no arguments
    assert events[-2]["item"] == {
        "id": "item_fc",
        "object": "realtime.item",
        "type": "function_call",
        "status": "completed",
        "name": "f",
        "call_id": "call_glm",
        "arguments": "",
    }
    (create,) = to_glm(
        dialect,
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_glm", "output": "ok"},
        },
    )
    assert create["item"]["call_id"] == "call_glm"


# --- items ----------------------------------------------------------------------------------------


def test_ga_items_become_glm_items() -> None:
    dialect = configured()

    def item_of(item: Event, **event: Any) -> Event:
        (create,) = to_glm(dialect, {"type": "conversation.item.create", "item": item, **event})
        return create

    user = item_of(
        {
            "type": "message",
            "role": "user",
            "id": "item_u",
            "content": [{"type": "input_text", "text": "你好"}],
        },
        previous_item_id="item_p",
    )
    assert user["previous_item_id"] == "item_p"
    assert user["item"] == {
        "type": "message",
        "object": "realtime.item",
        "id": "item_u",
        "role": "user",
        "content": [{"type": "input_text", "text": "你好"}],
    }
    system = item_of(
        {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Be kind."}],
        }
    )
    assert system["item"]["content"] == [{"type": "input_text", "text": "Be kind."}]
    assistant = item_of(
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Sure."},
                {"type": "output_audio", "transcript": "Okay."},
            ],
        }
    )
    assert assistant["item"]["content"] == [
        {"type": "text", "text": "Sure."},
        {"type": "text", "text": "Okay."},
    ]
    call = item_of({"type": "function_call", "name": "f", "arguments": "{}", "call_id": "call_1"})
    assert call["item"] == {
        "type": "function_call",
        "object": "realtime.item",
        "name": "f",
        "arguments": "{}",
        "call_id": "call_1",
    }

    audio = item_of(
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": b64(tone(500, 24000))}],
        }
    )
    wav = parse_wav(base64.b64decode(audio["item"]["content"][0]["audio"]))
    assert (wav.rate, len(wav.pcm) // 2) == (16000, 8000)  # 0.5 s at 24 kHz -> 0.5 s at 16 kHz


def test_items_glm_cannot_hold_are_refused() -> None:
    dialect = configured()
    image = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}],
    }
    assert (
        to_glm(dialect, {"type": "conversation.item.create", "event_id": "e1", "item": image}) == []
    )
    (error,) = pending(dialect)
    assert (error["error"]["param"], error["error"]["event_id"]) == ("item.content", "e1")
    mcp = {"type": "mcp_approval_response", "approval_request_id": "x", "approve": True}
    assert to_glm(dialect, {"type": "conversation.item.create", "item": mcp}) == []
    (error,) = pending(dialect)
    assert error["error"]["param"] == "item.type"


def test_glm_items_become_ga_items() -> None:
    dialect = configured()
    stream = GAStream()
    user = {
        "id": "item_1",
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    added, done = from_glm(dialect, {"type": "conversation.item.created", "item": user}, stream)
    assert (added["type"], done["type"]) == ("conversation.item.added", "conversation.item.done")
    assert added["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    assert added["previous_item_id"] is None
    assert from_glm(dialect, {"type": "conversation.item.created", "item": user}, stream) == []
    text = {
        "id": "item_2",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    added, _ = from_glm(dialect, {"type": "conversation.item.created", "item": text}, stream)
    assert added["previous_item_id"] == "item_1"
    assert types_of(
        from_glm(dialect, {"type": "conversation.item.deleted", "item_id": "item_2"})
    ) == ["conversation.item.deleted"]
    ids = to_glm(dialect, {"type": "conversation.item.delete", "item_id": "item_2"})
    assert ids[0]["item_id"] == "item_2"


# --- turns: VAD events, commits, transcription ----------------------------------------------------


def test_vad_events_get_positions_and_ids() -> None:
    dialect = configured()
    stream = GAStream()
    appends(dialect, tone(500, 24000), chunk_bytes=4800)
    (started,) = from_glm(dialect, {"type": "input_audio_buffer.speech_started"}, stream)
    assert started["audio_start_ms"] == 500
    appends(dialect, tone(300, 24000), chunk_bytes=4800)
    (stopped,) = from_glm(dialect, {"type": "input_audio_buffer.speech_stopped"}, stream)
    assert stopped["audio_end_ms"] == 800
    assert stopped["item_id"] == started["item_id"]
    (committed,) = from_glm(
        dialect, {"type": "input_audio_buffer.committed", "item_id": "item_glm"}, stream
    )
    assert committed["item_id"] == "item_glm"
    transcription = {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_glm",
        "transcript": "天气",
    }
    assert from_glm(dialect, transcription, stream) == []  # transcription is off
    to_glm(dialect, session_update(audio={"input": {"transcription": {"model": "whisper-1"}}}))
    (completed,) = from_glm(dialect, transcription, stream)
    assert completed["transcript"] == "天气"
    assert completed["content_index"] == 0
    assert completed["usage"] == {"type": "duration", "seconds": 0.3}
    failed = {
        "type": "conversation.item.input_audio_transcription.failed",
        "item_id": "item_glm",
        "error": {"code": 500, "message": "asr"},
    }
    (failure,) = from_glm(dialect, failed, stream)
    assert failure["error"]["code"] == "500"


def test_a_manual_commit_gets_its_duration() -> None:
    dialect = configured()
    to_glm(
        dialect,
        session_update(audio={"input": {"turn_detection": None, "transcription": {"model": "x"}}}),
    )
    appends(dialect, tone(700, 24000), chunk_bytes=4800)
    to_glm(dialect, {"type": "input_audio_buffer.commit"})
    (committed,) = from_glm(dialect, {"type": "input_audio_buffer.committed", "item_id": "item_m"})
    assert committed["item_id"] == "item_m"
    (completed,) = from_glm(
        dialect,
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "item_m",
            "transcript": "x",
        },
    )
    assert completed["usage"]["seconds"] == pytest.approx(0.7)
    assert types_of(from_glm(dialect, {"type": "input_audio_buffer.cleared"})) == [
        "input_audio_buffer.cleared"
    ]


# --- cancellation and interruption ----------------------------------------------------------------


def test_cancel_ends_the_response_at_once() -> None:
    dialect = configured()
    stream = GAStream()
    response_events(dialect, stream)
    out = to_glm(dialect, {"type": "response.cancel", "event_id": "evt_x"})
    assert [(e["type"], e["event_id"]) for e in out] == [("response.cancel", "evt_x")]
    closing = pending(dialect, stream)
    assert types_of(closing)[-1] == "response.done"
    done = closing[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    ref = {"response_id": "resp_1", "item_id": "item_a", "output_index": 0, "content_index": 0}
    assert (
        from_glm(
            dialect, {"type": "response.audio.delta", **ref, "delta": b64(tone(100, 24000))}, stream
        )
        == []
    )
    assert (
        from_glm(
            dialect,
            {"type": "response.done", "response": {"id": "resp_1", "status": "cancelled"}},
            stream,
        )
        == []
    )
    # Nothing running: the cancel still goes to GLM, and nothing is answered locally.
    assert [e["type"] for e in to_glm(dialect, {"type": "response.cancel"})] == ["response.cancel"]
    assert pending(dialect) == []


def test_a_new_turn_interrupts_the_running_response() -> None:
    dialect = configured()
    stream = GAStream()
    response_events(dialect, stream, response_id="r1")
    from_glm(dialect, {"type": "input_audio_buffer.speech_started"}, stream)
    events = from_glm(dialect, {"type": "response.created", "response": {"id": "r2"}}, stream)
    assert types_of(events)[-2:] == ["response.done", "response.created"]
    assert events[-2]["response"]["status_details"] == {
        "type": "cancelled",
        "reason": "turn_detected",
    }
    response_events(dialect, stream, response_id="r2")
    from_glm(dialect, {"type": "input_audio_buffer.speech_started"}, stream)
    (*_, done) = from_glm(dialect, {"type": "response.cancelled", "response": {"id": "r2"}}, stream)
    assert done["response"]["status_details"]["reason"] == "turn_detected"


def test_failed_and_incomplete_responses() -> None:
    dialect = configured()
    stream = GAStream()
    from_glm(dialect, {"type": "response.created", "response": {"id": "r"}}, stream)
    (done,) = from_glm(
        dialect, {"type": "response.done", "response": {"id": "r", "status": "failed"}}, stream
    )
    assert done["response"]["status_details"]["type"] == "failed"
    assert done["response"]["status_details"]["error"]["code"] == "server_error"
    from_glm(dialect, {"type": "response.created", "response": {"id": "r2"}}, stream)
    (done,) = from_glm(
        dialect, {"type": "response.done", "response": {"id": "r2", "status": "incomplete"}}, stream
    )
    assert done["response"]["status_details"] == {
        "type": "incomplete",
        "reason": "max_output_tokens",
    }


# --- events GLM has no equivalent for -------------------------------------------------------------


def test_events_answered_without_glm() -> None:
    dialect = configured()
    truncate = {
        "type": "conversation.item.truncate",
        "item_id": "item_a",
        "content_index": 0,
        "audio_end_ms": 1200,
    }
    assert to_glm(dialect, truncate) == []
    (truncated,) = pending(dialect)
    assert (truncated["type"], truncated["audio_end_ms"]) == ("conversation.item.truncated", 1200)

    out_of_band = {"type": "response.create", "response": {"conversation": "none"}}
    assert to_glm(dialect, out_of_band) == []
    assert pending(dialect)[0]["error"]["param"] == "response.conversation"
    with_input = {"type": "response.create", "response": {"input": []}}
    assert to_glm(dialect, with_input) == []
    assert pending(dialect)[0]["error"]["param"] == "response.input"
    assert to_glm(dialect, {"type": "output_audio_buffer.clear"}) == []
    assert pending(dialect)[0]["type"] == "error"

    plain = to_glm(
        dialect,
        {"type": "response.create", "response": {"instructions": "Shout.", "metadata": {"a": "b"}}},
    )
    assert [set(e) for e in plain] == [{"type", "client_timestamp"}]  # GLM takes no parameters


def test_glm_only_events_are_dropped_and_errors_kept() -> None:
    dialect = configured()
    assert from_glm(dialect, {"type": "heartbeat"}) == []
    assert (
        from_glm(
            dialect, {"type": "response.function_call.simple_browser", "name": "simple_browser"}
        )
        == []
    )
    assert from_glm(dialect, {"type": "something.new"}) == []
    (error,) = from_glm(
        dialect,
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "code": 1214, "message": "参数错误"},
        },
    )
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "1214",
        "message": "参数错误",
        "param": None,
        "event_id": None,
    }
    (bare,) = from_glm(dialect, {"type": "error"})
    assert bare["error"]["type"] == "server_error"
    (conversation,) = from_glm(
        dialect,
        {
            "type": "conversation.created",
            "conversation": {"id": "conv_glm", "object": "realtime.conversation"},
        },
    )
    assert conversation["conversation"]["id"] == "conv_glm"
    stream = GAStream()
    (created,) = from_glm(dialect, {"type": "response.created", "response": {"id": "r"}}, stream)
    assert created["response"]["conversation_id"] == "conv_glm"


def test_voices() -> None:
    assert "tongtong" in GLM_VOICES
    for voice in GLM_VOICES:
        (update,) = to_glm(GLMDialect(), session_update(audio={"output": {"voice": voice}}))
        assert update["session"]["voice"] == voice


def test_wav_round_trip() -> None:
    pcm = tone(20, 16000)
    wav = parse_wav(wav_file(pcm, 16000))
    assert (wav.rate, wav.channels, wav.bits, wav.pcm) == (16000, 1, 16, pcm)
    with pytest.raises(ValueError):
        parse_wav(b"RIFF0000WAVE")


# --- end to end, through the stand-in GLM server --------------------------------------------------


class GLMLink(EventWaiting):
    """A GA client's view of a GLM session: GA events in, through the dialect, GA events out."""

    def __init__(self, ws: ClientConnection, dialect: GLMDialect) -> None:
        self.ws = ws
        self.dialect = dialect
        self.stream = GAStream()
        self._queue: list[Event] = []

    async def send(self, event: Event) -> None:
        for glm in to_glm(self.dialect, event):
            await asyncio.wait_for(self.ws.send(json.dumps(glm)), TIMEOUT)
        self._queue += pending(self.dialect, self.stream)

    async def append(self, pcm: bytes, chunk_bytes: int = 960) -> None:
        for start in range(0, len(pcm), chunk_bytes):
            chunk = b64(pcm[start : start + chunk_bytes])
            await self.send({"type": "input_audio_buffer.append", "audio": chunk})

    async def next_event(self, timeout: float = TIMEOUT) -> Event:
        async with asyncio.timeout(timeout):
            while not self._queue:
                glm = json.loads(await self.ws.recv())
                self._queue += from_glm(self.dialect, glm, self.stream)
        return self._queue.pop(0)


@pytest.fixture
async def standin_factory() -> AsyncIterator[Any]:
    started: list[GLMStandIn] = []

    async def start(**kwargs: Any) -> tuple[GLMStandIn, str]:
        standin = GLMStandIn(api_key=API_KEY, **kwargs)
        url = await asyncio.wait_for(standin.start(), TIMEOUT)
        started.append(standin)
        return standin, url

    yield start
    for standin in started:
        await asyncio.wait_for(standin.stop(), TIMEOUT)


@asynccontextmanager
async def glm_link(url: str, dialect: GLMDialect | None = None) -> AsyncIterator[GLMLink]:
    async with connect(
        url, additional_headers=glm_headers(API_KEY), open_timeout=TIMEOUT, close_timeout=2
    ) as ws:
        link = GLMLink(ws, dialect or GLMDialect())
        created = await link.wait_for("session.created")
        assert created["session"]["model"] == GLM_DEFAULT_MODEL
        yield link


async def test_a_manual_turn_through_the_standin(standin_factory: Any) -> None:
    standin, url = await standin_factory(transcript=["Sunny", " today."], reply_audio_ms=300)
    async with glm_link(url) as link:
        await link.send(
            session_update(
                audio={
                    "input": {"turn_detection": None, "transcription": {"model": "whisper-1"}},
                    "output": {"format": {"type": "audio/pcmu"}},
                }
            )
        )
        updated = await link.wait_for("session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"] is None
        assert standin.sessions[-1]["turn_detection"] == {"type": "client_vad"}

        await link.append(tone(1000, 24000))
        await link.send({"type": "input_audio_buffer.commit"})
        await link.send({"type": "response.create"})
        events = await link.collect_until("response.done")

    kinds = types_of(events)
    for expected in (
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.output_audio.delta",
        "response.output_audio_transcript.done",
        "response.done",
    ):
        assert expected in kinds, expected
    committed = events[kinds.index("input_audio_buffer.committed")]
    transcription = events[kinds.index("conversation.item.input_audio_transcription.completed")]
    assert transcription["item_id"] == committed["item_id"]
    assert transcription["usage"]["seconds"] == pytest.approx(1.0)
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": "Sunny today."}]
    assert done["usage"]["total_tokens"] == 30
    assert len(audio_of(events)) == 2400  # 300 ms of G.711 at 8 kHz

    # What GLM got: 16 kHz mono WAV files, 1 s in all.
    assert {(a.container, a.rate, a.channels, a.bits) for a in standin.audio} == {
        ("wav", 16000, 1, 16)
    }
    assert standin.audio_ms == pytest.approx(1000, abs=0.2)
    assert "error" not in standin_sent_types(standin)


def standin_sent_types(standin: GLMStandIn) -> list[str]:
    return [e["type"] for e in standin.sent]


async def test_server_vad_through_the_standin(standin_factory: Any) -> None:
    standin, url = await standin_factory(vad_turn_ms=500)
    async with glm_link(url) as link:
        await link.append(tone(600, 24000))
        events = await link.collect_until("response.done")
    kinds = types_of(events)
    assert kinds[:2] == ["session.updated", "input_audio_buffer.speech_started"]
    started = events[1]
    stopped = events[kinds.index("input_audio_buffer.speech_stopped")]
    assert stopped["item_id"] == started["item_id"]
    assert stopped["audio_end_ms"] >= 500
    assert kinds.index("input_audio_buffer.committed") < kinds.index("response.created")
    # The configuration went first: server VAD, WAV in, PCM out.
    assert standin.received[0]["type"] == "session.update"
    assert standin.received[0]["session"]["turn_detection"] == {"type": "server_vad"}
    assert "conversation.item.input_audio_transcription.completed" not in kinds


async def test_a_function_call_through_the_standin(standin_factory: Any) -> None:
    call = FunctionCallScript(name="get_weather", arguments='{"city": "Beijing"}')
    standin, url = await standin_factory(function_call=call, transcript=["It is sunny."])
    async with glm_link(url) as link:
        tools = [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather by city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ]
        await link.send(session_update(tools=tools, audio={"input": {"turn_detection": None}}))
        await link.wait_for("session.updated")
        await link.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Weather in Beijing?"}],
                },
            }
        )
        await link.wait_for("conversation.item.done")
        await link.send({"type": "response.create"})
        first = await link.collect_until("response.done")
        args_done = next(e for e in first if e["type"] == "response.function_call_arguments.done")
        assert (args_done["name"], args_done["arguments"]) == ("get_weather", '{"city": "Beijing"}')

        output = {
            "type": "function_call_output",
            "call_id": args_done["call_id"],
            "output": '{"sky": "sunny"}',
        }
        await link.send({"type": "conversation.item.create", "item": output})
        echoed = await link.wait_for("conversation.item.added")
        assert echoed["item"]["call_id"] == args_done["call_id"]
        await link.send({"type": "response.create"})
        second = await link.collect_until("response.done")

    assert second[-1]["response"]["output"][0]["content"][0]["transcript"] == "It is sunny."
    sent_output = next(
        e for e in standin.received if e.get("item", {}).get("type") == "function_call_output"
    )
    assert "call_id" not in sent_output["item"]  # GLM gave none, so none goes back
    assert standin.sessions[-1]["tools"][0]["name"] == "get_weather"


async def test_cancel_through_the_standin(standin_factory: Any) -> None:
    standin, url = await standin_factory(reply_audio_ms=1000, chunk_delay_s=0.05)
    async with glm_link(url) as link:
        await link.send(session_update(audio={"input": {"turn_detection": None}}))
        await link.wait_for("session.updated")
        await link.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Talk."}],
                },
            }
        )
        await link.send({"type": "response.create"})
        await link.wait_for("response.output_audio.delta")
        await link.send({"type": "response.cancel"})
        done = await link.wait_for("response.done")
        assert done["response"]["status"] == "cancelled"
        await standin.wait_for("response.cancel")
        # GLM's own response.done for it comes later and is dropped; the session goes on.
        await link.send({"type": "response.create"})
        nxt = await link.collect_until("response.done", timeout=TIMEOUT)
        assert nxt[-1]["response"]["status"] == "completed"
        assert nxt[-1]["response"]["id"] != done["response"]["id"]


async def test_the_standin_checks_the_key(standin_factory: Any) -> None:
    _, url = await standin_factory()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(url, additional_headers=glm_headers("wrong.key"), open_timeout=TIMEOUT):
            pass
    assert refused.value.response.status_code == 401
