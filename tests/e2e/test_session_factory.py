"""``session_factory``: the caller's own aiohttp session (connector, trace configs, proxies),
made on the client's loop, so it works on the blocking facade too; ``session=`` there is
refused with what to do instead."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import aiohttp
import pytest

from talkstack_async import ValidationError
from talkstack_async.testing import TalkstackEmulator
from talkstack_sync import Talkstack
from tests.e2e.conftest import run


async def test_a_session_factory_is_called_on_the_clients_loop_and_closed_with_it(
    connect: Any, facade: str, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    made: list[aiohttp.ClientSession] = []
    traced: list[str] = []
    threads: list[str] = []

    async def on_start(session: Any, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        traced.append(params.url.path)

    def factory() -> aiohttp.ClientSession:
        asyncio.get_running_loop()  # called on a running loop: the client's own
        threads.append(threading.current_thread().name)
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(on_start)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=3), trace_configs=[trace]
        )
        made.append(session)
        return session

    client = connect(api_key=seed.account.api_key, session_factory=factory)
    project = await run(client.projects.get(seed.project_id))
    await run(client.voices.list())
    assert project.id == seed.project_id
    assert len(made) == 1  # once, on first use
    assert traced == [f"/project/{seed.project_id}", "/voices"]
    if facade == "sync":
        assert threads == ["talkstack-loop"]
        client.close()
    else:
        await client.aclose()
    assert made[0].closed
    seen = talkstack_server.requests.of("projects.get")[0]
    assert seen.status == 200


def test_a_ready_session_on_the_blocking_client_is_refused_with_what_to_do() -> None:
    async def make() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    session = asyncio.run(make())
    try:
        with pytest.raises(ValidationError, match="session_factory="):
            Talkstack(api_key="k" * 64, session=session)
    finally:
        asyncio.run(session.close())


def test_session_and_session_factory_together_are_refused() -> None:
    from talkstack_async import AsyncTalkstack

    with pytest.raises(ValidationError, match="not both"):
        AsyncTalkstack(
            api_key="k" * 64,
            session=object(),  # type: ignore[arg-type]
            session_factory=aiohttp.ClientSession,
        )
