"""What the Redis ledger reads back: for reconciliation (``unknowns``), redials (``ended``)
and ``campaigns status`` (``counts``, ``waiting``, ``meta``). The keys are described in
:mod:`talkstack_async.campaigns.ledgers._redis`."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from talkstack_async.campaigns.ledgers._protocol import Unknown
from talkstack_async.campaigns.ledgers._records import Ended, ended_from
from talkstack_async.campaigns.ledgers._redis_errors import Reaching

__all__ = ["ALIVE", "HEARTBEAT", "CampaignReads"]

HEARTBEAT = 10.0  # seconds between a waiting run's heartbeats
ALIVE = 3 * HEARTBEAT  # a run not heard of for this long has stopped

_READING = Reaching("reading the campaign's state")
_RECORDING = Reaching("recording the campaign's settings")


class CampaignReads:
    """What the ledger reads for reconciliation, redials and ``campaigns status``."""

    _redis: Any
    _keys: dict[str, str]
    _prefix: str

    async def _scan(self, name: str) -> AsyncIterator[tuple[str, str]]:
        """The entries of the hash ``name``, a thousand at a time (HSCAN)."""
        cursor = 0
        while True:
            with _READING:
                cursor, entries = await self._redis.hscan(self._keys[name], cursor, count=1000)
            for entry in entries.items():
                yield entry
            if not cursor:
                return

    async def ended(self, digest: bytes) -> Ended | None:
        with _READING:
            value = await self._redis.hget(self._keys["final"], digest.hex())
        if value is None:
            return None
        try:
            record = json.loads(value)
        except ValueError:
            record = {"status": value}  # written by an earlier version: the status alone
        return ended_from({"event": "final", **record}) if isinstance(record, dict) else None

    async def unknowns(self) -> AsyncIterator[Unknown]:
        async for key, value in self._scan("state"):
            held = json.loads(value)
            if held.get("s") in ("attempt", "unknown"):
                at = datetime.fromtimestamp(int(held.get("t", 0)) / 1000, timezone.utc)
                earlier = tuple(str(sid) for sid in held.get("x") or ())
                yield Unknown(key, str(held.get("n") or ""), at, str(held["s"]), earlier)

    async def counts(self) -> dict[str, int]:
        """How many requests are placed, may have been placed (in flight or unknown), and
        certainly not placed; and how many calls ended how."""
        totals = {"placed": 0, "attempt": 0, "unknown": 0}
        async for _, value in self._scan("state"):
            state = json.loads(value).get("s")
            totals[state] = totals.get(state, 0) + 1
        with _READING:
            totals["failed"] = int(await self._redis.hlen(self._keys["failed"]))
            totals["finished"] = int(await self._redis.hlen(self._keys["final"]))
        totals.update(await self.waiting())
        return totals

    async def waiting(self) -> dict[str, int]:
        """How many inputs wait, by why (``window``, ``redial``, ``backoff``), as live runs
        keep them; ``stale``: entries of runs that stopped without saying so (killed: a
        resume takes those inputs up again); ``next_ms``: the earliest due, or 0."""
        now = time.time() * 1000
        with _READING:
            runs = await self._redis.hgetall(self._keys["runs"])
        alive = {run for run, seen in runs.items() if now - float(seen) < ALIVE * 1000}
        counts = {"window": 0, "redial": 0, "backoff": 0, "stale": 0, "next_ms": 0}
        async for _, value in self._scan("waiting"):
            entry = json.loads(value)
            if entry.get("r") not in alive:
                counts["stale"] += 1
                continue
            why = str(entry.get("w"))
            counts[why] = counts.get(why, 0) + 1
            due = int(entry.get("u", 0))
            if why != "backoff" and (not counts["next_ms"] or due < counts["next_ms"]):
                counts["next_ms"] = due
        return counts

    async def meta(self) -> dict[str, str]:
        with _READING:
            return dict(await self._redis.hgetall(self._keys["meta"]))

    async def pace(self) -> dict[str, str]:
        """The campaign's shared rate state (``rate``, ``paused_until`` in the server's ms,
        ``refusals``; see ``RedisAdaptiveRate``)."""
        with _READING:
            return dict(await self._redis.hgetall(self._prefix + "pace"))

    async def set_meta(self, **values: object) -> None:
        mapping = {k: str(v) for k, v in values.items()}
        with _RECORDING:
            await self._redis.hset(self._keys["meta"], mapping=mapping)
