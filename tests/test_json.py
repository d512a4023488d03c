"""``vlens_async._json``: the one JSON path, orjson or the standard library where orjson is
absent, and what each does with JSON that is not quite JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlens_async import _json

Pair = tuple[Callable[[Any], bytes], Callable[[bytes], Any]]
PAIRS: dict[str, Pair] = {
    "orjson": (_json.dumps, _json.loads),
    "stdlib": (_json.stdlib_dumps, _json.stdlib_loads),
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),  # no lone surrogates
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet=st.characters(exclude_categories=["Cs"])), inner)
    ),
    max_leaves=12,
)


@pytest.fixture(params=list(PAIRS))
def pair(request: pytest.FixtureRequest) -> Pair:
    """Each implementation: orjson's functions, and the stdlib stand-ins."""
    return PAIRS[request.param]


def test_orjson_is_the_json_path_where_it_is_installed() -> None:
    assert (_json.dumps, _json.loads) == (orjson.dumps, orjson.loads)


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES)
def test_values_round_trip_alike(value: Any) -> None:
    """Both write JSON that either reads back to the value, and that json reads too."""
    for dumps, loads in PAIRS.values():
        written = dumps(value)
        assert loads(written) == value
        assert json.loads(written) == value


def test_output_is_compact_utf8_with_uuids_as_text(pair: Pair) -> None:
    dumps, _ = pair
    assert dumps({"a": [1, None, True], "b": "é"}) == '{"a":[1,null,true],"b":"é"}'.encode()
    assert dumps([uuid.UUID(int=5)]) == b'["00000000-0000-0000-0000-000000000005"]'
    with pytest.raises(TypeError):
        dumps(object())


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    "content",
    [
        b"NaN",
        b'{"a": NaN}',
        b"[Infinity]",
        b"-Infinity",
        b"1e400",  # json alone would read inf
        b"\xef\xbb\xbf{}",  # a BOM
        b'"\xed\xa0\x80"',  # a UTF-8-encoded surrogate: not UTF-8
        b'"\xff"',
        b"",
        b"{} x",
        b"{",
        NESTED,  # a ValueError, never a RecursionError
    ],
    ids=lambda content: repr(content[:16]),
)
def test_what_is_not_json_is_a_value_error(pair: Pair, content: bytes) -> None:
    _, loads = pair
    with pytest.raises(ValueError):  # noqa: PT011 - the words are each library's own
        loads(content)


def test_orjson_refuses_nesting_past_its_documented_1024_levels() -> None:
    """orjson's own limit (json's is the interpreter's: deeper on 3.13, see _json's docs)."""
    with pytest.raises(ValueError):  # noqa: PT011 - orjson's words
        _json.loads(b"[" * 1025 + b"]" * 1025)
    assert _json.loads(b"[" * 1024 + b"]" * 1024) is not None


def test_integers_of_64_bits_are_exact(pair: Pair) -> None:
    _, loads = pair
    for number in (-(2**63), 2**63 - 1, 2**64 - 1):
        assert loads(b"%d" % number) == number


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
def test_orjson_reads_a_wider_integer_as_a_float_and_json_exactly(number: int) -> None:
    """The one difference in reading: a typed integer field refuses both (test_codec_*)."""
    read = _json.loads(b"%d" % number)
    assert type(read) is float
    assert read == float(number)
    assert _json.stdlib_loads(b"%d" % number) == number


def test_what_each_refuses_to_write() -> None:
    """A lone surrogate is refused by both; orjson refuses an integer beyond 64 bits, which
    json writes; NaN is written as null by orjson and refused by json. Request bodies hold
    neither: the SDK refuses such input, naming the field, before encoding."""
    with pytest.raises(TypeError):
        _json.dumps("\ud800")
    with pytest.raises(UnicodeEncodeError):
        _json.stdlib_dumps("\ud800")
    with pytest.raises(TypeError):
        _json.dumps(2**64)
    assert _json.stdlib_dumps(2**64) == b"18446744073709551616"
    assert _json.dumps(float("nan")) == b"null"
    with pytest.raises(ValueError, match="JSON compliant"):
        _json.stdlib_dumps(float("nan"))
