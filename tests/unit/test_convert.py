"""The converter: wire names, several spellings, dates, open enums, unknown fields kept."""

from __future__ import annotations

import pickle
import weakref
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkstack_async import Agent, Call, CallStatus, LoginStatus, Project, TokenSet
from talkstack_async._convert import (
    StructureError,
    _builder,
    _compile,
    _construct_lines,
    _model_hook,
    _read_datetime,
    converter,
    parse_datetime,
    structure,
)
from talkstack_async.models._base import WIRE_NAMES, Model, extra_field


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-11T17:49:38.925Z", datetime(2025, 3, 11, 17, 49, 38, 925000, timezone.utc)),
        ("2025-03-11T17:49:38+02:00", datetime(2025, 3, 11, 15, 49, 38, tzinfo=timezone.utc)),
        ("2025-03-11T17:49:38", datetime(2025, 3, 11, 17, 49, 38, tzinfo=timezone.utc)),
        ("Tue, 30 Jan 2024 13:39:53 +0000", datetime(2024, 1, 30, 13, 39, 53, tzinfo=timezone.utc)),
        ("Tue, 30 Jan 2024 13:39:53 -0130", datetime(2024, 1, 30, 15, 9, 53, tzinfo=timezone.utc)),
        ("30 Jan 2024 13:39:53 GMT", datetime(2024, 1, 30, 13, 39, 53, tzinfo=timezone.utc)),
        ("Tue, 30 Jan 2024 13:39:53 EST", datetime(2024, 1, 30, 18, 39, 53, tzinfo=timezone.utc)),
        (1706621993, datetime(2024, 1, 30, 13, 39, 53, tzinfo=timezone.utc)),
    ],
)
def test_datetimes_in_every_documented_form_parse_to_aware_utc(
    text: object, expected: datetime
) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


@pytest.mark.parametrize("text", ["yesterday", "", "2025-13-45T00:00:00Z", True, [1]])
def test_unparseable_datetimes_are_structure_errors(text: object) -> None:
    with pytest.raises(StructureError):
        parse_datetime(text)


def test_unknown_fields_are_kept_in_extra_under_the_api_names() -> None:
    call = structure({"callSid": "CA1", "status": "completed", "shiftId": 9}, Call)
    assert call.extra == {"shiftId": 9}
    assert structure({"callSid": "CA1"}, Call).extra == {}


def test_unknown_enum_values_are_kept_and_not_final() -> None:
    call = structure({"callSid": "CA1", "status": "transferred"}, Call)
    assert call.status == "transferred"
    assert isinstance(call.status, CallStatus)
    assert not call.status.is_known
    assert not call.status.is_final
    assert LoginStatus(42) == 42
    assert LoginStatus(42).name == "UNKNOWN_42"


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("queued", False),
        ("initiated", False),
        ("ringing", False),
        ("in-progress", False),
        ("completed", True),
        ("busy", True),
        ("failed", True),
        ("no-answer", True),
        ("voicemail", True),
        ("silence", True),
    ],
)
def test_call_statuses_know_which_are_final(status: str, final: bool) -> None:
    assert CallStatus(status).is_final is final
    assert CallStatus(status).is_known


def test_each_alternative_spelling_is_read() -> None:
    assert structure({"token": "t", "resfreshToken": "r"}, TokenSet).refresh_token == "r"
    assert structure({"token": "t", "refreshToken": "r"}, TokenSet).refresh_token == "r"
    assert structure({"agentId": "a1", "name": "Ava"}, Agent).id == "a1"


def test_nullable_timestamps_and_absent_fields_become_none() -> None:
    project = structure({"id": "p1", "created_at": None}, Project)
    assert project.created_at is None
    assert project.updated_at is None
    assert project.is_deleted is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x"}, "missing 'id'"),
        ({"id": None}, "Project.id"),
        ({"id": "p1", "name": {"a": 1}}, "Project.name"),
        ({"id": "p1", "created_at": "soon"}, "Project.created_at"),
        ({"id": "p1", "is_deleted": "maybe"}, "Project.is_deleted"),
        (["not", "an", "object"], "expected an object"),
    ],
)
def test_values_that_do_not_fit_are_structure_errors_naming_the_field(
    data: object, message: str
) -> None:
    with pytest.raises(StructureError, match=message):
        structure(data, Project)


