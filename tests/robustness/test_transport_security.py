"""Credentials only travel encrypted, to the host they were meant for, over real sockets.

- TLS certificates are verified by default: a server whose certificate no trusted CA signed
  gets no request (and so no API key), through both facades.
- Plain ``http://`` is refused for a non-loopback host unless ``allow_insecure_http=True``.
- A redirect is never followed, so auth headers never reach the host it points at.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from talkstack_async import (
    APIConnectionError,
    APIStatusError,
    AsyncTalkstack,
    ValidationError,
)
from talkstack_sync import Talkstack

API_KEY = "k" * 64
PROJECTS = {"status": "success", "message": "ok", "data": []}


class Recorder:
    """A loopback server that answers with ``respond`` and remembers every request's headers."""

    def __init__(
        self,
        respond: Callable[[web.Request], web.StreamResponse | Awaitable[web.StreamResponse]],
    ) -> None:
        self.seen: list[dict[str, str]] = []
        self._respond = respond
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> Recorder:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(dict(request.headers))
        answer = self._respond(request)
        if inspect.isawaitable(answer):  # an async respond, e.g. one that reads the body
            answer = await answer
        return answer


@pytest.fixture
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_server(certificate_authority: trustme.CA) -> AsyncIterator[Recorder]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    server = await Recorder(lambda _: web.json_response(PROJECTS)).start(server_context)
    yield server
    await server.stop()


async def test_an_untrusted_certificate_stops_the_request_before_any_header_is_sent(
    tls_server: Recorder, certificate_authority: trustme.CA
) -> None:
    base = f"https://localhost:{tls_server.port}"
    async with AsyncTalkstack(api_key=API_KEY, base_url=base, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.projects.list()
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorCertificateError)
    assert tls_server.seen == []

    def blocking_call() -> None:
        with Talkstack(api_key=API_KEY, base_url=base, max_retries=0) as blocking:
            blocking.projects.list()

    # From a worker thread, so this loop stays free to run the server's side of the handshake.
    with pytest.raises(APIConnectionError) as caught:
        await asyncio.to_thread(blocking_call)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorCertificateError)
    assert tls_server.seen == []

    # The same server is fine once its CA is trusted: the refusal above was the verification.
    trusting = ssl.create_default_context()
    certificate_authority.configure_trust(trusting)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusting))
    async with session, AsyncTalkstack(api_key=API_KEY, base_url=base, session=session) as client:
        assert await client.projects.list() == []
    assert tls_server.seen[0]["x-api-key"] == API_KEY


@pytest.mark.parametrize(
    "url",
    [
        "http://api.talkstackai.com",
        "http://10.0.0.8:8080",
        "http://127.0.0.1.attacker.example",
        "http://localhost.attacker.example",
        "http://[2001:db8::1]",
    ],
)
@pytest.mark.parametrize("argument", ["base_url", "calls_base_url"])
@pytest.mark.parametrize("source", ["argument", "environment"])
def test_plain_http_to_another_host_is_refused_unless_allowed(
    url: str, argument: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if source == "argument":
        options: dict[str, Any] = {argument: url}
    else:
        monkeypatch.setenv(f"TALKSTACK_{argument.upper()}", url)
        options = {}
    with pytest.raises(ValidationError, match="allow_insecure_http"):
        AsyncTalkstack(api_key=API_KEY, **options)
    with pytest.raises(ValidationError, match="allow_insecure_http"):
        Talkstack(api_key=API_KEY, **options)
    AsyncTalkstack(api_key=API_KEY, allow_insecure_http=True, **options)  # asked for: allowed


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:8080", "http://127.8.0.1"]
)
def test_plain_http_to_this_machine_is_allowed(url: str) -> None:
    AsyncTalkstack(api_key=API_KEY, base_url=url, calls_base_url=url)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("credentials", ["api_key", "token"])
async def test_a_redirect_is_not_followed_so_credentials_stay_with_their_host(
    status: int, credentials: str
) -> None:
    elsewhere = await Recorder(lambda _: web.json_response(PROJECTS)).start()
    target = f"http://localhost:{elsewhere.port}/projects"
    redirecting = await Recorder(
        lambda _: web.Response(status=status, headers={"Location": target})
    ).start()
    options: dict[str, Any] = {credentials: "secret-" + "s" * 40}
    try:
        base = f"http://127.0.0.1:{redirecting.port}"
        async with AsyncTalkstack(**options, base_url=base) as client:
            with pytest.raises(APIStatusError) as caught:
                await client.projects.list()
    finally:
        await redirecting.stop()
        await elsewhere.stop()
    assert caught.value.status == status
    assert len(redirecting.seen) == 1  # a 3xx is not retried either
    assert elsewhere.seen == []


@pytest.mark.parametrize("session_kind", ["owned", "injected"])
async def test_every_request_carries_the_sdk_headers_and_credentials_only_where_due(
    session_kind: str,
) -> None:
    """An owned session carries the base headers as its defaults, an injected one gets them
    per request: either way the server sees the same thing."""
    login = {"token": "t" * 40, "refreshToken": "r" * 40, "expirationTime": None, "user": {}}
    server = await Recorder(
        lambda request: web.json_response(login if "login" in request.path else PROJECTS)
    ).start()
    injected = aiohttp.ClientSession() if session_kind == "injected" else None
    try:
        async with AsyncTalkstack(
            api_key=API_KEY, base_url=f"http://127.0.0.1:{server.port}", session=injected,
            default_headers={"X-Team": "dialers"},
        ) as client:  # fmt: skip
            await client.projects.list()
            await client.auth.login(email="ada@example.com", password="correct horse")
    finally:
        if injected is not None:
            await injected.close()
        await server.stop()
    listed, logged_in = server.seen
    for seen in (listed, logged_in):
        assert seen["User-Agent"].startswith("talkstack-python/")
        assert seen["Accept"] == "application/json"
        assert seen["X-Team"] == "dialers"
    assert listed["x-api-key"] == API_KEY
    assert "x-api-key" not in logged_in
    assert "Authorization" not in logged_in
