"""Checks of the Sandbox's settings, made once when it is built: a value under which no
request could be answered (or a rule would silently not apply) is refused there, naming the
setting, with the bounds that ``vlens sandbox`` applies to the same options. Also the checks
of an account added directly, for the same reason."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._errors import VlensInputError
from .._validation import check_header_value
from ._clock import SandboxClock
from ._state import SandboxState
from ._wire import is_email, is_phone

__all__ = [
    "check_count",
    "check_identity",
    "check_new_account",
    "check_rate_limits",
    "check_seconds",
]


def check_identity(api_keys: Sequence[str], tenancy_name: str, clock: SandboxClock | None) -> None:
    """Keys and a tenancy name a client can send as headers, and a real clock."""
    for name, values in (("api_keys", api_keys), ("tenancy_name", [tenancy_name])):
        for value in values:
            try:
                check_header_value(name, value)
            except VlensInputError as exc:
                raise ValueError(str(exc)) from None
    if clock is not None and not isinstance(clock, SandboxClock):
        raise TypeError(f"clock must be a SandboxClock, not {type(clock).__name__}")


def check_seconds(name: str, value: object, *, positive: bool) -> float:
    """``value`` as a finite number of seconds, above 0 (``positive``) or at least 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "above 0" if positive else "of at least 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, not {value}")
    return float(value)


def check_count(name: str, value: object) -> int:
    """``value`` as a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


def check_rate_limits(windows: Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """Each ``(requests, seconds)`` window: at least 1 request in a finite period above 0."""
    checked = []
    for window in windows:
        try:
            count, seconds = window
            checked.append(
                (check_count("requests", count), check_seconds("seconds", seconds, positive=True))
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"rate_limits must be (requests, seconds) pairs: {exc}") from None
    return tuple(checked)


def check_new_account(
    state: SandboxState, phone: str, email: str | None, devices: Sequence[str]
) -> None:
    """For ``Sandbox.add_user``: an account the API can reach, and the only one with its
    number and address (the look-ups find one account per number or address)."""
    if not is_phone(phone):
        raise ValueError("phone_number must be an E.164 phone number such as +201001234567")
    if state.user_by_phone(phone) is not None:
        raise ValueError("phone_number is already registered")
    if email is not None and not is_email(email):
        raise ValueError("email must be an e-mail address")
    if email is not None and state.user_by_email(email) is not None:
        raise ValueError("email is already registered")
    if isinstance(devices, str):
        raise TypeError("devices must be a list of device ids (IMEIs), not a str")
