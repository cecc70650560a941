"""A Redis campaign's state, readable from any machine while it runs."""

from __future__ import annotations

import time
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
    rate: float | None = None  # the campaign's rate now (cut below the setting after 429s)
    rate_refusals: int = 0  # 429s (and 503s with Retry-After) the campaign has met
    paused_for: float = 0.0  # seconds left of the server's last Retry-After

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
        settings = await ledger.meta()
        pace = await ledger._redis.hgetall(ledger._prefix + "pace")
        configured = float(settings["rate"]) if settings.get("rate") else None
        rate = float(pace["rate"]) if "rate" in pace else configured
        paused = float(pace.get("paused_until", 0)) / 1000 - time.time()
        return CampaignStatus(
            campaign=campaign,
            placed=counts["placed"],
            in_flight=in_flight,
            may_have_been_placed=claimed - in_flight,
            not_placed=counts["failed"],
            calls_ended=counts["finished"],
            settings=settings,
            rate=rate,
            rate_refusals=int(pace.get("refusals", 0)),
            paused_for=max(0.0, paused),
        )
    finally:
        await ledger.close()
