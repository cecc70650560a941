"""Outcomes, and what a re-run does with each.

Every outcome is built here, so each says what a re-run with the same ledger will do:
``PLACED`` and ``UNKNOWN`` and ``SKIPPED`` are skipped by a re-run, ``FAILED`` and
``NOT_ATTEMPTED`` are dialled by it. When the ledger failed before the record that makes
that true was written, :func:`as_journalled` restates the outcome as what the ledger will
actually make a re-run do.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import attrs

from talkstack_async._errors import (
    APIConnectionError,
    APIResponseError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    DialInterruptedError,
    InternalServerError,
    JournalWriteError,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    TalkstackError,
)
from talkstack_async.campaigns._state import Attempt, Chain, Entry, Receipt
from talkstack_async.campaigns.ledgers._records import result_record
from talkstack_async.campaigns.policies._rate_limit import AdaptiveRate, is_rate_refusal
from talkstack_async.campaigns.policies._redial import RedialPolicy
from talkstack_async.models.call import PlacedCall
from talkstack_async.models.dial import (
    CallRequest,
    DialAttempt,
    DialOutcome,
    DialProgress,
    DialStatus,
)

__all__ = [
    "as_journalled",
    "chained",
    "ends",
    "journalled",
    "may_have_reached_server",
    "of_entry",
    "of_item",
    "progress_of",
    "redial_due",
    "refuses_every_request",
    "result_of",
    "sids",
    "stopped",
    "with_attempt",
]


def of_item(
    index: int, item: Any, status: DialStatus, detail: str, error: TalkstackError | None = None
) -> DialOutcome:
    """The outcome of an input that never became an entry (invalid, or not read in time)."""
    return DialOutcome(index=index, request=item, status=status, error=error, detail=detail)


def of_entry(
    entry: Entry,
    status: DialStatus,
    detail: str,
    *,
    error: TalkstackError | None = None,
    call: PlacedCall | None = None,
) -> DialOutcome:
    """An entry's outcome, with its attempts so far (a redial policy)."""
    chain = entry.chain
    attempts = chain.attempts if chain is not None else ()
    return DialOutcome(
        index=entry.index,
        request=entry.item,
        status=status,
        number=entry.request.number,
        key=entry.key,
        call=call,
        error=error,
        detail=detail,
        attempts=attempts,
    )


def chained(outcome: DialOutcome, chain: Chain | None, detail: str) -> DialOutcome:
    """``outcome`` with the input's attempts (a redial policy) and ``detail``."""
    if chain is None or not chain.attempts:
        return outcome
    return attrs.evolve(outcome, attempts=chain.attempts, detail=detail)


def sids(chain: Chain | None) -> tuple[str, ...]:
    """The sids of an input's earlier calls (none before its first)."""
    if chain is None:
        return ()
    return tuple(a.call.sid for a in chain.attempts if a.call is not None)


def ends(attempts: tuple[DialAttempt, ...]) -> str:
    """How an input's calls went: "3 attempts: busy, no-answer, completed"."""
    went = ", ".join(a.ended or a.status.value for a in attempts)
    return f"{len(attempts)} attempt{'s' if len(attempts) > 1 else ''}: {went}"


def journalled(entry: Entry, sid: str, other: bool = False) -> DialOutcome:
    """The outcome of a request an earlier run placed (``sid``) or may have placed (""), or,
    ``other``, that another process of the campaign claimed just before this one could."""
    if sid:
        call = PlacedCall(sid=sid, to=entry.request.number)
        detail = "placed by another process (ledger)" if other else "placed by an earlier run"
        return of_entry(entry, DialStatus.SKIPPED, detail, call=call)
    if other:
        detail = "claimed by another process of the campaign, which is placing it"
    else:
        detail = (
            "attempted by an earlier run that did not learn the result; it may have been placed"
        )
    return of_entry(entry, DialStatus.SKIPPED, detail)


def stopped(entry: Entry, sent: bool, detail: str) -> DialOutcome:
    """The outcome of an attempt a stop or a failure cut short, as far as it got."""
    if not sent:
        return of_entry(entry, DialStatus.NOT_ATTEMPTED, detail)
    number = entry.request.number
    return of_entry(
        entry,
        DialStatus.UNKNOWN,
        "run stopped while the request was in flight",
        error=DialInterruptedError(f"stopped while placing the call to {number}"),
    )


def result_of(key: str, outcome: DialOutcome) -> dict[str, Any]:
    """The ledger record of an attempt's outcome."""
    status = outcome.status
    if status is DialStatus.PLACED or status is DialStatus.FAILED:
        sid = outcome.call.sid if outcome.call is not None else None
        error = f"{type(outcome.error).__name__}: {outcome.error}" if outcome.error else ""
        return result_record(key, status.value, sid=sid, error=error)
    error = str(outcome.error) if outcome.error else ""
    return result_record(key, status.value, error=error)


def _on_disk(receipt: Receipt | None) -> bool | None:
    """Whether a ledger write is durable: True, False (failed and rolled back, or never
    made), or None (unknown: the write failed and could not be rolled back, or never
    finished)."""
    if receipt is None:
        return False
    if not receipt.done() or receipt.cancelled():
        return None
    error = receipt.exception()
    if error is None:
        return True
    return False if isinstance(error, JournalWriteError) and error.rolled_back else None


