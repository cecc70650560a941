"""The SDK's retry and call-safety rules, against injected faults over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from talkstack_async import APIConnectionError, InternalServerError, RateLimitError
from talkstack_async.testing import Fault, TalkstackEmulator
from tests.e2e.conftest import run


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from talkstack_async import _transport

    async def no_wait(delay: float) -> None:
        pass

    monkeypatch.setattr(_transport, "_sleep", no_wait)


@pytest.mark.talkstack_emulator(fault_seed=1)
async def test_reads_ride_through_server_errors(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    # 30% faults: three attempts all failing would happen once in 37 reads, hence 6 retries.
    client = connect(api_key=seed.account.api_key, max_retries=6)
    talkstack_server.faults.inject(Fault.error(503), on="projects.get", probability=0.3)
    talkstack_server.faults.inject(Fault.reset(), on="agents.get", probability=0.3)
    for _ in range(30):
        assert (await run(client.projects.get(seed.project_id))).id == seed.project_id
        assert (
            await run(client.agents.get(seed.agent_id, project_id=seed.project_id))
        ).id == seed.agent_id
    retried = [r for r in talkstack_server.requests.all() if r.fault is not None]
    assert retried  # faults happened, and no read failed


async def test_a_call_is_never_placed_twice(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    ids = {"project_id": seed.project_id, "agent_id": seed.agent_id}
    talkstack_server.faults.inject(Fault.reset(after_processing=True), on="calls.make", times=1)
    with pytest.raises(APIConnectionError):  # the outcome is unknown to the client
        await run(client.calls.make("+14155550123", **ids))
    talkstack_server.faults.inject(Fault.error(500), on="calls.make", times=1)
    with pytest.raises(InternalServerError):
        await run(client.calls.make("+14155550124", **ids))
    talkstack_server.faults.inject(Fault.rate_limited(retry_after=0), on="calls.make", times=1)
    with pytest.raises(RateLimitError):
        await run(client.calls.make("+14155550125", **ids))
    assert talkstack_server.requests.count("calls.make") == 3  # one attempt each
    assert talkstack_server.placed_numbers() == ["+14155550123"]  # placed once, never re-sent
