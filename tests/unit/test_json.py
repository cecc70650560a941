"""Response decoding: orjson's speed, the stdlib's verdict where they disagree."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkstack_async import _json


def test_the_fast_decoder_is_used_when_installed() -> None:
    pytest.importorskip("orjson")
    assert _json.FAST_JSON


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": [1, 2.5, "x", null, true]}', {"a": [1, 2.5, "x", None, True]}),
        (b'{"u64": 18446744073709551615}', {"u64": 18446744073709551615}),
        (b'"\\u00e9t\\u00e9"', "été"),
    ],
)
def test_values_decode_as_the_stdlib_decodes_them(raw: bytes, expected: object) -> None:
    assert _json.loads(raw) == expected


def test_what_only_the_stdlib_accepts_still_decodes() -> None:
    assert math.isnan(_json.loads(b'{"cost": NaN}')["cost"])
    assert _json.loads(b"[1e400, -Infinity]") == [math.inf, -math.inf]


@pytest.mark.parametrize("raw", [b"<html>", b'{"a": 1', b"\xff\xfe{}", b""])
def test_what_is_not_json_raises_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the contract is the base class
        _json.loads(raw)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_records = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), _records, max_size=8))
def test_a_journal_line_reads_back_as_the_stdlib_writes_it(record: dict[str, object]) -> None:
    """``dumps_line`` (orjson where installed) against the plain way: one line, the same value
    read back, the stdlib's bytes where orjson refuses (integers beyond 64 bits)."""
    line = _json.dumps_line(record)
    plain = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert json.loads(line) == json.loads(plain) == record
