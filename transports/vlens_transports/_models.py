"""Immutable values a transport exchanges: :class:`Request`, :class:`Response`, :class:`Timeout`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import attrs

from ._checks import check_seconds

__all__ = ["Request", "Response", "Timeout"]


def _frozen_headers(value: Mapping[str, str]) -> Mapping[str, str]:
    if type(value) is MappingProxyType:
        return value  # already read-only: callers that reuse one header set skip the copy
    return MappingProxyType(dict(value))


def _lowercase_headers(value: Mapping[str, str]) -> Mapping[str, str]:
    if type(value) is MappingProxyType and all(map(str.islower, value)):
        return value  # read-only and lower-case already: an answer reused by a server or fake
    if type(value) is dict:
        if all(map(str.islower, value)):
            return MappingProxyType(value.copy())  # names already lower-case: half the time
        # zip/map run in C: a quarter less time than a comprehension for a response's headers.
        return MappingProxyType(dict(zip(map(str.lower, value), value.values(), strict=True)))
    # Any other map by its items: a multidict's keys() names a repeated header once, its
    # values() has them all. A name's last value wins, in the place of its first appearance.
    return MappingProxyType({name.lower(): item for name, item in value.items()})


def _seconds(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check_seconds(f"{type(instance).__name__}.{attribute.name}", value)


def _instant(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"Request.deadline must be a finite time.monotonic() value, got {value!r}")


@attrs.frozen(kw_only=True)
class Timeout:
    """Per-attempt time limits, in seconds; ``None`` means no limit.

    Each limit is a finite number of seconds above zero, or None; anything else raises
    ``TypeError``/``ValueError`` naming the field.

    Attributes:
        connect: establishing the TCP/TLS connection.
        read: the longest wait for the next chunk of the response once the request is
            written (aiohttp's ``sock_read``); ``Request.deadline`` bounds the whole exchange.
            Writing the body has no limit of its own: a server that stops reading a body
            larger than the socket buffers holds the send until the deadline (for ever
            without one).
        pool: waiting for a free pooled connection (plus connecting, if a new one is needed).
    """

    connect: float | None = attrs.field(default=10.0, validator=_seconds)
    read: float | None = attrs.field(default=30.0, validator=_seconds)
    pool: float | None = attrs.field(default=None, validator=_seconds)


@attrs.frozen(kw_only=True)
class Request:
    """One HTTP request. Header names keep the case they were given in.

    Attributes:
        method: the HTTP method.
        url: the absolute URL.
        headers: the request headers (kept read-only).
        content: the body.
        timeout: the limits for this attempt.
        deadline: the instant, on ``time.monotonic()``'s clock, by which the whole call must
            end (None: no bound). A caller that repeats a request passes the same deadline on
            every attempt. The transport enforces it: if it passes before the request was
            written, :class:`~vlens_transports.ConnectError` (not sent, safe to repeat); once
            the request may have been written, :class:`~vlens_transports.TransportTimeout`.
    """

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_headers, hash=False, repr=False
    )
    content: bytes = attrs.field(default=b"", repr=False)
    timeout: Timeout = attrs.field(factory=Timeout)
    deadline: float | None = attrs.field(default=None, validator=_instant)


@attrs.frozen(kw_only=True)
class Response:
    """One HTTP response, body fully read. Header names are lower-cased."""

    status: int
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_lowercase_headers, hash=False, repr=False
    )
    content: bytes = attrs.field(default=b"", repr=False)
    elapsed: float = 0.0


def where(request: Request) -> str:
    """The request as error messages name it: method and URL path (no query, no user info)."""
    return f"{request.method} {urlsplit(request.url).path or '/'}"
