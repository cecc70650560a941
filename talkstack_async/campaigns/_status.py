"""A campaign's state while it runs: a Redis campaign from any machine, a journal from its own.

Counts are of placements (each redial is one, under its own key), not of inputs. Inputs that
wait (for their calling window, their redial, the server's ``Retry-After``) are counted as the
runs that keep them say; those a run left when it was killed are ``stale_waits`` (a resume
takes them up again).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from talkstack_async._errors import ValidationError
from talkstack_async.campaigns.ledgers._journal_index import DigestIndex
from talkstack_async.campaigns.ledgers._records import parse_time
from talkstack_async.campaigns.ledgers._redis import RedisLedger
from talkstack_async.campaigns.ledgers._redis_pacing import RedisPacing

__all__ = ["CampaignStatus", "campaign_status", "journal_status"]


@attrs.frozen
class CampaignStatus:
    """Counts over the campaign's placements (each is in exactly one of the first four)."""

    campaign: str
    placed: int
    in_flight: int  # claimed by a live process, answer not in yet
    may_have_been_placed: int  # claimed, no result, no live process: reconcile settles them
    not_placed: int  # certainly not placed (a re-run dials them)
    calls_ended: int  # with wait_until_finished (or a redial policy): how many calls ended
    settings: dict[str, str] = attrs.field(factory=dict)
    rate: float | None = None  # the campaign's rate now (cut below the setting after 429s)
    rate_refusals: int = 0  # 429s (and 503s with Retry-After) the campaign has met
    paused_for: float = 0.0  # seconds left of the server's last Retry-After
    waiting_for_window: int = 0  # inputs outside their calling window, kept by a live run
    waiting_to_redial: int = 0  # inputs whose redial is not due yet, kept by a live run
    backing_off: int = 0  # placements refused for the server's rate, to be sent again
    next_due: datetime | None = None  # when the next waiting input is due (window or redial)
    stale_waits: int = 0  # waits a run left when it stopped without saying so (killed)
    running: bool | None = None  # a journal: whether a run holds it now (None: not known)

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["next_due"] = self.next_due.isoformat() if self.next_due else None
        return data


async def campaign_status(url: str, campaign: str) -> CampaignStatus:
    """A Redis campaign's status (any machine, any time)."""
    ledger = await RedisLedger.open(url, campaign, check_durability=False)
    try:
        counts = await ledger.counts()
        pacing = RedisPacing(ledger._redis, ledger._prefix, rate=None, concurrency=1)
        live = await pacing.in_flight()
        claimed = counts["attempt"] + counts["unknown"]
        in_flight = min(live, counts["attempt"])
        settings = await ledger.meta()
        pace = await ledger._redis.hgetall(ledger._prefix + "pace")
        configured = float(settings["rate"]) if settings.get("rate") else None
        rate = float(pace["rate"]) if "rate" in pace else configured
        paused = float(pace.get("paused_until", 0)) / 1000 - time.time()
        next_ms = counts["next_ms"]
        return CampaignStatus(
            campaign=campaign,
            placed=counts["placed"],
            in_flight=in_flight,
            may_have_been_placed=claimed - in_flight,
            not_placed=counts["failed"],
            calls_ended=counts["finished"],
            settings=settings,
            rate=rate,
            rate_refusals=int(pace.get("refusals", 0)),
            paused_for=max(0.0, paused),
            waiting_for_window=counts["window"],
            waiting_to_redial=counts["redial"],
            backing_off=counts["backoff"],
            next_due=datetime.fromtimestamp(next_ms / 1000, timezone.utc) if next_ms else None,
            stale_waits=counts["stale"],
        )
    finally:
        await ledger.close()


# A placement's state in a journal, the index's value: the low 3 bits; a wait's kind above.
_ATTEMPT, _UNKNOWN, _PLACED, _FAILED = 1, 2, 3, 4
_ENDED = 8  # or-ed in: the call's end is recorded
_WAITS = {"window": 16, "redial": 32, "backoff": 64}


