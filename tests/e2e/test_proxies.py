"""Proxies over real sockets: a forward proxy on loopback, started by the test, records what
passes through it on the way to the emulator."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from talkstack_async import APIConnectionError, AsyncTalkstack
from talkstack_async.testing import TalkstackEmulator
from talkstack_sync import Talkstack


class ForwardProxy:
    """A plain HTTP forward proxy: takes absolute-form requests and forwards them."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        asked = str(request.url)
        self.seen.append({"url": asked, "auth": request.headers.get("Proxy-Authorization")})
        # The test's hosts under made-up names (nothing to resolve): all are the emulator.
        target = asked.replace("api.talkstack.test", "127.0.0.1").replace(
            "calls.talkstack.test", "127.0.0.1"
        )
        headers = {k: v for k, v in request.headers.items() if not k.lower().startswith("proxy-")}
        headers.pop("Host", None)
        async with aiohttp.ClientSession() as session, session.request(
            request.method, target, headers=headers, data=await request.read(),
            allow_redirects=False,
        ) as answer:  # fmt: skip
            body = await answer.read()
            return web.Response(
                status=answer.status, body=body,
                headers={"Content-Type": answer.headers.get("Content-Type", "application/json")},
            )  # fmt: skip


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    forward = ForwardProxy()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    forward.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield forward
    await runner.cleanup()


def _named(server: TalkstackEmulator, seed: Any) -> dict[str, Any]:
    """The emulator under made-up, non-loopback host names, reachable only via the proxy."""
    return {
        "api_key": seed.account.api_key,
        "base_url": server.base_url.replace("127.0.0.1", "api.talkstack.test"),
        "calls_base_url": server.calls_base_url.replace("127.0.0.1", "calls.talkstack.test"),
        "allow_insecure_http": True,
    }


async def test_env_proxies_are_honoured_by_default(
    proxy: ForwardProxy, talkstack_server: TalkstackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = talkstack_server.seed()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    options = _named(talkstack_server, seed)
    async with AsyncTalkstack(**options) as client:
        assert await client.voices.list()
        await client.calls.make("+14155550100", project_id=seed.project_id, agent_id=seed.agent_id)
    assert [s["url"] for s in proxy.seen] == [
        f"{options['base_url']}/voices",
        f"{options['calls_base_url']}/call/makeCall",
    ]
    assert talkstack_server.placed_numbers() == ["+14155550100"]
    # The emulator on its loopback address is reached directly, proxy or not.
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        assert await client.voices.list()
    assert len(proxy.seen) == 2


async def test_no_proxy_and_trust_env_false_go_straight_there(
    proxy: ForwardProxy, talkstack_server: TalkstackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = talkstack_server.seed()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "api.talkstack.test")
    options = _named(talkstack_server, seed)
    async with AsyncTalkstack(**options, max_retries=0) as client:
        with pytest.raises(APIConnectionError):  # straight there: the name does not resolve
            await client.voices.list()
    monkeypatch.delenv("NO_PROXY")
    async with AsyncTalkstack(**options, trust_env=False, max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            await client.voices.list()
    assert proxy.seen == []


@pytest.mark.parametrize("facade", ["async", "sync"])
async def test_an_explicit_proxy_with_credentials_authenticates_and_never_shows_them(
    proxy: ForwardProxy, talkstack_server: TalkstackEmulator, facade: str
) -> None:
    seed = talkstack_server.seed()
    secret = "PROXYPASS-canary-42"
    url = f"http://dialer:{secret}@127.0.0.1:{proxy.port}"
    options = {**talkstack_server.client_options(seed.account), "proxy": url}
    if facade == "async":
        async with AsyncTalkstack(**options) as client:
            assert await client.voices.list()
            assert secret not in repr(client) + repr(client._config)
    else:
        import asyncio

        def blocking() -> None:
            with Talkstack(**options) as client:
                assert client.voices.list()
                assert secret not in repr(client)

        await asyncio.to_thread(blocking)
    (seen,) = proxy.seen
    assert seen["auth"] == "Basic " + base64.b64encode(f"dialer:{secret}".encode()).decode()


async def test_a_dead_proxy_is_a_connection_error_that_does_not_show_its_password(
    talkstack_server: TalkstackEmulator,
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "PROXYPASS-canary-43"
    options = talkstack_server.client_options(talkstack_server.seed().account)
    async with AsyncTalkstack(
        **options, proxy=f"http://u:{secret}@127.0.0.1:{port}", max_retries=0
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.voices.list()
    assert secret not in str(caught.value) + repr(caught.value)
