"""Masking of personal data and redaction of secrets, for logs, reprs and error messages."""

from __future__ import annotations

import re

import attrs

__all__ = [
    "hide_codes_in",
    "hide_codes_within",
    "mask_contact",
    "mask_contacts_in",
    "mask_email",
    "mask_phone",
    "redact_error",
    "redact_excerpt",
    "redact_secrets",
    "secrets_of",
]

EXCERPT_LENGTH = 160
_HIDDEN = "***"

# JSON string values of keys that hold secrets: OTPs, tokens, passwords, keys, reset codes.
_SECRET_VALUE = re.compile(
    r'("(?:[A-Za-z_]*(?:otp|token|password|apikey|api_key|secret|code)[A-Za-z_]*)"\s*:\s*)'
    r'"(?:[^"\\]|\\.)*"?',  # the closing quote may be cut off in a truncated body
    re.IGNORECASE,
)
# The same keys' values sent as JSON numbers (an OTP like 918273); error_code stays visible.
_SECRET_NUMBER = re.compile(
    r'("(?!error_code")[A-Za-z_]*(?:otp|code|password|pin)"\s*:\s*)-?\d[\d.eE+-]*',
    re.IGNORECASE,
)
# A code quoted in free text ("otp=918273", "bad code 918273", "PIN: 4417"): a server may echo
# one it generated, which the client never knew and so cannot redact by value. After the word
# "code" only runs of 5 digits or more: "error code 5000" names a Vlens code, not a secret.
_CODE_IN_TEXT = re.compile(
    r"(?i)\b((?:otp|pin|passcode|password)\w*\W{1,3})\d{4,10}\b"
    r"|\b(code\w*\W{1,3})\d{5,10}\b"
)
# A JSON Web Token (an access or refresh token) quoted in free text: header.payload.signature,
# each base64url, the first two starting with '{"' encoded ("eyJ").
_JWT = re.compile(r"\beyJ[\w-]{6,}\.eyJ[\w-]{6,}\.[\w-]*")
# A JSON escape of a character other than a quote or backslash: "\u002B" is how .NET's
# System.Text.Json writes "+" by default, "\/" how some encoders write "/".
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\/")
# \w: internationalised addresses (mona@مثال.مصر) too. A number may be written with spaces,
# dashes or parentheses: +20 (100) 123-4567.
_EMAIL = re.compile(r"[\w.%+-]+@[\w.-]+\.[^\W\d_]{2,}")
_DIGIT_RUN = re.compile(r"\+?\d[\d\s()-]{6,}\d")
_LONG_OPAQUE = re.compile(r"[A-Za-z0-9_\-.=+/]{24,}")


def mask_phone(phone: str | None) -> str | None:
    """``+201001234567`` -> ``+20*******567``: country code and last three digits only."""
    if phone is None:
        return None
    if len(phone) <= 6:
        return "*" * len(phone)
    head = phone[:3] if phone.startswith("+") else phone[:2]
    return head + "*" * (len(phone) - len(head) - 3) + phone[-3:]


def mask_email(email: str | None) -> str | None:
    """``someone@example.com`` -> ``s***@example.com``."""
    if email is None:
        return None
    local, at, domain = email.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_contact(value: str | None, *, also_names: bool = False) -> str | None:
    """Mask a value that may be an e-mail, a phone number or a user name derived from them.

    Any other text is kept; with ``also_names`` (a user name, which may be a password given
    in its place) anything but an e-mail address is cut to its first character (``a***``).
    """
    if value is None:
        return None
    if also_names:
        return mask_email(value) if _EMAIL.fullmatch(value) else value[:1] + _HIDDEN
    if "@" in value:
        return mask_email(value)
    if sum(ch.isdigit() for ch in value) >= 4:
        return mask_phone(value)
    return value


def _mask_digits(match: re.Match[str]) -> str:
    return mask_phone(match.group(0)) or ""


def hide_codes_in(text: str) -> str:
    """``text`` with codes quoted after "otp", "PIN" or "code" (5+ digits there) and tokens
    (JWTs) hidden."""
    text = _JWT.sub(_HIDDEN, text)
    return _CODE_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + _HIDDEN, text)


def hide_codes_within(value: object) -> object:
    """``value`` (JSON-like: an error's field-level descriptions) with :func:`hide_codes_in`
    applied to every string in it."""
    if isinstance(value, str):
        return hide_codes_in(value)
    if isinstance(value, list):
        return [hide_codes_within(item) for item in value]
    if isinstance(value, dict):
        return {key: hide_codes_within(item) for key, item in value.items()}
    return value


