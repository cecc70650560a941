"""What travels through a run: an input once checked (``Entry``), its redial chain, and the
attempt in hand (``Attempt``), as far as it got (read when a stop cuts it short)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from talkstack_async.models.call import PlacedCall
from talkstack_async.models.dial import CallRequest, DialAttempt, DialOutcome

__all__ = ["Attempt", "Chain", "Entry", "Receipt"]

Receipt = asyncio.Future[None]
"""A ledger write's future: done once the record is durable, or its write failed."""


@attrs.define(slots=True)
class Chain:
    """An input's attempts under a redial policy."""

    number: int = 0  # the attempt to make next (0: the first call)
    attempts: tuple[DialAttempt, ...] = ()
    earlier: PlacedCall | None = None  # resumed: attempt ``number``, placed, end not seen


@attrs.define(slots=True, eq=False)
class Entry:
    """An input read and checked, on its way to its one outcome."""

    index: int
    item: Any
    request: CallRequest
    digest: bytes
    chain: Chain | None = None
    # While it is held in the schedule: why ("window", "redial"), until when (the calendar
    # instant, for reports) and not before when (the schedule's monotonic time).
    why: str = ""
    due: datetime | None = None
    not_before: float = 0.0
    zones: tuple[ZoneInfo, ...] | None = None  # the recipient's, found once (a window)

    @property
    def key(self) -> str:
        return self.digest.hex()


@attrs.define(slots=True, eq=False)
class Attempt:
    """One placement of an entry: what the gate has seen to, and how far the send got."""

    key: str  # the attempt's ledger key, hex
    lease: Any = None  # the campaign's concurrency lease taken at the gate (a shared ledger)
    leases: Any = None  # where it is kept until the attempt ends (an AsyncExitStack)
    outcome: DialOutcome | None = None
    claim: Receipt | None = None  # the claim's ledger write (None: not claimed)
    claimed: bool = False  # the claim is durable and this run's
    result: Receipt | None = None  # the result's ledger write
    sent: bool = False  # once True, the request may have reached the server
    lost: str | None = None  # the verdict of the process that claimed it first
    slot_at: float = 0.0  # the local pacer's reservation (monotonic), and its epoch
    slot_epoch: int = -1
    room: bool = False  # the campaign's rate window had room when last looked at
    rate_taken: bool = False  # this send's entry in the campaign's rate window
    resend_at: float = 0.0  # after a refusal for the server's rate: not before (monotonic)
    refusals: int = 0
    held: bool = False  # handed to the schedule, which reports it from then on
    backing_off: bool = False
    ended_at: datetime | None = None  # when the call was seen to end (the run's clock)
    placed_at: datetime | None = None  # when it was sent (the run's clock)
