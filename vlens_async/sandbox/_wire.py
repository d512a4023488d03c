"""The sandbox's side of the wire, written by hand (not with the SDK's codec) so that the two
implementations check each other: envelopes, failures, and reading request fields."""

from __future__ import annotations

import json
import re
import uuid as _uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._json import compact_dumps

__all__ = [
    "ApiFailure",
    "Body",
    "FixedObject",
    "Json",
    "envelope_bytes",
    "http_status_for",
    "uuid_text",
]

_dumps = compact_dumps(ensure_ascii=True)
# What orjson writes byte for byte as _dumps does, in ASCII text (a UUID as str() spells it).
_PLAIN = frozenset({str, bool, int, type(None), _uuid.UUID})
_fast_dumps: Callable[[Any], bytes] | None
try:
    from orjson import dumps as _fast_dumps
except ImportError:  # pragma: no cover - a platform without orjson wheels
    _fast_dumps = None
_escape = json.encoder.encode_basestring_ascii  # what _dumps writes a str as, quotes included
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


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
    if code is None and message is None and descriptions is None:
        # A success: only ``data`` varies, so the rest of the envelope is written as is.
        text = data.text if type(data) is Json else _dumps(data)
        return b"".join((b'{"data":', text.encode(), _SUCCESS_TAIL))
    body = {
        "data": data,
        "error_code": code,
        "error_message": message,
        "error_descriptions": descriptions,
    }
    return _dumps(body).encode()


_SUCCESS_TAIL = b',"error_code":null,"error_message":null,"error_descriptions":null}'


class Json:
    """JSON text already written (by :class:`FixedObject`), which envelope_bytes puts in as is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Json({self.text!r})"


class FixedObject:
    """Writes JSON objects that have every one of ``keys``, in that order, null unless given.

    An answer such as ``ApiOutputRegister`` has some twenty keys, most of them null in any one
    answer. For each set of given keys (in the order given) the text around their values is
    written once, around the places of their values; each object then costs writing its given
    values only. Keys
    that are not in ``keys`` but in ``extra`` follow them, in the order given. What comes out is
    what ``_dumps`` gives for the same dict, except that a UUID is written as its text.
    """

    def __init__(self, keys: Sequence[str], extra: Sequence[str] = ()) -> None:
        self.keys = tuple(keys)
        self.allowed = frozenset(self.keys) | frozenset(extra)
        self._nulls = dict.fromkeys(self.keys)  # every key, in order, null
        # given keys -> (the text around their values, which go at the odd indexes; the given
        # keys in the order their values are written)
        self._layouts: dict[tuple[str, ...], tuple[list[str], tuple[str, ...]]] = {}

    def write(self, fields: Mapping[str, Any]) -> Json:
        given = tuple(fields)
        layout = self._layouts.get(given)
        if layout is None:
            layout = self._layouts[given] = self._layout(given)
        if _fast_dumps is not None and _PLAIN.issuperset(map(type, fields.values())):
            # Values orjson writes as _dumps does, as long as the text is ASCII without DEL
            # (_dumps escapes the rest): the whole object in C, in a third of the time.
            whole = self._nulls.copy()
            whole.update(fields)  # keys not in self.keys follow, in the order given
            try:
                written = _fast_dumps(whole)
            except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits
                pass
            else:
                # _dumps escapes all but printable ASCII; orjson leaves DEL (0x7f) as it is.
                if written.isascii() and b"\x7f" not in written:
                    return Json(written.decode("ascii"))
        around, order = layout
        parts = around.copy()
        parts[1::2] = [_write_value(fields[key]) for key in order]
        return Json("".join(parts))

    def _layout(self, given: tuple[str, ...]) -> tuple[list[str], tuple[str, ...]]:
        unknown = set(given) - self.allowed
        assert not unknown, unknown
        written = self.keys + tuple(key for key in given if key not in self.keys)
        around = [""]  # around[-1]: the text since the last given value
        for index, key in enumerate(written):
            around[-1] += ("{" if index == 0 else ",") + _escape(key) + ":"
            if key in given:
                around += ["", ""]  # a value's place, then the text after it
            else:
                around[-1] += "null"
        around[-1] += "}" if written else "{}"
        return around, tuple(key for key in written if key in given)


def _write_value(value: Any) -> str:
    """One value as _dumps writes it, except that a UUID is written as its text; the usual
    kinds are written without _dumps, whose set-up costs more than writing them."""
    if type(value) is str:
        return _escape(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)  # what the C encoder writes an int with
    if isinstance(value, _uuid.UUID):
        return f'"{uuid_text(value.int)}"'  # no character of it needs escaping
    return _dumps(value)


def uuid_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits))``, a little sooner (``bytes.hex`` is quicker than formatting)."""
    hex_ = bits.to_bytes(16, "big").hex()
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


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
        value = self.fields.get(name)
        if type(value) is str and _E164.fullmatch(value):
            return value  # the usual case, which passes every check phone() makes
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
