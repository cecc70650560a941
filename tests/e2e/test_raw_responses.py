"""``with_raw_response`` over real sockets, on both facades: status, case-insensitive headers,
the request id, the elapsed time, and ``parse()`` giving what the plain method returns."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from talkstack_async import APIResponse, AsyncTalkstack, NotFoundError, RateLimitError
from talkstack_async.testing import Fault, TalkstackEmulator
from tests.e2e.conftest import run
from tests.robustness.test_transport_security import Recorder


async def test_a_raw_response_carries_status_headers_timing_and_the_parsed_result(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    raw = await run(client.projects.with_raw_response.get(seed.project_id))
    assert isinstance(raw, APIResponse)
    assert raw.status == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.headers["Content-Type"] == raw.headers["CONTENT-TYPE"]
    assert timedelta(0) < raw.elapsed < timedelta(seconds=10)
    assert (raw.method, raw.path) == ("GET", f"/project/{seed.project_id}")
    project = raw.parse()
    assert project == await run(client.projects.get(seed.project_id))
    voices = (await run(client.voices.with_raw_response.list())).parse()
    assert voices == await run(client.voices.list())


async def test_raw_responses_keep_the_same_errors_and_refuse_generators(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    with pytest.raises(NotFoundError):
        await run(client.projects.with_raw_response.get("nosuchproject"))
    with pytest.raises(AttributeError, match="history_pages"):
        client.calls.with_raw_response.history  # noqa: B018


async def test_the_request_id_and_error_headers_are_case_insensitive() -> None:
    def respond(request: web.Request) -> web.Response:
        if request.path == "/voices":
            return web.json_response({"voices": []}, headers={"X-Request-Id": "req-123"})
        return web.json_response(
            {"message": "slow down"}, status=429, headers={"Retry-After": "7", "X-Request-Id": "r9"}
        )

    server = await Recorder(respond).start()
    try:
        async with AsyncTalkstack(
            api_key="k" * 64, base_url=f"http://127.0.0.1:{server.port}", max_retries=0
        ) as client:
            raw = await client.voices.with_raw_response.list()
            assert raw.request_id == "req-123"
            assert raw.parse() == []
            with pytest.raises(RateLimitError) as caught:
                await client.projects.get("p1")
    finally:
        await server.stop()
    assert caught.value.headers["retry-after"] == "7"
    assert caught.value.headers["X-REQUEST-ID"] == "r9"


async def test_a_plain_call_inside_a_raw_one_does_not_leak_into_it(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.05), on="voices.list")
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        raw, plain = await asyncio.gather(
            client.projects.with_raw_response.get(seed.project_id), client.voices.list()
        )
    assert raw.path == f"/project/{seed.project_id}"
    assert plain
