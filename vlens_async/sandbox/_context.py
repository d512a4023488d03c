"""What a sandbox operation handler receives."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from ._state import SandboxState, UserRecord
from ._wire import ApiFailure, Body

__all__ = ["Call"]

PROVIDERS = range(1, 8)


@attrs.frozen
class Call:
    """One request as a handler sees it: the state, the JSON body and the headers."""

    state: SandboxState
    body: Body
    headers: Mapping[str, str]
    tenancy_name: str
    admins: Mapping[str, str]
    default_provider: int

    def provider(self, name: str) -> int:
        """The SMS provider asked for (0 or absent: the tenant default)."""
        value = self.body.integer(name, required=False)
        if value is None or value == 0:
            return self.default_provider
        if value not in PROVIDERS:
            raise ApiFailure.invalid(name, "must be an SMS provider number from 1 to 7")
        return value

    def transaction_id(self) -> str:
        """The caller's transactionId, or a new one (older API generations tie steps with it)."""
        given = self.body.uuid("transactionId", required=False)
        return self.state.new_uuid_text() if given is None else str(given)

    def user(self) -> UserRecord:
        """The user whose bearer token authorises this call."""
        return self.state.user_for_token(self.headers.get("authorization"))

    def tokens(self, user: UserRecord) -> dict[str, Any]:
        """A fresh access/refresh token pair, in the wire's login/registration shape."""
        access, refresh = self.state.issue_tokens(user.id)
        return {
            "accessToken": access,
            "encryptedAccessToken": "enc_" + access[::-1],
            "expireInSeconds": int(self.state.token_ttl),
            "refreshToken": refresh,
            "userName": user.phone_number,
            "userFullName": user.wire()["fullName"],
            "user": user.wire(),
        }


_REGISTRATION_KEYS = (
    "isEmailConfirmationRequired",
    "isEmailConfirmed",
    "isPhoneNumberConfirmationRequired",
    "isPhoneNumberConfirmed",
    "phoneNumberOtp",
    "phoneNumberOtpRequestId",
    "emailOtpRequestId",
    "phoneOtpExpireInSeconds",
    "emailOtpExpireInSeconds",
    "isDigitalIdentityVerified",
    "accessToken",
    "encryptedAccessToken",
    "expireInSeconds",
    "userName",
    "userFullName",
    "transactionId",
    "user",
)


_REGISTRATION_EXTRA_KEYS = frozenset({"hasPendingRequest", "refreshToken", "redirectUri"})
_REGISTRATION_ALLOWED = frozenset(_REGISTRATION_KEYS) | _REGISTRATION_EXTRA_KEYS
_REGISTRATION_TEMPLATE = dict.fromkeys(_REGISTRATION_KEYS)


def registration_state(**fields: Any) -> dict[str, Any]:
    """The ``ApiOutputRegister`` shape with every key present (null where not set)."""
    assert fields.keys() <= _REGISTRATION_ALLOWED, fields.keys() - _REGISTRATION_ALLOWED
    state = _REGISTRATION_TEMPLATE.copy()
    for key, value in fields.items():
        state[key] = str(value) if isinstance(value, uuid.UUID) else value
    return state
