"""Any argument to any public method: accepted and sent, or a ValidationError before any request.

Each example starts from the operation's valid arguments and swaps some of them for something
else: another type, empty, whitespace, a megabyte, unicode, control characters, a number that
is not E.164, an impossible date. A ValidationError must come before anything is sent; nothing
else may escape (an accepted call may still fail with the mocked server's typed 400).
"""

from __future__ import annotations

import contextlib
import inspect
import re
from types import NoneType
from typing import Any

import pytest
from aioresponses import aioresponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from talkstack_async import (
    APIError,
    AsyncTalkstack,
    CallRequest,
    DialStatus,
    ValidationError,
    WebhookPayloadError,
    parse_call_status_event,
)
from tests.robustness.operations import (
    OPERATIONS,
    Arguments,
    Ids,
    invoke,
    method_of,
    offline_client,
    public_methods,
)

ANY_URL = re.compile(r"^https://.*$")


class _Megabyte(str):
    """A megabyte of text that hypothesis can report without printing it."""

    def __repr__(self) -> str:
        return "<a megabyte of 'x'>"


_strings = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\t\n", "\x00", "p1 p2", "a/b", "../x", "%2F", "☎️📞", "\u202e"]),
    st.sampled_from(["555-0123", "+0123456789", "+1", "14155550123", "+1415555012345678"]),
    st.sampled_from(["2024-02-30", "30/01/2024", "today", "2024-13-01", "9999-99-99"]),
    st.sampled_from(["hooks.example.com", "ftp://x", "http://", "not an email", "a@b"]),
    st.just(_Megabyte("x" * 1_000_000)),
)
_other_types = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=20),
    st.lists(st.integers() | st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers() | st.none(), max_size=3),
    st.dates(),
    st.builds(object),
)
_junk = st.one_of(_strings, _other_types)
_rows = st.lists(
    st.one_of(
        _junk,
        st.dictionaries(st.sampled_from(["number", "numbr", "dynamic_variables", "key"]), _junk),
        st.builds(
            CallRequest,
            number=_junk,
            project_id=_junk,
            agent_id=_junk,
            dynamic_variables=_junk,
            key=_junk,
        ),
    ),
    max_size=4,
)
_questions = st.lists(
    st.one_of(
        _junk,
        st.fixed_dictionaries(
            {"question": _junk, "type": _junk | st.sampled_from(["Boolean", "Selector"])},
            optional={"options": _junk},
        ),
    ),
    max_size=3,
)
_JUNK_BY_PARAMETER = {
    "requests": st.one_of(_junk, _rows),
    "source": st.one_of(_junk, _rows),
    "questions": st.one_of(_junk, _questions),
    "dynamic_variables": st.one_of(
        _junk, st.dictionaries(st.text(max_size=5) | st.integers() | st.none(), _junk, max_size=3)
    ),
    # Strings here are paths: junk ones would write files wherever the tests run.
    "journal": _other_types,
}


@st.composite
def mangled(draw: st.DrawFn, operation: str, method: Any) -> Arguments:
    """The operation's valid arguments, each one kept or swapped for junk."""
    valid = OPERATIONS[operation](Ids()).bound(method)
    chosen: dict[str, Any] = {}
    for name, value in valid.items():
        junk = _JUNK_BY_PARAMETER.get(name, _junk)
        chosen[name] = draw(st.one_of(st.just(value), junk), label=name)
    # Per-call options (every method takes them), junk or not.
    options = _per_call_options(method)
    for name in draw(st.lists(st.sampled_from(sorted(options)), max_size=2, unique=True)):
        chosen[name] = draw(options[name], label=name)
    return Arguments((), chosen)


