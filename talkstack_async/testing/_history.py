"""Call-history filters (the API's query parameters) and paging.

Filter semantics follow Twilio's call list, which these filters mirror (the docs only name
them): ``startTime`` is the UTC day a call started on; ``startTimeBefore`` keeps calls that
started before that day, ``startTimeAfter`` calls that started on it or later; the ``endTime``
trio does the same with the end (start plus duration; unfinished calls have none).

Paging (not documented; the SDK's assumption, see ``talkstack_async._pagination``): body
``page``, 1-based, and ``pageSize`` (default 20); the answer carries ``page``, ``pageSize``,
``totalPages`` and ``total``, and a page past the end is a 404 like an empty history.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from talkstack_async.testing._errors import Refusal

__all__ = ["HistoryFilter", "page_bounds"]

_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_STATUSES = frozenset(
    {"queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed",
     "no-answer", "voicemail", "silence"}
)  # fmt: skip
_DAY_FILTERS = (
    "startTime", "startTimeBefore", "startTimeAfter", "endTime", "endTimeBefore", "endTimeAfter",
)  # fmt: skip


def _day_start(name: str, text: str) -> float:
    match = _DAY.fullmatch(text)
    year, month, day = (int(part) for part in match.groups()) if match else (0, 0, 0)
    if not (match and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        raise Refusal(400, f"{name} must be a valid date in YYYY-MM-DD format.")
    return float(calendar.timegm((year, month, day, 0, 0, 0)))


@attrs.frozen
class HistoryFilter:
    to: str | None = None
    from_: str | None = None
    status: str | None = None
    days: tuple[tuple[str, float], ...] = ()  # (filter name, start of its UTC day)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> HistoryFilter:
        status = query.get("status")
        if status is not None and status not in _STATUSES:
            raise Refusal(400, f"invalid status {status!r}.")
        days = tuple(
            (name, _day_start(name, query[name])) for name in _DAY_FILTERS if name in query
        )
        return cls(query.get("to"), query.get("from"), status, days)

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.to, self.from_, self.status, self.days)

    @property
    def is_empty(self) -> bool:
        return self.key == (None, None, None, ())

    def accepts(
        self, *, to: str, from_: str, status: str, started: float, ended: float | None
    ) -> bool:
        if self.to is not None and to != self.to:
            return False
        if self.from_ is not None and from_ != self.from_:
            return False
        if self.status is not None and status != self.status:
            return False
        return all(_day_test(name, day, started, ended) for name, day in self.days)

    def predicate(
        self, fields: Callable[[int], tuple[str, str, str, float, float | None]]
    ) -> Callable[[int], bool]:
        def keep(index: int) -> bool:
            to, from_, status, started, ended = fields(index)
            return self.accepts(to=to, from_=from_, status=status, started=started, ended=ended)

        return keep


def _day_test(name: str, day: float, started: float, ended: float | None) -> bool:
    moment = started if name.startswith("start") else ended
    if moment is None:
        return False
    if name.endswith("Before"):
        return moment < day
    if name.endswith("After"):
        return moment >= day
    return day <= moment < day + 86_400


def page_bounds(body: Mapping[str, Any]) -> tuple[int, int]:
    """``(page, pageSize)`` from a history request body, checked."""
    page, size = body.get("page", 1), body.get("pageSize", 20)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise Refusal(400, "page must be a positive integer.")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
        raise Refusal(400, "pageSize must be an integer from 1 to 1000.")
    return page, size
