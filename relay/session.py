"""A relayed session: the sans-I/O protocol object between a client and an upstream realtime API.

Like :class:`realtime_session.RealtimeSession`, it is driven by one
:class:`transport.driver.SessionDriver` and does no I/O: it takes validated client events
(``handle``), media-track audio (``append_track_audio``, WebRTC) and what the upstream link
reports (``receive``), and returns the events for the client and the commands for the link
(:mod:`relay.commands`), the timers and, over WebRTC, the playback.

What it adds to a plain proxy:

- Client events reach it already validated by our edge (a bad event is answered here and never
  costs money upstream) and in GA; its :class:`~relay.dialects.Dialect` turns them into what the
  upstream speaks, and the upstream's events back into GA.
- The session reports the model name the client asked for (the entry's name), not the upstream's.
- A session configuration the client cannot send itself (a client secret's, the entry's default
  voice and instructions) is applied upstream first, and the client's ``session.created``
  already shows it, as the real API does for a client secret.
- Upstream failures become OpenAI-shaped errors: a refused or unreachable upstream, an upstream
  that goes away (its open responses end ``failed``, then the session closes, since the
  conversation lived upstream and is gone), a response that takes longer than the entry's
  response timeout (ended ``failed`` with code ``timeout`` and cancelled upstream).
- Over WebRTC (:mod:`relay.playback`) the audio goes to the call's track instead of into deltas,
  and barge-in truncates the upstream's item to what was played.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from protocol import ClientEvent, ProtocolError, new_id
from protocol.errors import error_event
from realtime_session.commands import ArmTimer, DisarmTimer, EndSession
from realtime_session.signals import (
    PlaybackCleared,
    PlaybackStopped,
    Timer,
    TimerExpired,
    TimerKind,
)
from relay import playback
from relay.commands import NoteUpstream, SendUpstream
from relay.dialects import Dialect
from relay.responses import OpenResponses
from relay.signals import UpstreamClosed, UpstreamEvent, UpstreamRefused

Event = dict[str, Any]
Output = Any
"""A client event (dict) or a command: see :mod:`relay.commands` and the driver."""

UPSTREAM_FAILED_CLOSE_CODE = 1011
UPSTREAM_UNAVAILABLE_CLOSE_CODE = 1013
AUTH_ERROR_CODES = {"invalid_api_key", "missing_api_key", "unauthorized", "authentication_error"}


@dataclass(frozen=True, slots=True)
class RelayLimits:
    """The deadlines of a relayed session (from its model entry's settings)."""

    response_timeout_s: float = 60.0


class RelaySession:
    """One client session relayed to one upstream session (see the module docstring)."""

    def __init__(
        self,
        *,
        model: str,
        dialect: Dialect,
        upstream: str,
        session_type: str = "realtime",
        initial_session: dict[str, Any] | None = None,
        transport: Literal["websocket", "webrtc"] = "websocket",
        limits: RelayLimits | None = None,
    ) -> None:
        self.model = model
        self.session_id = new_id("relay")
        """Ours, for logs; the client sees the upstream's session id."""
        self._dialect = dialect
        self._upstream = upstream
        self._session_type = session_type
        self._initial = dict(initial_session or {})
        self._limits = limits or RelayLimits()
        self.webrtc = transport == "webrtc"
        self.responses = OpenResponses()
        self.playing: dict[str, str] = {}
        """WebRTC: responses whose audio is in the call's output buffer -> their item id."""
        self.played_bytes: dict[str, int] = {}
        """WebRTC: how much audio of each of those went to the track."""
        self._ready = False
        self._init_updates = 0
        """Our own ``session.update`` events not answered yet (see :meth:`start`)."""
        self._held_created: Event | None = None
        self._refusal_reported = False
        self._given_up: set[str] = set()
        """Responses ended here (deadline) whose later upstream events are dropped."""
        self._ended = False

    # --- the driver's entry points ----------------------------------------------------------------

    def start(self) -> list[Output]:
        """The upstream is connected: apply the configuration the client could not send.

        The upstream answers it with ``session.updated`` events the client never asked for:
        they are held back, and the client's ``session.created`` shows the session they end on.
        """
        session = {key: value for key, value in self._initial.items() if key != "model"}
        if self.webrtc:
            session = playback.without_audio_formats(session)
        if set(session) <= {"type"}:  # nothing set: the upstream's defaults stand
            outputs = self._sent(self._dialect.initial_upstream_events())
        else:
            session.setdefault("type", self._session_type)
            update = {"type": "session.update", "event_id": new_id("event"), "session": session}
            outputs = self._to_upstream(update)
        self._init_updates = sum(
            1
            for output in outputs
            if isinstance(output, SendUpstream)
            and str(output.event.get("type", "")).endswith("session.update")
        )
        return outputs

    def handle(self, event: ClientEvent) -> list[Output]:
        """A client event that passed validation: send it on in the upstream's dialect."""
        if self._ended:
            return []
        data = event.data
        if event.type == "session.update":
            session = {k: v for k, v in data.get("session", {}).items() if k != "model"}
            if self.webrtc:
                session = playback.without_audio_formats(session)
            data = {**data, "session": session}
        elif event.type == "output_audio_buffer.clear" and self.webrtc:
            return playback.clear(self, cancel=True)
        return self._to_upstream(data)

    def append_track_audio(self, pcm: bytes) -> list[Output]:
        """WebRTC: the call's microphone audio goes upstream as appends (PCM16 24 kHz)."""
        if self._ended or not pcm:
            return []
        return self._to_upstream(playback.append_event(pcm))

    def receive(self, signal: Any) -> list[Output]:
        """Something the upstream link, a timer or (WebRTC) the call's track reports."""
        if isinstance(signal, UpstreamEvent):
            outputs: list[Output] = []
            for event in self._dialect.upstream_to_client(signal.data):
                outputs += self._from_upstream(event)
            return outputs
        if isinstance(signal, UpstreamRefused):
            return self._refused(signal)
        if isinstance(signal, UpstreamClosed):
            return self._upstream_closed(signal)
        if isinstance(signal, TimerExpired) and signal.timer.kind is TimerKind.RESPONSE:
            return self._response_deadline(signal.timer.key)
        if isinstance(signal, PlaybackStopped):
            return playback.stopped(self, signal.response_id)
        if isinstance(signal, PlaybackCleared):
            return playback.cleared(self, signal)
        return []

    # --- upstream events --------------------------------------------------------------------------

    def _from_upstream(self, event: Event) -> list[Output]:
        kind = event.get("type")
        if kind == "session.created":
            return self._session_created(event)
        if kind == "session.updated":
            return self._session_updated(event)
        if kind == "error":
            return self._upstream_error(event)
        response_id = _response_id_of(event)
        if response_id in self._given_up:
            if kind == "response.done":
                self._given_up.discard(response_id)
            return []
        self.responses.observe(event)
        outputs: list[Output] = []
        if kind == "response.created" and response_id:
            timer = Timer(TimerKind.RESPONSE, response_id)
            outputs.append(ArmTimer(timer, self._limits.response_timeout_s))
        elif kind == "response.done":  # (its usage is counted by the transport, as for any)
            outputs.append(DisarmTimer(Timer(TimerKind.RESPONSE, str(response_id))))
        if self.webrtc:
            return outputs + playback.on_upstream_event(self, event)
        return [*outputs, event]

    def _session_created(self, event: Event) -> list[Output]:
        self._ready = True
        note = NoteUpstream(True)
        if self._init_updates:
            self._held_created = event
            return [note]
        return [note, self._renamed(event)]

    def _session_updated(self, event: Event) -> list[Output]:
        held = self._held_created
        if not self._init_updates:
            return [self._renamed(event)]
        self._init_updates -= 1
        if held is None:  # (an upstream that answers before it greets)
            return []
        held = {**held, "session": event.get("session", held.get("session"))}
        if self._init_updates:
            self._held_created = held
            return []
        self._held_created = None
        return [self._renamed(held)]

    def _upstream_error(self, event: Event) -> list[Output]:
        error = event.get("error") or {}
        if not self._ready:
            return self._refused_in_session(error)
        if self._init_updates:
            # Our initial configuration was refused upstream: the session still opens, and the
            # client hears why (the error cannot echo an event_id the client never sent).
            held, self._held_created, self._init_updates = self._held_created, None, 0
            bare = {**event, "error": {**error, "event_id": None}}
            return [self._renamed(held), bare] if held is not None else [bare]
        return [event]

    def _renamed(self, event: Event) -> Event:
        """The event with the session's model shown as the name the client asked for."""
        session = event.get("session")
        if isinstance(session, dict) and session.get("type", "realtime") == "realtime":
            return {**event, "session": {**session, "model": self.model}}
        return event

    # --- failures ---------------------------------------------------------------------------------

    def _refused(self, signal: UpstreamRefused) -> list[Output]:
        auth = signal.status in (401, 403)
        code = "upstream_auth_failed" if auth else "upstream_unavailable"
        if auth:
            message = (
                f"The upstream provider for model '{self.model}' refused this server's "
                f"credentials (HTTP {signal.status}). This is a server configuration problem."
            )
        else:
            message = f"The upstream provider for model '{self.model}' could not be reached."
        close = UPSTREAM_FAILED_CLOSE_CODE if auth else UPSTREAM_UNAVAILABLE_CLOSE_CODE
        return self._end(code, message, close, note=f"{code}: {signal.detail}")

    def _refused_in_session(self, error: dict[str, Any]) -> list[Output]:
        """An error before the upstream's ``session.created``: it refused the session."""
        upstream_code = str(error.get("code") or error.get("type") or "error")
        auth = upstream_code in AUTH_ERROR_CODES
        code = "upstream_auth_failed" if auth else "upstream_error"
        message = (
            f"The upstream provider for model '{self.model}' refused the session "
            f"({upstream_code}: {error.get('message') or 'no message'})."
        )
        self._refusal_reported = True
        return self._end(code, message, UPSTREAM_FAILED_CLOSE_CODE, note=f"{code}: {upstream_code}")

    def _upstream_closed(self, signal: UpstreamClosed) -> list[Output]:
        if self._ended:
            return []
        if not self._ready:
            if self._refusal_reported:
                return [EndSession(UPSTREAM_FAILED_CLOSE_CODE, "upstream refused the session")]
            detail = f"closed {signal.code} {signal.reason}".strip()
            message = (
                f"The upstream provider for model '{self.model}' closed the connection before "
                f"the session started ({detail})."
            )
            return self._end(
                "upstream_unavailable", message, UPSTREAM_UNAVAILABLE_CLOSE_CODE, note=detail
            )
        if signal.code == 1000 and not self.responses:
            self._ended = True
            return [EndSession(1000, "upstream session ended")]
        message = (
            f"The upstream provider for model '{self.model}' disconnected "
            f"(close {signal.code}{' ' + signal.reason if signal.reason else ''}); the "
            "conversation lived upstream, so this session ends."
        )
        return self._end("upstream_disconnected", message, UPSTREAM_FAILED_CLOSE_CODE)

    def _end(self, code: str, message: str, close_code: int, *, note: str = "") -> list[Output]:
        """Fail what is open, tell the client why, and end the session."""
        self._ended = True
        outputs: list[Output] = []
        if note:
            outputs.append(NoteUpstream(False, note))
        outputs += self.responses.fail_all(code, message)
        outputs.append(error_event(code, message, error_type="server_error"))
        outputs.append(EndSession(close_code, code))
        return outputs

    def _response_deadline(self, response_id: str) -> list[Output]:
        if response_id not in self.responses:
            return []
        seconds = self._limits.response_timeout_s
        message = f"The upstream provider did not finish the response within {seconds:g} s."
        self._given_up.add(response_id)
        outputs: list[Output] = list(self.responses.fail(response_id, "timeout", message))
        if self.webrtc:
            outputs += playback.response_closed(self, response_id)
        cancel = {
            "type": "response.cancel",
            "event_id": new_id("event"),
            "response_id": response_id,
        }
        return outputs + self._to_upstream(cancel)

    # --- helpers ----------------------------------------------------------------------------------

    def _to_upstream(self, event: Event) -> list[Output]:
        """A GA client event (the client's or ours) in the upstream's dialect, and whatever the
        dialect answers the client itself."""
        try:
            translated = self._dialect.client_to_upstream(event)
        except ProtocolError as refusal:
            event_id = event.get("event_id")
            tagged = refusal.with_event_id(event_id if isinstance(event_id, str) else None)
            return [tagged.to_event()]
        return self._sent(translated) + list(self._dialect.drain_client_events())

    @staticmethod
    def _sent(events: list[Event]) -> list[Output]:
        return [SendUpstream(event) for event in events]

    def send_upstream(self, event: Event) -> list[Output]:
        """For :mod:`relay.playback`: a GA client event of our own, sent upstream."""
        return self._to_upstream(event)


def _response_id_of(event: Event) -> str | None:
    response_id = event.get("response_id")
    if isinstance(response_id, str):
        return response_id
    response = event.get("response")
    if isinstance(response, dict) and isinstance(response.get("id"), str):
        return str(response["id"])
    return None
