"""A ledger object used for more than one run (finding 4 of issue 27): ``admit`` is a lookup
of the durable state, each run on the object is its own (``start_run``/``end_run``), and what a
run wrote is what the same object answers next, for a second run or for ``reconcile``."""

from __future__ import annotations

import collections
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from talkstack_async import AsyncTalkstack, DialStatus, RateLimitPolicy, ValidationError
from talkstack_async.campaigns import ClaimLostError, RedisLedger, reconcile
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.campaigns.ledgers._records import Verdict
from talkstack_async.testing import Fault, TalkstackEmulator


def _digest(i: int) -> bytes:
    return hashlib.blake2b(str(i).encode(), digest_size=16).digest()


def _attempt(i: int) -> dict[str, Any]:
    return {"event": "attempt", "key": _digest(i).hex(), "index": i, "number": f"+1415555{i:04d}"}


async def _claimed_by(admin: Any, i: int) -> str:
    """The run whose claim holds request ``i``."""
    return str(json.loads(await admin.hget("talkstack:{runs}:state", _digest(i).hex()))["r"])


async def test_each_run_on_a_redis_ledger_object_is_its_own(redis_url: str) -> None:
    ledger = await RedisLedger.open(redis_url, "runs")
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        first = ledger.start_run()
        with pytest.raises(ValidationError, match="is in use by another dial_many run") as caught:
            ledger.start_run()
        assert caught.value.argument == "ledger"
        assert redis_url not in str(caught.value)
        await ledger.submit(_attempt(1))
        await ledger.submit(_attempt(1))  # this run's own claim, re-sent: still its own
        when = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
        await ledger.write({"event": "scheduled", "key": _digest(2).hex(), "at": when})
        assert await admin.hlen("talkstack:{runs}:waiting") == 1
        assert (
            json.loads(await admin.hget("talkstack:{runs}:state", _digest(1).hex()))["r"] == first
        )
        # A lookup, nothing remembered: the run keeps its own memory.
        assert await ledger.admit(_digest(1)) == ""
        assert await ledger.admit(_digest(3)) is Verdict.NEW
        assert await ledger.admit(_digest(3)) is Verdict.NEW
        assert await ledger.pace() == {}  # no refusal yet: no shared rate state

        await ledger.end_run()
        assert await admin.hlen("talkstack:{runs}:waiting") == 0  # what it kept waiting, freed
        assert await admin.hexists("talkstack:{runs}:runs", first) == 0
        await ledger.end_run()  # idempotent

        second = ledger.start_run()
        assert second != first
        assert ledger.run_id == second
        with pytest.raises(ClaimLostError) as lost:  # the first run's claim is another run's
            await ledger.submit(_attempt(1))
        assert lost.value.verdict == ""
        await ledger.submit(_attempt(3))
        assert (
            json.loads(await admin.hget("talkstack:{runs}:state", _digest(3).hex()))["r"] == second
        )
        await ledger.end_run()
    finally:
        await ledger.close()
        await admin.aclose()
    with pytest.raises(ValidationError, match="closed"):
        ledger.start_run()


NUMBERS = [f"+1415{8_100_000 + i:07d}" for i in range(4)]


@pytest.mark.parametrize("kind", ["journal", "redis"])
@pytest.mark.talkstack_emulator(status_interval=600)
async def test_a_second_run_on_the_same_ledger_object_dials_what_the_first_did_not_place(
    kind: str, talkstack_server: TalkstackEmulator, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Run 1: X refused (429, no resend), Y's connection drops before the server sees it
    (UNKNOWN). ``reconcile`` on the same object finds Y not placed; run 2 on the same object
    places both, and each number is dialled once in all."""
    seed = talkstack_server.seed()
    ledger: Any
    if kind == "journal":
        ledger = await DialJournal.open(tmp_path / "campaign.jsonl")
    else:
        ledger = await RedisLedger.open(request.getfixturevalue("redis_url"), "reuse")
    talkstack_server.faults.inject(Fault.rate_limited(retry_after=0.1), on="calls.make", times=1)
    talkstack_server.faults.inject(Fault.reset(), on="calls.make", times=1)
    try:
        async with AsyncTalkstack(
            api_key=seed.account.api_key, **talkstack_server.client_options()
        ) as client:

            async def run() -> dict[str, DialStatus]:
                outcomes = client.calls.dial_many(
                    NUMBERS,
                    project_id=seed.project_id,
                    agent_id=seed.agent_id,
                    concurrency=1,
                    ledger=ledger,
                    on_rate_limit=RateLimitPolicy(max_attempts=0),
                )
                return {o.number: o.status async for o in outcomes}

            first = await run()
            x, y = NUMBERS[0], NUMBERS[1]
            assert first[x] is DialStatus.FAILED
            assert first[y] is DialStatus.UNKNOWN
            assert [first[n] for n in NUMBERS[2:]] == [DialStatus.PLACED] * 2

            settled = await reconcile(
                client,
                ledger,
                project_id=seed.project_id,
                now=lambda: datetime.now(timezone.utc) + timedelta(minutes=20),
            )
            assert [item.unknown.number for item in settled.items] == [y]
            assert settled.not_placed == 1

            second = await run()
            assert second[x] is DialStatus.PLACED
            assert second[y] is DialStatus.PLACED
            assert [second[n] for n in NUMBERS[2:]] == [DialStatus.SKIPPED] * 2
    finally:
        closing = ledger.close()
        if closing is not None:
            await closing
    made = collections.Counter(talkstack_server.placed_numbers())
    assert made == collections.Counter(NUMBERS), "a number was dialled twice, or never"
