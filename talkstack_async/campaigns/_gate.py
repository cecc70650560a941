"""The gate: the one place that says "this call may leave now".

Every make-call of a campaign passes :meth:`Gate.ask` immediately before its request leaves:
the placement sends only on ``GO``, and awaits nothing between that answer and the send.
Each time, in this order, the gate asks:

1. Has the run failed or been stopped?                        no send: ``STOP``
2. Is the input due (a redial's time has come)?               ``HOLD`` in the schedule
3. Is its calling window open now, in the recipient's zones?  ``HOLD`` until it opens
   (the wall clock, asked now: a calendar question)
4. Is the server's pause (``Retry-After``) over, for the run and this request?  ``WAIT``
5. Does the run's rate allow it (its reserved moment has come)?                 ``WAIT``
6. Does it hold one of the campaign's concurrency leases, still live (a shared ledger)?
   ``LEASE``: take one (or renew it); taken only now, so an input held for its window never
   holds one
7. Does the campaign's rate allow it (a shared ledger)?       ``ROOM`` / ``TAKE``
8. Is the request claimed, durably, by this run?              ``CLAIM``

Answers 6 to 8 (and ``REFRESH``: the campaign's shared pause and rate are re-read) ask the
placement to do I/O and then ask again: so when the gate finally says ``GO``, every question
was answered after the last await, by state in memory. Waits are on monotonic time; the
window is the only question asked of the wall clock. New rules (suppression lists, attempt
caps) are questions asked here, not new paths.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from talkstack_async._errors import TalkstackError, ValidationError
from talkstack_async.campaigns._pace import Pacer
from talkstack_async.campaigns._state import Attempt, Entry
from talkstack_async.campaigns.policies._rate_limit import AdaptiveRate
from talkstack_async.campaigns.policies._windows import CallingWindow, Clock, zones_for
from talkstack_async.models.dial import DialStatus

__all__ = ["Answer", "Gate", "Kind"]


class Kind(enum.Enum):
    GO = "go"  # send now
    WAIT = "wait"  # wait ``seconds`` in place (the server's pause, the run's rate), ask again
    HOLD = "hold"  # give the slot back and wait in the schedule (window, redial)
    STOP = "stop"  # do not send: the attempt's outcome is ``status``
    REFRESH = "refresh"  # re-read the campaign's shared pause and rate, ask again
    ROOM = "room"  # wait until the campaign's rate has room, ask again
    CLAIM = "claim"  # claim the request in the ledger, ask again
    TAKE = "take"  # take this send's place in the campaign's rate, ask again
    LEASE = "lease"  # take (or renew) a campaign's concurrency lease, ask again


class Answer(NamedTuple):
    kind: Kind
    seconds: float = 0.0  # WAIT
    why: str = ""  # WAIT, HOLD
    due: datetime | None = None  # HOLD: the calendar instant
    not_before: float = 0.0  # HOLD: the same, on the schedule's monotonic time
    status: DialStatus | None = None  # STOP
    detail: str = ""  # STOP
    error: TalkstackError | None = None  # STOP


GO = Answer(Kind.GO)
CLAIM = Answer(Kind.CLAIM)
REFRESH = Answer(Kind.REFRESH)
ROOM = Answer(Kind.ROOM)
TAKE = Answer(Kind.TAKE)
LEASE = Answer(Kind.LEASE)


class Gate:
    def __init__(
        self,
        run: Any,
        *,
        window: CallingWindow | None,
        clock: Clock,
        schedule_now: Callable[[], float],
        schedule_until: Callable[[datetime], float],
        adaptive: AdaptiveRate | None,
        pacer: Pacer | None,
        campaign_rate: bool,
        claims: bool,
        leases: bool,
    ) -> None:
        self._run = run  # .failure, .stopping
        self._window = window
        self._clock = clock
        self._schedule_now = schedule_now
        self._schedule_until = schedule_until  # a calendar instant on the schedule's clock
        self._adaptive = adaptive
        self._stale = getattr(adaptive, "stale", None)
        self._pacer = pacer
        self._campaign_rate = campaign_rate
        self._claims = claims
        self._leases = leases
        self._time = asyncio.get_running_loop().time

    def ask(self, entry: Entry, attempt: Attempt) -> Answer:
        """May ``attempt`` of ``entry`` be sent now? (See the module docstring.)"""
        run = self._run
        if run.failure is not None:
            return Answer(Kind.STOP, status=DialStatus.NOT_ATTEMPTED, detail="run failed")
        if run.stopping:
            return Answer(Kind.STOP, status=DialStatus.NOT_ATTEMPTED, detail="run stopped")
        if entry.not_before and entry.not_before > self._schedule_now():
            return Answer(Kind.HOLD, why="redial", due=entry.due, not_before=entry.not_before)
        if self._window is not None:
            closed = self._window_closed(entry)
            if closed is not None:
                return closed
        now = self._time()
        adaptive = self._adaptive
        if adaptive is not None:
            if self._stale is not None and self._stale():
                return REFRESH
            left = max(adaptive.pause_left(), attempt.resend_at - now)
            if left > 0:
                return Answer(Kind.WAIT, seconds=left, why="pause")
        elif attempt.resend_at > now:
            return Answer(Kind.WAIT, seconds=attempt.resend_at - now, why="pause")
        pacer = self._pacer
        if pacer is not None:
            if attempt.slot_epoch != pacer.epoch:
                attempt.slot_at, attempt.slot_epoch = pacer.reserve(now), pacer.epoch
            if attempt.slot_at > now:
                return Answer(Kind.WAIT, seconds=attempt.slot_at - now, why="rate")
        if self._leases and (attempt.lease is None or not attempt.lease.live()):
            return LEASE
        if self._campaign_rate and not (attempt.rate_taken or attempt.claimed or attempt.room):
            return ROOM
        if self._claims and not attempt.claimed:
            return CLAIM
        if self._campaign_rate and not attempt.rate_taken:
            return TAKE
        return GO

    def _window_closed(self, entry: Entry) -> Answer | None:
        """None while the entry's window is open now; else when it opens (HOLD), or STOP
        when it has no window at all."""
        assert self._window is not None
        request = entry.request
        if entry.zones is None:
            try:
                entry.zones = zones_for(request.number, request.timezone)
            except ValidationError as exc:
                return _no_window(exc)
        now = self._clock.now()
        opens = self._window.next_open(now, entry.zones)
        if opens is None:
            error = ValidationError(
                "timezone",
                "no moment in the coming week is inside the calling window in all of this "
                f"number's {len(entry.zones)} time zones: give the input its timezone",
            )
            return _no_window(error)
        if opens <= now:
            return None
        return Answer(Kind.HOLD, why="window", due=opens, not_before=self._schedule_until(opens))


def _no_window(error: ValidationError) -> Answer:
    detail = "no calling window; not sent"
    return Answer(Kind.STOP, status=DialStatus.FAILED, detail=detail, error=error)
