"""What ``dial_many`` asks of a ledger: the file journal and the Redis ledger both answer it.

A ledger keeps, per request (named by its digest), whether it was placed, may have been placed,
or is free to dial, and it makes the claim before a placement durable and exclusive:

* ``admit(digest)``: a lookup of the durable state: ``Verdict.NEW`` (free to dial), or an
  earlier verdict: the sid of the call placed, or ``""`` for "may have been placed". May be a
  coroutine (a shared ledger looks it up). What a run has seen itself is the run's memory, not
  the ledger's (a custom ledger may still answer ``Verdict.REPEAT``: "this run saw it").
* ``submit(record)``: make a record durable; the future is done once it is. Records are the
  journal's (``attempt``, ``placed``, ``failed``, ``unknown``, ``not_attempted``, ``final``).
  The ``attempt`` record is the claim: on a shared ledger another process may hold it already,
  and the future then fails with :class:`ClaimLostError` carrying that holder's verdict; the
  request must not be sent.
* ``write(record)``, ``flush()``, ``close()`` (may be a coroutine).
* ``unknowns()`` and ``resolve(...)``: what reconciliation reads and writes
  (:mod:`talkstack_async.campaigns._reconcile`).
* ``ended(digest)`` (only a ledger used with a redial policy needs it: ``RedialLedger``): how
  the request's call ended, from its ``final`` record (a status and when), or None; a redial
  policy resumes its schedule from it.
* ``scheduled`` records say an input waits (for its window, its redial, the server's
  ``Retry-After``): the file journal keeps them for the reader, the Redis ledger counts them
  for ``campaigns status``; a resume derives its schedule again from the rules, not from them.

The SDK's two ledgers also mark a run's span (not part of the protocol: a custom ledger need
not): ``start_run()`` gives the run a fresh ``run_id`` (what its records and claims are stamped
with; a second run on the same object is another run) and refuses a second run while one is
active on the object; ``await end_run()`` ends it (idempotent).

A ledger that cannot reach its store (the Redis server) raises :class:`LedgerUnavailableError`
from every call that needed it, and the futures of ``submit`` fail with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from talkstack_async._errors import TalkstackError
from talkstack_async.campaigns.ledgers._records import Ended, Verdict

__all__ = [
    "ClaimLostError",
    "Ledger",
    "LedgerUnavailableError",
    "RedialLedger",
    "Unknown",
    "Verdict",
]


class ClaimLostError(TalkstackError):
    """Another process claimed the request first (a shared ledger): do not send it.

    ``verdict`` is what that process's claim says: a sid, or "" (may have been placed)."""

    def __init__(self, verdict: str) -> None:
        super().__init__("another process of the campaign claimed this request first")
        self.verdict = verdict


class LedgerUnavailableError(TalkstackError):
    """The campaign's ledger could not be reached (its Redis server is down or unreachable, or
    failed the command): what it was asked may or may not have been done. The error it got is
    chained (``__cause__``); the message never holds the ledger's URL (it may hold a
    password)."""


@attrs.frozen
class Unknown:
    """A request that may have been placed: claimed, and no result recorded since."""

    key: str  # the digest, hex
    number: str = attrs.field(repr=False)  # personal data: not in reprs
    attempted_at: datetime
    state: str  # "attempt" (no result ever written: a crash) or "unknown" (the answer was lost)
    earlier: tuple[str, ...] = ()  # a redial: the sids of the input's earlier calls


@runtime_checkable
class Ledger(Protocol):
    """See the module docstring."""

    def admit(self, digest: bytes) -> Verdict | str | Awaitable[Verdict | str]: ...

    def submit(self, record: Mapping[str, Any]) -> asyncio.Future[None]: ...

    async def write(self, record: Mapping[str, Any]) -> None: ...

    async def flush(self) -> None: ...

    def close(self) -> Awaitable[None] | None: ...

    def unknowns(self) -> AsyncIterator[Unknown]: ...

    async def resolve(self, key: str, *, sid: str | None, note: str) -> None: ...


@runtime_checkable
class RedialLedger(Ledger, Protocol):
    """A ledger a redial policy can resume from (both of the SDK's are)."""

    async def ended(self, digest: bytes) -> Ended | None: ...
