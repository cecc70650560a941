"""Redis's errors as the ledger's: every call of the Redis ledger, the campaign's pacing and
its shared rate that talks to Redis raises :class:`LedgerUnavailableError` instead of
redis-py's (or ``limits``') own, chained from it.

The message names what was being done and the error's type, never its text or the URL: a
``redis://`` URL may hold a password, and a server's error may quote a request's data."""

from __future__ import annotations

from types import TracebackType

from talkstack_async.campaigns.ledgers._protocol import LedgerUnavailableError

__all__ = ["REDIS_ERRORS", "Reaching", "unavailable"]

_errors: list[type[BaseException]] = [OSError]  # ConnectionError, TimeoutError (3.11+), ...
try:
    from redis.exceptions import RedisError

    _errors.append(RedisError)
except ImportError:  # pragma: no cover - the optional extra
    pass
try:
    from limits.errors import StorageError

    _errors.append(StorageError)
except ImportError:  # pragma: no cover - the optional extra
    pass

REDIS_ERRORS: tuple[type[BaseException], ...] = tuple(_errors)
"""What a call to Redis raises when the server cannot be reached or fails the command."""


class Reaching:
    """``with Reaching("claiming a request"): ...`` turns the Redis errors raised in its
    block into :class:`LedgerUnavailableError`.

    Stateless: one instance per operation may be kept and reused (a plain class rather than
    ``contextlib.contextmanager``: it is entered once per placement, or more)."""

    __slots__ = ("doing",)

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None and isinstance(error, REDIS_ERRORS):
            raise unavailable(self.doing, error) from error


def unavailable(doing: str, error: BaseException) -> LedgerUnavailableError:
    """The error for ``error``, raised by Redis while ``doing``."""
    return LedgerUnavailableError(
        f"the campaign's ledger could not be reached: Redis failed while {doing} "
        f"({type(error).__name__}; see this error's __cause__)"
    )
