"""The schedule: inputs that wait for their calling window or their redial, earliest first.

A held input gives its ``concurrency`` slot back (others go on) and waits in one heap keyed by
a monotonic deadline (calendar instants are converted once, when the input is held); the
scheduler task sleeps until the earliest, takes a slot, and starts the input's placement,
whose gate asks the window again, by the wall clock, before anything is sent. With the
system clock the deadlines are the event loop's monotonic time, so a wall clock stepped
back or forward never stretches a wait; another clock gives its ``monotonic()`` if it has one,
else its own time is taken as monotonic (a test clock, ``FakeClock``, only moves forward).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from datetime import datetime

from talkstack_async.campaigns._state import Entry
from talkstack_async.campaigns.policies._windows import Clock, SystemClock

__all__ = ["Schedule"]


class Schedule:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Entry]] = []
        self.waits = {"window": 0, "redial": 0}
        self._wake = asyncio.Event()
        monotonic = getattr(clock, "monotonic", None)
        if type(clock) is SystemClock:
            monotonic = asyncio.get_running_loop().time
        self._monotonic: Callable[[], float] | None = monotonic

    def now(self) -> float:
        """The schedule's monotonic time: the event loop's, or a test clock's own."""
        if self._monotonic is not None:
            return self._monotonic()
        return self._clock.now().timestamp()

    def until(self, moment: datetime) -> float:
        """A calendar instant as the schedule's monotonic time (converted once, now)."""
        return self.now() + (moment - self._clock.now()).total_seconds()

    def hold(self, entry: Entry, why: str, due: datetime | None, not_before: float) -> None:
        """Keep ``entry`` until ``not_before``; the caller gives its slot back."""
        entry.why, entry.due = why, due
        if why == "redial":
            entry.not_before = not_before
        heapq.heappush(self._heap, (not_before, entry.index, entry))
        self.waits[why] += 1
        if self._heap[0][2] is entry:
            self._wake.set()  # the earliest now: the scheduler's sleep was too long

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def next_due(self) -> datetime | None:
        return self._heap[0][2].due if self._heap else None

    def wake(self) -> None:
        self._wake.set()

    async def run(
        self, slots: asyncio.Semaphore, start: Callable[[Entry], None], stopped: Callable[[], bool]
    ) -> None:
        """Start each held input when it is due, earliest first. Its slot is taken before it
        leaves the heap, so a stop meanwhile still finds it here."""
        heap = self._heap
        while heap and not stopped():
            left = heap[0][0] - self.now()
            if left > 0:
                await self._sleep(left)
                continue
            await slots.acquire()
            if stopped() or not heap:
                slots.release()
                break
            entry = heapq.heappop(heap)[2]
            self.waits[entry.why] -= 1
            start(entry)

    def drain(self) -> list[Entry]:
        """Every held input, in input order (the run stopped or failed)."""
        entries = sorted((e for _, _, e in self._heap), key=lambda e: e.index)
        self._heap.clear()
        for entry in entries:
            self.waits[entry.why] -= 1
        return entries

    async def _sleep(self, seconds: float) -> None:
        """The clock's sleep, cut short when an input due earlier is held (or the run ends)."""
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)
