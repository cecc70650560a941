"""The records a ledger keeps, as plain data: what the file journal writes as JSON lines and
the Redis ledger applies to its hashes, and the verdicts a ledger answers with."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from talkstack_async._json import dumps_line

__all__ = [
    "Ended",
    "Verdict",
    "attempt_record",
    "ended_from",
    "final_record",
    "parse_time",
    "result_record",
]


class Verdict(enum.Enum):
    """What a ledger's ``admit`` answers when it is not a string (a sid, or "" for "may have
    been placed"), so no sid can ever be taken for one of these."""

    NEW = "new"  # free to dial: send it
    REPEAT = "repeat"  # earlier in this run (the SDK's ledgers never say it; a custom one may)


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
        "event": "attempt", "key": key, "index": index, "number": number, "at": now()
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
    return {"event": "final", "key": key, "status": status, "sid": sid, "ended": iso(ended)}


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


def line(record: Mapping[str, Any]) -> bytes:
    """A record as one line of the journal (compact JSON, UTF-8)."""
    return dumps_line(record)


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text (one
# tuple, swapped whole: threads running loops of their own read a consistent pair)


def now() -> str:
    """The time now as a record's timestamp (UTC, milliseconds), as ``iso`` writes it.

    Each claim carries one, so it is made from ``time.time()`` with the whole second's text
    kept between calls, a third of ``datetime.now().isoformat()``'s cost; held to ``iso`` by
    a property test (``tests/unit/test_journal.py``)."""
    global _second
    moment = time.time()
    second = int(moment)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int((moment - second) * 1000):03d}Z"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
