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
compact index of digests and record offsets (:mod:`talkstack_async._journal_index`, about 50
bytes a request); a request's earlier outcome is read back from its record only when the
request comes up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import secrets
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talkstack_async._errors import JournalInUseError, JournalWriteError, ValidationError
from talkstack_async._journal_index import DigestIndex
from talkstack_async._json import loads

if TYPE_CHECKING:
    from talkstack_async.campaigns._ledger import Unknown

__all__ = ["DialJournal", "JournalInUseError", "JournalWriteError"]

FORMAT = 1
_MAYBE_PLACED = ""  # the sid of a request that may have been placed, for all we know
_PLACED_EVENTS = ("placed", "final")  # records that carry a placed call's sid
_READ_AHEAD = 1024  # bytes read at a record's offset to get the whole line
_SLICE = 128 * 1024  # bytes read and applied between two turns of the event loop (~5 ms)


class Verdict(enum.Enum):
    """What a request's digest means for this run (see :meth:`DialJournal.admit`); an
    earlier run's verdict is a string instead (a sid, or "" for "may have been placed"), so
    no sid can ever be taken for one of these."""

    NEW = "new"  # never seen: send it
    REPEAT = "repeat"  # earlier in this run


class DialJournal:
    """One campaign's journal file (created with mode 0600: it holds phone numbers)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open ``path``, reading it whole before returning (``open`` does so without
        blocking the event loop)."""
        loader = _Loader(path)
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
        loader = _Loader(path)
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

    def _start(self, loader: _Loader) -> None:
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
            self._append(_line({"talkstack_journal": FORMAT, "created": _now()}))
            _fsync_directory(self.path)

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
        from talkstack_async.campaigns._ledger import Unknown

        found = []
        for digest, value in self._index.items():
            if value >> 1:
                record = _read_line(self._fd, value >> 1)
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
        return ended_from(_read_line(self._fd, value >> 1))

    def _verdict(self, offset: int) -> str:
        record = _read_line(self._fd, offset)
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
        return _line({**record, "run": self.run_id} if "key" in record else record)

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


def _lock_exclusively(fd: int, path: Path) -> None:
    """Refuse a journal another run holds: two runs of one campaign would dial people twice.
    (An advisory lock, released when the file is closed or the process dies.)"""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; one run at a time is on you
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalInUseError(
            "journal",
            f"{str(path)!r} is in use by another dial run (one run per journal; to leave a "
            "dial_many loop early, iterate inside contextlib.aclosing(...) so the run stops "
            "at once)",
        ) from None


def _fsync_directory(path: Path) -> None:
    """Make the file's creation itself durable (its directory entry)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return  # a platform that cannot open directories (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; nothing more can be done
    finally:
        os.close(fd)


def attempt_record(
    key: str,
    index: int,
    number: str,
    *,
    attempt: int = 0,
    of: str | None = None,
    earlier: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A claim before sending; a redial (``attempt`` > 0) also names its input's key and the
    sids of the input's earlier calls (reconciliation must not take one of those for it)."""
    record: dict[str, Any] = {
        "event": "attempt", "key": key, "index": index, "number": number, "at": _now()
    }  # fmt: skip
    if attempt:
        record.update(attempt=attempt, of=of, earlier=list(earlier))
    return record


def result_record(
    key: str, status: str, *, sid: str | None = None, error: str = ""
) -> dict[str, Any]:
    """``status`` is a ``DialStatus`` value: placed, failed, unknown or not_attempted."""
    record: dict[str, Any] = {"event": status, "key": key}
    if sid is not None:
        record["sid"] = sid
    if error:
        record["error"] = error
    return record


def final_record(key: str, status: str, *, sid: str, ended: datetime) -> dict[str, Any]:
    """How a placed call ended; ``ended`` is by the run's clock (a redial is due from it)."""
    return {"event": "final", "key": key, "status": status, "sid": sid, "ended": _iso(ended)}


Ended = tuple[str, "datetime | None"]
"""How a call ended (its status) and when the run saw it end."""


def ended_from(record: Mapping[str, Any]) -> Ended | None:
    """A ``final`` record's (status, ended), or None for any other record."""
    if record.get("event") != "final" or not isinstance(record.get("status"), str):
        return None
    return str(record["status"]), parse_time(record.get("ended"))


