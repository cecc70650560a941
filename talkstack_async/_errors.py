"""The error hierarchy, and the mapping from an HTTP status to its error class.

::

    TalkstackError
    ├── ValidationError            bad arguments, raised before anything is sent
    ├── MissingCredentialsError    an endpoint needs credentials the client does not have
    ├── ClientClosedError          the client was used after ``aclose()``
    ├── PaginationError            the server's paging went wrong (e.g. it repeated a page)
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

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "InternalServerError",
    "MissingCredentialsError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "TalkstackError",
    "UnprocessableEntityError",
    "ValidationError",
    "status_error_class",
]


class TalkstackError(Exception):
    """Base class of every error this SDK raises."""


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


class PaginationError(TalkstackError):
    """The server's pagination cannot be followed safely (for example it repeated a page)."""


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
    """No response was received: the connection failed, was reset, or was refused."""


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
        self.headers: Mapping[str, str] = dict(headers or {})
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


class ConflictError(APIStatusError):
    """409."""


class UnprocessableEntityError(APIStatusError):
    """422."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long the server asked to wait."""


class InternalServerError(APIStatusError):
    """5xx."""


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
