"""A token refresh whose answer was lost is never re-sent with the refresh token the server
may already have rotated (over real sockets: the emulator drops the connection after it
processed the refresh)."""

from __future__ import annotations

from typing import Any

import pytest

from talkstack_async import AsyncTalkstack, AuthenticationError, RateLimitError, TokenSet
from talkstack_async.testing import Fault, TalkstackEmulator


async def _tokens(emulator: TalkstackEmulator, email: str, password: str) -> Any:
    async with AsyncTalkstack(**emulator.client_options()) as anonymous:
        return await anonymous.auth.login(email=email, password=password)


@pytest.mark.talkstack_emulator(token_ttl=3600)
async def test_a_lost_refresh_answer_without_a_password_says_the_refresh_token_is_consumed(
    talkstack_server: TalkstackEmulator,
) -> None:
    account = talkstack_server.create_account()
    login = await _tokens(talkstack_server, account.email, account.password)
    seen: list[TokenSet] = []
    async with AsyncTalkstack(
        **talkstack_server.client_options(),
        token=login.access_token,
        refresh_token=login.refresh_token,
        on_tokens=seen.append,
    ) as client:
        talkstack_server.expire_tokens()
        talkstack_server.faults.inject(
            Fault.reset(after_processing=True), on="auth.refresh", times=1
        )
        for _ in range(3):  # later requests do not try the spent token either
            with pytest.raises(AuthenticationError) as caught:
                await client.voices.list()
            assert "consumed" in str(caught.value)
            assert "refresh_token=" in str(caught.value)
            assert login.refresh_token not in str(caught.value)
    assert talkstack_server.requests.count("auth.refresh") == 1
    assert talkstack_server.refresh_count == 1  # the server did rotate it
    assert seen == []


@pytest.mark.talkstack_emulator(token_ttl=3600)
async def test_a_lost_refresh_answer_with_a_password_logs_in_again(
    talkstack_server: TalkstackEmulator,
) -> None:
    account = talkstack_server.create_account()
    seen: list[TokenSet] = []
    async with AsyncTalkstack(
        **talkstack_server.client_options(),
        email=account.email,
        password=account.password,
        on_tokens=seen.append,
    ) as client:
        await client.voices.list()  # logs in
        talkstack_server.expire_tokens()
        talkstack_server.faults.inject(
            Fault.reset(after_processing=True), on="auth.refresh", times=1
        )
        voices = await client.voices.list()
    assert voices
    assert talkstack_server.requests.count("auth.refresh") == 1
    assert talkstack_server.requests.count("auth.login") == 2
    assert len(seen) == 2  # the first login's pair, then the new login's


@pytest.mark.talkstack_emulator(token_ttl=3600)
async def test_a_refresh_that_never_left_is_sent_again_with_the_same_token(
    talkstack_server: TalkstackEmulator,
) -> None:
    account = talkstack_server.create_account()
    login = await _tokens(talkstack_server, account.email, account.password)
    async with AsyncTalkstack(
        **talkstack_server.client_options(),
        token=login.access_token,
        refresh_token=login.refresh_token,
    ) as client:
        talkstack_server.expire_tokens()
        # Refused before processing: the refresh token is still good, a later request uses it.
        talkstack_server.faults.inject(
            Fault.rate_limited(retry_after=0), on="auth.refresh", times=1
        )
        with pytest.raises(RateLimitError):
            await client.voices.list()
        assert await client.voices.list()
    assert talkstack_server.refresh_count == 1
