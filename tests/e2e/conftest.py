"""End-to-end: the SDK over real loopback HTTP against the emulator, through both facades.

Each scenario is written once as a coroutine; ``run`` awaits what the async client returns and
passes through what the blocking client already computed, and ``collect`` drains an async
generator or a plain one. The blocking client runs on its own portal thread and the emulator
on another, so calling it from the test's event loop is safe.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

import pytest

from talkstack_async import AsyncTalkstack
from talkstack_async.testing import TalkstackEmulator
from talkstack_sync import Talkstack


async def run(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def collect(items: Any) -> list[Any]:
    if hasattr(items, "__aiter__"):
        return [item async for item in items]
    return list(items)


@pytest.fixture(params=["async", "sync"])
def facade(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def connect(facade: str, talkstack_server: TalkstackEmulator) -> AsyncIterator[Any]:
    """``connect(**credentials)`` -> a client of the facade under test, closed afterwards."""
    opened: list[Any] = []

    def make(**credentials: Any) -> Any:
        options = {**talkstack_server.client_options(), **credentials}
        client = AsyncTalkstack(**options) if facade == "async" else Talkstack(**options)
        opened.append(client)
        return client

    yield make
    for client in opened:
        if isinstance(client, AsyncTalkstack):
            await client.aclose()
        else:
            client.close()
