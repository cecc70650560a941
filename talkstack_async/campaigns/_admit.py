"""Admission: an input checked into an ``Entry`` and its digest, then admitted against this
run's memory and the ledger: new (it goes to placement), a repeat in this run, placed or
maybe placed by an earlier run (``SKIPPED``), or, under a redial policy, an input whose
attempts an earlier run began (the chain is walked and continued).

A row that cannot be used is that row's ``FAILED`` outcome with a ``ValidationError``,
whatever in it broke the check; a ledger that fails ends the run (the feeder reports the
input it was admitting). The run, not the ledger, remembers what it has admitted: a ledger
object used for a second run answers only from its durable records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from talkstack_async._errors import ValidationError
from talkstack_async.campaigns._outcomes import chained, ends, journalled, of_entry, of_item
from talkstack_async.campaigns._requests import check_call_request, request_digest
from talkstack_async.campaigns._state import Chain, Entry
from talkstack_async.campaigns.ledgers._protocol import RedialLedger
from talkstack_async.campaigns.ledgers._records import Verdict
from talkstack_async.campaigns.policies._redial import attempt_digest
from talkstack_async.models.call import PlacedCall
from talkstack_async.models.dial import DialAttempt, DialOutcome, DialStatus

if TYPE_CHECKING:
    from talkstack_async.campaigns._run import Run

__all__ = ["Admission"]

_REPEAT = "the same request came earlier in this run"


class Admission:
    def __init__(self, run: Run) -> None:
        self._run = run
        self._project = run.settings.project_id
        self._agent = run.settings.agent_id

    async def admit(self, index: int, item: Any) -> None:
        run = self._run
        entry = self._check(index, item)
        if entry is None:
            return
        digest = entry.digest
        if not run.seen.add(digest):
            run.emit(of_entry(entry, DialStatus.SKIPPED, _REPEAT))
            return
        if run.ledger is None:
            run.start(entry)
            return
        verdict = await self._verdict(digest)
        if verdict is Verdict.NEW:
            run.start(entry)
        elif verdict is Verdict.REPEAT:  # a custom ledger that remembers runs
            run.emit(of_entry(entry, DialStatus.SKIPPED, _REPEAT))
        elif verdict and run.redial is not None:
            await self._resume(entry, verdict)
        else:
            run.emit(journalled(entry, verdict))

    def not_attempted(self, index: int, item: Any, detail: str) -> DialOutcome:
        """The outcome of an input read but not admitted (the run failed or stopped first),
        with its number and key when the row is valid, as any other outcome has them."""
        try:
            request = check_call_request(
                f"requests[{index}]", item, project_id=self._project, agent_id=self._agent
            )
            entry = Entry(index, item, request, request_digest(request))
        except Exception:  # an invalid row: no number to give, and it is NOT_ATTEMPTED still
            return of_item(index, item, DialStatus.NOT_ATTEMPTED, detail)
        return of_entry(entry, DialStatus.NOT_ATTEMPTED, detail)

    def _check(self, index: int, item: Any) -> Entry | None:
        where = f"requests[{index}]"
        try:
            request = check_call_request(
                where, item, project_id=self._project, agent_id=self._agent
            )
            digest = request_digest(request)
        except ValidationError as exc:
            self._run.emit(of_item(index, item, DialStatus.FAILED, "invalid; not sent", exc))
            return None
        except Exception as exc:  # the checks let through what cannot be used: still this row's
            error = ValidationError(where, f"cannot be used ({type(exc).__name__}: {exc})")
            self._run.emit(of_item(index, item, DialStatus.FAILED, "invalid; not sent", error))
            return None
        return Entry(index, item, request, digest)

    async def _verdict(self, digest: bytes) -> Verdict | str:
        ledger = self._run.ledger
        assert ledger is not None
        admitted = ledger.admit(digest)
        # A shared ledger looks the request up; the file journal knows at once.
        return admitted if isinstance(admitted, (Verdict, str)) else await admitted

    async def _resume(self, entry: Entry, sid: str) -> None:
        """Continue an input's redial schedule from what earlier runs recorded: attempt
        after attempt, each's end; watch one whose end was not seen, redial when due."""
        run = self._run
        policy = run.redial
        assert policy is not None
        ledger = cast(RedialLedger, run.ledger)  # checked when the run started
        chain = entry.chain = Chain()
        while True:
            key = attempt_digest(entry.digest, chain.number)
            call = PlacedCall(sid=sid, to=entry.request.number)
            ended = await ledger.ended(key)
            if ended is None:  # placed, its end not known: learn it (a read), then go on
                chain.earlier = call
                run.start(entry)
                return
            status, ended_at = ended
            attempt = DialAttempt(
                chain.number, key.hex(), DialStatus.SKIPPED, call, status, ended_at
            )
            chain.attempts += (attempt,)
            due = policy.next_attempt(status, chain.number, ended_at or run.clock.now())
            if due is None:
                detail = f"placed by an earlier run; {ends(chain.attempts)}"
                run.emit(chained(journalled(entry, sid), chain, detail))
                return
            chain.number += 1
            verdict = await self._verdict(attempt_digest(entry.digest, chain.number))
            if verdict is Verdict.NEW:
                await run.redial_when_due(entry, due)
                return
            if not isinstance(verdict, str) or not verdict:
                detail = f"redial {chain.number} was attempted by an earlier run that did not "
                detail += "learn the result; it may have been placed"
                run.emit(of_entry(entry, DialStatus.SKIPPED, detail))
                return
            sid = verdict