def test_models_unstructure_to_plain_python_names() -> None:
    call = structure({"callSid": "CA1", "date": "Tue, 30 Jan 2024 13:39:53 +0000"}, Call)
    plain = converter.unstructure(call)
    assert plain["sid"] == "CA1"
    assert plain["date"] == "2024-01-30T13:39:53+00:00"


def test_models_are_frozen() -> None:
    project = structure({"id": "p1"}, Project)
    with pytest.raises(AttributeError):
        project.name = "x"  # type: ignore[misc]


def test_call_dates_keep_their_instant() -> None:
    call = structure({"date": "Tue, 30 Jan 2024 13:39:53 +0100"}, Call)
    assert call.date is not None
    assert call.date.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sat, 31 May 2025 23:59:00 +0000", datetime(2025, 5, 31, 23, 59, tzinfo=timezone.utc)),
        ("Tue, 30 Jan 2024 13:39:53 -0500", datetime(2024, 1, 30, 18, 39, 53, tzinfo=timezone.utc)),
        ("30 Jan 2024 13:39:53 GMT", datetime(2024, 1, 30, 13, 39, 53, tzinfo=timezone.utc)),
        ("Tue, 30 jan 2024 13:39:53 +0000", datetime(2024, 1, 30, 13, 39, 53, tzinfo=timezone.utc)),
    ],
)
def test_rfc_2822_fast_path_and_its_fallbacks_agree(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["Fri, 30 Feb 2024 13:39:53 +0000", "Tue, 30 Jan 2024 25:39:53 +0000"]
)
def test_impossible_rfc_2822_dates_are_structure_errors(text: str) -> None:
    with pytest.raises(StructureError):
        parse_datetime(text)


def test_generated_construction_equals_the_attrs_constructor() -> None:
    wire = {"callSid": "CA1", "status": "busy", "to": "+14155550123", "from": "+14155550100",
            "date": "Tue, 30 Jan 2024 13:39:53 +0000", "seconds": 12, "cost": 0.5,
            "recordingUrls": ["https://r/1"], "phoneNumber": "+14155550100",
            "data": {"ok": True}, "partnerId": "p"}  # fmt: skip
    built = structure(wire, Call)
    expected = Call(
        sid="CA1", status=CallStatus.BUSY, to="+14155550123", from_="+14155550100",
        date=datetime(2024, 1, 30, 13, 39, 53, tzinfo=timezone.utc), duration_seconds=12.0,
        cost=0.5, recording_urls=("https://r/1",), phone_number="+14155550100",
        data={"ok": True}, extra={"partnerId": "p"},
    )  # fmt: skip
    assert built == expected
    assert built.extra == expected.extra
    assert type(built.duration_seconds) is float
    assert structure({}, Call) == Call()  # every default, factories called afresh
    assert structure({}, Call).data is not structure({}, Call).data


def _models() -> list[type[Model]]:
    """The SDK's models (not the readers' unfrozen twins, nor models that tests define)."""
    found: list[type[Model]] = []
    pending = list(Model.__subclasses__())
    while pending:
        cls = pending.pop()
        if attrs.has(cls) and cls.__module__.startswith("talkstack_async.models"):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__qualname__)