def journal_status(path: str | os.PathLike[str]) -> CampaignStatus:
    """A journal's status, read without taking it from the run that may hold it (it is
    append-only: a record is read once it is whole)."""
    path = Path(path)
    index = DigestIndex()
    last_run = ""
    refusals = 0
    rate: float | None = None
    paused_until = 0.0
    with path.open("rb") as file:
        running = _held(file.fileno())
        header = file.readline()
        if b"talkstack_journal" not in header:
            raise ValidationError("journal", f"{str(path)!r} is not a talkstack dial journal")
        dues: dict[bytes, float] = {}
        runs: dict[bytes, str] = {}
        for line in file:
            if not line.endswith(b"\n"):
                break  # being written
            try:
                record = json.loads(line)
            except ValueError:
                raise ValidationError(
                    "journal", f"{str(path)!r} has a damaged record: not a dial journal?"
                ) from None
            key = record.get("key") if isinstance(record, dict) else None
            if not isinstance(key, str):
                continue
            try:
                digest = bytes.fromhex(key)
            except ValueError:
                continue
            last_run = str(record.get("run") or last_run)
            state = index.get(digest) or 0
            event = record.get("event")
            if event == "attempt":
                state = _ATTEMPT
                runs[digest] = str(record.get("run"))
                dues.pop(digest, None)
            elif event == "unknown":
                state = _UNKNOWN
            elif event == "placed":
                state = _PLACED | (state & _ENDED)
            elif event == "final":
                state = _PLACED | _ENDED
            elif event in ("failed", "not_attempted"):
                state = _FAILED
                if record.get("until"):
                    refusals += 1
                    state |= _WAITS["backoff"]
                    until = _seconds(record["until"])
                    paused_until = max(paused_until, until)
                    rate = record.get("rate", rate)
            elif event == "scheduled":
                state = (state & 15) | _WAITS.get(str(record.get("why")), _WAITS["window"])
                dues[digest] = _seconds(record.get("at"))
            index.set(digest, state)
    counts = dict.fromkeys(("placed", "attempt", "unknown", "failed", "ended"), 0)
    waits = dict.fromkeys(_WAITS, 0)
    in_flight = 0
    for digest, state in index.items():
        kind = state & 7
        if kind == _PLACED:
            counts["placed"] += 1
        elif kind == _ATTEMPT:
            counts["attempt"] += 1
            in_flight += bool(running) and runs.get(digest) == last_run
        elif kind == _UNKNOWN:
            counts["unknown"] += 1
        elif kind == _FAILED:
            counts["failed"] += 1
        counts["ended"] += bool(state & _ENDED)
        for why, bit in _WAITS.items():
            if state & bit:
                waits[why] += 1
    now = time.time()
    waiting = sum(waits.values()) if running else 0
    pending = [at for digest, at in dues.items() if (index.get(digest) or 0) & 48]
    return CampaignStatus(
        campaign=str(path),
        placed=counts["placed"],
        in_flight=in_flight,
        may_have_been_placed=counts["attempt"] + counts["unknown"] - in_flight,
        not_placed=counts["failed"],
        calls_ended=counts["ended"],
        rate=rate,
        rate_refusals=refusals,
        paused_for=max(0.0, paused_until - now) if running else 0.0,
        waiting_for_window=waits["window"] if running else 0,
        waiting_to_redial=waits["redial"] if running else 0,
        backing_off=waits["backoff"] if running else 0,
        next_due=datetime.fromtimestamp(min(pending), timezone.utc) if pending else None,
        stale_waits=0 if running else sum(waits.values()) - waiting,
        running=running,
    )


def _held(fd: int) -> bool | None:
    """Whether a run holds the journal (its exclusive lock); None where locks are not known."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _seconds(text: object) -> float:
    moment = parse_time(text)
    return moment.timestamp() if moment is not None else 0.0
