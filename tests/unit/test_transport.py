"""The transport: retries and their safety, Retry-After, error mapping, decoding, redirects."""

from __future__ import annotations

import asyncio
import collections
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from talkstack_async import (
    APIConnectionError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    AsyncTalkstack,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from tests.conftest import API, API_KEY, CALLS, sent

PROJECT = {"data": {"id": "p1", "name": "Support"}}
MAKE_CALL = f"{CALLS}/call/makeCall"


def _connect_error() -> aiohttp.ClientConnectorError:
    key = collections.namedtuple("Key", "host port ssl")("api.talkstackai.com", 443, True)
    return aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))  # type: ignore[arg-type]


async def _make_call(client: AsyncTalkstack) -> Any:
    return await client.calls.make("+14155550123", project_id="p1", agent_id="a1")


# -- retries of retry-safe requests -----------------------------------------------------------


async def test_read_is_retried_on_5xx_until_it_succeeds(
    client: AsyncTalkstack, mocked: aioresponses, sleeps: list[float]
) -> None:
    mocked.get(f"{API}/project/p1", status=503)
    mocked.get(f"{API}/project/p1", status=500)
    mocked.get(f"{API}/project/p1", payload=PROJECT)
    project = await client.projects.get("p1")
    assert project.id == "p1"
    assert len(sent(mocked, "GET", f"{API}/project/p1")) == 3
    assert len(sleeps) == 2


async def test_retries_stop_at_max_retries_and_raise_the_last_error(
    client: AsyncTalkstack, mocked: aioresponses, sleeps: list[float]
) -> None:
    mocked.get(f"{API}/project/p1", status=502, payload={"message": "bad gateway"}, repeat=True)
    with pytest.raises(InternalServerError) as caught:
        await client.projects.get("p1")
    assert caught.value.status == 502
    assert caught.value.message == "bad gateway"
    assert len(sent(mocked, "GET", f"{API}/project/p1")) == 3  # 1 + max_retries (2)
    assert len(sleeps) == 2


async def test_backoff_is_exponential_with_full_jitter(
    client: AsyncTalkstack, mocked: aioresponses, sleeps: list[float]
) -> None:
    mocked.get(f"{API}/project/p1", status=500, repeat=True)
    with pytest.raises(InternalServerError):
        await client.with_options(max_retries=4).projects.get("p1")
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= min(8.0, 0.5 * 2**attempt)


async def test_retry_after_seconds_is_honoured(
    client: AsyncTalkstack, mocked: aioresponses, sleeps: list[float]
) -> None:
    mocked.get(f"{API}/project/p1", status=429, headers={"Retry-After": "7"})
    mocked.get(f"{API}/project/p1", payload=PROJECT)
    await client.projects.get("p1")
    assert sleeps == [7.0]


async def test_retry_after_http_date_is_honoured_and_capped(
    client: AsyncTalkstack, mocked: aioresponses, sleeps: list[float]
) -> None:
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    mocked.get(f"{API}/project/p1", status=503, headers={"Retry-After": soon})
    mocked.get(f"{API}/project/p1", status=503, headers={"Retry-After": "3600"})
    mocked.get(f"{API}/project/p1", payload=PROJECT)
    await client.projects.get("p1")
    assert 25 <= sleeps[0] <= 30
    assert sleeps[1] == 60.0  # capped at RetryPolicy.max_retry_after


