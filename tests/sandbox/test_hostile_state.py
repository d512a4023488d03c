"""Hostile requests and settings must not corrupt the sandbox's state: a code proves only its
own account, a password reset ends every session, and odd settings are refused when given."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import pytest

from vlens_async.sandbox import Sandbox, SandboxClock
from vlens_transports import Request

BASE = "https://sandbox.vlens.test/api/"
SEND_OTP = "DigitalIdentity/Register/StepVerifyPhone"
DI = "DigitalIdentity/"
HEADERS = {"ApiKey": "sandbox-key", "Content-Type": "application/json"}
PHONE = "+201001234567"
OTHER_PHONE = "+201009876543"
PASSWORD = "secret-password"


async def call(sandbox: Sandbox, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to ``path`` in memory; the status and the decoded envelope."""
    request = Request(
        method="POST", url=BASE + path, headers=HEADERS, content=json.dumps(body).encode()
    )
    response = await sandbox.handle(request)
    decoded = json.loads(response.content)
    assert isinstance(decoded, dict)
    return response.status, decoded


async def test_a_code_mailed_to_another_account_does_not_reset_an_account_without_email() -> None:
    """ForgetPassword/ValidateEmailOtp for an account with no e-mail address, given the request
    id and code mailed to another account, is refused: no reset code for the wrong account."""
    sandbox = Sandbox(seed=1)
    sandbox.add_user(PHONE, PASSWORD)  # no e-mail address
    sandbox.add_user(OTHER_PHONE, PASSWORD, email="other@example.com")
    _, sent = await call(
        sandbox,
        DI + "ForgetPassword/SendEmailOtp",
        {"emailOrPhoneNumber": "other@example.com"},
    )
    body = {
        "emailOrPhoneNumber": PHONE,
        "emailOtpRequestId": sent["data"]["emailOtpRequestId"],
        "emailOtp": sandbox.outbox.last_otp("other@example.com"),
    }
    status, refused = await call(sandbox, DI + "ForgetPassword/ValidateEmailOtp", body)
    assert (status, refused["error_code"], refused["data"]) == (400, 400, None)
    assert sandbox.state.reset_codes == {}


async def test_a_password_reset_ends_the_sessions_refresh_tokens() -> None:
    """ "A reset signs the user out everywhere": the refresh tokens issued before it are refused,
    as the access tokens are; a token issued after it works."""
    sandbox = Sandbox(seed=1)
    sandbox.add_user(PHONE, PASSWORD, devices=["phone"])
    login = {"phoneNumber": PHONE, "password": PASSWORD, "imei": "phone"}
    _, before = await call(sandbox, DI + "Login", login)
    _, sent = await call(sandbox, DI + "ForgetPasswordByPhone/SendPhoneOtp", {"phoneNumber": PHONE})
    _, grant = await call(
        sandbox,
        DI + "ForgetPasswordByPhone/ValidatePhoneOtp",
        {
            "phoneNumber": PHONE,
            "phoneNumberOtpRequestId": sent["data"]["phoneNumberOtpRequestId"],
            "phoneNumberOtp": sandbox.outbox.last_otp(PHONE),
        },
    )
    reset = {**grant["data"], "password": "new-password"}
    assert (await call(sandbox, DI + "ForgetPassword/Reset", reset))[1]["data"] is True
    refresh = {"refreshToken": before["data"]["refreshToken"]}
    status, refused = await call(sandbox, "credentials/RefreshToken", refresh)
    assert (status, refused["error_code"]) == (403, 403)
    _, after = await call(sandbox, DI + "Login", {**login, "password": "new-password"})
    renewed = await call(
        sandbox, "credentials/RefreshToken", {"refreshToken": after["data"]["refreshToken"]}
    )
    assert renewed[1]["error_code"] is None


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"rate_limits": [(0, 1)]}, "rate_limits"),  # was an IndexError on every request
        ({"rate_limits": [(-1, 1)]}, "rate_limits"),
        ({"rate_limits": [(1.5, 1)]}, "rate_limits"),
        ({"rate_limits": [(1, 0)]}, "rate_limits"),  # was no limit at all, silently
        ({"rate_limits": [(1, -5)]}, "rate_limits"),
        ({"rate_limits": [(1, math.nan)]}, "rate_limits"),
        ({"otp_ttl": math.inf}, "otp_ttl"),  # was an OverflowError on every code sent
        ({"otp_ttl": math.nan}, "otp_ttl"),
        ({"otp_ttl": 0}, "otp_ttl"),  # every code expired when sent
        ({"otp_ttl": -1}, "otp_ttl"),
        ({"token_ttl": math.inf}, "token_ttl"),  # was an OverflowError on every login
        ({"token_ttl": 0}, "token_ttl"),
        ({"resend_cooldown": math.nan}, "resend_cooldown"),  # was no cooldown, silently
        ({"resend_cooldown": -5}, "resend_cooldown"),
        ({"resend_cooldown": math.inf}, "resend_cooldown"),
        ({"max_attempts": 0}, "max_attempts"),  # every code locked before its first try
        ({"max_attempts": 2.5}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"default_sms_provider": 0}, "default_sms_provider"),  # recorded as sent by provider 0
        ({"default_sms_provider": 8}, "default_sms_provider"),
    ],
)
def test_a_setting_no_request_could_be_answered_under_is_refused(
    settings: dict[str, Any], named: str
) -> None:
    """Settings the command line refuses are refused by Sandbox() too, naming the setting,
    rather than failing (or silently not applying) on each request."""
    with pytest.raises((ValueError, TypeError), match=f"^{named} "):
        Sandbox(**settings)


