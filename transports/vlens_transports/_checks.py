"""Checks for numeric settings, so that a bad value fails when given, naming its field."""

from __future__ import annotations

import math

__all__ = ["check_count", "check_seconds"]


def check_seconds(field: str, value: object, *, allow_zero: bool = False) -> float | None:
    """``value`` as a finite number of seconds (> 0, or >= 0 with ``allow_zero``), or None.

    Raises:
        TypeError: not a number (a bool is not a number here).
        ValueError: NaN, infinite, or out of range.
    """
    if value is None:
        return None
    bound = ">= 0" if allow_zero else "> 0"
    wanted = f"{field} must be a finite number of seconds {bound} or None, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(wanted)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(wanted)
    return value


def check_count(field: str, value: object, *, minimum: int) -> int:
    """``value`` as an integer of at least ``minimum``.

    Raises:
        TypeError: not an integer (a bool or a float such as 2.5 or 2.0 is not).
        ValueError: below ``minimum``.
    """
    wanted = f"{field} must be an integer >= {minimum}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(wanted)
    if value < minimum:
        raise ValueError(wanted)
    return value
