"""The error hierarchy, and the mapping from an HTTP status to its error class.

::

    TalkstackError
    ├── ValidationError            bad arguments, raised before anything is sent
    │   └── JournalInUseError      another dial run holds the journal
    ├── MissingCredentialsError    an endpoint needs credentials the client does not have
    ├── ClientClosedError          the client was used after ``aclose()``
    ├── BlockingCallOnLoopError    the blocking client called from the SDK's own loop thread
    ├── PaginationError            the server's paging went wrong (e.g. it repeated a page)
    ├── WebhookPayloadError        a webhook body that is not a call-status event (.status)
    │   ├── WebhookTokenError      the shared token is missing or wrong (401)
    │   └── WebhookTooLargeError   the body is over 1 MiB (413)
    ├── CallWaitTimeoutError       a call did not finish before the deadline
    ├── DialInterruptedError       a dial run stopped while a placement was in flight
    ├── JournalWriteError          a dial run's journal could not be written (disk full)
    └── APIError                   something went wrong talking to the API
        ├── APIConnectionError     the request did not get a response
        │   └── APITimeoutError
        ├── APIResponseError       a 2xx response whose body is not what the endpoint returns
        └── APIStatusError         a non-2xx response
            ├── BadRequestError            400
            ├── AuthenticationError        401 (and refreshes the server rejected)
            ├── PermissionDeniedError      403
            ├── NotFoundError              404
            ├── ConflictError              409
            ├── UnprocessableEntityError   422
            ├── RateLimitError             429
            └── InternalServerError        5xx
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BlockingCallOnLoopError",
    "CallWaitTimeoutError",
    "ClientClosedError",
    "ConflictError",
    "DialInterruptedError",
    "InternalServerError",
    "JournalInUseError",
    "JournalWriteError",
    "MissingCredentialsError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "TalkstackError",
    "UnprocessableEntityError",
    "ValidationError",
    "WebhookPayloadError",
    "WebhookTokenError",
    "WebhookTooLargeError",
    "status_error_class",
]


class TalkstackError(Exception):
    """Base class of every error this SDK raises.

    Every error pickles with all its attributes (status, body, headers, request context), so it
    survives a process pool, a Celery result or a ``DialOutcome`` sent elsewhere. The default
    pickling calls ``cls(*args)``, which keyword-only constructors refuse; instead the instance
    is rebuilt without ``__init__`` and given back its ``args`` and attributes. What was
    redacted stays redacted: nothing is pickled that the error did not already hold.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args), self.__dict__)


class ValidationError(TalkstackError, ValueError):
    """An argument is invalid; raised before any request is sent.

    ``argument`` names the offending parameter (e.g. ``"number"``, ``"rows[3].number"``).
    """

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument}: {problem}")


class MissingCredentialsError(TalkstackError):
    """The endpoint needs credentials (or a kind of credentials) the client was not given."""


class ClientClosedError(TalkstackError, RuntimeError):
    """The client was used after it was closed."""


class BlockingCallOnLoopError(TalkstackError, RuntimeError):
    """The blocking client was called from code the SDK runs on its own event loop (a
    ``progress`` callback, a sync ``on_tokens``, a ``dial_many`` input generator): the call
    would wait for the loop it blocks. Hand such work to another thread, or use the async
    client from an async callback."""


class PaginationError(TalkstackError):
    """The server's pagination cannot be followed safely (for example it repeated a page)."""


class WebhookPayloadError(TalkstackError, ValueError):
    """A webhook request whose body is not a call-status event (not JSON, no call id).

    ``status`` is the HTTP status to answer the sender with (400; 401 and 413 below)."""

    status = 400


class WebhookTokenError(WebhookPayloadError):
    """A webhook request without the shared token (or with another one): answer 401."""

    status = 401


class WebhookTooLargeError(WebhookPayloadError):
    """A webhook body over 1 MiB: answer 413."""

    status = 413


