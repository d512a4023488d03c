"""The whole user journey against the sandbox, run in memory and over HTTP on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from vlens_async import InvalidRequestError, ResetGrant, VlensClient
from vlens_async.sandbox import Sandbox

from .conftest import Vlens, logged_in, wrong

PHONE = "+201001234567"
EMAIL = "mona@example.com"
NEW_EMAIL = "mona.hassan@example.org"
PASSWORD = "first-password"
NEW_PASSWORD = "second-password"
IMEI = "356938035643809"


@dataclass
class Journey:
    """What the steps hand on to each other."""

    sandbox: Sandbox
    client: VlensClient
    phone_request: uuid.UUID | None = None
    phone_code: str = ""
    email_request: uuid.UUID | None = None
    email_code: str = ""
    access_token: str = ""
    user_refresh_token: str = ""
    admin_refresh_token: str = ""


Step = Callable[[Journey], Awaitable[None]]


async def nobody_is_registered_yet(j: Journey) -> None:
    found = await j.client.registration.check_existence(phone_number=PHONE, email=EMAIL)
    assert (found.exists, found.phone_number_exists, found.email_exists) == (False, False, False)


async def phone_otp_is_texted(j: Journey) -> None:
    sent = await j.client.registration.send_phone_otp(PHONE)
    assert sent.is_phone_number_confirmed is False
    assert sent.phone_otp_expire_in_seconds == 300
    message = j.sandbox.outbox.last(PHONE)
    assert (message.channel, message.purpose) == ("sms", "registration")
    assert message.request_id == sent.phone_number_otp_request_id
    j.phone_request, j.phone_code = sent.phone_number_otp_request_id, message.code
    assert j.phone_code == j.sandbox.outbox.last_otp(PHONE)


async def wrong_phone_code_is_refused(j: Journey) -> None:
    assert j.phone_request is not None
    with pytest.raises(InvalidRequestError) as caught:
        await j.client.registration.validate_phone_otp(PHONE, j.phone_request, wrong(j.phone_code))
    assert caught.value.code == 400
    assert caught.value.message == "The code is wrong; 4 attempt(s) left."


async def right_phone_code_is_accepted(j: Journey) -> None:
    assert j.phone_request is not None
    state = await j.client.registration.validate_phone_otp(PHONE, j.phone_request, j.phone_code)
    assert state.is_phone_number_confirmed is True
    assert state.phone_number_otp_request_id == j.phone_request


async def email_otp_is_sent_and_validated(j: Journey) -> None:
    sent = await j.client.registration.send_email_otp(EMAIL)
    assert sent.is_email_confirmed is False
    message = j.sandbox.outbox.last(EMAIL)
    assert (message.channel, message.purpose) == ("email", "registration")
    assert message.request_id == sent.email_otp_request_id
    assert sent.email_otp_request_id is not None
    state = await j.client.registration.validate_email_otp(
        EMAIL, sent.email_otp_request_id, message.code
    )
    assert state.is_email_confirmed is True
    j.email_request, j.email_code = sent.email_otp_request_id, message.code


async def registration_completes_with_a_token(j: Journey) -> None:
    done = await j.client.registration.complete(
        phone_number=PHONE,
        phone_otp_request_id=j.phone_request,
        phone_otp=j.phone_code,
        email=EMAIL,
        password=PASSWORD,
        email_otp_request_id=j.email_request,
        email_otp=j.email_code,
    )
    assert done.access_token is not None
    assert done.access_token.startswith("sbx_at_")
    assert done.expire_in_seconds == 3600
    assert done.user is not None
    assert (done.user.phone_number, done.user.email_address) == (PHONE, EMAIL)
    [user] = j.sandbox.users
    assert (user.id, user.phone_number, user.email, user.password) == (1, PHONE, EMAIL, PASSWORD)
    assert done.user.id == user.id
    j.access_token = done.access_token


async def both_contacts_now_exist(j: Journey) -> None:
    by_phone = await j.client.registration.check_existence(phone_number=PHONE)
    by_email = await j.client.registration.check_existence(email=EMAIL)
    assert (by_phone.exists, by_phone.phone_number_exists) == (True, True)
    assert (by_email.exists, by_email.email_exists) == (True, True)


async def profile_email_is_changed(j: Journey) -> None:
    me = j.client.profile(j.access_token)
    pending = await me.request_email_update(NEW_EMAIL)
    message = j.sandbox.outbox.last(NEW_EMAIL)
    assert (message.channel, message.purpose) == ("email", "email_update")
    assert message.request_id == pending.email_otp_request_id
    assert pending.email_otp_request_id is not None
    assert j.sandbox.users[0].email == EMAIL  # not before the confirmation
    confirmed = await me.confirm_email_update(pending.email_otp_request_id, message.code)
    assert confirmed.is_email_confirmed is True
    assert j.sandbox.users[0].email == NEW_EMAIL


async def password_is_reset_by_email_otp(j: Journey) -> None:
    sent = await j.client.password_reset.send_email_otp(NEW_EMAIL)
    message = j.sandbox.outbox.last(NEW_EMAIL)
    assert (message.channel, message.purpose) == ("email", "password_reset")
    assert sent.email_otp_request_id == message.request_id
    assert sent.email_otp_request_id is not None
    grant = await j.client.password_reset.validate_email_otp(
        NEW_EMAIL, sent.email_otp_request_id, message.code
    )
    assert isinstance(grant, ResetGrant)
    assert grant.user_id == j.sandbox.users[0].id
    assert grant.reset_code is not None
    assert await j.client.password_reset.reset(grant.user_id, grant.reset_code, NEW_PASSWORD)
    assert j.sandbox.users[0].password == NEW_PASSWORD


async def new_device_login_needs_an_otp(j: Journey) -> None:
    first = await j.client.sessions.login(PHONE, NEW_PASSWORD, IMEI)
    assert first.otp_required is True
    assert (first.access_token, first.refresh_token) == (None, None)
    message = j.sandbox.outbox.last(PHONE)
    assert (message.purpose, message.request_id) == ("login", first.phone_number_otp_request_id)
    second = await j.client.sessions.login(
        PHONE,
        NEW_PASSWORD,
        IMEI,
        phone_number_otp_request_id=first.phone_number_otp_request_id,
        phone_number_otp=message.code,
    )
    assert second.otp_required is False
    assert second.access_token is not None
    assert second.refresh_token is not None
    j.user_refresh_token = second.refresh_token


async def admin_logs_in(j: Journey) -> None:
    session = await j.client.sessions.admin_login("admin", "sandbox-admin-password")
    assert session.access_token is not None
    assert session.refresh_token is not None
    assert (session.expire_in_seconds, session.refresh_token_expire_in_seconds) == (3600, 108000)
    j.admin_refresh_token = session.refresh_token


async def tokens_are_refreshed(j: Journey) -> None:
    for old in (j.user_refresh_token, j.admin_refresh_token):
        fresh = await j.client.sessions.refresh(old)
        assert fresh.access_token is not None
        assert fresh.refresh_token is not None
        assert fresh.refresh_token != old
        assert fresh.new_refresh_token == fresh.refresh_token


JOURNEY: list[Step] = [
    nobody_is_registered_yet,
    phone_otp_is_texted,
    wrong_phone_code_is_refused,
    right_phone_code_is_accepted,
    email_otp_is_sent_and_validated,
    registration_completes_with_a_token,
    both_contacts_now_exist,
    profile_email_is_changed,
    password_is_reset_by_email_otp,
    new_device_login_needs_an_otp,
    admin_logs_in,
    tokens_are_refreshed,
]


async def test_full_journey(vlens: Vlens) -> None:
    """Register, change e-mail, reset the password, log in, admin login and refresh, in order."""
    sandbox, client = vlens
    journey = Journey(sandbox, client)
    for step in JOURNEY:
        await step(journey)
    assert len(sandbox.users) == 1


async def test_registration_with_oauth_instead_of_email_otp(vlens: Vlens) -> None:
    """A verified Google ID token stands in for the e-mail OTP when registering."""
    sandbox, client = vlens
    sandbox.add_oauth_identity("Google", "tok", EMAIL)
    sent = await client.registration.send_phone_otp(PHONE)
    assert sent.phone_number_otp_request_id is not None
    code = sandbox.outbox.last_otp(PHONE)
    await client.registration.validate_phone_otp(PHONE, sent.phone_number_otp_request_id, code)
    verified = await client.registration.verify_oauth_token("Google", "tok")
    assert (verified.is_verified, verified.email, verified.validation_result) == (
        True,
        EMAIL,
        "Valid",
    )
    assert verified.oauth_token_verification_request_id is not None
    done = await client.registration.complete(
        phone_number=PHONE,
        phone_otp_request_id=sent.phone_number_otp_request_id,
        phone_otp=code,
        email=EMAIL,
        password=PASSWORD,
        oauth_verification_id=verified.oauth_token_verification_request_id,
    )
    assert done.access_token is not None
    assert [(u.phone_number, u.email) for u in sandbox.users] == [(PHONE, EMAIL)]
    assert [m.channel for m in sandbox.outbox] == ["sms"]  # no e-mail OTP was needed


async def test_oauth_skip_email_verification(vlens: Vlens) -> None:
    """VerifyOAuthToken verifies a registered identity and not an unknown token."""
    sandbox, client = vlens
    sandbox.add_oauth_identity("Microsoft", "ms-token", EMAIL)
    known = await client.registration.verify_oauth_token_skip_email("Microsoft", "ms-token")
    unknown = await client.registration.verify_oauth_token_skip_email("Microsoft", "other")
    assert (known.is_verified, known.email) == (True, EMAIL)
    assert known.oauth_token_verification_request_id is not None
    assert (unknown.is_verified, unknown.email) == (False, None)
    assert unknown.oauth_token_verification_request_id is None


async def test_password_reset_by_phone(vlens: Vlens) -> None:
    """A texted reset OTP earns a grant that sets the new password."""
    sandbox, client = vlens
    user = sandbox.add_user(PHONE, PASSWORD, devices=[IMEI])
    sent = await client.password_reset.send_phone_otp(PHONE)
    message = sandbox.outbox.last(PHONE)
    assert (message.channel, message.purpose, message.provider) == ("sms", "password_reset", 1)
    assert sent.phone_number_otp_request_id == message.request_id
    assert sent.phone_number_otp_request_id is not None
    assert sent.phone_otp_expire_in_seconds == 300
    grant = await client.password_reset.validate_phone_otp(
        PHONE, sent.phone_number_otp_request_id, message.code
    )
    assert grant.user_id == user.id
    assert grant.reset_code is not None
    assert await client.password_reset.reset(user.id, grant.reset_code, NEW_PASSWORD) is True
    assert user.password == NEW_PASSWORD
    session = await client.sessions.login(PHONE, NEW_PASSWORD, IMEI)
    assert session.access_token is not None


async def test_send_reset_code_only_mails_registered_addresses(vlens: Vlens) -> None:
    """send_reset_code is True and mails a reset link only when the address has an account."""
    sandbox, client = vlens
    user = sandbox.add_user(PHONE, PASSWORD, email=EMAIL)
    assert await client.password_reset.send_reset_code(EMAIL) is True
    assert await client.password_reset.send_reset_code("nobody@example.com") is False
    [message] = sandbox.outbox.to(EMAIL)
    assert (message.channel, message.purpose, message.request_id) == ("email", "reset_link", None)
    assert sandbox.outbox.to("nobody@example.com") == []
    assert len(sandbox.outbox) == 1
    assert await client.password_reset.reset(user.id, message.code, NEW_PASSWORD) is True
    assert user.password == NEW_PASSWORD


async def test_verify_email_send_and_confirm(vlens: Vlens) -> None:
    """VerifyEmail sends a code to the address and confirms it with that code."""
    sandbox, client = vlens
    me = client.profile(await logged_in(sandbox, client, PHONE, email=EMAIL))
    sent = await me.send_email_verification(NEW_EMAIL)
    assert sent.is_email_confirmed is False
    assert sent.email_otp_expire_in_seconds == 300
    assert sent.transaction_id is not None
    message = sandbox.outbox.last(NEW_EMAIL)
    assert (message.channel, message.purpose) == ("email", "email_verification")
    assert message.request_id == sent.email_otp_request_id
    assert sent.email_otp_request_id is not None
    confirmed = await me.confirm_email_verification(
        NEW_EMAIL, sent.email_otp_request_id, message.code, transaction_id=sent.transaction_id
    )
    assert confirmed.is_email_confirmed is True
    assert confirmed.transaction_id == sent.transaction_id
