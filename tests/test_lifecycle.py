"""The turn/response lifecycle's transition function, row by row of its table.

``realtime_session.lifecycle.transition`` is pure, so each row is one call: a state, an event, the
expected effects and the expected new state.
"""

from __future__ import annotations

from dataclasses import replace

from realtime_session.lifecycle import (
    AnnounceSpeech,
    ArmIdle,
    BufferReset,
    CommitIdleAudio,
    CommitTurn,
    Configured,
    CreateAutoResponse,
    DisarmIdle,
    IdleTimedOut,
    InterruptResponse,
    LifecycleState,
    OpenTurn,
    ReconfigureInput,
    ReleaseResponse,
    ResponseClosed,
    ResponseOpened,
    RunResponse,
    SpeechBegan,
    SpeechEnded,
    TranscriptionSettled,
    TranscriptionStarted,
    TurnSettings,
    Waiting,
    transition,
)

VAD = TurnSettings(turn_detection=True)
VAD_IDLE = TurnSettings(turn_detection=True, idle_timeout_ms=5000)


def vad_state(**fields: object) -> LifecycleState:
    return replace(LifecycleState(settings=VAD, epoch=1), **fields)  # type: ignore[arg-type]


def test_configuring_starts_a_new_epoch_and_arms_or_disarms_the_idle_timer() -> None:
    state, effects = transition(LifecycleState(), Configured(VAD_IDLE))
    assert state.epoch == 1 and state.settings == VAD_IDLE
    assert effects == [ReconfigureInput(1), ArmIdle(5000)]
    busy = replace(state, active="resp_1", speech=OpenTurn("item_1", 0), idle_nudged=True)
    state, effects = transition(busy, Configured(VAD))
    assert effects == [ReconfigureInput(2), DisarmIdle()]
    assert state.speech is None and not state.idle_nudged and state.active == "resp_1"


def test_speech_opens_a_turn_and_interrupts_the_active_response() -> None:
    state, effects = transition(vad_state(active="resp_1"), SpeechBegan(1, "item_1", 300))
    assert state.speech == OpenTurn("item_1", 300)
    assert effects == [AnnounceSpeech("item_1", 300), DisarmIdle(), InterruptResponse("resp_1")]

    no_interrupt = vad_state(
        active="resp_1", settings=TurnSettings(turn_detection=True, interrupt_response=False)
    )
    _, effects = transition(no_interrupt, SpeechBegan(1, "item_1", 300))
    assert effects == [AnnounceSpeech("item_1", 300), DisarmIdle()]


def test_speech_signals_from_an_old_configuration_or_without_vad_are_ignored() -> None:
    state = vad_state()
    assert transition(state, SpeechBegan(0, "item_1", 300)) == (state, [])
    assert transition(state, SpeechEnded(0, 900)) == (state, [])
    off = LifecycleState(epoch=1)
    assert transition(off, SpeechBegan(1, "item_1", 300)) == (off, [])
    speaking = vad_state(speech=OpenTurn("item_1", 300))
    assert transition(speaking, SpeechBegan(1, "item_2", 500)) == (speaking, [])


def test_end_of_turn_commits_then_responds_or_waits_for_the_active_response() -> None:
    speaking = vad_state(speech=OpenTurn("item_1", 300))
    state, effects = transition(speaking, SpeechEnded(1, 900))
    assert state.speech is None
    assert effects == [CommitTurn("item_1", 300, 900), CreateAutoResponse()]

    state, effects = transition(replace(speaking, active="resp_1"), SpeechEnded(1, 900))
    assert effects == [CommitTurn("item_1", 300, 900)]
    assert state.auto_response_pending

    transcription_only = replace(speaking, settings=replace(VAD, responds=False))
    _, effects = transition(transcription_only, SpeechEnded(1, 900))
    assert effects == [CommitTurn("item_1", 300, 900)]


