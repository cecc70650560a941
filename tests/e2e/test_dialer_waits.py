"""The dialler's waits keep its promises when a run stops or fails (over real sockets, the
emulator): every input gets exactly one outcome however many of them were waiting, and where
(for the rate, for a slot, for a window or a redial), and a run that fails does not sit out
the wait of its inputs before it says so."""

from __future__ import annotations

import asyncio
import collections
from contextlib import aclosing
from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest

from talkstack_async import (
    AsyncTalkstack,
    AuthenticationError,
    CallingWindow,
    DialProgress,
    DialStatus,
    RedialPolicy,
)
from talkstack_async.testing import FakeClock, Fault, TalkstackEmulator

pytestmark = pytest.mark.talkstack_emulator(status_interval=0)

MONDAY_3PM_UTC = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)


class RealSleeps(FakeClock):
    """Says it is ``start`` plus the real time gone by, and sleeps for real: hours mean hours."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._began = asyncio.get_running_loop().time()

    def now(self) -> datetime:
        return self.time + timedelta(seconds=asyncio.get_running_loop().time() - self._began)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _drain(run: Any, into: list[Any]) -> None:
    async for outcome in run:
        into.append(outcome)


@pytest.mark.parametrize("stop_after", [1, 3, 6])
async def test_a_stop_while_inputs_wait_everywhere_gives_each_one_outcome(
    talkstack_server: TalkstackEmulator, stop_after: int
) -> None:
    """A slow rate, redials due at once and a small concurrency: at any moment inputs wait in
    the pacer (read by the feeder, and redials started by their placements and by the
    scheduler), for a slot, and on the schedule."""
    seed = talkstack_server.seed()
    numbers = [f"+1415{7_400_000 + i:07d}" for i in range(12)]
    for number in numbers:
        talkstack_server.call_outcomes(number, "busy", "busy", "completed")
    reported: list[DialProgress] = []
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        run = client.calls.dial_many(
            numbers,
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            rate=20,
            concurrency=4,
            redial=RedialPolicy(times=2, after=1),
            clock=FakeClock(MONDAY_3PM_UTC, real_seconds=0.01),
            progress=reported.append,
        )
        async with aclosing(run) as outcomes:
            seen = 0
            async for _ in outcomes:
                seen += 1
                if seen == stop_after:
                    break
    read = max(p.read for p in reported)  # the input is read lazily: the rest was never read
    assert read > stop_after
    indices = collections.Counter(p.last.index for p in reported)
    assert sorted(indices) == list(range(read)), "an input read has no outcome"
    assert set(indices.values()) == {1}, "an input has two outcomes"


async def test_a_run_that_fails_while_inputs_wait_for_their_window_ends_at_once(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    los_angeles = [f"+1415{7_410_000 + i:07d}" for i in range(3)]  # 07:00 there: two hours
    new_york = [f"+1212{7_410_000 + i:07d}" for i in range(3)]  # 10:00 there: open
    talkstack_server.faults.inject(Fault.error(401), on="calls.make", times=1)
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:

        async def dial() -> list[Any]:
            run = client.calls.dial_many(
                los_angeles + new_york,
                project_id=seed.project_id,
                agent_id=seed.agent_id,
                concurrency=2,
                window=CallingWindow(start=time(9), end=time(20)),
                clock=RealSleeps(MONDAY_3PM_UTC),
            )
            outcomes: list[Any] = []
            with pytest.raises(AuthenticationError):
                await _drain(run, outcomes)
            return outcomes

        outcomes = await asyncio.wait_for(dial(), timeout=20)
    assert len(outcomes) == 6
    waited = [o for o in outcomes if o.number in los_angeles]
    assert {o.status for o in waited} == {DialStatus.NOT_ATTEMPTED}
    # The one in flight beside the refused one finished; nothing was placed after it.
    assert set(talkstack_server.placed_numbers()) <= set(new_york[:2])
