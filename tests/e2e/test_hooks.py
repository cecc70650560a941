"""Hooks and OpenTelemetry spans over real sockets, on both facades.

Per-attempt hooks see every request, answer, retry and token renewal with the operation's
name and route; a failing hook never changes a call's outcome; the OpenTelemetry integration
makes one span per operation (checked with the SDK's in-memory exporter) and records no
secret, body or phone number."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from talkstack_async import (
    AsyncTalkstack,
    Hooks,
    NotFoundError,
    OperationInfo,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    TokenEvent,
    ValidationError,
)
from talkstack_async.integrations.otel import OpenTelemetryHooks
from talkstack_async.testing import Fault, TalkstackEmulator
from tests.e2e.conftest import run

NUMBER = "+14155550123"


class Recording(Hooks):
    def __init__(self) -> None:
        self.events: list[Any] = []

    def operation(self, info: OperationInfo) -> None:
        self.events.append(info)

    def on_request(self, event: RequestEvent) -> None:
        self.events.append(event)

    def on_response(self, event: ResponseEvent) -> None:
        self.events.append(event)

    def on_retry(self, event: RetryEvent) -> None:
        self.events.append(event)

    def on_token_renewed(self, event: TokenEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


async def test_hooks_see_each_attempt_its_answer_and_the_retry_between(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    hooks = Recording()
    client = connect(api_key=seed.account.api_key, hooks=[hooks])
    talkstack_server.faults.inject(Fault.error(503, retry_after=0.01), on="projects.get", times=1)
    await run(client.projects.get(seed.project_id))
    assert hooks.kinds() == [
        "OperationInfo",
        "RequestEvent",
        "ResponseEvent",
        "RetryEvent",
        "RequestEvent",
        "ResponseEvent",
    ]
    info, first, failed, retry, second, answered = hooks.events
    assert info == OperationInfo("projects.get", "GET", "/project/{project_id}", "api", True)
    assert (first.operation, first.route, first.attempt) == (
        "projects.get",
        "/project/{project_id}",
        1,
    )
    assert (failed.status, failed.attempt) == (503, 1)
    assert (retry.attempt, retry.reason, retry.status) == (1, "HTTP 503", 503)
    assert 0 <= retry.delay <= 1
    assert (second.attempt, answered.status, answered.attempt) == (2, 200, 2)
    assert answered.elapsed > 0
    assert answered.headers["Content-Type"].startswith("application/json")


@pytest.mark.talkstack_emulator(token_ttl=3600)
async def test_a_hook_hears_of_logins_and_refreshes(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    account = talkstack_server.create_account()
    hooks = Recording()
    client = connect(email=account.email, password=account.password, hooks=hooks)
    await run(client.voices.list())
    assert TokenEvent("login") in hooks.events
    talkstack_server.expire_tokens()
    await run(client.voices.list())
    assert TokenEvent("refresh") in hooks.events
    assert account.password not in repr(hooks.events)


async def test_a_failing_hook_never_changes_what_a_call_did(
    connect: Any, talkstack_server: TalkstackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Hooks):
        def on_request(self, event: RequestEvent) -> None:
            raise RuntimeError("request hook")

        def on_response(self, event: ResponseEvent) -> None:
            raise RuntimeError("response hook")

        def operation(self, info: OperationInfo) -> None:
            raise RuntimeError("operation hook")

    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key, hooks=[Broken()])
    with caplog.at_level(logging.ERROR, logger="talkstack"):
        placed = await run(
            client.calls.make(NUMBER, project_id=seed.project_id, agent_id=seed.agent_id)
        )
    assert placed.sid  # placed, and reported as placed
    assert talkstack_server.requests.count("calls.make") == 1
    assert "response hook" in caplog.text
    assert NUMBER not in caplog.text


async def test_events_carry_no_secret_and_no_phone_number(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    hooks = Recording()
    client = connect(api_key=seed.account.api_key, hooks=hooks)
    await run(client.calls.make(NUMBER, project_id=seed.project_id, agent_id=seed.agent_id))
    text = repr(hooks.events) + repr([dict(getattr(e, "headers", {})) for e in hooks.events])
    assert NUMBER not in text
    assert seed.account.api_key not in text


def test_hooks_must_be_hooks() -> None:
    with pytest.raises(ValidationError, match="hooks"):
        AsyncTalkstack(api_key="k" * 40, hooks=[object()])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="hooks"):
        AsyncTalkstack(api_key="k" * 40, hooks="mine")  # type: ignore[arg-type]


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def traced(
    connect: Any,
    talkstack_server: TalkstackEmulator,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> tuple[Any, Any, TracerProvider, InMemorySpanExporter]:
    """A client of the facade under test that traces into an in-memory exporter."""
    provider, exporter = spans
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key, hooks=[OpenTelemetryHooks(provider)])
    return client, seed, provider, exporter


async def test_each_operation_is_one_span_with_its_attempts_and_retries(
    traced: tuple[Any, Any, TracerProvider, InMemorySpanExporter],
    talkstack_server: TalkstackEmulator,
) -> None:
    client, seed, _, exporter = traced
    talkstack_server.faults.inject(Fault.error(503, retry_after=0.01), on="projects.get", times=1)
    await run(client.projects.get(seed.project_id))
    await run(client.calls.make(NUMBER, project_id=seed.project_id, agent_id=seed.agent_id))
    with pytest.raises(NotFoundError):
        await run(client.agents.get("nosuchagent", project_id=seed.project_id))

    get, make, missing = exporter.get_finished_spans()
    assert get.name == "talkstack projects.get"
    assert get.kind.name == "CLIENT"
    assert dict(get.attributes or {}) == {
        "http.request.method": "GET",
        "url.template": "/project/{project_id}",
        "talkstack.operation": "projects.get",
        "talkstack.host": "api",
        "talkstack.retry_safe": True,
        "http.response.status_code": 200,
        "talkstack.attempts": 2,
        "talkstack.retries": 1,
    }
    (retry,) = get.events
    assert retry.name == "talkstack.retry"
    assert dict(retry.attributes or {})["talkstack.retry.reason"] == "HTTP 503"
    assert get.status.status_code is StatusCode.UNSET

    assert make.name == "talkstack calls.make"
    assert (make.attributes or {})["talkstack.host"] == "calls"
    assert (make.attributes or {})["talkstack.retry_safe"] is False

    assert missing.name == "talkstack agents.get"
    assert missing.status.status_code is StatusCode.ERROR
    assert (missing.attributes or {})["error.type"] == "NotFoundError"
    assert not missing.events  # no exception event: its message could quote a number

    everything = repr(
        [(s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events])
         for s in exporter.get_finished_spans()]
    )  # fmt: skip
    assert NUMBER not in everything
    assert seed.account.api_key not in everything
    assert seed.project_id not in everything  # route templates, not paths


async def test_a_span_is_a_child_of_the_callers_span_on_both_facades(
    traced: tuple[Any, Any, TracerProvider, InMemorySpanExporter],
) -> None:
    client, _, provider, exporter = traced
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("handler") as parent:
        await run(client.voices.list())
    child, handler = exporter.get_finished_spans()
    assert handler.name == "handler"
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id
    assert child.context.trace_id == parent.get_span_context().trace_id
