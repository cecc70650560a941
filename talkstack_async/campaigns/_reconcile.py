"""Reconciling unknowns: settle "may have been placed" from the call history.

A crash (or a lost answer) leaves a request claimed with no result: it may have been placed.
The API has no idempotency key, so only the call history can tell. For each such request,
``reconcile`` asks the history for calls to its number (``to``), from the agent's number when
given (``from_``), started from the day before the attempt on (the filter takes UTC days; the
day before absorbs clocks and midnight), and takes the earliest call that started no earlier
than ``skew`` before the attempt and that no other unknown of this pass took (nor, for a
redial, one of the input's earlier calls, which its attempt record names):

* found: recorded as placed, with that call's sid (a re-run skips it, as placed);
* not found, and the attempt is older than ``grace``: recorded as certainly not placed, so a
  re-run dials it. How soon a placed call appears in the history is not documented, so the
  grace period is configurable; the default (15 minutes) is cautious;
* not found, attempt younger than ``grace``: left as it is (``pending``): run it again later.

It works on both ledgers (the file journal while no run holds it, and the Redis ledger while
the campaign runs: an attempt in flight is younger than any sensible grace period).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

import attrs

from talkstack_async._errors import ValidationError
from talkstack_async._validation import check_id, check_phone_number
from talkstack_async.campaigns.ledgers._protocol import Ledger, Unknown

if TYPE_CHECKING:
    from talkstack_async._client import AsyncTalkstack

__all__ = ["DEFAULT_GRACE", "ReconcileResult", "Reconciled", "reconcile"]

DEFAULT_GRACE = timedelta(minutes=15)
_SKEW = timedelta(minutes=2)


@attrs.frozen
class Reconciled:
    """What reconciliation found for one unknown request."""

    unknown: Unknown
    verdict: Literal["placed", "not_placed", "pending"]
    sid: str | None = None


@attrs.frozen
class ReconcileResult:
    items: tuple[Reconciled, ...]

    def count(self, verdict: str) -> int:
        return sum(1 for item in self.items if item.verdict == verdict)

    @property
    def placed(self) -> int:
        return self.count("placed")

    @property
    def not_placed(self) -> int:
        return self.count("not_placed")

    @property
    def pending(self) -> int:
        return self.count("pending")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def reconcile(
    client: AsyncTalkstack,
    ledger: Ledger,
    *,
    project_id: str,
    from_number: str | None = None,
    grace: timedelta = DEFAULT_GRACE,
    skew: timedelta = _SKEW,
    now: Callable[[], datetime] = _utcnow,
) -> ReconcileResult:
    """Settle every unknown of ``ledger`` from ``project_id``'s call history (see the module).

    Args:
        client: A client of the account that placed the calls.
        ledger: The campaign's ledger (an open ``DialJournal`` or ``RedisLedger``).
        project_id: The project the campaign dialled from.
        from_number: The agent's number, to narrow the lookup (recommended).
        grace: How long after an attempt its absence from the history proves it was not
            placed.
        skew: How much earlier than the attempt a call may seem to start (clocks differ).
        now: The clock (tests pass a fake one).
    """
    project_id = check_id("project_id", project_id)
    if from_number is not None:
        from_number = check_phone_number("from_number", from_number)
    for name, value in (("grace", grace), ("skew", skew)):
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise ValidationError(name, f"must be a timedelta >= 0, not {value!r}")
    unknowns = [item async for item in ledger.unknowns()]
    taken: set[str] = set()
    found: list[Reconciled] = []
    by_number: dict[str, list[Unknown]] = {}
    for item in unknowns:
        by_number.setdefault(item.number, []).append(item)
    for number, items in by_number.items():
        items.sort(key=lambda u: u.attempted_at)
        earliest = items[0].attempted_at
        calls = [
            call
            async for call in client.calls.history(
                project_id=project_id,
                to=number,
                from_=from_number,
                started_after=(earliest - timedelta(days=1)).date(),
                page_size=100,
            )
            if call.sid and call.date is not None
        ]
        calls.sort(key=lambda call: call.date)  # type: ignore[arg-type, return-value]
        for item in items:
            match = next(
                (
                    call
                    for call in calls
                    if call.sid not in taken
                    and call.sid not in item.earlier
                    and call.date is not None
                    and call.date >= item.attempted_at - skew
                ),
                None,
            )
            if match is not None and match.sid is not None:
                taken.add(match.sid)
                await ledger.resolve(item.key, sid=match.sid, note="found in call history")
                found.append(Reconciled(item, "placed", match.sid))
            elif now() - item.attempted_at >= grace:
                note = f"not in call history {grace} after the attempt: not placed"
                await ledger.resolve(item.key, sid=None, note=note)
                found.append(Reconciled(item, "not_placed"))
            else:
                found.append(Reconciled(item, "pending"))
    return ReconcileResult(tuple(found))
