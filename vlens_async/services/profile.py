"""Profile: e-mail changes and verification, acting for one user's bearer token."""

from __future__ import annotations

import uuid

from vlens_transports import Timeout

from .._call import Caller, Operation
from .._models import EmailConfirmation, EmailOtpRequest, EmailVerification
from .._requests import ConfirmEmailUpdateBody, EmailBody, EmailOtpBody
from .._retry import RetryPolicy
from .._validation import check_email, check_header_value, check_otp, check_uuid
from ._base import DI, Service, call_options, optional_uuid

__all__ = ["ProfileService"]

UPDATE_EMAIL = Operation(
    "profile.request_email_update", DI + "UpdateEmailRequest", True, EmailOtpRequest
)
CONFIRM_EMAIL_UPDATE = Operation(
    "profile.confirm_email_update", DI + "ValidateUpdateEmailRequestOtp", True, EmailConfirmation
)
SEND_EMAIL_VERIFICATION = Operation(
    "profile.send_email_verification", DI + "VerifyEmail", True, EmailVerification
)
CONFIRM_EMAIL_VERIFICATION = Operation(
    "profile.confirm_email_verification", DI + "VerifyEmail", True, EmailVerification
)


class ProfileService(Service):
    """``client.profile(access_token)``: calls made on behalf of the user holding the token."""

    __slots__ = ("_token",)

    def __init__(self, caller: Caller, access_token: str) -> None:
        super().__init__(caller)
        self._token = check_header_value("access_token", access_token)

    async def request_email_update(
        self,
        email: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> EmailOtpRequest:
        """Send an OTP to the new address; confirm with :meth:`confirm_email_update`.

        Raises:
            InvalidRequestError: the address is already used by an account.
            AuthenticationError: the access token is invalid or expired.
            OutcomeUnknownError: the e-mail may have gone out; do not resend blindly.
        """
        body = EmailBody(email=check_email("email", email))
        return await self._caller.call(
            UPDATE_EMAIL,
            body,
            token=self._token,
            subject=body.email,
            options=call_options(timeout, retry, x_request_id),
        )

    async def confirm_email_update(
        self,
        request_id: uuid.UUID | str,
        otp: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> EmailConfirmation:
        """Confirm the new address with the code sent to it.

        Raises:
            InvalidRequestError: the code is wrong (an attempt is used), expired or used, or
                the request id belongs to another user.
            RateLimitedError: too many wrong codes (Vlens 4003).
            VlensInputError: ``otp`` is not digits, or ``request_id`` is not a UUID.
        """
        body = ConfirmEmailUpdateBody(
            email_otp_request_id=check_uuid("request_id", request_id),
            email_otp=check_otp("otp", otp),
        )
        return await self._caller.call(
            CONFIRM_EMAIL_UPDATE,
            body,
            token=self._token,
            options=call_options(timeout, retry, x_request_id),
        )

    async def send_email_verification(
        self,
        email: str,
        *,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> EmailVerification:
        """Send an OTP that proves the user owns ``email``.

        Raises:
            AuthenticationError: the access token is invalid or expired.
            OutcomeUnknownError: the e-mail may have gone out; do not resend blindly.
        """
        body = EmailOtpBody(
            email=check_email("email", email),
            transaction_id=optional_uuid("transaction_id", transaction_id),
        )
        return await self._caller.call(
            SEND_EMAIL_VERIFICATION,
            body,
            token=self._token,
            subject=body.email,
            options=call_options(timeout, retry, x_request_id),
        )

    async def confirm_email_verification(
        self,
        email: str,
        request_id: uuid.UUID | str,
        otp: str,
        *,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> EmailVerification:
        """Confirm ownership of ``email`` with the code sent to it.

        Raises:
            InvalidRequestError: the code is wrong (an attempt is used), expired or used.
            RateLimitedError: too many wrong codes (Vlens 4003).
            VlensInputError: ``otp`` is not digits, or another argument is malformed.
        """
        body = EmailOtpBody(
            email=check_email("email", email),
            email_otp_request_id=check_uuid("request_id", request_id),
            email_otp=check_otp("otp", otp),
            transaction_id=optional_uuid("transaction_id", transaction_id),
        )
        return await self._caller.call(
            CONFIRM_EMAIL_VERIFICATION,
            body,
            token=self._token,
            subject=body.email,
            options=call_options(timeout, retry, x_request_id),
        )