def mask_contacts_in(text: str) -> str:
    """Mask every e-mail address, phone-like digit run and quoted code inside free text."""
    text = hide_codes_in(text)
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)) or "", text)
    return _DIGIT_RUN.sub(_mask_digits, text)


def _unescaped(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return "/"
    char = chr(int(match.group(1), 16))
    # Quotes and backslashes stay escaped, so that JSON strings keep their ends for the
    # patterns below; control characters and lone surrogates are not printed.
    return char if char.isprintable() and char not in '"\\' else match.group(0)


def redact_excerpt(content: bytes, limit: int = EXCERPT_LENGTH) -> str:
    """A short, printable start of a response body with secrets and personal data hidden.

    JSON escapes are undone first: a secret the server echoed as ``P@ss\\u002Bword`` must
    meet the redaction of ``P@ss+word`` (and reads better so). Unprintable characters
    show as U+FFFD.
    """
    text = content[: limit * 4].decode("utf-8", errors="replace")
    text = _JSON_ESCAPE.sub(_unescaped, text)
    text = _SECRET_VALUE.sub(r'\1"***"', text)
    text = _SECRET_NUMBER.sub(r'\1"***"', text)
    text = mask_contacts_in(text)
    text = _LONG_OPAQUE.sub("***", text)
    # Printed as it is inside messages (a repr would double a secret's backslashes, out of
    # reach of its redaction by value): so nothing unprintable (a terminal obeys controls).
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in " ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Request-body fields whose values are secrets: OTPs, passwords, tokens, reset codes.
_SECRET_FIELD = re.compile(r"(?:otp|password|token|reset_code|secret)$")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
_CUT = "…"  # where redact_excerpt and error messages shorten a text
_CUT_WINDOW = 4096
_MIN_SECRET = 4  # shorter values would blank out unrelated text; no real secret is that short


def secrets_of(body: object, *known: str | None) -> list[str]:
    """The secret strings of one call: ``known`` ones (API key, bearer token) and the values of
    ``body``'s secret fields (an attrs request body), longest first."""
    values = [value for value in known if value]
    kind = type(body)
    for field in attrs.fields(kind) if attrs.has(kind) else ():
        if _SECRET_FIELD.search(field.name):
            value = getattr(body, field.name, None)
            if isinstance(value, str) and value:
                values.append(value)
    return sorted({value for value in values if len(value) >= _MIN_SECRET}, key=len, reverse=True)


def redact_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of each of ``secrets``, and any bearer token, replaced
    by ``***``; also the start of one cut off by an ellipsis (a shortened excerpt), and the
    form a JSON string gives one with quotes or backslashes (``\\"``, as excerpts show it)."""
    for secret in secrets:
        quoted = secret.replace("\\", "\\\\").replace('"', '\\"')
        for form in (quoted, secret) if quoted != secret else (secret,):
            if form in text:
                text = text.replace(form, _HIDDEN)
    if _CUT in text:
        pieces = text.split(_CUT)
        text = _CUT.join([*(_without_secret_end(p, secrets) for p in pieces[:-1]), pieces[-1]])
    return _BEARER.sub(rf"\g<1>{_HIDDEN}", text)


def _without_secret_end(text: str, secrets: list[str]) -> str:
    """``text`` with its end hidden when it is the start of one of ``secrets`` (2+ characters;
    the last ``_CUT_WINDOW`` characters are looked at, so that a huge text costs little)."""
    tail = text[-_CUT_WINDOW:]
    for secret in secrets:
        start = tail.find(secret[:2])
        while start != -1:
            if secret.startswith(tail[start:]):
                return text[: len(text) - len(tail) + start] + _HIDDEN
            start = tail.find(secret[:2], start + 1)
    return text


def redact_error(error: BaseException, secrets: list[str]) -> None:
    """Remove ``secrets`` from ``error`` and every exception it chains to, in place: message
    arguments, string attributes (``message``, ``excerpt``, ...) and JSON-like details."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.args = tuple(_scrubbed(arg, secrets) for arg in current.args)
        for name, value in vars(current).items():
            scrubbed = _scrubbed(value, secrets)
            if scrubbed != value:
                setattr(current, name, scrubbed)
        pending.extend(
            link for link in (current.__cause__, current.__context__) if link is not None
        )


def _scrubbed(value: object, secrets: list[str]) -> object:
    if isinstance(value, str):
        return redact_secrets(value, secrets)
    if isinstance(value, list):
        return [_scrubbed(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item, secrets) for key, item in value.items()}
    return value
