"""The journal file itself: durable creation, its format, what a failed write leaves; the
index of a journal object a run used, and its runs."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkstack_async import DialOutcome, DialStatus, JournalWriteError, ValidationError
from talkstack_async.campaigns._run import dial
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.campaigns.ledgers._records import (
    Verdict,
    attempt_record,
    final_record,
    result_record,
)
from talkstack_async.models.call import PlacedCall
from talkstack_async.models.dial import CallRequest
from tests.unit.test_dialer import numbers, settings


def test_creating_a_journal_fsyncs_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(stat.S_IFMT(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    DialJournal(tmp_path / "new.jsonl").close()
    assert stat.S_IFDIR in synced  # the directory entry is durable too
    assert stat.S_IFREG in synced
    synced.clear()
    DialJournal(tmp_path / "new.jsonl").close()  # reopening creates nothing
    assert stat.S_IFDIR not in synced


def test_a_journal_of_a_newer_format_is_refused_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"talkstack_journal": 2}\n{"event": "attempt", "key": "' + "ab" * 16 + '"}\n')
    with pytest.raises(ValidationError, match="format 2 journal, written by a newer talkstack"):
        DialJournal(path)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text('"number"\n')
    with pytest.raises(ValidationError, match="is not a talkstack dial journal"):
        DialJournal(path)


async def test_a_write_that_cannot_be_rolled_back_makes_its_placements_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EIO on fsync and on the rollback: the last records may or may not be on disk, so what
    was in that write is reported as a re-run may see it (UNKNOWN), with the truth in detail."""
    journal = tmp_path / "j.jsonl"
    DialJournal(journal).close()
    real_fsync, calls = os.fsync, 0

    def failing_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls >= 3:  # the first attempts go through, then the disk fails for good
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    def failing_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    monkeypatch.setattr(os, "ftruncate", failing_truncate)
    placed: list[str] = []

    async def place(request: CallRequest) -> PlacedCall:
        placed.append(request.number)
        return PlacedCall(sid="CA" + request.number[1:], to=request.number)

    outcomes: list[DialOutcome] = []

    async def drain() -> None:
        run = dial(numbers(10), settings(concurrency=1, journal=journal), place=place, watch=None)
        async for outcome in run:
            outcomes.append(outcome)

    with pytest.raises(JournalWriteError) as caught:
        await drain()
    assert not caught.value.rolled_back
    assert "could not be rolled back" in str(caught.value)
    assert len(outcomes) == 10
    statuses = [o.status for o in outcomes]
    # A placed call is PLACED whatever happened to its result record (a re-run skips it).
    assert statuses.count(DialStatus.PLACED) == len(placed)
    unknown = [o for o in outcomes if o.status is DialStatus.UNKNOWN]
    assert unknown
    assert all("may still hold its attempt" in o.detail for o in unknown)
    assert len(placed) + len(unknown) + statuses.count(DialStatus.NOT_ATTEMPTED) == 10


def _key(i: int) -> str:
    return hashlib.blake2b(str(i).encode(), digest_size=16).hexdigest()


def _attempt(i: int) -> dict[str, Any]:
    return attempt_record(_key(i), i, f"+1415555{i:04d}")


async def _write_a_run(journal: DialJournal) -> None:
    """What a run leaves: 0 attempted (no result: may have been placed), 1 placed and ended,
    2 refused (certainly not placed), 3 withdrawn (recorded, then not sent), 4 answer lost."""
    for i in range(5):
        journal.submit(_attempt(i))
    journal.submit(result_record(_key(1), "placed", sid="CA1"))
    journal.submit(result_record(_key(2), "failed", error="HTTP 429"))
    journal.submit(result_record(_key(3), "not_attempted"))
    journal.submit(result_record(_key(4), "unknown", error="timed out"))
    ended = datetime(2026, 12, 8, 9, 30, tzinfo=timezone.utc)
    await journal.write(final_record(_key(1), "completed", sid="CA1", ended=ended))


