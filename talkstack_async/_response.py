"""Raw responses: ``client.<resource>.with_raw_response.<method>(...)``.

A method called through ``with_raw_response`` runs as usual (validation, retries, the same
errors) and returns an :class:`APIResponse` around its result: the HTTP status, the headers
(case-insensitive), the server's request id where it sends one, the time the answering attempt
took, and ``parse()`` for the result the plain method returns.

How: the wrapper sets a context variable for the duration of the call, and the transport,
on a success, records the answer's status, headers and timing there. A call made without
``with_raw_response`` pays one context-variable read.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Generic, TypeVar

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["APIResponse", "RawResponses", "capture"]

T = TypeVar("T")

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")


@attrs.frozen
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]
    elapsed: float
    method: str
    path: str


class _Capture:
    __slots__ = ("answer",)

    def __init__(self) -> None:
        self.answer: _Answer | None = None

    def record(self, status: int, headers: Any, elapsed: float, method: str, path: str) -> None:
        self.answer = _Answer(status, CIMultiDictProxy(CIMultiDict(headers)), elapsed, method, path)


capture: ContextVar[_Capture | None] = ContextVar("talkstack_raw_response", default=None)
"""Set while a ``with_raw_response`` call runs; the transport records its answer there."""


@attrs.frozen
class APIResponse(Generic[T]):
    """One call's HTTP answer and its parsed result."""

    status: int
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)
    elapsed: timedelta
    method: str
    path: str
    _parsed: T = attrs.field(repr=False, alias="parsed")

    @property
    def request_id(self) -> str | None:
        """The server's id for this request, if it sent one (``X-Request-Id`` and kin)."""
        for name in _REQUEST_ID_HEADERS:
            value = self.headers.get(name)
            if value:
                return value
        return None

    def parse(self) -> T:
        """What the method returns without ``with_raw_response``."""
        return self._parsed


class RawResponses:
    """``resource.with_raw_response``: the resource's methods, returning ``APIResponse``."""

    __slots__ = ("_only", "_resource")

    def __init__(self, resource: Any, *, only: tuple[str, ...] | None = None) -> None:
        self._resource = resource
        self._only = only

    def __getattr__(self, name: str) -> Callable[..., Awaitable[APIResponse[Any]]]:
        if self._only is not None and name not in self._only:
            raise AttributeError(f"with_raw_response has {', '.join(self._only)}, not {name}")
        method = getattr(self._resource, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(method):
            raise AttributeError(
                f"{type(self._resource).__name__}.{name} has no single raw response "
                "(generators page through many: use history_pages for pages)"
            )

        async def raw(*args: Any, **kwargs: Any) -> APIResponse[Any]:
            recorder = _Capture()
            token = capture.set(recorder)
            try:
                result = await method(*args, **kwargs)
            finally:
                capture.reset(token)
            answer = recorder.answer
            if answer is None:  # no request of its own (cannot happen for a public method)
                raise AttributeError(f"{name} sent no request")
            return APIResponse(
                status=answer.status,
                headers=answer.headers,
                elapsed=timedelta(seconds=answer.elapsed),
                method=answer.method,
                path=answer.path,
                parsed=result,
            )

        raw.__name__ = raw.__qualname__ = name
        raw.__doc__ = method.__doc__
        return raw