def as_journalled(outcome: DialOutcome, claim: Receipt | None, last: Receipt | None) -> DialOutcome:
    """``outcome`` restated, when the ledger failed, as what a re-run will do with it.

    A re-run skips a request whose claim is durable unless a later record says it was
    certainly not placed. So when that later record did not make it, the outcome is
    ``UNKNOWN`` (a re-run skips it), with the truth in its detail; when the claim was rolled
    back, ``NOT_ATTEMPTED`` (a re-run dials it) is true as it stands.
    """
    if claim is None:
        return outcome  # no ledger, or stopped before anything was written
    status = outcome.status
    if status is DialStatus.NOT_ATTEMPTED:
        claimed = _on_disk(claim)
        if claimed is False or (claimed is True and _on_disk(last) is True):
            return outcome
        detail = (
            "not sent; but the journal failed and may still hold its attempt, so a re-run "
            "with it may skip it as 'may have been placed': dial it again yourself"
        )
    elif status is DialStatus.FAILED and _on_disk(last) is not True:
        detail = (
            f"certainly not placed ({outcome.detail}); but the journal failed before "
            "recording that, so a re-run with it skips it: dial it again yourself"
        )
    else:
        return outcome  # PLACED and UNKNOWN: a re-run skips them, as they say
    return attrs.evolve(outcome, status=DialStatus.UNKNOWN, detail=detail)


def may_have_reached_server(error: TalkstackError) -> bool:
    """False only when the server certainly did not place the call."""
    if isinstance(error, APIConnectionError):
        return error.request_sent
    if is_rate_refusal(error):
        return False  # 429, or 503 with Retry-After: refused unprocessed
    if isinstance(error, (InternalServerError, APIResponseError)):
        return True  # a 5xx may follow the placement; a 2xx with a bad body means placed
    if isinstance(error, APIStatusError):
        return False  # 4xx: refused unprocessed
    return False  # raised by this SDK before sending (closed client, missing credentials)


# The API answers 400 "project does not exist." for a missing project (404 for an agent).
_MISSING_PARENT = re.compile(r"\b(project|agent)\b.*\b(does not exist|not found)", re.IGNORECASE)


def refuses_every_request(
    error: TalkstackError, request: CallRequest, project_id: str | None, agent_id: str | None
) -> bool:
    """A refusal that would repeat for every input: the credentials (401, 403, none), or
    the run's own project or agent missing (a row naming its own may just have a typo)."""
    if isinstance(error, (AuthenticationError, PermissionDeniedError, MissingCredentialsError)):
        return True
    if request.project_id != project_id or request.agent_id != agent_id:
        return False
    if isinstance(error, NotFoundError):
        return True
    return isinstance(error, BadRequestError) and bool(_MISSING_PARENT.search(error.message))


def with_attempt(outcome: DialOutcome, entry: Entry, p: Attempt) -> DialOutcome:
    """Under a redial policy: ``outcome`` with attempt ``p`` added to the input's attempts."""
    chain = entry.chain = entry.chain or Chain()
    final = outcome.final
    attempt = DialAttempt(
        chain.number,
        p.key,
        outcome.status,
        outcome.call,
        str(final.status) if final is not None and final.status is not None else None,
        p.ended_at,
        outcome.error or outcome.final_error,
        p.placed_at,
    )
    chain.attempts += (attempt,)
    detail = outcome.detail
    if len(chain.attempts) > 1:
        detail = f"{detail}; {ends(chain.attempts)}" if detail else ends(chain.attempts)
    return attrs.evolve(outcome, attempts=chain.attempts, detail=detail)


def redial_due(policy: RedialPolicy, outcome: DialOutcome, ended: datetime) -> datetime | None:
    """When the input of ``outcome`` (its call ended at ``ended``) is dialled again; None: its
    calls are done."""
    final = outcome.final
    if outcome.status is not DialStatus.PLACED or final is None or final.status is None:
        return None
    return policy.next_attempt(str(final.status), len(outcome.attempts) - 1, ended)


def progress_of(
    outcome: DialOutcome,
    *,
    read: int,
    in_flight: int,
    totals: dict[DialStatus, int],
    adaptive: AdaptiveRate | None,
    rate: float | None,
    waits: dict[str, int],
    next_due: datetime | None,
) -> DialProgress:
    """What the ``progress`` callback is told after ``outcome``."""
    return DialProgress(
        last=outcome,
        read=read,
        in_flight=in_flight,
        placed=totals[DialStatus.PLACED],
        failed=totals[DialStatus.FAILED],
        unknown=totals[DialStatus.UNKNOWN],
        skipped=totals[DialStatus.SKIPPED],
        not_attempted=totals[DialStatus.NOT_ATTEMPTED],
        backing_off=adaptive.backing_off if adaptive is not None else 0,
        rate=adaptive.current if adaptive is not None else rate,
        waiting_for_window=waits["window"],
        next_window=next_due,
        waiting_to_redial=waits["redial"],
    )
