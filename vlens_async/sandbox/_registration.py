"""Sandbox handlers for registration: existence, phone/e-mail OTP steps, OAuth, Register."""

from __future__ import annotations

from typing import Any

from ._context import Call, registration_state
from ._wire import ApiFailure

__all__ = [
    "OAUTH_PROVIDERS",
    "check_existence",
    "register",
    "verify_email",
    "verify_oauth",
    "verify_phone",
]

MIN_PASSWORD = 6
OAUTH_PROVIDERS = ("Google", "Microsoft")

# The answers to a code sent, but for its request id, lifetime and transaction: made (and
# their keys checked) once, and copied per answer, a third of the time of making each anew.
_PHONE_CODE_SENT = registration_state(
    isPhoneNumberConfirmationRequired=True, isPhoneNumberConfirmed=False
)
_EMAIL_CODE_SENT = registration_state(isEmailConfirmationRequired=True, isEmailConfirmed=False)


def check_existence(call: Call) -> Any:
    phone = call.body.phone(required=False)
    email = call.body.email(required=False)
    if phone is None and email is None:
        raise ApiFailure.invalid("phoneNumber", "give a phoneNumber, an email, or both")
    phone_exists = phone is not None and call.state.user_by_phone(phone) is not None
    email_exists = email is not None and call.state.user_by_email(email) is not None
    return {
        "exists": phone_exists or email_exists,
        "isPhoneNumberExists": phone_exists,
        "isEmailExists": email_exists,
    }


def verify_phone(call: Call) -> Any:
    """Send a registration OTP by SMS, or validate one (when the code is in the body)."""
    body, state = call.body, call.state
    phone = body.required_phone()
    transaction = call.transaction_id()
    if body.has("phoneNumberOtp") or body.has("phoneNumberOtpRequestId"):
        record = state.find_otp(
            body.required_uuid("phoneNumberOtpRequestId"), phone, "registration"
        )
        state.check_otp(record, body.required_text("phoneNumberOtp"))
        return registration_state(
            isPhoneNumberConfirmationRequired=True,
            isPhoneNumberConfirmed=True,
            phoneNumberOtpRequestId=record.request_id,
            transactionId=transaction,
        )
    provider = call.provider("smsProviders")
    record = state.issue_otp("sms", phone, "registration", provider=provider)
    return {
        **_PHONE_CODE_SENT,
        "phoneNumberOtpRequestId": record.request_id,
        "phoneOtpExpireInSeconds": int(state.otp_ttl),
        "transactionId": transaction,
    }


def verify_email(call: Call) -> Any:
    """Send a registration OTP by e-mail, or validate one."""
    body, state = call.body, call.state
    email = body.required_email()
    transaction = call.transaction_id()
    if body.has("emailOtp") or body.has("emailOtpRequestId"):
        record = state.find_otp(body.required_uuid("emailOtpRequestId"), email, "registration")
        state.check_otp(record, body.required_text("emailOtp"))
        return registration_state(
            isEmailConfirmationRequired=True,
            isEmailConfirmed=True,
            emailOtpRequestId=record.request_id,
            transactionId=transaction,
        )
    record = state.issue_otp("email", email, "registration")
    return {
        **_EMAIL_CODE_SENT,
        "emailOtpRequestId": record.request_id,
        "emailOtpExpireInSeconds": int(state.otp_ttl),
        "transactionId": transaction,
    }


def verify_oauth(call: Call) -> Any:
    """Accept ID tokens registered with ``Sandbox.add_oauth_identity``; refuse others."""
    provider = call.body.required_text("provider")
    if provider not in OAUTH_PROVIDERS:
        raise ApiFailure.invalid("provider", "must be 'Google' or 'Microsoft'")
    email = call.state.oauth_identities.get(f"{provider}:{call.body.required_text('IdToken')}")
    if email is None:
        return {
            "oAuthTokenVerificationRequestId": None,
            "isVerified": False,
            "validationResult": "The ID token could not be verified.",
            "email": None,
        }
    request_id = call.state.new_uuid()
    call.state.oauth_verifications[request_id] = email
    return {
        "oAuthTokenVerificationRequestId": str(request_id),
        "isVerified": True,
        "validationResult": "Valid",
        "email": email,
    }


def register(call: Call) -> Any:
    """Create the account: validated phone OTP, and a verified e-mail when one is given."""
    body, state = call.body, call.state
    phone = body.required_phone()
    email = body.email(required=False)
    password = body.text("password", required=False)
    transaction = call.transaction_id()  # read before anything changes: it may be refused
    if state.user_by_phone(phone) is not None:
        raise ApiFailure(400, "This phone number is already registered.")
    if email is not None and state.user_by_email(email) is not None:
        raise ApiFailure(400, "This e-mail address is already registered.")
    if password is not None and len(password) < MIN_PASSWORD:
        raise ApiFailure.invalid("password", f"must have at least {MIN_PASSWORD} characters")
    phone_otp = state.validated_otp(
        body.uuid("phoneNumberOtpRequestId", required=False),
        phone,
        body.text("phoneNumberOtp", required=False),
        "registration",
        "phoneNumberOtp",
    )
    email_otp = _verified_email(call, email)
    phone_otp.consumed = True
    if email_otp is not None:
        email_otp.consumed = True
    user = state.add_user(phone_number=phone, email=email, password=password)
    return registration_state(
        isPhoneNumberConfirmationRequired=True,
        isPhoneNumberConfirmed=True,
        isEmailConfirmationRequired=email is not None,
        isEmailConfirmed=email is not None,
        isDigitalIdentityVerified=False,
        transactionId=transaction,
        **call.tokens(user),
    )


def _verified_email(call: Call, email: str | None) -> Any:
    """The e-mail OTP record that proves ``email`` (None when proved by OAuth or not given)."""
    body, state = call.body, call.state
    if email is None:
        return None
    oauth_id = body.uuid("oAuthTokenVerificationRequestId", required=False)
    if oauth_id is not None:
        if state.oauth_verifications.get(oauth_id) != email:
            raise ApiFailure(400, "The OAuth verification does not match this e-mail address.")
        return None
    return state.validated_otp(
        body.uuid("emailOtpRequestId", required=False),
        email,
        body.text("emailOtp", required=False),
        "registration",
        "emailOtp",
    )
