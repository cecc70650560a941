"""``talkstack calls reconcile`` and ``talkstack campaigns status``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

import anyio

from talkstack_async import ValidationError
from talkstack_async._journal import DialJournal
from talkstack_async.campaigns import ReconcileResult, RedisLedger, reconcile
from talkstack_async.campaigns._ledger import Ledger
from talkstack_async.campaigns._status import campaign_status
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
    """Counts of a Redis campaign, readable from any machine while it runs."""
    status = anyio.run(campaign_status, args.ledger, args.campaign)
    if args.format == "json":
        json.dump(status.to_dict(), sys.stdout)
        sys.stdout.write("\n")
        return 0
    print(
        f"campaign {status.campaign}: {status.placed:,} placed, {status.in_flight:,} in flight, "
        f"{status.may_have_been_placed:,} may have been placed, {status.not_placed:,} not "
        f"placed, {status.calls_ended:,} calls ended"
    )
    settings = status.settings
    rate = "unlimited" if status.rate is None else f"{status.rate:g}/s"
    print(f"  rate now {rate} (set: {settings.get('rate') or 'unlimited'}), concurrency "
          f"{settings.get('concurrency')}")  # fmt: skip
    if status.rate_refusals:
        waiting = f", backing off for {status.paused_for:.1f} s" if status.paused_for else ""
        print(f"  the server refused {status.rate_refusals:,} placement(s) for its rate{waiting}")
    if status.may_have_been_placed:
        print("  run 'talkstack calls reconcile' to settle those that may have been placed")
    return 0
