"""What the simulated Vlens remembers: users, OTPs, tokens, reset codes, OAuth verifications."""

from __future__ import annotations

import random
import uuid
from typing import Any

import attrs

from .._validation import OTP_MAX_DIGITS, OTP_MIN_DIGITS
from ._clock import SandboxClock
from ._outbox import Outbox
from ._wire import ApiFailure

__all__ = ["OtpRecord", "SandboxState", "UserRecord"]

# The bits uuid.UUID(int=..., version=4) sets, set here once: version 4, variant RFC 4122.
_CLEAR_VERSION_AND_VARIANT = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_VERSION_4 = (4 << 76) | (0x8000 << 48)


@attrs.define(kw_only=True)
class UserRecord:
    """A registered account."""

    id: int
    phone_number: str
    email: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    name: str | None = None
    surname: str | None = None
    id_number: str | None = None
    devices: set[str] = attrs.field(factory=set)

    def wire(self) -> dict[str, Any]:
        full_name = " ".join(part for part in (self.name, self.surname) if part) or None
        return {
            "id": self.id,
            "name": self.name,
            "surname": self.surname,
            "fullName": full_name,
            "userName": self.phone_number,
            "emailAddress": self.email,
            "phoneNumber": self.phone_number,
            "idNumber": self.id_number,
            "address": None,
        }


@attrs.define
class OtpRecord:
    """One issued OTP. ``validated`` after a correct code; ``consumed`` once used up.

    ``SandboxState.issue_otp`` makes it with positional arguments, once per code sent: matching
    eight keywords took longer than the rest of making the record.
    """

    request_id: uuid.UUID
    channel: str
    recipient: str
    code: str = attrs.field(repr=False)
    purpose: str
    expires_at: float
    user_id: int | None = None
    payload: str | None = None
    attempts: int = 0
    validated: bool = False
    consumed: bool = False


@attrs.define(kw_only=True)
class Grant:
    """An access/refresh token or a reset code, bound to a user (or an admin name)."""

    subject: int | str
    expires_at: float
    used: bool = False


