"""The wire codec: one cattrs converter plus the Vlens envelope rules.

``make_converter()`` builds a fresh converter, like cattrs' preconf modules: snake_case fields
map to camelCase keys (or to a field's ``WIRE_NAME`` metadata), ``SmsProvider`` maps to its
integer, UUIDs to their lowercase string. Decoding is strict about types (``"true"`` is not a
bool, ``1.5`` is not an int) and tolerant of unknown and missing keys.
"""

from __future__ import annotations

import codecs
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from ._errors import VlensAPIError, VlensError, VlensResponseError, error_class_for_code
from ._json import dumps, loads
from ._models import WIRE_NAME, ExistenceResult, SmsProvider
from ._redact import redact_excerpt

__all__ = ["Codec", "make_converter"]

_OK_CODES = (None, 0)
_INT64_LIMIT = 2**63
"""An integer field holds a signed 64-bit value. Wider ones are refused, never rounded: orjson
reads an integer literal beyond 64 bits as a float, which would come back as another integer."""


class _Refused(ValueError):
    """A hook's refusal, worded without the value (which may be a secret)."""


_MAX_DEPTH = 32  # nesting kept in error_descriptions (field details nest 2 or 3 deep)


def _within_depth(value: object) -> object:
    """``value``, or a note in its place when it nests deeper than ``_MAX_DEPTH``: walking it
    (to redact, to print) would exhaust Python's recursion limit."""
    level: list[object] = [value]
    for _ in range(_MAX_DEPTH):
        level = [
            item
            for node in level
            if isinstance(node, (list, dict))
            for item in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return value
    return f"(dropped: nested deeper than {_MAX_DEPTH} levels)"


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean"}
    return kinds.get(type(value), "number")


def _structure_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise _Refused(f"expected str, got {_json_kind(value)}")


def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise _Refused(f"expected bool, got {_json_kind(value)}")


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise _Refused("expected int, got a fractional number")
        if abs(value) >= _INT64_LIMIT:  # maybe a wider integer, rounded by orjson
            raise _Refused("expected int of at most 64 bits")
        return int(value)  # 3.0 is 3
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(f"expected int, got {_json_kind(value)}")
    if not -_INT64_LIMIT <= value < _INT64_LIMIT:
        raise _Refused("expected int of at most 64 bits")
    return value


def _structure_float(value: Any, _: type) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # an int is a float by JSON's rules
    raise _Refused(f"expected float, got {_json_kind(value)}")


def _structure_uuid(value: Any, _: type) -> uuid.UUID:
    if not isinstance(value, str):
        raise _Refused(f"expected a UUID string, got {_json_kind(value)}")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _Refused("expected a UUID string, got other text") from None


def _structure_provider(value: Any, _: type) -> SmsProvider:
    try:
        return SmsProvider(_structure_int(value, int))
    except _Refused:
        raise
    except ValueError:
        raise _Refused("expected an SMS provider number from 1 to 7") from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _renames(cls: type) -> dict[str, Any]:
    return {
        field.name: override(rename=field.metadata.get(WIRE_NAME) or _camel(field.name))
        for field in attrs.fields(cls)
    }


def _nullable_keys(cls: type) -> frozenset[str]:
    """The wire keys of ``cls``'s fields that are optional and default to None."""
    fields = attrs.fields(attrs.resolve_types(cls))
    return frozenset(
        field.metadata.get(WIRE_NAME) or _camel(field.name)
        for field in fields
        if field.default is None and _optional_of(field.type) is not None
    )


def _optional_of(kind: Any) -> Any:
    """``X`` for ``X | None`` (a two-member union with None), else None."""
    if typing.get_origin(kind) not in (typing.Union, types.UnionType):
        return None
    members = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    return members[0] if len(members) == 1 and len(typing.get_args(kind)) == 2 else None


def make_converter(*, detailed_validation: bool = True) -> cattrs.Converter:
    """A new converter configured for the Vlens wire format.

    Detailed validation (cattrs' default) costs nothing measurable while the data is right, and
    lets an error name every wrong field by its path; with ``detailed_validation=False`` an
    error says what is wrong but not where.
    """
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed_validation)
    for kind, hook in _HOOKS.items():
        converter.register_structure_hook(kind, hook)
    converter.register_unstructure_hook(uuid.UUID, str)
    converter.register_unstructure_hook(SmsProvider, int)

    def optional_hook(kind: Any) -> Callable[[Any, Any], Any]:
        inner = _optional_of(kind)
        hook = converter.get_structure_hook(inner)  # looked up once, not on every value
        same = inner if inner in (str, bool) else None  # JSON's own types: nothing to check

        def structure(value: Any, _: Any) -> Any:
            if value is None or value.__class__ is same:
                return value
            return hook(value, inner)

        return structure

    def model_hook(cls: type) -> Callable[[Any, Any], Any]:
        structure: Callable[[Any, Any], Any] = make_dict_structure_fn(
            cls, converter, **_renames(cls)
        )
        nullable = _nullable_keys(cls)

        def structure_object(value: Any, _: Any) -> Any:
            if not isinstance(value, Mapping):  # a string would pass ``key in value``
                raise _Refused(f"expected a JSON object, got {_json_kind(value)}")
            # Vlens sends every key, most of them null: a null optional field keeps its
            # default (None) without a call to its hook.
            given = {
                key: item for key, item in value.items() if item is not None or key not in nullable
            }
            return structure(given, cls)

        return structure_object

    converter.register_structure_hook_factory(lambda t: _optional_of(t) is not None, optional_hook)
    converter.register_structure_hook_factory(attrs.has, model_hook)
    converter.register_unstructure_hook_factory(
        attrs.has,
        lambda cls: make_dict_unstructure_fn(
            cls, converter, _cattrs_omit_if_default=True, **_renames(cls)
        ),
    )
    base_existence = converter.get_structure_hook(ExistenceResult)
    converter.register_structure_hook(
        ExistenceResult, lambda value, cls: _derive_exists(base_existence(value, cls))
    )
    return converter


