"""Bad input is a ValidationError naming the argument, raised before anything is sent."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st

from talkstack_async import AsyncTalkstack, ValidationError
from talkstack_async._validation import check_day, check_phone_number
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
