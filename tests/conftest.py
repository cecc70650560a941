"""Shared fixtures: a mocked HTTP layer (aioresponses) and clients wired to it."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest.mock import Mock

import aiohttp
import aioresponses.core
import pytest
from aioresponses import aioresponses as _aioresponses

from talkstack_async import AsyncTalkstack, _transport

API = "https://api.talkstackai.com"
CALLS = "https://calls.talkstack.ai"
API_KEY = "k" * 64


class _ResponseWithStreamWriter(aiohttp.ClientResponse):
    """aiohttp 3.14 made ``stream_writer`` required; aioresponses 0.7.9 does not pass it
    (pnuckowski/aioresponses#289, fix pending in #288). aiohttp only reads its output_size."""

    def __init__(self, *args: Any, stream_writer: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, stream_writer=stream_writer or Mock(output_size=0), **kwargs)


if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
    aioresponses.core.ClientResponse = _ResponseWithStreamWriter  # type: ignore[misc]


@pytest.fixture
def mocked() -> Iterator[_aioresponses]:
    with _aioresponses() as mock:
        yield mock


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays the transport asked for; nothing actually waits."""
    delays: list[float] = []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(_transport, "_sleep", fake_sleep)
    return delays


@pytest.fixture
async def client(mocked: _aioresponses, sleeps: list[float]) -> AsyncIterator[AsyncTalkstack]:
    async with AsyncTalkstack(api_key=API_KEY) as c:
        yield c


def sent(mock: _aioresponses, method: str, url: str) -> list[Any]:
    """The calls aioresponses recorded for one method and URL (query included)."""
    from yarl import URL

    return mock.requests.get((method, URL(url)), [])
