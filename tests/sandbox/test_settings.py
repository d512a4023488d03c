"""Sandbox(...) settings are checked when it is made: a TypeError or ValueError naming the
setting, never a sandbox that crashes deep inside a later call or silently misbehaves."""

from __future__ import annotations

import math
from typing import Any

import pytest

from vlens_async.sandbox import Sandbox

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