_HOOKS: dict[type, Callable[[Any, type], Any]] = {
    str: _structure_str,
    bool: _structure_bool,
    int: _structure_int,
    float: _structure_float,
    uuid.UUID: _structure_uuid,
    SmsProvider: _structure_provider,
}


def _derive_exists(result: ExistenceResult) -> ExistenceResult:
    if result.exists is not None:
        return result
    flags = (result.email_exists, result.phone_number_exists)
    if all(flag is None for flag in flags):
        return result
    return attrs.evolve(result, exists=any(bool(flag) for flag in flags))


def _describe(exc: BaseException, kind: type | None) -> str:
    """Our hooks' own words; cattrs' for anything else (a converter of one's own)."""
    if isinstance(exc, _Refused):
        return str(exc)
    return format_exception(exc, kind).removeprefix("invalid value for type, ")


def _readable(exc: Exception) -> str:
    """cattrs' "expected int @ data.user.id" as "data.user.id: expected int"."""
    lines = []
    for line in cattrs.transform_error(exc, path="data", format_exception=_describe)[:3]:
        message, _, path = line.rpartition(" @ ")
        lines.append(f"{path}: {message}")
    return "; ".join(lines)


class _Invalid(Exception):
    """Internal: ``data`` did not match the result type (the message names the field)."""


# What a converter's hooks raise on data of the wrong shape (cattrs' grouped errors, or a
# hook's own); anything else is a bug, and goes up untouched.
_DATA_ERRORS = (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError)


