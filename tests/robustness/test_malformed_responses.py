"""Whatever the server answers, every method returns typed data or raises a typed API error.

Bodies start from what the emulator really sent for each operation (the live tour) and are
then broken: fields dropped, values swapped for other JSON, truncated, replaced by HTML or by
nothing, under any status. An AttributeError, KeyError or TypeError escaping is a bug.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from datetime import datetime
from typing import Any

import attrs
import pytest
from aioresponses import CallbackResult, aioresponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from talkstack_async import (
    APIError,
    CallWaitTimeoutError,
    DialOutcome,
    DialStatus,
    PaginationError,
    TalkstackError,
)
from tests.robustness.operations import OPERATIONS, Arguments, Ids, invoke, offline_client
from tests.robustness.tour import WireSamples

ANY_URL = re.compile(r"^https://.*$")
STATUSES = (200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503)
HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


def _break(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one thing wrong somewhere inside it: a field gone or of another shape."""
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["drop", "swap", "descend", "descend"]))
        broken = dict(value)
        if action == "drop":
            del broken[key]
        else:
            broken[key] = draw(json_values) if action == "swap" else _break(draw, value[key])
        return broken
    if isinstance(value, list) and value:
        index = draw(st.integers(0, len(value) - 1))
        broken_list = list(value)
        broken_list[index] = _break(draw, value[index])
        return broken_list
    return draw(json_values)


@st.composite
def responses(draw: st.DrawFn, sample: tuple[int, Any]) -> tuple[int, bytes]:
    status, body = sample
    kinds = ["broken", "broken", "broken", "truncated", "html", "empty", "any"]
    kind = draw(st.sampled_from(kinds))
    if kind != "broken":
        status = draw(st.sampled_from(STATUSES))
    if kind == "broken":
        for _ in range(draw(st.integers(1, 3))):
            body = _break(draw, body)
        return status, json.dumps(body).encode()
    if kind == "truncated":
        text = json.dumps(sample[1]).encode()
        return status, text[: draw(st.integers(0, max(len(text) - 1, 0)))]
    if kind == "html":
        return status, HTML
    if kind == "empty":
        return status, b""
    return status, json.dumps(draw(json_values)).encode()


_SIMPLE = (str, float, bool, int, datetime)


def _simple_types(annotation: Any) -> tuple[type, ...] | None:
    """The types a value of ``annotation`` may have, if it is built of simple ones only."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    allowed = tuple(
        m
        for m in members
        if m in _SIMPLE or m is type(None) or (isinstance(m, type) and issubclass(m, enum.Enum))
    )
    return allowed if len(allowed) == len(members) else None


def _typed(value: Any) -> None:
    """Model fields hold what their annotations promise (no dict where a str belongs)."""
    if isinstance(value, (list, tuple)):
        for item in value:
            _typed(item)
        return
    if not attrs.has(type(value)):
        return
    for field in attrs.fields(attrs.resolve_types(type(value))):
        held = getattr(value, field.name)
        allowed = _simple_types(field.type)
        if allowed is not None:
            assert isinstance(held, allowed), f"{type(value).__name__}.{field.name}: {held!r}"
        _typed(held)


def _expected_failure(operation: str, error: BaseException) -> bool:
    if isinstance(error, APIError):
        return True
    if operation.startswith("calls.history"):  # e.g. the same page again for the next one
        return isinstance(error, PaginationError)
    return operation == "calls.wait_until_finished" and isinstance(error, CallWaitTimeoutError)


def _check_outcomes(outcomes: list[DialOutcome]) -> None:
    for outcome in outcomes:
        if outcome.status is DialStatus.PLACED:
            assert outcome.call is not None
            assert outcome.call.sid
        else:
            assert isinstance(outcome.error, APIError), outcome


def _arguments(operation: str) -> Arguments:
    arguments = OPERATIONS[operation](Ids())
    if operation == "calls.wait_until_finished":  # a non-final status polls until the timeout
        arguments = Arguments(arguments.args, {**arguments.kwargs, "timeout": 0.05})
    return arguments


@pytest.mark.parametrize("operation", list(OPERATIONS))
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_any_response_gives_typed_data_or_a_typed_error(
    operation: str, wire_samples: WireSamples, data: st.DataObject
) -> None:
    status, body = data.draw(responses(wire_samples[operation][-1]), label="response")

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        return CallbackResult(status=status, body=body, content_type="application/json")

    with aioresponses() as mocked:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            mocked.add(ANY_URL, method, callback=answer, repeat=True)
        async with offline_client(operation) as client:
            try:
                result = await invoke(client, operation, _arguments(operation))
            except TalkstackError as error:
                failure: TalkstackError | None = error
            else:
                failure = None
    if failure is not None:
        assert _expected_failure(operation, failure), repr(failure)
        return
    if operation == "calls.dial_many":
        _check_outcomes(result)
    _typed(result)
