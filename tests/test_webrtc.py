"""WebRTC calls against a real server process (mock profile) on loopback, from an aiortc client.

The client (``tests/webrtc_client.py``) does what a browser app does: one microphone track, the
``oai-events`` data channel, the offer posted to ``/v1/realtime/calls``. Every server event on the
channel is validated against the SDK's strict union and the cross-event invariants. The mock TTS
speaks 20 ms of a 440 Hz tone per character, so the audio that comes back on the track can be
checked for what it is and how long it is.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.audio_clips import clip
from tests.conftest import ServerProcess
from tests.realtime_client import RealtimeTestClient, sdk_client
from tests.webrtc_client import RATE, WebRTCTestClient

KEY = "sk-real-key"
APP_ORIGIN = "https://app.example.com"
WAIT_S = 15.0
MOCK_MS_PER_CHARACTER = 20
LONG_TEXT = " ".join(["talking"] * 60)  # the mock reply repeats it: ~10 s of audio
PLAYED_TOLERANCE_MS = 300
"""How far the played duration the server reports may be from the audio the client got by then
(the track's 20 ms frames, RTP transit and the receiver's jitter buffer)."""


@pytest.fixture(scope="module")
def strict_server() -> Iterator[ServerProcess]:
    """Keys on, one session at most, a peer that goes quiet for 2 s is gone."""
    process = ServerProcess(
        {
            "REALTIME_API_KEYS": KEY,
            "REALTIME_MAX_SESSIONS": "1",
            "REALTIME_WEBRTC_PEER_TIMEOUT_S": "2",
            "REALTIME_DEBUG_ENDPOINTS": "true",
            "REALTIME_ALLOWED_ORIGINS": APP_ORIGIN,
        }
    )
    yield process
    process.stop()


@contextlib.asynccontextmanager
async def call(
    server: ServerProcess, *, key: str | None = None, **connect_args: Any
) -> AsyncIterator[WebRTCTestClient]:
    """A connected call with ``session.created`` consumed; closed at the end."""
    client = WebRTCTestClient()
    try:
        reply = await client.connect(server.base_url, key=key, **connect_args)
        assert reply.status_code == 201, reply.text
        created = await client.next_event()
        assert created["type"] == "session.created"
        yield client
    finally:
        await client.close()


async def poll(check: Callable[[], Awaitable[bool]], what: str, deadline_s: float = WAIT_S) -> None:
    """For server state no event announces (``/health``): ask until true, or fail."""
    deadline = time.monotonic() + deadline_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {deadline_s:g} s")
        await asyncio.sleep(0.05)


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return dict(json.loads(reply.read()))


async def active_sessions(server: ServerProcess) -> int:
    health = await asyncio.to_thread(_get, f"{server.base_url}/health")
    return int(health["active_sessions"])


async def no_sessions(server: ServerProcess, deadline_s: float = WAIT_S) -> None:
    async def idle() -> bool:
        return await active_sessions(server) == 0

    await poll(idle, "0 active sessions", deadline_s)


async def post(server: ServerProcess, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT_S) as http:
        return await http.post(path, **kwargs)


def user_text(text: str) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item}


def dominant_hz(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / RATE)[int(np.argmax(spectrum))])


def assert_error(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    error = reply.json()["error"]
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    return dict(error)


# --- offer / answer ---------------------------------------------------------------------------


async def test_offer_gets_an_sdp_answer_and_the_channel_carries_events(server) -> None:
    await no_sessions(server)  # what earlier tests on this shared server opened is gone
    client = WebRTCTestClient()
    try:
        reply = await client.connect(server.base_url)
        assert reply.status_code == 201
        assert reply.headers["content-type"].startswith("application/sdp")
        assert re.fullmatch(r"/v1/realtime/calls/rtc_[0-9a-f]{32}", reply.headers["location"])
        assert reply.text.startswith("v=0")
        assert "a=candidate:" in reply.text  # candidates gathered: no trickle ICE needed
        created = await client.next_event()
        assert created["type"] == "session.created"
        input_format = created["session"]["audio"]["input"]["format"]
        assert input_format == {"type": "audio/pcm", "rate": 24000}
        updated = await client.update_session(instructions="Be brief.")
        assert updated["session"]["instructions"] == "Be brief."
        # Same validation and errors as the WebSocket.
        client.channel.send("{not json")
        error = await client.wait_for("error")
        assert error["error"]["code"] == "invalid_json"
        await client.send({"type": "session.update", "session": {"type": "realtime", "x": 1}})
        error = await client.wait_for("error")
        assert error["error"]["code"] == "unknown_parameter"
        assert await active_sessions(server) == 1
    finally:
        await client.close()
    await no_sessions(server)


async def test_the_sdk_creates_a_call_with_a_session_configuration(server) -> None:
    client = WebRTCTestClient()
    try:
        sdp = await client.offer()
        session = {
            "type": "realtime",
            "instructions": "Speak like a pirate.",
            "audio": {"output": {"voice": "verse"}},
        }
        reply = await sdk_client(server.base_url).realtime.calls.with_raw_response.create(
            sdp=sdp, session=session
        )
        assert reply.status_code == 201
        assert reply.headers["location"].startswith("/v1/realtime/calls/rtc_")
        await client.accept(reply.text)
        created = (await client.next_event())["session"]
        assert created["instructions"] == "Speak like a pirate."
        assert created["audio"]["output"]["voice"] == "verse"
    finally:
        await client.close()


async def test_the_older_endpoint_takes_an_sdp_body_and_the_model(server) -> None:
    client = WebRTCTestClient()
    try:
        reply = await client.connect(server.base_url, path="/v1/realtime?model=gpt-realtime-mini")
        assert reply.status_code == 201
        created = await client.next_event()
        assert created["session"]["model"] == "gpt-realtime-mini"
    finally:
        await client.close()


async def test_a_beta_client_gets_the_beta_dialect_on_the_channel(server) -> None:
    client = WebRTCTestClient()
    try:
        reply = await client.connect(
            server.base_url,
            path="/v1/realtime?model=gpt-4o-realtime-preview",
            headers={"OpenAI-Beta": "realtime=v1"},
        )
        assert reply.status_code == 201
        created = await client.next_raw_event()
        assert created["type"] == "session.created"
        assert sorted(created["session"]["modalities"]) == ["audio", "text"]
        assert created["session"]["input_audio_format"] == "pcm16"
        await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
        updated = await client.next_raw_event()
        assert updated["type"] == "session.updated"
        assert updated["session"]["modalities"] == ["text"]
    finally:
        await client.close()


async def test_an_offer_without_audio_gets_events_only(server) -> None:
    client = WebRTCTestClient(with_audio=False)
    try:
        reply = await client.connect(server.base_url)
        assert reply.status_code == 201
        assert "m=audio" not in reply.text
        await client.wait_for("session.created")
        await client.send(user_text("hello"))
        await client.send({"type": "response.create"})
        done = await client.wait_for("response.done")
        stopped = await client.wait_for("output_audio_buffer.stopped")  # nothing to wait for
        assert stopped["response_id"] == done["response"]["id"]
    finally:
        await client.close()


# --- audio both ways ------------------------------------------------------------------------


async def test_a_spoken_turn_is_answered_on_the_audio_track(server) -> None:
    async with call(server) as client:
        await client.update_session(audio={"input": {"transcription": {"model": "whisper-1"}}})
        client.mic.say(clip("go_forward_human.wav") + bytes(RATE * 2))
        events = await client.collect_until("response.done", timeout=30)
        kinds = [e["type"] for e in events]
        for expected in (
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "response.created",
            "output_audio_buffer.started",
        ):
            assert expected in kinds, kinds
        assert kinds.index("response.content_part.added") < kinds.index(
            "output_audio_buffer.started"
        )
        assert "response.output_audio.delta" not in kinds  # audio goes on the track instead
        done = events[-1]["response"]
        assert done["status"] == "completed"
        transcript = done["output"][0]["content"][0]["transcript"]
        assert transcript.startswith("You said: audio of ")
        stopped = await client.wait_for("output_audio_buffer.stopped")
        assert stopped["response_id"] == done["id"]
        assert not any(e["type"] == "response.output_audio.delta" for e in client.events)
        # The reply's audio arrived on the track: all of it, and it is the mock's 440 Hz tone.
        expected_ms = MOCK_MS_PER_CHARACTER * len(transcript)
        await client.received.wait_audible_ms(expected_ms - 60)
        audible = [at for at, _, rms in client.received.frames if rms >= 100]
        assert audible
        assert 400 <= dominant_hz(bytes(client.received.pcm[-RATE * 2 * 2 :])) <= 480


async def test_output_audio_buffer_clear_cancels_and_truncates_to_what_was_played(
    slow_server,
) -> None:
    async with call(slow_server) as client:
        await client.send(user_text(LONG_TEXT))
        await client.send({"type": "response.create"})
        started = await client.wait_for("output_audio_buffer.started")
        await client.received.wait_audible_ms(600)
        heard_ms = client.received.audible_ms
        await client.send({"type": "output_audio_buffer.clear", "event_id": "evt_clear"})
        done = await client.wait_for("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "client_cancelled"
        cleared = await client.wait_for("output_audio_buffer.cleared")
        assert cleared["response_id"] == started["response_id"]
        truncated = await client.wait_for("conversation.item.truncated")
        item_id = done["response"]["output"][0]["id"]
        assert truncated["item_id"] == item_id
        played_ms = truncated["audio_end_ms"]
        assert abs(played_ms - heard_ms) <= PLAYED_TOLERANCE_MS, (played_ms, heard_ms)
        # The item keeps exactly the played audio, and nothing more is played.
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        retrieved = await client.wait_for("conversation.item.retrieved")
        audio = retrieved["item"]["content"][0]
        assert len(base64.b64decode(audio["audio"])) == played_ms * RATE * 2 // 1000
        assert audio["transcript"] == ""
        assert client.received.audible_ms <= played_ms + PLAYED_TOLERANCE_MS
        assert not any(e["type"] == "output_audio_buffer.stopped" for e in client.events)


async def test_speech_during_playback_clears_it_and_truncates(server) -> None:
    async with call(server) as client:
        await client.send(user_text(LONG_TEXT))
        await client.send({"type": "response.create"})
        done = await client.wait_for("response.done")  # generated at once; still playing
        await client.received.wait_audible_ms(500)
        client.mic.say(clip("go_forward_human.wav"))
        await client.wait_for("input_audio_buffer.speech_started", timeout=10)
        cleared = await client.wait_for("output_audio_buffer.cleared")
        assert cleared["response_id"] == done["response"]["id"]
        truncated = await client.wait_for("conversation.item.truncated")
        full_ms = MOCK_MS_PER_CHARACTER * len("You said: " + LONG_TEXT)
        assert 500 <= truncated["audio_end_ms"] < full_ms - 2000


async def test_an_event_too_large_for_the_channel_becomes_an_error(server) -> None:
    async with call(server) as client:
        await client.send(user_text(LONG_TEXT))
        await client.send({"type": "response.create"})
        done = await client.wait_for("response.done")
        item_id = done["response"]["output"][0]["id"]  # ~10 s of audio: ~640 KB of base64
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        error = await client.wait_for("error")
        assert error["error"]["code"] == "event_too_large"
        assert "conversation.item.retrieved" in error["error"]["message"]
        # The session goes on.
        await client.update_session(instructions="still here")


# --- the end of a call ------------------------------------------------------------------------


async def test_hangup_frees_the_session(server) -> None:
    await no_sessions(server)  # what earlier tests on this shared server opened is gone
    client = WebRTCTestClient()
    try:
        reply = await client.connect(server.base_url)
        created = await client.next_event()
        closed = asyncio.Event()
        client.channel.on("close", closed.set)
        hangup = await post(server, f"/v1/realtime/calls/{client.call_id}/hangup")
        assert hangup.status_code == 200
        assert await active_sessions(server) == 0  # freed before the reply
        await asyncio.wait_for(closed.wait(), WAIT_S)  # the peer hears of it (DTLS close)
        again = await post(server, f"/v1/realtime/calls/{client.call_id}/hangup")
        assert_error(again, 404, "call_not_found")
        assert reply.status_code == 201
        # The log's last line of the session names it, and says how the call ended.
        ended = re.compile(
            rf"\| {created['session']['id']} \| session ended after [\d.]+ s, 0 responses: "
            rf"call {client.call_id} ended: hangup\n"
        )

        async def logged() -> bool:
            return bool(ended.search(server.log()))

        await poll(logged, "the session's end line")
    finally:
        await client.close()


async def test_a_peer_that_closes_ends_the_call(server) -> None:
    await no_sessions(server)  # what earlier tests on this shared server opened is gone
    async with call(server):
        assert await active_sessions(server) == 1
    await no_sessions(server, deadline_s=5)


async def test_a_peer_that_vanishes_is_ended_within_seconds(strict_server) -> None:
    client = WebRTCTestClient()
    try:
        reply = await client.connect(strict_server.base_url, key=KEY)
        assert reply.status_code == 201
        await client.next_event()
        began = time.monotonic()
        await client.vanish()
        await no_sessions(strict_server, deadline_s=10)
        assert time.monotonic() - began < 6  # REALTIME_WEBRTC_PEER_TIMEOUT_S=2, checked twice a s
    finally:
        await client.close()


# --- refusals ---------------------------------------------------------------------------------


async def test_refusals_are_json_errors_and_allocate_nothing(strict_server) -> None:
    stats_url = f"{strict_server.base_url}/debug/stats"
    before = await asyncio.to_thread(_get, stats_url)
    offer = await WebRTCTestClient().offer()
    sdp_headers = {"Content-Type": "application/sdp"}
    reply = await post(strict_server, "/v1/realtime/calls", content=offer, headers=sdp_headers)
    assert_error(reply, 401, "invalid_api_key")
    bad_key = {**sdp_headers, "Authorization": "Bearer sk-wrong"}
    reply = await post(strict_server, "/v1/realtime/calls", content=offer, headers=bad_key)
    assert_error(reply, 401, "invalid_api_key")
    authorised = {**sdp_headers, "Authorization": f"Bearer {KEY}"}
    for bad in ("", "hello", "v=0\r\nm=audio\r\n", offer.replace("a=fingerprint", "a=x")):
        reply = await post(strict_server, "/v1/realtime/calls", content=bad, headers=authorised)
        assert_error(reply, 400, "invalid_offer")
    files = {
        "sdp": (None, offer, "application/sdp"),
        "session": (None, json.dumps({"type": "realtime", "voice": 3}), "application/json"),
    }
    reply = await post(
        strict_server,
        "/v1/realtime/calls",
        files=files,
        headers={"Authorization": f"Bearer {KEY}"},
    )
    error = assert_error(reply, 400, "unknown_parameter")
    assert error["param"] == "session.voice"
    json_headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    reply = await post(
        strict_server, "/v1/realtime/calls", json={"sdp": offer}, headers=json_headers
    )
    assert reply.status_code == 400
    after = await asyncio.to_thread(_get, stats_url)
    assert after["active_sessions"] == 0
    assert after["tasks"] <= before["tasks"]


async def test_browsers_get_cors_for_the_allowed_origins_only(strict_server) -> None:
    preflight_headers = {
        "Origin": APP_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with httpx.AsyncClient(base_url=strict_server.base_url, timeout=WAIT_S) as http:
        allowed = await http.options("/v1/realtime/calls", headers=preflight_headers)
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "POST" in allowed.headers["access-control-allow-methods"]
        allowed_headers = allowed.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed_headers and "content-type" in allowed_headers
        other = {**preflight_headers, "Origin": "https://evil.example.com"}
        refused = await http.options("/v1/realtime/calls", headers=other)
        assert refused.status_code == 403
    offer = await WebRTCTestClient().offer()
    headers = {"Content-Type": "application/sdp", "Origin": "https://evil.example.com"}
    reply = await post(strict_server, "/v1/realtime/calls", content=offer, headers=headers)
    assert_error(reply, 403, "forbidden_origin")
    client = WebRTCTestClient()
    try:
        reply = await client.connect(
            strict_server.base_url, key=KEY, headers={"Origin": APP_ORIGIN}
        )
        assert reply.status_code == 201
        assert reply.headers["access-control-allow-origin"] == APP_ORIGIN
        assert reply.headers["access-control-expose-headers"] == "Location"
    finally:
        await client.close()
    await no_sessions(strict_server)


async def test_calls_and_websockets_share_the_session_cap(strict_server) -> None:
    async with call(strict_server, key=KEY) as first:
        second = WebRTCTestClient()
        try:
            reply = await second.connect(strict_server.base_url, key=KEY)
            assert_error(reply, 429, "session_limit_reached")
        finally:
            await second.close()
        url = f"ws://127.0.0.1:{strict_server.port}/v1/realtime?model=gpt-realtime"
        async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
            refused = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
            assert refused["error"]["code"] == "session_limit_reached"
        await first.update_session(instructions="still here")
        hangup = await post(
            strict_server,
            f"/v1/realtime/calls/{first.call_id}/hangup",
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert hangup.status_code == 200
    async with call(strict_server, key=KEY):  # the slot is free again
        assert await active_sessions(strict_server) == 1
    await no_sessions(strict_server)


async def test_a_client_secret_opens_one_call_with_its_session(strict_server) -> None:
    minted = await post(
        strict_server,
        "/v1/realtime/client_secrets",
        json={"session": {"type": "realtime", "instructions": "From the secret."}},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    secret = minted.json()["value"]
    client = WebRTCTestClient()
    try:
        reply = await client.connect(strict_server.base_url, key=secret)
        assert reply.status_code == 201
        created = await client.next_event()
        assert created["session"]["instructions"] == "From the secret."
    finally:
        await client.close()
    await no_sessions(strict_server)
    again = WebRTCTestClient()
    try:
        reply = await again.connect(strict_server.base_url, key=secret)
        assert_error(reply, 401, "invalid_api_key")  # single use
    finally:
        await again.close()


# --- the sideband -----------------------------------------------------------------------------


async def test_a_sideband_joins_the_calls_event_stream(server) -> None:
    async with call(server) as client:
        openai = sdk_client(server.base_url)
        async with openai.realtime.connect(call_id=client.call_id) as connection:
            sideband = RealtimeTestClient(connection)
            # The app's server configures the session; the browser sees it too.
            await sideband.send(
                {"type": "session.update", "session": {"type": "realtime", "instructions": "x"}}
            )
            from_sideband = await sideband.wait_for("session.updated")
            from_peer = await client.wait_for("session.updated")
            assert from_sideband == from_peer
            # The browser's events reach the sideband.
            await client.send(user_text("hello from the browser"))
            added = await sideband.wait_for("conversation.item.added")
            assert added["item"]["content"][0]["text"] == "hello from the browser"
            # A response asked for on the sideband plays on the call's track.
            await sideband.send({"type": "response.create"})
            done = await sideband.wait_for("response.done")
            assert done["response"]["status"] == "completed"
            await client.wait_for("output_audio_buffer.started")
            assert not any(e["type"] == "response.output_audio.delta" for e in sideband.events)


async def test_a_sideband_is_closed_when_the_call_ends(strict_server) -> None:
    async with call(strict_server, key=KEY) as client:
        url = f"ws://127.0.0.1:{strict_server.port}/v1/realtime?call_id={client.call_id}"
        async with connect(url) as ws:  # no key: refused
            refused = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
            assert refused["error"]["code"] == "invalid_api_key"
        headers = {"Authorization": f"Bearer {KEY}"}
        unknown = f"ws://127.0.0.1:{strict_server.port}/v1/realtime?call_id=rtc_nope"
        async with connect(unknown, additional_headers=headers) as ws:
            refused = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
            assert refused["error"]["code"] == "call_not_found"
        async with connect(url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            cleared = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
            assert cleared["type"] == "input_audio_buffer.cleared"
            await post(
                strict_server, f"/v1/realtime/calls/{client.call_id}/hangup", headers=headers
            )
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), WAIT_S)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
