"""The dial run's bookkeeping with a fake placer: one outcome per input read, however it stops."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Any

import pytest

from talkstack_async import (
    DialOutcome,
    DialProgress,
    DialStatus,
    InternalServerError,
    PlacedCall,
    ValidationError,
)
from talkstack_async.campaigns._run import DialSettings, dial
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.models.dial import CallRequest


def settings(**options: object) -> DialSettings:
    base: dict[str, object] = {
        "project_id": "p1",
        "agent_id": "a1",
        "concurrency": 5,
        "rate": None,
        "journal": None,
        "progress": None,
    }
    base.update(options)
    return DialSettings(**base)  # type: ignore[arg-type]


def numbers(count: int) -> list[str]:
    return [f"+1415{i:07d}" for i in range(count)]


async def hang(request: CallRequest) -> PlacedCall:
    await asyncio.Event().wait()
    raise AssertionError


@pytest.mark.parametrize("steps", range(8))
async def test_a_run_cancelled_at_any_step_reports_every_input_it_read(
    steps: int, tmp_path: Path
) -> None:
    """Cancelled after 0-7 loop iterations: some placements started, some only scheduled."""
    reported: list[DialProgress] = []
    journal = tmp_path / "j.jsonl"
    run = dial(
        numbers(50),
        settings(progress=reported.append, journal=journal),
        place=hang,
        watch=None,
    )
    task = asyncio.ensure_future(anext(run))  # type: ignore[arg-type]
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await run.aclose()  # type: ignore[attr-defined]
    outcomes = [update.last for update in reported]
    read = reported[-1].read if reported else 0
    assert sorted(o.index for o in outcomes) == list(range(read))
    assert {o.status for o in outcomes} <= {DialStatus.UNKNOWN, DialStatus.NOT_ATTEMPTED}
    # A re-run dials exactly the ones that certainly were not sent.
    reopened = DialJournal(journal)
    maybe_sent = {o.key for o in outcomes if o.status is DialStatus.UNKNOWN}
    assert {key.hex() for key, _ in reopened.skips()} == maybe_sent
    reopened.close()


async def test_the_consumer_sets_the_pace_and_outcomes_stay_bounded() -> None:
    placed = 0

    async def place(request: CallRequest) -> PlacedCall:
        nonlocal placed
        placed += 1
        return PlacedCall(sid=f"CA{placed}", to=request.number)

    run = dial(numbers(1000), settings(concurrency=4), place=place, watch=None)
    first = await anext(run)  # type: ignore[call-overload]
    await asyncio.sleep(0.05)  # the consumer dawdles: the run must not race ahead
    assert placed <= 4 + 1
    rest = [o async for o in run]  # type: ignore[attr-defined]
    assert len(rest) + 1 == 1000
    assert first.status is DialStatus.PLACED


async def test_a_5xx_is_unknown_and_nothing_is_retried() -> None:
    attempts: collections.Counter[str] = collections.Counter()

    async def place(request: CallRequest) -> PlacedCall:
        attempts[request.number] += 1
        raise InternalServerError("boom", method="POST", path="/call/makeCall", status=500)

    outcomes: list[DialOutcome] = [
        o async for o in dial(numbers(20), settings(), place=place, watch=None)
    ]
    assert {o.status for o in outcomes} == {DialStatus.UNKNOWN}
    assert set(attempts.values()) == {1}


def test_one_journal_one_run(tmp_path: Path) -> None:
    first = DialJournal(tmp_path / "j.jsonl")
    try:
        with pytest.raises(ValidationError, match="in use by another dial run"):
            DialJournal(tmp_path / "j.jsonl")
    finally:
        first.close()
    DialJournal(tmp_path / "j.jsonl").close()  # free again once closed


def test_a_withdrawn_attempt_is_dialled_again_whatever_the_order_on_disk(tmp_path: Path) -> None:
    key = "cd" * 16
    path = tmp_path / "j.jsonl"
    path.write_text(
        '{"talkstack_journal": 1}\n'
        '{"event": "not_attempted", "key": "' + key + '", "run": "r1"}\n'
        '{"event": "attempt", "key": "' + key + '", "run": "r1", "index": 0, "number": "+1"}\n'
        '{"event": "attempt", "key": "' + "ef" * 16 + '", "run": "r1", "index": 1}\n'
    )
    journal = DialJournal(path)
    assert dict(journal.skips()) == {bytes.fromhex("ef" * 16): ""}  # only the unwithdrawn one
    journal.close()


async def test_a_bare_break_leaves_the_journal_locked_and_says_how_to_stop_at_once(
    tmp_path: Path,
) -> None:
    async def place(request: CallRequest) -> PlacedCall:
        await asyncio.sleep(0.01)
        return PlacedCall(sid="CA" + request.number[1:], to=request.number)

    journal = tmp_path / "j.jsonl"
    run = dial(numbers(30), settings(journal=journal), place=place, watch=None)
    async for _ in run:
        break  # no aclosing: the run goes on until the generator is closed
    with pytest.raises(ValidationError, match=r"contextlib\.aclosing"):
        await anext(dial(numbers(30), settings(journal=journal), place=place, watch=None))
    await run.aclose()  # type: ignore[attr-defined]
    rerun = [o async for o in dial(numbers(30), settings(journal=journal), place=place, watch=None)]
    assert len(rerun) == 30
    assert {o.status for o in rerun} <= {DialStatus.PLACED, DialStatus.SKIPPED}
    assert sum(o.status is DialStatus.SKIPPED for o in rerun) >= 1


async def test_stopping_a_thousand_placements_in_flight_writes_them_in_one_group_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import time

    in_flight = asyncio.Event()
    started = 0

    async def place(request: CallRequest) -> PlacedCall:
        nonlocal started
        started += 1
        if started == 1000:
            in_flight.set()
        await asyncio.Event().wait()
        raise AssertionError

    journal = tmp_path / "j.jsonl"
    reported: list[DialProgress] = []
    run = dial(
        numbers(1000),
        settings(concurrency=1000, journal=journal, progress=reported.append),
        place=place,
        watch=None,
    )
    waiter = asyncio.ensure_future(anext(run))  # type: ignore[arg-type]
    await asyncio.wait_for(in_flight.wait(), 30)
    fsyncs = 0
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        nonlocal fsyncs
        fsyncs += 1
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    stopping = time.monotonic()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await run.aclose()  # type: ignore[attr-defined]
    took = time.monotonic() - stopping
    assert fsyncs <= 2  # one group commit (plus at most one already under way)
    assert took < 2.5, f"cleanup took {took:.1f} s, half the blocking facade's window"
    outcomes = [update.last for update in reported]
    assert len(outcomes) == 1000
    assert {o.status for o in outcomes} == {DialStatus.UNKNOWN}
    reopened = DialJournal(journal)
    assert len(dict(reopened.skips())) == 1000
    reopened.close()


async def test_no_placement_starts_once_the_run_has_failed() -> None:
    placed: list[str] = []

    async def place(request: CallRequest) -> PlacedCall:
        placed.append(request.number)
        await asyncio.sleep(0.001)
        return PlacedCall(sid="CA" + request.number[1:], to=request.number)

    def progress(update: DialProgress) -> None:
        if update.placed == 1:
            raise RuntimeError("the progress callback broke")

    run = dial(numbers(50), settings(concurrency=1, progress=progress), place=place, watch=None)
    outcomes: list[DialOutcome] = []

    async def drain() -> None:
        async for outcome in run:  # type: ignore[attr-defined]
            outcomes.append(outcome)

    with pytest.raises(RuntimeError, match="progress callback broke"):
        await drain()
    assert placed == ["+14150000000"]  # not one more after the failure
    assert len(outcomes) == 50
    assert [o.status for o in outcomes].count(DialStatus.NOT_ATTEMPTED) == 49


async def test_an_input_whose_hold_cannot_be_recorded_gets_one_outcome(tmp_path: Path) -> None:
    """The ledger fails while an input is being held for its window (the ``scheduled``
    record): the run fails, and the input is reported once, by the schedule."""
    from datetime import datetime, time, timezone

    from talkstack_async import CallingWindow, JournalWriteError
    from talkstack_async.testing import FakeClock

    journal = DialJournal(tmp_path / "j.jsonl")
    submit = journal.submit

    def failing(record: Any) -> asyncio.Future[None]:
        if record.get("event") != "scheduled":
            return submit(record)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_exception(JournalWriteError("disk full", rolled_back=True))
        return future

    journal.submit = failing  # type: ignore[method-assign]
    placed: list[str] = []

    async def place(request: CallRequest) -> PlacedCall:
        placed.append(request.number)
        return PlacedCall(sid=f"CA{len(placed)}", to=request.number)

    midnight_utc = datetime(2026, 12, 7, 8, tzinfo=timezone.utc)  # Monday 00:00 in LA
    rows = [{"number": n, "timezone": "America/Los_Angeles"} for n in numbers(3)]
    outcomes: list[DialOutcome] = []
    run = dial(
        rows,
        settings(
            ledger=journal,
            window=CallingWindow(start=time(9), end=time(17)),
            clock=FakeClock(midnight_utc),
        ),
        place=place,
        watch=None,
    )

    async def drain() -> None:
        async for outcome in run:
            outcomes.append(outcome)

    with pytest.raises(JournalWriteError):
        await drain()
    journal.close()
    assert placed == []
    assert sorted(o.index for o in outcomes) == [0, 1, 2]  # one each, none twice
    assert {o.status for o in outcomes} == {DialStatus.NOT_ATTEMPTED}


async def test_a_stop_while_an_input_is_being_held_reports_it_once(tmp_path: Path) -> None:
    """A stop lands while held inputs' ``scheduled`` records are still being written (a slow
    disk): each input is reported once, by the schedule (found by a review: twice before)."""
    from datetime import datetime, time, timezone

    from talkstack_async import CallingWindow
    from talkstack_async.testing import FakeClock

    journal = DialJournal(tmp_path / "j.jsonl")
    submit = journal.submit
    writing = asyncio.Event()

    def slow(record: Any) -> asyncio.Future[None]:
        written = submit(record)
        if record.get("event") != "scheduled":
            return written

        async def later() -> None:
            writing.set()
            await asyncio.sleep(0.5)
            await written

        return asyncio.ensure_future(later())

    journal.submit = slow  # type: ignore[method-assign]
    reported: list[DialProgress] = []
    rows = [{"number": n, "timezone": "UTC"} for n in numbers(12)]
    run = dial(
        rows,
        settings(
            ledger=journal,
            progress=reported.append,
            window=CallingWindow(start=time(9), end=time(17)),
            clock=FakeClock(datetime(2026, 12, 7, 3, tzinfo=timezone.utc)),  # Monday 03:00
        ),
        place=hang,
        watch=None,
    )
    task = asyncio.ensure_future(anext(run))  # type: ignore[arg-type]
    await asyncio.wait_for(writing.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await run.aclose()  # type: ignore[attr-defined]
    journal.close()
    outcomes = [update.last for update in reported]
    read = reported[-1].read
    assert sorted(o.index for o in outcomes) == list(range(read))  # one each, none twice
    assert {o.status for o in outcomes} == {DialStatus.NOT_ATTEMPTED}


async def test_inputs_reported_after_a_failure_keep_their_number() -> None:
    """The rest of the input, read after the run failed, is NOT_ATTEMPTED with its number and
    key (a consumer matching outcomes by number loses none)."""

    async def refused(request: CallRequest) -> PlacedCall:
        from talkstack_async import AuthenticationError

        raise AuthenticationError("bad key", method="POST", path="/calls", status=401)

    rows = [{"number": n} for n in numbers(8)]
    outcomes: list[DialOutcome] = []

    async def drain() -> None:
        async for outcome in dial(rows, settings(concurrency=1), place=refused, watch=None):
            outcomes.append(outcome)

    with pytest.raises(Exception, match="bad key"):
        await drain()
    assert sorted(o.index for o in outcomes) == list(range(8))
    assert all(o.number == rows[o.index]["number"] and o.key for o in outcomes)


async def test_a_stop_that_a_ledger_turns_into_its_own_error_still_ends_the_run() -> None:
    """A stop lands while the feeder waits on the ledger, and the ledger's client raises its
    own error for the cancellation (redis-py can): the run still ends at once, each input it
    read reported once (found by a review: the feeder then waited for a slot for ever)."""
    from talkstack_async.campaigns.ledgers._protocol import LedgerUnavailableError
    from talkstack_async.campaigns.ledgers._records import Verdict

    class SlowLedger:
        def __init__(self) -> None:
            self.asked = 0

        async def admit(self, digest: bytes) -> Verdict | str:
            self.asked += 1
            if self.asked < 3:
                return Verdict.NEW
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                raise LedgerUnavailableError("the connection was torn down") from None
            raise AssertionError

        def submit(self, record: Any) -> asyncio.Future[None]:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

        async def write(self, record: Any) -> None:
            return None

        async def flush(self) -> None:
            return None

        def close(self) -> None:
            return None

        async def unknowns(self) -> Any:
            return
            yield

        async def resolve(self, key: str, *, sid: str | None, note: str) -> None:
            return None

    async def place(request: CallRequest) -> PlacedCall:
        return PlacedCall(sid="CA1", to=request.number)

    ledger = SlowLedger()
    reported: list[DialProgress] = []
    run = dial(
        numbers(10),
        settings(ledger=ledger, progress=reported.append),
        place=place,
        watch=None,
    )
    first = await anext(run)  # type: ignore[arg-type]
    await asyncio.wait_for(run.aclose(), 5)  # type: ignore[attr-defined]
    outcomes = [update.last for update in reported]
    assert first in outcomes
    assert sorted(o.index for o in outcomes) == list(range(reported[-1].read))
