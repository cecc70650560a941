"""OpenTelemetry tracing: one client span per operation (``pip install 'talkstack[otel]'``).

    from talkstack_async.integrations.otel import OpenTelemetryHooks

    client = AsyncTalkstack(hooks=[OpenTelemetryHooks()])  # or Talkstack(...)

Each operation (a method's request with all its attempts) is a span named
``talkstack <operation>`` (``talkstack calls.make``), a child of whatever span is current where
the method was called (the blocking client carries the caller's context to its loop thread).
Attributes: ``http.request.method``, ``url.template`` (the route with placeholders, never the
ids), ``talkstack.operation``, ``talkstack.host`` (``api``/``calls``), ``talkstack.retry_safe``,
and at the end ``http.response.status_code``, ``talkstack.attempts`` and ``talkstack.retries``.
Each retry is a span event ``talkstack.retry`` (attempt, delay, reason); a token renewal is an
event ``talkstack.token_renewed``. A failed operation has status ERROR and ``error.type`` (the
exception's class): no exception message, body, header, credential or phone number is ever
recorded, since API error messages may quote the number dialled.

Built on the client's hooks (``talkstack_async._hooks``): the span is opened by
``Hooks.operation`` and the per-attempt hooks annotate the current span.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from talkstack_async._hooks import (
    Hooks,
    OperationInfo,
    ResponseEvent,
    RetryEvent,
    TokenEvent,
)
from talkstack_async._version import __version__

__all__ = ["OpenTelemetryHooks"]


class OpenTelemetryHooks(Hooks):
    """Hooks that trace every operation as an OpenTelemetry client span.

    Args:
        tracer_provider: Where spans go; the global provider when None.
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("talkstack", __version__, tracer_provider=tracer_provider)

    def operation(self, info: OperationInfo) -> AbstractContextManager[object]:
        return self._span(info)

    @contextmanager
    def _span(self, info: OperationInfo) -> Iterator[object]:
        attributes: dict[str, Any] = {
            "http.request.method": info.method,
            "url.template": info.route,
            "talkstack.operation": info.operation,
            "talkstack.host": info.host,
            "talkstack.retry_safe": info.retry_safe,
        }
        with self._tracer.start_as_current_span(
            f"talkstack {info.operation}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            # Exception messages may quote a phone number: record the type only (below).
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR))
                raise

    def on_response(self, event: ResponseEvent) -> None:
        span = trace.get_current_span()
        span.set_attribute("http.response.status_code", event.status)
        span.set_attribute("talkstack.attempts", event.attempt)

    def on_retry(self, event: RetryEvent) -> None:
        span = trace.get_current_span()
        span.set_attribute("talkstack.retries", event.attempt)
        span.add_event(
            "talkstack.retry",
            {
                "talkstack.attempt": event.attempt,
                "talkstack.retry.delay_s": event.delay,
                "talkstack.retry.reason": event.reason,
            },
        )

    def on_token_renewed(self, event: TokenEvent) -> None:
        trace.get_current_span().add_event("talkstack.token_renewed", {"talkstack.how": event.how})
