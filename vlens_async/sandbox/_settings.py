"""Checks on :class:`~vlens_async.sandbox.Sandbox`'s settings, made when it is created: a bad
one would otherwise crash inside a later call, or make the sandbox quietly misbehave."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._errors import VlensInputError
from .._models import SmsProvider
from .._validation import check_header_value
from ._clock import SandboxClock

__all__ = ["check_settings"]


def _seconds(name: str, value: object, *, zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        bound = "0 or more" if zero else "above 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, not {value}")


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


def _header(name: str, value: object) -> None:
    """A value clients send as a header: one they can send."""
    try:
        check_header_value(name, value)
    except VlensInputError as exc:
        raise ValueError(str(exc)) from None


def check_settings(
    *,
    api_keys: Sequence[str],
    tenancy_name: str,
    times: dict[str, float],
    max_attempts: int,
    rate_limits: Sequence[tuple[int, float]],
    clock: SandboxClock | None,
    default_sms_provider: int,
) -> None:
    """Raise TypeError or ValueError naming the first bad setting. ``times``: the seconds
    settings by name (``resend_cooldown`` may be 0)."""
    if isinstance(api_keys, str):
        raise TypeError(f"api_keys must be a list of keys, such as [{api_keys!r}]")
    for key in api_keys:
        _header("api_keys", key)
    _header("tenancy_name", tenancy_name)
    for name, seconds in times.items():
        _seconds(name, seconds, zero=name == "resend_cooldown")
    _whole("max_attempts", max_attempts)
    for window in rate_limits:
        if not isinstance(window, tuple) or len(window) != 2:
            raise TypeError(f"rate_limits must hold (requests, seconds) pairs, not {window!r}")
        _whole("rate_limits' requests", window[0])
        _seconds("rate_limits' seconds", window[1])
    if clock is not None and not isinstance(clock, SandboxClock):
        raise TypeError(f"clock must be a SandboxClock, not {type(clock).__name__}")
    if default_sms_provider not in {int(provider) for provider in SmsProvider}:
        raise ValueError(
            f"default_sms_provider must be an SmsProvider, not {default_sms_provider!r}"
        )
