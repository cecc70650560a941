"""The server's pause is waited on the monotonic clock (finding 5 of issue 27): a step of the
wall clock neither stretches nor cuts it, in one process or across a campaign's processes
(whose shared pause Redis keeps by its own clock and answers as the time it has left)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from talkstack_async import RateLimitPolicy
from talkstack_async.campaigns.policies._rate_limit import AdaptiveRate, RedisAdaptiveRate

POLICY = RateLimitPolicy()


def _step_wall_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    real: Callable[[], float] = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)


async def _timed(waiting: Any) -> float:
    started = time.monotonic()
    await asyncio.wait_for(waiting, timeout=10)
    return time.monotonic() - started


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
async def test_a_runs_pause_ends_on_time_whatever_the_wall_clock_does(
    monkeypatch: pytest.MonkeyPatch, step: float
) -> None:
    rate = AdaptiveRate(10, POLICY)
    assert rate.pause_left() == 0
    await rate.refused(1.0)
    assert 0.9 < rate.pause_left() <= 1.0
    await rate.refresh()  # the run's own: nothing to read
    await asyncio.sleep(0.2)
    _step_wall_clock(monkeypatch, step)  # during the pause
    waited = await _timed(rate.wait_for_pause())
    assert 0.7 <= waited <= 1.2, f"waited {waited:.2f} s for the 0.8 s left"
    assert rate.pause_left() == 0
    assert rate.current == 5  # cut once, readable at once


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
async def test_a_campaigns_shared_pause_ends_on_time_whatever_the_wall_clock_does(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, step: float
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        one = RedisAdaptiveRate(client, "talkstack:{clock}:", 10, POLICY)
        two = RedisAdaptiveRate(client, "talkstack:{clock}:", 10, POLICY)  # another process
        await one.refused(1.0)
        assert 0.9 < one.pause_left() <= 1.0
        # Kept by the server's clock, for processes on other machines.
        seconds, micros = await client.time()
        stored = float(await client.hget("talkstack:{clock}:pace", "paused_until"))
        assert 0 < stored - (seconds * 1000 + micros // 1000) <= 1000
        await asyncio.sleep(0.2)
        _step_wall_clock(monkeypatch, step)
        waited = await _timed(two.wait_for_pause())
        assert 0.7 <= waited <= 1.3, f"waited {waited:.2f} s for the 0.8 s left"
        assert two.current == 5
        assert await _timed(one.wait_for_pause()) < 0.3  # over for every process
    finally:
        await client.aclose()


async def test_a_pause_set_on_another_machine_is_read_as_the_time_it_has_left(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        seconds, micros = await client.time()
        until = seconds * 1000 + micros // 1000 + 1500
        await client.hset("talkstack:{far}:pace", mapping={"paused_until": until, "rate": 3.5})
        rate = RedisAdaptiveRate(client, "talkstack:{far}:", 10, POLICY)
        assert rate.stale()
        await rate.refresh()
        assert 1.2 < rate.pause_left() <= 1.5
        assert rate.current == 3.5
        assert await rate.rate() == 3.5
    finally:
        await client.aclose()


async def test_the_shared_state_is_read_at_most_every_quarter_second(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        rate = RedisAdaptiveRate(client, "talkstack:{reads}:", 10, POLICY)
        other = RedisAdaptiveRate(client, "talkstack:{reads}:", 10, POLICY)
        reads = 0
        script = rate._read

        async def counted(**kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            return await script(**kwargs)

        rate._read = counted
        await asyncio.gather(*(rate.refresh() for _ in range(50)))  # at once: one read
        assert reads == 1
        assert not rate.stale()
        await other.refused(0.1)  # another process cuts the campaign's rate
        await rate.refresh()
        assert (reads, rate.current) == (1, 10)  # trusted for a quarter of a second
        await asyncio.sleep(0.26)
        assert rate.stale()
        await rate.refresh()
        assert (reads, rate.current) == (2, 5)
    finally:
        await client.aclose()
