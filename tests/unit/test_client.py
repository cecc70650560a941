"""The client's construction, configuration, session lifecycle and closing."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aioresponses import aioresponses

from talkstack_async import (
    AsyncTalkstack,
    ClientClosedError,
    TalkstackError,
    Timeouts,
    ValidationError,
)
from tests.conftest import API, API_KEY, sent

_ENV = (
    "TALKSTACK_API_KEY",
    "TALKSTACK_BASE_URL",
    "TALKSTACK_CALLS_BASE_URL",
    "TALKSTACK_EMAIL",
    "TALKSTACK_PASSWORD",
    "TALKSTACK_TOKEN",
    "TALKSTACK_REFRESH_TOKEN",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


async def test_session_is_created_lazily_and_closed_by_aclose(mocked: aioresponses) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []})
    client = AsyncTalkstack(api_key=API_KEY)
    assert client._sessions._session is None
    await client.voices.list()
    session = client._sessions._session
    assert session is not None
    assert not session.closed
    await client.aclose()
    assert session.closed
    assert client.is_closed
    await client.aclose()  # closing twice is fine


async def test_using_a_closed_client_raises_a_clear_error(mocked: aioresponses) -> None:
    async with AsyncTalkstack(api_key=API_KEY) as client:
        pass
    with pytest.raises(ClientClosedError, match="closed"):
        await client.voices.list()
    assert mocked.requests == {}


async def test_injected_session_is_used_and_never_closed(mocked: aioresponses) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []})
    async with aiohttp.ClientSession() as session:
        async with AsyncTalkstack(api_key=API_KEY, session=session) as client:
            await client.voices.list()
            assert client._sessions._session is session
        assert not session.closed
    assert len(sent(mocked, "GET", f"{API}/voices")) == 1


async def test_closing_a_with_options_copy_closes_the_shared_session(
    mocked: aioresponses,
) -> None:
    client = AsyncTalkstack(api_key=API_KEY)
    await client.with_options(timeout=3).aclose()
    with pytest.raises(ClientClosedError):
        await client.voices.list()


def test_client_used_from_another_event_loop_says_so(mocked: aioresponses) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []}, repeat=True)
    client = AsyncTalkstack(api_key=API_KEY)
    asyncio.run(client.voices.list())
    with pytest.raises(TalkstackError, match="another event loop"):
        asyncio.run(client.voices.list())
    asyncio.run(client.aclose())  # closing needs no particular loop
    assert client.is_closed


def test_env_vars_supply_credentials_and_base_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKSTACK_API_KEY", API_KEY)
    monkeypatch.setenv("TALKSTACK_BASE_URL", "http://127.0.0.1:8765/")
    client = AsyncTalkstack()
    assert client._auth.mode == "api-key"
    assert client.base_url == "http://127.0.0.1:8765"
    # A local API also serves make-call unless told otherwise.
    assert client.calls_base_url == "http://127.0.0.1:8765"


def test_explicit_arguments_win_over_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKSTACK_API_KEY", API_KEY)
    client = AsyncTalkstack(email="jo@example.com", password="pw")
    assert client._auth.mode == "token"


def test_default_hosts_are_the_two_documented_ones() -> None:
    client = AsyncTalkstack(api_key=API_KEY)
    assert client.base_url == "https://api.talkstackai.com"
    assert client.calls_base_url == "https://calls.talkstack.ai"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"api_key": API_KEY, "email": "a@b.co", "password": "x"}, "api_key"),
        ({"email": "a@b.co"}, "password"),
        ({"refresh_token": "r"}, "token"),
        ({"api_key": "  "}, "api_key"),
        ({"api_key": API_KEY, "base_url": "ftp://x"}, "base_url"),
        ({"api_key": API_KEY, "base_url": "http://api.example.com"}, "base_url"),
        ({"api_key": API_KEY, "timeout": -1}, "total"),
        ({"api_key": API_KEY, "max_retries": -1}, "max_retries"),
    ],
)
def test_bad_construction_is_a_validation_error(kwargs: dict[str, object], argument: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AsyncTalkstack(**kwargs)  # type: ignore[arg-type]
    assert caught.value.argument == argument


def test_plain_http_to_a_remote_host_needs_an_explicit_opt_in() -> None:
    client = AsyncTalkstack(
        api_key=API_KEY, base_url="http://api.example.com", allow_insecure_http=True
    )
    assert client.base_url == "http://api.example.com"


def test_timeouts_map_to_aiohttp() -> None:
    timeout = Timeouts(total=30, connect=2, read=10).as_aiohttp()
    assert (timeout.total, timeout.sock_connect, timeout.sock_read) == (30, 2, 10)
    assert Timeouts.coerce(None).as_aiohttp().total is None


def test_repr_names_hosts_and_auth_mode_only() -> None:
    client = AsyncTalkstack(api_key=API_KEY)
    assert repr(client) == (
        "AsyncTalkstack(base_url='https://api.talkstackai.com', "
        "calls_base_url='https://calls.talkstack.ai', auth='api-key')"
    )


def test_only_path_parameters_are_encoded_into_the_path() -> None:
    from talkstack_async import _endpoints as ep

    assert ep.GET_PROJECT.path_pieces == (("/project/", "project_id"),)
    assert ep.CREATE_AGENT.path_pieces == ()
    path, _, _ = ep.GET_PROJECT.render({"project_id": "a/../b"})
    assert path == "/project/a%2F..%2Fb"


def test_paths_with_several_placeholders_fill_each_in_place() -> None:
    from talkstack_async._endpoints import Endpoint

    endpoint = Endpoint("x.y", "GET", "/a/{first}/b/{second}.json")
    assert endpoint.path_pieces == (("/a/", "first"), ("/b/", "second"))
    assert endpoint.path_tail == ".json"
    path, body, query = endpoint.render({"first": "p 1", "second": 42})
    assert path == "/a/p%201/b/42.json"
    assert (body, query) == ({}, {})
    assert Endpoint("x.z", "GET", "/{only}").render({"only": "id"})[0] == "/id"


async def test_await_close_is_aclose(mocked: object) -> None:
    from talkstack_async import AsyncTalkstack, ClientClosedError

    client = AsyncTalkstack(api_key="k" * 64)
    await client.close()
    assert client.is_closed
    await client.close()  # twice is fine
    with pytest.raises(ClientClosedError):
        await client.voices.list()
