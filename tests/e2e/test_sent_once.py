"""A request the endpoint table marks not retry-safe reaches the server at most once, over real
sockets, whatever aiohttp does underneath (it re-sends GET/PUT/DELETE once on its own when a
pooled connection drops after the server read the request).

Each test warms the pool first, so the faulted request rides a reused keep-alive connection:
the case aiohttp's internal retry is written for.
"""

from __future__ import annotations

import asyncio

import pytest

from talkstack_async import APIConnectionError, APITimeoutError, AsyncTalkstack, DialStatus
from talkstack_async.testing import Fault, TalkstackEmulator


async def _warm(client: AsyncTalkstack) -> None:
    await client.voices.list()  # leaves a keep-alive connection in the pool


async def test_generate_api_key_reaches_the_server_once_when_the_reused_connection_drops(
    talkstack_server: TalkstackEmulator,
) -> None:
    account = talkstack_server.create_account()
    options = talkstack_server.client_options()
    async with AsyncTalkstack(**options, email=account.email, password=account.password) as client:
        await _warm(client)
        talkstack_server.faults.inject(
            Fault.reset(after_processing=True), on="user.generate_api_key", times=1
        )
        with pytest.raises(APIConnectionError) as caught:
            await client.user.generate_api_key()
        assert caught.value.request_sent is True
    assert talkstack_server.requests.count("user.generate_api_key") == 1


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_raw_request_not_retry_safe_reaches_the_server_once(
    talkstack_server: TalkstackEmulator, method: str
) -> None:
    seed = talkstack_server.seed()
    operation = {"GET": "projects.get", "PUT": "projects.update", "DELETE": "projects.delete"}
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        await _warm(client)
        talkstack_server.faults.inject(
            Fault.reset(after_processing=True), on=operation[method], times=1
        )
        json = {"description": "x"} if method == "PUT" else None
        with pytest.raises(APIConnectionError):
            await client.request(method, f"/project/{seed.project_id}", json=json)
    assert talkstack_server.requests.count(operation[method]) == 1


async def test_retry_safe_reads_still_ride_through_a_dropped_connection(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        await _warm(client)
        talkstack_server.faults.inject(
            Fault.reset(after_processing=True), on="projects.get", times=1
        )
        project = await client.projects.get(seed.project_id)
    assert project.id == seed.project_id
    assert talkstack_server.requests.count("projects.get") == 2


async def test_make_call_reaches_the_server_once_when_the_reused_connection_drops(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        await client.calls.make("+14155550100", project_id=seed.project_id, agent_id=seed.agent_id)
        talkstack_server.faults.inject(Fault.reset(after_processing=True), on="calls.make", times=1)
        with pytest.raises(APIConnectionError) as caught:
            await client.calls.make(
                "+14155550101", project_id=seed.project_id, agent_id=seed.agent_id
            )
        assert caught.value.request_sent is True
    assert talkstack_server.placed_numbers().count("+14155550101") == 1
    assert talkstack_server.requests.count("calls.make") == 2


async def test_batch_reaches_the_server_once_when_the_reused_connection_drops(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    rows = [{"number": "+14155550102"}]
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        await _warm(client)
        talkstack_server.faults.inject(
            Fault.reset(after_processing=True), on="calls.batch", times=1
        )
        with pytest.raises(APIConnectionError):
            await client.calls.batch(rows, project_id=seed.project_id, agent_id=seed.agent_id)
    assert talkstack_server.requests.count("calls.batch") == 1


async def test_a_placement_that_timed_out_waiting_for_a_pooled_connection_was_never_sent(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(1.0), on="projects.get")
    options = talkstack_server.client_options(seed.account)
    async with AsyncTalkstack(**options, max_connections=1, max_retries=0) as client:
        holder = asyncio.ensure_future(client.projects.get(seed.project_id))
        await asyncio.sleep(0.3)  # it holds the only connection for a second
        assert not holder.done()
        quick = client.with_options(timeout=0.2)
        with pytest.raises(APITimeoutError) as caught:
            await quick.calls.make(
                "+14155550103", project_id=seed.project_id, agent_id=seed.agent_id
            )
        assert caught.value.request_sent is False
        outcomes = [
            o
            async for o in quick.calls.dial_many(
                ["+14155550104"], project_id=seed.project_id, agent_id=seed.agent_id
            )
        ]
        await holder
    assert [o.status for o in outcomes] == [DialStatus.FAILED]  # safe to try again
    assert talkstack_server.requests.count("calls.make") == 0
