"""Waiting for a call's final status by polling get-call-data, with backoff and a deadline."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from talkstack_async._errors import CallWaitTimeoutError, NotFoundError, ValidationError
from talkstack_async.models.call import Call

__all__ = ["check_wait_options", "poll_until_final"]

_GROWTH = 1.5


def check_wait_options(timeout: float, poll_interval: float, max_poll_interval: float) -> None:
    for name, value in (
        ("timeout", timeout),
        ("poll_interval", poll_interval),
        ("max_poll_interval", max_poll_interval),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValidationError(name, f"must be a positive number of seconds, not {value!r}")
    if max_poll_interval < poll_interval:
        raise ValidationError("max_poll_interval", "must not be less than poll_interval")


async def poll_until_final(
    fetch: Callable[[], Awaitable[Call]],
    *,
    sid: str,
    timeout: float,
    poll_interval: float,
    max_poll_interval: float,
) -> Call:
    """``fetch()`` until the call's status is final; the wait between polls grows by 1.5x (with
    ±20 % jitter, so thousands of waiters do not poll in step) up to ``max_poll_interval``.

    A 404 means "not visible yet" (a call just placed may not be recorded at once) and is
    polled again; other errors propagate (reads are already retried by the transport).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = poll_interval
    last: Call | None = None
    while True:
        try:
            call = await fetch()
        except NotFoundError:
            pass
        else:
            if call.status is not None and call.status.is_final:
                return call
            last = call
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise CallWaitTimeoutError(sid, timeout, last)
        await asyncio.sleep(min(delay * random.uniform(0.8, 1.2), remaining))
        delay = min(delay * _GROWTH, max_poll_interval)
