"""A Redis campaign's state, readable from any machine while it runs."""

from __future__ import annotations

from typing import Any

import attrs

from talkstack_async.campaigns._pacing import RedisPacing
from talkstack_async.campaigns._redis import RedisLedger

__all__ = ["CampaignStatus", "campaign_status"]


@attrs.frozen
class CampaignStatus:
    """Counts over the campaign's requests (each is in exactly one of the first four)."""

    campaign: str
    placed: int
    in_flight: int  # claimed by a live process, answer not in yet
    may_have_been_placed: int  # claimed, no result, no live lease: reconcile settles them
    not_placed: int  # certainly not placed (a re-run dials them)
    calls_ended: int  # with wait_until_finished: how many calls ended
    settings: dict[str, str] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


async def campaign_status(url: str, campaign: str) -> CampaignStatus:
    ledger = await RedisLedger.open(url, campaign, check_durability=False)
    try:
        counts = await ledger.counts()
        pacing = RedisPacing(ledger._redis, ledger._prefix, rate=None, concurrency=1)
        live = await pacing.in_flight()
        claimed = counts["attempt"] + counts["unknown"]
        in_flight = min(live, counts["attempt"])
        return CampaignStatus(
            campaign=campaign,
            placed=counts["placed"],
            in_flight=in_flight,
            may_have_been_placed=claimed - in_flight,
            not_placed=counts["failed"],
            calls_ended=counts["finished"],
            settings=await ledger.meta(),
        )
    finally:
        await ledger.close()
