"""Result models: frozen, slotted, keyword-only values with snake_case fields.

Every field is optional because Vlens may omit any of them. Secrets (OTP codes, tokens) are left
out of ``repr`` and, unless asked for, out of ``to_dict()``; phone numbers, e-mails and ID numbers
are masked in ``repr``.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any

import attrs

from ._redact import mask_contact, mask_email, mask_phone

__all__ = [
    "AdminSession",
    "EmailConfirmation",
    "EmailOtpRequest",
    "EmailVerification",
    "ExistenceResult",
    "GeoLocation",
    "LoginState",
    "OAuthVerification",
    "PhoneOtpRequest",
    "RefreshedToken",
    "RegistrationState",
    "ResetGrant",
    "SmsProvider",
    "User",
]

WIRE_NAME = "vlens_wire_name"
"""Field metadata key naming the wire key when it is not the camelCase of the field name."""

SECRET = "vlens_secret"  # noqa: S105 - the name of a metadata key, not a secret
"""Field metadata key marking a secret: hidden in ``repr``, left out of ``to_dict()``."""


def wire(name: str, **kwargs: Any) -> Any:
    """An optional field whose wire key is ``name``."""
    return attrs.field(default=None, metadata={WIRE_NAME: name}, **kwargs)


def _hidden(value: object) -> str:
    return "<hidden>" if value is not None else "None"


def _masked(mask: Any) -> Any:
    return lambda value: repr(mask(value))


def secret() -> Any:
    """An optional secret field: ``<hidden>`` in repr, left out of ``to_dict()`` by default."""
    return attrs.field(default=None, repr=_hidden, metadata={SECRET: True})


def phone_field() -> Any:
    return attrs.field(default=None, repr=_masked(mask_phone))


def email_field() -> Any:
    return attrs.field(default=None, repr=_masked(mask_email))


def contact_field() -> Any:
    return attrs.field(default=None, repr=_masked(mask_contact))


class JsonReady:
    """Gives a model ``to_dict()``: its fields as JSON-ready values, secrets left out."""

    __slots__ = ()

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """This value as a dict that ``json.dumps`` accepts, e.g. to return from a web route.

        Keys are the snake_case field names; UUIDs become strings, enums (such as
        :class:`SmsProvider`) their numbers, nested models dicts; ``None`` stays ``None``.

        Args:
            include_secrets: also give the secret fields (OTP codes, tokens, passwords), which
                are left out by default so that a result can be returned to a browser as it is.
        """
        return {
            name: _json_ready(getattr(self, name), include_secrets)
            for name in _field_names(type(self), include_secrets)
        }


_FIELD_NAMES: dict[tuple[type[Any], bool], tuple[str, ...]] = {}


def _field_names(cls: type[Any], include_secrets: bool) -> tuple[str, ...]:
    """The fields ``to_dict`` gives, worked out once per class."""
    names = _FIELD_NAMES.get((cls, include_secrets))
    if names is None:
        names = tuple(
            field.name
            for field in attrs.fields(cls)
            if include_secrets or not field.metadata.get(SECRET, False)
        )
        _FIELD_NAMES[cls, include_secrets] = names
    return names


def _json_ready(value: Any, include_secrets: bool) -> Any:
    if isinstance(value, enum.Enum):  # a plain number, whatever encoder the app uses
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, JsonReady):
        return value.to_dict(include_secrets=include_secrets)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_ready(item, include_secrets) for item in value]
    return value


class SmsProvider(enum.IntEnum):
    """The SMS gateway Vlens uses to deliver a phone OTP (the wire's ``smsProviders``)."""

    INFOBIP = 1
    VODAFONE = 2
    CEQUENS = 3
    VICTORY_LINK = 4
    BROADNET = 5
    EZAGEL = 6
    ORANGE = 7


@attrs.frozen(kw_only=True)
class GeoLocation(JsonReady):
    """Where a login happens, sent with :meth:`SessionsService.login`."""

    latitude: float
    longitude: float


@attrs.frozen(kw_only=True)
class User(JsonReady):
    """A Vlens user as returned after registration or login."""

    id: int | None = None
    name: str | None = None
    surname: str | None = None
    full_name: str | None = None
    user_name: str | None = contact_field()
    email_address: str | None = email_field()
    phone_number: str | None = phone_field()
    id_number: str | None = attrs.field(default=None, repr=_masked(mask_phone))
    address: str | None = secret()


@attrs.frozen(kw_only=True)
class ExistenceResult(JsonReady):
    """Whether a phone number or e-mail already belongs to an account.

    ``exists`` is derived from the other two flags when the server sends only those.
    """

    exists: bool | None = None
    email_exists: bool | None = wire("isEmailExists")
    phone_number_exists: bool | None = wire("isPhoneNumberExists")


@attrs.frozen(kw_only=True)
class RegistrationState(JsonReady):
    """The state of a registration (the docs' ``ApiOutputRegister``), returned by every step."""

    is_email_confirmation_required: bool | None = None
    is_email_confirmed: bool | None = None
    is_phone_number_confirmation_required: bool | None = None
    is_phone_number_confirmed: bool | None = None
    phone_number_otp: str | None = secret()
    phone_number_otp_request_id: uuid.UUID | None = None
    email_otp_request_id: uuid.UUID | None = None
    phone_otp_expire_in_seconds: int | None = None
    email_otp_expire_in_seconds: int | None = None
    is_digital_identity_verified: bool | None = None
    access_token: str | None = secret()
    encrypted_access_token: str | None = secret()
    expire_in_seconds: int | None = None
    user_name: str | None = contact_field()
    user_full_name: str | None = None
    transaction_id: uuid.UUID | None = None
    user: User | None = None


@attrs.frozen(kw_only=True)
class LoginState(RegistrationState):
    """The answer to a user login. Without ``access_token`` and with a request id, an OTP is due."""

    has_pending_request: bool | None = None
    refresh_token: str | None = secret()
    redirect_uri: str | None = None

    @property
    def otp_required(self) -> bool:
        """True when Vlens asks for a phone OTP (a login from a new device)."""
        return self.access_token is None and self.phone_number_otp_request_id is not None


@attrs.frozen(kw_only=True)
class OAuthVerification(JsonReady):
    """The result of verifying a Google or Microsoft ID token."""

    oauth_token_verification_request_id: uuid.UUID | None = wire("oAuthTokenVerificationRequestId")
    is_verified: bool | None = None
    validation_result: str | None = None
    email: str | None = email_field()


@attrs.frozen(kw_only=True)
class EmailOtpRequest(JsonReady):
    """An e-mail OTP was sent: quote ``email_otp_request_id`` when confirming it."""

    email_otp_request_id: uuid.UUID | None = None
    email_otp_expire_in_seconds: int | None = None


@attrs.frozen(kw_only=True)
class PhoneOtpRequest(JsonReady):
    """A phone OTP was sent: quote ``phone_number_otp_request_id`` when confirming it."""

    phone_number_otp_request_id: uuid.UUID | None = None
    phone_otp_expire_in_seconds: int | None = None


@attrs.frozen(kw_only=True)
class EmailConfirmation(JsonReady):
    """Whether an e-mail change was confirmed."""

    is_email_confirmed: bool | None = None


@attrs.frozen(kw_only=True)
class EmailVerification(JsonReady):
    """A step of the profile's e-mail verification (send, then confirm)."""

    email_otp_request_id: uuid.UUID | None = None
    email_otp_expire_in_seconds: int | None = None
    is_email_confirmed: bool | None = None
    transaction_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class ResetGrant(JsonReady):
    """Permission to set a new password, earned by a validated OTP (undocumented; lenient)."""

    user_id: int | None = None
    reset_code: str | None = secret()


@attrs.frozen(kw_only=True)
class AdminSession(JsonReady):
    """Tokens from an admin login."""

    access_token: str | None = secret()
    expire_in_seconds: int | None = None
    refresh_token: str | None = secret()
    refresh_token_expire_in_seconds: int | None = None


@attrs.frozen(kw_only=True)
class RefreshedToken(JsonReady):
    """Tokens from a refresh."""

    access_token: str | None = secret()
    encrypted_access_token: str | None = secret()
    expire_in_seconds: int | None = None
    refresh_token: str | None = secret()
    new_refresh_token: str | None = secret()