_HEADERS_JUNK = st.dictionaries(
    st.text(max_size=8) | st.sampled_from(["X-Ok", "Bad Name", "Content-Length"]) | st.integers(),
    st.text(max_size=8) | st.sampled_from(["a\r\nX-Injected: 1", "ok"]) | _other_types,
    max_size=2,
)
_OPTIONS_JUNK = {
    "extra_headers": st.one_of(_junk, _HEADERS_JUNK),
    "extra_query": st.one_of(
        _junk, st.dictionaries(st.text(max_size=5) | st.integers() | st.none(), _junk, max_size=2)
    ),
    "extra_body": st.one_of(
        _junk, st.dictionaries(st.text(max_size=5) | st.integers() | st.none(), _junk, max_size=2)
    ),
    "timeout": st.one_of(_junk, st.floats(min_value=0.5, max_value=5)),
}


def _per_call_options(method: Any) -> dict[str, st.SearchStrategy[Any]]:
    for parameter in inspect.signature(method).parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            if "ExtraOptions" in str(parameter.annotation):
                return {k: v for k, v in _OPTIONS_JUNK.items() if k != "timeout"}
            return _OPTIONS_JUNK
    return {}


def _check_dial_outcomes(outcomes: list[Any]) -> None:
    for outcome in outcomes:
        if outcome.status is DialStatus.FAILED and not isinstance(outcome.error, APIError):
            assert isinstance(outcome.error, ValidationError), outcome


@pytest.mark.parametrize("operation", list(OPERATIONS))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(data=st.data())
async def test_bad_arguments_fail_with_validation_error_before_any_request(
    operation: str, data: st.DataObject
) -> None:
    with aioresponses() as mocked:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            mocked.add(ANY_URL, method, status=400, payload={"message": "rejected"}, repeat=True)
        async with offline_client(operation) as client:
            arguments = data.draw(mangled(operation, method_of(client, operation)))
            try:
                result = await invoke(client, operation, arguments)
            except ValidationError:
                assert not mocked.requests, "a ValidationError came after a request was sent"
                return
            except APIError:
                assert mocked.requests
                return
    if operation == "calls.dial_many":
        _check_dial_outcomes(result)


def test_every_public_method_is_exercised() -> None:
    assert set(OPERATIONS) == public_methods()


_CLIENT_OPTIONS = {
    "api_key": "k" * 32,
    "base_url": "https://api.example.com",
    "calls_base_url": "https://calls.example.com",
    "timeout": 10.0,
    "max_retries": 2,
    "max_connections": 10,
    "default_headers": {"X-Team": "dialers"},
    "allow_insecure_http": False,
}


_OPTION_JUNK = {
    "default_headers": st.one_of(
        _junk,
        st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["X-Ok", "Bad Name", "X:y"]),
            st.text(max_size=8) | st.sampled_from(["a\r\nX-Injected: 1", "\n"]) | _other_types,
            max_size=2,
        ),
    ),
}


@settings(max_examples=300, deadline=None)
@given(data=st.data())
async def test_client_options_are_checked_when_the_client_is_built(data: st.DataObject) -> None:
    options = {
        name: data.draw(st.one_of(st.just(value), _OPTION_JUNK.get(name, _junk)), label=name)
        for name, value in _CLIENT_OPTIONS.items()
    }
    try:
        client = AsyncTalkstack(**options)
    except ValidationError:
        return
    async with client:
        copy_options = {
            "timeout": data.draw(st.one_of(st.just(5.0), _junk), label="with_options timeout"),
            "max_retries": data.draw(st.one_of(st.just(1), _junk), label="with_options retries"),
        }
        with contextlib.suppress(ValidationError):
            client.with_options(**copy_options)


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.binary(max_size=200), _strings, _other_types), content_type=_junk)
def test_webhook_payloads_are_parsed_or_refused_with_webhook_payload_error(
    body: Any, content_type: Any
) -> None:
    wrong_type = not isinstance(body, (bytes, str, dict)) or not isinstance(
        content_type, (str, NoneType)
    )
    if wrong_type:  # a caller's bug, said plainly
        with pytest.raises(TypeError, match=r"^(body|content_type) must be"):
            parse_call_status_event(body, content_type=content_type)
        return
    try:
        event = parse_call_status_event(body, content_type=content_type)
    except WebhookPayloadError:
        return
    assert isinstance(event.sid, str)
    assert event.sid
