"""Issue #27's findings with a Redis ledger, on a real redis-server and the emulator (over real
sockets), through the public API only: a failed run sends nothing more, even once the
campaign's concurrency leases it waited for come free (2); Redis going away mid-run ends the
run the documented way (3b); a ``RedisLedger`` object used for a second run dials what the
first left dialable (4). The emulator-only findings are in
``tests/e2e/test_engine_findings.py``."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis

from talkstack_async import (
    AsyncTalkstack,
    DialOutcome,
    DialProgress,
    DialStatus,
    RateLimitError,
    TalkstackError,
)
from talkstack_async.campaigns import RedisLedger, reconcile
from talkstack_async.testing import Fault, TalkstackEmulator
from tests.campaigns.conftest import RedisServer
from tests.e2e.test_engine_findings import _number, _one_outcome_each

pytestmark = pytest.mark.talkstack_emulator(status_interval=600)

TIMEOUT = 10.0  # no test here waits longer than this for a run
LATE = 0.1  # how late a request that passed the gate may still reach the emulator


def _numbers(count: int, base: int) -> list[str]:
    return [f"+1415{base + i:07d}" for i in range(count)]


class _ProgressBroke(Exception):
    pass


# -- 2. no call after the run failed, though placements waited for the campaign's lease --------


async def test_finding2_a_failed_run_sends_nothing_once_the_leases_it_waited_for_come_free(
    redis_url: str, talkstack_server: TalkstackEmulator
) -> None:
    """The campaign's three concurrency slots are held for 2 s by a holder that is gone (leases
    that expire); two placements wait for them when the third input, invalid, makes
    ``progress`` raise. The run has failed: nothing may be sent, ever, and every input
    gets its outcome (NOT_ATTEMPTED for those that waited)."""
    seed = talkstack_server.seed()
    campaign = "finding-2"
    with redis.Redis.from_url(redis_url) as server:
        seconds, micros = server.time()
        expires = seconds * 1000 + micros // 1000 + 2000
        server.zadd(f"talkstack:{{{campaign}}}:leases", {f"dead-{i}": expires for i in range(3)})
    numbers = _numbers(4, 2_702_000)
    rows = [numbers[0], numbers[1], "not a number", numbers[2], numbers[3]]
    failed: list[float] = []

    def progress(update: DialProgress) -> None:
        if update.last.status is DialStatus.FAILED and not failed:
            failed.append(time.monotonic())
            raise _ProgressBroke("the progress callback broke")

    outcomes: list[DialOutcome] = []
    raised: BaseException | None = None
    offset = time.time() - time.monotonic()
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        run = client.calls.dial_many(
            rows,
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            ledger=redis_url,
            campaign=campaign,
            concurrency=3,
            progress=progress,
        )

        async def consume() -> None:  # to the end: past the moment the leases come free
            async for outcome in run:
                outcomes.append(outcome)

        try:
            await asyncio.wait_for(consume(), TIMEOUT)
        except _ProgressBroke as exc:
            raised = exc
    assert failed, "progress never raised: the test proves nothing"
    made = talkstack_server.requests.of("calls.make")
    early = [_number(r) for r in made if r.received_at - offset <= failed[0] + LATE]
    assert not early, (
        f"{early} were sent before the run failed: the leases put in did not hold the "
        "campaign's slots, and the test proves nothing"
    )
    after = [
        (_number(r), round(r.received_at - offset - failed[0], 3))
        for r in made
        if r.received_at - offset > failed[0] + LATE
    ]
    assert not after, f"make-calls sent after the run failed (number, seconds after): {after}"
    assert isinstance(raised, _ProgressBroke), f"the run ended with {raised!r}"
    assert not _one_outcome_each(outcomes, len(rows)), _one_outcome_each(outcomes, len(rows))
    status = {o.index: o.status for o in outcomes}
    assert status[2] is DialStatus.FAILED
    assert [status[i] for i in (0, 1, 3, 4)] == [DialStatus.NOT_ATTEMPTED] * 4, outcomes


# -- 3b. Redis going away while the feeder admits -------------------------------------------


async def test_finding3b_redis_going_away_mid_run_ends_it_the_documented_way(
    redis_server: RedisServer,  # skips (or fails under CI) without redis-server
    talkstack_server: TalkstackEmulator,
    tmp_path: Path,
) -> None:
    """A dedicated redis-server is killed (SIGKILL) as the first outcome is yielded: make-calls
    are in flight (each takes 0.3 s at the emulator) and the feeder is admitting the next
    inputs. In-flight placements finish with their real result, the rest are NOT_ATTEMPTED
    (or UNKNOWN, if their claim may have been written), every input read has one outcome, then
    a TalkstackError is raised; no make-call is cut off mid-request."""
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.3), on="calls.make")
    numbers = _numbers(16, 2_703_100)
    read: list[str] = []

    def requests() -> Iterator[str]:
        for number in numbers:
            read.append(number)
            yield number

    dedicated = RedisServer(tmp_path).start()
    outcomes: list[DialOutcome] = []
    raised: BaseException | None = None
    killed_at: float | None = None
    offset = time.time() - time.monotonic()
    try:
        async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
            run = client.calls.dial_many(
                requests(),
                project_id=seed.project_id,
                agent_id=seed.agent_id,
                ledger=dedicated.url,
                campaign="finding-3b",
                concurrency=4,
                rate=10,
            )

            async def consume() -> None:
                nonlocal killed_at
                async for outcome in run:
                    outcomes.append(outcome)
                    if killed_at is None:
                        assert dedicated.process is not None
                        dedicated.process.kill()  # the redis-server this test started
                        dedicated.process.wait(timeout=5)
                        killed_at = time.monotonic()

            try:
                await asyncio.wait_for(consume(), TIMEOUT)
            except Exception as exc:
                raised = exc
    finally:
        dedicated.stop()
    made = talkstack_server.requests.of("calls.make")
    assert killed_at is not None, "nothing was yielded before Redis went away"
    in_flight = [
        r for r in made if r.received_at - offset < killed_at < r.finished_at - offset + 0.01
    ]
    assert in_flight, "no make-call was in flight when Redis went away: the test proves nothing"
    problems = []
    if not isinstance(raised, TalkstackError):
        problems.append(f"the run raised {raised!r}, not a TalkstackError")
    problems += _one_outcome_each(outcomes, len(read))
    cut = [_number(r) for r in made if r.status is None]
    if cut:
        problems.append(f"{len(cut)} make-calls were cut off mid-request: {cut}")
    placed = set(talkstack_server.placed_numbers())
    for outcome in outcomes:
        if outcome.number in placed and outcome.status is not DialStatus.PLACED:
            problems.append(
                f"{outcome.number}: placed at the server, reported {outcome.status.value} "
                f"({outcome.detail})"
            )
        sent = any(_number(r) == outcome.number for r in made)
        if not sent and outcome.status not in (DialStatus.NOT_ATTEMPTED, DialStatus.UNKNOWN):
            problems.append(f"{outcome.number}: never sent, reported {outcome.status.value}")
    assert not problems, "\n".join(problems)


# -- 4. a RedisLedger object used for a second run -------------------------------------------


async def test_finding4_a_redis_ledger_object_reused_for_a_second_run_dials_what_run_one_left(
    redis_url: str, talkstack_server: TalkstackEmulator
) -> None:
    """Run 1: X refused with a 429 (FAILED, ``on_rate_limit=None``), Y's connection dropped
    after it was sent (UNKNOWN), Z placed; ``reconcile`` settles Y as not placed. Run 2 on the
    same ledger object dials X and Y and skips Z as placed by run 1."""
    seed = talkstack_server.seed()
    rows = _numbers(3, 2_704_100)
    x, y, z = rows
    talkstack_server.faults.inject(Fault.rate_limited(1.0), on="calls.make", times=1)
    talkstack_server.faults.inject(Fault.reset(), on="calls.make", times=1)
    ledger = await RedisLedger.open(redis_url, "finding-4")

    async def dial(**options: Any) -> list[DialOutcome]:
        run = client.calls.dial_many(
            rows, project_id=seed.project_id, agent_id=seed.agent_id, ledger=ledger, **options
        )

        async def consume() -> list[DialOutcome]:
            return [outcome async for outcome in run]

        return await asyncio.wait_for(consume(), TIMEOUT)

    try:
        async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
            first = await dial(concurrency=1, on_rate_limit=None)
            status = {o.number: o.status for o in first}
            assert status == {
                x: DialStatus.FAILED, y: DialStatus.UNKNOWN, z: DialStatus.PLACED
            }, first  # fmt: skip
            assert isinstance(next(o for o in first if o.number == x).error, RateLimitError)
            later = datetime.now(timezone.utc) + timedelta(minutes=20)
            settled = await reconcile(client, ledger, project_id=seed.project_id, now=lambda: later)
            assert (settled.placed, settled.not_placed, settled.pending) == (0, 1, 0)
            second = await dial()
    finally:
        await ledger.close()
    got = {o.number: (o.status, o.detail) for o in second}
    assert got[x][0] is DialStatus.PLACED, f"X, refused in run 1: {got[x]}"
    assert got[y][0] is DialStatus.PLACED, f"Y, reconciled as not placed: {got[y]}"
    assert got[z][0] is DialStatus.SKIPPED, got[z]
    assert next(o for o in second if o.number == z).call is not None, "Z: placed by run 1"
    assert collections.Counter(talkstack_server.placed_numbers()) == dict.fromkeys(rows, 1)
