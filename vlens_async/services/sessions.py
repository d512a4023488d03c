"""Sessions: user login (with new-device OTP), admin login, and token refresh."""

from __future__ import annotations

import uuid

from vlens_transports import Timeout

from .._call import Operation
from .._errors import VlensInputError
from .._models import AdminSession, GeoLocation, LoginState, RefreshedToken, SmsProvider
from .._redact import mask_contact
from .._requests import AdminLoginBody, LoginBody, RefreshBody
from .._retry import RetryPolicy
from .._validation import (
    check_geo,
    check_header_value,
    check_otp,
    check_phone,
    check_provider,
    check_text,
)
from ._base import DI, Service, call_options, optional, optional_uuid

__all__ = ["SessionsService"]

ADMIN_LOGIN = Operation("sessions.admin_login", "/api/credentials/Login", True, AdminSession)
REFRESH = Operation("sessions.refresh", "/api/credentials/RefreshToken", True, RefreshedToken)
LOGIN = Operation("sessions.login", DI + "Login", True, LoginState)


class SessionsService(Service):
    """``client.sessions``: obtaining and refreshing tokens."""

    __slots__ = ()

    async def login(
        self,
        phone_number: str,
        password: str,
        imei: str,
        *,
        geo_location: GeoLocation | None = None,
        phone_number_otp_request_id: uuid.UUID | str | None = None,
        phone_number_otp: str | None = None,
        sms_provider: SmsProvider | int | str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> LoginState:
        """Log a user in. From a new device the answer has ``otp_required``: repeat with the OTP.

        Raises:
            AuthenticationError: wrong phone number or password.
            InvalidRequestError: the OTP is wrong, expired or used.
            VlensInputError: ``phone_number_otp`` is not digits, or another argument is
                malformed.
            OutcomeUnknownError: a login OTP may have been texted, or a session opened.
        """
        body = LoginBody(
            phone_number=check_phone("phone_number", phone_number),
            password=check_text("password", password),
            imei=check_text("imei", imei),
            geo_location=optional(check_geo, "geo_location", geo_location),
            phone_number_otp_request_id=optional_uuid(
                "phone_number_otp_request_id", phone_number_otp_request_id
            ),
            phone_number_otp=optional(check_otp, "phone_number_otp", phone_number_otp),
            sms_provider=check_provider("sms_provider", sms_provider),
        )
        return await self._caller.call(
            LOGIN,
            body,
            subject=body.phone_number,
            options=call_options(timeout, retry, x_request_id),
        )

    async def admin_login(
        self,
        user_name_or_email: str,
        password: str,
        *,
        tenancy_name: str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> AdminSession:
        """Log in as a tenant admin; needs a tenancy name (here or on the client).

        Raises:
            AuthenticationError: unknown tenancy, or wrong user name or password.
            VlensInputError: no tenancy name, or an empty user name or password.
        """
        tenancy = (
            tenancy_name if tenancy_name is not None else self._caller.headers.get("TenancyName")
        )
        if tenancy is None:
            raise VlensInputError("tenancy_name", "admin login needs the tenant's tenancy name")
        tenancy = check_header_value("tenancy_name", tenancy)
        user_name = check_text("user_name_or_email", user_name_or_email)
        body = AdminLoginBody(
            tenancy_name=tenancy,
            user_name_or_email_address=user_name,
            password=check_text("password", password),
        )
        headers = {"TenancyName": tenancy}
        return await self._caller.call(
            ADMIN_LOGIN,
            body,
            extra_headers=headers,
            # Masked here: a plain user name passes mask_contact, and it may be the password
            # given in its place (arguments swapped).
            subject=mask_contact(user_name, also_names=True),
            options=call_options(timeout, retry, x_request_id),
        )

    async def refresh(
        self,
        refresh_token: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        x_request_id: str | None = None,
    ) -> RefreshedToken:
        """Trade a refresh token for a new access token.

        Raises:
            AuthenticationError: the refresh token is invalid, used or expired; log in again.
        """
        body = RefreshBody(refresh_token=check_header_value("refresh_token", refresh_token))
        return await self._caller.call(
            REFRESH, body, options=call_options(timeout, retry, x_request_id)
        )
