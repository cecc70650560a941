"""The pytest plugin (registered under ``pytest11``): the ``talkstack_server`` fixture.

::

    def test_my_dialer(talkstack_server):
        seed = talkstack_server.seed()
        with Talkstack(**talkstack_server.client_options(seed.account)) as client:
            ...

The emulator runs in its own thread with its own event loop, so the fixture serves sync
tests and async tests alike, whatever async plugin they use. Each test gets a fresh emulator.
Options come from the ``talkstack_emulator`` marker:
``@pytest.mark.talkstack_emulator(token_ttl=1, status_interval=0)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from talkstack_async.testing._server import TalkstackEmulator
from talkstack_async.testing._thread import EmulatorThread

__all__ = ["talkstack_server"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "talkstack_emulator(**options): options for the talkstack_server fixture "
        "(token_ttl, status_interval, fault_seed)",
    )


@pytest.fixture
def talkstack_server(request: pytest.FixtureRequest) -> Iterator[TalkstackEmulator]:
    """A running local Talkstack emulator (see ``talkstack_async.testing``)."""
    marker = request.node.get_closest_marker("talkstack_emulator")
    options = dict(marker.kwargs) if marker else {}
    with EmulatorThread(**options) as emulator:
        yield emulator
