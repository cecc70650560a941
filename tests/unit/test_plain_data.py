"""Models to plain data and back (to_dict / to_json / from_dict), in both spellings, for every
model the SDK returns: what goes into a JSON log, a cache or a task queue comes back equal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkstack_async import Agent, Call, LoginResult, PlacedCall, Project, TokenSet
from talkstack_async._convert import converter

CALL = {
    "callSid": "CA1", "status": "no-answer", "to": "+14155550123", "from": "+18005550199",
    "date": "Tue, 30 Jan 2024 13:39:53 +0000", "seconds": 12.5, "cost": 0.02,
    "recordingUrls": ["https://r/1"], "data": {"slot": ["9am"]}, "partnerId": "p9",
}  # fmt: skip
LOGIN = {
    "token": "t" * 20, "refreshToken": "r" * 20, "expirationTime": "2030-01-01T00:00:00.000Z",
    "user": {"email": "a@b.c", "name": "Ada", "created_at": "2024-05-01T10:00:00.000Z",
             "plan": "pro"},
    "loginStatus": 7,
}  # fmt: skip


@pytest.mark.parametrize(
    ("cls", "wire"),
    [
        (Call, CALL),
        (PlacedCall, {"call_id": "CA2", "to": "+1", "from": "+2"}),
        (LoginResult, LOGIN),
        (Agent, {"id": "a1", "name": "Ava", "projectId": "p1", "voice_id": "v1", "x": 1}),
        (Project, {"id": "p1", "name": "Clinic", "description": "d", "created_at": None}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
@pytest.mark.parametrize("wire_names", [False, True])
def test_a_model_round_trips_through_json(
    cls: type, wire: dict[str, Any], wire_names: bool
) -> None:
    model = converter.structure(wire, cls)
    text = model.to_json(wire_names=wire_names)
    again = cls.from_dict(json.loads(text))
    assert again == model
    if wire_names:
        assert converter.structure(json.loads(text), cls) == model  # what the reader reads


def test_python_names_keep_extra_as_one_object_and_dates_as_iso() -> None:
    call = converter.structure(CALL, Call)
    plain = call.to_dict()
    assert plain["extra"] == {"partnerId": "p9"}
    assert plain["date"] == "2024-01-30T13:39:53Z"
    assert plain["status"] == "no-answer"
    assert plain["recording_urls"] == ["https://r/1"]
    wire = call.to_dict(wire_names=True)
    assert wire["partnerId"] == "p9"
    assert wire["callSid"] == "CA1"
    assert "extra" not in wire


def test_nested_models_round_trip_in_python_names() -> None:
    result = converter.structure(LOGIN, LoginResult)
    plain = result.to_dict()
    assert plain["user"]["name"] == "Ada"
    assert plain["user"]["extra"] == {"plan": "pro"}
    assert LoginResult.from_dict(plain) == result
    assert TokenSet.from_dict(result.tokens.to_dict()) == result.tokens


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {"callSid": st.text(min_size=1, max_size=8)},
        optional={
            "status": st.sampled_from(["queued", "completed", "brand-new"]),
            "seconds": st.floats(0, 1e6, allow_nan=False),
            "to": st.text(max_size=12),
            "recordingUrls": st.lists(st.text(max_size=5), max_size=3),
            "data": st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
            "someNewField": st.integers(),
        },
    )
)
def test_any_call_round_trips(wire: dict[str, Any]) -> None:
    call = converter.structure(wire, Call)
    assert Call.from_dict(json.loads(call.to_json())) == call
    assert Call.from_dict(json.loads(call.to_json(wire_names=True))) == call
