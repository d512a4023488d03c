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
    """A group of operations bound to one client's pipeline."""

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
