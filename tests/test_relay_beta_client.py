"""A beta client through a GA upstream: the beta dialect scenarios (tests/test_beta_dialect.py),
unchanged, against a front server that relays to a mock-profile upstream speaking GA. The client's
beta events are validated and turned into GA at the front; the upstream's GA events are turned
into beta on the way back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess
from tests.relay_servers import relayed_mock
from tests.test_beta_dialect import *  # noqa: F403  (the scenarios, collected here once more)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with relayed_mock(tmp_path_factory.mktemp("relay-beta")) as front:
        yield front