class Codec:
    """Encodes request bodies and decodes envelopes with one converter."""

    def __init__(self, converter: cattrs.Converter | None = None) -> None:
        self.converter = converter or make_converter()
        self._decoders: dict[Any, Callable[[Any], Any]] = {}

    @classmethod
    def default(cls) -> Codec:
        """One shared codec for every client that brings none: it holds no per-client state,
        and building converters and their hooks costs about a millisecond."""
        global _DEFAULT
        if _DEFAULT is None:
            _DEFAULT = cls()
        return _DEFAULT

    def encode(self, body: object) -> bytes:
        """The JSON bytes of a request body (an attrs instance)."""
        return dumps(self.converter.unstructure(body))

    def decoder(self, result_type: Any) -> Callable[[Any], Any]:
        """A function turning an envelope's ``data`` into ``result_type``, built once per type."""
        cached = self._decoders.get(result_type)
        if cached is None:
            cached = self._decoders[result_type] = self._make_decoder(result_type)
        return cached

    def _make_decoder(self, result_type: Any) -> Callable[[Any], Any]:
        if result_type is object or result_type is Any:
            return lambda data: data
        structure = self.converter.get_structure_hook(result_type)

        def decode(data: Any) -> Any:
            try:
                return structure(data, result_type)
            except _DATA_ERRORS as exc:
                raise _Invalid(_readable(exc)) from exc

        return decode

    def decode(
        self,
        status: int,
        content: bytes,
        result_type: Any,
        *,
        operation: str | None = None,
        retry_after: float | None = None,
    ) -> Any:
        """Return the decoded ``data`` of a successful envelope, or raise the typed error."""
        ok_status = 200 <= status < 300
        if content.startswith(codecs.BOM_UTF8):  # RFC 8259 lets a reader ignore one
            content = content[len(codecs.BOM_UTF8) :]
        try:
            body = loads(content) if content else None
        except ValueError:  # not JSON: bad UTF-8, NaN, nested past the parser's limit...
            body = None
        if not isinstance(body, dict):
            if not ok_status:
                raise _status_error(status, content, operation, retry_after)
            problem = "invalid JSON" if content else "empty body"
            if content and body is not None:
                problem = f"expected a JSON object, got {_json_kind(body)}"
            raise self._response_error(problem, status, content, operation)
        code = body.get("error_code")
        if code not in _OK_CODES or isinstance(code, bool) or not ok_status:  # False == 0
            raise self._api_error(body, status, content, operation, retry_after)
        try:
            return self.decoder(result_type)(body.get("data"))
        except _Invalid as invalid:
            problem = str(invalid)
            cause = invalid.__cause__
        raise self._response_error(problem, status, content, operation) from cause

    def _api_error(
        self,
        body: dict[str, Any],
        status: int,
        content: bytes,
        operation: str | None,
        retry_after: float | None,
    ) -> VlensError:
        code = body.get("error_code")
        if code in _OK_CODES and not isinstance(code, bool):
            code = status
        if isinstance(code, bool) or not isinstance(code, int):
            return self._response_error("error_code is not an integer", status, content, operation)
        message = body.get("error_message")
        error_type = error_class_for_code(code, status)
        return error_type(
            code,
            message if isinstance(message, str) else None,
            http_status=status,
            operation=operation,
            descriptions=_within_depth(body.get("error_descriptions")),
            retry_after=retry_after,
        )

    @staticmethod
    def _response_error(
        problem: str, status: int, content: bytes, operation: str | None
    ) -> VlensResponseError:
        return VlensResponseError(
            problem, http_status=status, excerpt=redact_excerpt(content), operation=operation
        )


_DEFAULT: Codec | None = None


def _status_error(
    status: int, content: bytes, operation: str | None, retry_after: float | None
) -> VlensAPIError:
    """An HTTP error status whose body is not an envelope (a proxy's HTML page, or nothing)."""
    excerpt = redact_excerpt(content, limit=80)
    message = f"HTTP {status} with a non-envelope body" + (f": '{excerpt}'" if excerpt else "")
    return error_class_for_code(status, status)(
        status, message, http_status=status, operation=operation, retry_after=retry_after
    )