@pytest.mark.parametrize("cls", _models())
def test_models_built_through_their_unfrozen_twin_are_ordinary_frozen_models(
    cls: type[Model],
) -> None:
    """The readers fill an unfrozen twin and then give it the model's class: what comes out
    must be indistinguishable from an instance made by the attrs constructor."""
    assert _builder(cls) is not None, "a plain model should take the fast construction"
    defaults = {f.name: f"{f.name}-value" for f in attrs.fields(cls) if f.name != "extra"}
    constructed = cls(**defaults, extra={"k": 1})  # type: ignore[call-arg]
    values = {name: repr(value) for name, value in defaults.items()} | {"extra": "{'k': 1}"}
    lines = ["def structure_model():", *_construct_lines(cls, values, _builder(cls))]
    namespace = {"new": object.__new__, "cls": cls, "builder": _builder(cls)}
    built = _compile(lines, namespace, cls.__name__)()
    assert type(built) is cls
    assert built == constructed
    assert hash(built) == hash(constructed)
    assert repr(built) == repr(constructed)
    assert attrs.asdict(built) == attrs.asdict(constructed)
    assert pickle.loads(pickle.dumps(built)) == constructed  # noqa: S301 (our own bytes)
    assert attrs.evolve(built, extra={}) == attrs.evolve(constructed, extra={})
    assert not hasattr(built, "__dict__")
    weakref.ref(built)
    first = attrs.fields(cls)[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(built, first, "changed")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        delattr(built, first)


def test_models_with_validators_are_built_by_their_constructor() -> None:
    @attrs.frozen
    class Checked(Model):
        id: str = attrs.field(metadata={WIRE_NAMES: ("id",)}, validator=attrs.validators.min_len(2))
        extra: Mapping[str, Any] = extra_field()

    assert _builder(Checked) is None
    hook = _model_hook(Checked)
    assert hook({"id": "ab"}, Checked) == Checked(id="ab")
    with pytest.raises(StructureError, match="Checked"):
        hook({"id": "a"}, Checked)
    with pytest.raises(StructureError, match="Checked"):
        hook(MappingProxyType({"id": "a"}), Checked)


def test_falsy_enum_members_and_bad_containers() -> None:
    from talkstack_async import LoginResult

    assert structure({"token": "t", "loginStatus": 0}, LoginResult).status is LoginStatus(0)
    for bad in ({"data": []}, {"data": {1: "x"}}, {"recordingUrls": [1]}, {"status": ["x"]}):
        with pytest.raises(StructureError):
            structure(bad, Call)


_moments = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 31),
    timezones=st.just(timezone.utc),
)


@given(
    text=st.one_of(
        _moments.map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S +0000")),
        _moments.map(lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "Z")),
        st.text(max_size=32),
        st.text(alphabet="0123456789-:TZ. +,JanFebMonTue", min_size=24, max_size=31),
    )
)
def test_model_date_fields_read_exactly_what_parse_datetime_reads(text: str) -> None:
    try:
        expected: object = parse_datetime(text)
    except StructureError:
        expected = StructureError
    try:
        got: object = _read_datetime(text)
    except StructureError:
        got = StructureError
    assert got == expected


def _wire_names(cls: type[Model]) -> list[str]:
    return [name for f in attrs.fields(cls) for name in f.metadata.get(WIRE_NAMES, ())]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@given(data=st.data())
def test_reading_by_key_order_agrees_with_reading_by_name(data: st.DataObject) -> None:
    """A dict is read by a reader generated for its key order; any other mapping by name.

    Both must give the same model (``extra`` included) or the same error, whatever the
    keys, their order, duplicates of a field under several spellings, or the values.
    """
    cls = data.draw(st.sampled_from(_models()))
    keys = data.draw(st.lists(st.sampled_from(_wire_names(cls)) | st.text(max_size=6), unique=True))
    wire = {key: data.draw(_json_values) for key in keys}

    hook = _model_hook(cls)  # a fresh one: the first dict of a key order gets its reader

    def read(source: Mapping[str, Any]) -> object:
        try:
            model = hook(source, cls)
        except StructureError as exc:
            return str(exc)
        return model, model.extra  # type: ignore[attr-defined]

    assert read(wire) == read(MappingProxyType(wire))
