"""The wire codec: one cattrs converter plus the Vlens envelope rules.

``make_converter()`` builds a fresh converter (like cattrs' preconf modules): snake_case fields
map to camelCase keys (or to a field's ``WIRE_NAME`` metadata), ``SmsProvider`` maps to its
integer, UUIDs to their lowercase string. Decoding is strict about types (``"true"`` is not a
bool, ``1.5`` is not an int) and tolerant of unknown and missing keys.
"""

from __future__ import annotations

import inspect
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import VlensAPIError, VlensError, VlensResponseError, error_class_for_code
from ._json import compact_dumps, loads
from ._models import WIRE_NAME, ExistenceResult, SmsProvider
from ._redact import redact_excerpt
from ._uuids import parse_uuid

__all__ = ["Codec", "make_converter"]

T = TypeVar("T")
_OK_CODES = (None, 0)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _renames(cls: type) -> dict[str, Any]:
    return {
        field.name: override(rename=field.metadata.get(WIRE_NAME) or _camel(field.name))
        for field in attrs.fields(cls)
    }


def _strict(kind: type[T], *, also: tuple[type, ...] = ()) -> Callable[[Any, type], T]:
    accepted = (kind, *also)

    def structure(value: Any, _: type) -> T:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {kind.__name__}, got bool")
        if not isinstance(value, accepted):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value  # type: ignore[return-value]  # float accepts int by JSON's rules

    return structure


_INT64 = range(-(2**63), 2**63)
"""What an integer field holds. Wider values are refused, not rounded: orjson reads an integer
literal beyond 64 bits as a float, and that float would come back as a different integer."""


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, float) and value.is_integer():
        # A float this large may be an integer orjson rounded (-2**63 - 1 reads as -2**63).
        if abs(value) >= 2**63:
            raise ValueError("expected an integer of at most 64 bits")
        value = int(value)
    number = _strict(int)(value, int)
    if number not in _INT64:
        raise ValueError("expected an integer of at most 64 bits")
    return number


def _structure_uuid(value: Any, _: type) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError(f"expected a UUID string, got {type(value).__name__}")
    return parse_uuid(value)


_new = object.__new__


def _structure_provider(value: Any, _: type) -> SmsProvider:
    return SmsProvider(_structure_int(value, int))


def _objects_only(hook: Callable[[Any, type], T]) -> Callable[[Any, type], T]:
    """Refuse a non-object where a model is expected (a string would pass ``key in value``)."""

    def structure(value: Any, cls: type) -> T:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a JSON object, got {_json_kind(value)}")
        return hook(value, cls)

    return structure


def _readable(exc: cattrs.BaseValidationError) -> str:
    """cattrs' "invalid value for type, expected int @ data.x" as "data.x: expected int"."""
    lines = []
    for line in cattrs.transform_error(exc, path="data")[:3]:
        message, _, path = line.rpartition(" @ ")
        lines.append(f"{path}: {message.removeprefix('invalid value for type, ')}")
    return "; ".join(lines)


def _optional_of(kind: Any) -> Any:
    """``X`` for ``X | None`` (a two-member union with None), else None."""
    if typing.get_origin(kind) not in (typing.Union, types.UnionType):
        return None
    members = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    return members[0] if len(members) == 1 and len(typing.get_args(kind)) == 2 else None


# Exact types a field may take as they come from json.loads, checked inline by generated code.
_INLINE_CHECKED = (str, bool, int, float)


