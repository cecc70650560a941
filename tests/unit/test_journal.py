"""The journal file itself: durable creation, its format, what a failed write leaves."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from talkstack_async import DialOutcome, DialStatus, JournalWriteError, ValidationError
from talkstack_async.campaigns._run import dial
from talkstack_async.campaigns.ledgers._journal import DialJournal
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
