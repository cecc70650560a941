"""Pacing that follows the server (over real sockets, the emulator): a 429 or a 503 with
``Retry-After`` on make-call is a certain refusal, sent again after the server's wait while the
campaign slows down; nothing else is ever re-sent."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from talkstack_async import (
    AsyncTalkstack,
    DialProgress,
    DialStatus,
    RateLimitError,
    RateLimitPolicy,
    ValidationError,
)
from talkstack_async.testing import Fault, TalkstackEmulator

pytestmark = pytest.mark.talkstack_emulator(status_interval=600)


def _numbers(count: int, base: int = 7_100_000) -> list[str]:
    return [f"+1415{base + i:07d}" for i in range(count)]


async def _dial(server: TalkstackEmulator, numbers: list[str], **options: Any) -> list[Any]:
    seed = server.seed()
    async with AsyncTalkstack(api_key=seed.account.api_key, **server.client_options()) as client:
        return [
            outcome
            async for outcome in client.calls.dial_many(
                numbers, project_id=seed.project_id, agent_id=seed.agent_id, **options
            )
        ]


@pytest.mark.talkstack_emulator(status_interval=600, make_call_rate=10)
async def test_a_server_allowing_less_than_the_rate_gets_every_number_once_and_no_failure(
    talkstack_server: TalkstackEmulator,
) -> None:
    numbers = _numbers(50)
    seen: list[DialProgress] = []
    outcomes = await _dial(talkstack_server, numbers, rate=40, concurrency=8, progress=seen.append)
    assert collections.Counter(o.status for o in outcomes) == {DialStatus.PLACED: 50}
    made = collections.Counter(talkstack_server.placed_numbers())
    assert made == collections.Counter(numbers), "placed once each"
    refused = talkstack_server.rate_limited
    assert refused > 0, "the server never pushed back: the test proves nothing"
    # AIMD: after the first refusals the campaign asks about as often as it is allowed, so
    # refusals stay well below one per placement.
    assert refused < len(numbers), f"{refused} refusals for {len(numbers)} placements"
    assert any(p.backing_off > 0 for p in seen)
    assert min(p.rate for p in seen if p.rate is not None) < 40


async def test_random_429s_with_retry_after_are_sent_again_until_placed(
    talkstack_server: TalkstackEmulator,
) -> None:
    """One make-call in five refused at random: the campaign slows down but goes on."""
    talkstack_server.faults.inject(Fault.rate_limited(0.05), on="calls.make", probability=0.2)
    numbers = _numbers(60, 7_200_000)
    outcomes = await _dial(talkstack_server, numbers, concurrency=6, rate=30)
    assert {o.status for o in outcomes} == {DialStatus.PLACED}
    assert collections.Counter(talkstack_server.placed_numbers()) == collections.Counter(numbers)
    refused = [r for r in talkstack_server.requests.of("calls.make") if r.status == 429]
    assert refused, "no 429 was injected"
    # No faster than asked, and each refused request was sent again (at most 8 times).
    times = sorted(r.received_at for r in talkstack_server.requests.of("calls.make"))
    assert len(times) <= len(numbers) * 2


async def test_a_request_refused_more_often_than_allowed_is_failed_with_the_last_error(
    talkstack_server: TalkstackEmulator,
) -> None:
    talkstack_server.faults.inject(Fault.rate_limited(0.01), on="calls.make")
    policy = RateLimitPolicy(max_attempts=2)
    (outcome,) = await _dial(talkstack_server, _numbers(1, 7_300_000), on_rate_limit=policy)
    assert outcome.status is DialStatus.FAILED
    assert isinstance(outcome.error, RateLimitError)
    assert "3 times" in outcome.detail
    assert talkstack_server.requests.count("calls.make") == 3
    # Without a policy a refusal is the outcome at once, as before.
    (outcome,) = await _dial(talkstack_server, _numbers(1, 7_300_100), on_rate_limit=None)
    assert outcome.status is DialStatus.FAILED
    assert talkstack_server.requests.count("calls.make") == 4


async def test_a_503_is_sent_again_only_with_retry_after(
    talkstack_server: TalkstackEmulator,
) -> None:
    talkstack_server.faults.inject(Fault.error(503, retry_after=0.01), on="calls.make", times=1)
    (outcome,) = await _dial(talkstack_server, _numbers(1, 7_400_000))
    assert outcome.status is DialStatus.PLACED
    assert talkstack_server.requests.count("calls.make") == 2
    talkstack_server.faults.inject(Fault.error(503), on="calls.make", times=1)
    (outcome,) = await _dial(talkstack_server, _numbers(1, 7_400_100))
    assert outcome.status is DialStatus.UNKNOWN  # may have been placed: never re-sent
    assert talkstack_server.requests.count("calls.make") == 3


def test_a_rate_limit_policy_checks_its_fields() -> None:
    for bad in (
        {"max_attempts": -1},
        {"backoff": 0},
        {"decrease": 1.5},
        {"min_rate": 0},
        {"max_attempts": True},
    ):
        with pytest.raises(ValidationError):
            RateLimitPolicy(**bad)
