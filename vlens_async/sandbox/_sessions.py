"""Sandbox handlers for sessions: user login (new-device OTP), admin login, refresh."""

from __future__ import annotations

from typing import Any

from ._context import Call, registration_state
from ._wire import ApiFailure

__all__ = ["admin_login", "login", "refresh"]


def login(call: Call) -> Any:
    body, state = call.body, call.state
    phone = body.required_phone()
    password = body.required_text("password")
    imei = body.required_text("imei")
    user = state.user_by_phone(phone)
    if user is None or user.password is None or user.password != password:
        raise ApiFailure(401, "Wrong phone number or password.")
    if imei not in user.devices:
        if not (body.has("phoneNumberOtpRequestId") or body.has("phoneNumberOtp")):
            record = state.issue_otp(
                "sms", phone, "login", provider=call.provider("smsProvider"), user_id=user.id
            )
            return registration_state(
                isPhoneNumberConfirmationRequired=True,
                isPhoneNumberConfirmed=False,
                phoneNumberOtpRequestId=record.request_id,
                phoneOtpExpireInSeconds=int(state.otp_ttl),
                hasPendingRequest=False,
                refreshToken=None,
                redirectUri=None,
            )
        record = state.find_otp(body.required_uuid("phoneNumberOtpRequestId"), phone, "login")
        state.check_otp(record, body.required_text("phoneNumberOtp"))
        record.consumed = True
        user.devices.add(imei)
    return registration_state(
        isPhoneNumberConfirmationRequired=False,
        isPhoneNumberConfirmed=True,
        isEmailConfirmed=user.email is not None,
        hasPendingRequest=False,
        redirectUri=None,
        **call.tokens(user),
    )


def admin_login(call: Call) -> Any:
    body, state = call.body, call.state
    tenancy = body.required_text("tenancyName")
    if tenancy != call.tenancy_name or call.header("tenancyname") != call.tenancy_name:
        raise ApiFailure(401, "Unknown tenancy; send it as tenancyName and the TenancyName header.")
    name = body.required_text("userNameOrEmailAddress")
    if call.admins.get(name) != body.required_text("password"):
        raise ApiFailure(401, "Wrong user name or password.")
    access, refresh = state.issue_tokens(name)
    return {
        "accessToken": access,
        "expireInSeconds": int(state.token_ttl),
        "refreshToken": refresh,
        "refreshTokenExpireInSeconds": int(30 * state.token_ttl),
    }


def refresh(call: Call) -> Any:
    state = call.state
    grant = state.refresh_tokens.get(call.body.required_text("refreshToken"))
    if grant is None or grant.used or state.clock.now() >= grant.expires_at:
        raise ApiFailure(403, "The refresh token is invalid, used or expired; log in again.")
    grant.used = True  # refresh tokens rotate: each is good once
    access, new_refresh = state.issue_tokens(grant.subject)
    return {
        "accessToken": access,
        "encryptedAccessToken": "enc_" + access[::-1],
        "expireInSeconds": int(state.token_ttl),
        "refreshToken": new_refresh,
        "newRefreshToken": new_refresh,
    }
