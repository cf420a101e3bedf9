"""ops.foundation.json_codec reads and writes exactly what the stdlib json module does."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.foundation import json_codec

VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_reads_what_the_stdlib_reads(value: Any) -> None:
    text = json.dumps(value)
    for data in (text, text.encode()):
        read = json_codec.loads(data)
        assert read == json.loads(data)
        assert type(read) is type(json.loads(data))


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_writes_what_reads_back_the_same(value: Any) -> None:
    assert json.loads(json_codec.dumps(value)) == value


@pytest.mark.parametrize(
    "body", [b'{"followers": 123456789012345678901234567890}', b'{"n": -9223372036854775809}']
)
def test_integers_past_64_bits_stay_integers(body: bytes) -> None:
    assert json_codec.loads(body) == json.loads(body)
    assert all(type(v) is int for v in json_codec.loads(body).values())


def test_nan_and_infinity_read_as_the_stdlib_reads_them() -> None:
    nan, infinity = json_codec.loads(b"[NaN, Infinity]")
    assert math.isnan(nan) and infinity == math.inf


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1,}', b"\xff", b"[1] x"])
def test_refuses_what_the_stdlib_refuses(body: bytes) -> None:
    refused = (json.JSONDecodeError, UnicodeDecodeError)
    with pytest.raises(refused):
        json.loads(body)
    with pytest.raises(refused):
        json_codec.loads(body)


def test_writes_integers_past_64_bits_and_non_string_keys() -> None:
    assert json.loads(json_codec.dumps({"c": 10**30, 1: "one"})) == {"c": 10**30, "1": "one"}
