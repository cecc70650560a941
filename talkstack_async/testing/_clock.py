"""A clock for tests of calling windows and redial schedules: hours pass in milliseconds."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

__all__ = ["FakeClock"]


class FakeClock:
    """``dial_many(clock=FakeClock(start))``: time that moves only when the run sleeps.

    A sleep of any length takes ``real_seconds`` of real time (so the placements already going
    finish first, as they would in real time), then moves the clock by the whole length.
    ``advance`` moves it by hand.
    """

    def __init__(self, start: datetime, *, real_seconds: float = 0.05) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime (e.g. tzinfo=timezone.utc)")
        self.time = start.astimezone(timezone.utc)
        self.real_seconds = real_seconds

    def now(self) -> datetime:
        return self.time

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.real_seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.time += timedelta(seconds=max(0.0, seconds))
