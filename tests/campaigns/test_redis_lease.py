"""The campaign's concurrency lease says, from memory, whether it is certainly still held
(``Lease.live()``, which the gate asks right before a send): taken or renewed successfully less
than its lifetime minus a margin ago, by the monotonic clock."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing

PREFIX = "talkstack:{lease}:"


async def test_a_held_lease_is_live_while_its_renewals_succeed(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    pacing = RedisPacing(client, PREFIX, rate=None, concurrency=1, lease_seconds=1)
    try:
        async with pacing.slot() as lease:
            assert lease.live()
            for _ in range(8):  # two seconds: two lifetimes, renewed all along
                await asyncio.sleep(0.25)
                assert lease.live()
        assert not lease.live()  # given back
    finally:
        await pacing.close()
        await client.aclose()


async def test_a_lease_whose_renewals_fail_stops_being_live_before_it_expires(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    pacing = RedisPacing(client, PREFIX, rate=None, concurrency=1, lease_seconds=1)
    renew = pacing._renew

    async def unreachable(**_: Any) -> Any:
        raise redis.exceptions.ConnectionError("Connection refused")

    try:
        pacing._renew = unreachable
        async with pacing.slot() as lease:
            await asyncio.sleep(0.5)
            assert lease.live()
            await asyncio.sleep(0.35)  # 0.85 s: within the lifetime, not within the margin
            assert not lease.live()
            assert await admin.zscore(PREFIX + "leases", lease.id) is not None  # still held
            pacing._renew = renew
            await lease.renew()
            assert lease.live()
    finally:
        await pacing.close()
        await client.aclose()
        await admin.aclose()


async def test_a_lease_found_gone_at_its_renewal_is_not_live_and_can_be_taken_again(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    pacing = RedisPacing(client, PREFIX, rate=None, concurrency=1, lease_seconds=1)
    try:
        async with pacing.slot() as lease:
            # As if it expired and another process's take swept it away.
            await admin.zrem(PREFIX + "leases", lease.id)
            await asyncio.sleep(0.6)  # one renewal (every third of a second) finds it gone
            assert not lease.live()
            assert lease._held_at is None  # told by the renewal, not lapsed (that is at 0.75 s)
            assert await admin.zscore(PREFIX + "leases", lease.id) is None  # not revived
            await lease.renew()  # takes a slot again
            assert lease.live()
            assert await admin.zscore(PREFIX + "leases", lease.id) is not None
            await asyncio.sleep(0.5)
            assert lease.live()  # and renews it again
        assert await admin.zcard(PREFIX + "leases") == 0
    finally:
        await pacing.close()
        await client.aclose()
        await admin.aclose()
