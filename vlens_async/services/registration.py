"""Registration: duplicate check, phone and e-mail OTPs, OAuth, and completing the account."""

from __future__ import annotations

import uuid

from vlens_transports import Timeout

from .._call import Operation
from .._errors import VlensInputError
from .._models import ExistenceResult, OAuthVerification, RegistrationState, SmsProvider
from .._requests import EmailOtpBody, ExistenceBody, OAuthBody, PhoneOtpBody, RegisterBody
from .._retry import RetryPolicy
from .._validation import (
    check_email,
    check_otp,
    check_phone,
    check_provider,
    check_text,
    check_token,
    check_uuid,
)
from ._base import DI, Service, call_options, optional, optional_uuid

__all__ = ["RegistrationService"]

CHECK_EXISTENCE = Operation(
    "registration.check_existence", DI + "CheckExistenceOfEmailOrPhone", False, ExistenceResult
)
SEND_PHONE_OTP = Operation(
    "registration.send_phone_otp", DI + "Register/StepVerifyPhone", True, RegistrationState
)
VALIDATE_PHONE_OTP = Operation(
    "registration.validate_phone_otp", DI + "Register/StepVerifyPhone", True, RegistrationState
)
SEND_EMAIL_OTP = Operation(
    "registration.send_email_otp", DI + "Register/StepVerifyEmail", True, RegistrationState
)
VALIDATE_EMAIL_OTP = Operation(
    "registration.validate_email_otp", DI + "Register/StepVerifyEmail", True, RegistrationState
)
VERIFY_OAUTH = Operation(
    "registration.verify_oauth_token", DI + "Register/StepVerifyOAuthToken", True, OAuthVerification
)
VERIFY_OAUTH_SKIP_EMAIL = Operation(
    "registration.verify_oauth_token_skip_email", DI + "VerifyOAuthToken", True, OAuthVerification
)
REGISTER = Operation("registration.complete", DI + "Register", True, RegistrationState)

_OAUTH_PROVIDERS = {"google": "Google", "microsoft": "Microsoft"}


def _check_oauth_provider(field: str, value: object) -> str:
    name = _OAUTH_PROVIDERS.get(value.strip().lower()) if isinstance(value, str) else None
    if name is None:
        raise VlensInputError(field, "expected 'Google' or 'Microsoft'")
    return name


