"""The run's own pacing: placements spaced ``1/rate`` apart, at the adaptive rate.

Each attempt reserves the next free moment once (``reserve``) and the gate lets it go when
that moment has come, so the spacing holds however many attempts wait at once and whatever
else they wait for. A refusal for the server's rate voids every reservation made at the old
rate (``epoch``) and the next ones start after the server's pause: no burst when it ends.
"""

from __future__ import annotations

from talkstack_async.campaigns.policies._rate_limit import AdaptiveRate

__all__ = ["Pacer"]


class Pacer:
    def __init__(self, adaptive: AdaptiveRate | None, rate: float | None) -> None:
        self._adaptive = adaptive
        self._rate = rate
        self._next = 0.0
        self.epoch = 0

    def reserve(self, now: float) -> float:
        """The monotonic moment at which one more placement may leave."""
        rate = self._adaptive.current if self._adaptive is not None else self._rate
        if rate is None:
            return now
        slot = self._next if self._next > now else now
        self._next = slot + 1.0 / rate
        return slot

    def refused(self, resume_at: float) -> None:
        """The server refused for its rate: reservations restart at ``resume_at``."""
        self.epoch += 1
        self._next = resume_at
