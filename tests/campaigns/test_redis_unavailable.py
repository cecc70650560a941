"""Redis going away: every call of the Redis ledger, the campaign's pacing and its shared rate
raises ``LedgerUnavailableError`` (a ``TalkstackError``, chained from redis-py's error, with
no URL in it: a URL may hold a password), and the futures of ``submit`` fail with it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from talkstack_async import RateLimitPolicy, TalkstackError
from talkstack_async.campaigns import LedgerUnavailableError, RedisLedger
from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing
from tests.campaigns.conftest import RedisServer


@pytest.fixture
def own_redis(redis_server: RedisServer, tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to stop midway (the shared one stays up)."""
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def _unavailable(error: BaseException, *secrets: str) -> None:
    assert isinstance(error, LedgerUnavailableError)
    assert isinstance(error, TalkstackError)
    assert "could not be reached" in str(error)
    assert isinstance(error.__cause__, (redis.exceptions.RedisError, OSError))
    for secret in secrets:
        assert secret not in str(error)
        assert secret not in repr(error)


async def _each_raises_it(calls: dict[str, Any], url: str) -> None:
    for name, call in calls.items():
        try:
            await call()
        except LedgerUnavailableError as error:
            _unavailable(error, url)
        else:
            pytest.fail(f"{name} did not raise LedgerUnavailableError")


async def test_opening_an_unreachable_ledger_says_so_and_never_shows_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    url = f"redis://:s3cret-pass@127.0.0.1:{port}/0"
    with pytest.raises(LedgerUnavailableError) as caught:
        await RedisLedger.open(url, "gone")
    _unavailable(caught.value, url, "s3cret-pass")
    assert isinstance(caught.value.__cause__, redis.exceptions.ConnectionError)


async def test_every_call_of_the_ledger_raises_it_once_redis_is_gone(
    own_redis: RedisServer,
) -> None:
    ledger = await RedisLedger.open(own_redis.url, "gone")
    digest = bytes(range(16))
    ledger.start_run()
    await ledger.write({"event": "scheduled", "key": digest.hex(), "why": "window", "at": None})
    own_redis.stop()
    try:
        calls: dict[str, Any] = {
            "admit": lambda: ledger.admit(digest),
            "submit (a claim)": lambda: ledger.submit(
                {"event": "attempt", "key": digest.hex(), "index": 0, "number": "+14155550100"}
            ),
            "submit (a result)": lambda: ledger.submit(
                {"event": "placed", "key": digest.hex(), "sid": "CA1"}
            ),
            "write (final)": lambda: ledger.write(
                {"event": "final", "key": digest.hex(), "status": "completed", "sid": "CA1"}
            ),
            "resolve": lambda: ledger.resolve(digest.hex(), sid=None, note="not found"),
            "ended": lambda: ledger.ended(digest),
            "counts": ledger.counts,
            "waiting": ledger.waiting,
            "meta": ledger.meta,
            "pace": ledger.pace,
            "set_meta": lambda: ledger.set_meta(rate=5),
            "end_run": ledger.end_run,
        }
        await _each_raises_it(calls, own_redis.url)
        with pytest.raises(LedgerUnavailableError):
            [u async for u in ledger.unknowns()]
        ledger.start_run()  # the run ended all the same: the object takes the next one
    finally:
        await ledger.close()


async def test_the_pacing_and_the_shared_rate_raise_it_once_redis_is_gone(
    own_redis: RedisServer,
) -> None:
    client = aioredis.Redis.from_url(own_redis.url)
    pacing = RedisPacing(client, "talkstack:{gone}:", rate=5, concurrency=2, lease_seconds=1)
    adaptive = pacing.adaptive(RateLimitPolicy())
    own_redis.stop()
    try:
        calls: dict[str, Any] = {
            "slot": lambda: pacing.slot().__aenter__(),
            "wait_for_rate": lambda: pacing.wait_for_rate(5),
            "in_flight": pacing.in_flight,
            "refresh": adaptive.refresh,
            "rate": adaptive.rate,
            "wait_for_pause": adaptive.wait_for_pause,
            "refused": lambda: adaptive.refused(1.0),
            "accepted": adaptive.accepted,
        }
        await _each_raises_it(calls, own_redis.url)
    finally:
        await pacing.close()
        await client.aclose()


async def test_a_lease_that_cannot_be_given_back_fails_a_block_that_went_well_only(
    own_redis: RedisServer,
) -> None:
    """A block that raised keeps its own error (the lease expires on its own); one that went
    well learns that the campaign's ledger is gone."""
    client = aioredis.Redis.from_url(own_redis.url)
    pacing = RedisPacing(client, "talkstack:{gone}:", rate=None, concurrency=2, lease_seconds=1)
    try:

        async def place(error: Exception | None) -> None:
            async with pacing.slot():
                own_redis.stop()
                if error is not None:
                    raise error

        with pytest.raises(ValueError, match="the placement's own"):
            await place(ValueError("the placement's own error"))
        own_redis.start()
        with pytest.raises(LedgerUnavailableError):
            await place(None)
    finally:
        await pacing.close()
        await client.aclose()