class CallWaitTimeoutError(TalkstackError, TimeoutError):
    """The call had no final status before the deadline; ``last`` is the call as last seen
    (``None`` if it was never found)."""

    def __init__(self, sid: str, timeout: float, last: Any = None) -> None:
        self.sid = sid
        self.timeout = timeout
        self.last = last
        status = getattr(last, "status", None)
        seen = f"last status {status}" if status is not None else "never seen with a status"
        super().__init__(f"call {sid} did not finish within {timeout:g} s ({seen})")


class DialInterruptedError(TalkstackError):
    """The dial run stopped (cancelled or failed) while this placement was in flight: the call
    may or may not have been placed. A journal keeps it from being dialled again."""


class JournalInUseError(ValidationError):
    """Another dial run holds the journal (one run per journal)."""


class JournalWriteError(TalkstackError, OSError):
    """A dial run's journal could not be written (``__cause__`` is the operating system's
    error: a full disk, an I/O error). The run stops placing calls.

    ``rolled_back`` is True when the file was truncated back to its last complete record, so
    it says exactly what happened before the failure; False when even that failed, and the
    last records may or may not be on disk.
    """

    def __init__(self, message: str, *, rolled_back: bool) -> None:
        self.rolled_back = rolled_back
        super().__init__(message)


class APIError(TalkstackError):
    """Something went wrong talking to the Talkstack API.

    ``method`` and ``path`` name the request (never its body or headers).
    """

    def __init__(self, message: str, *, method: str, path: str) -> None:
        self.message = message
        self.method = method
        self.path = path
        super().__init__(message)


class APIConnectionError(APIError):
    """No response was received: the connection failed, was reset, or was refused.

    ``request_sent`` is False only when the connection could not even be opened, so the
    server cannot have seen the request; otherwise it may have been processed.
    """

    def __init__(self, message: str, *, method: str, path: str, request_sent: bool = True) -> None:
        self.request_sent = request_sent
        super().__init__(message, method=method, path=path)


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIResponseError(APIError):
    """A successful response whose body is not what the endpoint returns (bad JSON, wrong shape).

    ``status`` is the HTTP status; ``body`` the decoded body (or its text when it is not JSON).
    """

    def __init__(self, message: str, *, method: str, path: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(message, method=method, path=path)


class APIStatusError(APIError):
    """The API answered with a non-success HTTP status.

    ``status`` is the HTTP status; ``message`` the server's ``message`` when it sent one;
    ``body`` the decoded JSON body (or the text when it is not JSON) with secrets redacted;
    ``headers`` the response headers; ``retry_after`` the server's Retry-After in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.body = body
        # Case-insensitive, as HTTP header names are: error.headers["retry-after"] works.
        self.headers: Mapping[str, str] = CIMultiDict(headers or {})
        self.retry_after = retry_after
        super().__init__(message, method=method, path=path)

    def __str__(self) -> str:
        return f"{self.status} from {self.method} {self.path}: {self.message}"


class BadRequestError(APIStatusError):
    """400: the server rejected the request's content."""


class AuthenticationError(APIStatusError):
    """401: the credentials are missing, wrong or expired, or a token refresh was rejected."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404 (or, where the API documents it so, a 400 meaning "does not exist")."""

    def __str__(self) -> str:
        if self.status == 400:
            return (
                f"400 from {self.method} {self.path} (the API's answer when it does not "
                f"exist): {self.message}"
            )
        return super().__str__()


class ConflictError(APIStatusError):
    """409."""


class UnprocessableEntityError(APIStatusError):
    """422."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long the server asked to wait."""


class InternalServerError(APIStatusError):
    """5xx."""


def _rebuild(cls: type[TalkstackError], args: tuple[Any, ...]) -> TalkstackError:
    """Unpickling: an instance of ``cls`` with these ``args``, its attributes set afterwards."""
    error = cls.__new__(cls, *args)
    error.args = args  # OSError's __new__ (TimeoutError's) leaves them to __init__
    return error


_BY_STATUS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The error class for an HTTP status (``APIStatusError`` for unlisted ones)."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)