async def test_a_journal_object_answers_what_its_run_just_wrote(tmp_path: Path) -> None:
    """Each record is applied to the index once it is on disk, at its real offset: the object
    a run just used answers as the same file reopened does (finding 4 of issue 27)."""
    path = tmp_path / "j.jsonl"
    journal = await DialJournal.open(path)
    journal.start_run()
    await _write_a_run(journal)
    await journal.end_run()
    digest = [bytes.fromhex(_key(i)) for i in range(6)]
    verdicts = [journal.admit(d) for d in digest]
    assert verdicts == ["", "CA1", Verdict.NEW, Verdict.NEW, "", Verdict.NEW]
    unknown = [u.key async for u in journal.unknowns()]
    assert unknown == [_key(0), _key(4)]  # oldest attempt first: what reconcile looks up
    assert dict(journal.skips()) == {digest[0]: "", digest[1]: "CA1", digest[4]: ""}
    ended = await journal.ended(digest[1])
    assert ended is not None
    assert ended[0] == "completed"
    assert await journal.ended(digest[0]) is None
    live = dict(journal._index.items())
    journal.close()

    reopened = DialJournal(path)
    try:
        assert dict(reopened._index.items()) == live  # the same offsets, record for record
        assert [reopened.admit(d) for d in digest] == verdicts
    finally:
        reopened.close()


async def test_reconciling_on_the_object_a_run_just_used_updates_it(tmp_path: Path) -> None:
    journal = await DialJournal.open(tmp_path / "j.jsonl")
    try:
        journal.start_run()
        await _write_a_run(journal)
        await journal.end_run()
        await journal.resolve(_key(0), sid="CA0", note="found in call history")
        await journal.resolve(_key(4), sid=None, note="not in call history")
        assert [u async for u in journal.unknowns()] == []
        assert journal.admit(bytes.fromhex(_key(0))) == "CA0"
        assert journal.admit(bytes.fromhex(_key(4))) is Verdict.NEW  # a re-run dials it
    finally:
        journal.close()


async def test_admit_is_a_lookup_that_remembers_nothing(tmp_path: Path) -> None:
    journal = await DialJournal.open(tmp_path / "j.jsonl")
    try:
        digest = bytes.fromhex(_key(7))
        assert journal.admit(digest) is Verdict.NEW
        assert journal.admit(digest) is Verdict.NEW  # the run remembers what it saw, not this
        assert dict(journal.skips()) == {}
        await journal.write(_attempt(7))  # durable: now it may have been placed
        assert journal.admit(digest) == ""
    finally:
        journal.close()


async def test_a_write_that_failed_is_not_in_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = await DialJournal.open(tmp_path / "j.jsonl")
    try:

        def failing_fsync(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(JournalWriteError):
            await journal.write(_attempt(1))
        assert journal.admit(bytes.fromhex(_key(1))) is Verdict.NEW  # rolled back: not there
    finally:
        monkeypatch.undo()
        journal.close()


async def test_each_run_on_a_journal_object_is_its_own_run(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = await DialJournal.open(path)
    first = journal.start_run()
    with pytest.raises(ValidationError, match="is in use by another dial_many run") as caught:
        journal.start_run()
    assert caught.value.argument == "ledger"
    await journal.write(_attempt(1))
    await journal.end_run()
    await journal.end_run()  # idempotent
    second = journal.start_run()
    assert second != first
    assert journal.run_id == second
    await journal.write(_attempt(2))
    await journal.write(result_record(_key(1), "not_attempted"))  # another run's: no effect
    await journal.end_run()
    journal.close()
    with pytest.raises(ValidationError, match="closed"):
        journal.start_run()
    runs = {
        record["key"]: record["run"]
        for record in map(json.loads, path.read_text().splitlines()[1:])
        if record["event"] == "attempt"
    }
    assert runs == {_key(1): first, _key(2): second}
    reopened = DialJournal(path)
    try:
        assert reopened.admit(bytes.fromhex(_key(1))) == ""  # withdrawn by the wrong run
    finally:
        reopened.close()


@hypothesis.settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_a_records_timestamp_is_the_time_to_the_millisecond(moment: float) -> None:
    """``_records.now`` (the second's text kept between calls) against the plain way: the
    instant ``time.time()`` gave, cut to the millisecond, written as ``iso`` writes it."""
    from unittest import mock

    from talkstack_async.campaigns.ledgers import _records

    with mock.patch.object(_records.time, "time", return_value=moment):
        text = _records.now()
    parsed = _records.parse_time(text)
    assert parsed is not None
    assert _records.iso(parsed) == text
    assert 0 <= moment - parsed.timestamp() < 0.001 + 1e-6
