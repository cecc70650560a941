"""``calls.dial_many``: many placements at once, each at most once, every input accounted for.

One feeder task reads the input lazily, checks each request, skips what this run or the
journal already dialled, paces placements to ``rate`` and starts one task per placement. A
slot of ``concurrency`` is held from reading an input until its outcome is consumed, so memory
stays flat however long the input and however slow the consumer.

A placement task journals the attempt (durably) before sending and the result before the
outcome is released. Placements are never retried here (the transport never resends them
either): a failure that may have reached the server is ``UNKNOWN``, one that certainly did not
is ``FAILED``, and the caller decides. The one exception is a refusal for the server's rate
(429, or 503 with ``Retry-After``): certainly not placed, it is journalled so, waited out and
claimed again before it is resent (``campaigns.policies._rate_limit``).

Waiting: an input outside its calling window (``campaigns.policies._windows``) or waiting for its
redial (``campaigns.policies._redial``) gives its slot back and sits in a heap, earliest first, until a
scheduler task starts it. Under a redial policy each attempt is a placement of its own key and
the input's outcome comes after its last.

Stopping early: when the consumer stops (break, cancellation, Ctrl-C in the blocking facade),
in-flight placements are cancelled and become ``UNKNOWN`` (journalled, so a re-run skips
them) and a request read but not yet sent becomes ``NOT_ATTEMPTED``. Those outcomes can no
longer be yielded; they go to the ``progress`` callback and the journal. When the run itself
fails (the journal cannot be written, the progress callback raises, or a placement is refused
in a way every other one would be too: 401, 403, the run's project or agent does not exist),
no new placement starts,
in-flight ones finish and are yielded, the rest of the input is yielded as ``NOT_ATTEMPTED``,
and then the error is raised. An input iterator that raises ends the run the same way, minus
the rest of the input, which cannot be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import os
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import anyio
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
    ValidationError,
)
from talkstack_async.campaigns._requests import check_call_request, request_digest
from talkstack_async.campaigns.ledgers import _records as _journal
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.campaigns.ledgers._journal_index import DigestIndex
from talkstack_async.campaigns.ledgers._open import check_ledger_options, open_ledger
from talkstack_async.campaigns.ledgers._protocol import ClaimLostError, Ledger, RedialLedger
from talkstack_async.campaigns.ledgers._records import Verdict
from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing
from talkstack_async.campaigns.policies._rate_limit import (
    DEFAULT_RATE_LIMIT_POLICY,
    AdaptiveRate,
    RateLimitPolicy,
    is_rate_refusal,
)
from talkstack_async.campaigns.policies._redial import RedialPolicy, attempt_digest
from talkstack_async.campaigns.policies._windows import CallingWindow, Clock, SystemClock, zones_for
from talkstack_async.models.call import Call, PlacedCall
from talkstack_async.models.dial import (
    CallRequest,
    DialAttempt,
    DialOutcome,
    DialProgress,
    DialStatus,
)

__all__ = ["DialSettings", "dial"]

Placer = Callable[[CallRequest], Awaitable[PlacedCall]]
Watcher = Callable[[CallRequest, str], Awaitable[Call]]
ProgressCallback = Callable[[DialProgress], object]

_MAX_CONCURRENCY = 10_000
# The API answers 400 "project does not exist." for a missing project (404 for an agent).
_MISSING_PARENT = re.compile(r"\b(project|agent)\b.*\b(does not exist|not found)", re.IGNORECASE)


@attrs.frozen
class DialSettings:
    project_id: str | None
    agent_id: str | None
    concurrency: int
    rate: float | None
    journal: str | os.PathLike[str] | None
    progress: ProgressCallback | None
    ledger: str | Ledger | None = None
    campaign: str | None = None
    on_rate_limit: RateLimitPolicy | None = DEFAULT_RATE_LIMIT_POLICY
    window: CallingWindow | None = None
    clock: Clock | None = None
    redial: RedialPolicy | None = None

    def check(self) -> None:
        concurrency = self.concurrency
        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise ValidationError("concurrency", f"must be an int, not {concurrency!r}")
        if not 1 <= concurrency <= _MAX_CONCURRENCY:
            raise ValidationError("concurrency", f"must be between 1 and {_MAX_CONCURRENCY}")
        rate = self.rate
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0
        ):
            raise ValidationError("rate", f"must be a positive number of calls/s, not {rate!r}")
        journal = self.journal
        if journal is not None and (
            not isinstance(journal, (str, os.PathLike)) or not os.fspath(journal)
        ):
            raise ValidationError("journal", f"must be a file path, not {journal!r}")
        if self.progress is not None and not callable(self.progress):
            raise ValidationError("progress", "must be callable")
        check_ledger_options(self.ledger, self.campaign, self.journal)
        if self.on_rate_limit is not None and not isinstance(self.on_rate_limit, RateLimitPolicy):
            raise ValidationError("on_rate_limit", "must be a RateLimitPolicy or None")
        if self.window is not None and not isinstance(self.window, CallingWindow):
            raise ValidationError("window", "must be a CallingWindow or None")
        if self.clock is not None and not callable(getattr(self.clock, "now", None)):
            raise ValidationError("clock", "must have now() and async sleep(seconds)")
        if self.redial is not None and not isinstance(self.redial, RedialPolicy):
            raise ValidationError("redial", "must be a RedialPolicy or None")


async def dial(
    requests: Iterable[Any] | AsyncIterable[Any],
    settings: DialSettings,
    *,
    place: Placer,
    watch: Watcher | None,
) -> AsyncGenerator[DialOutcome, None]:
    """The outcomes of ``requests``, as they complete (see the module's docstring)."""
    if isinstance(requests, (str, bytes, dict)) or not isinstance(
        requests, (Iterable, AsyncIterable)
    ):
        raise ValidationError(
            "requests", "must be an iterable of requests (one number? put it in a list)"
        )
    settings.check()
    if settings.redial is not None and watch is None:
        raise ValidationError("redial", "a redial policy needs each call watched to its end")
    journal: Ledger | None
    pacing: RedisPacing | None = None
    owned = True
    if settings.ledger is not None:
        journal, pacing, owned = await open_ledger(
            settings.ledger, settings.campaign, rate=settings.rate, concurrency=settings.concurrency
        )
    elif settings.journal is not None:
        journal = await DialJournal.open(settings.journal)
    else:
        journal = None
    if (
        settings.redial is not None
        and journal is not None
        and not isinstance(journal, RedialLedger)
    ):
        await _close(journal, owned)
        raise ValidationError("ledger", "a redial policy needs a ledger with ended()")
    adaptive = None
    if pacing is not None and settings.on_rate_limit is not None:
        adaptive = pacing.adaptive(settings.on_rate_limit)
    run = _Run(settings, journal, place, watch, pacing, adaptive)
    source = _async_iter(requests)
    feeder = asyncio.create_task(run.feed(source), name="talkstack-dial-feeder")
    try:
        while True:
            outcome = await run.ready.get()
            if outcome is None:
                break
            run.slots.release()
            yield outcome
        if run.failure is not None:
            raise run.failure
    finally:
        with anyio.CancelScope(shield=True):
            await run.stop(feeder)
            await _close_source(source)
            if pacing is not None:
                await pacing.close()
            if journal is not None:
                await journal.flush()
                await _close(journal, owned)


async def _close(journal: Ledger, owned: bool) -> None:
    if owned:
        closing = journal.close()
        if closing is not None:
            await closing


class _InputError(Exception):
    """Internal: the caller's input iterator raised ``__cause__``."""


class _Run:
    def __init__(
        self,
        settings: DialSettings,
        journal: Ledger | None,
        place: Placer,
        watch: Watcher | None,
        pacing: RedisPacing | None = None,
        adaptive: AdaptiveRate | None = None,
    ) -> None:
        self.settings = settings
        self.pacing = pacing
        self.slot: Callable[[], AbstractAsyncContextManager[Any]] = (
            pacing.slot if pacing is not None else _no_slot
        )
        self.journal = journal
        self.place_call = place
        self.watch = watch
        self.ready: asyncio.Queue[DialOutcome | None] = asyncio.Queue()
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        # This run's requests, to skip repeats (the journal keeps them itself, in its index).
        self.seen = DigestIndex() if journal is None else None
        # Placements stopped mid-way, reported once their last records are written.
        self.settled: list[tuple[DialOutcome, _Receipt | None, _Receipt | None]] = []
        self.failure: BaseException | None = None
        self.stopping = False
        # The input the feeder is admitting, until it has an outcome or a place (unstarted,
        # scheduled): a stop meanwhile reports it.
        self.admitting: tuple[int, Any] | None = None
        # Inputs past admission whose placement has not begun (waiting for the rate, or their
        # task not yet run): a stop reports them NOT_ATTEMPTED.
        self.unstarted: dict[int, _Input] = {}
        self.redial = settings.redial
        policy = settings.on_rate_limit
        self.adaptive = adaptive or (
            AdaptiveRate(settings.rate, policy) if policy is not None else None
        )
        self.pacer = (
            _Pacer(self.adaptive, settings.rate)
            if self.adaptive is not None or settings.rate
            else None
        )
        self.read = 0
        self.in_flight = 0
        self.totals = dict.fromkeys(DialStatus, 0)
        self.clock: Clock = settings.clock or SystemClock()
        # Inputs waiting for their calling window or their redial: (due, index, input).
        self.scheduled: list[tuple[datetime, int, _Input]] = []
        self.waits = {"window": 0, "redial": 0}
        self.scheduler: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()

    # -- reading the input ---------------------------------------------------------------

    async def feed(self, source: AsyncIterator[Any]) -> None:
        try:
            while self.failure is None:
                item = await self._next(source)
                if item is _END:
                    break
                if self.failed:  # it failed while we waited for a slot
                    self.emit(_outcome(self.read - 1, item, DialStatus.NOT_ATTEMPTED, "run failed"))
                    break
                self.admitting = (self.read - 1, item)
                await self._admit(self.read - 1, item)
                self.admitting = None
            if self.failure is not None and not isinstance(self.failure, _InputError):
                while (item := await self._next(source)) is not _END:
                    self.emit(_outcome(self.read - 1, item, DialStatus.NOT_ATTEMPTED, "run failed"))
            while self.tasks:
                await asyncio.wait(set(self.tasks))
        except asyncio.CancelledError:
            if self.admitting is not None:
                index, item = self.admitting
                self.emit(_outcome(index, item, DialStatus.NOT_ATTEMPTED, "run stopped"))
            raise
        except Exception as exc:  # a bug here must not hang the consumer
            self.fail(exc)
        if isinstance(self.failure, _InputError):
            self.failure = self.failure.__cause__
        self.ready.put_nowait(None)

    async def _next(self, source: AsyncIterator[Any]) -> Any:
        """The next input, with a slot held for its outcome; ``_END`` at the end."""
        await self.slots.acquire()
        try:
            item = await source.__anext__()
        except StopAsyncIteration:
            self.slots.release()
            return _END
        except Exception as exc:
            self.slots.release()
            error = _InputError()
            error.__cause__ = exc
            self.fail(error)
            return _END
        self.read += 1
        return item

    async def _admit(self, index: int, item: Any) -> None:
        settings = self.settings
        try:
            request = check_call_request(
                f"requests[{index}]",
                item,
                project_id=settings.project_id,
                agent_id=settings.agent_id,
            )
        except ValidationError as exc:
            self.emit(_outcome(index, item, DialStatus.FAILED, "invalid; not sent", error=exc))
            return
        digest = request_digest(request)
        if self.seen is not None:
            verdict: Verdict | str = Verdict.REPEAT if digest in self.seen else Verdict.NEW
            self.seen.set(digest, 0)
        else:
            verdict = await self._admitted(digest)
        if verdict is Verdict.REPEAT:
            detail = "the same request came earlier in this run"
            self.emit(_outcome(index, item, DialStatus.SKIPPED, detail, request, digest))
            return
        if isinstance(verdict, str):  # an earlier run placed it, or may have
            if verdict and self.redial is not None:
                await self._resume(_Input(index, item, request, digest), verdict)
            else:
                self.emit(_journalled(index, item, request, digest, verdict))
            return
        entry = _Input(index, item, request, digest)
        if settings.window is None:
            await self._start(entry)
        else:
            await self._when_in_window(entry)

    async def _admitted(self, digest: bytes) -> Verdict | str:
        assert self.journal is not None
        admitted = self.journal.admit(digest)
        # A shared ledger looks the request up; the file journal knows at once.
        return admitted if isinstance(admitted, (Verdict, str)) else await admitted

    async def _when_in_window(self, entry: _Input) -> None:
        """Start the placement now if its window is open (or there is none), else wait."""
        if self.settings.window is not None:
            opens = self._window_opens(entry)
            if opens is None:
                return  # no window at all: its FAILED outcome is out
            if opens > self.clock.now():
                await self._wait_until(opens, entry, "window")
                return
        await self._start(entry)

    async def _start(self, entry: _Input) -> None:
        """Pace, then start the placement's task (watching an earlier run's call: at once).
        Feeder, scheduler and placements (a redial due at once) may all be pacing at once."""
        self.unstarted[entry.index] = entry
        self._placed(entry.index)
        if self.pacer is not None and (entry.chain is None or entry.chain.earlier is None):
            await self.pacer.wait()
            if self.failure is not None:
                del self.unstarted[entry.index]
                outcome = _not_attempted(entry, "run failed")
                self.emit(_chained(outcome, entry.chain, outcome.detail))
                return
        task = asyncio.create_task(self.place(entry))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- redial policies -----------------------------------------------------------------

    async def _resume(self, entry: _Input, sid: str) -> None:
        """Continue an input's redial schedule from what earlier runs journalled: attempt
        after attempt, each's end; watch one whose end was not seen, redial when due."""
        assert self.journal is not None
        assert self.redial is not None
        chain = entry.chain = _Chain()
        while True:
            key = attempt_digest(entry.digest, chain.number)
            call = PlacedCall(sid=sid, to=entry.request.number)
            ended = await cast(RedialLedger, self.journal).ended(key)  # checked at the start
            if ended is None:  # placed, its end not known: learn it (a read), then go on
                chain.earlier = call
                await self._start(entry)
                return
            status, ended_at = ended
            attempt = DialAttempt(
                chain.number, key.hex(), DialStatus.SKIPPED, call, status, ended_at
            )
            chain.attempts += (attempt,)
            due = self.redial.next_attempt(status, chain.number, ended_at or self.clock.now())
            if due is None:
                detail = f"placed by an earlier run; {_ends(chain.attempts)}"
                self.emit(_chained(_journalled(*entry.fields, sid), chain, detail))
                return
            chain.number += 1
            verdict = await self._admitted(attempt_digest(entry.digest, chain.number))
            if verdict is Verdict.NEW:
                await self._redial_when_due(entry, due)
                return
            if not isinstance(verdict, str) or not verdict:
                detail = f"redial {chain.number} was attempted by an earlier run that did not "
                detail += "learn the result; it may have been placed"
                index, item = entry.index, entry.item
                outcome = _outcome(index, item, DialStatus.SKIPPED, detail, *entry.named)
                self.emit(_chained(outcome, chain, detail))
                return
            sid = verdict

    async def _redial_when_due(self, entry: _Input, due: datetime) -> None:
        if due > self.clock.now():
            await self._wait_until(due, entry, "redial")
        else:
            await self._when_in_window(entry)

    # -- waiting: calling windows and redials --------------------------------------------

    def _window_opens(self, entry: _Input) -> datetime | None:
        """When the input's window opens (now, if open); None: it has none (FAILED)."""
        window = self.settings.window
        assert window is not None
        request = entry.request
        try:
            zones = zones_for(request.number, request.timezone)
        except ValidationError as exc:
            self.emit(_not_sent(entry, exc))
            return None
        opens = window.next_open(self.clock.now(), zones)
        if opens is None:
            error = ValidationError(
                "timezone",
                "no moment in the coming week is inside the calling window in all of this "
                f"number's {len(zones)} time zones: give the input its timezone",
            )
            self.emit(_not_sent(entry, error))
        return opens

    async def _wait_until(self, due: datetime, entry: _Input, why: str) -> None:
        """Keep the input waiting until ``due`` (its slot given back meanwhile: others go on),
        then start it; the journal records it as ``scheduled``."""
        entry.why, entry.due = why, due
        heapq.heappush(self.scheduled, (due, entry.index, entry))
        self._placed(entry.index)
        self.waits[why] += 1
        if self.scheduled[0][1] == entry.index:
            self.wake.set()  # the earliest now: the scheduler's sleep was too long
        self.slots.release()  # taken again when it is due
        if self.scheduler is None or self.scheduler.done():
            self.scheduler = asyncio.create_task(self._release_when_due())
            self.tasks.add(self.scheduler)
            self.scheduler.add_done_callback(self.tasks.discard)
        if self.journal is not None:  # after the heap: a stop meanwhile still reports it
            key = attempt_digest(entry.digest, entry.chain.number if entry.chain else 0).hex()
            record = {"event": "scheduled", "key": key, "why": why, "at": due.isoformat()}
            await asyncio.shield(self.journal.submit(record))

    async def _release_when_due(self) -> None:
        """Start each waiting input when it is due, earliest first. Its slot is taken before
        it leaves the heap, so a stop meanwhile still finds it there; a failure wakes this."""
        while self.scheduled and self.failure is None:
            left = (self.scheduled[0][0] - self.clock.now()).total_seconds()
            if left > 0:
                await self._sleep_unless_woken(left)
                continue
            await self.slots.acquire()
            if self.failure is not None or not self.scheduled:
                self.slots.release()
                break
            _, _, entry = heapq.heappop(self.scheduled)
            self.waits[entry.why] -= 1
            if entry.why == "redial" and self.settings.window is not None:
                opens = self._window_opens(entry)  # the redial is due: is its window open?
                if opens is None:
                    continue  # its FAILED outcome holds the slot
                if opens > self.clock.now():
                    entry.why, entry.due = "window", opens
                    heapq.heappush(self.scheduled, (opens, entry.index, entry))
                    self.waits["window"] += 1
                    self.slots.release()
                    continue
            await self._start(entry)
        if self.failure is not None:
            self._not_attempted_waiting(self.scheduled, "run failed")

    async def _sleep_unless_woken(self, seconds: float) -> None:
        """The clock's sleep, cut short when an input that is due earlier is scheduled."""
        self.wake.clear()
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    def _not_attempted_waiting(self, entries: list[Any], why: str) -> None:
        for _, _, entry in sorted(entries, key=lambda e: e[1]):
            self.waits[entry.why] -= 1
            if entry.why == "redial":
                detail = f"{why} while it waited to redial (due {entry.due:%Y-%m-%d %H:%M} UTC)"
                outcome = _chained(_not_attempted(entry, detail), entry.chain, detail)
                self.emit(attrs.evolve(outcome, redial_at=entry.due))
            else:
                self.emit(_not_attempted(entry, f"{why} while it waited for its calling window"))
        entries.clear()

    # -- one placement -------------------------------------------------------------------

    async def place(self, entry: _Input) -> None:
        # From here on every path emits this request's outcome; a task cancelled before its
        # first step never gets here, and stop() reports it instead.
        del self.unstarted[entry.index]
        chain = entry.chain
        p = _Placement(attempt_digest(entry.digest, chain.number).hex() if chain else entry.key)
        base = _not_attempted(entry, "run stopped before sending")
        self.in_flight += 1
        try:
            async with self.slot():  # the campaign's shared pacing, if any
                if chain is not None and chain.earlier is not None:
                    # An earlier run placed this attempt and did not see it end.
                    call, chain.earlier = chain.earlier, None
                    placed, detail = DialStatus.PLACED, "placed by an earlier run"
                    p.outcome = attrs.evolve(base, status=placed, call=call, detail=detail)
                elif not await self._claim_and_send(p, base, entry):
                    self.in_flight -= 1
                    assert p.lost is not None
                    outcome = _journalled(*entry.fields, p.lost, True)
                    self.emit(_chained(outcome, chain, outcome.detail))
                    return
                assert p.outcome is not None
                if p.outcome.call is not None and self.watch is not None:
                    p.outcome = await self._watch(p, entry.request)
        except asyncio.CancelledError:
            self.in_flight -= 1
            outcome = self._this_attempt(p.outcome or _stopped(base, p.sent), p, entry)
            self._settle_stopped(outcome, p.key, p.attempt)
            raise
        except Exception as exc:  # the journal failed: stop the run, keep the outcome
            self.fail(exc)
        self.in_flight -= 1
        outcome = _as_journalled(p.outcome or _stopped(base, p.sent), p.attempt, p.result)
        outcome = self._this_attempt(outcome, p, entry)
        if self.redial is not None and self.failure is None:
            due = self._redial_due(outcome, p)
            if due is not None:
                assert entry.chain is not None
                entry.chain.number += 1
                try:
                    await self._redial_when_due(entry, due)
                except Exception as exc:  # the journal or the ledger failed: the input is
                    self.fail(exc)  # scheduled or unstarted by now, and reported from there
                return
        self.emit(outcome)

    async def _claim_and_send(self, p: _Placement, base: DialOutcome, entry: _Input) -> bool:
        """Claim the attempt in the journal, pace, send. A refusal for the server's rate (a
        certain refusal) is journalled as not placed, waited out (its ``Retry-After``, the
        campaign slowing down: ``campaigns.policies._rate_limit``), claimed again and sent again, at
        most ``max_attempts`` times. False: another process of the campaign holds the claim
        (``p.lost``): nothing was sent."""
        journal, adaptive = self.journal, self.adaptive
        number = entry.chain.number if entry.chain is not None else 0
        refusals = 0
        while True:
            if journal is not None:
                record = _journal.attempt_record(
                    p.key,
                    entry.index,
                    entry.request.number,
                    attempt=number,
                    of=entry.key,
                    earlier=_sids(entry.chain),
                )
                p.attempt = journal.submit(record)
                try:
                    await asyncio.shield(p.attempt)  # a cancelled waiter must not hide its fate
                except ClaimLostError as lost:  # another process is placing it
                    p.lost = lost.verdict
                    return False
            if self.pacing is not None:
                await self.pacing.wait_for_rate(await self._rate())
            p.sent, p.outcome = True, None  # from here the request may reach the server
            if self.redial is not None:
                p.placed_at = self.clock.now()
            p.outcome = outcome = await self._send(base, entry.request)
            if adaptive is None or not (
                outcome.status is DialStatus.FAILED and is_rate_refusal(outcome.error)
            ):
                break
            refusals += 1
            if refusals > adaptive.policy.max_attempts:
                detail = f"not placed: refused for the server's rate {refusals} times"
                p.outcome = attrs.evolve(outcome, detail=detail)
                break
            delay = adaptive.policy.delay(refusals, getattr(outcome.error, "retry_after", None))
            await adaptive.refused(delay)
            detail = "not placed: refused for the server's rate; the run stopped before resending"
            p.outcome, p.sent = attrs.evolve(outcome, detail=detail), False
            if journal is not None:  # certainly not placed, durably: a kill meanwhile leaves
                # it to a re-run, which dials it
                until = datetime.now(timezone.utc) + timedelta(seconds=delay)
                record = {**_result(p.key, p.outcome), "until": until.isoformat()}
                p.result = journal.submit({**record, "rate": adaptive.current})
                await asyncio.shield(p.result)
            adaptive.backing_off += 1
            try:
                await asyncio.sleep(delay)
                await adaptive.wait_for_pause()
                if self.pacer is not None:
                    await self.pacer.wait()
            finally:
                adaptive.backing_off -= 1
        if adaptive is not None and p.outcome.status is DialStatus.PLACED:
            await adaptive.accepted()
        if journal is not None:
            p.result = journal.submit(_result(p.key, p.outcome))
            await asyncio.shield(p.result)
        return True

    def _this_attempt(self, outcome: DialOutcome, p: _Placement, entry: _Input) -> DialOutcome:
        """With a redial policy: ``outcome`` with this attempt added to the input's."""
        if self.redial is None:
            return outcome
        chain = entry.chain = entry.chain or _Chain()
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
            detail = f"{detail}; {_ends(chain.attempts)}" if detail else _ends(chain.attempts)
        return _chained(outcome, chain, detail)

    def _redial_due(self, outcome: DialOutcome, p: _Placement) -> datetime | None:
        assert self.redial is not None
        final = outcome.final
        if outcome.status is not DialStatus.PLACED or final is None or final.status is None:
            return None
        redials = len(outcome.attempts) - 1
        return self.redial.next_attempt(str(final.status), redials, p.ended_at or self.clock.now())

    async def _rate(self) -> float | None:
        return await self.adaptive.rate() if self.adaptive is not None else self.settings.rate

    async def _send(self, base: DialOutcome, request: CallRequest) -> DialOutcome:
        try:
            call = await self.place_call(request)
        except TalkstackError as exc:
            if _may_have_reached_server(exc):
                detail = "may have been placed: check before dialling again"
                return attrs.evolve(base, status=DialStatus.UNKNOWN, error=exc, detail=detail)
            if self._refuses_every_request(exc, request):
                # Every other row would get the same answer: stop here, the rest NOT_ATTEMPTED.
                self.fail(exc)
                detail = "not placed; the run stopped: every request would be refused alike"
                return attrs.evolve(base, status=DialStatus.FAILED, error=exc, detail=detail)
            return attrs.evolve(base, status=DialStatus.FAILED, error=exc, detail="not placed")
        return attrs.evolve(base, status=DialStatus.PLACED, call=call, detail="")

    def _refuses_every_request(self, error: TalkstackError, request: CallRequest) -> bool:
        """A refusal that would repeat for every input: the credentials (401, 403, none), or
        the run's own project or agent missing (a row naming its own may just have a typo)."""
        if isinstance(error, (AuthenticationError, PermissionDeniedError, MissingCredentialsError)):
            return True
        settings = self.settings
        if request.project_id != settings.project_id or request.agent_id != settings.agent_id:
            return False
        if isinstance(error, NotFoundError):
            return True
        return isinstance(error, BadRequestError) and bool(_MISSING_PARENT.search(error.message))

    async def _watch(self, p: _Placement, request: CallRequest) -> DialOutcome:
        outcome = p.outcome
        assert self.watch is not None
        assert outcome is not None
        assert outcome.call is not None
        try:
            final = await self.watch(request, outcome.call.sid)
        except TalkstackError as exc:
            return attrs.evolve(outcome, final_error=exc)
        p.ended_at = self.clock.now()
        if self.journal is not None and final.status is not None:
            record = _journal.final_record(
                p.key, str(final.status), sid=outcome.call.sid, ended=p.ended_at
            )
            await self.journal.write(record)
        return attrs.evolve(outcome, final=final)

    def _settle_stopped(self, outcome: DialOutcome, key: str, attempt: _Receipt | None) -> None:
        """Queue what a cancelled placement leaves behind; ``stop`` writes it for all of them
        in one group commit, then reports them (no awaiting here: the task is cancelled)."""
        if outcome.status is DialStatus.PLACED and self.watch is not None and outcome.final is None:
            interrupted = DialInterruptedError("stopped before the call finished")
            outcome = attrs.evolve(outcome, final_error=interrupted)
        last: _Receipt | None = None
        if self.journal is not None and attempt is not None:
            # PLACED, FAILED: written again (harmless) in case the first write did not make
            # it. UNKNOWN: a re-run skips it. NOT_ATTEMPTED: its attempt record may be on disk
            # though the request was not sent; this withdrawal lets a re-run dial it.
            if outcome.status is DialStatus.PLACED or outcome.status is DialStatus.FAILED:
                record = _result(key, outcome)
            else:
                error = str(outcome.error) if outcome.error else ""
                record = _journal.result_record(key, outcome.status.value, error=error)
            last = self.journal.submit(record)
        self.settled.append((outcome, attempt, last))

    # -- outcomes ------------------------------------------------------------------------

    def _placed(self, index: int) -> None:
        """The feeder's input is accounted for (it has an outcome or a place)."""
        if self.admitting is not None and self.admitting[0] == index:
            self.admitting = None

    def emit(self, outcome: DialOutcome) -> None:
        self._placed(outcome.index)
        self.totals[outcome.status] += 1
        self.ready.put_nowait(outcome)
        settings = self.settings
        progress = settings.progress
        if progress is None:
            return
        totals = self.totals
        try:
            progress(
                DialProgress(
                    last=outcome,
                    read=self.read,
                    in_flight=self.in_flight,
                    placed=totals[DialStatus.PLACED],
                    failed=totals[DialStatus.FAILED],
                    unknown=totals[DialStatus.UNKNOWN],
                    skipped=totals[DialStatus.SKIPPED],
                    not_attempted=totals[DialStatus.NOT_ATTEMPTED],
                    backing_off=self.adaptive.backing_off if self.adaptive is not None else 0,
                    rate=self.adaptive.current if self.adaptive is not None else settings.rate,
                    waiting_for_window=self.waits["window"],
                    next_window=self.scheduled[0][0] if self.scheduled else None,
                    waiting_to_redial=self.waits["redial"],
                )
            )
        except Exception as exc:
            self.fail(exc)

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
            self.wake.set()  # the scheduler reports what waits, rather than sleep it out

    async def stop(self, feeder: asyncio.Task[None]) -> None:
        feeder.cancel()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(feeder, *self.tasks, return_exceptions=True)
        if self.journal is not None:
            await self.journal.flush()  # one group commit for every stopped placement
        for outcome, attempt, last in self.settled:
            self.emit(_as_journalled(outcome, attempt, last))
        self.settled.clear()
        for _, entry in sorted(self.unstarted.items()):
            outcome = _not_attempted(entry, "run stopped before sending")
            self.emit(_chained(outcome, entry.chain, outcome.detail))
        self.unstarted.clear()
        self._not_attempted_waiting(self.scheduled, "the run stopped")


_END: Any = object()


@attrs.define
class _Chain:
    """An input's attempts under a redial policy."""

    number: int = 0  # the attempt to make next (0: the first call)
    attempts: tuple[DialAttempt, ...] = ()
    earlier: PlacedCall | None = None  # resumed: attempt ``number``, placed, end not seen


@attrs.define
class _Input:
    """An input read and checked, on its way to its outcome."""

    index: int
    item: Any
    request: CallRequest
    digest: bytes
    chain: _Chain | None = None
    why: str = ""  # while it waits: "window" or "redial"
    due: datetime | None = None

    @property
    def fields(self) -> tuple[int, Any, CallRequest, bytes]:
        return self.index, self.item, self.request, self.digest

    @property
    def named(self) -> tuple[CallRequest, bytes]:
        return self.request, self.digest

    @property
    def key(self) -> str:
        return self.digest.hex()


@attrs.define
class _Placement:
    """One attempt's state, as far as it got (read when it is cancelled)."""

    key: str  # the attempt's key, hex
    outcome: DialOutcome | None = None
    attempt: _Receipt | None = None  # the claim's journal write
    result: _Receipt | None = None  # the result's
    sent: bool = False  # once True, the request may have reached the server
    lost: str | None = None  # the verdict of the process that claimed it first
    ended_at: datetime | None = None  # when the call was seen to end (the run's clock)
    placed_at: datetime | None = None  # when it was sent (the run's clock)


@contextlib.asynccontextmanager
async def _no_slot() -> AsyncIterator[None]:
    yield


def _not_attempted(entry: _Input, detail: str) -> DialOutcome:
    return _outcome(entry.index, entry.item, DialStatus.NOT_ATTEMPTED, detail, *entry.named)


def _not_sent(entry: _Input, error: ValidationError) -> DialOutcome:
    """No calling window for this input: FAILED, nothing sent."""
    detail = "no calling window; not sent"
    outcome = _outcome(entry.index, entry.item, DialStatus.FAILED, detail, *entry.named)
    return _chained(attrs.evolve(outcome, error=error), entry.chain, detail)


def _chained(outcome: DialOutcome, chain: _Chain | None, detail: str) -> DialOutcome:
    """``outcome`` with the input's attempts (a redial policy) and ``detail``."""
    if chain is None or not chain.attempts:
        return outcome
    return attrs.evolve(outcome, attempts=chain.attempts, detail=detail)


def _sids(chain: _Chain | None) -> tuple[str, ...]:
    """The sids of an input's earlier calls (none before its first)."""
    if chain is None:
        return ()
    return tuple(a.call.sid for a in chain.attempts if a.call is not None)


def _ends(attempts: tuple[DialAttempt, ...]) -> str:
    """How an input's calls went: "3 attempts: busy, no-answer, completed"."""
    ends = ", ".join(a.ended or a.status.value for a in attempts)
    return f"{len(attempts)} attempt{'s' if len(attempts) > 1 else ''}: {ends}"


def _outcome(
    index: int,
    item: Any,
    status: DialStatus,
    detail: str,
    request: CallRequest | None = None,
    digest: bytes | None = None,
    *,
    error: TalkstackError | None = None,
    call: PlacedCall | None = None,
) -> DialOutcome:
    return DialOutcome(
        index=index,
        request=item,
        status=status,
        number=request.number if request is not None else None,
        key=digest.hex() if digest is not None else None,
        call=call,
        error=error,
        detail=detail,
    )


_Receipt = asyncio.Future[None]
"""A journal write's future: done once the record is on disk, or its write failed."""


def _journalled(
    index: int, item: Any, request: CallRequest, digest: bytes, sid: str, other: bool = False
) -> DialOutcome:
    """The outcome of a request an earlier run placed (``sid``) or may have placed (""), or,
    ``other``, that another process of the campaign claimed just before this one could."""
    if sid:
        call = PlacedCall(sid=sid, to=request.number)
        detail = "placed by another process (ledger)" if other else "placed by an earlier run"
        return _outcome(index, item, DialStatus.SKIPPED, detail, request, digest, call=call)
    if other:
        detail = "claimed by another process of the campaign, which is placing it"
    else:
        detail = (
            "attempted by an earlier run that did not learn the result; it may have been placed"
        )
    return _outcome(index, item, DialStatus.SKIPPED, detail, request, digest)


def _on_disk(receipt: _Receipt | None) -> bool | None:
    """Whether a journal write is on disk: True, False (failed and rolled back), or None
    (unknown: the write failed and could not be rolled back, or never finished)."""
    if receipt is None:
        return False
    if not receipt.done() or receipt.cancelled():
        return None
    error = receipt.exception()
    if error is None:
        return True
    return False if isinstance(error, JournalWriteError) and error.rolled_back else None


def _as_journalled(
    outcome: DialOutcome, attempt: _Receipt | None, last: _Receipt | None
) -> DialOutcome:
    """``outcome`` restated, when the journal failed, as what a re-run will do with it.

    A re-run skips a request whose attempt record is on disk unless a later record says it
    was certainly not placed. So when that later record did not make it, the outcome is
    ``UNKNOWN`` (a re-run skips it), with the truth in its detail; when the attempt record was
    rolled back, ``NOT_ATTEMPTED`` (a re-run dials it) is true as it stands.
    """
    if attempt is None:
        return outcome  # no journal, or stopped before anything was written
    status = outcome.status
    if status is DialStatus.NOT_ATTEMPTED:
        attempted = _on_disk(attempt)
        if attempted is False or (attempted is True and _on_disk(last) is True):
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


def _stopped(base: DialOutcome, sent: bool) -> DialOutcome:
    """The outcome of a placement the run stopped (``base`` is NOT_ATTEMPTED)."""
    if not sent:
        return base
    return attrs.evolve(
        base,
        status=DialStatus.UNKNOWN,
        detail="run stopped while the request was in flight",
        error=DialInterruptedError(f"stopped while placing the call to {base.number}"),
    )


def _result(key: str, outcome: DialOutcome) -> dict[str, Any]:
    sid = outcome.call.sid if outcome.call is not None else None
    error = f"{type(outcome.error).__name__}: {outcome.error}" if outcome.error else ""
    return _journal.result_record(key, outcome.status.value, sid=sid, error=error)


def _may_have_reached_server(error: TalkstackError) -> bool:
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


class _Pacer:
    """Spaces placements ``1/rate`` seconds apart (no bursts), at the adaptive rate when the
    server has pushed back, and holds them while the server's ``Retry-After`` runs."""

    def __init__(self, adaptive: AdaptiveRate | None, rate: float | None) -> None:
        self._adaptive = adaptive
        self._rate = rate
        self._next = 0.0

    async def wait(self) -> None:
        rate = self._rate
        if self._adaptive is not None:
            await self._adaptive.wait_for_pause()
            rate = await self._adaptive.rate()
        if rate is None:
            return
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + 1.0 / rate
        if slot > now:
            await asyncio.sleep(slot - now)


class _SyncSource:
    """A plain iterable as an async iterator (read in the event loop: keep it cheap, e.g. a
    file read row by row)."""

    def __init__(self, iterable: Iterable[Any]) -> None:
        self.iterator: Iterator[Any] = iter(iterable)

    def __aiter__(self) -> _SyncSource:
        return self

    async def __anext__(self) -> Any:
        try:
            return next(self.iterator)
        except StopIteration:
            raise StopAsyncIteration from None


def _async_iter(requests: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(requests, AsyncIterable):
        return aiter(requests)
    return _SyncSource(requests)


async def _close_source(source: AsyncIterator[Any]) -> None:
    """Close a generator the run stopped reading (a CSV reader's open file, say), as a
    ``with`` block would; other iterators are left as they are."""
    if isinstance(source, _SyncSource):
        if inspect.isgenerator(source.iterator):
            source.iterator.close()
    elif inspect.isasyncgen(source):
        await source.aclose()
