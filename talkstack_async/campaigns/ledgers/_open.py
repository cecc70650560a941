"""``dial_many(journal=...)`` / ``(ledger=..., campaign=...)``: which ledger and pacing a run
uses, and a run's beginning and end on it."""

from __future__ import annotations

import inspect
import os
from typing import Any

from talkstack_async._errors import ValidationError
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.campaigns.ledgers._protocol import Ledger
from talkstack_async.campaigns.ledgers._redis import RedisLedger, campaign_prefix
from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing

__all__ = [
    "begin_run",
    "check_ledger_options",
    "close_for_run",
    "end_run",
    "open_for_run",
    "open_ledger",
]

_SCHEMES = ("redis://", "rediss://", "unix://")


def check_ledger_options(ledger: object, campaign: object, journal: object) -> None:
    """Checked before anything is opened or sent."""
    if ledger is None:
        if campaign is not None:
            raise ValidationError("campaign", "a campaign name goes with ledger='redis://...'")
        return
    if journal is not None:
        raise ValidationError("ledger", "give journal (a file) or ledger, not both")
    if isinstance(ledger, str):
        if not ledger.startswith(_SCHEMES):
            raise ValidationError(
                "ledger", "must be a redis:// (or rediss://, unix://) URL or a Ledger object"
            )
        if campaign is None:
            raise ValidationError("campaign", "a Redis ledger needs the campaign's name")
        campaign_prefix(campaign)  # type: ignore[arg-type]
    elif isinstance(ledger, (os.PathLike, bytes)) or not isinstance(ledger, Ledger):
        raise ValidationError(
            "ledger", f"must be a redis:// URL or a Ledger object, not {type(ledger).__name__}"
        )


async def open_ledger(
    ledger: str | Ledger, campaign: str | None, *, rate: float | None, concurrency: int
) -> tuple[Ledger, RedisPacing | None, bool]:
    """The ledger, the campaign-wide pacing (Redis only), and whether the run closes it."""
    if isinstance(ledger, str):
        assert campaign is not None
        opened = await RedisLedger.open(ledger, campaign)
        await opened.set_meta(rate=rate or "", concurrency=concurrency)
        return opened, _pacing(opened, rate, concurrency), True
    if isinstance(ledger, RedisLedger):
        return ledger, _pacing(ledger, rate, concurrency), False
    return ledger, None, False


def _pacing(ledger: RedisLedger, rate: float | None, concurrency: int) -> RedisPacing:
    client: Any = ledger._redis
    return RedisPacing(client, ledger._prefix, rate=rate, concurrency=concurrency)


async def open_for_run(
    ledger: str | Ledger | None,
    campaign: str | None,
    journal: str | os.PathLike[str] | None,
    *,
    rate: float | None,
    concurrency: int,
) -> tuple[Ledger | None, RedisPacing | None, bool]:
    """A run's ledger (a journal file's, a Redis campaign's, the caller's, or none), its
    campaign-wide pacing, and whether the run closes the ledger."""
    if ledger is not None:
        return await open_ledger(ledger, campaign, rate=rate, concurrency=concurrency)
    if journal is not None:
        return await DialJournal.open(journal), None, True
    return None, None, True


async def begin_run(ledger: Ledger | None) -> None:
    """A run begins on ``ledger``: the SDK's ledgers give it its own id and refuse a second
    run at once on one object (a custom ledger without ``start_run`` is taken as it is)."""
    start = getattr(ledger, "start_run", None)
    if start is not None:
        await _maybe(start())


async def end_run(ledger: Ledger | None) -> None:
    end = getattr(ledger, "end_run", None)
    if end is not None:
        await _maybe(end())


async def close_for_run(ledger: Ledger | None, pacing: RedisPacing | None, owned: bool) -> None:
    """Everything the run wrote is flushed; what the run opened is closed."""
    if pacing is not None:
        await pacing.close()
    if ledger is None:
        return
    await ledger.flush()
    if owned:
        closing = ledger.close()
        if closing is not None:
            await closing


async def _maybe(result: object) -> None:
    if inspect.isawaitable(result):
        await result
