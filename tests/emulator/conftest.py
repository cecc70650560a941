"""Raw HTTP against the emulator: these tests check it against the API reference, not the SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest

from talkstack_async.testing import Account, Seed, TalkstackEmulator


@attrs.define
class Raw:
    emulator: TalkstackEmulator
    session: aiohttp.ClientSession
    api_key: str | None = None

    async def __call__(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: dict[str, str] | None = None,
        host: str = "api",
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> tuple[int, Any]:
        base = self.emulator.base_url if host == "api" else self.emulator.calls_base_url
        sent = {"x-api-key": self.api_key} if self.api_key else {}
        sent.update(headers or {})
        async with self.session.request(
            method, base + path, json=json, params=params, headers=sent, data=data
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


@pytest.fixture
async def raw(talkstack_server: TalkstackEmulator) -> AsyncIterator[Raw]:
    async with aiohttp.ClientSession() as session:
        yield Raw(talkstack_server, session)


@pytest.fixture
def seed(talkstack_server: TalkstackEmulator) -> Seed:
    return talkstack_server.seed(calls=50)


@pytest.fixture
def keyed(raw: Raw, seed: Seed) -> Raw:
    """Raw requests with the seeded account's API key."""
    return attrs.evolve(raw, api_key=seed.account.api_key)


@pytest.fixture
def account(seed: Seed) -> Account:
    return seed.account
