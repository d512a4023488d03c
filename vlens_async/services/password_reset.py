"""Password reset by e-mail link, e-mail OTP or phone OTP; no bearer token (locked out)."""

from __future__ import annotations

import uuid

from vlens_transports import Timeout

from .._call import Operation
from .._errors import VlensInputError
from .._models import EmailOtpRequest, PhoneOtpRequest, ResetGrant
from .._requests import EmailBody, ForgetPasswordEmailBody, ForgetPasswordPhoneBody, ResetBody
from .._retry import RetryPolicy
from .._validation import check_email, check_otp, check_phone, check_text, check_token, check_uuid
from ._base import DI, Service, call_options, optional

__all__ = ["PasswordResetService"]

SEND_RESET_CODE = Operation(
    "password_reset.send_reset_code", DI + "SendPasswordResetCode", True, bool
)
SEND_EMAIL_OTP = Operation(
    "password_reset.send_email_otp", DI + "ForgetPassword/SendEmailOtp", True, EmailOtpRequest
)
VALIDATE_EMAIL_OTP = Operation(
    "password_reset.validate_email_otp", DI + "ForgetPassword/ValidateEmailOtp", True, ResetGrant
)
SEND_PHONE_OTP = Operation(
    "password_reset.send_phone_otp",
    DI + "ForgetPasswordByPhone/SendPhoneOtp",
    True,
    PhoneOtpRequest,
)
VALIDATE_PHONE_OTP = Operation(
    "password_reset.validate_phone_otp",
    DI + "ForgetPasswordByPhone/ValidatePhoneOtp",
    True,
    ResetGrant,
)
RESET = Operation("password_reset.reset", DI + "ForgetPassword/Reset", True, object)


def _email_or_phone(field: str, value: object) -> str:
    """An e-mail if it has an @, else a phone number; either is checked."""
    if isinstance(value, str) and "@" in value:
        return check_email(field, value)
    return check_phone(field, value)


class PasswordResetService(Service):
    """``client.password_reset``: recovering an account whose password is lost."""

    __slots__ = ()

    async def send_reset_code(
        self,
        email: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> bool:
        """Ask Vlens to e-mail a reset message; returns the server's boolean answer.

        Raises:
            OutcomeUnknownError: the e-mail may have gone out; do not resend blindly.
        """
        body = EmailBody(email=check_email("email", email))
        return await self._caller.call(
            SEND_RESET_CODE,
            body,
            subject=body.email,
            options=call_options(timeout, retry, x_request_id),
        )

    async def send_email_otp(
        self,
        email_or_phone: str,
        id_number: str | None = None,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> EmailOtpRequest:
        """E-mail a reset OTP to the account found by e-mail or phone number.

        Raises:
            InvalidRequestError: no account matches, the ID number does not match it, or it
                has no e-mail address.
            RateLimitedError: a code was sent moments ago (Vlens 4003).
            OutcomeUnknownError: the e-mail may have gone out; do not resend blindly.
        """
        body = ForgetPasswordEmailBody(
            email_or_phone_number=_email_or_phone("email_or_phone", email_or_phone),
            id_number=optional(check_text, "id_number", id_number),
        )
        return await self._caller.call(
            SEND_EMAIL_OTP,
            body,
            subject=body.email_or_phone_number,
            options=call_options(timeout, retry, x_request_id),
        )

    async def validate_email_otp(
        self,
        email_or_phone: str,
        request_id: uuid.UUID | str,
        otp: str,
        id_number: str | None = None,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> ResetGrant:
        """Exchange the e-mailed OTP for a :class:`ResetGrant`.

        Raises:
            InvalidRequestError: the code is wrong (an attempt is used), expired or already
                used, or the request id does not match.
            RateLimitedError: too many wrong codes (Vlens 4003); request a new one.
            VlensInputError: ``otp`` is not digits, or another argument is malformed.
        """
        body = ForgetPasswordEmailBody(
            email_or_phone_number=_email_or_phone("email_or_phone", email_or_phone),
            id_number=optional(check_text, "id_number", id_number),
            email_otp_request_id=check_uuid("request_id", request_id),
            email_otp=check_otp("otp", otp),
        )
        return await self._caller.call(
            VALIDATE_EMAIL_OTP,
            body,
            subject=body.email_or_phone_number,
            options=call_options(timeout, retry, x_request_id),
        )

    async def send_phone_otp(
        self,
        phone_number: str,
        id_number: str | None = None,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> PhoneOtpRequest:
        """Text a reset OTP to the account holding ``phone_number``.

        Raises:
            InvalidRequestError: no account has this number, or the ID number does not match.
            RateLimitedError: a code was sent moments ago (Vlens 4003).
            OutcomeUnknownError: the SMS may have gone out; do not resend blindly.
        """
        body = ForgetPasswordPhoneBody(
            phone_number=check_phone("phone_number", phone_number),
            id_number=optional(check_text, "id_number", id_number),
        )
        return await self._caller.call(
            SEND_PHONE_OTP,
            body,
            subject=body.phone_number,
            options=call_options(timeout, retry, x_request_id),
        )

    async def validate_phone_otp(
        self,
        phone_number: str,
        request_id: uuid.UUID | str,
        otp: str,
        id_number: str | None = None,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> ResetGrant:
        """Exchange the texted OTP for a :class:`ResetGrant`.

        Raises:
            InvalidRequestError: the code is wrong (an attempt is used), expired or already
                used, or the request id does not match.
            RateLimitedError: too many wrong codes (Vlens 4003); request a new one.
            VlensInputError: ``otp`` is not digits, or another argument is malformed.
        """
        body = ForgetPasswordPhoneBody(
            phone_number=check_phone("phone_number", phone_number),
            id_number=optional(check_text, "id_number", id_number),
            phone_number_otp_request_id=check_uuid("request_id", request_id),
            phone_number_otp=check_otp("otp", otp),
        )
        return await self._caller.call(
            VALIDATE_PHONE_OTP,
            body,
            subject=body.phone_number,
            options=call_options(timeout, retry, x_request_id),
        )

    async def reset(
        self,
        user_id: int,
        reset_code: str,
        new_password: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> object:
        """Set ``new_password`` using a grant from one of the validate calls.

        Returns the server's ``data`` as is (undocumented; usually ``True``).

        Raises:
            InvalidRequestError: the reset code is invalid, used or expired.
            OutcomeUnknownError: the password may have been changed.
        """
        if isinstance(user_id, bool) or not isinstance(user_id, int):
            raise VlensInputError("user_id", "expected an integer user id")
        body = ResetBody(
            user_id=user_id,
            reset_code=check_token("reset_code", reset_code),
            password=check_text("new_password", new_password),
        )
        return await self._caller.call(
            RESET, body, options=call_options(timeout, retry, x_request_id)
        )
