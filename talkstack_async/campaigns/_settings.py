"""A run's settings, checked before the first input is read: a configuration that cannot
work (a missing extra, a policy without what it needs) is a ``ValidationError`` then, never
a ``FAILED`` outcome per row."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Awaitable, Callable

import attrs

from talkstack_async._errors import ValidationError
from talkstack_async.campaigns.ledgers._open import check_ledger_options
from talkstack_async.campaigns.ledgers._protocol import Ledger
from talkstack_async.campaigns.policies._rate_limit import (
    DEFAULT_RATE_LIMIT_POLICY,
    RateLimitPolicy,
)
from talkstack_async.campaigns.policies._redial import RedialPolicy
from talkstack_async.campaigns.policies._windows import CallingWindow, Clock
from talkstack_async.models.call import Call, PlacedCall
from talkstack_async.models.dial import CallRequest, DialProgress

__all__ = ["DialSettings", "Placer", "ProgressCallback", "Watcher"]

Placer = Callable[[CallRequest], Awaitable[PlacedCall]]
Watcher = Callable[[CallRequest, str], Awaitable[Call]]
ProgressCallback = Callable[[DialProgress], object]

_MAX_CONCURRENCY = 10_000


@attrs.frozen
class DialSettings:
    project_id: str | None
    agent_id: str | None
    concurrency: int
    rate: float | None
    journal: str | os.PathLike[str] | None
    progress: ProgressCallback | None
    ledger: str | Ledger | None = None
    campaign: str | None = None
    on_rate_limit: RateLimitPolicy | None = DEFAULT_RATE_LIMIT_POLICY
    window: CallingWindow | None = None
    clock: Clock | None = None
    redial: RedialPolicy | None = None

    def check(self, *, watched: bool = True) -> None:
        """Every setting, and what each needs (``watched``: calls are watched to their end)."""
        concurrency = self.concurrency
        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise ValidationError("concurrency", f"must be an int, not {concurrency!r}")
        if not 1 <= concurrency <= _MAX_CONCURRENCY:
            raise ValidationError("concurrency", f"must be between 1 and {_MAX_CONCURRENCY}")
        rate = self.rate
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0
        ):
            raise ValidationError("rate", f"must be a positive number of calls/s, not {rate!r}")
        journal = self.journal
        if journal is not None and (
            not isinstance(journal, (str, os.PathLike)) or not os.fspath(journal)
        ):
            raise ValidationError("journal", f"must be a file path, not {journal!r}")
        if self.progress is not None and not callable(self.progress):
            raise ValidationError("progress", "must be callable")
        check_ledger_options(self.ledger, self.campaign, self.journal)
        if self.on_rate_limit is not None and not isinstance(self.on_rate_limit, RateLimitPolicy):
            raise ValidationError("on_rate_limit", "must be a RateLimitPolicy or None")
        if self.window is not None:
            if not isinstance(self.window, CallingWindow):
                raise ValidationError("window", "must be a CallingWindow or None")
            _require_number_zones()
        if self.clock is not None and not callable(getattr(self.clock, "now", None)):
            raise ValidationError("clock", "must have now() and async sleep(seconds)")
        if self.redial is not None:
            if not isinstance(self.redial, RedialPolicy):
                raise ValidationError("redial", "must be a RedialPolicy or None")
            if not watched:
                raise ValidationError(
                    "redial", "a redial policy needs each call watched to its end"
                )


def _require_number_zones() -> None:
    """A window is kept in the recipient's zones, found from the number by ``phonenumbers``:
    without it every input lacking a ``timezone`` would fail one by one, so say it once."""
    try:
        found = importlib.util.find_spec("phonenumbers") is not None
    except (ImportError, ValueError):  # a stand-in in sys.modules (None: blocked)
        found = False
    if not found:
        raise ValidationError(
            "window",
            "a calling window is kept in each number's time zones, which needs phonenumbers: "
            "pip install 'talkstack[windows]'",
        )