class RegistrationService(Service):
    """``client.registration``: the steps that create a Vlens account."""

    __slots__ = ()

    async def check_existence(
        self,
        phone_number: str | None = None,
        email: str | None = None,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> ExistenceResult:
        """Whether the phone number and/or e-mail already belong to an account.

        A read call: retried on any passing failure, never an ``OutcomeUnknownError``.

        Raises:
            VlensInputError: neither argument given, or one is malformed.
        """
        if phone_number is None and email is None:
            raise VlensInputError("phone_number", "give a phone_number, an email, or both")
        body = ExistenceBody(
            phone_number=optional(check_phone, "phone_number", phone_number),
            email=optional(check_email, "email", email),
        )
        return await self._caller.call(
            CHECK_EXISTENCE,
            body,
            subject=body.phone_number or body.email,
            options=call_options(timeout, retry, x_request_id),
        )

    async def send_phone_otp(
        self,
        phone_number: str,
        sms_provider: SmsProvider | int | str | None = None,
        *,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> RegistrationState:
        """Text an OTP to ``phone_number``; keep ``phone_number_otp_request_id`` for validation.

        An effect: it is resent only when the request certainly was not processed.

        Args:
            phone_number: E.164, e.g. ``"+201001234567"`` (spaces and dashes are removed).
            sms_provider: the SMS gateway; ``None`` (or 0) for the tenant default.
            transaction_id: ties registration steps together (older API generations).

        Raises:
            RateLimitedError: a code went to this number moments ago (Vlens 4003).
            QuotaError: the tenant's SMS bundle or subscription is used up (4001-4007).
            OutcomeUnknownError: the SMS may have gone out; do not resend blindly.
        """
        body = PhoneOtpBody(
            phone_number=check_phone("phone_number", phone_number),
            sms_provider=check_provider("sms_provider", sms_provider),
            transaction_id=optional_uuid("transaction_id", transaction_id),
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
        *,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> RegistrationState:
        """Check the code the user received for ``request_id``.

        Success returns the registration state with ``is_phone_number_confirmed`` set; a code
        that does not match raises instead. ``otp`` may be typed in Arabic-Indic or full-width
        digits (rewritten as ASCII); any other non-digit is refused before it costs an attempt.

        Raises:
            InvalidRequestError: the code is wrong (an attempt is used), expired or already
                used, or the request id is unknown or belongs to another number.
            RateLimitedError: too many wrong codes (Vlens 4003); request a new one.
            VlensInputError: ``otp`` is not digits, or another argument is malformed.
        """
        body = PhoneOtpBody(
            phone_number=check_phone("phone_number", phone_number),
            phone_number_otp_request_id=check_uuid("request_id", request_id),
            phone_number_otp=check_otp("otp", otp),
            transaction_id=optional_uuid("transaction_id", transaction_id),
        )
        return await self._caller.call(
            VALIDATE_PHONE_OTP,
            body,
            subject=body.phone_number,
            options=call_options(timeout, retry, x_request_id),
        )

    async def send_email_otp(
        self,
        email: str,
        *,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> RegistrationState:
        """E-mail an OTP to ``email``; keep ``email_otp_request_id`` for validation.

        Raises:
            RateLimitedError: a code went to this address moments ago (Vlens 4003).
            OutcomeUnknownError: the e-mail may have gone out; do not resend blindly.
        """
        body = EmailOtpBody(
            email=check_email("email", email),
            transaction_id=optional_uuid("transaction_id", transaction_id),
        )
        return await self._caller.call(
            SEND_EMAIL_OTP,
            body,
            subject=body.email,
            options=call_options(timeout, retry, x_request_id),
        )

    async def validate_email_otp(
        self,
        email: str,
        request_id: uuid.UUID | str,
        otp: str,
        *,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> RegistrationState:
        """Check the e-mailed code; success returns the state with ``is_email_confirmed``.

        Raises:
            InvalidRequestError: the code is wrong (an attempt is used), expired or already
                used, or the request id is unknown or belongs to another address.
            RateLimitedError: too many wrong codes (Vlens 4003); request a new one.
            VlensInputError: ``otp`` is not digits, or another argument is malformed.
        """
        body = EmailOtpBody(
            email=check_email("email", email),
            email_otp_request_id=check_uuid("request_id", request_id),
            email_otp=check_otp("otp", otp),
            transaction_id=optional_uuid("transaction_id", transaction_id),
        )
        return await self._caller.call(
            VALIDATE_EMAIL_OTP,
            body,
            subject=body.email,
            options=call_options(timeout, retry, x_request_id),
        )

    async def verify_oauth_token(
        self,
        provider: str,
        id_token: str,
        *,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> OAuthVerification:
        """Verify a Google or Microsoft ID token in place of an e-mail OTP.

        Raises:
            InvalidRequestError: the server refused the token.
            VlensInputError: ``provider`` is not Google or Microsoft, or the token is empty.
        """
        return await self._caller.call(
            VERIFY_OAUTH,
            _oauth_body(provider, id_token, transaction_id),
            options=call_options(timeout, retry, x_request_id),
        )

    async def verify_oauth_token_skip_email(
        self,
        provider: str,
        id_token: str,
        *,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> OAuthVerification:
        """Verify an OAuth ID token for a registration that skips the e-mail step.

        Raises:
            InvalidRequestError: the server refused the token.
            VlensInputError: ``provider`` is not Google or Microsoft, or the token is empty.
        """
        body = _oauth_body(provider, id_token, transaction_id)
        return await self._caller.call(
            VERIFY_OAUTH_SKIP_EMAIL, body, options=call_options(timeout, retry, x_request_id)
        )

    async def complete(
        self,
        *,
        phone_number: str,
        phone_otp_request_id: uuid.UUID | str | None = None,
        phone_otp: str | None = None,
        email: str | None = None,
        password: str | None = None,
        email_otp_request_id: uuid.UUID | str | None = None,
        email_otp: str | None = None,
        oauth_verification_id: uuid.UUID | str | None = None,
        transaction_id: uuid.UUID | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> RegistrationState:
        """Create the account from validated OTPs; the result carries ``access_token``.

        Raises:
            InvalidRequestError: the phone number or e-mail is already registered, or an OTP
                was not validated for this registration or has expired.
            OutcomeUnknownError: the account may have been created; check with
                :meth:`check_existence` before repeating.
        """
        body = RegisterBody(
            phone_number=check_phone("phone_number", phone_number),
            phone_number_otp_request_id=optional_uuid("phone_otp_request_id", phone_otp_request_id),
            phone_number_otp=optional(check_otp, "phone_otp", phone_otp),
            email=optional(check_email, "email", email),
            password=optional(check_text, "password", password),
            email_otp_request_id=optional_uuid("email_otp_request_id", email_otp_request_id),
            email_otp=optional(check_otp, "email_otp", email_otp),
            oauth_token_verification_request_id=optional_uuid(
                "oauth_verification_id", oauth_verification_id
            ),
            transaction_id=optional_uuid("transaction_id", transaction_id),
        )
        return await self._caller.call(
            REGISTER,
            body,
            subject=body.phone_number,
            options=call_options(timeout, retry, x_request_id),
        )


def _oauth_body(provider: str, id_token: str, transaction_id: uuid.UUID | str | None) -> OAuthBody:
    return OAuthBody(
        provider=_check_oauth_provider("provider", provider),
        id_token=check_token("id_token", id_token),
        transaction_id=optional_uuid("transaction_id", transaction_id),
    )
