"""What every service shares: the caller, and helpers for optional arguments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from vlens_transports import Timeout

from .._call import Caller, CallOptions
from .._errors import VlensInputError
from .._retry import RetryPolicy
from .._validation import check_header_value, check_uuid

T = TypeVar("T")
DI = "/api/DigitalIdentity/"


class Service:
    """A group of operations bound to one client's pipeline.

    What every method may raise, besides what its own docstring names:
    ``VlensInputError`` for a bad argument (naming it; nothing is sent),
    ``AuthenticationError`` when the API key or token is refused, ``RateLimitedError`` (429 or
    Vlens 4003) once retries are spent, ``VlensConnectionError`` when the server cannot be
    reached (nothing was sent), ``VlensResponseError`` for an unreadable answer to a read, and,
    for every call that sends a message or changes something (an *effect*),
    ``OutcomeUnknownError`` when the request may have been processed but no usable answer came:
    it is never resent automatically; check before repeating it.

    Every method also takes, keyword-only, ``timeout=`` (a ``Timeout``), ``retry=`` (a
    ``RetryPolicy``, e.g. ``RetryPolicy.interactive()``) and ``x_request_id=`` (the
    ``X-Request-Id`` to send, by default 32 random hex digits, fresh per call; not
    ``request_id``, which in the validate methods already names the OTP request): they
    override the client's settings for that one call, without making a copy of the client.
    """

    __slots__ = ("_caller",)

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def optional(check: Callable[[str, object], T], field: str, value: object) -> T | None:
    """Run ``check`` unless ``value`` is None."""
    return None if value is None else check(field, value)


def optional_uuid(field: str, value: uuid.UUID | str | None) -> uuid.UUID | None:
    return None if value is None else check_uuid(field, value)


def call_options(
    timeout: Timeout | None, retry: RetryPolicy | None, x_request_id: str | None
) -> CallOptions | None:
    """The per-call overrides a service method was given, checked (None when there are none)."""
    if timeout is None and retry is None and x_request_id is None:
        return None
    if timeout is not None and not isinstance(timeout, Timeout):
        raise VlensInputError("timeout", "expected a vlens_async.Timeout")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise VlensInputError("retry", "expected a vlens_async.RetryPolicy")
    if x_request_id is not None:
        x_request_id = check_header_value("x_request_id", x_request_id)
        if len(x_request_id) > 200:
            raise VlensInputError("x_request_id", "must be at most 200 characters")
    return CallOptions(timeout=timeout, retry=retry, request_id=x_request_id)
