"""The dialer's journal: an append-only JSON-lines file that makes a campaign resumable.

A request is recorded as attempted, durably (written and fsynced), before it is sent, and its
result after. On reopening, every request that was attempted and not certainly refused counts
as done, so a crash at any moment never leads to a second call: at worst a request that was
recorded but never sent is skipped (reported as ``SKIPPED``, "may have been placed").

Crash consistency:

* A crash mid-write leaves a torn last line. Nothing was done on its behalf (a request is sent
  only once its attempt record is on disk), so opening cuts it off, durably, before appending.
* A write that fails (a full disk, an I/O error) is rolled back: the file is truncated to its
  last good length and fsynced, and the journal refuses every later write, so nothing lands
  after a failed flush. :class:`JournalWriteError` says whether the rollback itself succeeded.
  Records are written with ``os.write`` on the file descriptor: no buffer that could write
  the rest later.
* Creating the file fsyncs its directory, so the file itself survives a power cut.

Many placements finish (or are stopped) at once, so writes are group-committed: one write and
one fsync, in a worker thread, for all the records that arrived while the previous one ran.

Resuming reads the file once, a slice at a time between turns of the event loop, into a
compact index of digests and record offsets (``_journal_index``, about 50 bytes a request); a
request's earlier outcome is read back from its record only when the request comes up again.
Every record the journal writes is applied to that index once it is on disk, with its offset,
just as loading applies it (``_journal_file.apply``): ``admit``, ``skips``, ``unknowns`` and
``ended`` answer what is durable, whether an earlier run wrote it, this one, or a run that just
ended on the same object. ``admit`` is a lookup only: what a run saw itself, the run remembers.

A run on the journal object is bracketed by ``start_run`` (a fresh ``run_id``, which its
records carry) and ``end_run``; one run at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime
from typing import Any

from talkstack_async._errors import JournalInUseError, JournalWriteError, ValidationError
from talkstack_async.campaigns.ledgers._journal_file import (
    FORMAT,
    Loader,
    apply,
    fsync_directory,
    read_line,
)
from talkstack_async.campaigns.ledgers._protocol import Unknown
from talkstack_async.campaigns.ledgers._records import (
    Ended,
    Verdict,
    ended_from,
    line,
    now,
    result_record,
)

__all__ = ["DialJournal", "JournalInUseError", "JournalWriteError"]

_MAYBE_PLACED = ""  # the sid of a request that may have been placed, for all we know
_PLACED_EVENTS = ("placed", "final")  # records that carry a placed call's sid

# A record queued for the next group commit: its line, the record as written (stamped with
# the run), and the future its writer waits on.
_Queued = tuple[bytes, Mapping[str, Any], "asyncio.Future[None]"]


class DialJournal:
    """One campaign's journal file (created with mode 0600: it holds phone numbers)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open ``path``, reading it whole before returning (``open`` does so without
        blocking the event loop)."""
        loader = Loader(path)
        try:
            while loader.step():
                pass
        except BaseException:
            loader.abandon()
            raise
        self._start(loader)

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> DialJournal:
        """Open ``path``, reading it a slice at a time so the event loop keeps running.

        (Not in a worker thread: a thread parsing a big file holds the GIL in stretches of
        up to a second, measured, and the loop would stall just the same.)
        """
        loader = Loader(path)
        try:
            while True:
                if not loader.step():
                    break
                await asyncio.sleep(0)  # a turn for the loop between two slices
        except BaseException:
            loader.abandon()
            raise
        journal = cls.__new__(cls)
        journal._start(loader)
        return journal

    def _start(self, loader: Loader) -> None:
        self.path = loader.path
        self._fd = loader.fd
        self._index = loader.index  # digest -> the offset of its deciding record
        self._withdrawn = loader.withdrawn
        self._size = loader.offset
        self._lock = threading.Lock()
        self._pending: list[_Queued] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self.broken: JournalWriteError | None = None
        """Set once a write failed: every later write raises it."""
        self.run_id = secrets.token_hex(4)
        """What this run's records are stamped with (``start_run`` renews it)."""
        self._running = False
        if self._size == 0:
            self._append(line({"talkstack_journal": FORMAT, "created": now()}))
            fsync_directory(self.path)

    # -- a run -------------------------------------------------------------------------------

    def start_run(self) -> str:
        """Begin a run on this journal object: a fresh ``run_id`` for its records (so a second
        run on the same object is another run). One run at a time."""
        if self._closed:
            raise ValidationError("ledger", f"the journal {str(self.path)!r} is closed")
        if self._running:
            raise JournalInUseError(
                "ledger",
                f"the journal {str(self.path)!r} is in use by another dial_many run of this "
                "journal object (one run at a time per journal)",
            )
        self._running = True
        self.run_id = secrets.token_hex(4)
        return self.run_id

    async def end_run(self) -> None:
        """End the run: wait until what it queued is written (and so in the index).
        Idempotent."""
        if not self._running:
            return
        self._running = False
        await self.flush()

    # -- what a run must skip ----------------------------------------------------------------

    def admit(self, digest: bytes) -> Verdict | str:
        """``Verdict.NEW`` when the request is free to dial, else the verdict of the journal:
        the sid of the call placed for it, or ``""`` when one may have been placed."""
        offset = self._index.get(digest)
        if offset is None:
            return Verdict.NEW
        return self._verdict(offset)

    def skips(self) -> Iterator[tuple[bytes, str]]:
        """Every request the journal says was placed or may have been, with ``admit``'s
        verdict."""
        for digest, offset in self._index.items():
            yield digest, self._verdict(offset)

    async def unknowns(self) -> AsyncIterator[Unknown]:
        """Every request that may have been placed (attempted, no result since), oldest
        first by attempt: what reconciliation looks up."""
        found = []
        for digest, offset in self._index.items():
            record = read_line(self._fd, offset)
            if record.get("event") == "attempt":
                found.append((offset, digest, record))
        found.sort()
        for _, digest, record in found:
            at = datetime.fromisoformat(str(record.get("at", "")).replace("Z", "+00:00"))
            earlier = tuple(str(sid) for sid in record.get("earlier") or ())
            yield Unknown(digest.hex(), str(record.get("number", "")), at, "attempt", earlier)

    async def resolve(self, key: str, *, sid: str | None, note: str) -> None:
        """Record what reconciliation found: placed (``sid``), or certainly not placed."""
        if sid is not None:
            await self.write({**result_record(key, "placed", sid=sid), "reconciled": note})
        else:
            await self.write({**result_record(key, "failed", error=note), "reconciled": note})

    async def ended(self, digest: bytes) -> Ended | None:
        """How the call placed for ``digest`` ended, as journalled (a ``final`` record), with
        when the run saw it end; None when no end is recorded."""
        offset = self._index.get(digest)
        if offset is None:
            return None
        return ended_from(read_line(self._fd, offset))

    def _verdict(self, offset: int) -> str:
        record = read_line(self._fd, offset)
        if record.get("event") in _PLACED_EVENTS:
            return str(record.get("sid") or _MAYBE_PLACED)
        return _MAYBE_PLACED

    # -- writing -----------------------------------------------------------------------------

    async def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record``; return once it is on disk (raises JournalWriteError)."""
        await self.submit(record)

    def submit(self, record: Mapping[str, Any]) -> asyncio.Future[None]:
        """Queue ``record`` for the next group commit; the future is done once it is on disk
        (or failed with the JournalWriteError). Its outcome counts as retrieved, so a waiter
        that was cancelled meanwhile leaves no "exception was never retrieved" behind."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        if self.broken is not None:
            future.set_exception(self.broken)
            return future
        stamped = {**record, "run": self.run_id} if "key" in record else record
        self._pending.append((line(stamped), stamped, future))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_pending(), name="talkstack-journal"
            )
        return future

    async def flush(self) -> None:
        """Wait until everything queued so far is written (or the journal broke)."""
        while self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    def close(self) -> None:
        """Write what is still queued (one write, one fsync) and release the file."""
        with self._lock:
            if self._closed:
                return
            batch, self._pending = self._pending, []
            if batch and self.broken is None:
                with contextlib.suppress(JournalWriteError):  # kept in self.broken
                    self._append_locked(b"".join(data for data, _, _ in batch))
            self._closed = True
            os.close(self._fd)
        with contextlib.suppress(RuntimeError):  # their loop may be closed already
            _settle(batch, self.broken)

    async def _flush_pending(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                error: BaseException | None = self.broken
                if error is None:
                    data = b"".join(data for data, _, _ in batch)
                    try:
                        start = await loop.run_in_executor(None, self._append, data)
                        self._index_batch(batch, start)
                    except BaseException as exc:  # JournalWriteError, or the loop shutting down
                        error = exc
                _settle(batch, error)
                if isinstance(error, asyncio.CancelledError):
                    raise error
        finally:
            self._flusher = None

    def _index_batch(self, batch: list[_Queued], offset: int) -> None:
        """Apply a batch now on disk, from ``offset`` on, to the index (as loading does).
        On the loop's thread: the index is read there. A journal closed meanwhile answers
        nothing more (and its descriptor may be another file's by now)."""
        if self._closed:
            return
        for data, record, _ in batch:
            apply(self._index, self._withdrawn, record, offset, self._fd)
            offset += len(data)

    def _append(self, data: bytes) -> int:
        """Write ``data`` durably; the offset at which it starts."""
        with self._lock:
            if self._closed:
                raise JournalWriteError("the journal is closed", rolled_back=True)
            return self._append_locked(data)

    def _append_locked(self, data: bytes) -> int:
        if self.broken is not None:
            raise self.broken
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            rolled_back = self._roll_back()
            state = (
                "rolled back to its last complete record"
                if rolled_back
                else "and could not be rolled back: its last records may or may not be on disk"
            )
            self.broken = JournalWriteError(
                f"could not write the journal {str(self.path)!r} ({exc.strerror or exc}); "
                f"it was {state}",
                rolled_back=rolled_back,
            )
            raise self.broken from exc
        start = self._size
        self._size += len(data)
        return start

    def _roll_back(self) -> bool:
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError:
            return False
        return True


def _settle(batch: list[_Queued], error: Any) -> None:
    for _, _, future in batch:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        elif isinstance(error, Exception):
            future.set_exception(error)
        else:  # cancelled: the waiters are told the same
            future.cancel()


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
