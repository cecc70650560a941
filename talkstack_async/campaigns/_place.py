"""One attempt of one input: through the gate, claimed, sent, watched to its end, recorded.

The loop in :meth:`Placements._through_gate` asks the gate and does what it answers (wait,
claim, take the campaign's rate, give the input to the schedule) until the answer is ``GO``;
then the request is sent at once. Placements are never retried (the transport never resends
them either): a failure that may have reached the server is ``UNKNOWN``, one that certainly
did not is ``FAILED``. The one exception is a refusal for the server's rate (429, or 503
with ``Retry-After``): certainly not placed, it is recorded so, the run's pause is set
(``policies._rate_limit``), and the attempt goes back to the gate, which claims it again
before it is resent.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import attrs

from talkstack_async._errors import TalkstackError
from talkstack_async.campaigns._gate import Kind
from talkstack_async.campaigns._outcomes import (
    as_journalled,
    journalled,
    may_have_reached_server,
    of_entry,
    redial_due,
    refuses_every_request,
    result_of,
    sids,
    stopped,
    with_attempt,
)
from talkstack_async.campaigns._state import Attempt, Entry
from talkstack_async.campaigns.ledgers._protocol import ClaimLostError
from talkstack_async.campaigns.ledgers._records import attempt_record, final_record, result_record
from talkstack_async.campaigns.policies._rate_limit import is_rate_refusal
from talkstack_async.campaigns.policies._redial import attempt_digest
from talkstack_async.models.dial import DialOutcome, DialStatus

if TYPE_CHECKING:
    from talkstack_async.campaigns._run import Run

__all__ = ["Placements"]


class Placements:
    def __init__(self, run: Run) -> None:
        self._run = run
        self._ledger = run.ledger
        self._gate = run.gate
        self._send_call = run.place_call
        self._watch_call = run.watch
        self._adaptive = run.adaptive
        self._redial = run.redial

    async def attempt(self, entry: Entry) -> None:
        """The task of one attempt: every path emits the input's outcome, holds the input in
        the schedule, or (cancelled) leaves it to the run's stop; a task cancelled before its
        first step never gets here, and the run's stop reports it instead."""
        run = self._run
        del run.unstarted[entry.index]
        chain = entry.chain
        p = Attempt(attempt_digest(entry.digest, chain.number).hex() if chain else entry.key)
        run.in_flight += 1
        try:
            async with run.leases() as leases:
                p.leases = leases
                if chain is not None and chain.earlier is not None:
                    # An earlier run placed this attempt and did not see it end: watched
                    # as a call in progress (a lease of the campaign's concurrency), not sent.
                    if run.pacing is not None:
                        p.lease = await leases.enter_async_context(run.pacing.slot())
                    call, chain.earlier = chain.earlier, None
                    detail = "placed by an earlier run"
                    p.outcome = of_entry(entry, DialStatus.PLACED, detail, call=call)
                elif await self._through_gate(entry, p):
                    return  # held in the schedule: its slot is given back
                if p.lost is not None:
                    run.emit(journalled(entry, p.lost, True))
                    return
                assert p.outcome is not None
                if p.outcome.call is not None and self._watch_call is not None:
                    p.outcome = await self._watch(entry, p)
        except asyncio.CancelledError:
            if p.held:  # the schedule has it: the run's stop reports it from there
                raise
            outcome = p.outcome or stopped(entry, p.sent, _STOPPED)
            if self._redial is not None:
                outcome = with_attempt(outcome, entry, p)
            run.settle_stopped(outcome, p.key, p.claim)
            raise
        except Exception as exc:  # the ledger failed (or this SDK): the run ends
            run.fail(exc)
            if p.held:
                return  # the schedule has it: it reports it, the run having failed
        finally:
            run.in_flight -= 1
            self._back_on(p)
        outcome = as_journalled(
            p.outcome or stopped(entry, p.sent, "run failed"), p.claim, p.result
        )
        if self._redial is not None:
            outcome = with_attempt(outcome, entry, p)
        if self._redial is not None and run.failure is None:
            due = redial_due(self._redial, outcome, p.ended_at or run.clock.now())
            if due is not None:
                assert entry.chain is not None
                entry.chain.number += 1
                try:
                    await run.redial_when_due(entry, due)
                except Exception as exc:  # the ledger failed: the input is held or unstarted
                    run.fail(exc)  # by now, and reported from there
                return
        run.emit(outcome)

    async def _through_gate(self, entry: Entry, p: Attempt) -> bool:
        """Ask the gate and do what it says until the request is sent (``p.outcome``) or
        must not be (``p.outcome`` or ``p.lost``); True: the input is held in the schedule."""
        run, gate = self._run, self._gate
        while True:
            answer = gate.ask(entry, p)
            kind = answer.kind
            if kind is Kind.GO:
                # This call may leave now: nothing is awaited between the gate's yes and here.
                p.sent, p.outcome = True, None
                if self._redial is not None:
                    p.placed_at = run.clock.now()
                p.outcome = await self._send(entry)
                if not await self._refused_for_rate(p):
                    break
            elif kind is Kind.WAIT:
                await run.sleep(answer.seconds)
            elif kind is Kind.CLAIM:
                if not await self._claim(entry, p):
                    return False
            elif kind is Kind.REFRESH:
                assert self._adaptive is not None
                await self._adaptive.refresh()
            elif kind is Kind.ROOM:
                await run.campaign_room()
                p.room = True
            elif kind is Kind.TAKE:
                await run.campaign_take()
                p.rate_taken = True
            elif kind is Kind.LEASE:
                if p.lease is None:
                    assert run.pacing is not None
                    p.lease = await p.leases.enter_async_context(run.pacing.slot())
                else:
                    await p.lease.renew()
            else:  # HOLD, STOP: give back what this attempt holds, then do as told
                if p.claimed:
                    await self._withdraw(p)
                if kind is Kind.HOLD:
                    self._back_on(p)
                    p.held = True
                    await run.hold(entry, answer.why, answer.due, answer.not_before)
                    return True
                assert answer.status is not None
                p.outcome = _stopped_outcome(entry, p, answer.status, answer.detail, answer.error)
                return False
        if self._adaptive is not None and p.outcome.status is DialStatus.PLACED:
            await self._adaptive.accepted()
        if self._ledger is not None:
            p.result = self._ledger.submit(result_of(p.key, p.outcome))
            if p.outcome.status is DialStatus.FAILED:  # a re-run dials it only once this is
                await asyncio.shield(p.result)  # durable: so before the outcome is out
            else:  # PLACED, UNKNOWN: a re-run skips it with or without this record (its claim
                # is durable), so the outcome need not wait; a failed write fails the run
                p.result.add_done_callback(self._run.written)
        return False

    async def _claim(self, entry: Entry, p: Attempt) -> bool:
        """Claim the attempt, durably; False: another process of the campaign holds it."""
        assert self._ledger is not None
        chain = entry.chain
        record = attempt_record(
            p.key,
            entry.index,
            entry.request.number,
            attempt=chain.number if chain is not None else 0,
            of=entry.key,
            earlier=sids(chain),
        )
        p.claim = self._ledger.submit(record)
        try:
            await asyncio.shield(p.claim)  # a cancelled waiter must not hide its fate
        except ClaimLostError as lost:
            p.lost = lost.verdict
            return False
        p.claimed = True
        return True

    async def _withdraw(self, p: Attempt) -> None:
        """The claim, not sent after all: withdrawn, so a re-run dials it."""
        assert self._ledger is not None
        p.claimed = False
        p.result = self._ledger.submit(result_record(p.key, DialStatus.NOT_ATTEMPTED.value))
        await asyncio.shield(p.result)

    async def _send(self, entry: Entry) -> DialOutcome:
        request = entry.request
        try:
            call = await self._send_call(request)
        except TalkstackError as exc:
            if may_have_reached_server(exc):
                detail = "may have been placed: check before dialling again"
                return of_entry(entry, DialStatus.UNKNOWN, detail, error=exc)
            settings = self._run.settings
            if refuses_every_request(exc, request, settings.project_id, settings.agent_id):
                # Every other row would get the same answer: stop here, the rest NOT_ATTEMPTED.
                self._run.fail(exc)
                detail = "not placed; the run stopped: every request would be refused alike"
                return of_entry(entry, DialStatus.FAILED, detail, error=exc)
            return of_entry(entry, DialStatus.FAILED, "not placed", error=exc)
        return of_entry(entry, DialStatus.PLACED, "", call=call)

    async def _refused_for_rate(self, p: Attempt) -> bool:
        """After a refusal for the server's rate: recorded as certainly not placed, the pause
        set, and True (the attempt goes back to the gate); False: the outcome stands."""
        adaptive, outcome = self._adaptive, p.outcome
        assert outcome is not None
        if adaptive is None or outcome.status is not DialStatus.FAILED:
            return False
        if not is_rate_refusal(outcome.error):
            return False
        p.refusals += 1
        if p.refusals > adaptive.policy.max_attempts:
            detail = f"not placed: refused for the server's rate {p.refusals} times"
            p.outcome = attrs.evolve(outcome, detail=detail)
            return False
        delay = adaptive.policy.delay(p.refusals, getattr(outcome.error, "retry_after", None))
        await adaptive.refused(delay)
        now = self._run.loop_time()
        p.resend_at = now + delay
        self._run.resting(now + max(delay, adaptive.pause_left()))
        detail = "not placed: refused for the server's rate; the run stopped before resending"
        p.outcome, p.sent = attrs.evolve(outcome, detail=detail), False
        p.claimed = p.room = p.rate_taken = False
        if not p.backing_off:
            p.backing_off = True
            adaptive.backing_off += 1
        if self._ledger is not None:  # certainly not placed, durably: a kill meanwhile leaves
            # it to a re-run, which dials it
            until = datetime.now(timezone.utc) + timedelta(seconds=delay)
            record = {**result_of(p.key, p.outcome), "until": until.isoformat()}
            p.result = self._ledger.submit({**record, "rate": adaptive.current})
            await asyncio.shield(p.result)
        return True

    def _back_on(self, p: Attempt) -> None:
        if p.backing_off:
            p.backing_off = False
            assert self._adaptive is not None
            self._adaptive.backing_off -= 1

    async def _watch(self, entry: Entry, p: Attempt) -> DialOutcome:
        outcome = p.outcome
        assert self._watch_call is not None
        assert outcome is not None
        assert outcome.call is not None
        try:
            final = await self._watch_call(entry.request, outcome.call.sid)
        except TalkstackError as exc:
            return attrs.evolve(outcome, final_error=exc)
        p.ended_at = self._run.clock.now()
        if self._ledger is not None and final.status is not None:
            record = final_record(p.key, str(final.status), sid=outcome.call.sid, ended=p.ended_at)
            await self._ledger.write(record)
        return attrs.evolve(outcome, final=final)


_STOPPED = "run stopped before sending"


def _stopped_outcome(
    entry: Entry,
    p: Attempt,
    status: DialStatus,
    detail: str,
    error: TalkstackError | None,
) -> DialOutcome:
    """The gate said no: NOT_ATTEMPTED (the run failed or stopped) or FAILED (no calling
    window). After a refusal for the server's rate, that FAILED outcome stands (certainly not
    placed, "the run stopped before resending"): a re-run dials either alike."""
    if p.outcome is not None:
        return p.outcome
    return of_entry(entry, status, detail, error=error)
