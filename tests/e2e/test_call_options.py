"""Per-call options over real sockets, on both facades: ``extra_headers``, ``extra_query``,
``extra_body`` and ``timeout`` on every method, and ``client.request`` with headers, a form
and a raw response."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from talkstack_async import (
    APIResponse,
    APITimeoutError,
    AsyncTalkstack,
    FilePart,
    Timeouts,
    ValidationError,
)
from talkstack_async.testing import Fault, TalkstackEmulator
from talkstack_sync import Talkstack
from tests.e2e.conftest import collect, run
from tests.robustness.test_transport_security import Recorder


async def test_extra_headers_query_and_body_reach_the_server(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    log = talkstack_server.requests
    log.clear()
    project = await run(
        client.projects.get(
            seed.project_id,
            extra_headers={"X-Trace-Id": "t-1", "User-Agent": "mine/1.0"},
            extra_query={"expand": "agents", "n": 3, "flag": True},
        )
    )
    assert project.id == seed.project_id
    (seen,) = log.of("projects.get")
    assert seen.headers["x-trace-id"] == "t-1"
    assert seen.headers["user-agent"] == "mine/1.0"  # the call's own header wins
    assert seen.headers["x-api-key"] == seed.account.api_key  # credentials still sent
    assert seen.query == {"expand": "agents", "n": "3", "flag": "true"}

    await run(
        client.projects.update(
            seed.project_id, name="Renamed", extra_body={"futureField": {"a": 1}}
        )
    )
    (update,) = log.of("projects.update")
    assert update.json == {"name": "Renamed", "futureField": {"a": 1}}

    # The caller's body fields win over the method's: the escape hatch for new API fields.
    await run(client.projects.update(seed.project_id, name="A", extra_body={"name": "B"}))
    assert log.of("projects.update")[-1].json == {"name": "B"}


async def test_a_call_without_options_sends_what_it_always_did(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    talkstack_server.requests.clear()
    await run(client.projects.get(seed.project_id))
    (seen,) = talkstack_server.requests.of("projects.get")
    assert seen.query == {}
    assert "x-trace-id" not in seen.headers


async def test_options_reach_every_page_of_the_history_and_every_dial_placement(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed(calls=45)
    client = connect(api_key=seed.account.api_key)
    log = talkstack_server.requests
    log.clear()
    calls = await collect(
        client.calls.history(
            project_id=seed.project_id, page_size=20, extra_headers={"X-Export": "e1"}
        )
    )
    assert len(calls) == 45
    pages = log.of("calls.history")
    assert len(pages) >= 3
    assert all(p.headers.get("x-export") == "e1" for p in pages)

    outcomes = await collect(
        client.calls.dial_many(
            ["+14155550101", "+14155550102"],
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            extra_headers={"X-Campaign": "c1"},
        )
    )
    assert len(outcomes) == 2
    made = log.of("calls.make")
    assert len(made) == 2
    assert all(m.headers.get("x-campaign") == "c1" for m in made)


async def test_a_per_call_timeout_bounds_that_call_only(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key, max_retries=0)
    talkstack_server.faults.inject(Fault.latency(1.0), on="projects.get")
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        await run(client.projects.get(seed.project_id, timeout=0.2))
    assert time.monotonic() - started < 0.9
    with pytest.raises(APITimeoutError):
        await run(client.projects.get(seed.project_id, timeout=Timeouts(total=0.2)))
    # Without the option, the client's own (60 s) timeout applies and the call succeeds.
    project = await run(client.projects.get(seed.project_id))
    assert project.id == seed.project_id


async def test_bad_options_are_refused_before_anything_is_sent(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    talkstack_server.requests.clear()
    bad: list[dict[str, Any]] = [
        {"extra_headers": {"X-Bad": "a\r\nX-Injected: 1"}},
        {"extra_headers": {"Bad Name": "x"}},
        {"extra_headers": {"Content-Length": "1"}},
        {"extra_headers": ["X-A"]},
        {"extra_query": {"a": object()}},
        {"extra_body": {"a": object()}},
        {"timeout": -1},
        {"timeout": "5"},
    ]
    for options in bad:
        with pytest.raises(ValidationError):
            await run(client.projects.update(seed.project_id, name="x", **options))
    with pytest.raises(ValidationError, match="GET request has no body"):
        await run(client.projects.get(seed.project_id, extra_body={"a": 1}))
    # A typo is a TypeError, as for any Python function, not a silently ignored option.
    with pytest.raises(TypeError, match="unexpected keyword argument 'extra_header'"):
        await run(client.projects.get(seed.project_id, extra_header={"a": "b"}))
    assert talkstack_server.requests.count() == 0


async def test_the_header_value_of_a_refused_header_is_not_quoted(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    client = connect(api_key="k" * 40)
    with pytest.raises(ValidationError) as caught:
        await run(client.voices.list(extra_headers={"Authorization": "Bearer sec\nret-value"}))
    assert "ret-value" not in str(caught.value)


async def off_loop(call: Callable[[], Any]) -> Any:
    """The call's result; a blocking one runs in a thread, so that this loop's server answers."""
    result = await asyncio.to_thread(call)
    return await result if inspect.isawaitable(result) else result


def _echo(request: web.Request) -> web.Response:
    return web.json_response({"ok": True}, headers={"X-Request-Id": "echo-1"})


async def test_request_sends_headers_and_a_form_and_gives_the_raw_response(facade: str) -> None:
    bodies: list[tuple[str, bytes]] = []

    async def respond(request: web.Request) -> web.Response:
        bodies.append((request.content_type, await request.read()))
        return _echo(request)

    server = await Recorder(respond).start()
    options = {"api_key": "k" * 40, "base_url": f"http://127.0.0.1:{server.port}"}
    client: Any = AsyncTalkstack(**options) if facade == "async" else Talkstack(**options)
    try:
        raw = await off_loop(
            lambda: client.with_raw_response.request(
                "POST",
                "/integrations/upload",
                headers={"X-Upload": "u1"},
                form={"kind": "contacts", "file": FilePart("a.csv", b"number\n+1415", "text/csv")},
                timeout=5,
            )
        )
        assert isinstance(raw, APIResponse)
        assert raw.status == 200
        assert raw.request_id == "echo-1"
        assert raw.parse() == {"ok": True}
        assert server.seen[-1]["X-Upload"] == "u1"
        assert server.seen[-1]["x-api-key"] == "k" * 40
        content_type, body = bodies[-1]
        assert content_type == "multipart/form-data"
        assert b'name="kind"' in body
        assert b"contacts" in body
        assert b'filename="a.csv"' in body
        assert b"+1415" in body
        plain = await off_loop(lambda: client.request("GET", "/voices", headers={"X-A": "1"}))
        assert plain == {"ok": True}
        with pytest.raises(ValidationError, match="json or form"):
            await off_loop(lambda: client.request("POST", "/x", json={"a": 1}, form={"b": "2"}))
        with pytest.raises(ValidationError):
            await off_loop(lambda: client.request("POST", "/x", form={"b": 2}))
        with pytest.raises(AttributeError):
            client.with_raw_response.aclose  # noqa: B018
    finally:
        if isinstance(client, AsyncTalkstack):
            await client.aclose()
        else:
            client.close()
        await server.stop()