def parse_time(text: object) -> datetime | None:
    """A record's timestamp (ISO 8601, ``Z`` or an offset; Python 3.10 reads no ``Z``)."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class _Loader:
    """Reads a journal a slice at a time into the index of what a re-run must skip; cuts off
    a torn last line, durably."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # Read only once the lock is held: the last run has written all it will.
            _lock_exclusively(self.fd, self.path)
        except BaseException:
            os.close(self.fd)
            raise
        # Sized up front from the share of attempt records in the first slice: growing the
        # index re-inserts every entry, which would stall the loop for a big journal.
        size = os.fstat(self.fd).st_size
        head = os.pread(self.fd, _SLICE, 0)
        self.index = DigestIndex(size * head.count(b'"event":"attempt"') // max(len(head), 1))
        self.withdrawn: set[tuple[str, Any]] = set()  # withdrawals read before their attempt
        self.offset = 0  # the length of the complete records read so far
        self.number = 0
        self.rest = b""

    def step(self) -> bool:
        """Read and apply one slice; False once the whole file is read."""
        chunk = os.pread(self.fd, _SLICE, self.offset + len(self.rest))
        if not chunk:
            if self.rest:  # a write torn by a crash: nothing was done on its behalf
                os.ftruncate(self.fd, self.offset)
                os.fsync(self.fd)
            return False
        lines = (self.rest + chunk).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            self.number += 1
            if self.number == 1:
                _check_header(_header(line), self.path)
            else:
                record = _parse(line, self.number, self.path)
                _apply(self.index, self.withdrawn, record, self.offset, self.fd)
            self.offset += len(line) + 1
        return True

    def abandon(self) -> None:
        os.close(self.fd)


def _parse(line: bytes, number: int, path: Path) -> dict[str, Any]:
    try:
        record = loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise ValidationError(
            "journal",
            f"{str(path)!r} line {number} is not a journal record (the file is damaged; "
            "it was not written by this SDK alone)",
        )
    return record


def _header(line: bytes) -> Mapping[str, Any]:
    try:
        record = loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _check_header(record: Mapping[str, Any], path: Path) -> None:
    version = record.get("talkstack_journal")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationError("journal", f"{str(path)!r} is not a talkstack dial journal")
    if version > FORMAT:
        raise ValidationError(
            "journal",
            f"{str(path)!r} is a format {version} journal, written by a newer talkstack; "
            f"this version reads format {FORMAT}: upgrade talkstack to resume it",
        )


def _apply(
    index: DigestIndex,
    withdrawn: set[tuple[str, Any]],
    record: Mapping[str, Any],
    offset: int,
    fd: int,
) -> None:
    event, key = record.get("event"), record.get("key")
    if not isinstance(key, str):
        return  # a record of a later minor revision this version does not know
    try:
        digest = bytes.fromhex(key)
        current = index.get(digest)
    except ValueError:
        return  # not a key this SDK wrote
    run = record.get("run")
    mark = offset << 1  # the deciding record's offset; the low bit is "seen by this run"
    if event == "attempt":
        if (key, run) in withdrawn:
            withdrawn.discard((key, run))  # recorded, then not sent
        elif current is None:
            index.set(digest, mark)
    elif event == "unknown":
        if current is None:
            index.set(digest, mark)
    elif event == "placed" or (event == "final" and record.get("sid")):
        index.set(digest, mark)  # a final record (with its sid) also says how the call ended
    elif event == "failed":
        index.discard(digest)  # certainly not placed: a re-run may send it
    elif event == "not_attempted":
        # Withdraws this run's attempt (its record may have reached the disk unsent); the two
        # records may be in either order in journals of earlier versions.
        if current is None:
            withdrawn.add((key, run))
        else:
            deciding = _read_line(fd, current >> 1)
            if deciding.get("event") == "attempt" and deciding.get("run") == run:
                index.discard(digest)


def _read_line(fd: int, offset: int) -> dict[str, Any]:
    data = b""
    while b"\n" not in data:
        chunk = os.pread(fd, _READ_AHEAD, offset + len(data))
        if not chunk:
            break
        data += chunk
    record: dict[str, Any] = loads(data.partition(b"\n")[0])
    return record


def _line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def _now() -> str:
    return _iso(datetime.now(timezone.utc))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
