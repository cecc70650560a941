"""Hooks: what the client is doing, attempt by attempt, for metrics, logs and tracing.

Subclass :class:`Hooks`, override the methods you need, and pass instances as
``AsyncTalkstack(hooks=[...])`` (or ``Talkstack(hooks=[...])``)::

    class Metrics(Hooks):
        def on_response(self, event: ResponseEvent) -> None:
            histogram.observe(event.elapsed, labels={"op": event.operation, "status": event.status})

Every event names the operation (``"calls.make"``, ``"request"`` for ``client.request``), the
HTTP method and the route template (``/project/{project_id}``: ids are not filled in), never a
credential, a phone number or a body. Hooks run on the client's event loop (the blocking client's
loop thread), synchronously, in the order given: keep them quick.

A hook cannot change what a call does: an exception from it is logged (logger
``talkstack``) and swallowed, since a placed call whose ``on_response`` hook failed is still
placed, and reporting it as an error would invite dialling the number again.

``operation`` wraps each operation (all its attempts) in a context manager of the hook's own,
which is how ``talkstack_async.integrations.otel`` opens one span per operation. Methods a
hook does not override are never called, and a client without hooks checks one attribute per
request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Literal

import attrs
from multidict import CIMultiDictProxy

from talkstack_async._errors import ValidationError
from talkstack_async._logging import logger

__all__ = [
    "HookSet",
    "Hooks",
    "OperationInfo",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "TokenEvent",
]


@attrs.frozen
class OperationInfo:
    """One operation: a method's request with all its attempts."""

    operation: str
    method: str
    route: str
    host: Literal["api", "calls"]
    retry_safe: bool


@attrs.frozen
class RequestEvent:
    """An attempt is about to be sent (``attempt`` counts from 1)."""

    operation: str
    method: str
    route: str
    attempt: int


@attrs.frozen
class ResponseEvent:
    """An attempt got an HTTP answer (any status, before it is read into a result or error)."""

    operation: str
    method: str
    route: str
    attempt: int
    status: int
    elapsed: float  # seconds, for this attempt
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)


@attrs.frozen
class RetryEvent:
    """An attempt failed and the request will be sent again after ``delay`` seconds."""

    operation: str
    method: str
    route: str
    attempt: int  # the attempt that failed
    delay: float
    reason: str  # "HTTP 503", "connection failed", "timed out"
    status: int | None  # the failed attempt's status, if it got an answer


@attrs.frozen
class TokenEvent:
    """The client renewed its bearer token (``"refresh"``) or logged in again (``"login"``)."""

    how: Literal["refresh", "login"]


class Hooks:
    """Override what you need; every method is optional (see the module docstring)."""

    def operation(self, info: OperationInfo) -> AbstractContextManager[object] | None:
        """A context manager to hold open while the operation runs, or None."""
        return None

    def on_request(self, event: RequestEvent) -> None:
        """An attempt is about to be sent."""

    def on_response(self, event: ResponseEvent) -> None:
        """An attempt got an HTTP answer."""

    def on_retry(self, event: RetryEvent) -> None:
        """A retry is scheduled."""

    def on_token_renewed(self, event: TokenEvent) -> None:
        """The bearer token was renewed."""


_KINDS = ("operation", "on_request", "on_response", "on_retry", "on_token_renewed")


class HookSet:
    """The overridden methods of the client's hooks, by kind (what the transport calls)."""

    __slots__ = ("attempts", "operations", "requests", "responses", "retries", "tokens")

    def __init__(self, hooks: Iterable[Hooks]) -> None:
        found: dict[str, list[Callable[[Any], Any]]] = {kind: [] for kind in _KINDS}
        for hook in hooks:
            if not isinstance(hook, Hooks):
                raise ValidationError(
                    "hooks", f"must be Hooks instances (subclass Hooks), not {type(hook).__name__}"
                )
            for kind in _KINDS:
                if getattr(type(hook), kind) is not getattr(Hooks, kind):
                    found[kind].append(getattr(hook, kind))
        self.operations = tuple(found["operation"])
        self.requests = tuple(found["on_request"])
        self.responses = tuple(found["on_response"])
        self.retries = tuple(found["on_retry"])
        self.tokens = tuple(found["on_token_renewed"])
        # Whether attempts need events at all (the transport skips building them otherwise).
        self.attempts = bool(self.requests or self.responses or self.retries)

    @classmethod
    def build(cls, hooks: object) -> HookSet | None:
        """``hooks`` (a ``Hooks``, an iterable of them, or None) checked; None when there is
        nothing to call."""
        if hooks is None:
            return None
        if isinstance(hooks, Hooks):
            hooks = [hooks]
        elif isinstance(hooks, (str, bytes)) or not isinstance(hooks, Iterable):
            raise ValidationError("hooks", f"must be a Hooks or a list of them, not {hooks!r}")
        found = cls(hooks)
        if not (found.operations or found.attempts or found.tokens):
            return None
        return found

    @contextlib.contextmanager
    def operation(self, info: OperationInfo) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for hook in self.operations:
                try:
                    scope = hook(info)
                    if scope is not None:
                        stack.enter_context(scope)
                except Exception:
                    _report(hook)
            yield

    def emit(self, hooks: tuple[Callable[[Any], Any], ...], event: object) -> None:
        for hook in hooks:
            try:
                hook(event)
            except Exception:
                _report(hook)


def _report(hook: Callable[..., Any]) -> None:
    name = getattr(hook, "__qualname__", repr(hook))
    logger.exception("talkstack hook %s raised; the call goes on as if it had not", name)
