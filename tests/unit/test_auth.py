"""Bearer-token auth: proactive and reactive refresh, single flight, failures, re-login."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aioresponses import aioresponses

from talkstack_async import (
    AsyncTalkstack,
    AuthenticationError,
    MissingCredentialsError,
    RateLimitError,
    TokenSet,
)
from tests.conftest import API, sent

REFRESH = f"{API}/auth/refresh-token"
LOGIN = f"{API}/auth/login"
VOICES = f"{API}/voices"


def _later(seconds: float) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _token_body(token: str, refresh: str, *, typo: bool = True) -> dict[str, Any]:
    key = "resfreshToken" if typo else "refreshToken"
    return {"token": token, key: refresh, "expirationTime": _later(7200)}


def _bearers(mocked: aioresponses, url: str, method: str = "GET") -> list[str]:
    return [c.kwargs["headers"].get("Authorization") for c in sent(mocked, method, url)]


async def test_expired_token_is_refreshed_once_for_200_concurrent_requests(
    mocked: aioresponses,
) -> None:
    mocked.post(REFRESH, payload=_token_body("fresh", "ref-2"))
    mocked.get(VOICES, payload={"voices": []}, repeat=True)
    expired = datetime.now(timezone.utc) - timedelta(seconds=1)
    async with AsyncTalkstack(token="stale", refresh_token="ref-1", token_expires_at=expired) as c:
        await asyncio.gather(*(c.voices.list() for _ in range(200)))
    assert len(sent(mocked, "POST", REFRESH)) == 1
    assert sent(mocked, "POST", REFRESH)[0].kwargs["json"] == {"refreshToken": "ref-1"}
    assert set(_bearers(mocked, VOICES)) == {"Bearer fresh"}
    assert len(_bearers(mocked, VOICES)) == 200


async def test_token_is_refreshed_shortly_before_it_expires(mocked: aioresponses) -> None:
    mocked.post(REFRESH, payload=_token_body("fresh", "ref-2"))
    mocked.get(VOICES, payload={"voices": []}, repeat=True)
    expiring = datetime.now(timezone.utc) + timedelta(seconds=30)  # within the 60 s margin
    async with AsyncTalkstack(token="old", refresh_token="ref-1", token_expires_at=expiring) as c:
        await c.voices.list()
    assert _bearers(mocked, VOICES) == ["Bearer fresh"]


async def test_401_refreshes_once_and_repeats_the_request(mocked: aioresponses) -> None:
    mocked.get(VOICES, status=401, payload={"message": "jwt expired"})
    mocked.get(VOICES, payload={"voices": []})
    mocked.post(REFRESH, payload=_token_body("fresh", "ref-2"))
    async with AsyncTalkstack(token="old", refresh_token="ref-1") as c:
        assert await c.voices.list() == []
    assert _bearers(mocked, VOICES) == ["Bearer old", "Bearer fresh"]
    assert len(sent(mocked, "POST", REFRESH)) == 1


async def test_concurrent_401s_cause_one_refresh(mocked: aioresponses) -> None:
    for _ in range(50):
        mocked.get(VOICES, status=401)
    mocked.get(VOICES, payload={"voices": []}, repeat=True)
    mocked.post(REFRESH, payload=_token_body("fresh", "ref-2"))
    async with AsyncTalkstack(token="old", refresh_token="ref-1") as c:
        await asyncio.gather(*(c.voices.list() for _ in range(50)))
    assert len(sent(mocked, "POST", REFRESH)) == 1


async def test_401_after_a_refresh_is_an_authentication_error(mocked: aioresponses) -> None:
    mocked.get(VOICES, status=401, payload={"message": "no access"}, repeat=True)
    mocked.post(REFRESH, payload=_token_body("fresh", "ref-2"))
    async with AsyncTalkstack(token="old", refresh_token="ref-1") as c:
        with pytest.raises(AuthenticationError, match="no access"):
            await c.voices.list()
    assert len(sent(mocked, "GET", VOICES)) == 2
    assert len(sent(mocked, "POST", REFRESH)) == 1


async def test_rejected_refresh_fails_every_waiter_with_authentication_error(
    mocked: aioresponses,
) -> None:
    mocked.post(REFRESH, status=401, payload={"message": "invalid refresh token"})
    mocked.get(VOICES, payload={"voices": []}, repeat=True)
    expired = datetime.now(timezone.utc) - timedelta(seconds=1)
    async with AsyncTalkstack(token="old", refresh_token="bad", token_expires_at=expired) as c:
        results = await asyncio.wait_for(
            asyncio.gather(*(c.voices.list() for _ in range(50)), return_exceptions=True), 5
        )
    assert all(isinstance(r, AuthenticationError) for r in results)
    assert "token refresh was rejected: invalid refresh token" in str(results[0])
    assert len(sent(mocked, "POST", REFRESH)) == 1
    assert sent(mocked, "GET", VOICES) == []


async def test_a_refresh_answered_with_a_server_error_is_not_sent_again(
    mocked: aioresponses,
) -> None:
    # A 5xx may come after the server rotated the refresh token: it is spent.
    mocked.post(REFRESH, status=503, repeat=True)
    expired = datetime.now(timezone.utc) - timedelta(seconds=1)
    async with AsyncTalkstack(token="old", refresh_token="r", token_expires_at=expired) as c:
        for _ in range(2):
            with pytest.raises(AuthenticationError, match="consumed") as caught:
                await c.voices.list()
            assert "email= and password=" in str(caught.value)
    assert len(sent(mocked, "POST", REFRESH)) == 1


async def test_a_refresh_refused_with_429_keeps_the_refresh_token(mocked: aioresponses) -> None:
    mocked.post(REFRESH, status=429)
    mocked.post(REFRESH, payload=_token_body("t2", "ref-2", typo=False))
    mocked.get(VOICES, payload={"voices": []})
    expired = datetime.now(timezone.utc) - timedelta(seconds=1)
    async with AsyncTalkstack(
        token="old", refresh_token="r", token_expires_at=expired, max_retries=0
    ) as c:
        with pytest.raises(RateLimitError):
            await c.voices.list()
        await c.voices.list()
    bodies = [call.kwargs["json"] for call in sent(mocked, "POST", REFRESH)]
    assert bodies == [{"refreshToken": "r"}, {"refreshToken": "r"}]


async def test_the_typod_refresh_key_is_used_for_the_next_refresh(mocked: aioresponses) -> None:
    mocked.get(VOICES, status=401)
    mocked.get(VOICES, payload={"voices": []})
    mocked.get(VOICES, status=401)
    mocked.get(VOICES, payload={"voices": []})
    mocked.post(REFRESH, payload=_token_body("t2", "ref-2", typo=True))
    mocked.post(REFRESH, payload=_token_body("t3", "ref-3", typo=False))
    async with AsyncTalkstack(token="t1", refresh_token="ref-1") as c:
        await c.voices.list()
        await c.voices.list()
        assert c.tokens is not None
        assert c.tokens.refresh_token == "ref-3"
    bodies = [call.kwargs["json"] for call in sent(mocked, "POST", REFRESH)]
    assert bodies == [{"refreshToken": "ref-1"}, {"refreshToken": "ref-2"}]


async def test_email_and_password_log_in_once_on_first_use(mocked: aioresponses) -> None:
    mocked.post(LOGIN, payload={**_token_body("t1", "r1", typo=False), "loginStatus": 7})
    mocked.get(VOICES, payload={"voices": []}, repeat=True)
    async with AsyncTalkstack(email="jo@example.com", password="pw") as c:
        await asyncio.gather(*(c.voices.list() for _ in range(20)))
    assert len(sent(mocked, "POST", LOGIN)) == 1
    assert sent(mocked, "POST", LOGIN)[0].kwargs["json"] == {
        "email": "jo@example.com",
        "password": "pw",
    }
    assert set(_bearers(mocked, VOICES)) == {"Bearer t1"}


async def test_rejected_refresh_token_falls_back_to_login_when_a_password_is_known(
    mocked: aioresponses,
) -> None:
    mocked.post(LOGIN, payload=_token_body("t1", "r1", typo=False))
    mocked.post(LOGIN, payload=_token_body("t2", "r2", typo=False))
    mocked.post(REFRESH, status=401)
    mocked.get(VOICES, payload={"voices": []})
    mocked.get(VOICES, status=401)
    mocked.get(VOICES, payload={"voices": []})
    async with AsyncTalkstack(email="jo@example.com", password="pw") as c:
        await c.voices.list()
        await c.voices.list()
    assert _bearers(mocked, VOICES) == ["Bearer t1", "Bearer t1", "Bearer t2"]
    assert len(sent(mocked, "POST", REFRESH)) == 1
    assert len(sent(mocked, "POST", LOGIN)) == 2


async def test_wrong_password_is_an_authentication_error(mocked: aioresponses) -> None:
    mocked.post(LOGIN, status=401, payload={"message": "Not Found"})
    async with AsyncTalkstack(email="jo@example.com", password="wrong") as c:
        with pytest.raises(AuthenticationError, match="login was rejected"):
            await c.voices.list()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_on_tokens_is_called_with_each_new_token_set(
    mocked: aioresponses, asynchronous: bool
) -> None:
    seen: list[TokenSet] = []

    def remember(tokens: TokenSet) -> None:
        seen.append(tokens)

    async def remember_async(tokens: TokenSet) -> None:
        seen.append(tokens)

    mocked.get(VOICES, status=401)
    mocked.get(VOICES, payload={"voices": []})
    mocked.post(REFRESH, payload=_token_body("t2", "r2"))
    async with AsyncTalkstack(
        token="t1", refresh_token="r1", on_tokens=remember_async if asynchronous else remember
    ) as c:
        await c.voices.list()
    assert [(t.access_token, t.refresh_token) for t in seen] == [("t2", "r2")]


async def test_cancelled_waiter_does_not_cancel_the_refresh_for_the_others(
    mocked: aioresponses,
) -> None:
    gate = asyncio.Event()

    async def slow_refresh(url: Any, **kwargs: Any) -> None:
        await gate.wait()

    mocked.post(REFRESH, payload=_token_body("fresh", "r2"), callback=slow_refresh)
    mocked.get(VOICES, payload={"voices": []}, repeat=True)
    expired = datetime.now(timezone.utc) - timedelta(seconds=1)
    async with AsyncTalkstack(token="old", refresh_token="r1", token_expires_at=expired) as c:
        first = asyncio.ensure_future(c.voices.list())
        second = asyncio.ensure_future(c.voices.list())
        await asyncio.sleep(0.01)
        first.cancel()
        gate.set()
        assert await second == []
        with pytest.raises(asyncio.CancelledError):
            await first
    assert len(sent(mocked, "POST", REFRESH)) == 1


async def test_api_key_client_cannot_call_a_bearer_only_endpoint(mocked: aioresponses) -> None:
    async with AsyncTalkstack(api_key="k" * 64) as c:
        with pytest.raises(MissingCredentialsError, match="bearer"):
            await c.user.generate_api_key()
    assert mocked.requests == {}


async def test_client_without_credentials_refuses_authenticated_endpoints_before_sending(
    mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TALKSTACK_API_KEY", "TALKSTACK_TOKEN", "TALKSTACK_EMAIL", "TALKSTACK_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    async with AsyncTalkstack() as c:
        with pytest.raises(MissingCredentialsError):
            await c.projects.list()
    assert mocked.requests == {}


async def test_unauthenticated_endpoints_never_carry_credentials(mocked: aioresponses) -> None:
    mocked.post(f"{API}/auth/forgot-password", payload={"message": "sent"})
    mocked.get(VOICES, payload={"voices": []})
    async with AsyncTalkstack(api_key="k" * 64) as c:
        await c.voices.list()  # an authenticated request first: its headers must not linger
        await c.auth.forgot_password(email="jo@example.com")
    assert sent(mocked, "GET", VOICES)[0].kwargs["headers"]["x-api-key"] == "k" * 64
    headers = sent(mocked, "POST", f"{API}/auth/forgot-password")[0].kwargs["headers"]
    assert "x-api-key" not in headers
    assert "Authorization" not in headers


async def test_wrong_old_password_does_not_refresh_or_resend(mocked: aioresponses) -> None:
    mocked.post(f"{API}/auth/change-password", status=401, payload={"message": "wrong password"})
    async with AsyncTalkstack(token="t1", refresh_token="r1") as c:
        with pytest.raises(AuthenticationError, match="wrong password"):
            await c.auth.change_password(old_password="old", new_password="new")
    assert len(sent(mocked, "POST", f"{API}/auth/change-password")) == 1
    assert sent(mocked, "POST", REFRESH) == []


async def test_api_key_401_is_not_repeated(mocked: aioresponses) -> None:
    mocked.get(VOICES, status=401, repeat=True)
    async with AsyncTalkstack(api_key="k" * 64) as c:
        with pytest.raises(AuthenticationError):
            await c.voices.list()
    assert len(sent(mocked, "GET", VOICES)) == 1


async def test_a_bare_token_the_server_rejects_is_reported_as_the_servers_401(
    mocked: aioresponses,
) -> None:
    mocked.get(VOICES, status=401, payload={"message": "token revoked"})
    async with AsyncTalkstack(token="t0ken") as client:
        with pytest.raises(AuthenticationError, match="token revoked"):
            await client.voices.list()
    assert len(sent(mocked, "GET", VOICES)) == 1
