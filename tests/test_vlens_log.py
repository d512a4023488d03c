"""VLENS_LOG turns on the SDK's logging to stderr, in a fresh interpreter, without code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PHONE = "+201001234567"

# Configures twice (the second must change nothing: vlens_async may already have done it at
# import), logs at three levels, then makes one sandbox call and prints the OTP it texted.
SCRIPT = f"""
import asyncio, logging
import vlens_async
from vlens_async._logging import configure_from_env
from vlens_async.sandbox import Sandbox

configure_from_env()
configure_from_env()
logger = logging.getLogger("vlens_async")
print(len(logger.handlers))
logger.debug("a debug line")
logger.info("an info line")
logger.warning("a warning line")

async def main():
    sandbox = Sandbox(api_keys=("key-0123456789abcdef",))
    async with sandbox.client() as vlens:
        await vlens.registration.send_phone_otp("{PHONE}")
    print(sandbox.outbox.last_otp("{PHONE}"))

asyncio.run(main())
"""


def run(vlens_log: str | None) -> tuple[list[str], str]:
    """Run SCRIPT with VLENS_LOG set (or unset): (stdout lines, stderr)."""
    env = {key: value for key, value in os.environ.items() if key != "VLENS_LOG"}
    env.pop("PYTHONWARNINGS", None)
    if vlens_log is not None:
        env["VLENS_LOG"] = vlens_log
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.split(), done.stderr


@pytest.mark.parametrize("value", ["debug", " DEBUG "])
def test_debug_logs_every_call_masked(value: str) -> None:
    """One handler, formatted lines at every level, the call's line masked and no secret."""
    (handlers, otp), stderr = run(value)
    assert handlers == "1"
    assert " DEBUG vlens_async: a debug line" in stderr
    assert " INFO vlens_async: an info line" in stderr
    assert " WARNING vlens_async: a warning line" in stderr
    assert "vlens_async: registration.send_phone_otp attempt=1 status=200" in stderr
    assert "+20*******567" in stderr
    for secret in (PHONE, otp, "key-0123456789abcdef"):
        assert secret not in stderr


def test_info_leaves_out_debug() -> None:
    """VLENS_LOG=info shows the sandbox's INFO lines but not the per-attempt DEBUG line."""
    (handlers, _), stderr = run("info")
    assert handlers == "1"
    assert "a debug line" not in stderr
    assert "attempt=1" not in stderr
    assert " INFO vlens_async: an info line" in stderr
    assert " INFO vlens_async.sandbox: registration.send_phone_otp" in stderr


def test_warning_shows_warnings_only() -> None:
    """VLENS_LOG=warning: only warnings and worse."""
    (handlers, _), stderr = run("warning")
    assert handlers == "1"
    assert "an info line" not in stderr
    assert " WARNING vlens_async: a warning line" in stderr


@pytest.mark.parametrize("value", [None, ""])
def test_unset_configures_nothing(value: str | None) -> None:
    """Without VLENS_LOG the library adds no handler: logging stays the application's."""
    (handlers, _), stderr = run(value)
    assert handlers == "0"
    assert "a debug line" not in stderr
    assert "an info line" not in stderr
    assert stderr == "a warning line\n"  # Python's last-resort handler, not ours


def test_an_unknown_value_warns_once_and_is_ignored() -> None:
    """VLENS_LOG=verbose: one RuntimeWarning naming the choices; no handler."""
    (handlers, _), stderr = run("verbose")
    assert handlers == "0"
    assert stderr.count("RuntimeWarning: VLENS_LOG='verbose' is ignored") == 1
    assert "use debug, info or warning" in stderr
    assert "an info line" not in stderr
