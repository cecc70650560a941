"""Bad input is a ValidationError naming the argument, raised before anything is sent."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from aioresponses import aioresponses
from hypothesis import event, given, settings
from hypothesis import strategies as st

from talkstack_async import AsyncTalkstack, ValidationError
from talkstack_async._validation import check_day, check_dynamic_variables, check_phone_number
from talkstack_async.campaigns._requests import check_call_request, request_digest
from tests.conftest import API_KEY, CALLS


@pytest.mark.parametrize("number", ["+14155550123", "+4915123456789", "+12345678"])
def test_e164_numbers_are_accepted(number: str) -> None:
    assert check_phone_number("number", number) == number


@pytest.mark.parametrize(
    "number",
    [
        "14155550123",
        "+1 415 555 0123",
        "+1-415-555-0123",
        "+0123456789",
        "+1234567",
        "+1" + "2" * 15,
        "",
        "+",
        "tel:+14155550123",
        "+14155550123\n",
        "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff12",  # full-width digits
    ],
)
def test_non_e164_numbers_are_rejected(number: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_phone_number("number", number)
    assert caught.value.argument == "number"
    assert "E.164" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2024, 1, 30), "2024-01-30"),
        (datetime(2024, 1, 30, 23, 30), "2024-01-30"),  # naive: taken as UTC
        (datetime(2024, 1, 30, 23, 30, tzinfo=timezone(timedelta(hours=-5))), "2024-01-31"),
        ("2024-01-30", "2024-01-30"),
    ],
)
def test_days_are_sent_as_utc_dates(value: object, expected: str) -> None:
    assert check_day("started_on", value) == expected


@pytest.mark.parametrize("value", ["2024-02-30", "30/01/2024", "2024-1-3", 20240130, "today"])
def test_bad_days_are_rejected(value: object) -> None:
    with pytest.raises(ValidationError, match="started_on"):
        check_day("started_on", value)


def _calls(client: AsyncTalkstack) -> dict[str, Any]:
    """One call of every public method with deliberately bad arguments."""
    return {
        "make: bad number": lambda: client.calls.make("555-0123", project_id="p", agent_id="a"),
        "make: empty project": lambda: client.calls.make(
            "+14155550123", project_id="", agent_id="a"
        ),
        "make: bad variables": lambda: client.calls.make(
            "+14155550123", project_id="p", agent_id="a", dynamic_variables={"x": object()}
        ),
        "get project: id with slash": lambda: client.projects.get("a b"),
        "get project: not a string": lambda: client.projects.get(42),
        "update: nothing to change": lambda: client.projects.update("p1"),
        "webhook: not a url": lambda: client.projects.set_webhook("p1", url="hooks.example.com"),
        "delete: cascade not bool": lambda: client.projects.delete("p1", cascade="yes"),
        "agent: bad phone": lambda: client.agents.create(
            project_id="p1", name="A", system_instruction="x", phone_number="12"
        ),
        "agent update: nothing": lambda: client.agents.update("a1", project_id="p1"),
        "analyze: selector without options": lambda: client.calls.analyze(
            "CA1", questions=[{"question": "Which?", "type": "Selector"}]
        ),
        "analyze: unknown type": lambda: client.calls.analyze(
            "CA1", questions=[{"question": "Which?", "type": "Essay"}]
        ),
        "analyze: no questions": lambda: client.calls.analyze("CA1", questions=[]),
        "batch: bad rows": lambda: client.calls.batch(
            [{"number": "+14155550123"}, {"number": "nope"}, {"numbr": "+1415"}],
            project_id="p",
            agent_id="a",
        ),
        "batch: csv without number column": lambda: client.calls.batch(
            b"phone\n+14155550123\n", project_id="p", agent_id="a"
        ),
        "batch: unknown file type": lambda: client.calls.batch(
            "numbers.txt", project_id="p", agent_id="a"
        ),
        "phone list: both keys": lambda: client.phone_numbers.list(agent_id="a", project_id="p"),
        "login: bad email": lambda: client.auth.login(email="not-an-email", password="x"),
        "signup: empty name": lambda: client.auth.signup(email="a@b.co", password="x", name=" "),
    }


async def test_every_bad_argument_is_rejected_before_any_request(mocked: aioresponses) -> None:
    async with AsyncTalkstack(api_key=API_KEY) as client:
        for name, call in _calls(client).items():
            with pytest.raises(ValidationError):
                await call()
            assert mocked.requests == {}, name


async def test_bad_history_filters_fail_on_first_iteration_before_any_request(
    mocked: aioresponses,
) -> None:
    async with AsyncTalkstack(api_key=API_KEY) as client:
        for kwargs in (
            {"page_size": 0},
            {"page_size": 1001},
            {"page_size": True},
            {"status": "answered"},
            {"to": "0123"},
            {"ended_before": "last week"},
        ):
            with pytest.raises(ValidationError):
                async for _ in client.calls.history(project_id="p1", **kwargs):
                    pass
    assert mocked.requests == {}


async def test_a_bad_batch_reports_every_bad_row(mocked: aioresponses) -> None:
    rows = [{"number": f"+1415555{i:04d}"} for i in range(10)]
    rows[2] = {"number": "bad"}
    rows[7] = {"number": "+14155550000", "dynamic_variables": ["not", "a", "mapping"]}
    async with AsyncTalkstack(api_key=API_KEY) as client:
        with pytest.raises(ValidationError) as caught:
            await client.calls.batch(rows, project_id="p", agent_id="a")
    message = str(caught.value)
    assert "2 invalid row(s)" in message
    assert "source[2].number" in message
    assert "source[7].dynamic_variables" in message


_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=300),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(number=_anything, project_id=_anything, variables=_anything)
async def test_make_call_with_arbitrary_input_only_raises_validation_errors(
    number: Any, project_id: Any, variables: Any
) -> None:
    with aioresponses() as mocked:
        mocked.post(f"{CALLS}/call/makeCall", payload={"call": {"call_id": "CA1"}}, repeat=True)
        async with AsyncTalkstack(api_key=API_KEY) as client:
            try:
                await client.calls.make(
                    number, project_id=project_id, agent_id="a1", dynamic_variables=variables
                )
                accepted = True
            except ValidationError:
                accepted = False
        assert accepted == bool(mocked.requests)
    if accepted:
        assert isinstance(number, str)
        assert re.fullmatch(r"\+[1-9][0-9]{7,14}", number)
        assert isinstance(project_id, str)
        assert project_id.strip()


def test_a_naive_token_expiry_is_a_validation_error_before_anything_is_sent() -> None:
    with pytest.raises(ValidationError, match="token_expires_at: must be a timezone-aware"):
        AsyncTalkstack(token="t", refresh_token="r", token_expires_at=datetime(2030, 1, 1))
    with pytest.raises(ValidationError, match="token_expires_at"):
        AsyncTalkstack(token="t", token_expires_at="2030-01-01")  # type: ignore[arg-type]
    aware = datetime(2030, 1, 1, tzinfo=timezone.utc)
    AsyncTalkstack(token="t", token_expires_at=aware)  # fine


@pytest.mark.parametrize("bad", [".", "..", "..."])
async def test_an_id_made_of_dots_is_refused_before_it_reaches_a_path(
    mocked: aioresponses, bad: str
) -> None:
    async with AsyncTalkstack(api_key=API_KEY) as client:
        with pytest.raises(ValidationError, match="is not an id"):
            await client.projects.get(bad)
        with pytest.raises(ValidationError, match="is not an id"):
            await client.voices.get(bad)
        with pytest.raises(ValidationError, match="is not an id"):
            await client.agents.list(project_id=bad)
    assert not mocked.requests


async def test_debug_logs_mask_phone_numbers_and_variables_unless_asked(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    caplog.set_level(logging.DEBUG, logger="talkstack")
    answer = {"call": {"call_id": "CA1", "to": "+14155550123", "from": "+18005550199"}}
    mocked.post(f"{CALLS}/call/makeCall", payload=answer, repeat=True)
    async with AsyncTalkstack(api_key=API_KEY) as client:
        await client.calls.make(
            "+14155550123", project_id="p", agent_id="a", dynamic_variables={"name": "Jo Smith"}
        )
        logged = caplog.text
        assert "+14155550123" not in logged
        assert "+18005550199" not in logged
        assert "Jo Smith" not in logged
        assert "[PERSONAL]" in logged
        assert "CA1" in logged  # the rest is still there to debug with
        caplog.clear()
        monkeypatch.setenv("TALKSTACK_LOG_PERSONAL_DATA", "1")
        await client.calls.make(
            "+14155550123", project_id="p", agent_id="a", dynamic_variables={"name": "Jo Smith"}
        )
    assert "+14155550123" in caplog.text
    assert "Jo Smith" in caplog.text


@pytest.mark.parametrize(
    ("variables", "argument", "problem"),
    [
        ({"a": {1: "x", "b": "y"}}, "dynamic_variables.a", "has a key 1 that is not a string"),
        ({"a": [0, {"b c": {None: 1}}]}, "dynamic_variables.a[1]['b c']", "has a key None"),
        ({"a": {(1, 2): 0}}, "dynamic_variables.a", "has a key (1, 2) that is not a string"),
        ({"a": {"b": [1.0, math.nan]}}, "dynamic_variables.a.b[1]", "finite number, not nan"),
        ({"a": (1, -math.inf)}, "dynamic_variables.a[1]", "finite number, not -inf"),
        ({"a": {"b": {1, 2}}}, "dynamic_variables.a.b", "not set"),
        ({"a": [b"x"]}, "dynamic_variables.a[0]", "not bytes"),
        ({"a": {"b": "\ud800"}}, "dynamic_variables.a.b", "not valid Unicode"),
        ({"a": {"\udfff": 1}}, "dynamic_variables.a", "not valid Unicode"),
        ({1: "x"}, "dynamic_variables", "keys must be non-empty strings, not 1"),
        ({"": "x"}, "dynamic_variables", "keys must be non-empty strings"),
    ],
)
def test_variables_that_are_not_json_are_refused_at_the_path_that_is_not(
    variables: dict[Any, Any], argument: str, problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        check_dynamic_variables("dynamic_variables", variables)
    assert caught.value.argument == argument
    assert problem in caught.value.problem


def test_a_cycle_or_a_deep_nest_is_refused_not_a_recursion_error() -> None:
    looped: dict[str, Any] = {"a": []}
    looped["a"].append(looped)
    with pytest.raises(ValidationError, match="a cycle"):
        check_dynamic_variables("dynamic_variables", looped)
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(5000):
        inner["n"] = {}
        inner = inner["n"]
    with pytest.raises(ValidationError, match="nests deeper than"):
        check_dynamic_variables("dynamic_variables", deep)


def test_nested_json_is_accepted_as_given() -> None:
    variables = {"name": "Zo\u00eb", "slots": ("9am", "2pm"), "info": {"": [1, 2.5, None, True]}}
    assert check_dynamic_variables("dynamic_variables", variables) == variables


async def test_make_refuses_a_nested_non_string_key_before_any_request(
    mocked: aioresponses,
) -> None:
    async with AsyncTalkstack(api_key=API_KEY) as client:
        with pytest.raises(ValidationError) as caught:
            await client.calls.make(
                "+14155550123",
                project_id="p",
                agent_id="a",
                dynamic_variables={"a": {1: "x", "b": "y"}},
            )
    assert caught.value.argument == "dynamic_variables.a"
    assert "has a key 1 that is not a string" in str(caught.value)
    assert not mocked.requests


# JSON-like values, half of them with what JSON cannot carry mixed in: keys that are not
# strings, NaN and infinities, lone surrogates, sets and bytes. Tuples JSON writes as lists.
_surrogates = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=4)
_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)  # fmt: skip
_odd_scalars = st.one_of(st.floats(), _surrogates, st.binary(max_size=3))
_odd_keys = st.one_of(st.integers(-2, 2), st.none(), st.booleans(), st.floats(), st.tuples())


def _json_like(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[Any]) -> Any:
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.lists(inner, max_size=3).map(tuple),
            st.dictionaries(keys, inner, max_size=3),
        ),
        max_leaves=10,
    )
    return st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=4)


_variables = st.one_of(
    _json_like(_json_scalars, st.text(max_size=4)),
    _json_like(
        st.one_of(_json_scalars, _odd_scalars, st.sets(st.integers(), max_size=2)),
        st.one_of(st.text(max_size=4), _surrogates, _odd_keys),
    ),
    st.dictionaries(st.one_of(st.text(max_size=3), _odd_keys), _json_scalars, max_size=3),
)


def _is_json(value: object) -> bool:
    """What JSON carries, independently of the SDK's check: str keys, finite numbers, text
    that is Unicode, lists (tuples) and objects."""
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return all(not 0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, (list, tuple)):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(k) and _is_json(v) for k, v in value.items())
    return False


def test_what_the_check_passes_always_digests_and_it_refuses_only_what_json_cannot_carry() -> None:
    branches: Counter[str] = Counter()

    @settings(max_examples=500, deadline=None)
    @given(variables=_variables)
    def check(variables: dict[Any, Any]) -> None:
        expected = all(isinstance(k, str) and k for k in variables) and _is_json(variables)
        refusal: ValidationError | None = None
        try:
            checked = check_dynamic_variables("dynamic_variables", variables)
        except ValidationError as exc:
            refusal = exc
        if refusal is not None:
            assert refusal.argument.startswith("dynamic_variables")
            assert not expected, refusal
            event("refused by the check")
            branches["refused"] += 1
            return
        assert expected
        row = {"number": "+14155550123", "dynamic_variables": variables}
        request = check_call_request("requests[0]", row, project_id="p", agent_id="a")
        assert request.dynamic_variables == checked
        assert len(request_digest(request)) == 16
        event("digested")
        branches["digested"] += 1

    check()
    assert branches["refused"] >= 20, branches
    assert branches["digested"] >= 20, branches
