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
compact index of digests and record offsets (:mod:`talkstack_async.campaigns.ledgers._journal_index`, about 50
bytes a request); a request's earlier outcome is read back from its record only when the
request comes up again.
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

from talkstack_async._errors import JournalInUseError, JournalWriteError
from talkstack_async.campaigns.ledgers._journal_file import (
    FORMAT,
    Loader,
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
SLICE = 128 * 1024  # bytes read and applied between two turns of the event loop (~5 ms)


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
        self._index = loader.index
        self._size = loader.offset
        self._lock = threading.Lock()
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self.broken: JournalWriteError | None = None
        """Set once a write failed: every later write raises it."""
        self.run_id = secrets.token_hex(4)
        if self._size == 0:
            self._append(line({"talkstack_journal": FORMAT, "created": now()}))
            fsync_directory(self.path)

    # -- what a re-run must skip -------------------------------------------------------------

    def admit(self, digest: bytes) -> Verdict | str:
        """``Verdict.NEW`` or ``Verdict.REPEAT`` (this run saw it), else an earlier run's
        verdict: the sid of the call it placed, or ``""`` when it may have placed one."""
        value = self._index.get(digest)
        if value is None:
            self._index.set(digest, 1)
            return Verdict.NEW
        if value & 1:
            return Verdict.REPEAT
        self._index.set(digest, value | 1)
        return self._verdict(value >> 1)

    def skips(self) -> Iterator[tuple[bytes, str]]:
        """Every request an earlier run placed or may have placed, with ``admit``'s verdict."""
        for digest, value in self._index.items():
            if value >> 1:
                yield digest, self._verdict(value >> 1)

    async def unknowns(self) -> AsyncIterator[Unknown]:
        """Every request that may have been placed (attempted, no result since), oldest
        first by attempt: what reconciliation looks up."""
        found = []
        for digest, value in self._index.items():
            if value >> 1:
                record = read_line(self._fd, value >> 1)
                if record.get("event") == "attempt":
                    found.append((value >> 1, digest, record))
        found.sort()
        for _, digest, record in found:
            at = datetime.fromisoformat(str(record.get("at", "")).replace("Z", "+00:00"))
            earlier = tuple(str(sid) for sid in record.get("earlier") or ())
            yield Unknown(digest.hex(), str(record.get("number", "")), at, "attempt", earlier)

    async def resolve(self, key: str, *, sid: str | None, note: str) -> None:
        """Record what reconciliation found: placed (``sid``), or certainly not placed."""
        digest = bytes.fromhex(key)
        await self.flush()
        offset = self._size  # where this record lands: nothing else is queued
        if sid is not None:
            await self.write({**result_record(key, "placed", sid=sid), "reconciled": note})
            self._index.set(digest, offset << 1)
        else:
            await self.write({**result_record(key, "failed", error=note), "reconciled": note})
            self._index.discard(digest)

    async def ended(self, digest: bytes) -> Ended | None:
        """How the call placed for ``digest`` ended, as journalled (a ``final`` record), with
        when the run saw it end; None when no end is recorded."""
        value = self._index.get(digest)
        if value is None or not value >> 1:
            return None
        return ended_from(read_line(self._fd, value >> 1))

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
        self._pending.append((self._line(record), future))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_pending(), name="talkstack-journal"
            )
        return future

    def _line(self, record: Mapping[str, Any]) -> bytes:
        """A record stamped with this run's id, as one line."""
        return line({**record, "run": self.run_id} if "key" in record else record)

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
                    self._append_locked(b"".join(line for line, _ in batch))
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
                    data = b"".join(line for line, _ in batch)
                    try:
                        await loop.run_in_executor(None, self._append, data)
                    except BaseException as exc:  # JournalWriteError, or the loop shutting down
                        error = exc
                _settle(batch, error)
                if isinstance(error, asyncio.CancelledError):
                    raise error
        finally:
            self._flusher = None

    def _append(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                raise JournalWriteError("the journal is closed", rolled_back=True)
            self._append_locked(data)

    def _append_locked(self, data: bytes) -> None:
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
        self._size += len(data)

    def _roll_back(self) -> bool:
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError:
            return False
        return True


def _settle(batch: list[tuple[bytes, asyncio.Future[None]]], error: Any) -> None:
    for _, future in batch:
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
