"""Campaigns beyond one process: ledgers, campaign-wide pacing, reconciliation.

``dial_many(..., ledger="redis://host:6379/0", campaign="spring-reminders")`` runs one campaign
from any number of processes on any machines: each request is claimed by exactly one of them
before it is sent, and ``rate`` and ``concurrency`` hold for the campaign as a whole. The file
journal (``journal=``) is the single-process ledger. ``reconcile`` settles what a crash left
as "may have been placed" by looking it up in the call history. Both ledgers carry the
policies that follow the server and the clock: pacing that backs off on 429s
(``RateLimitPolicy``), calling windows in the recipient's time (``CallingWindow``) and
redials (``RedialPolicy``); ``campaign_status`` / ``journal_status`` show a campaign's state.
"""

from talkstack_async.campaigns._reconcile import Reconciled, ReconcileResult, reconcile
from talkstack_async.campaigns._status import CampaignStatus, campaign_status, journal_status
from talkstack_async.campaigns.ledgers._protocol import (
    ClaimLostError,
    Ledger,
    LedgerUnavailableError,
    Unknown,
)
from talkstack_async.campaigns.ledgers._redis import LedgerDurabilityWarning, RedisLedger

__all__ = [
    "CampaignStatus",
    "ClaimLostError",
    "Ledger",
    "LedgerDurabilityWarning",
    "LedgerUnavailableError",
    "ReconcileResult",
    "Reconciled",
    "RedisLedger",
    "Unknown",
    "campaign_status",
    "journal_status",
    "reconcile",
]
