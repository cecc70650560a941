"""Calling windows: place a call only when it is within a window of the *recipient's* time.

``CallingWindow(start=time(9), end=time(20), days=WEEKDAYS)`` is checked in the recipient's
time zones: from the input's own ``timezone`` when it has one (a mapping's ``timezone`` key,
an IANA name), else from the number (``phonenumbers``, ``pip install 'talkstack[windows]'``).
A number that spans several zones (``+1 800``, a country with several) is callable only at
moments inside the window in *every* one of them, the most conservative reading; one with no
such moment in the coming week, or no known zone, is ``FAILED`` before anything is sent
("give it a timezone").

An input outside its window waits: it gives its ``concurrency`` slot back (others go on) and
is kept in memory until its window opens; the journal records it as ``scheduled`` (a resume
schedules it again, from the same rule); ``DialProgress.waiting_for_window`` counts them and
``next_window`` says when the next one opens. Time comes from a ``Clock`` (``now()`` and
``sleep()``), so tests run days of windows in no time.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from talkstack_async._errors import ValidationError

__all__ = ["WEEKDAYS", "CallingWindow", "Clock", "SystemClock", "zones_for"]

WEEKDAYS = frozenset(range(5))  # Monday (0) to Friday (4), as ``datetime.weekday``
EVERY_DAY = frozenset(range(7))
_HORIZON = timedelta(days=8)


class Clock(Protocol):
    """Where a run gets the time from (tests pass a fake one): ``now()`` answers calendar
    questions (is the window open), ``sleep()`` waits. A clock may also have
    ``monotonic()`` (seconds, never going back): the run then keeps its waits on it;
    without one, ``now()`` is taken as never going back (``SystemClock``'s waits are on the
    event loop's monotonic time whatever its wall clock does)."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _days(value: Iterable[int]) -> frozenset[int]:
    days = frozenset(value)
    if not days or not days <= EVERY_DAY:
        raise ValidationError("days", f"must be weekdays 0 (Monday) to 6, not {sorted(value)!r}")
    return days


def _local_time(_: object, attribute: attrs.Attribute[time], value: object) -> None:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValidationError(attribute.name, f"must be a local datetime.time, not {value!r}")


@attrs.frozen
class CallingWindow:
    """Local hours (``start`` inclusive, ``end`` exclusive; ``end`` before ``start`` spans
    midnight) on ``days`` (0 = Monday)."""

    start: time = attrs.field(default=time(9), validator=_local_time)
    end: time = attrs.field(default=time(20), validator=_local_time)
    days: frozenset[int] = attrs.field(default=WEEKDAYS, converter=_days)

    def __attrs_post_init__(self) -> None:
        if self.start == self.end:
            raise ValidationError("end", "a window needs end != start")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON), e.g. for a task queue; ``from_dict`` makes the window again."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "days": sorted(self.days)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallingWindow:
        return cls(
            start=time.fromisoformat(data["start"]),
            end=time.fromisoformat(data["end"]),
            days=data["days"],
        )

    def contains(self, moment: datetime, zone: ZoneInfo) -> bool:
        local = moment.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= clock < self.end
        # Spans midnight: the part after midnight belongs to the day the window started.
        if clock >= self.start:
            return local.weekday() in self.days
        return clock < self.end and (local.weekday() - 1) % 7 in self.days

    def next_open(self, now: datetime, zones: tuple[ZoneInfo, ...]) -> datetime | None:
        """The first moment at or after ``now`` inside the window in every zone; None when
        there is none within a week."""
        if all(self.contains(now, zone) for zone in zones):
            return now
        candidates = sorted(
            opening
            for zone in zones
            for opening in self._openings(now, zone)
            if now < opening <= now + _HORIZON
        )
        return next((c for c in candidates if all(self.contains(c, z) for z in zones)), None)

    def _openings(self, now: datetime, zone: ZoneInfo) -> Iterable[datetime]:
        local = now.astimezone(zone)
        for offset in range(-1, 9):
            day = (local + timedelta(days=offset)).date()
            if day.weekday() in self.days:
                yield datetime.combine(day, self.start, tzinfo=zone).astimezone(timezone.utc)


@functools.lru_cache(maxsize=4096)
def zones_for(number: str, given: str | None) -> tuple[ZoneInfo, ...]:
    """The recipient's time zones: ``given``, else the number's (phonenumbers)."""
    if given is not None:
        try:
            return (ZoneInfo(given),)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError("timezone", f"{given!r} is not an IANA time zone") from None
    try:
        import phonenumbers
        from phonenumbers import timezone as number_zones
    except ImportError as exc:
        raise ValidationError(
            "window", "a window by the number's time zone needs: pip install 'talkstack[windows]'"
        ) from exc
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        raise ValidationError("number", "no time zone is known for this number") from None
    names = [n for n in number_zones.time_zones_for_number(parsed) if n != "Etc/Unknown"]
    if not names:
        raise ValidationError(
            "timezone", "no time zone is known for this number: give the input a timezone"
        )
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # a zone this system's tz database lacks
    if not zones:
        raise ValidationError("timezone", f"this system knows none of the zones {names}")
    return tuple(zones)
