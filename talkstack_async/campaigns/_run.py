"""``calls.dial_many``: many placements at once, each at most once, every input accounted for.

A run is a pipeline, the data going one way, each stage a module with one job:

``_feed`` reads the input lazily (a ``concurrency`` slot held per input until its outcome is
consumed) -> ``_admit`` checks each row and admits it against the run's memory and the ledger
-> ``_place`` runs one task per attempt, which asks ``_gate`` (the one place that says "this
call may leave now": run alive, window open, pause over, rate, claim, lease) and sends at its
``GO``; what must wait long (a window, a redial) is held in ``_schedule`` with its slot given
back, and comes back through the gate -> the outcome (``_outcomes``) is recorded in the ledger
and emitted here, to the consumer and the ``progress`` callback.

This module starts the stages and owns their tasks (feeder, scheduler, placements): stopping
and failing are handled here only.

Stopping early: when the consumer stops (break, cancellation, Ctrl-C in the blocking facade),
in-flight placements are cancelled and become ``UNKNOWN`` (recorded, so a re-run skips them)
and a request read but not yet sent becomes ``NOT_ATTEMPTED``. Those outcomes can no longer
be yielded; they go to the ``progress`` callback and the ledger. When the run itself fails
(the ledger cannot be written or reached, the progress callback raises, a placement is
refused in a way every other one would be too: 401, 403, the run's project or agent does not
exist, or this SDK fails), the gate lets no new placement leave, in-flight ones finish and
are yielded with their real result, the rest of the input is yielded as ``NOT_ATTEMPTED``,
and then the error is raised. An input iterator that raises ends the input there: what was
read goes on to its outcomes, and then its error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from datetime import datetime
from typing import Any

import anyio
import attrs

from talkstack_async._errors import DialInterruptedError, ValidationError
from talkstack_async.campaigns._admit import Admission
from talkstack_async.campaigns._feed import as_async_iterator, close_source, feed
from talkstack_async.campaigns._gate import Gate
from talkstack_async.campaigns._outcomes import as_journalled, of_entry, progress_of, result_of
from talkstack_async.campaigns._pace import Pacer
from talkstack_async.campaigns._place import Placements
from talkstack_async.campaigns._schedule import Schedule
from talkstack_async.campaigns._settings import DialSettings, Placer, Watcher
from talkstack_async.campaigns._state import Entry, Receipt
from talkstack_async.campaigns.ledgers._journal_index import DigestIndex
from talkstack_async.campaigns.ledgers._open import (
    begin_run,
    close_for_run,
    end_run,
    open_for_run,
)
from talkstack_async.campaigns.ledgers._protocol import Ledger, RedialLedger
from talkstack_async.campaigns.ledgers._records import result_record
from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing
from talkstack_async.campaigns.policies._rate_limit import AdaptiveRate
from talkstack_async.campaigns.policies._redial import attempt_digest
from talkstack_async.campaigns.policies._windows import SystemClock
from talkstack_async.models.dial import DialOutcome, DialStatus

__all__ = ["DialSettings", "dial"]


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
    settings.check(watched=watch is not None)
    ledger, pacing, owned = await open_for_run(
        settings.ledger,
        settings.campaign,
        settings.journal,
        rate=settings.rate,
        concurrency=settings.concurrency,
    )
    begun = False
    try:
        if (
            settings.redial is not None
            and ledger is not None
            and not isinstance(ledger, RedialLedger)
        ):
            raise ValidationError("ledger", "a redial policy needs a ledger with ended()")
        await begin_run(ledger)  # refuses a ledger object another run is using
        begun = True
        run = Run(settings, ledger, place, watch, pacing)
        source = as_async_iterator(requests)
    except BaseException:
        try:
            if begun:
                await end_run(ledger)
        finally:
            await close_for_run(ledger, pacing, owned)
        raise
    feeder = asyncio.create_task(feed(run, Admission(run), source), name="talkstack-dial-feeder")
    try:
        while True:
            outcome = await run.ready.get()
            if outcome is None:
                break
            run.slots.release()
            yield outcome
        if run.failure is not None:
            raise run.failure
        if run.input_error is not None:
            raise run.input_error
    finally:
        with anyio.CancelScope(shield=True):
            await run.stop(feeder)
            await close_source(source)
            try:
                await end_run(ledger)
            finally:
                await close_for_run(ledger, pacing, owned)


class Run:
    """One run's shared state and its tasks (see the module docstring)."""

    def __init__(
        self,
        settings: DialSettings,
        ledger: Ledger | None,
        place: Placer,
        watch: Watcher | None,
        pacing: RedisPacing | None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.place_call = place
        self.watch = watch
        self.pacing = pacing
        self.redial = settings.redial
        self.clock = settings.clock or SystemClock()
        policy = settings.on_rate_limit
        self.adaptive: AdaptiveRate | None = None
        if policy is not None:
            shared = pacing.adaptive(policy) if pacing is not None else None
            self.adaptive = shared or AdaptiveRate(settings.rate, policy)
        self.pacer = Pacer(self.adaptive, settings.rate) if self.adaptive or settings.rate else None
        self.loop_time = asyncio.get_running_loop().time
        self.schedule = Schedule(self.clock)
        self.gate = Gate(
            self,
            window=settings.window,
            clock=self.clock,
            schedule_now=self.schedule.now,
            schedule_until=self.schedule.until,
            adaptive=self.adaptive,
            pacer=self.pacer,
            campaign_rate=pacing is not None,
            claims=ledger is not None,
            leases=pacing is not None,
        )
        self.placements = Placements(self)
        self.seen = DigestIndex()  # this run's requests (a repeat is SKIPPED)
        self.ready: asyncio.Queue[DialOutcome | None] = asyncio.Queue()
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.scheduler: asyncio.Task[None] | None = None
        # Inputs past admission whose placement task has not begun: a stop reports them.
        self.unstarted: dict[int, Entry] = {}
        # The input the feeder is admitting, until it has an outcome or a place.
        self.admitting: tuple[int, Any] | None = None
        # Placements stopped mid-way, reported once their last records are written.
        self.stopped_outcomes: list[tuple[DialOutcome, Receipt | None, Receipt | None]] = []
        self._sleepers: set[asyncio.Future[None]] = set()
        self.failure: BaseException | None = None
        self.input_error: Exception | None = None  # the input iterator raised: it ends there
        self.stopping = False
        self.read = 0
        self.in_flight = 0
        self.totals = dict.fromkeys(DialStatus, 0)

    # -- the stages' hand-offs -----------------------------------------------------------

    def start(self, entry: Entry) -> None:
        """Start an attempt of ``entry`` (its slot is held): its task goes through the gate."""
        self.unstarted[entry.index] = entry
        self._accounted(entry.index)
        task = asyncio.create_task(self.placements.attempt(entry))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def hold(self, entry: Entry, why: str, due: datetime | None, not_before: float) -> None:
        """Keep ``entry`` in the schedule until ``not_before``, its slot given back."""
        self.schedule.hold(entry, why, due, not_before)
        self._accounted(entry.index)
        self.slots.release()  # taken again when it is due
        if self.scheduler is None or self.scheduler.done():
            self.scheduler = asyncio.create_task(self._run_schedule())
            self.tasks.add(self.scheduler)
            self.scheduler.add_done_callback(self.tasks.discard)
        if self.ledger is not None and due is not None:  # after the heap: a stop meanwhile
            # still reports it
            number = entry.chain.number if entry.chain else 0
            key = attempt_digest(entry.digest, number).hex()
            record = {"event": "scheduled", "key": key, "why": why, "at": due.isoformat()}
            await asyncio.shield(self.ledger.submit(record))

    async def redial_when_due(self, entry: Entry, due: datetime) -> None:
        if due > self.clock.now():
            await self.hold(entry, "redial", due, self.schedule.until(due))
        else:
            self.start(entry)

    def leases(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Where an attempt keeps the campaign's concurrency lease it takes at the gate (a
        shared ledger; given back when the attempt ends), else nothing."""
        if self.pacing is None:
            return _NO_LEASES
        return contextlib.AsyncExitStack()

    async def campaign_room(self) -> None:
        assert self.pacing is not None
        await self.pacing.wait_for_room(
            self.adaptive.current if self.adaptive else self.settings.rate
        )

    async def campaign_take(self) -> None:
        assert self.pacing is not None
        await self.pacing.wait_for_rate(
            self.adaptive.current if self.adaptive else self.settings.rate
        )

    def resting(self, until: float) -> None:
        """The server refused for its rate: the run's pacing restarts at ``until``."""
        if self.pacer is not None:
            self.pacer.refused(until)

    async def sleep(self, seconds: float) -> None:
        """A wait on monotonic time, cut short when the run fails or stops (the gate is asked
        again at once)."""
        if self.failure is not None or self.stopping:
            return
        waiter = asyncio.get_running_loop().create_future()
        handle = asyncio.get_running_loop().call_later(seconds, _wake, waiter)
        self._sleepers.add(waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._sleepers.discard(waiter)

    # -- outcomes --------------------------------------------------------------------------

    def _accounted(self, index: int) -> None:
        """The feeder's input is accounted for (it has an outcome or a place)."""
        if self.admitting is not None and self.admitting[0] == index:
            self.admitting = None

    def emit(self, outcome: DialOutcome) -> None:
        self._accounted(outcome.index)
        self.totals[outcome.status] += 1
        self.ready.put_nowait(outcome)
        progress = self.settings.progress
        if progress is None:
            return
        try:
            progress(
                progress_of(
                    outcome,
                    read=self.read,
                    in_flight=self.in_flight,
                    totals=self.totals,
                    adaptive=self.adaptive,
                    rate=self.settings.rate,
                    waits=self.schedule.waits,
                    next_due=self.schedule.next_due,
                )
            )
        except Exception as exc:
            self.fail(exc)

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def fail(self, exc: BaseException) -> None:
        """The run fails with ``exc`` (the first failure wins): the gate says no from now on,
        and every wait is cut short so that it hears so at once."""
        if self.failure is None:
            self.failure = exc
            self._wake_all()

    def _wake_all(self) -> None:
        self.schedule.wake()  # it reports what waits, rather than sleep it out
        for waiter in list(self._sleepers):
            _wake(waiter)

    # -- the end ---------------------------------------------------------------------------

    async def settled(self) -> None:
        """Every task of the run has ended (the input is read to its end), and every record
        it wrote is durable (or the run failed)."""
        while self.tasks:
            await asyncio.wait(set(self.tasks))
        if self.ledger is not None:
            await self.ledger.flush()

    def written(self, receipt: Receipt) -> None:
        """A record the run did not wait for is durable, or its write failed the run."""
        if not receipt.cancelled() and (error := receipt.exception()) is not None:
            self.fail(error)

    def finish(self) -> None:
        self.ready.put_nowait(None)

    async def _run_schedule(self) -> None:
        await self.schedule.run(self.slots, self.start, lambda: self.failure is not None)
        if self.failure is not None:
            self._report_held("run failed")

    def _report_held(self, why: str) -> None:
        for entry in self.schedule.drain():
            if entry.why == "redial":
                detail = f"{why} while it waited to redial (due {entry.due:%Y-%m-%d %H:%M} UTC)"
                outcome = of_entry(entry, DialStatus.NOT_ATTEMPTED, detail)
                self.emit(attrs.evolve(outcome, redial_at=entry.due))
            else:
                detail = f"{why} while it waited for its calling window"
                self.emit(of_entry(entry, DialStatus.NOT_ATTEMPTED, detail))

    def settle_stopped(self, outcome: DialOutcome, key: str, claim: Receipt | None) -> None:
        """Queue what a cancelled placement leaves behind; ``stop`` writes it for all of them
        in one group commit, then reports them (no awaiting here: the task is cancelled)."""
        if outcome.status is DialStatus.PLACED and self.watch is not None and outcome.final is None:
            interrupted = DialInterruptedError("stopped before the call finished")
            outcome = attrs.evolve(outcome, final_error=interrupted)
        last: Receipt | None = None
        if self.ledger is not None and claim is not None:
            # PLACED, FAILED: written again (harmless) in case the first write did not make
            # it. UNKNOWN: a re-run skips it. NOT_ATTEMPTED: its claim may be durable though
            # the request was not sent; this withdrawal lets a re-run dial it.
            if outcome.status in (DialStatus.PLACED, DialStatus.FAILED):
                record = result_of(key, outcome)
            else:
                error = str(outcome.error) if outcome.error else ""
                record = result_record(key, outcome.status.value, error=error)
            last = self.ledger.submit(record)
        self.stopped_outcomes.append((outcome, claim, last))

    async def stop(self, feeder: asyncio.Task[None]) -> None:
        self.stopping = True
        self._wake_all()
        # Cancelled again until they end: a client that swallows a cancellation (redis-py
        # can, in a command cut short) must not keep a task, and so the stop, waiting.
        running = everything = {feeder, *self.tasks}
        while running:
            for task in running:
                task.cancel()
            _, running = await asyncio.wait(running, timeout=0.25)
        for task in everything:  # retrieved: a failure was handled as the run's already
            if not task.cancelled():
                task.exception()
        if self.ledger is not None:
            await self.ledger.flush()  # one group commit for every stopped placement
        for outcome, claim, last in self.stopped_outcomes:
            self.emit(as_journalled(outcome, claim, last))
        self.stopped_outcomes.clear()
        for _, entry in sorted(self.unstarted.items()):
            self.emit(of_entry(entry, DialStatus.NOT_ATTEMPTED, "run stopped before sending"))
        self.unstarted.clear()
        self._report_held("the run stopped")


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _NoLeases:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_LEASES = _NoLeases()
