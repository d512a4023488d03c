"""Sandbox(otp_length=...) issues only codes the SDK accepts back: 4 to 10 digits, no others."""

from __future__ import annotations

import pytest

from vlens_async import VlensInputError
from vlens_async._validation import check_otp
from vlens_async.cli import main
from vlens_async.sandbox import Sandbox

PHONE = "+201001234567"


def _sandbox_accepts(length: int) -> bool:
    try:
        Sandbox(otp_length=length)
    except ValueError:
        return False
    return True


def _sdk_accepts(length: int) -> bool:
    try:
        check_otp("otp", "7" * length)
    except VlensInputError:
        return False
    return True


def test_sandbox_and_sdk_accept_the_same_otp_lengths() -> None:
    """Every length from 0 to 15: the sandbox takes it exactly when the SDK's OTP check does."""
    for length in range(16):
        assert _sandbox_accepts(length) == _sdk_accepts(length), length
    assert [n for n in range(16) if _sandbox_accepts(n)] == list(range(4, 11))


@pytest.mark.parametrize("length", [-1, 0, 1, 3, 11, 12])
def test_otp_length_out_of_range_is_refused_naming_it(length: int) -> None:
    """A length the SDK would refuse to send back is a ValueError naming otp_length."""
    with pytest.raises(ValueError, match=rf"^otp_length must be from 4 to 10, not {length}$"):
        Sandbox(otp_length=length)


@pytest.mark.parametrize("length", [True, False, 6.0, "6", None])
def test_otp_length_must_be_an_int(length: object) -> None:
    """A bool, float, string or None is a TypeError naming otp_length and the type given."""
    named = type(length).__name__
    with pytest.raises(TypeError, match=rf"^otp_length must be an int, not {named}$"):
        Sandbox(otp_length=length)  # type: ignore[arg-type]


def test_sandbox_message_is_the_cli_message(capsys: pytest.CaptureFixture[str]) -> None:
    """`vlens sandbox --otp-length 3` and Sandbox(otp_length=3) say the same after the name."""
    with pytest.raises(ValueError, match="otp_length") as refused:
        Sandbox(otp_length=3)
    with pytest.raises(SystemExit):
        main(["sandbox", "--otp-length", "3"])
    reason = str(refused.value).removeprefix("otp_length ")
    assert f"argument --otp-length: {reason}" in capsys.readouterr().err


@pytest.mark.parametrize("length", [4, 10])
async def test_every_allowed_length_round_trips_through_the_sdk(length: int) -> None:
    """At both bounds the code the sandbox texts is accepted by the SDK and confirms the phone."""
    sandbox = Sandbox(otp_length=length, seed=7)
    async with sandbox.client() as vlens:
        sent = await vlens.registration.send_phone_otp(PHONE)
        code = sandbox.outbox.last_otp(PHONE)
        assert len(code) == length
        assert sent.phone_number_otp_request_id is not None
        checked = await vlens.registration.validate_phone_otp(
            PHONE, sent.phone_number_otp_request_id, code
        )
    assert checked.is_phone_number_confirmed is True


@pytest.mark.parametrize("code", ["1234", "0123456789"])
async def test_fixed_otp_at_the_bounds(code: str) -> None:
    """fixed_otp of 4 and of 10 digits (with that otp_length) is the code every OTP carries."""
    sandbox = Sandbox(otp_length=len(code), fixed_otp=code)
    async with sandbox.client() as vlens:
        sent = await vlens.registration.send_phone_otp(PHONE)
        assert sent.phone_number_otp_request_id is not None
        checked = await vlens.registration.validate_phone_otp(
            PHONE, sent.phone_number_otp_request_id, code
        )
    assert checked.is_phone_number_confirmed is True
    assert sandbox.outbox.last_otp(PHONE) == code


def test_fixed_otp_of_a_refused_length_names_otp_length() -> None:
    """fixed_otp "123" with otp_length 3: the length is what is wrong, so it is named first."""
    with pytest.raises(ValueError, match=r"^otp_length must be from 4 to 10, not 3$"):
        Sandbox(otp_length=3, fixed_otp="123")
    with pytest.raises(ValueError, match="fixed_otp must be 6 digits"):
        Sandbox(fixed_otp=123456)  # type: ignore[arg-type]
