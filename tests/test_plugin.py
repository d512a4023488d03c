"""The pytest plugin, as a consumer's test suite uses it (run through pytester)."""

from __future__ import annotations

import pytest

CONSUMER_TEST = """
import pytest

async def test_signup_texts_one_code(vlens_sandbox, vlens_client):
    phone = "+201001234567"
    sent = await vlens_client.registration.send_phone_otp(phone)
    code = vlens_sandbox.outbox.last_otp(phone)
    state = await vlens_client.registration.validate_phone_otp(
        phone, sent.phone_number_otp_request_id, code
    )
    assert state.is_phone_number_confirmed
    assert len(vlens_sandbox.outbox.to(phone)) == 1

async def test_each_test_gets_a_fresh_sandbox(vlens_sandbox):
    assert len(vlens_sandbox.outbox) == 0 and vlens_sandbox.users == []

async def test_wrong_code_is_refused(vlens_sandbox, vlens_client):
    from vlens_async import VlensAPIError
    sent = await vlens_client.registration.send_phone_otp("+201001234567")
    code = vlens_sandbox.outbox.last_otp("+201001234567")
    wrong = str((int(code) + 1) % 10 ** len(code)).zfill(len(code))
    with pytest.raises(VlensAPIError) as refused:
        await vlens_client.registration.validate_phone_otp(
            "+201001234567", sent.phone_number_otp_request_id, wrong
        )
    assert refused.value.code == 400
"""


def test_plugin_fixtures_work_in_a_consumer_suite(pytester: pytest.Pytester) -> None:
    """A consumer's async tests get a fresh sandbox and a client from the installed plugin."""
    pytester.makepyfile(test_consumer=CONSUMER_TEST)
    result = pytester.runpytest_subprocess(
        "-o", "asyncio_mode=auto", "-W", "error::ResourceWarning", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=3)


def test_plugin_client_is_closed_after_the_test(pytester: pytest.Pytester) -> None:
    """The client fixture is closed when the test ends (a later call would raise)."""
    pytester.makepyfile(
        test_closing="""
import pytest
holder = []

async def test_keep(vlens_client):
    holder.append(vlens_client)

async def test_closed_afterwards():
    assert holder[0].closed
"""
    )
    result = pytester.runpytest_subprocess("-o", "asyncio_mode=auto", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
