"""What every service shares: the caller, and helpers for optional arguments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from .._call import Caller
from .._validation import check_uuid

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