def below(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)`` for ``n >= 1``: the same draws, without its two Python-level calls
    and argument checks (randrange draws ``n.bit_length()`` bits until they are below ``n``, in
    every Python this package supports), so that seeded codes stay what they were."""
    bits = n.bit_length()
    drawn = rng.getrandbits(bits)
    while drawn >= n:
        drawn = rng.getrandbits(bits)
    return drawn


def _check_otp_length(otp_length: object) -> None:
    """Refuse an OTP length the SDK would refuse to send back (its bounds, not a copy)."""
    if not isinstance(otp_length, int) or isinstance(otp_length, bool):
        raise TypeError(f"otp_length must be an int, not {type(otp_length).__name__}")
    if not OTP_MIN_DIGITS <= otp_length <= OTP_MAX_DIGITS:
        raise ValueError(
            f"otp_length must be from {OTP_MIN_DIGITS} to {OTP_MAX_DIGITS}, not {otp_length}"
        )


class SandboxState:
    """The sandbox's memory and the rules that apply to it (OTP lifetime, attempts, cooldown)."""

    def __init__(
        self,
        *,
        clock: SandboxClock,
        outbox: Outbox,
        rng: random.Random,
        otp_length: int,
        otp_ttl: float,
        max_attempts: int,
        resend_cooldown: float,
        token_ttl: float,
        fixed_otp: str | None = None,
    ) -> None:
        _check_otp_length(otp_length)
        if fixed_otp is not None and not (
            isinstance(fixed_otp, str)
            and len(fixed_otp) == otp_length
            and fixed_otp.isascii()
            and fixed_otp.isdigit()
        ):
            raise ValueError(f"fixed_otp must be {otp_length} digits (the otp_length)")
        self.fixed_otp = fixed_otp
        self.clock, self.outbox, self.rng = clock, outbox, rng
        self.otp_length, self.otp_ttl = otp_length, otp_ttl
        self.max_attempts, self.resend_cooldown, self.token_ttl = (
            max_attempts,
            resend_cooldown,
            token_ttl,
        )
        self.users: dict[int, UserRecord] = {}
        self.otps: dict[uuid.UUID, OtpRecord] = {}
        self.last_sent: dict[tuple[str, str], float] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.reset_codes: dict[str, Grant] = {}
        self.oauth_identities: dict[str, str] = {}
        self.oauth_verifications: dict[uuid.UUID, str] = {}

    # -- identifiers and secrets -------------------------------------------------------------
    def new_uuid(self) -> uuid.UUID:
        """A random version-4 UUID, from the sandbox's seeded generator."""
        return uuid.UUID(int=self.rng.getrandbits(128) & _CLEAR_VERSION_AND_VARIANT | _VERSION_4)

    def new_secret(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(192):048x}"

    # -- users --------------------------------------------------------------------------------
    def user_by_phone(self, phone: str) -> UserRecord | None:
        return next((u for u in self.users.values() if u.phone_number == phone), None)

    def user_by_email(self, email: str) -> UserRecord | None:
        email = email.lower()
        return next((u for u in self.users.values() if u.email == email), None)

    def add_user(self, **fields: Any) -> UserRecord:
        user = UserRecord(id=len(self.users) + 1, **fields)
        self.users[user.id] = user
        return user

    # -- OTPs ---------------------------------------------------------------------------------
    def issue_otp(
        self,
        channel: str,
        recipient: str,
        purpose: str,
        *,
        provider: int | None = None,
        user_id: int | None = None,
        payload: str | None = None,
    ) -> OtpRecord:
        """Send a new code, unless one went to the same recipient within the cooldown."""
        now = self.clock.now()
        key = (purpose, recipient.lower())
        last = self.last_sent.get(key)
        wait = 0.0 if last is None else last + self.resend_cooldown - now
        if wait > 0:
            raise ApiFailure(
                4003,
                f"A code was sent to this {'number' if channel == 'sms' else 'address'} moments "
                f"ago; try again in {int(wait + 0.999)} seconds.",
                headers={"Retry-After": str(int(wait + 0.999))},
            )
        request_id = self.new_uuid()  # before the code: a seed gives the ids and codes it gave
        code = self.fixed_otp or str(below(self.rng, 10**self.otp_length)).zfill(self.otp_length)
        # In OtpRecord's order: request_id, channel, recipient, code, purpose, expires_at,
        # user_id, payload.
        record = OtpRecord(
            request_id, channel, recipient, code, purpose, now + self.otp_ttl, user_id, payload
        )
        self.otps[record.request_id] = record
        self.last_sent[key] = now
        self.send(
            channel,
            recipient,
            record.code,
            purpose,
            request_id=record.request_id,
            provider=provider,
        )
        return record

    def send(
        self,
        channel: str,
        recipient: str,
        code: str,
        purpose: str,
        *,
        request_id: uuid.UUID | None = None,
        provider: int | None = None,
    ) -> None:
        """Put a message in the outbox, stamped with the sandbox time."""
        now = self.clock.now()
        self.outbox.record(channel, recipient, code, request_id, purpose, provider, now)

    def find_otp(self, request_id: uuid.UUID, recipient: str | None, purpose: str) -> OtpRecord:
        record = self.otps.get(request_id)
        if record is None or record.purpose != purpose:
            raise ApiFailure(400, "No code was sent with this request id.")
        if recipient is not None and record.recipient.lower() != recipient.lower():
            raise ApiFailure(400, "This request id belongs to another recipient.")
        return record

    def check_otp(self, record: OtpRecord, code: str) -> None:
        """Apply the rules: once, before expiry, at most ``max_attempts`` wrong tries."""
        if record.consumed or record.validated:
            raise ApiFailure(400, "This code was already used; request a new one.")
        if self.clock.now() >= record.expires_at:
            raise ApiFailure(400, "This code has expired; request a new one.")
        if record.attempts >= self.max_attempts:
            raise ApiFailure(4003, "Too many wrong codes; request a new one.")
        if code != record.code:
            record.attempts += 1
            left = self.max_attempts - record.attempts
            if left <= 0:
                raise ApiFailure(4003, "Too many wrong codes; request a new one.")
            raise ApiFailure(400, f"The code is wrong; {left} attempt(s) left.")
        record.validated = True

    def validated_otp(
        self,
        request_id: uuid.UUID | None,
        recipient: str,
        code: str | None,
        purpose: str,
        field: str,
    ) -> OtpRecord:
        """For Register: the OTP must have been validated, be unused and match (not consumed here,
        so that a registration refused for another reason does not burn it)."""
        if request_id is None or code is None:
            raise ApiFailure.invalid(field, "a validated OTP (request id and code) is required")
        record = self.find_otp(request_id, recipient, purpose)
        if not record.validated or record.consumed or record.code != code:
            raise ApiFailure(400, f"The {field} was not validated for this registration.")
        if self.clock.now() >= record.expires_at:
            raise ApiFailure(400, f"The {field} has expired; validate a new one.")
        return record

    # -- tokens -------------------------------------------------------------------------------
    def issue_tokens(self, subject: int | str) -> tuple[str, str]:
        now = self.clock.now()
        access, refresh = self.new_secret("sbx_at"), self.new_secret("sbx_rt")
        self.access_tokens[access] = Grant(subject=subject, expires_at=now + self.token_ttl)
        self.refresh_tokens[refresh] = Grant(subject=subject, expires_at=now + 30 * self.token_ttl)
        return access, refresh

    def user_for_token(self, authorization: str | None) -> UserRecord:
        scheme, _, token = (authorization or "").partition(" ")
        grant = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is None or grant.used:
            raise ApiFailure(403, "A valid user access token is required (Authorization: Bearer).")
        if self.clock.now() >= grant.expires_at:
            raise ApiFailure(403, "The access token has expired; refresh it or log in again.")
        user = self.users.get(grant.subject) if isinstance(grant.subject, int) else None
        if user is None:
            raise ApiFailure(403, "This token does not belong to a user.")
        return user
