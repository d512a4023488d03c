"""The sandbox's side of the wire, written by hand (not with the SDK's codec) so that the two
implementations check each other: envelopes, failures, and reading request fields."""

from __future__ import annotations

import re
import uuid as _uuid
from typing import Any

from .._json import dumps

__all__ = ["ApiFailure", "Body", "envelope_bytes", "http_status_for", "is_email", "is_phone"]

_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def is_phone(value: str) -> bool:
    """Whether ``value`` is an E.164 phone number, as a request's phone fields must be."""
    return _E164.fullmatch(value) is not None


def is_email(value: str) -> bool:
    """Whether ``value`` is an e-mail address, as a request's e-mail fields must be."""
    return _EMAIL.fullmatch(value) is not None


def http_status_for(code: int) -> int:
    """HTTP-level codes travel as the status too; Vlens' own 4xxx/5xxx codes ride on HTTP 200."""
    return code if 400 <= code < 600 else 200


class ApiFailure(Exception):
    """A refusal the sandbox answers with an error envelope."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        descriptions: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.descriptions = descriptions
        self.headers = headers or {}

    @classmethod
    def invalid(cls, field: str, problem: str) -> ApiFailure:
        """A 400 naming the wire field, with field-level details in ``error_descriptions``."""
        return cls(400, f"{field}: {problem}", descriptions={field: [problem]})


def envelope_bytes(
    data: Any = None,
    *,
    code: int | None = None,
    message: str | None = None,
    descriptions: Any = None,
) -> bytes:
    """The Vlens envelope around ``data`` (JSON values and UUIDs), or around a refusal."""
    envelope = {
        "data": data,
        "error_code": code,
        "error_message": message,
        "error_descriptions": descriptions,
    }
    return dumps(envelope)


class Body:
    """Typed access to a request's JSON fields; each problem is a 400 naming the wire field."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def has(self, name: str) -> bool:
        return self.fields.get(name) is not None

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self.fields.get(name)
        if value is None:
            if required:
                raise ApiFailure.invalid(name, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise ApiFailure.invalid(name, "must be a non-empty string")
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name)
        assert value is not None
        return value

    def phone(self, name: str = "phoneNumber", *, required: bool = True) -> str | None:
        value = self.text(name, required=required)
        if value is not None and not _E164.fullmatch(value):
            raise ApiFailure.invalid(name, "must be an E.164 phone number such as +201001234567")
        return value

    def required_phone(self, name: str = "phoneNumber") -> str:
        value = self.phone(name)
        assert value is not None
        return value

    def email(self, name: str = "email", *, required: bool = True) -> str | None:
        value = self.text(name, required=required)
        if value is not None and not _EMAIL.fullmatch(value):
            raise ApiFailure.invalid(name, "must be an e-mail address")
        return value.lower() if value is not None else None

    def required_email(self, name: str = "email") -> str:
        value = self.email(name)
        assert value is not None
        return value

    def uuid(self, name: str, *, required: bool = True) -> _uuid.UUID | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            return _uuid.UUID(value)
        except ValueError:
            raise ApiFailure.invalid(name, "must be a UUID") from None

    def required_uuid(self, name: str) -> _uuid.UUID:
        value = self.uuid(name)
        assert value is not None
        return value

    def integer(self, name: str, *, required: bool = True) -> int | None:
        value = self.fields.get(name)
        if value is None:
            if required:
                raise ApiFailure.invalid(name, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiFailure.invalid(name, "must be an integer")
        return value
