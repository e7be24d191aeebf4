"""The turn and response lifecycle, as one pure transition function.

``transition(state, event) -> (state, effects)`` decides *what happens*; it does no I/O, makes no
ids and builds no events. :class:`~realtime_session.session.RealtimeSession` is its only caller:
it feeds it events, stores the new state, and carries out the effects (sending server events,
issuing commands), the way LocalAI's response coordinator applies ``next(state, event)``.

State (:class:`LifecycleState`):

- ``speech``: the user turn the VAD has opened and not yet closed (its item id and start);
- ``active``: the response of the default conversation in progress (at most one);
- ``waiting``: responses created but not started, each with the transcripts it waits for;
- ``running``: responses handed to the pipeline;
- ``transcribing``: items whose transcript is pending;
- ``auto_response_pending``: a VAD turn ended while ``active`` ran (``interrupt_response`` off);
- ``idle_nudged``: the idle timeout fired in this silence (it fires once per silence);
- ``epoch``: the turn detection configuration's generation (older speech signals are stale).

Transitions (``-`` = nothing happens; effects in the order they are carried out):

=====================  ==================================  =========================================
event                  when                                effects / new state
=====================  ==================================  =========================================
Configured             always                              epoch+1, speech cleared, nudge reset;
                                                           ReconfigureInput; ArmIdle if idle timeout
                                                           set and nothing active, else DisarmIdle
                                                           when unset
SpeechBegan            stale epoch, VAD off or speech open -
SpeechBegan            otherwise                           speech opened, nudge reset;
                                                           AnnounceSpeech, DisarmIdle, and
                                                           InterruptResponse(active) if a response
                                                           is active and ``interrupt_response``
SpeechEnded            stale epoch or no speech open       -
SpeechEnded            otherwise                           speech closed; CommitTurn, then
                                                           CreateAutoResponse if the session
                                                           responds and ``create_response`` (or
                                                           ``auto_response_pending`` if a response
                                                           is still active)
BufferReset            always (manual commit or clear)     speech cleared
IdleTimedOut           speech open or a response active    -
IdleTimedOut           otherwise                           nudged; CommitIdleAudio,
                                                           CreateAutoResponse
ResponseOpened         its context has pending transcripts waiting (becomes ``active`` if in the
                                                           default conversation)
ResponseOpened         otherwise                           running (``active`` likewise);
                                                           RunResponse
TranscriptionStarted   always                              transcribing
TranscriptionSettled   not transcribing (a late result)    -
TranscriptionSettled   otherwise                           RunResponse for each waiting response
                                                           that now has all its transcripts
ResponseClosed         always                              ReleaseResponse (stop the pipeline if it
                                                           was running and did not end it itself);
                                                           if it was ``active``: CreateAutoResponse
                                                           when one is pending, else ArmIdle
                                                           (timeout + the reply's playback) when an
                                                           idle timeout is set, no speech is open
                                                           and the silence was not nudged yet
=====================  ==================================  =========================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# --- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """The parts of the session configuration the lifecycle depends on."""

    turn_detection: bool = False
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None
    responds: bool = True
    """False in a transcription session, which never creates responses."""


@dataclass(frozen=True, slots=True)
class OpenTurn:
    """A user turn the VAD opened: its item id and where it starts on the audio clock."""

    item_id: str
    start_ms: float


@dataclass(frozen=True, slots=True)
class Waiting:
    """A response created but not started: the transcripts it still waits for."""

    response_id: str
    items: frozenset[str]


@dataclass(frozen=True, slots=True)
class LifecycleState:
    """Turn and response state (see the module docstring)."""

    settings: TurnSettings = field(default_factory=TurnSettings)
    epoch: int = 0
    speech: OpenTurn | None = None
    active: str | None = None
    waiting: tuple[Waiting, ...] = ()
    running: frozenset[str] = frozenset()
    transcribing: frozenset[str] = frozenset()
    auto_response_pending: bool = False
    idle_nudged: bool = False

    def is_live(self, response_id: str) -> bool:
        """Whether a response is waiting or running."""
        return response_id in self.running or any(
            w.response_id == response_id for w in self.waiting
        )


# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Configured:
    """Turn detection or noise reduction changed (or the session starts)."""

    settings: TurnSettings


@dataclass(frozen=True, slots=True)
class SpeechBegan:
    """The VAD heard speech; ``item_id`` is the id the turn's item will get if it is accepted."""

    epoch: int
    item_id: str
    start_ms: float


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """The VAD decided the turn is over at ``end_ms``."""

    epoch: int
    end_ms: float


