"""Request bodies, one class per wire shape. Internal: services build them from checked input.

``None`` fields are left out of the JSON. No repr, so a traceback never prints a secret. A body
lives for one call (built, encoded, dropped), so the classes are slotted but not frozen: a
frozen attrs ``__init__`` sets every field through ``object.__setattr__``, which doubled the
cost of building one.
"""

from __future__ import annotations

import uuid

import attrs

from ._models import WIRE_NAME, GeoLocation, SmsProvider, wire


@attrs.define(kw_only=True, repr=False, eq=False)
class ExistenceBody:
    phone_number: str | None = None
    email: str | None = None


@attrs.define(kw_only=True, repr=False, eq=False)
class PhoneOtpBody:
    phone_number: str
    sms_provider: SmsProvider | None = wire("smsProviders")
    phone_number_otp_request_id: uuid.UUID | None = None
    phone_number_otp: str | None = None
    transaction_id: uuid.UUID | None = None


@attrs.define(kw_only=True, repr=False, eq=False)
class EmailOtpBody:
    email: str
    email_otp_request_id: uuid.UUID | None = None
    email_otp: str | None = None
    transaction_id: uuid.UUID | None = None


@attrs.define(kw_only=True, repr=False, eq=False)
class OAuthBody:
    provider: str
    id_token: str = attrs.field(metadata={WIRE_NAME: "IdToken"})
    transaction_id: uuid.UUID | None = None


@attrs.define(kw_only=True, repr=False, eq=False)
class RegisterBody:
    phone_number: str
    phone_number_otp_request_id: uuid.UUID | None = None
    phone_number_otp: str | None = None
    email: str | None = None
    password: str | None = None
    email_otp_request_id: uuid.UUID | None = None
    email_otp: str | None = None
    oauth_token_verification_request_id: uuid.UUID | None = wire("oAuthTokenVerificationRequestId")
    transaction_id: uuid.UUID | None = None


@attrs.define(kw_only=True, repr=False, eq=False)
class EmailBody:
    email: str


@attrs.define(kw_only=True, repr=False, eq=False)
class ConfirmEmailUpdateBody:
    email_otp_request_id: uuid.UUID
    email_otp: str


@attrs.define(kw_only=True, repr=False, eq=False)
class ForgetPasswordEmailBody:
    email_or_phone_number: str
    id_number: str | None = None
    email_otp_request_id: uuid.UUID | None = None
    email_otp: str | None = None


@attrs.define(kw_only=True, repr=False, eq=False)
class ForgetPasswordPhoneBody:
    phone_number: str
    id_number: str | None = None
    phone_number_otp_request_id: uuid.UUID | None = None
    phone_number_otp: str | None = None


@attrs.define(kw_only=True, repr=False, eq=False)
class ResetBody:
    user_id: int
    reset_code: str
    password: str


@attrs.define(kw_only=True, repr=False, eq=False)
class AdminLoginBody:
    tenancy_name: str
    user_name_or_email_address: str
    password: str


@attrs.define(kw_only=True, repr=False, eq=False)
class RefreshBody:
    refresh_token: str


@attrs.define(kw_only=True, repr=False, eq=False)
class LoginBody:
    phone_number: str
    password: str
    imei: str
    geo_location: GeoLocation | None = None
    phone_number_otp_request_id: uuid.UUID | None = None
    phone_number_otp: str | None = None
    sms_provider: SmsProvider | None = None
