"""Immutable values a transport exchanges: :class:`Request`, :class:`Response`, :class:`Timeout`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["Request", "Response", "Timeout", "request_of", "response_of"]


def _frozen_headers(value: Mapping[str, str]) -> Mapping[str, str]:
    if type(value) is MappingProxyType:
        return value  # already read-only: callers that reuse one header set skip the copy
    return MappingProxyType(dict(value))


def _lowercase_headers(value: Mapping[str, str]) -> Mapping[str, str]:
    if type(value) is dict:
        if all(map(str.islower, value)):
            return MappingProxyType(value.copy())  # names already lower-case: half the time
        # zip/map run in C: a quarter less time than a comprehension for a response's headers.
        return MappingProxyType(dict(zip(map(str.lower, value), value.values(), strict=True)))
    # Any other map by its items: a multidict's keys() names a repeated header once, its
    # values() has them all. A name's last value wins, in the place of its first appearance.
    return MappingProxyType({name.lower(): item for name, item in value.items()})


def _positive_or_none(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"Timeout.{attribute.name} must be positive or None, got {value!r}")


@attrs.frozen(kw_only=True)
class Timeout:
    """Per-attempt time limits, in seconds; ``None`` means no limit.

    Attributes:
        connect: establishing the TCP/TLS connection.
        read: waiting for the response once the request is written, until its body is read
            in full (with a borrowed aiohttp session: for each chunk of it, aiohttp's
            ``sock_read``).
        pool: waiting for a free pooled connection (plus connecting, if a new one is needed).
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=30.0, validator=_positive_or_none)
    pool: float | None = attrs.field(default=None, validator=_positive_or_none)


@attrs.frozen(kw_only=True)
class Request:
    """One HTTP request. Header names keep the case they were given in."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_headers, hash=False, repr=False
    )
    content: bytes = attrs.field(default=b"", repr=False)
    timeout: Timeout = attrs.field(factory=Timeout)


@attrs.frozen(kw_only=True)
class Response:
    """One HTTP response, body fully read. Header names are lower-cased."""

    status: int
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_lowercase_headers, hash=False, repr=False
    )
    content: bytes = attrs.field(default=b"", repr=False)
    elapsed: float = 0.0


# Built without the attrs ``__init__`` on the hot path: its per-field ``setattr`` calls and its
# converter cost more than the four or five slot stores that are the whole of what it does.
# Unpacking fails at import if a field is added, so that no builder below can miss one.
_new = object.__new__
_set_method, _set_url, _set_request_headers, _set_request_content, _set_timeout = (
    getattr(Request, field.name).__set__ for field in attrs.fields(Request)
)
_set_status, _set_headers, _set_content, _set_elapsed = (
    getattr(Response, field.name).__set__ for field in attrs.fields(Response)
)


def request_of(
    method: str, url: str, headers: Mapping[str, str], content: bytes, timeout: Timeout
) -> Request:
    """``Request(method=..., url=..., headers=..., content=..., timeout=...)``, built faster.

    Private to the distribution (the SDK builds every request with it). ``headers`` is kept as
    the converter keeps it: a ``MappingProxyType`` as it is, any other map copied into one.
    """
    request: Request = _new(Request)
    _set_method(request, method)
    _set_url(request, url)
    if type(headers) is not MappingProxyType:
        headers = MappingProxyType(dict(headers))
    _set_request_headers(request, headers)
    _set_request_content(request, content)
    _set_timeout(request, timeout)
    return request


def response_of(
    status: int, lowercase_headers: Mapping[str, str], content: bytes, elapsed: float
) -> Response:
    """``Response(status=..., headers=..., content=..., elapsed=...)``, built faster.

    Private to the distribution. ``lowercase_headers`` must be a read-only map whose names are
    lower-case already and which nobody changes afterwards: it is kept as it is, where
    ``Response`` would lower-case the names into a copy.
    """
    response: Response = _new(Response)
    _set_status(response, status)
    _set_headers(response, lowercase_headers)
    _set_content(response, content)
    _set_elapsed(response, elapsed)
    return response