@dataclass(frozen=True, slots=True)
class BufferReset:
    """The client committed or cleared the input buffer by hand."""


@dataclass(frozen=True, slots=True)
class IdleTimedOut:
    """The idle timer expired."""


@dataclass(frozen=True, slots=True)
class ResponseOpened:
    """A response was created (``response.created`` sent); ``context`` holds its item ids."""

    response_id: str
    in_conversation: bool
    context: frozenset[str]


@dataclass(frozen=True, slots=True)
class TranscriptionStarted:
    """An audio item was sent to the STT."""

    item_id: str


@dataclass(frozen=True, slots=True)
class TranscriptionSettled:
    """An item's transcript arrived, failed or timed out."""

    item_id: str


@dataclass(frozen=True, slots=True)
class ResponseClosed:
    """A response ended (``response.done`` sent), whatever the reason."""

    response_id: str
    playback_ms: float
    """How long its audio plays: the idle timeout counts from the end of playback."""
    by_pipeline: bool
    """True when the pipeline has nothing of it left to stop: it ended the response itself (done
    or failed), or never started it."""


Event = (
    Configured
    | SpeechBegan
    | SpeechEnded
    | BufferReset
    | IdleTimedOut
    | ResponseOpened
    | TranscriptionStarted
    | TranscriptionSettled
    | ResponseClosed
)

# --- effects -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReconfigureInput:
    """Reconfigure turn detection and noise reduction under a new epoch."""

    epoch: int


@dataclass(frozen=True, slots=True)
class ArmIdle:
    """(Re)start the idle timer."""

    delay_ms: float


@dataclass(frozen=True, slots=True)
class DisarmIdle:
    """Stop the idle timer."""


@dataclass(frozen=True, slots=True)
class AnnounceSpeech:
    """Send ``input_audio_buffer.speech_started``."""

    item_id: str
    start_ms: float


@dataclass(frozen=True, slots=True)
class InterruptResponse:
    """Barge-in: cancel a response with reason ``turn_detected``."""

    response_id: str


@dataclass(frozen=True, slots=True)
class CommitTurn:
    """Send ``speech_stopped`` and commit the turn's audio as its item."""

    item_id: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True, slots=True)
class CommitIdleAudio:
    """Send ``timeout_triggered`` and commit what the buffer holds."""


@dataclass(frozen=True, slots=True)
class CreateAutoResponse:
    """Create a response with the session's settings (end of a VAD turn, or the idle nudge)."""


@dataclass(frozen=True, slots=True)
class RunResponse:
    """Hand a response to the pipeline, with its LLM request built now."""

    response_id: str


@dataclass(frozen=True, slots=True)
class ReleaseResponse:
    """Forget a response's deadline, and stop its generation if ``stop``."""

    response_id: str
    stop: bool


Effect = (
    ReconfigureInput
    | ArmIdle
    | DisarmIdle
    | AnnounceSpeech
    | InterruptResponse
    | CommitTurn
    | CommitIdleAudio
    | CreateAutoResponse
    | RunResponse
    | ReleaseResponse
)
Effects = list[Effect]

# --- the transition function ---------------------------------------------------------------------


