"""Every public error survives pickle (process pools, Celery results, DialOutcomes sent
elsewhere) with all it says, and a real error from the transport stays redacted."""

from __future__ import annotations

import inspect
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

import talkstack_async
from talkstack_async import (
    APIStatusError,
    AsyncTalkstack,
    AuthenticationError,
    CallWaitTimeoutError,
    DialOutcome,
    DialStatus,
    TalkstackError,
    ValidationError,
)
from tests.conftest import API

PUBLIC_ERRORS = sorted(
    (
        obj
        for obj in vars(talkstack_async).values()
        if inspect.isclass(obj) and issubclass(obj, TalkstackError)
    ),
    key=lambda cls: cls.__name__,
)


def _example(cls: type[TalkstackError]) -> TalkstackError:
    if issubclass(cls, APIStatusError):
        return cls(
            "nope",
            method="POST",
            path="/call",
            status=429 if cls.__name__ == "RateLimitError" else 418,
            body={"message": "nope", "token": "<redacted>"},
            headers={"Retry-After": "2", "X-Request-Id": "r1"},
            retry_after=2.0,
        )
    if issubclass(cls, talkstack_async.APIResponseError):
        return cls("bad body", method="GET", path="/voices", status=200, body="<html>")
    if issubclass(cls, talkstack_async.APIConnectionError):
        return cls("reset", method="POST", path="/call/makeCall", request_sent=False)
    if issubclass(cls, talkstack_async.APIError):
        return cls("boom", method="GET", path="/x")
    if issubclass(cls, ValidationError):
        return cls("number", "must be E.164")
    if cls is CallWaitTimeoutError:
        return cls("CA1", 9.5)
    if cls is talkstack_async.JournalWriteError:
        return cls("disk full", rolled_back=True)
    return cls("something happened")


def _round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value))  # noqa: S301 - our own bytes


def _state(error: BaseException) -> tuple[Any, ...]:
    return (type(error), error.args, str(error), vars(error))


def test_the_sweep_sees_every_error_class() -> None:
    names = {cls.__name__ for cls in PUBLIC_ERRORS}
    assert {"APIStatusError", "RateLimitError", "ValidationError", "DialInterruptedError"} <= names
    assert len(PUBLIC_ERRORS) >= 20


@pytest.mark.parametrize("cls", PUBLIC_ERRORS, ids=lambda c: c.__name__)
def test_every_public_error_round_trips_through_pickle(cls: type[TalkstackError]) -> None:
    error = _example(cls)
    copy = _round_trip(error)
    assert _state(copy) == _state(error)
    assert isinstance(copy, cls)


def _raise_in_child(sid: str) -> None:
    raise CallWaitTimeoutError(sid, 3.0)


def test_an_error_raised_in_a_process_pool_arrives_whole() -> None:
    with ProcessPoolExecutor(1) as pool:
        future = pool.submit(_raise_in_child, "CA42")
        with pytest.raises(CallWaitTimeoutError) as caught:
            future.result(timeout=60)
    assert caught.value.sid == "CA42"
    assert caught.value.timeout == 3.0


async def test_a_transport_error_pickles_with_its_context_and_stays_redacted(mocked: Any) -> None:
    secret = "REFRESHCANARY-123"
    mocked.post(
        f"{API}/auth/refresh-token",
        status=401,
        payload={"message": f"refresh token {secret} revoked", "refreshToken": secret},
        headers={"X-Request-Id": "req-9"},
    )
    async with AsyncTalkstack(token="t0", refresh_token=secret) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.auth.refresh(refresh_token=secret)
    copy = _round_trip(caught.value)
    assert (copy.status, copy.method, copy.path) == (401, "POST", "/auth/refresh-token")
    assert copy.headers["X-Request-Id"] == "req-9"
    assert secret not in repr(vars(copy)) + str(copy)


def test_a_dial_outcome_carrying_an_error_pickles() -> None:
    error = _example(talkstack_async.InternalServerError)
    outcome = DialOutcome(
        index=3, request="+14155550100", status=DialStatus.UNKNOWN, error=error, detail="x"
    )
    copy = _round_trip(outcome)
    assert copy.error is not None
    assert _state(copy.error) == _state(error)
    assert copy.status is DialStatus.UNKNOWN
