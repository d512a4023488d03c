"""Checks on caller input, run before anything is sent; each failure names the field."""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from typing import Any

from ._errors import VlensInputError
from ._models import GeoLocation, SmsProvider

__all__ = [
    "OTP_MAX_DIGITS",
    "OTP_MIN_DIGITS",
    "check_email",
    "check_header_value",
    "check_otp",
    "check_phone",
    "check_provider",
    "check_text",
    "check_token",
    "check_uuid",
]

_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")  # ASCII digits only: \d would pass any script's
# Arabic-Indic and Eastern Arabic-Indic (Persian/Urdu) digits, as Egyptian keyboards type them.
_ARABIC_DIGITS = {zero + d: str(d) for zero in (0x0660, 0x06F0) for d in range(10)}
# An OTP is also read from full-width digits (East Asian input methods), and the invisible
# characters a copy-paste brings along are dropped: soft hyphen, Arabic letter mark, zero-width
# space/non-joiner/joiner, bidi marks, embeddings and isolates, word joiner, BOM.
_INVISIBLE = "\u00ad\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
_INVISIBLE += "\u2060\u2066\u2067\u2068\u2069\ufeff"
_OTP_DIGITS = {
    **_ARABIC_DIGITS,
    **{0xFF10 + d: str(d) for d in range(10)},
    **dict.fromkeys(map(ord, _INVISIBLE)),
}
# Vlens codes have 4 to 10 digits; any other length is a typo. The sandbox (Sandbox(otp_length)
# and --otp-length) reads these bounds too, so it never issues a code the SDK refuses.
OTP_MIN_DIGITS, OTP_MAX_DIGITS = 4, 10
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


MAX_TEXT = 16_384
"""The most characters any one argument may have: far more than a real password, name, e-mail
or token, far less than the 1 MiB a request body must stay under (aiohttp warns past it)."""


def _require_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise VlensInputError(field, f"expected a string, got {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise VlensInputError(field, f"is {len(value):,} characters long; at most {MAX_TEXT:,}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates
            raise VlensInputError(field, "contains characters that cannot be encoded") from None
    return value


def check_phone(field: str, value: object) -> str:
    """Return the E.164 form of a phone number, after removing spaces, dashes and parentheses
    and writing Arabic-Indic digits as ASCII ones."""
    if type(value) is str and _E164.fullmatch(value):
        return value  # already E.164, the usual case
    text = _require_str(field, value)
    compact = _PHONE_SEPARATORS.sub("", text.translate(_ARABIC_DIGITS))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        raise VlensInputError(
            field, "expected an E.164 number with country code, such as +201001234567"
        )
    return compact


def check_email(field: str, value: object) -> str:
    """Return the stripped e-mail address; it needs one @ and a dotted domain."""
    text = _require_str(field, value).strip()
    if not _EMAIL.fullmatch(text) or any(unicodedata.category(ch) == "Cc" for ch in text):
        raise VlensInputError(field, "expected an e-mail address such as name@example.com")
    return text


def check_otp(field: str, value: object) -> str:
    """Return an OTP as ASCII digits: Arabic-Indic digits are rewritten as for phone numbers,
    full-width ones too, invisible characters and surrounding whitespace dropped; anything
    else, or a length Vlens never sends, is refused before it can burn an attempt. The value
    is never echoed."""
    text = _require_str(field, value).translate(_OTP_DIGITS).strip()
    if not text or not text.isascii() or not text.isdigit():
        raise VlensInputError(field, "expected the code's digits (0-9) and nothing else")
    if not OTP_MIN_DIGITS <= len(text) <= OTP_MAX_DIGITS:
        raise VlensInputError(
            field,
            f"a code has {OTP_MIN_DIGITS} to {OTP_MAX_DIGITS} digits (as the sandbox's "
            f"--otp-length), this one has {len(text)}",
        )
    return text


def check_token(field: str, value: object) -> str:
    """A non-empty opaque token (an ID token, a reset code) without whitespace. Never echoed."""
    text = _require_str(field, value)
    if not text or any(ch.isspace() for ch in text):
        raise VlensInputError(field, "expected a non-empty value without whitespace")
    return text


def check_uuid(field: str, value: object) -> uuid.UUID:
    """Accept a UUID or its string form."""
    if isinstance(value, uuid.UUID):
        return value
    text = _require_str(field, value)
    try:
        return uuid.UUID(text)
    except ValueError:
        # Not echoed: a code or token passed here by mistake (arguments swapped) is a secret.
        example = "0b7e0f5c-3c1e-4d4b-9a57-3a1c2f6c9d21"
        raise VlensInputError(field, f"expected a UUID such as {example}") from None


def check_provider(field: str, value: object) -> SmsProvider | None:
    """Accept an SmsProvider, its integer or its name; ``None`` and 0 mean the tenant default."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return None
    try:
        if isinstance(value, str):
            return SmsProvider[value.strip().upper().replace(" ", "_")]
        if isinstance(value, int) and not isinstance(value, bool):
            return SmsProvider(value)
    except (KeyError, ValueError):
        pass
    names = ", ".join(p.name for p in SmsProvider)
    # A misspelt name is quoted back; digits are not: they may be an OTP given here by mistake.
    shown = isinstance(value, str) and len(value) <= 40 and not any(map(str.isdigit, value))
    wrong = f" {value!r}" if shown else ""
    raise VlensInputError(field, f"unknown SMS provider{wrong}; expected 1-7 or one of {names}")


def check_text(field: str, value: object, *, allow_empty: bool = False) -> str:
    """A plain required string (passwords, user names, IMEI...). Never echoed."""
    text = _require_str(field, value)
    if not allow_empty and not text.strip():
        raise VlensInputError(field, "must not be empty")
    return text


def check_header_value(field: str, value: Any) -> str:
    """A value bound for an HTTP header: non-empty, with no CR, LF or other control character."""
    text = _require_str(field, value)
    if not text.strip():
        raise VlensInputError(field, "must not be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise VlensInputError(field, "must not contain CR, LF or other control characters")
    return text


def check_geo(field: str, value: object) -> GeoLocation:
    """A GeoLocation with finite latitude in [-90, 90] and longitude in [-180, 180]."""
    if not isinstance(value, GeoLocation):
        raise VlensInputError(field, "expected a GeoLocation(latitude=, longitude=)")
    for name, limit in (("latitude", 90.0), ("longitude", 180.0)):
        number = getattr(value, name)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise VlensInputError(field, f"{name} must be a number")
        if not math.isfinite(number) or abs(number) > limit:
            raise VlensInputError(field, f"{name} must be finite and within ±{limit:g}")
    return value
