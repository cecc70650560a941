"""Synthetic call history for benchmarks and paging tests, computed from an index.

A project seeded with a million calls stores three numbers, not a million dicts: call ``i``
(0 = newest) is a pure function of ``i``. Filtered queries remember the matching indexes in a
compact array, so paging through a filtered million costs one scan, not one per page.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from talkstack_async.testing._records import rfc2822

__all__ = ["SeededCalls"]

# Seeded calls are history: every one has ended. Weighted like a real campaign.
_STATUSES = (
    "completed", "completed", "completed", "completed", "busy",
    "no-answer", "completed", "failed", "voicemail", "silence",
)  # fmt: skip
_NEWEST = 1_748_735_940.0  # 2025-05-31T23:59:00Z
_SPACING = 90.0  # seconds between consecutive seeded calls
_CACHE_SIZE = 16


@attrs.define
class SeededCalls:
    project_id: str
    count: int
    from_number: str
    _matches: OrderedDict[tuple[Any, ...], array[int]] = attrs.field(factory=OrderedDict)

    @staticmethod
    def started_at(index: int) -> float:
        return _NEWEST - index * _SPACING

    @staticmethod
    def status(index: int) -> str:
        return _STATUSES[index % len(_STATUSES)]

    @classmethod
    def seconds(cls, index: int) -> int:
        return (index * 37) % 600 if cls.status(index) == "completed" else 0

    @staticmethod
    def to(index: int) -> str:
        return f"+1415{(index * 7919) % 10_000_000:07d}"

    def item(self, index: int) -> dict[str, Any]:
        seconds = self.seconds(index)
        sid = f"CA{index:08x}{self.project_id[:24]:0<24}"
        return {
            "seconds": seconds,
            "cost": round(seconds * 0.0015, 4),
            "status": self.status(index),
            "from": self.from_number,
            "to": self.to(index),
            "date": rfc2822(self.started_at(index)),
            "recordingUrls": (
                [f"https://api.twilio.com/2010-04-01/Recordings/RE{sid[2:]}"] if seconds else []
            ),
            "phoneNumber": self.from_number,
            "callSid": sid,
            "data": {},
        }

    def ended_at(self, index: int) -> float:
        return self.started_at(index) + self.seconds(index)

    def indexes(
        self, key: tuple[Any, ...], keep: Callable[[int], bool] | None
    ) -> range | array[int]:
        """The indexes of the calls that pass ``keep`` (all of them without a filter)."""
        if keep is None:
            return range(self.count)
        cached = self._matches.get(key)
        if cached is None:
            cached = array("q", (i for i in range(self.count) if keep(i)))
            self._matches[key] = cached
            if len(self._matches) > _CACHE_SIZE:
                self._matches.popitem(last=False)
        else:
            self._matches.move_to_end(key)
        return cached

    def find(self, sid: str) -> Mapping[str, Any] | None:
        """The seeded call with this sid, if it is one."""
        suffix = f"{self.project_id[:24]:0<24}"
        if len(sid) != 34 or not sid.startswith("CA") or sid[10:] != suffix:
            return None
        try:
            index = int(sid[2:10], 16)
        except ValueError:
            return None
        return self.item(index) if 0 <= index < self.count else None