def transition(state: LifecycleState, event: Event) -> tuple[LifecycleState, Effects]:
    """The next state and the effects to carry out, in order (see the module's table)."""
    match event:
        case Configured():
            return _configured(state, event)
        case SpeechBegan():
            return _speech_began(state, event)
        case SpeechEnded():
            return _speech_ended(state, event)
        case BufferReset():
            return replace(state, speech=None), []
        case IdleTimedOut():
            if state.speech is not None or state.active is not None:
                return state, []
            return replace(state, idle_nudged=True), [CommitIdleAudio(), CreateAutoResponse()]
        case ResponseOpened():
            return _response_opened(state, event)
        case TranscriptionStarted():
            return replace(state, transcribing=state.transcribing | {event.item_id}), []
        case TranscriptionSettled():
            return _transcription_settled(state, event)
        case ResponseClosed():
            return _response_closed(state, event)


def _configured(state: LifecycleState, event: Configured) -> tuple[LifecycleState, Effects]:
    epoch = state.epoch + 1
    new = replace(state, settings=event.settings, epoch=epoch, speech=None, idle_nudged=False)
    effects: Effects = [ReconfigureInput(epoch)]
    idle_ms = event.settings.idle_timeout_ms
    if idle_ms is not None and state.active is None:
        effects.append(ArmIdle(idle_ms))
    elif idle_ms is None:
        effects.append(DisarmIdle())
    return new, effects


def _speech_began(state: LifecycleState, event: SpeechBegan) -> tuple[LifecycleState, Effects]:
    stale = event.epoch != state.epoch or not state.settings.turn_detection
    if stale or state.speech is not None:
        return state, []
    new = replace(state, speech=OpenTurn(event.item_id, event.start_ms), idle_nudged=False)
    effects: Effects = [AnnounceSpeech(event.item_id, event.start_ms), DisarmIdle()]
    if state.active is not None and state.settings.interrupt_response:
        effects.append(InterruptResponse(state.active))
    return new, effects


def _speech_ended(state: LifecycleState, event: SpeechEnded) -> tuple[LifecycleState, Effects]:
    turn = state.speech
    if event.epoch != state.epoch or turn is None:
        return state, []
    new = replace(state, speech=None)
    effects: Effects = [CommitTurn(turn.item_id, turn.start_ms, event.end_ms)]
    if state.settings.responds and state.settings.create_response:
        if state.active is not None:
            new = replace(new, auto_response_pending=True)
        else:
            effects.append(CreateAutoResponse())
    return new, effects


def _response_opened(
    state: LifecycleState, event: ResponseOpened
) -> tuple[LifecycleState, Effects]:
    active = event.response_id if event.in_conversation else state.active
    pending = event.context & state.transcribing
    if pending:
        waiting = (*state.waiting, Waiting(event.response_id, pending))
        return replace(state, active=active, waiting=waiting), []
    running = state.running | {event.response_id}
    return replace(state, active=active, running=running), [RunResponse(event.response_id)]


def _transcription_settled(
    state: LifecycleState, event: TranscriptionSettled
) -> tuple[LifecycleState, Effects]:
    if event.item_id not in state.transcribing:
        return state, []
    still_waiting: list[Waiting] = []
    ready: list[str] = []
    for waiting in state.waiting:
        items = waiting.items - {event.item_id}
        if items:
            still_waiting.append(Waiting(waiting.response_id, items))
        else:
            ready.append(waiting.response_id)
    new = replace(
        state,
        transcribing=state.transcribing - {event.item_id},
        waiting=tuple(still_waiting),
        running=state.running | set(ready),
    )
    return new, [RunResponse(response_id) for response_id in ready]


def _response_closed(
    state: LifecycleState, event: ResponseClosed
) -> tuple[LifecycleState, Effects]:
    response_id = event.response_id
    was_running = response_id in state.running
    new = replace(
        state,
        running=state.running - {response_id},
        waiting=tuple(w for w in state.waiting if w.response_id != response_id),
    )
    effects: Effects = [ReleaseResponse(response_id, stop=was_running and not event.by_pipeline)]
    if state.active != response_id:
        return new, effects
    new = replace(new, active=None)
    idle_ms = state.settings.idle_timeout_ms
    if state.auto_response_pending:
        new = replace(new, auto_response_pending=False)
        effects.append(CreateAutoResponse())
    elif idle_ms is not None and not state.idle_nudged and state.speech is None:
        effects.append(ArmIdle(idle_ms + event.playback_ms))
    return new, effects
