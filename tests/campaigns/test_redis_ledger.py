"""The Redis ledger on a real redis-server: exclusive claims, results, durability checks,
namespacing, and ``dial_many`` runs sharing one campaign (over real sockets, the emulator)."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import time
import warnings
from typing import Any

import pytest
import redis.asyncio as aioredis

from talkstack_async import (
    AsyncTalkstack,
    DialStatus,
    Hooks,
    RequestEvent,
    ResponseEvent,
    ValidationError,
)
from talkstack_async.campaigns import (
    ClaimLostError,
    LedgerDurabilityWarning,
    RedisLedger,
    campaign_status,
)
from talkstack_async.campaigns.ledgers._records import Verdict
from talkstack_async.testing import Fault, TalkstackEmulator


def _digest(i: int) -> bytes:
    return hashlib.blake2b(str(i).encode(), digest_size=16).digest()


def _attempt(i: int) -> dict[str, Any]:
    return {"event": "attempt", "key": _digest(i).hex(), "index": i, "number": f"+1415555{i:04d}"}


async def test_of_many_claimants_exactly_one_wins_each_request(redis_url: str) -> None:
    ledgers = [await RedisLedger.open(redis_url, "race") for _ in range(4)]
    try:
        wins: collections.Counter[int] = collections.Counter()
        lost: list[str] = []

        async def claim(ledger: RedisLedger, i: int) -> None:
            try:
                await ledger.submit(_attempt(i))
            except ClaimLostError as error:
                lost.append(error.verdict)
            else:
                wins[i] += 1

        await asyncio.gather(*(claim(ledger, i) for i in range(300) for ledger in ledgers))
        assert sorted(wins) == list(range(300))
        assert set(wins.values()) == {1}
        assert lost == [""] * 900  # each loser sees the winner's claim: may have been placed
        counts = await ledgers[0].counts()
        assert counts["attempt"] == 300
    finally:
        for ledger in ledgers:
            await ledger.close()


async def test_results_decide_what_a_later_run_does(redis_url: str) -> None:
    first = await RedisLedger.open(redis_url, "results")
    for i in range(5):
        await first.submit(_attempt(i))
    key = [_digest(i).hex() for i in range(5)]
    await first.write({"event": "placed", "key": key[0], "sid": "CA0"})
    await first.write({"event": "failed", "key": key[1], "error": "HTTP 400"})
    await first.write({"event": "unknown", "key": key[2], "error": "timed out"})
    await first.write({"event": "not_attempted", "key": key[3]})  # withdrawn: not sent
    await first.submit(_attempt(4))  # a claim re-sent by its own run is still its own
    await first.close()

    later = await RedisLedger.open(redis_url, "results")
    try:
        verdicts = [await later.admit(_digest(i)) for i in range(6)]
        assert verdicts == ["CA0", Verdict.NEW, "", Verdict.NEW, "", Verdict.NEW]
        # A lookup, not a memory: what a run saw itself, the run remembers (not the ledger).
        assert await later.admit(_digest(5)) is Verdict.NEW
        # Another run's withdrawal cannot free a claim it does not hold.
        await later.write({"event": "not_attempted", "key": key[4], "run": "someone-else"})
        assert (await later.counts())["attempt"] == 1
        unknown = sorted(u.key for u in [u async for u in later.unknowns()])
        assert unknown == sorted([key[2], key[4]])
        counts = await later.counts()
        assert (counts["placed"], counts["unknown"], counts["failed"]) == (1, 1, 1)
    finally:
        await later.close()


async def test_opening_warns_when_redis_may_lose_claims(redis_url: str) -> None:
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await admin.config_set("appendfsync", "everysec")
        with pytest.warns(LedgerDurabilityWarning, match="appendfsync 'everysec'"):
            ledger = await RedisLedger.open(redis_url, "weak")
        await ledger.close()
    finally:
        await admin.config_set("appendfsync", "always")
        await admin.aclose()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ledger = await RedisLedger.open(redis_url, "strong")  # no warning
        await ledger.close()


async def test_keys_are_namespaced_per_campaign_and_may_expire(redis_url: str) -> None:
    one = await RedisLedger.open(redis_url, "spring", expire_after=120)
    two = await RedisLedger.open(redis_url, "autumn")
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await one.submit(_attempt(1))
        assert await two.admit(_digest(1)) is Verdict.NEW  # another campaign's claim
        keys = sorted(await admin.keys("*"))
        assert "talkstack:{spring}:state" in keys
        assert all(k.startswith(("talkstack:{spring}:", "talkstack:{autumn}:")) for k in keys)
        assert 0 < await admin.ttl("talkstack:{spring}:state") <= 120
        assert await admin.ttl("talkstack:{autumn}:meta") == -1
    finally:
        await one.close()
        await two.close()
        await admin.aclose()
    for bad in ("", "a b", "x" * 201, "a{b}"):
        with pytest.raises(ValidationError, match="campaign"):
            await RedisLedger.open(redis_url, bad)


async def _two_runs(
    server: TalkstackEmulator,
    seed: Any,
    numbers: list[str],
    url: str,
    campaign: str,
    *,
    hooks: Hooks | None = None,
    **options: Any,
) -> tuple[list[Any], list[Any]]:
    """The outcomes of two dial_many runs of one campaign at once (two clients)."""

    async def run() -> list[Any]:
        async with AsyncTalkstack(
            api_key=seed.account.api_key, **server.client_options(), hooks=hooks
        ) as client:
            return [
                outcome
                async for outcome in client.calls.dial_many(
                    numbers,
                    project_id=seed.project_id,
                    agent_id=seed.agent_id,
                    ledger=url,
                    campaign=campaign,
                    **options,
                )
            ]

    first, second = await asyncio.wait_for(asyncio.gather(run(), run()), timeout=60)
    return first, second


class InFlight(Hooks):
    """Counts make-call requests in flight across every client it is given to."""

    def __init__(self) -> None:
        self.now = self.most = 0

    def on_request(self, event: RequestEvent) -> None:
        if event.operation == "calls.make":
            self.now += 1
            self.most = max(self.most, self.now)

    def on_response(self, event: ResponseEvent) -> None:
        if event.operation == "calls.make":
            self.now -= 1


@pytest.mark.talkstack_emulator(status_interval=600)
async def test_two_runs_of_one_campaign_dial_each_number_once_within_its_limits(
    redis_url: str, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.02), on="calls.make")
    numbers = [f"+1415{7_000_000 + i:07d}" for i in range(240)]
    hooks = InFlight()
    first, second = await _two_runs(
        talkstack_server, seed, numbers, redis_url, "shared", concurrency=4, rate=60, hooks=hooks
    )
    made = collections.Counter(talkstack_server.placed_numbers())
    assert set(made) == set(numbers)
    assert set(made.values()) == {1}, "a number was dialled twice"
    for outcomes in (first, second):
        assert len(outcomes) == len(numbers)  # every input of each run has its outcome
    placed = collections.Counter(o.number for o in first + second if o.status is DialStatus.PLACED)
    assert placed == collections.Counter(numbers)  # placed by exactly one of the two
    skipped = [o for o in first + second if o.status is DialStatus.SKIPPED]
    assert len(skipped) == len(numbers)
    assert hooks.most <= 4, f"{hooks.most} placements in flight at once (campaign limit 4)"
    assert talkstack_server.requests.max_in_flight("calls.make") <= 4
    _check_rate(talkstack_server, 60)


def _check_rate(server: TalkstackEmulator, rate: float) -> None:
    """In no one-second window more than ``rate`` placements (+10 %) reached the server."""
    times = sorted(r.received_at for r in server.requests.of("calls.make"))
    start = 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        assert end - start + 1 <= rate * 1.1, f"{end - start + 1} placements within one second"


async def test_a_dead_processes_concurrency_slot_comes_back_when_its_lease_expires(
    redis_url: str,
) -> None:
    from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing

    client = aioredis.Redis.from_url(redis_url)
    try:
        dead = RedisPacing(client, "talkstack:{leases}:", rate=None, concurrency=1, lease_seconds=1)
        alive = RedisPacing(
            client, "talkstack:{leases}:", rate=None, concurrency=1, lease_seconds=1
        )
        held = dead.slot()
        await held.__aenter__()  # the process then dies: no release, no renewal
        await dead.close()
        started = asyncio.get_running_loop().time()
        async with alive.slot():
            waited = asyncio.get_running_loop().time() - started
            assert await alive.in_flight() == 1
        assert 0.5 <= waited <= 3.0, f"waited {waited:.2f} s for the expired lease"
        async with alive.slot():  # released: at once
            pass
        await alive.close()
        await held.__aexit__(None, None, None)  # tidy up the "dead" one's generator
    finally:
        await client.aclose()


async def test_a_live_processes_lease_is_renewed_past_its_lifetime(redis_url: str) -> None:
    from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing

    client = aioredis.Redis.from_url(redis_url)
    try:
        one = RedisPacing(client, "talkstack:{renew}:", rate=None, concurrency=1, lease_seconds=1)
        two = RedisPacing(client, "talkstack:{renew}:", rate=None, concurrency=1, lease_seconds=1)
        async with one.slot():
            await asyncio.sleep(2.5)  # 2.5 lifetimes, renewed all along
            assert await one.in_flight() == 1
            taken = await two._take(keys=[two._leases_key], args=[1, "intruder", 1000])
            assert not taken, "a live lease expired"
        await one.close()
        await two.close()
    finally:
        await client.aclose()


async def test_a_cut_in_the_campaigns_rate_counts_what_the_last_second_sent(
    redis_url: str,
) -> None:
    """The rate's one-second window is one history whatever the rate: after 20 placements at
    20/s, a cut to 10/s lets none through until the window has fewer than 10 in it."""
    from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing

    client = aioredis.Redis.from_url(redis_url)
    try:
        pacing = RedisPacing(client, "talkstack:{cut}:", rate=20, concurrency=100)
        started = time.monotonic()
        for _ in range(20):
            await pacing.wait_for_rate(20)
        assert time.monotonic() - started < 0.5  # the first 20 go at once
        await pacing.wait_for_rate(10)  # the 11th of the last second: must wait
        waited = time.monotonic() - started
        assert waited >= 0.9, f"a cut rate burst: 21 placements in {waited:.2f} s"
        await pacing.close()
    finally:
        await client.aclose()


@pytest.mark.talkstack_emulator(status_interval=600, make_call_rate=10)
async def test_processes_of_a_campaign_slow_down_together_when_the_server_refuses(
    redis_url: str, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    numbers = [f"+1415{7_500_000 + i:07d}" for i in range(60)]
    first, second = await _two_runs(
        talkstack_server, seed, numbers, redis_url, "aimd", concurrency=6, rate=40
    )
    assert collections.Counter(talkstack_server.placed_numbers()) == collections.Counter(numbers)
    assert not [o for o in first + second if o.status is DialStatus.FAILED]
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        pace = await admin.hgetall("talkstack:{aimd}:pace")
    finally:
        await admin.aclose()
    assert int(pace["refusals"]) == talkstack_server.rate_limited > 0
    assert float(pace["rate"]) < 40  # the campaign's shared rate was cut
    assert talkstack_server.rate_limited < len(numbers)
    status = await campaign_status(redis_url, "aimd")
    assert status.rate_refusals == talkstack_server.rate_limited
    assert status.rate is not None
    assert status.rate < 40
    assert status.placed == len(numbers)
