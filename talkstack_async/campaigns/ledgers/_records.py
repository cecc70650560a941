"""The records a ledger keeps, as plain data: what the file journal writes as JSON lines and
the Redis ledger applies to its hashes, and the verdicts a ledger answers with."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

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
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def now() -> str:
    return iso(datetime.now(timezone.utc))


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
