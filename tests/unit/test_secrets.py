"""Secrets never reach logs (debug included), reprs or error messages."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from aioresponses import aioresponses

from talkstack_async import (
    AsyncTalkstack,
    AuthenticationError,
    BadRequestError,
    PermissionDeniedError,
    TokenSet,
)
from talkstack_async import _endpoints as ep
from talkstack_async._auth import ApiKeyAuth, TokenAuth
from talkstack_async._config import ClientConfig
from talkstack_async._transport import RequestSpec
from tests.conftest import API, sent

API_KEY = "APIKEY-canary-0123456789abcdef0123456789abcdef0123456789abcdef01"
PASSWORD = "PASSWORD-canary-hunter2"
TOKEN = "TOKEN-canary-eyJhbGciOi"
REFRESH = "REFRESH-canary-r3fr3sh"
NEW_TOKEN = "NEWTOKEN-canary-xyz"
NEW_REFRESH = "NEWREFRESH-canary-abc"
CANARIES = (API_KEY, PASSWORD, TOKEN, REFRESH, NEW_TOKEN, NEW_REFRESH)


def _assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"secret {canary[:12]}... leaked"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="talkstack")
    return caplog


async def test_api_key_never_reaches_debug_logs_or_errors(
    mocked: aioresponses, debug_logs: pytest.LogCaptureFixture
) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []})
    # A server that echoes the key back must not get it into our error message.
    mocked.post(
        f"{API}/agent",
        status=400,
        payload={"message": f"bad key {API_KEY}", "apiKey": API_KEY},
    )
    async with AsyncTalkstack(api_key=API_KEY) as client:
        await client.voices.list()
        with pytest.raises(BadRequestError) as caught:
            await client.agents.get("a1", project_id="p1")
        _assert_clean(repr(client))
    _assert_clean(str(caught.value))
    _assert_clean(repr(caught.value.body))
    _assert_clean(debug_logs.text)
    assert "talkstack GET /voices -> 200" in debug_logs.text


async def test_passwords_and_tokens_never_reach_debug_logs(
    mocked: aioresponses, debug_logs: pytest.LogCaptureFixture
) -> None:
    expiry = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    mocked.post(
        f"{API}/auth/login",
        payload={"token": TOKEN, "refreshToken": REFRESH, "expirationTime": expiry},
    )
    mocked.get(f"{API}/voices", status=401)
    mocked.post(
        f"{API}/auth/refresh-token",
        payload={"token": NEW_TOKEN, "resfreshToken": NEW_REFRESH, "expirationTime": expiry},
    )
    mocked.get(f"{API}/voices", payload={"voices": []})
    mocked.post(f"{API}/auth/change-password", status=401, payload={"message": PASSWORD})
    async with AsyncTalkstack(email="jo@example.com", password=PASSWORD) as client:
        await client.voices.list()
        with pytest.raises(AuthenticationError) as caught:
            await client.auth.change_password(old_password=PASSWORD, new_password=PASSWORD)
        _assert_clean(repr(client))
        _assert_clean(repr(client.tokens))
        _assert_clean(repr(client._auth))
    _assert_clean(str(caught.value))
    _assert_clean(debug_logs.text)
    assert "[REDACTED]" in debug_logs.text  # bodies were logged, with secrets masked


async def test_login_result_and_token_set_reprs_hide_secrets(mocked: aioresponses) -> None:
    mocked.post(
        f"{API}/auth/login",
        payload={"token": TOKEN, "refreshToken": REFRESH, "user": {"email": "jo@example.com"}},
    )
    async with AsyncTalkstack() as client:
        result = await client.auth.login(email="jo@example.com", password=PASSWORD)
    assert result.access_token == TOKEN  # the value is there for whoever asks for it
    _assert_clean(repr(result))
    _assert_clean(repr(result.tokens))
    assert "jo@example.com" in repr(result)


def test_auth_and_config_reprs_hide_secrets() -> None:
    _assert_clean(repr(ApiKeyAuth(API_KEY)))
    config = ClientConfig.build(
        base_url=None,
        calls_base_url=None,
        timeout=5,
        max_retries=1,
        max_connections=10,
        allow_insecure_http=False,
        default_headers={"X-Partner-Token": TOKEN},
    )
    _assert_clean(repr(config))


async def test_error_headers_drop_credentials(mocked: aioresponses) -> None:
    mocked.get(f"{API}/voices", status=403, headers={"x-api-key": API_KEY}, repeat=True)
    async with AsyncTalkstack(api_key=API_KEY) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.voices.list()
    assert "x-api-key" not in {k.lower() for k in caught.value.headers}
    assert sent(mocked, "GET", f"{API}/voices")


def test_token_auth_repr_shows_only_expiry() -> None:
    async def never(*_: object) -> TokenSet:
        raise AssertionError

    tokens = TokenSet(TOKEN, REFRESH)
    auth = TokenAuth(refresher=never, login=never, tokens=tokens, password=PASSWORD)
    _assert_clean(repr(auth))


def test_a_request_spec_repr_shows_the_route_not_the_body() -> None:
    spec = RequestSpec(ep.LOGIN, "/auth/login", {"email": "a@b.c", "password": "hunter2-secret"})
    assert repr(spec) == "RequestSpec(POST /auth/login)"
    assert str(spec) == repr(spec)
