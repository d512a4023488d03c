"""Request, Response and Timeout are frozen values with predictable header handling."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from multidict import CIMultiDict

from vlens_transports import Request, Response, Timeout

URL = "http://127.0.0.1:1/api/endpoint"


def test_request_is_frozen() -> None:
    """Assigning to a Request field raises FrozenInstanceError."""
    request = Request(method="GET", url=URL)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.url = "http://127.0.0.1:2/"  # type: ignore[misc]


def test_request_is_slotted_and_keyword_only() -> None:
    """Request has no __dict__ and refuses positional arguments."""
    request = Request(method="GET", url=URL)
    assert not hasattr(request, "__dict__")
    with pytest.raises(TypeError):
        Request("GET", URL)  # type: ignore[call-arg]


def test_request_defaults() -> None:
    """A bare Request has no headers, an empty body and the default Timeout."""
    request = Request(method="GET", url=URL)
    assert dict(request.headers) == {}
    assert request.content == b""
    assert request.timeout == Timeout()


def test_request_keeps_header_case_and_order() -> None:
    """Request header names keep the exact case and order they were given in."""
    request = Request(method="GET", url=URL, headers={"ApiKey": "k", "X-Tenancy-Name": "acme"})
    assert list(request.headers.items()) == [("ApiKey", "k"), ("X-Tenancy-Name", "acme")]
    assert "apikey" not in request.headers


def test_request_headers_are_copied_from_the_input() -> None:
    """Mutating the dict passed in does not change the Request's headers."""
    source = {"ApiKey": "k"}
    request = Request(method="GET", url=URL, headers=source)
    source["ApiKey"] = "changed"
    source["Extra"] = "x"
    assert dict(request.headers) == {"ApiKey": "k"}


def test_request_headers_are_immutable() -> None:
    """Request.headers refuses item assignment and deletion."""
    request = Request(method="GET", url=URL, headers={"ApiKey": "k"})
    headers: Any = request.headers
    with pytest.raises(TypeError):
        headers["ApiKey"] = "other"
    with pytest.raises(TypeError):
        del headers["ApiKey"]
    assert dict(request.headers) == {"ApiKey": "k"}


def test_request_equality_and_hash() -> None:
    """Equal Requests compare equal and hash alike; headers take part in equality."""
    first = Request(method="POST", url=URL, headers={"A": "1"}, content=b"x")
    second = Request(method="POST", url=URL, headers={"A": "1"}, content=b"x")
    assert first == second
    assert hash(first) == hash(second)
    assert first != attrs.evolve(first, headers={"A": "2"})


def test_request_repr_hides_headers_and_content() -> None:
    """Header values and the body, which may carry secrets, are not in Request's repr."""
    request = Request(
        method="POST",
        url=URL,
        headers={"ApiKey": "secret-api-key-123"},
        content=b'{"password": "hunter2"}',
    )
    text = repr(request)
    assert "secret-api-key-123" not in text
    assert "hunter2" not in text
    assert "POST" in text
    assert URL in text


def test_response_is_frozen() -> None:
    """Assigning to a Response field raises FrozenInstanceError."""
    response = Response(status=200)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        response.status = 500  # type: ignore[misc]


def test_response_defaults() -> None:
    """A bare Response has no headers, an empty body and zero elapsed time."""
    response = Response(status=204)
    assert dict(response.headers) == {}
    assert response.content == b""
    assert response.elapsed == 0.0


def test_response_lowercases_header_names_only() -> None:
    """Response header names are lower-cased; header values are kept as given."""
    response = Response(
        status=200, headers={"Content-Type": "Application/JSON", "X-Request-ID": "AbC"}
    )
    assert dict(response.headers) == {"content-type": "Application/JSON", "x-request-id": "AbC"}
    mixed = Response(status=200, headers={"content-type": "a", "X-Request-ID": "b"})
    assert dict(mixed.headers) == {"content-type": "a", "x-request-id": "b"}


@pytest.mark.parametrize("name", ["Retry-After", "retry-after"])
def test_response_headers_are_copied_and_immutable(name: str) -> None:
    """Response.headers is a snapshot of the input (lower-case names or not) and refuses
    item assignment."""
    source = {name: "5"}
    response = Response(status=429, headers=source)
    source[name] = "10"
    headers: Any = response.headers
    with pytest.raises(TypeError):
        headers["retry-after"] = "0"
    assert dict(response.headers) == {"retry-after": "5"}


