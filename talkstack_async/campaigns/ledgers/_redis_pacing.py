"""Pacing for a whole campaign across its processes: ``rate`` and ``concurrency`` on Redis.

Rate: the ``limits`` library's moving window on its async Redis storage (redis-py), rather
than a script of our own: it is well kept, its window is exact (no burst at a window's edge,
as a fixed window allows), and its acquisition is one atomic server-side script. A rate
``r`` >= 1 becomes ``floor(r)`` placements in any one-second window; below 1, one placement in
any ``ceil(1/r)`` seconds. The storage's window is used directly, on one key whose limit is
the campaign's rate of the moment: the library's limiter keys each limit apart, so a cut rate
would start from an empty window and let a second's worth through at once, on top of what
the last second sent. Its timestamps are the processes' clocks: machines must keep them
in step (NTP does, to milliseconds). Placements are also spaced evenly within each process
(``dial_many``'s own pacer), so a process never bursts its share.

Concurrency: ``limits`` has no semaphore, so this module holds one on Redis itself: a sorted
set of leases scored by their expiry (the server's clock). A lease is taken atomically when
fewer than ``concurrency`` are live, renewed by its holder every third of its lifetime, and
released when the placement is done; the leases of a process that died expire after
``lease_seconds`` and their slots come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from talkstack_async._errors import ValidationError
from talkstack_async.campaigns.policies._rate_limit import RateLimitPolicy, RedisAdaptiveRate

__all__ = ["RedisPacing"]

# KEYS: leases. ARGV: limit, lease id, lifetime ms. 1 when taken.
_TAKE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[2])
  return 1
end
return 0
"""

# KEYS: leases. ARGV: lifetime ms, lease ids... Pushes the live ones' expiry forward.
_RENEW = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', ms + tonumber(ARGV[1]), ARGV[i])
end
return 1
"""


class RedisPacing:
    """Campaign-wide ``rate`` and ``concurrency`` (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        *,
        rate: float | None,
        concurrency: int,
        lease_seconds: float = 30.0,
    ) -> None:
        if not lease_seconds >= 1:
            raise ValidationError("lease_seconds", "must be at least 1 second")
        self._redis = client
        self._leases_key = prefix + "leases"
        self._concurrency = concurrency
        self._lifetime_ms = int(lease_seconds * 1000)
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._held: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._storage: Any = None
        self._rate_key = prefix + "rate"
        self._prefix = prefix
        self._ceiling = rate
        if rate is not None:
            self._setup_rate(client)

    def adaptive(self, policy: RateLimitPolicy) -> RedisAdaptiveRate:
        """The campaign's shared AIMD rate around this pacing's configured one."""
        return RedisAdaptiveRate(self._redis, self._prefix, self._ceiling, policy)

    def _setup_rate(self, client: Any) -> None:
        try:
            from limits.aio.storage import RedisStorage
        except ImportError as exc:  # pragma: no cover - the optional extra
            raise ValidationError(
                "rate", "a campaign-wide rate needs limits: pip install 'talkstack[redis]'"
            ) from exc
        # The same connection pool as the ledger: one set of connections per process.
        self._storage = RedisStorage(
            "async+redis://", implementation="redispy", connection_pool=client.connection_pool
        )

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Held around one placement (and its wait, with ``wait_until_finished``): a lease of
        the campaign's concurrency. The placement claims its request, then waits for the
        rate (``wait_for_rate``) and sends: a claim lost to another process costs no rate."""
        lease = await self._acquire_lease()
        try:
            yield
        finally:
            self._held.discard(lease)
            # Not awaited in place: a cancelled placement must still give its slot back.
            task = asyncio.ensure_future(self._redis.zrem(self._leases_key, lease))
            task.add_done_callback(_quiet)
            await asyncio.shield(task)

    async def _acquire_lease(self) -> str:
        lease = secrets.token_hex(8)
        delay = 0.005
        while not await self._take(
            keys=[self._leases_key], args=[self._concurrency, lease, self._lifetime_ms]
        ):
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)
        self._held.add(lease)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.ensure_future(self._renew_forever())
        return lease

    async def wait_for_rate(self, rate: float | None) -> None:
        """Wait for a placement's turn at ``rate`` (the campaign's current rate) across the
        campaign; None: no limit."""
        if rate is None:
            return
        if self._storage is None:
            self._setup_rate(self._redis)
        limit, seconds = (math.floor(rate), 1) if rate >= 1 else (1, math.ceil(1 / rate))
        window = self._storage
        while not await window.acquire_entry(self._rate_key, limit, seconds):
            start, _ = await window.get_moving_window(self._rate_key, limit, seconds)
            wait = max(0.001, start + seconds - time.time())
            # A little jitter: processes woken at once do not all race for the one entry.
            await asyncio.sleep(min(wait, 1.0) + random.random() * 0.002)

    async def _renew_forever(self) -> None:
        while self._held:
            await asyncio.sleep(self._lifetime_ms / 3000)
            if self._held:
                with contextlib.suppress(Exception):  # a missed renewal: the next one
                    await self._renew(
                        keys=[self._leases_key], args=[self._lifetime_ms, *self._held]
                    )

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewer

    async def in_flight(self) -> int:
        """Live leases: placements in flight across the campaign."""
        now_ms = int(time.time() * 1000)
        return int(await self._redis.zcount(self._leases_key, now_ms, "+inf"))


def _quiet(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
