"""Fake clocks for the tests of waits: ``HeldClock`` moves only once the test lets it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from talkstack_async.testing import FakeClock


class HeldClock(FakeClock):
    """A ``FakeClock`` whose sleeps wait until the test lets time move (``moving.set()``),
    or until ``until()`` holds (checked every few milliseconds): what must happen before the
    clock jumps does, however loaded the machine. ``sleeping`` is set at the first sleep."""

    def __init__(self, start: datetime, until: Callable[[], bool] | None = None) -> None:
        super().__init__(start, real_seconds=0.0)
        self.moving = asyncio.Event()
        self.sleeping = asyncio.Event()
        self._until = until

    async def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        while not self.moving.is_set():
            if self._until is not None and self._until():
                self.moving.set()
                break
            await asyncio.sleep(0.005)
        await super().sleep(seconds)
