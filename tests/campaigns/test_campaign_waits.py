"""Redials and waits across a campaign's processes (a real redis-server, the emulator): each
attempt is claimed by exactly one run, and ``campaign_status`` / ``journal_status`` show what
waits for a window or a redial while the runs keep them, and what a killed run left."""

from __future__ import annotations

import asyncio
import collections
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from talkstack_async import AsyncTalkstack, DialStatus, RedialPolicy
from talkstack_async.campaigns import campaign_status, journal_status
from talkstack_async.testing import FakeClock, TalkstackEmulator
from tests.clocks import HeldClock

pytestmark = pytest.mark.talkstack_emulator(status_interval=0)

MONDAY_3PM_UTC = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)
POLICY = RedialPolicy(times=2, after=timedelta(minutes=30))


async def test_two_runs_of_a_campaign_make_each_redial_once(
    redis_url: str, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    numbers = [f"+1415{7_300_000 + i:07d}" for i in range(30)]
    for number in numbers:
        talkstack_server.call_outcomes(number, "busy", "no-answer", "completed")
    clock = FakeClock(MONDAY_3PM_UTC)

    async def run() -> list[Any]:
        async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
            dial = client.calls.dial_many(
                numbers,
                project_id=seed.project_id,
                agent_id=seed.agent_id,
                ledger=redis_url,
                campaign="redials",
                redial=POLICY,
                clock=clock,
                concurrency=4,
            )
            return [o async for o in dial]

    first, second = await asyncio.wait_for(asyncio.gather(run(), run()), timeout=60)
    made = collections.Counter(talkstack_server.placed_numbers())
    assert made == dict.fromkeys(numbers, 3), "an attempt was placed twice, or not at all"
    assert len(first) == len(second) == len(numbers)  # every input of each run has its outcome
    finished = [o for o in first + second if o.final is not None]
    assert all(o.final.status == "completed" for o in finished)  # type: ignore[union-attr]
    # Every attempt was placed by one of the two; the outcomes that end each chain say so.
    attempts = collections.Counter(
        (o.number, a.attempt) for o in first + second for a in o.attempts if a.call
    )
    assert {attempt for _, attempt in attempts} == {0, 1, 2}
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        state = await admin.hgetall("talkstack:{redials}:state")
        final = await admin.hgetall("talkstack:{redials}:final")
        waiting = await admin.hlen("talkstack:{redials}:waiting")
    finally:
        await admin.aclose()
    assert len(state) == 3 * len(numbers)
    assert {json.loads(v)["s"] for v in state.values()} == {"placed"}
    assert collections.Counter(json.loads(v)["status"] for v in final.values()) == {
        "busy": 30, "no-answer": 30, "completed": 30
    }  # fmt: skip
    assert waiting == 0  # nothing waits once the runs are done
    status = await campaign_status(redis_url, "redials")
    assert (status.placed, status.calls_ended, status.waiting_to_redial) == (90, 90, 0)


async def test_status_shows_what_waits_for_its_redial_while_a_run_keeps_it(
    redis_url: str, talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    numbers = [f"+1415{7_310_000 + i:07d}" for i in range(5)]
    for number in numbers:
        talkstack_server.call_outcomes(number, "busy", "completed")
    for where in ("redis", "journal"):
        clock = HeldClock(MONDAY_3PM_UTC)
        journal = tmp_path / "campaign.jsonl"
        options: dict[str, Any] = (
            {"ledger": redis_url, "campaign": "waits"} if where == "redis" else {"journal": journal}
        )
        async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
            outcomes: list[Any] = []

            async def run(
                options: dict[str, Any] = options,
                clock: HeldClock = clock,
                outcomes: list[Any] = outcomes,
            ) -> None:
                dial = client.calls.dial_many(
                    numbers,
                    project_id=seed.project_id,
                    agent_id=seed.agent_id,
                    redial=POLICY,
                    clock=clock,
                    **options,
                )
                outcomes.extend([o async for o in dial])

            task = asyncio.create_task(run())
            await asyncio.wait_for(clock.sleeping.wait(), timeout=30)
            await asyncio.sleep(0.2)  # the last scheduled records land
            if where == "redis":
                status = await campaign_status(redis_url, "waits")
            else:
                status = journal_status(journal)
                assert status.running is True
            assert status.waiting_to_redial == len(numbers)
            assert status.next_due == MONDAY_3PM_UTC + timedelta(minutes=30)
            assert (status.placed, status.calls_ended, status.stale_waits) == (5, 5, 0)
            clock.moving.set()
            await asyncio.wait_for(task, timeout=30)
        assert {o.status for o in outcomes} == {DialStatus.PLACED}
        assert all([a.ended for a in o.attempts] == ["busy", "completed"] for o in outcomes)
        done = (
            await campaign_status(redis_url, "waits")
            if where == "redis"
            else journal_status(journal)
        )
        assert (done.placed, done.waiting_to_redial, done.stale_waits) == (10, 0, 0)
        for number in numbers:  # the journal run dials them afresh
            talkstack_server.call_outcomes(number, "busy", "completed")
    assert journal_status(journal).running is False
