"""``vlens_async._json``: the shortcuts to the C accelerators give what ``json`` gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlens_async._json import compact_dumps, loads

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _outcome(function: Any, text: str) -> tuple[str, Any]:
    """What ``function(text)`` gives: its value, or the error's type, message and position."""
    try:
        return "value", function(text)
    except json.JSONDecodeError as exc:
        return "error", (type(exc), exc.msg, exc.pos)
    except Exception as exc:  # noqa: BLE001 - any other error must match as well
        return "error", (type(exc), str(exc))


@pytest.mark.parametrize(
    "text",
    [
        '{"data": {"a": 1}, "error_code": null}',
        "[1, 2.5, true, null]",
        '"just a string"',
        "0",
        ' {"a": 1}',  # leading whitespace: the scanner alone refuses it
        '{"a": 1}\n',  # trailing whitespace: the scanner stops before it
        "\t[]\r\n ",
        "",
        "   ",
        '{"a": 1} {"b": 2}',  # extra data after the value
        '{"a": 1}x',
        '{"a": }',  # an error inside the value
        '{"a": 1',
        "NaN",
        "[Infinity, -Infinity]",
        "\ufeff{}",  # a BOM in text: json.loads refuses it with its own message
        '{"a": 1, "a": 2}',  # duplicate keys: the last wins
        '"\\ud800"',  # a lone surrogate escape
        "nul",
    ],
)
def test_loads_matches_json_loads(text: str) -> None:
    assert _outcome(loads, text) == _outcome(json.loads, text)


def test_loads_refuses_what_json_loads_refuses_with_the_same_error() -> None:
    with pytest.raises(json.JSONDecodeError, match="Extra data") as caught:
        loads("[] []")
    assert caught.value.pos == 3


def test_loads_wants_text() -> None:
    with pytest.raises(TypeError):
        loads(b"{}")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.sampled_from(["", " ", "\n", "\t "]), st.sampled_from(["", " ", "\r\n"]))
def test_loads_round_trips_anything_json_dumps_writes(value: Any, before: str, after: str) -> None:
    text = before + json.dumps(value) + after
    assert loads(text) == json.loads(text) == value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=' {}[]",:0123456789.eE+-truefalsn\\u\n', max_size=24))
def test_loads_matches_json_loads_on_fragments(text: str) -> None:
    assert _outcome(loads, text) == _outcome(json.loads, text)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.booleans())
def test_compact_dumps_matches_json_dumps(value: Any, ensure_ascii: bool) -> None:
    expected = json.dumps(value, ensure_ascii=ensure_ascii, separators=(",", ":"))
    assert compact_dumps(ensure_ascii=ensure_ascii)(value) == expected
