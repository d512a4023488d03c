"""Sandbox handlers for a user's account: profile e-mail changes and password reset."""

from __future__ import annotations

from typing import Any

from ._context import Call
from ._registration import MIN_PASSWORD
from ._state import Grant, UserRecord
from ._wire import ApiFailure

__all__ = [
    "confirm_email_update",
    "forget_password_send",
    "forget_password_validate",
    "reset_password",
    "send_reset_code",
    "update_email",
    "verify_email_for_user",
]


def _otp_sent(record_id: object, ttl: float, prefix: str) -> dict[str, Any]:
    return {f"{prefix}OtpRequestId": str(record_id), f"{prefix}OtpExpireInSeconds": int(ttl)}


def update_email(call: Call) -> Any:
    user = call.user()
    email = call.body.required_email()
    owner = call.state.user_by_email(email)
    if owner is not None:
        raise ApiFailure(400, "This e-mail address is already used by an account.")
    record = call.state.issue_otp("email", email, "email_update", user_id=user.id, payload=email)
    return _otp_sent(record.request_id, call.state.otp_ttl, "email")


def confirm_email_update(call: Call) -> Any:
    user = call.user()
    record = call.state.find_otp(call.body.required_uuid("emailOtpRequestId"), None, "email_update")
    if record.user_id != user.id:
        raise ApiFailure(400, "This request id belongs to another user.")
    call.state.check_otp(record, call.body.required_text("emailOtp"))
    record.consumed = True
    assert record.payload is not None
    if call.state.user_by_email(record.payload) not in (None, user):
        raise ApiFailure(400, "This e-mail address is already used by an account.")
    user.email = record.payload
    return {"isEmailConfirmed": True}


def verify_email_for_user(call: Call) -> Any:
    """VerifyEmail: send a code to the address, or confirm it (when the code is in the body)."""
    user = call.user()
    body, state = call.body, call.state
    email = body.required_email()
    transaction = call.transaction_id()
    if body.has("emailOtp") or body.has("emailOtpRequestId"):
        record = state.find_otp(
            body.required_uuid("emailOtpRequestId"), email, "email_verification"
        )
        if record.user_id != user.id:
            raise ApiFailure(400, "This request id belongs to another user.")
        state.check_otp(record, body.required_text("emailOtp"))
        record.consumed = True
        return {
            "emailOtpRequestId": str(record.request_id),
            "emailOtpExpireInSeconds": None,
            "isEmailConfirmed": True,
            "transactionId": transaction,
        }
    record = state.issue_otp("email", email, "email_verification", user_id=user.id)
    return {
        **_otp_sent(record.request_id, state.otp_ttl, "email"),
        "isEmailConfirmed": False,
        "transactionId": transaction,
    }


def send_reset_code(call: Call) -> Any:
    """E-mail a reset code if the address is registered; answers whether it was sent."""
    user = call.state.user_by_email(call.body.required_email())
    if user is None or user.email is None:
        return False
    code = _new_reset_code(call, user)
    call.state.send("email", user.email, code, "reset_link")
    return True


def _account_for(call: Call, field: str) -> UserRecord:
    """The account named by e-mail or phone (``field``), checked against ``idNumber``."""
    value = call.body.required_text(field)
    user = call.state.user_by_email(value) if "@" in value else call.state.user_by_phone(value)
    if user is None:
        raise ApiFailure(400, "No account matches this e-mail address or phone number.")
    id_number = call.body.text("idNumber", required=False)
    if id_number is not None and user.id_number is not None and id_number != user.id_number:
        raise ApiFailure(400, "The ID number does not match the account.")
    return user


def forget_password_send(channel: str) -> Any:
    """ForgetPassword/SendEmailOtp (``email``) or ForgetPasswordByPhone/SendPhoneOtp (``sms``)."""

    def handler(call: Call) -> Any:
        if channel == "email":
            user = _account_for(call, "emailOrPhoneNumber")
            if user.email is None:
                raise ApiFailure(400, "This account has no e-mail address; reset by phone.")
            record = call.state.issue_otp("email", user.email, "password_reset", user_id=user.id)
            return _otp_sent(record.request_id, call.state.otp_ttl, "email")
        user = _account_for(call, "phoneNumber")
        record = call.state.issue_otp(
            "sms",
            user.phone_number,
            "password_reset",
            user_id=user.id,
            provider=call.default_provider,
        )
        return {
            "phoneNumberOtpRequestId": str(record.request_id),
            "phoneOtpExpireInSeconds": int(call.state.otp_ttl),
        }

    return handler


def forget_password_validate(channel: str) -> Any:
    """The validate halves: a correct code earns ``{"userId", "resetCode"}``."""
    id_field, code_field = (
        ("emailOtpRequestId", "emailOtp")
        if channel == "email"
        else ("phoneNumberOtpRequestId", "phoneNumberOtp")
    )

    def handler(call: Call) -> Any:
        user = _account_for(call, "emailOrPhoneNumber" if channel == "email" else "phoneNumber")
        recipient = user.email if channel == "email" else user.phone_number
        if recipient is None:  # else find_otp checks no recipient: another account's code works
            raise ApiFailure(400, "This account has no e-mail address; reset by phone.")
        record = call.state.find_otp(call.body.required_uuid(id_field), recipient, "password_reset")
        call.state.check_otp(record, call.body.required_text(code_field))
        record.consumed = True
        return {"userId": user.id, "resetCode": _new_reset_code(call, user)}

    return handler


def _new_reset_code(call: Call, user: UserRecord) -> str:
    code = call.state.new_secret("sbx_reset")
    call.state.reset_codes[code] = Grant(subject=user.id, expires_at=call.state.clock.now() + 900)
    return code


def reset_password(call: Call) -> Any:
    body, state = call.body, call.state
    user_id = body.integer("userId")
    grant = state.reset_codes.get(body.required_text("resetCode"))
    if (
        grant is None
        or grant.used
        or grant.subject != user_id
        or state.clock.now() >= grant.expires_at
    ):
        raise ApiFailure(400, "The reset code is invalid, used or expired.")
    password = body.required_text("password")
    if len(password) < MIN_PASSWORD:
        raise ApiFailure.invalid("password", f"must have at least {MIN_PASSWORD} characters")
    grant.used = True
    user = state.users[grant.subject]
    user.password = password
    # A reset signs the user out everywhere: a refresh token would make a new access token.
    for token_grant in (*state.access_tokens.values(), *state.refresh_tokens.values()):
        if token_grant.subject == user.id:
            token_grant.used = True
    return True
