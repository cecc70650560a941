"""When to retry and how long to wait: exponential backoff, full jitter, Retry-After."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from talkstack_async._config import DEFAULT_RETRY_STATUSES, RetryPolicy

__all__ = ["RETRYABLE_STATUSES", "backoff_delay", "retry_after_seconds"]

RETRYABLE_STATUSES = DEFAULT_RETRY_STATUSES


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait: ``Retry-After-Ms``, or ``Retry-After`` as seconds or a date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(policy: RetryPolicy, attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based)."""
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    return random.uniform(0.0, min(policy.max_delay, policy.initial_delay * 2.0**attempt))
