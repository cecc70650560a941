"""``dial_many(ledger=..., campaign=...)``: which ledger and pacing a run uses."""

from __future__ import annotations

import os
from typing import Any

from talkstack_async._errors import ValidationError
from talkstack_async.campaigns.ledgers._protocol import Ledger
from talkstack_async.campaigns.ledgers._redis import RedisLedger, campaign_prefix
from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing

__all__ = ["check_ledger_options", "open_ledger"]

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