async def test_rate_limit_error_carries_retry_after_when_retries_run_out(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.get(f"{API}/project/p1", status=429, headers={"Retry-After": "2"}, repeat=True)
    with pytest.raises(RateLimitError) as caught:
        await client.projects.get("p1")
    assert caught.value.retry_after == 2.0


async def test_read_sent_as_post_is_retried(client: AsyncTalkstack, mocked: aioresponses) -> None:
    mocked.post(f"{API}/agent", status=500)
    mocked.post(f"{API}/agent", payload={"id": "a1"})
    assert (await client.agents.get("a1", project_id="p1")).id == "a1"
    assert len(sent(mocked, "POST", f"{API}/agent")) == 2


async def test_connection_errors_on_reads_are_retried_then_typed(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.get(f"{API}/voices", exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(APIConnectionError) as caught:
        await client.voices.list()
    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.method == "GET"
    assert caught.value.path == "/voices"
    assert len(sent(mocked, "GET", f"{API}/voices")) == 3


async def test_timeouts_surface_as_api_timeout_error(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.get(f"{API}/voices", exception=aiohttp.SocketTimeoutError("read"), repeat=True)
    with pytest.raises(APITimeoutError):
        await client.voices.list()
    assert len(sent(mocked, "GET", f"{API}/voices")) == 3


# -- requests that can place a call ------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
async def test_make_call_is_never_retried_on_an_error_status(
    client: AsyncTalkstack, mocked: aioresponses, status: int
) -> None:
    mocked.post(MAKE_CALL, status=status, repeat=True)
    with pytest.raises(APIStatusError):
        await _make_call(client)
    assert len(sent(mocked, "POST", MAKE_CALL)) == 1


@pytest.mark.parametrize(
    "exception",
    [
        aiohttp.SocketTimeoutError("read timeout"),
        asyncio.TimeoutError(),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ClientPayloadError("truncated"),
    ],
    ids=["read-timeout", "total-timeout", "disconnected", "reset", "payload"],
)
async def test_make_call_is_never_retried_once_it_may_have_been_sent(
    client: AsyncTalkstack, mocked: aioresponses, exception: Exception
) -> None:
    mocked.post(MAKE_CALL, exception=exception, repeat=True)
    with pytest.raises(APIConnectionError):
        await _make_call(client)
    assert len(sent(mocked, "POST", MAKE_CALL)) == 1


@pytest.mark.parametrize(
    "exception",
    [_connect_error(), aiohttp.ConnectionTimeoutError("connect timeout")],
    ids=["refused", "connect-timeout"],
)
async def test_make_call_is_retried_when_the_connection_never_opened(
    client: AsyncTalkstack, mocked: aioresponses, exception: Exception
) -> None:
    mocked.post(MAKE_CALL, exception=exception)
    mocked.post(MAKE_CALL, payload={"call": {"call_id": "CA1"}})
    assert (await _make_call(client)).sid == "CA1"
    assert len(sent(mocked, "POST", MAKE_CALL)) == 2


async def test_batch_call_is_never_retried(client: AsyncTalkstack, mocked: aioresponses) -> None:
    mocked.post(f"{API}/call/batch-call", status=503, repeat=True)
    with pytest.raises(InternalServerError):
        await client.calls.batch([{"number": "+14155550123"}], project_id="p1", agent_id="a1")
    assert len(sent(mocked, "POST", f"{API}/call/batch-call")) == 1


async def test_generate_api_key_is_never_retried(mocked: aioresponses) -> None:
    mocked.get(f"{API}/user/generate-apikey", status=500, repeat=True)
    async with AsyncTalkstack(token="tok", refresh_token="ref") as client:
        with pytest.raises(InternalServerError):
            await client.user.generate_api_key()
    assert len(sent(mocked, "GET", f"{API}/user/generate-apikey")) == 1


# -- error mapping and decoding ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
async def test_status_maps_to_its_error_class(
    client: AsyncTalkstack, mocked: aioresponses, status: int, error_class: type[Exception]
) -> None:
    mocked.post(
        f"{API}/project/create-project",
        status=status,
        payload={"message": "the server's words", "status": "error"},
    )
    with pytest.raises(error_class) as caught:
        await client.projects.create(name="n", description="d")
    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.method, error.path) == (status, "POST", "/project/create-project")
    assert error.message == "the server's words"
    assert error.body == {"message": "the server's words", "status": "error"}
    assert str(error) == f"{status} from POST /project/create-project: the server's words"


async def test_success_is_decided_by_status_not_by_the_body_status_field(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.post(f"{API}/phone-number", payload={"status": "error", "data": {"id": "n1"}})
    assert (await client.phone_numbers.get("n1")).id == "n1"


async def test_html_error_page_becomes_a_typed_error_with_a_text_message(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.get(
        f"{API}/voices",
        status=502,
        body="<html><body>Bad Gateway</body></html>",
        content_type="text/html",
        repeat=True,
    )
    with pytest.raises(InternalServerError) as caught:
        await client.voices.list()
    assert caught.value.message == "<html><body>Bad Gateway</body></html>"


async def test_empty_error_body_gets_a_status_message(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.post(f"{API}/call/analysis", status=400, body="")
    with pytest.raises(BadRequestError, match="HTTP 400"):
        await client.calls.analyze("CA1", questions=[{"question": "ok?", "type": "Boolean"}])


@pytest.mark.parametrize(
    "body",
    ['{"data": {"id": "p1"', "<html>oops</html>", '{"data": "not an object"}', '{"data": []}'],
    ids=["truncated", "html", "wrong-type", "wrong-shape"],
)
async def test_malformed_success_body_is_an_api_response_error(
    client: AsyncTalkstack, mocked: aioresponses, body: str
) -> None:
    mocked.get(f"{API}/project/p1", body=body)
    with pytest.raises(APIResponseError):
        await client.projects.get("p1")


async def test_missing_envelope_key_is_an_api_response_error(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.post(MAKE_CALL, payload={"message": "call made successfully."})
    with pytest.raises(APIResponseError, match="'call'"):
        await _make_call(client)


async def test_get_project_that_does_not_exist_is_not_found_despite_the_400(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.get(f"{API}/project/nope", status=400, payload={"message": "project does not exist"})
    with pytest.raises(NotFoundError) as caught:
        await client.projects.get("nope")
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("call", "method", "url", "empty"),
    [
        (lambda c: c.agents.list(project_id="p1"), "GET", f"{API}/agent/p1", []),
        (lambda c: c.projects.list(), "GET", f"{API}/project", []),
        (lambda c: c.user.get_active_project(), "GET", f"{API}/user/get-active-project", None),
        (lambda c: c.projects.get_active_agent("p1"), "POST", f"{API}/project/active-agent", None),
        (lambda c: c.phone_numbers.list(project_id="p1"), "POST", f"{API}/phone-number", []),
    ],
    ids=["agents", "projects", "active-project", "active-agent", "phone-numbers"],
)
async def test_documented_404_means_nothing_there(
    client: AsyncTalkstack, mocked: aioresponses, call: Any, method: str, url: str, empty: Any
) -> None:
    mocked.add(url, method, status=404, payload={"message": "no agents", "status": "error"})
    assert await call(client) == empty
    assert len(sent(mocked, method, url)) == 1


# -- escape hatch ------------------------------------------------------------------------------


async def test_raw_request_uses_the_same_auth_and_returns_the_decoded_body(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.post(f"{API}/hubspot/connect", payload={"connected": True})
    body = await client.request("post", "/hubspot/connect", json={"portalId": 7})
    assert body == {"connected": True}
    (call,) = sent(mocked, "POST", f"{API}/hubspot/connect")
    assert call.kwargs["headers"]["x-api-key"] == API_KEY
    assert call.kwargs["json"] == {"portalId": 7}


async def test_raw_request_is_retried_only_when_declared_safe(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.get(f"{API}/hubspot/status", status=500, repeat=True)
    with pytest.raises(InternalServerError):
        await client.request("GET", "/hubspot/status")
    assert len(sent(mocked, "GET", f"{API}/hubspot/status")) == 1
    with pytest.raises(InternalServerError):
        await client.request("GET", "/hubspot/status", retry_safe=True)
    assert len(sent(mocked, "GET", f"{API}/hubspot/status")) == 4


async def test_raw_request_can_target_the_calls_host(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.get(f"{CALLS}/call/status", payload={"ok": True})
    assert await client.request("GET", "/call/status", host="calls") == {"ok": True}


# -- options -----------------------------------------------------------------------------------


async def test_with_options_overrides_timeouts_per_call_and_shares_the_session(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []}, repeat=True)
    await client.voices.list()
    fast = client.with_options(timeout=1.5, max_retries=0)
    await fast.voices.list()
    first, second = sent(mocked, "GET", f"{API}/voices")
    assert first.kwargs["timeout"].total == 60.0
    assert second.kwargs["timeout"].total == 1.5
    assert fast.max_retries == 0
    assert client.max_retries == 2
    assert fast._sessions is client._sessions


async def test_cached_urls_stay_bounded_and_each_request_goes_to_its_own_path(
    client: AsyncTalkstack, mocked: aioresponses
) -> None:
    ids = [f"p{n}" for n in range(600)]  # more distinct paths than the cache holds
    for project_id in ids:
        mocked.get(f"{API}/project/{project_id}", payload={"data": {"id": project_id}})
    projects = [await client.projects.get(project_id) for project_id in ids]
    assert [p.id for p in projects] == ids
    assert all(len(sent(mocked, "GET", f"{API}/project/{i}")) == 1 for i in ids)
    assert len(client._transport._urls) <= 512
