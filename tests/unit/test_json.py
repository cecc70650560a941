"""Response decoding: orjson's speed, the stdlib's verdict where they disagree."""

from __future__ import annotations

import math

import pytest

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
