"""The sandbox's envelope writer gives what ``json.dumps`` of the whole envelope gives."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vlens_async.sandbox._wire import envelope_bytes

DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


def expected(data: Any, code: Any, message: Any, descriptions: Any) -> bytes:
    envelope = {
        "data": data,
        "error_code": code,
        "error_message": message,
        "error_descriptions": descriptions,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


@settings(max_examples=200, deadline=None)
@given(DATA)
def test_a_success_envelope_is_the_whole_envelope_encoded(data: Any) -> None:
    written = envelope_bytes(data)
    assert written == expected(data, None, None, None)
    assert json.loads(written)["data"] == data


@settings(max_examples=100, deadline=None)
@given(
    DATA,
    st.none() | st.integers(min_value=400, max_value=9999),
    st.none() | st.text(),
    st.none() | st.dictionaries(st.text(), st.lists(st.text(), max_size=2), max_size=2),
)
def test_any_envelope_is_the_whole_envelope_encoded(
    data: Any, code: int | None, message: str | None, descriptions: Any
) -> None:
    written = envelope_bytes(data, code=code, message=message, descriptions=descriptions)
    assert written == expected(data, code, message, descriptions)
