"""The wire conformance scenarios (tests/test_conformance.py), unchanged, through a relay.

The front server's only (default) model entry relays to a second instance of this server in the
mock profile, so every scenario (text, audio, tools, cancel, truncate, errors, formats, concurrent
sessions) goes client -> front (validation) -> upstream -> front -> client. The fixtures ``server``
and ``slow_server`` are replaced by relayed ones; the scenarios are imported as they are.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess
from tests.relay_servers import relayed_mock
from tests.test_conformance import *  # noqa: F403  (the scenarios, collected here once more)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with relayed_mock(tmp_path_factory.mktemp("relay")) as front:
        yield front


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    upstream_env = {"REALTIME_MOCK_TOKEN_DELAY_MS": "50"}
    with relayed_mock(tmp_path_factory.mktemp("relay-slow"), upstream_env) as front:
        yield front


# The one scenario about the server itself rather than the wire: /health of a pipeline entry.
# A relay entry's /health is checked in tests/test_relay.py.
globals().pop("test_health_and_models")