def _fast_structure_fn(cls: type, converter: cattrs.Converter) -> Callable[[Any, type], Any]:
    """A structure hook for a result model, generated like cattrs' own but leaner.

    Each wire key is read once (by subscript, or ``dict.get``); a value of the exact expected
    JSON type is taken as is, and only other values go through the field's hook (which
    converts or raises).
    Optional fields that default to None are passed straight to ``cls``; any failure is
    re-diagnosed by the detailed converter.
    """
    names: dict[str, Any] = {
        "cls": cls,
        "MISSING": _MISSING,
        "Mapping": Mapping,
        "new": _new,
        "INT64": _INT64,
        "parse_uuid": parse_uuid,
    }
    lines = [
        "def structure(o, _):",
        "    if type(o) is not dict:",
        "        if not isinstance(o, Mapping):",
        "            raise TypeError('expected a JSON object')",
        "        o = dict(o)  # read as a plain dict: a defaultdict would make up missing keys",
    ]
    fields = attrs.fields(attrs.resolve_types(cls))
    keys = [field.metadata.get(WIRE_NAME) or _camel(field.name) for field in fields]
    slots = _slot_setters(cls)
    if slots is not None:
        # Every field is optional and set slot by slot. Vlens sends every key (null where
        # unset), so all are read by subscript, which is quicker than get(); a key left out
        # raises KeyError, and then all are read again with get().
        lines.append("    try:")
        lines += [f"        v{index} = o[{key!r}]" for index, key in enumerate(keys)]
        lines += ["    except KeyError:", "        get = o.get"]
        lines += [f"        v{index} = get({key!r})" for index, key in enumerate(keys)]
        lines.append("    obj = new(cls)")
    else:
        lines += ["    get = o.get", "    kw = {}"]
    arguments: list[str] = []
    for index, (field, key) in enumerate(zip(fields, keys, strict=True)):
        inner = _optional_of(field.type)
        kind = inner if inner is not None else field.type
        names[f"h{index}"], names[f"t{index}"] = converter.get_structure_hook(kind), kind
        value = f"v{index}"
        hooked = f"h{index}({value}, t{index})"
        convert = f"{value} = {hooked}"
        if kind is int:  # the hook refuses what does not fit in 64 bits
            convert = f"if type({value}) is not int or {value} not in INT64: {convert}"
        elif kind is uuid.UUID:  # a string is parsed here, the hook words any other value
            convert = f"{value} = parse_uuid({value}) if type({value}) is str else {hooked}"
        elif kind in _INLINE_CHECKED:
            convert = f"if type({value}) is not t{index}: {convert}"
        if inner is not None and field.default is None:
            if slots is None:
                lines.append(f"    {value} = get({key!r})")
            lines.append(f"    if {value} is not None:")
            lines.append(f"        {convert}")
            if slots is not None:
                names[f"s{index}"] = slots[field.name]
                lines.append(f"    s{index}(obj, {value})")
            arguments.append(f"{field.alias}={value}")
            continue
        lines.append(f"    {value} = get({key!r}, MISSING)")
        lines.append(f"    if {value} is not MISSING:")
        if inner is not None:
            lines.append(f"        if {value} is not None:")
            lines.append(f"            {convert}")
        else:
            lines.append(f"        {convert}")
        lines.append(f"        kw[{field.alias!r}] = {value}")
    arguments.append("**kw")
    if slots is not None:
        lines.append("    return obj")
    else:
        lines.append(f"    return cls({', '.join(arguments)})")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<vlens structure {cls.__name__}>", "exec"), names)  # noqa: S102
    structure: Callable[[Any, type], Any] = names["structure"]
    return structure


_MISSING = object()


def _slot_setters(cls: type) -> dict[str, Callable[[Any, Any], None]] | None:
    """Each field's slot setter, for a model whose ``__init__`` only stores its arguments.

    Such a model (slotted; every field optional, defaulting to None, without validator or
    converter; no ``__attrs_pre_init__``/``__attrs_post_init__``, no cached hash) is built by
    setting its slots directly, as its frozen ``__init__`` does through ``object.__setattr__``,
    in 40% less time. Any other model is built by calling it (None).
    """
    if any(hasattr(cls, hook) for hook in _INIT_HOOKS):
        return None
    setters: dict[str, Callable[[Any, Any], None]] = {}
    for field in attrs.fields(attrs.resolve_types(cls)):
        plain = field.init and field.validator is None and field.converter is None
        slot = inspect.getattr_static(cls, field.name, None)
        if not plain or field.default is not None or _optional_of(field.type) is None:
            return None
        if not isinstance(slot, types.MemberDescriptorType):
            return None
        setters[field.name] = slot.__set__
    return setters


_INIT_HOOKS = ("__attrs_pre_init__", "__attrs_post_init__", "__attrs_cached_hash__")


def make_converter(*, detailed_validation: bool = True) -> cattrs.Converter:
    """A new converter configured for the Vlens wire format.

    ``detailed_validation=False`` is faster and is what :class:`Codec` decodes with; when that
    fails, the detailed converter is asked again, only to word the error.
    """
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed_validation)

    def optional_hook(kind: Any) -> Callable[[Any, Any], Any]:
        inner = _optional_of(kind)
        hook = converter.get_structure_hook(inner)  # looked up once, not on every value
        return lambda value, _: None if value is None else hook(value, inner)

    converter.register_structure_hook_factory(lambda t: _optional_of(t) is not None, optional_hook)
    converter.register_structure_hook(str, _strict(str))
    converter.register_structure_hook(bool, _strict(bool))
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _strict(float, also=(int,)))
    converter.register_structure_hook(uuid.UUID, _structure_uuid)
    converter.register_unstructure_hook(uuid.UUID, str)
    converter.register_structure_hook(SmsProvider, _structure_provider)
    converter.register_unstructure_hook(SmsProvider, int)
    if detailed_validation:
        converter.register_structure_hook_factory(
            attrs.has,
            lambda cls: _objects_only(make_dict_structure_fn(cls, converter, **_renames(cls))),
        )
    else:
        converter.register_structure_hook_factory(
            attrs.has, lambda cls: _fast_structure_fn(cls, converter)
        )
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


