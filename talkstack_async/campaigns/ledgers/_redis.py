"""A campaign ledger on Redis: any number of processes, on any machines, run one campaign.

``pip install 'talkstack[redis]'`` (redis-py's asyncio client). Keys, all under
``talkstack:{<campaign>}:`` (the braces keep them in one Redis Cluster slot, so each script
sees all of them):

* ``state`` (hash): digest -> the request's claim, JSON: ``{"s": "attempt" | "unknown" |
  "placed", "r": run, "n": number, "t": ms, "sid": ...}``. A request absent here is free to dial.
* ``failed`` (hash): digest -> why it was certainly not placed (a re-run dials it again).
* ``final`` (hash): digest -> how the call ended (``wait_until_finished``), JSON:
  ``{"status": ..., "sid": ..., "ended": iso}`` (a redial policy resumes from it).
* ``waiting`` (hash): digest -> why an input waits and until when, JSON ``{"w": "window" |
  "redial" | "backoff", "u": ms, "r": run}``: what ``campaigns status`` counts. Claiming the
  request removes it, and a run removes its own when it stops; ``runs`` (hash: run -> ms)
  is each waiting run's heartbeat, so the entries a killed process left are told apart.
* ``meta`` (hash): when the campaign began, its settings.

The claim is one script run by the server (atomic): it writes the claim only when the request
is free, else returns the holder's claim, so of any number of processes exactly one wins, and
that one sends. A process killed after its claim leaves ``attempt`` ("may have been placed"):
never dialled again automatically, only after reconciliation finds it was not placed.

Durability: a claim must survive a Redis crash, or a restarted server forgets it and a re-run
dials again. That needs ``appendonly yes`` with ``appendfsync always`` (Redis answers a write
only once it is fsynced); ``everysec`` can lose the last second of claims. ``open`` checks the
server's settings and warns (:class:`LedgerDurabilityWarning`) when they are weaker.

``admit`` is a lookup of ``state`` alone (what a run saw itself, the run remembers). A run on
the ledger object is bracketed by ``start_run`` (a fresh ``run_id``, which its claims and
waits carry) and ``end_run``. Every call that reaches Redis raises
:class:`LedgerUnavailableError` when it cannot (``_redis_errors``). The scripts are in
``_redis_scripts``, the reads for status and reconciliation in ``_redis_reads``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from talkstack_async._errors import ValidationError
from talkstack_async.campaigns.ledgers import _redis_scripts as scripts
from talkstack_async.campaigns.ledgers._protocol import ClaimLostError
from talkstack_async.campaigns.ledgers._records import Verdict, parse_time
from talkstack_async.campaigns.ledgers._redis_errors import Reaching
from talkstack_async.campaigns.ledgers._redis_reads import HEARTBEAT, CampaignReads

__all__ = ["LedgerDurabilityWarning", "RedisLedger", "campaign_prefix"]

try:
    import redis.asyncio as aioredis
except ImportError:  # pragma: no cover - the optional extra
    aioredis = None  # type: ignore[assignment]


_MAX_CONNECTIONS = 32  # per process: each command holds one only while it runs


class LedgerDurabilityWarning(UserWarning):
    """The Redis server may lose recent claims in a crash (see the module docstring)."""


_OPENING = Reaching("opening the ledger")
_LOOKING_UP = Reaching("looking a request up")
_CLAIMING = Reaching("claiming a request")
_RECORDING = Reaching("recording what became of a request")
_ENDING = Reaching("ending the run")


def campaign_prefix(campaign: str) -> str:
    """The key prefix of ``campaign`` (a name of letters, digits, ``-_.:``)."""
    if (
        not isinstance(campaign, str)
        or not campaign
        or len(campaign) > 200
        or not all(c.isalnum() or c in "-_.:" for c in campaign)
    ):
        raise ValidationError(
            "campaign", f"must be a name of letters, digits and -_.: (1-200), not {campaign!r}"
        )
    return f"talkstack:{{{campaign}}}:"


class RedisLedger(CampaignReads):
    """One campaign's ledger on a Redis server (``await RedisLedger.open(url, campaign)``).

    Args (of ``open``):
        url: ``redis://[:password@]host:port/db`` (``rediss://`` for TLS).
        campaign: The campaign's name: every process given the same name shares its ledger.
        expire_after: Seconds after the last write at which Redis drops the campaign's keys
            (None: kept until deleted).

    Every call that reaches Redis raises :class:`LedgerUnavailableError` when it cannot
    (chained from redis-py's error), and so do the futures of ``submit``.
    """

    def __init__(self, client: Any, campaign: str, expire_after: float | None) -> None:
        self._redis = client
        self.campaign = campaign
        self._prefix = campaign_prefix(campaign)
        names = ("state", "failed", "final", "meta", "waiting", "runs")
        self._keys = {name: self._prefix + name for name in names}
        self._expire = None if expire_after is None else int(expire_after)
        self._claim = client.register_script(scripts.CLAIM)
        self._result = client.register_script(scripts.RESULT)
        self._unwait = client.register_script(scripts.UNWAIT)
        self._waits: set[str] = set()  # the digests this run marked as waiting
        self._heart: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[None]] = set()
        self._running = False
        self._closed = False
        self.run_id = secrets.token_hex(6)
        """What this run's claims and records are stamped with (``start_run`` renews it)."""

    @classmethod
    async def open(
        cls,
        url: str,
        campaign: str,
        *,
        expire_after: float | None = None,
        check_durability: bool = True,
    ) -> RedisLedger:
        if aioredis is None:
            raise ValidationError(
                "ledger", "a Redis ledger needs redis-py: pip install 'talkstack[redis]'"
            )
        if expire_after is not None and (
            isinstance(expire_after, bool)
            or not isinstance(expire_after, (int, float))
            or expire_after < 1
        ):
            raise ValidationError("expire_after", f"must be seconds >= 1, not {expire_after!r}")
        campaign_prefix(campaign)
        # Blocking: many placements at once wait for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=_MAX_CONNECTIONS, timeout=30, decode_responses=True
        )
        client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
        ledger = cls(client, campaign, expire_after)
        try:
            with _OPENING:
                await client.ping()
                if check_durability:
                    await _check_durability(client)
                await client.hsetnx(ledger._keys["meta"], "created", _iso(time.time()))
        except BaseException:
            await client.aclose()
            raise
        return ledger

    # -- a run -------------------------------------------------------------------------------

    def start_run(self) -> str:
        """Begin a run on this ledger object: a fresh ``run_id`` (so a second run on the same
        object is another run for the claims and records). One run at a time per object."""
        if self._closed:
            raise ValidationError("ledger", "this RedisLedger is closed")
        if self._running:
            raise ValidationError(
                "ledger",
                f"this RedisLedger (campaign {self.campaign!r}) is in use by another dial_many "
                "run: one run at a time per ledger object (runs of one campaign at once each "
                "open their own RedisLedger)",
            )
        self._running = True
        self.run_id = secrets.token_hex(6)
        return self.run_id

    async def end_run(self) -> None:
        """End the run: wait for its writes, and the inputs it kept waiting wait no more.
        Idempotent; the run is over even when this raises LedgerUnavailableError."""
        if not self._running:
            return
        self._running = False
        await self.flush()
        await self._stop_waiting()

    # -- the dialer's side -------------------------------------------------------------------

    async def admit(self, digest: bytes) -> Verdict | str:
        """The request's durable state: ``Verdict.NEW`` (free to dial), or the sid of the call
        placed for it, or "" (claimed: may have been placed)."""
        with _LOOKING_UP:
            current = await self._redis.hget(self._keys["state"], digest.hex())
        if current is None:
            return Verdict.NEW
        return _verdict(current)

    def submit(self, record: Mapping[str, Any]) -> asyncio.Future[None]:
        future = asyncio.ensure_future(self._apply(record))
        self._pending.add(future)
        future.add_done_callback(_retrieved)
        future.add_done_callback(self._pending.discard)
        return future

    async def write(self, record: Mapping[str, Any]) -> None:
        await self.submit(record)

    async def _apply(self, record: Mapping[str, Any]) -> None:
        with _CLAIMING if record.get("event") == "attempt" else _RECORDING:
            await self._applied(record)

    async def _applied(self, record: Mapping[str, Any]) -> None:
        event, key = record.get("event"), str(record.get("key"))
        state, failed = self._keys["state"], self._keys["failed"]
        if event == "scheduled":
            await self._wait(key, str(record.get("why", "window")), record.get("at"))
        elif event == "attempt":
            claim = json.dumps(
                {
                    "s": "attempt",
                    "r": self.run_id,
                    "n": record.get("number"),
                    "t": int(time.time() * 1000),
                    **({"x": record["earlier"]} if record.get("earlier") else {}),
                },
                separators=(",", ":"),
            )
            self._waits.discard(key)
            held = await self._claim(
                keys=[state, failed, self._keys["waiting"]], args=[key, claim, self.run_id]
            )
            if held is not None:
                raise ClaimLostError(_verdict(held))
        elif event == "final":
            ended = {k: record.get(k) for k in ("status", "sid", "ended")}
            await self._redis.hset(self._keys["final"], key, json.dumps(ended))
        else:
            await self._result(
                keys=[state, failed],
                args=[
                    key,
                    str(event),
                    str(record.get("run", self.run_id)),
                    str(record.get("sid") or ""),
                    str(record.get("error") or ""),
                    int(time.time() * 1000),
                ],
            )
            if event == "failed" and record.get("until"):  # refused; sent again after until
                await self._wait(key, "backoff", record.get("until"))
        if self._expire is not None:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name in self._keys.values():
                    pipe.expire(name, self._expire)
                await pipe.execute()

    async def _wait(self, key: str, why: str, until: object) -> None:
        moment = parse_time(until)
        due = moment.timestamp() if moment is not None else time.time()
        entry = json.dumps({"w": why, "u": int(due * 1000), "r": self.run_id})
        self._waits.add(key)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys["waiting"], key, entry)
            pipe.hset(self._keys["runs"], self.run_id, int(time.time() * 1000))
            await pipe.execute()
        if self._heart is None or self._heart.done():
            self._heart = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        """Say this run is alive while it has inputs waiting (see ``waiting`` above)."""
        while self._waits and not self._closed:
            await asyncio.sleep(HEARTBEAT)
            with contextlib.suppress(Exception):  # a missed beat: the next one
                await self._redis.hset(self._keys["runs"], self.run_id, int(time.time() * 1000))

    async def flush(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._running = False
        try:
            await self.flush()
            await self._stop_waiting()
        finally:
            with _ENDING:
                await self._redis.aclose()

    async def _stop_waiting(self) -> None:
        """The inputs this run kept waiting wait no more (the run stopped)."""
        heart, self._heart = self._heart, None
        waits = sorted(self._waits)
        self._waits.clear()
        if heart is None and not waits:
            return  # the run kept nothing waiting: it has no heartbeat to remove
        if heart is not None:
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heart
        with _ENDING:
            for start in range(0, len(waits), 1000):
                await self._unwait(
                    keys=[self._keys["waiting"]], args=[self.run_id, *waits[start : start + 1000]]
                )
            await self._redis.hdel(self._keys["runs"], self.run_id)

    async def resolve(self, key: str, *, sid: str | None, note: str) -> None:
        if sid is not None:
            record = {"event": "placed", "key": key, "sid": sid, "run": ""}
        else:
            record = {"event": "failed", "key": key, "error": note, "run": ""}
        await self.write(record)


async def _check_durability(client: Any) -> None:
    """Warn when the server may lose recent claims in a crash (see the module docstring)."""
    try:
        settings = await client.config_get("append*")
    except Exception:  # CONFIG disabled (managed Redis): say so once
        warnings.warn(
            "could not read the Redis server's persistence settings (CONFIG GET is not "
            "allowed); claims are durable only with appendonly yes and appendfsync always",
            LedgerDurabilityWarning,
            stacklevel=3,
        )
        return
    if settings.get("appendonly") != "yes" or settings.get("appendfsync") != "always":
        warnings.warn(
            f"the Redis server has appendonly {settings.get('appendonly')!r}, appendfsync "
            f"{settings.get('appendfsync')!r}: a crash of the server may forget recent "
            "claims and a re-run would dial them again; configure appendonly yes and "
            "appendfsync always for the full promise",
            LedgerDurabilityWarning,
            stacklevel=3,
        )


def _verdict(held: str) -> str:
    """A claim as ``admit`` says it: the sid of a placed call, or "" (may have been placed)."""
    try:
        value = json.loads(held)
    except ValueError:
        return ""
    if value.get("s") == "placed" and value.get("sid"):
        return str(value["sid"])
    return ""


def _retrieved(future: asyncio.Future[None]) -> None:
    # The dialer reads every receipt it needs; one it abandoned (a cancelled run) must not
    # log "exception was never retrieved".
    if not future.cancelled():
        future.exception()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")
