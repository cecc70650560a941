"""``talkstack calls reconcile`` and ``talkstack campaigns status``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

import anyio

from talkstack_async import ValidationError
from talkstack_async.campaigns import ReconcileResult, RedisLedger, reconcile
from talkstack_async.campaigns._status import CampaignStatus, campaign_status, journal_status
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.campaigns.ledgers._protocol import Ledger
from talkstack_sync.cli._credentials import open_client

__all__ = ["reconcile_command", "status_command"]


async def _open(args: argparse.Namespace) -> Ledger:
    if args.ledger:
        if not args.campaign:
            raise ValidationError("campaign", "--ledger needs --campaign NAME")
        return await RedisLedger.open(args.ledger, args.campaign)
    if args.journal:
        return await DialJournal.open(args.journal)
    raise ValidationError("journal", "give --journal FILE or --ledger URL --campaign NAME")


def reconcile_command(args: argparse.Namespace) -> int:
    """Look each "may have been placed" request up in the call history and record it."""

    async def run(client: Any) -> ReconcileResult:
        ledger = await _open(args)
        try:
            return await reconcile(
                client,
                ledger,
                project_id=args.project,
                from_number=args.from_number,
                grace=timedelta(minutes=args.grace_minutes),
            )
        finally:
            closing = ledger.close()
            if closing is not None:
                await closing

    with open_client(args) as client:
        result: ReconcileResult = client._portal.call(run, client._async)
    print(
        f"{len(result.items):,} unknown: {result.placed:,} placed (found in the call history), "
        f"{result.not_placed:,} not placed (a re-run dials them), {result.pending:,} too recent "
        f"to tell (run reconcile again after {args.grace_minutes:g} minutes)"
    )
    return 0


def status_command(args: argparse.Namespace) -> int:
    """Counts of a campaign while it runs: a Redis one (any machine) or a journal file."""
    if args.journal:
        if args.ledger or args.campaign:
            raise ValidationError("journal", "give --journal FILE, or --ledger URL and NAME")
        status = journal_status(args.journal)
    elif args.ledger and args.campaign:
        status = anyio.run(campaign_status, args.ledger, args.campaign)
    else:
        raise ValidationError("ledger", "give --ledger URL and the campaign's NAME, or --journal")
    if args.format == "json":
        json.dump(status.to_dict(), sys.stdout)
        sys.stdout.write("\n")
        return 0
    for line in _status_lines(status):
        print(line)
    return 0


def _status_lines(status: CampaignStatus) -> list[str]:
    running = {True: " (running)", False: " (no run holds it now)", None: ""}[status.running]
    lines = [
        f"campaign {status.campaign}{running}: {status.placed:,} placed, {status.in_flight:,} "
        f"in flight, {status.may_have_been_placed:,} may have been placed, "
        f"{status.not_placed:,} not placed, {status.calls_ended:,} calls ended"
    ]
    waits = [
        f"{count:,} {what}"
        for count, what in (
            (status.waiting_for_window, "waiting for a calling window"),
            (status.waiting_to_redial, "waiting to redial"),
            (status.backing_off, "backing off (refused for the server's rate)"),
        )
        if count
    ]
    if waits:
        due = f"; next due {status.next_due:%Y-%m-%d %H:%M} UTC" if status.next_due else ""
        lines.append("  " + ", ".join(waits) + due)
    if status.stale_waits:
        lines.append(
            f"  {status.stale_waits:,} input(s) were waiting in a run that stopped (killed?): "
            "a re-run takes them up"
        )
    settings = status.settings
    rate = "unlimited" if status.rate is None else f"{status.rate:g}/s"
    if settings:
        lines.append(f"  rate now {rate} (set: {settings.get('rate') or 'unlimited'}), "
                     f"concurrency {settings.get('concurrency')}")  # fmt: skip
    elif status.rate is not None:
        lines.append(f"  rate after the last refusal {rate}")
    if status.rate_refusals:
        waiting = f", backing off for {status.paused_for:.1f} s" if status.paused_for else ""
        lines.append(
            f"  the server refused {status.rate_refusals:,} placement(s) for its rate{waiting}"
        )
    if status.may_have_been_placed:
        lines.append("  run 'talkstack calls reconcile' to settle those that may have been placed")
    return lines
