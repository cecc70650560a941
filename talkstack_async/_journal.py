"""The dialer's journal: an append-only JSON-lines file that makes a campaign resumable.

A request is recorded as attempted, durably (flushed and fsynced), before it is sent, and its
result after. On reopening, every request that was attempted and not certainly refused counts
as done, so a crash at any moment never leads to a second call: at worst a request that was
recorded but never sent is skipped (reported as ``SKIPPED``, "may have been placed").

Many placements finish at once, so writes are group-committed: one write and one fsync, in a
worker thread, for all the records that arrived while the previous fsync ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from talkstack_async._errors import ValidationError

__all__ = ["DialJournal", "JournalInUseError"]

FORMAT = 1
_MAYBE_PLACED = ""  # the sid of a request that may have been placed, for all we know


class DialJournal:
    """One campaign's journal file (created with mode 0600: it holds phone numbers)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _lock_exclusively(fd, self.path)
            # Read only once the lock is held: the last run has written all it will.
            self.done: dict[bytes, str] = _load(self.path)
            """Requests a re-run must skip: digest -> sid (empty when the outcome is unknown)."""
        except BaseException:
            os.close(fd)
            raise
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._lock = threading.Lock()
        self._pending: list[tuple[str, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.run_id = secrets.token_hex(4)
        if self._file.tell() == 0:
            self.write_now({"talkstack_journal": FORMAT, "created": _now()})

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, wait: float = 5.0) -> DialJournal:
        """Open ``path``, waiting up to ``wait`` seconds for a run that holds it to finish.

        The wait covers a run the caller just left with ``break``: Python closes an abandoned
        async generator a moment later, from the event loop, and only then is its journal free.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            try:
                return cls(path)
            except JournalInUseError:
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.02)

    async def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record``; return once it is on disk."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((self._line(record), future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush_pending())
        await future

    def write_now(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` from synchronous code (the run's shutdown, where awaiting is not
        possible): blocks for one fsync."""
        self._append(self._line(record))

    def _line(self, record: Mapping[str, Any]) -> str:
        """A record stamped with this run's id, as one line."""
        return _line({**record, "run": self.run_id} if "key" in record else record)

    async def wait_flushed(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    async def _flush_pending(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await loop.run_in_executor(
                        None, self._append, "".join(line for line, _ in batch)
                    )
                except BaseException as exc:
                    for _, future in batch:
                        if future.done():
                            continue
                        if isinstance(exc, Exception):
                            future.set_exception(exc)
                        else:  # cancelled: the waiters are told the same
                            future.cancel()
                    raise
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flusher = None

    def _append(self, text: str) -> None:
        with self._lock:
            self._file.write(text)
            self._file.flush()
            os.fsync(self._file.fileno())


class JournalInUseError(ValidationError):
    """Another dial run holds the journal."""


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
            "journal", f"{str(path)!r} is in use by another dial run (one run per journal)"
        ) from None


def attempt_record(key: str, index: int, number: str) -> dict[str, Any]:
    return {"event": "attempt", "key": key, "index": index, "number": number, "at": _now()}


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


def final_record(key: str, status: str) -> dict[str, Any]:
    return {"event": "final", "key": key, "status": status}


def _load(path: Path) -> dict[bytes, str]:
    done: dict[bytes, str] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as file:
        lines = file.readlines()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(line)
        except ValueError:
            if number == len(lines) and not line.endswith("\n"):
                break  # a write torn by a crash: its request was never sent
            raise ValidationError(
                "journal", f"{str(path)!r} line {number} is not a journal record"
            ) from None
        records.append(record)
    # A withdrawal may land before the attempt it withdraws (written from two threads).
    withdrawn = {(r.get("key"), r.get("run")) for r in records if r.get("event") == "not_attempted"}
    for record in records:
        _apply(done, record, withdrawn)
    return done


def _apply(
    done: dict[bytes, str], record: Mapping[str, Any], withdrawn: set[tuple[Any, Any]]
) -> None:
    event, key = record.get("event"), record.get("key")
    if not isinstance(key, str):
        return  # the header, or a record of a later format this version does not know
    digest = bytes.fromhex(key)
    if event == "attempt" and (key, record.get("run")) in withdrawn:
        return  # recorded, then not sent
    if event in ("attempt", "unknown"):
        done.setdefault(digest, _MAYBE_PLACED)
    elif event == "placed":
        done[digest] = str(record.get("sid") or _MAYBE_PLACED)
    elif event == "failed":
        done.pop(digest, None)  # certainly not placed: a re-run may send it


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
