"""What a sandbox operation handler receives."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import Any

from ._state import SandboxState, UserRecord
from ._wire import ApiFailure, Body

__all__ = ["PROVIDERS", "Call", "header"]

PROVIDERS = range(1, 8)


@functools.lru_cache(maxsize=256)
def _spellings(names: tuple[str, ...]) -> dict[str, str]:
    """Each header name in lower case -> the name as sent whose value counts: HTTP names are
    case-insensitive, and of two spellings of one name the last one wins.

    Cached: a client sends the same header names on every request, so lower-casing each name
    of each request (a fifteenth of what the sandbox did with one) is done once per set.
    Pass ``tuple(headers)``. Every caller gets the same dict: read it, never change it.
    """
    return {name.lower(): name for name in names}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of the header ``name`` (lower-case), whatever case it was sent in."""
    spelling = _spellings(tuple(headers)).get(name)
    return None if spelling is None else headers[spelling]


class Call:
    """One request as a handler sees it: the state, the JSON body and the headers.

    A plain slotted class, made once per request: an attrs frozen class sets each attribute
    through ``object.__setattr__``, which makes construction about twice as slow.
    """

    __slots__ = ("admins", "body", "default_provider", "headers", "state", "tenancy_name")

    def __init__(  # positional (made once per request, in Sandbox._run): cheaper than keywords
        self,
        state: SandboxState,
        body: Body,
        headers: Mapping[str, str],
        tenancy_name: str,
        admins: Mapping[str, str],
        default_provider: int,
    ) -> None:
        self.state = state
        self.body = body
        self.headers = headers  # as sent: look one up with header()
        self.tenancy_name = tenancy_name
        self.admins = admins
        self.default_provider = default_provider

    def header(self, name: str) -> str | None:
        """The request header ``name`` (lower-case), whatever case it was sent in."""
        return header(self.headers, name)

    def provider(self, name: str) -> int:
        """The SMS provider asked for (0 or absent: the tenant default)."""
        if self.body.fields.get(name) is None:  # absent or null
            return self.default_provider
        value = self.body.integer(name)  # not None: the field is there
        if value is None or value == 0:
            return self.default_provider
        if value not in PROVIDERS:
            raise ApiFailure.invalid(name, "must be an SMS provider number from 1 to 7")
        return value

    def transaction_id(self) -> uuid.UUID:
        """The caller's transactionId, or a new one (older API generations tie steps with it)."""
        if self.body.fields.get("transactionId") is None:  # absent or null
            return self.state.new_uuid()
        return self.body.required_uuid("transactionId")

    def user(self) -> UserRecord:
        """The user whose bearer token authorises this call."""
        return self.state.user_for_token(self.header("authorization"))

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


_LOGIN_KEYS = frozenset({"hasPendingRequest", "refreshToken", "redirectUri"})
_ALLOWED_KEYS = frozenset(_REGISTRATION_KEYS) | _LOGIN_KEYS
# Copied per answer: copying a dict is a fraction of building it again key by key.
_EMPTY_STATE: dict[str, Any] = dict.fromkeys(_REGISTRATION_KEYS)


def registration_state(**fields: Any) -> dict[str, Any]:
    """The ``ApiOutputRegister`` shape: every key present (null where not set), then the login
    keys given."""
    if not fields.keys() <= _ALLOWED_KEYS:
        raise TypeError(f"not a key of ApiOutputRegister: {sorted(fields.keys() - _ALLOWED_KEYS)}")
    state = _EMPTY_STATE.copy()
    state.update(fields)
    return state
