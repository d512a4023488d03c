"""Sandbox(...) settings are checked when it is made: a TypeError or ValueError naming the
setting, never a sandbox that crashes deep inside a later call or silently misbehaves."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from vlens_async.sandbox import Faults, Sandbox

BAD_SETTINGS: list[tuple[str, Any]] = [
    ("api_keys", "sandbox-key"),  # one key where a list belongs: each letter was a key
    ("api_keys", [1]),
    ("api_keys", [""]),
    ("api_keys", ["key\n"]),
    ("tenancy_name", None),
    ("tenancy_name", ""),
    ("otp_ttl", -1),
    ("otp_ttl", math.nan),
    ("otp_ttl", "300"),
    ("token_ttl", 0),
    ("token_ttl", math.inf),
    ("resend_cooldown", -5),
    ("resend_cooldown", math.nan),
    ("max_attempts", 0),
    ("max_attempts", 2.5),
    ("max_attempts", True),
    ("rate_limits", [(0, 1)]),  # was an IndexError inside the first call
    ("rate_limits", [(10, 0)]),
    ("rate_limits", [(10, math.nan)]),
    ("rate_limits", ["10/s"]),
    ("clock", 5),  # was an AttributeError inside the first call
    ("default_sms_provider", 99),
    ("default_sms_provider", "vodafone"),
]


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_a_bad_setting_is_refused_naming_it(name: str, value: Any) -> None:
    """Each bad setting: TypeError or ValueError at construction, its name in the message."""
    with pytest.raises((TypeError, ValueError), match=name):
        Sandbox(**{name: value})


def test_the_defaults_and_usual_settings_are_accepted() -> None:
    """The checks refuse nothing a test suite writes today."""
    Sandbox()
    Sandbox(
        api_keys=["a", "b"],
        otp_ttl=1,
        token_ttl=60.5,
        resend_cooldown=0,
        max_attempts=1,
        seed=0,
        rate_limits=[(10, 1), (60, 60.0)],
        default_sms_provider=7,
    )


BAD_FAULTS: list[tuple[str, Callable[[Faults], object]]] = [
    ("seconds", lambda faults: faults.latency(math.nan)),
    ("seconds", lambda faults: faults.latency(-1)),
    ("seconds", lambda faults: faults.latency("1")),  # type: ignore[arg-type]
    ("status", lambda faults: faults.status("500")),  # type: ignore[arg-type]
    ("status", lambda faults: faults.status(999)),
    ("retry_after", lambda faults: faults.rate_limit(retry_after=math.nan)),
    ("retry_after", lambda faults: faults.rate_limit(retry_after=-1)),
    ("size", lambda faults: faults.oversized_body(size=-1)),
    ("size", lambda faults: faults.oversized_body(size="x")),  # type: ignore[arg-type]
    ("match", lambda faults: faults.refuse(match=5)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("name", "schedule"), BAD_FAULTS)
def test_a_bad_fault_is_refused_when_scheduled_naming_the_argument(
    name: str, schedule: Callable[[Faults], object]
) -> None:
    """A fault argument that would fail (or be ignored) only inside a later call is refused
    when the fault is scheduled, naming the argument (was a TypeError or AttributeError in
    the call, or a NaN Retry-After header)."""
    sandbox = Sandbox()
    with pytest.raises((TypeError, ValueError), match=name):
        schedule(sandbox.faults)
    assert sandbox.faults.pending == 0