def test_a_manual_commit_or_clear_forgets_the_open_turn() -> None:
    state, effects = transition(vad_state(speech=OpenTurn("item_1", 0)), BufferReset())
    assert state.speech is None and effects == []


def test_idle_timeout_fires_once_per_silence_and_never_over_speech_or_a_response() -> None:
    quiet = vad_state(settings=VAD_IDLE)
    state, effects = transition(quiet, IdleTimedOut())
    assert effects == [CommitIdleAudio(), CreateAutoResponse()]
    assert state.idle_nudged
    for busy in (replace(quiet, active="resp_1"), replace(quiet, speech=OpenTurn("i", 0))):
        assert transition(busy, IdleTimedOut()) == (busy, [])


def test_a_response_waits_for_the_transcripts_of_its_context() -> None:
    state, _ = transition(vad_state(), TranscriptionStarted("item_a"))
    state, _ = transition(state, TranscriptionStarted("item_b"))
    opened = ResponseOpened("resp_1", True, frozenset({"item_a", "item_b", "item_text"}))
    state, effects = transition(state, opened)
    assert effects == [] and state.active == "resp_1"
    assert state.waiting == (Waiting("resp_1", frozenset({"item_a", "item_b"})),)
    state, effects = transition(state, TranscriptionSettled("item_a"))
    assert effects == []
    state, effects = transition(state, TranscriptionSettled("item_b"))
    assert effects == [RunResponse("resp_1")]
    assert state.waiting == () and state.running == {"resp_1"}
    # A late result (after the deadline already settled the item) changes nothing.
    assert transition(state, TranscriptionSettled("item_b")) == (state, [])


def test_a_response_with_nothing_pending_runs_at_once() -> None:
    state, effects = transition(vad_state(), ResponseOpened("resp_1", False, frozenset({"i"})))
    assert effects == [RunResponse("resp_1")]
    assert state.active is None and state.running == {"resp_1"}


def test_closing_releases_the_response_and_stops_only_what_the_pipeline_still_runs() -> None:
    running = vad_state(active="resp_1", running=frozenset({"resp_1"}))
    state, effects = transition(running, ResponseClosed("resp_1", 0, by_pipeline=False))
    assert effects == [ReleaseResponse("resp_1", stop=True)]
    assert state.active is None and state.running == frozenset()
    _, effects = transition(running, ResponseClosed("resp_1", 0, by_pipeline=True))
    assert effects == [ReleaseResponse("resp_1", stop=False)]
    waiting = vad_state(active="resp_1", waiting=(Waiting("resp_1", frozenset({"i"})),))
    state, effects = transition(waiting, ResponseClosed("resp_1", 0, by_pipeline=False))
    assert effects == [ReleaseResponse("resp_1", stop=False)]
    assert state.waiting == ()


def test_closing_the_active_response_starts_a_pending_one_or_arms_the_idle_timer() -> None:
    pending = vad_state(active="resp_1", auto_response_pending=True)
    state, effects = transition(pending, ResponseClosed("resp_1", 0, by_pipeline=True))
    assert effects[1:] == [CreateAutoResponse()]
    assert not state.auto_response_pending

    idle = vad_state(settings=VAD_IDLE, active="resp_1")
    _, effects = transition(idle, ResponseClosed("resp_1", 1500, by_pipeline=True))
    assert effects[1:] == [ArmIdle(6500)]  # the timeout counts from the end of playback
    for quiet_again in (replace(idle, idle_nudged=True), replace(idle, speech=OpenTurn("i", 0))):
        _, effects = transition(quiet_again, ResponseClosed("resp_1", 0, by_pipeline=True))
        assert effects == [ReleaseResponse("resp_1", stop=False)]
    # Out-of-band responses do not touch the turn.
    _, effects = transition(idle, ResponseClosed("resp_2", 0, by_pipeline=True))
    assert effects == [ReleaseResponse("resp_2", stop=False)]