def test_response_keeps_a_read_only_lower_case_header_map_as_it_is() -> None:
    """A MappingProxyType whose names are lower-case already is kept, not copied (as Request
    keeps one): a server or fake answering with one constant header set pays no copy. One with
    an upper-case name is lower-cased into a copy as before."""
    lower = MappingProxyType({"content-type": "application/json"})
    assert Response(status=200, headers=lower).headers is lower
    mixed = MappingProxyType({"Content-Type": "application/json"})
    assert dict(Response(status=200, headers=mixed).headers) == {"content-type": "application/json"}


def test_response_repr_hides_headers_and_content() -> None:
    """Header values and the body are not in Response's repr."""
    response = Response(
        status=200, headers={"Set-Cookie": "session=tok-987"}, content=b'{"otp": "424242"}'
    )
    text = repr(response)
    assert "tok-987" not in text
    assert "424242" not in text
    assert "200" in text


def test_timeout_defaults() -> None:
    """Timeout defaults to connect=10s, read=30s and no pool limit."""
    assert Timeout() == Timeout(connect=10.0, read=30.0, pool=None)


def test_timeout_is_frozen_and_hashable() -> None:
    """Timeout refuses assignment and equal Timeouts hash alike (it is used as a cache key)."""
    timeout = Timeout(read=0.5)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        timeout.read = 1.0  # type: ignore[misc]
    assert hash(timeout) == hash(Timeout(read=0.5))
    assert {timeout: 1}[Timeout(read=0.5)] == 1


def test_timeout_accepts_none_and_positive_values() -> None:
    """None (no limit) and positive numbers are valid for every Timeout field."""
    assert Timeout(connect=None, read=None, pool=None).read is None
    assert Timeout(connect=0.001, read=0.1, pool=3).pool == 3


@pytest.mark.parametrize("field", ["connect", "read", "pool"])
@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0, ValueError),
        (0.0, ValueError),
        (-1, ValueError),
        (-0.001, ValueError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (-math.inf, ValueError),
        (True, TypeError),
        ("5", TypeError),
    ],
)
def test_timeout_rejects_bad_values_naming_the_field(
    field: str, value: Any, error: type[Exception]
) -> None:
    """Zero, negative, NaN, infinite and non-numeric limits raise an error naming the field."""
    with pytest.raises(error, match=rf"^Timeout\.{field} must be a finite number of seconds > 0"):
        Timeout(**{field: value})


def test_request_deadline_defaults_to_none_and_is_kept() -> None:
    """Request.deadline is an optional time.monotonic() instant, kept as given."""
    assert Request(method="GET", url=URL).deadline is None
    assert Request(method="GET", url=URL, deadline=12.5).deadline == 12.5


@pytest.mark.parametrize("value", [math.nan, math.inf, True, "soon"])
def test_request_deadline_must_be_a_finite_instant(value: Any) -> None:
    """A deadline that is not a finite number is refused, naming the field."""
    with pytest.raises(TypeError, match=r"^Request\.deadline must be a finite"):
        Request(method="GET", url=URL, deadline=value)


@pytest.mark.parametrize(
    ("cls", "names"),
    [
        (Request, ["method", "url", "headers", "content", "timeout", "deadline"]),
        (Response, ["status", "headers", "content", "elapsed"]),
    ],
)
def test_fields_are_pinned(cls: type[Any], names: list[str]) -> None:
    """The public fields of the transport values, in order."""
    assert [field.name for field in attrs.fields(cls)] == names


def test_response_from_a_multidict_keeps_each_names_last_value() -> None:
    """A multidict naming a header twice (in two cases) gives one lower-case name with the
    last value; its keys() lists the name once, so the names are not zipped with values()."""
    repeated = CIMultiDict([("Set-Cookie", "a=1"), ("Retry-After", "7"), ("set-cookie", "b=2")])
    response = Response(status=200, headers=repeated)
    assert list(response.headers.items()) == [("set-cookie", "b=2"), ("retry-after", "7")]
