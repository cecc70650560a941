"""Reading a journal file: its header, its records, and the index of what a re-run must skip,
a slice at a time; the file lock that keeps one run per journal."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from talkstack_async._errors import JournalInUseError, ValidationError
from talkstack_async._json import loads
from talkstack_async.campaigns.ledgers._journal_index import DigestIndex

FORMAT = 1
READ_AHEAD = 1024  # bytes read at a record's offset to get the whole line
SLICE = 128 * 1024  # bytes read and applied between two turns of the event loop (~5 ms)


def lock_exclusively(fd: int, path: Path) -> None:
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


def fsync_directory(path: Path) -> None:
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


class Loader:
    """Reads a journal a slice at a time into the index of what a re-run must skip; cuts off
    a torn last line, durably."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # Read only once the lock is held: the last run has written all it will.
            lock_exclusively(self.fd, self.path)
        except BaseException:
            os.close(self.fd)
            raise
        # Sized up front from the share of attempt records in the first slice: growing the
        # index re-inserts every entry, which would stall the loop for a big journal.
        size = os.fstat(self.fd).st_size
        head = os.pread(self.fd, SLICE, 0)
        self.index = DigestIndex(size * head.count(b'"event":"attempt"') // max(len(head), 1))
        self.withdrawn: set[tuple[str, Any]] = set()  # withdrawals read before their attempt
        self.offset = 0  # the length of the complete records read so far
        self.number = 0
        self.rest = b""

    def step(self) -> bool:
        """Read and apply one slice; False once the whole file is read."""
        chunk = os.pread(self.fd, SLICE, self.offset + len(self.rest))
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
                apply(self.index, self.withdrawn, record, self.offset, self.fd)
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


def apply(
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
    mark = offset  # the deciding record's offset (never 0: the header is there)
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
            deciding = read_line(fd, current)
            if deciding.get("event") == "attempt" and deciding.get("run") == run:
                index.discard(digest)


def read_line(fd: int, offset: int) -> dict[str, Any]:
    data = b""
    while b"\n" not in data:
        chunk = os.pread(fd, READ_AHEAD, offset + len(data))
        if not chunk:
            break
        data += chunk
    record: dict[str, Any] = loads(data.partition(b"\n")[0])
    return record
