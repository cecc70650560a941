"""A configurable RetryPolicy: which statuses, how long, how many; never for call placement."""

from __future__ import annotations

import pytest
from aioresponses import aioresponses

from talkstack_async import (
    APIStatusError,
    AsyncTalkstack,
    InternalServerError,
    RetryPolicy,
    ValidationError,
)
from tests.conftest import API, API_KEY, CALLS, sent

VOICES = f"{API}/voices"


async def test_the_policys_statuses_decide_what_is_retried(
    mocked: aioresponses, sleeps: list[float]
) -> None:
    policy = RetryPolicy(max_retries=3, statuses={409, 503}, initial_delay=0.1, max_delay=0.3)
    mocked.get(VOICES, status=409)
    mocked.get(VOICES, status=503)
    mocked.get(VOICES, payload={"voices": []})
    async with AsyncTalkstack(api_key=API_KEY, max_retries=policy) as client:
        assert await client.voices.list() == []
        assert client.retry_policy is policy
        assert client.max_retries == 3
    assert len(sent(mocked, "GET", VOICES)) == 3
    assert len(sleeps) == 2
    assert all(0 <= delay <= 0.3 for delay in sleeps)  # the cap holds


async def test_a_status_left_out_of_the_policy_is_not_retried(
    mocked: aioresponses, sleeps: list[float]
) -> None:
    mocked.get(VOICES, status=500, repeat=True)
    async with AsyncTalkstack(
        api_key=API_KEY, max_retries=RetryPolicy(max_retries=5, statuses={429})
    ) as client:
        with pytest.raises(InternalServerError):
            await client.voices.list()
    assert len(sent(mocked, "GET", VOICES)) == 1


async def test_with_options_takes_a_policy_too(mocked: aioresponses, sleeps: list[float]) -> None:
    mocked.get(VOICES, status=502, repeat=True)
    async with AsyncTalkstack(api_key=API_KEY) as client:
        patient = client.with_options(max_retries=RetryPolicy(max_retries=4, max_delay=0))
        with pytest.raises(APIStatusError):
            await patient.voices.list()
    assert len(sent(mocked, "GET", VOICES)) == 5
    assert sleeps == [0.0, 0.0, 0.0, 0.0]


async def test_no_policy_makes_a_call_placement_retried(
    mocked: aioresponses, sleeps: list[float]
) -> None:
    mocked.post(f"{CALLS}/call/makeCall", status=503, repeat=True)
    eager = RetryPolicy(max_retries=10, statuses={400, 429, 500, 502, 503, 504})
    async with AsyncTalkstack(api_key=API_KEY, max_retries=eager) as client:
        with pytest.raises(InternalServerError):
            await client.calls.make("+14155550100", project_id="p", agent_id="a")
    assert len(sent(mocked, "POST", f"{CALLS}/call/makeCall")) == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"max_retries": -1},
        {"initial_delay": -0.5},
        {"max_delay": "8"},
        {"statuses": {200}},
        {"statuses": {"503"}},
        {"statuses": 503},
    ],
)
def test_a_malformed_policy_is_a_validation_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**bad)  # type: ignore[arg-type]
