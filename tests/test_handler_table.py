"""One hop from a client event type to its handler, in step with the SDK and the validator."""

from __future__ import annotations

import inspect

from protocol.validation import CLIENT_EVENT_TYPES
from realtime_session.handlers import CLIENT_EVENT_HANDLERS, sdk_client_event_types


def test_every_sdk_client_event_has_exactly_one_handler() -> None:
    assert set(CLIENT_EVENT_HANDLERS) == sdk_client_event_types()


def test_the_validator_accepts_exactly_the_events_that_have_handlers() -> None:
    assert set(CLIENT_EVENT_TYPES) == set(CLIENT_EVENT_HANDLERS)


def test_handlers_are_plain_functions_in_the_handlers_package() -> None:
    for event_type, handler in CLIENT_EVENT_HANDLERS.items():
        assert inspect.isfunction(handler), event_type
        assert handler.__module__.startswith("realtime_session.handlers."), event_type