async def test_the_settings_at_their_bounds_answer() -> None:
    """The control: the smallest allowed values make a sandbox that answers."""
    sandbox = Sandbox(
        rate_limits=[(1, 0.5)], otp_ttl=0.5, token_ttl=0.5, resend_cooldown=0, max_attempts=1
    )
    status, sent = await call(sandbox, SEND_OTP, {"phoneNumber": PHONE})
    assert (status, sent["error_code"]) == (200, None)


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -1.0])
def test_the_clock_refuses_a_jump_it_cannot_make(seconds: float) -> None:
    """advance(NaN) made every later time NaN, so that codes never expired and cooldowns never
    applied; advance(inf) expired everything for good. Both are refused, the clock unmoved."""
    clock = SandboxClock(start=1000.0)
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(seconds)
    assert clock.now() == 1000.0


@pytest.mark.parametrize("start", [math.nan, math.inf, -math.inf])
def test_the_clock_refuses_a_start_that_is_not_a_time(start: float) -> None:
    with pytest.raises(ValueError, match="start"):
        SandboxClock(start=start)


async def test_a_code_still_expires_after_the_clock_jumps_far_ahead() -> None:
    """A finite jump, however large, keeps the rules: a code sent after it lives otp_ttl."""
    sandbox = Sandbox(seed=1, otp_ttl=300)
    sandbox.clock.advance(10 * 365 * 86400)
    _, sent = await call(sandbox, SEND_OTP, {"phoneNumber": PHONE})
    sandbox.clock.advance(299)
    body = {
        "phoneNumber": PHONE,
        "phoneNumberOtpRequestId": sent["data"]["phoneNumberOtpRequestId"],
        "phoneNumberOtp": sandbox.outbox.last_otp(PHONE),
    }
    assert (await call(sandbox, SEND_OTP, body))[1]["error_code"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "a@b.co\nvlens_async.sandbox registration.complete -> 200 subject=forged"},
        {"phoneNumber": "x\r\n2026-01-01 forged line"},
        {"phoneNumber": "+20" + "1" * 100_000},
        {"email": "m" * 100_000 + "@example.com"},
    ],
)
async def test_a_hostile_subject_stays_on_one_short_log_line(
    fields: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The log line's subject is what the client sent, masked: a line break in it forged a
    second log line, and 100 kB of it made a 100 kB line. It is escaped and cut short."""
    caplog.set_level(logging.INFO, logger="vlens_async.sandbox")
    sandbox = Sandbox()
    await call(sandbox, DI + "CheckExistenceOfEmailOrPhone", fields)
    [line] = [r.getMessage() for r in caplog.records if r.name == "vlens_async.sandbox"]
    assert line.isprintable()
    assert len(line) < 300
    assert line.startswith("registration.check_existence ")


async def bearer_call(
    sandbox: Sandbox, path: str, body: dict[str, Any], token: str
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to ``path`` in memory for the user of ``token``."""
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    request = Request(
        method="POST", url=BASE + path, headers=headers, content=json.dumps(body).encode()
    )
    response = await sandbox.handle(request)
    decoded = json.loads(response.content)
    assert isinstance(decoded, dict)
    return response.status, decoded


async def test_another_users_token_cannot_confirm_an_email_verification() -> None:
    """VerifyEmail acts for the token's user: a code sent for one user is refused when another
    user's token confirms it (as ValidateUpdateEmailRequestOtp already refused), and the
    refusal leaves the code usable by its own user."""
    sandbox = Sandbox(seed=1)
    owner = sandbox.add_user(PHONE, PASSWORD)
    other = sandbox.add_user(OTHER_PHONE, PASSWORD)
    owner_token, _ = sandbox.state.issue_tokens(owner.id)
    other_token, _ = sandbox.state.issue_tokens(other.id)
    path = DI + "VerifyEmail"
    _, sent = await bearer_call(sandbox, path, {"email": "mona@example.com"}, owner_token)
    confirm = {
        "email": "mona@example.com",
        "emailOtpRequestId": sent["data"]["emailOtpRequestId"],
        "emailOtp": sandbox.outbox.last_otp("mona@example.com"),
    }
    status, refused = await bearer_call(sandbox, path, confirm, other_token)
    assert (status, refused["error_code"]) == (400, 400)
    assert refused["error_message"] == "This request id belongs to another user."
    _, confirmed = await bearer_call(sandbox, path, confirm, owner_token)
    assert confirmed["data"]["isEmailConfirmed"] is True


async def test_an_exchange_repr_shows_no_token_or_code() -> None:
    """An Exchange (what a spy on ``Sandbox.process`` sees) printed or logged showed its body,
    tokens and OTP codes in it; like a transport Response, its repr leaves the body out."""
    sandbox = Sandbox(seed=1)
    sandbox.add_user(PHONE, PASSWORD, devices=["phone"])
    login = {"phoneNumber": PHONE, "password": PASSWORD, "imei": "phone"}
    request = Request(
        method="POST", url=BASE + DI + "Login", headers=HEADERS, content=json.dumps(login).encode()
    )
    exchange = await sandbox.process(request)
    token = json.loads(exchange.content)["data"]["accessToken"]
    assert token not in repr(exchange)
    assert "status=200" in repr(exchange)


@pytest.mark.parametrize("tail", ["\ud800", "caf\u00e9/\x00"])
async def test_an_unknown_path_that_is_no_utf8_text_is_a_404_envelope(tail: str) -> None:
    """The 404 message quotes the path: a lone surrogate in it (a URL built in memory) made
    writing the envelope raise a TypeError out of ``Sandbox.handle``."""
    request = Request(method="POST", url=BASE + tail, headers=HEADERS, content=b"{}")
    response = await Sandbox().handle(request)
    decoded = json.loads(response.content)
    assert (response.status, decoded["error_code"]) == (404, 404)
    assert decoded["error_message"].startswith("No such endpoint: /api/")


@pytest.mark.parametrize("transaction", ["not-a-uuid", 5, ""])
async def test_a_register_refused_for_its_transaction_id_creates_no_account(
    transaction: object,
) -> None:
    """Register read transactionId after it had made the account and spent the codes: a bad
    one was a 400 naming it, yet the account existed, so the corrected retry was told the
    number is already registered. Nothing happens now, and the retry succeeds."""
    sandbox = Sandbox(seed=1)
    _, sent = await call(sandbox, SEND_OTP, {"phoneNumber": PHONE})
    proof = {
        "phoneNumber": PHONE,
        "phoneNumberOtpRequestId": sent["data"]["phoneNumberOtpRequestId"],
        "phoneNumberOtp": sandbox.outbox.last_otp(PHONE),
    }
    assert (await call(sandbox, SEND_OTP, proof))[1]["error_code"] is None
    register = {**proof, "password": PASSWORD}
    status, refused = await call(
        sandbox, DI + "Register", {**register, "transactionId": transaction}
    )
    assert (status, list(refused["error_descriptions"])) == (400, ["transactionId"])
    assert sandbox.users == []
    status, done = await call(sandbox, DI + "Register", register)
    assert (status, done["error_code"]) == (200, None)
    assert [user.phone_number for user in sandbox.users] == [PHONE]


def test_one_api_key_given_as_a_string_is_refused_naming_api_keys() -> None:
    """A str is a sequence of str: Sandbox(api_keys="my-key") accepted the keys "m", "y",
    "-"... and answered "my-key" with 401. It is a TypeError saying what to write."""
    with pytest.raises(TypeError, match=r"^api_keys must be a list of keys") as refused:
        Sandbox(api_keys="my-key")
    assert "my-key" not in str(refused.value)  # a key is a secret, even a sandbox's
    assert Sandbox(api_keys=["my-key"]).api_keys == ("my-key",)


@pytest.mark.parametrize(
    ("call_add_user", "problem"),
    [
        # Two accounts for one number: look-ups found the first, Register refused it anyway.
        (lambda s: s.add_user(PHONE, PASSWORD), "phone_number is already registered"),
        (lambda s: s.add_user(OTHER_PHONE, email="MONA@example.com"), "email is already"),
        # Stored as given: no request (E.164 is checked on the wire) could ever reach it.
        (lambda s: s.add_user("201001234568", PASSWORD), "phone_number must be an E.164"),
        (lambda s: s.add_user("+20 100 123 4568", PASSWORD), "phone_number must be an E.164"),
        (lambda s: s.add_user(OTHER_PHONE, email="mona"), "email must be an e-mail address"),
        # A str is a sequence of str: the known devices were "p", "h", "o"...
        (lambda s: s.add_user(OTHER_PHONE, devices="phone"), "devices must be a list"),
    ],
)
def test_add_user_refuses_an_account_no_request_could_use(call_add_user: Any, problem: str) -> None:
    sandbox = Sandbox()
    sandbox.add_user(PHONE, PASSWORD, email="mona@example.com")
    with pytest.raises((ValueError, TypeError), match=f"^{problem}"):
        call_add_user(sandbox)
    assert len(sandbox.users) == 1


@pytest.mark.parametrize("provider", ["google", "Facebook", ""])
def test_an_oauth_identity_for_a_provider_vlens_does_not_have_is_refused(provider: str) -> None:
    """The OAuth calls take "Google" or "Microsoft" only: an identity added for "google" could
    never verify, and said nothing."""
    with pytest.raises(ValueError, match=r"^provider must be 'Google' or 'Microsoft'"):
        Sandbox().add_oauth_identity(provider, "id-token", "mona@example.com")