def _derive_exists(result: ExistenceResult) -> ExistenceResult:
    if result.exists is not None:
        return result
    flags = (result.email_exists, result.phone_number_exists)
    if all(flag is None for flag in flags):
        return result
    return attrs.evolve(result, exists=any(bool(flag) for flag in flags))


class Codec:
    """Encodes request bodies and decodes envelopes with one converter."""

    def __init__(self, converter: cattrs.Converter | None = None) -> None:
        self.converter = converter or make_converter()
        self._fast = make_converter(detailed_validation=False) if converter is None else converter
        self._decoders: dict[Any, Callable[[Any], Any]] = {}
        # Body types orjson writes byte for byte as json does, judged by their fields' declared
        # types as the default hooks unstructure them. A converter of one's own may unstructure
        # any field into anything, so its bodies are all written by json; so should be those
        # of a codec whose converter gets hooks of its own after it is made (see encode()).
        self._fast_writes: dict[type, bool] | None = {} if converter is None else None

    @classmethod
    def default(cls) -> Codec:
        """One shared codec for every client that brings none: it holds no per-client state,
        and building converters and their generated hooks costs about a millisecond."""
        global _DEFAULT
        if _DEFAULT is None:
            _DEFAULT = cls()
        return _DEFAULT

    def encode(self, body: object) -> bytes:
        """The JSON bytes of a request body (an attrs instance).

        orjson writes a body whose declared field types the default hooks turn into strings,
        integers, booleans and nulls; json writes any other. Registering hooks on
        ``codec.converter`` afterwards is not followed by that choice: build a ``Codec`` on
        your own converter instead (``Codec(make_converter())`` plus your hooks).
        """
        value = self.converter.unstructure(body)
        fast_writes = self._fast_writes
        if fast_writes is not None and _fast_dumps is not None:
            kind = type(body)
            alike = fast_writes.get(kind)
            if alike is None:
                alike = fast_writes[kind] = _written_alike(kind)
            if alike:
                try:
                    written = _fast_dumps(value)  # json's bytes, in half the time
                except TypeError:  # orjson.JSONEncodeError: a wider integer than 64 bits
                    pass
                else:
                    # orjson's bytes keep its whole write buffer (4 KiB from 3.12 on, however
                    # short the JSON): a two-part join copies them to their length, so that a
                    # request kept (a FakeTransport's record, a retry) costs what its body does.
                    return b"".join((written, b""))
        return _dumps(value).encode()

    def decoder(self, result_type: Any) -> Callable[[Any], Any]:
        """A function turning an envelope's ``data`` into ``result_type``, built once per type."""
        cached = self._decoders.get(result_type)
        if cached is None:
            cached = self._decoders[result_type] = self._make_decoder(result_type)
        return cached

    def _make_decoder(self, result_type: Any) -> Callable[[Any], Any]:
        if result_type is object or result_type is Any:
            return lambda data: data
        fast = self._fast.get_structure_hook(result_type)
        detailed = self.converter.get_structure_hook(result_type)
        needs_object = attrs.has(result_type)

        def decode(data: Any) -> Any:
            if needs_object and type(data) is not dict and not isinstance(data, Mapping):
                raise _Invalid(f"data: expected a JSON object, got {_json_kind(data)}")
            try:
                return fast(data, result_type)
            except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError):
                pass  # the data is wrong; ask the detailed converter to say where
            try:
                detailed(data, result_type)
            except cattrs.BaseValidationError as exc:
                raise _Invalid(_readable(exc)) from exc
            except (TypeError, ValueError) as exc:
                raise _Invalid(f"data: {exc}") from exc
            raise _Invalid("data: does not match the expected shape")  # pragma: no cover

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
        # A typed result checks every number it keeps (64-bit integers), so orjson may read it;
        # raw JSON (``object`` results, error details) keeps json's exact big integers.
        exact = result_type is object or result_type is Any
        try:
            body = _parse(content, exact=exact) if content else None
        except (
            ValueError,
            RecursionError,
        ):  # UnicodeDecodeError is a ValueError too  # RecursionError: absurdly nested JSON
            body = None
        if not isinstance(body, dict):
            if ok_status:
                problem = "invalid JSON" if content else "empty body"
                if content and body is not None:
                    problem = f"expected a JSON object, got {_json_kind(body)}"
                raise self._response_error(problem, status, content, operation)
            raise _status_error(status, content, operation, retry_after)
        code = body.get("error_code")
        if code not in _OK_CODES or not ok_status:
            if not exact:
                body = _parse_exact_again(content, body)
            raise self._api_error(body, status, content, operation, retry_after)
        decode = self._decoders.get(result_type) or self.decoder(result_type)
        try:
            return decode(body.get("data"))
        except _Invalid as exc:
            invalid = exc
        if not exact:  # orjson read it: json decides what is wrong, as for everything else
            try:
                return decode(_parse_exact_again(content, body).get("data"))
            except _Invalid as again:  # worded for json's reading (a wide integer is an int)
                invalid = again
        raise self._response_error(str(invalid), status, content, operation) from invalid.__cause__

    def _api_error(
        self,
        body: dict[str, Any],
        status: int,
        content: bytes,
        operation: str | None,
        retry_after: float | None,
    ) -> VlensError:
        code = body.get("error_code")
        if code in _OK_CODES:
            code = status
        if isinstance(code, bool) or not isinstance(code, int):
            return self._response_error("error_code is not an integer", status, content, operation)
        message = body.get("error_message")
        if not isinstance(message, str):
            message = None
        error_type = error_class_for_code(code, status)
        return error_type(
            code,
            message,
            http_status=status,
            operation=operation,
            descriptions=body.get("error_descriptions"),
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

# What the default converter unstructures to str, int, bool or None, which orjson writes as json
# does. A float it may spell otherwise (1e-05 as 0.00001), and NaN it writes as null.
_WRITTEN_ALIKE = frozenset({str, int, bool, type(None), uuid.UUID, SmsProvider})


def _written_alike(kind: Any) -> bool:
    """Whether orjson writes a ``kind`` (an attrs body, or a field's type) as json would."""
    if attrs.has(kind):
        return all(_written_alike(field.type) for field in attrs.fields(attrs.resolve_types(kind)))
    inner = _optional_of(kind)
    return _written_alike(inner) if inner is not None else kind in _WRITTEN_ALIKE


def _parse(content: bytes, *, exact: bool) -> Any:
    """The JSON of ``content``, with ``json.loads(content.decode())``'s errors.

    Unless ``exact``, orjson reads it first (in a third of the time): where orjson refuses,
    json decides, so NaN, a BOM, lone surrogates and bad UTF-8 fare as before. What orjson
    reads differently is numbers: an integer beyond 64 bits becomes a float, which the typed
    decoders refuse for an integer field (see ``_INT64``).
    """
    if not exact and _fast_loads is not None:
        try:
            return _fast_loads(content)
        except ValueError:  # orjson.JSONDecodeError; json gives the error its usual words
            pass
    return loads(content.decode())


def _parse_exact_again(content: bytes, body: dict[str, Any]) -> dict[str, Any]:
    """An error envelope read with json, whose details keep big integers exactly."""
    try:
        exact = _parse(content, exact=True)
    except (ValueError, RecursionError):  # nested deeper than json goes, not than orjson
        return body
    return exact if isinstance(exact, dict) else body


_fast_loads: Callable[[bytes], Any] | None
_fast_dumps: Callable[[Any], bytes] | None
try:
    from orjson import dumps as _fast_dumps
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - a platform without orjson wheels: json alone
    _fast_loads = _fast_dumps = None


_dumps = compact_dumps(ensure_ascii=False)


class _Invalid(Exception):
    """Internal: ``data`` did not match the result type."""


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number"
    )


def _status_error(
    status: int, content: bytes, operation: str | None, retry_after: float | None
) -> VlensAPIError:
    """An HTTP error status whose body is not an envelope (a proxy's HTML page, or nothing)."""
    excerpt = redact_excerpt(content, limit=80)
    message = f"HTTP {status} with a non-envelope body" + (f": {excerpt!r}" if excerpt else "")
    return error_class_for_code(status, status)(
        status, message, http_status=status, operation=operation, retry_after=retry_after
    )
