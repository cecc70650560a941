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
``lease_seconds`` and their slots come back. ``slot()`` yields the :class:`Lease`: its
``live()`` says, from memory, whether it is certainly still held (taken or last renewed,
successfully, less than its lifetime minus a safety margin ago, on the monotonic clock), which
the campaign's gate asks right before a send; ``await lease.renew()`` makes it live again.

Every call that reaches Redis raises ``LedgerUnavailableError`` when it cannot.
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
from talkstack_async.campaigns.ledgers._redis_errors import Reaching
from talkstack_async.campaigns.ledgers._redis_scripts import RENEW, TAKE
from talkstack_async.campaigns.policies._rate_limit import RateLimitPolicy, RedisAdaptiveRate

__all__ = ["Lease", "RedisPacing"]

_MARGIN = 0.25  # the share of a lease's lifetime not trusted: live() says no that much early
_TAKING = Reaching("taking a slot of the campaign's concurrency")
_RENEWING = Reaching("renewing a slot of the campaign's concurrency")
_RELEASING = Reaching("releasing a slot of the campaign's concurrency")
_RATING = Reaching("waiting for the campaign's rate")
_COUNTING = Reaching("counting the campaign's placements in flight")


class Lease:
    """One slot of the campaign's concurrency, held by this process (see ``live``)."""

    __slots__ = ("_held_at", "_pacing", "_trusted_for", "id")

    def __init__(self, pacing: RedisPacing, lease_id: str) -> None:
        self._pacing = pacing
        self.id = lease_id
        self._trusted_for = pacing._lifetime_ms / 1000 * (1 - _MARGIN)
        self._held_at: float | None = None  # when the last take or renewal that held was sent

    def live(self) -> bool:
        """True while the lease is certainly still held: taken or last renewed (successfully)
        less than its lifetime minus a safety margin ago, by the monotonic clock. Measured
        from when the take or renewal was sent, so the time its answer took is counted."""
        held_at = self._held_at
        return held_at is not None and time.monotonic() - held_at < self._trusted_for

    async def renew(self) -> None:
        """Make the lease live now: renew it, or, when it was lost (it expired and another
        process took its slot), take a slot again, waiting for one as ``slot()`` does."""
        await self._pacing._renew_now(self)

    def _renewed(self, sent_at: float, held: bool) -> None:
        """A renewal sent at ``sent_at`` found the lease ``held`` (or gone). An answer about
        an earlier moment than the last take or renewal that held says nothing new."""
        current = self._held_at
        if current is None or sent_at < current:
            return  # released or lost (only a take revives it), or an older answer
        self._held_at = sent_at if held else None


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
        self._take = client.register_script(TAKE)
        self._renew = client.register_script(RENEW)
        self._held: dict[str, Lease] = {}
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
    async def slot(self) -> AsyncIterator[Lease]:
        """Held around one placement (and its wait, with ``wait_until_finished``): a lease of
        the campaign's concurrency, renewed while it is held. The placement claims its
        request, then waits for the rate (``wait_for_rate``) and sends: a claim lost to another
        process costs no rate.

        Giving the lease back when the block ends: a failure to reach Redis then raises
        ``LedgerUnavailableError`` when the block itself ended normally, and is left to the
        lease's expiry when the block raised (its error is the one that matters)."""
        lease = await self._take_lease()
        try:
            yield lease
        except BaseException:
            with contextlib.suppress(Exception):  # expires on its own: see the docstring
                await self._release(lease)
            raise
        await self._release(lease)

    async def _release(self, lease: Lease) -> None:
        self._held.pop(lease.id, None)
        lease._held_at = None
        # Not awaited in place: a cancelled placement must still give its slot back.
        task = asyncio.ensure_future(self._redis.zrem(self._leases_key, lease.id))
        task.add_done_callback(_quiet)
        with _RELEASING:
            await asyncio.shield(task)

    async def _take_lease(self) -> Lease:
        lease = Lease(self, secrets.token_hex(8))
        await self._take_again(lease)
        self._held[lease.id] = lease
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.ensure_future(self._renew_forever())
        return lease

    async def _take_again(self, lease: Lease) -> None:
        """Take a slot for ``lease`` (its id), waiting until one is free."""
        delay = 0.005
        while True:
            sent_at = time.monotonic()
            with _TAKING:
                taken = await self._take(
                    keys=[self._leases_key], args=[self._concurrency, lease.id, self._lifetime_ms]
                )
            if taken:
                lease._held_at = sent_at
                return
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)

    async def _renew_now(self, lease: Lease) -> None:
        sent_at = time.monotonic()
        with _RENEWING:
            (held,) = await self._renew(keys=[self._leases_key], args=[self._lifetime_ms, lease.id])
        lease._renewed(sent_at, held=bool(held))
        if not held and lease.id in self._held:
            await self._take_again(lease)

    async def wait_for_room(self, rate: float | None) -> None:
        """Wait until the campaign's rate window has room, without taking an entry: the
        placement claims its request next and only then takes its entry (``wait_for_rate``),
        so a claim is not held through a long wait for the rate, and a claim lost to another
        process costs the campaign no rate."""
        if rate is None:
            return
        if self._storage is None:
            self._setup_rate(self._redis)
        limit, seconds = (math.floor(rate), 1) if rate >= 1 else (1, math.ceil(1 / rate))
        while True:
            with _RATING:
                start, count = await self._storage.get_moving_window(self._rate_key, limit, seconds)
            if count < limit:
                return
            wait = max(0.001, start + seconds - time.time())
            await asyncio.sleep(min(wait, 1.0) + random.random() * 0.002)

    async def wait_for_rate(self, rate: float | None) -> None:
        """Wait for a placement's turn at ``rate`` (the campaign's current rate) across the
        campaign; None: no limit."""
        if rate is None:
            return
        if self._storage is None:
            self._setup_rate(self._redis)
        limit, seconds = (math.floor(rate), 1) if rate >= 1 else (1, math.ceil(1 / rate))
        window = self._storage
        while True:
            with _RATING:
                if await window.acquire_entry(self._rate_key, limit, seconds):
                    return
                start, _ = await window.get_moving_window(self._rate_key, limit, seconds)
            wait = max(0.001, start + seconds - time.time())
            # A little jitter: processes woken at once do not all race for the one entry.
            await asyncio.sleep(min(wait, 1.0) + random.random() * 0.002)

    async def _renew_forever(self) -> None:
        while self._held:
            await asyncio.sleep(self._lifetime_ms / 3000)
            leases = list(self._held.values())
            if not leases:
                continue
            sent_at = time.monotonic()
            try:
                held = await self._renew(
                    keys=[self._leases_key], args=[self._lifetime_ms, *(x.id for x in leases)]
                )
            except Exception:  # noqa: S112 - a missed renewal: live() lapses, the next one tries
                continue
            for lease, still in zip(leases, held, strict=False):
                lease._renewed(sent_at, held=bool(still))

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewer

    async def in_flight(self) -> int:
        """Live leases: placements in flight across the campaign."""
        now_ms = int(time.time() * 1000)
        with _COUNTING:
            return int(await self._redis.zcount(self._leases_key, now_ms, "+inf"))


def _quiet(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
