"""Codec properties: every result model round-trips; any bytes in, only VlensError out."""

from __future__ import annotations

import collections
import json
import math
import pickle
import re
import tracemalloc
import typing
import uuid
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlens_async import (
    AdminSession,
    Codec,
    EmailConfirmation,
    EmailOtpRequest,
    EmailVerification,
    ExistenceResult,
    GeoLocation,
    LoginState,
    OAuthVerification,
    PhoneOtpRequest,
    RefreshedToken,
    RegistrationState,
    ResetGrant,
    SmsProvider,
    User,
    VlensError,
    VlensResponseError,
    _codec,
    _requests,
    make_converter,
)
from vlens_async._models import WIRE_NAME
from vlens_async._requests import PhoneOtpBody
from vlens_async._uuids import parse_uuid

CODEC = Codec()
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=60, deadline=None)

MODELS: list[type[Any]] = [
    RegistrationState,
    LoginState,
    User,
    ExistenceResult,
    OAuthVerification,
    EmailOtpRequest,
    PhoneOtpRequest,
    EmailConfirmation,
    EmailVerification,
    ResetGrant,
    AdminSession,
    RefreshedToken,
]
RESULT_TYPES: list[Any] = [
    ExistenceResult,
    RegistrationState,
    LoginState,
    OAuthVerification,
    ResetGrant,
    EmailVerification,
    SmsProvider,
    bool,
    object,
]
WIRE_KEYS = [
    "exists",
    "isEmailExists",
    "isPhoneNumberExists",
    "isEmailConfirmed",
    "phoneNumberOtp",
    "phoneNumberOtpRequestId",
    "emailOtpRequestId",
    "phoneOtpExpireInSeconds",
    "accessToken",
    "expireInSeconds",
    "transactionId",
    "user",
    "id",
    "oAuthTokenVerificationRequestId",
    "isVerified",
    "userId",
    "resetCode",
    "refreshToken",
    "hasPendingRequest",
]
SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    bool: st.booleans(),
    int: st.integers(-(2**63), 2**63 - 1),  # an integer field holds 64 bits
    str: st.text(),
    uuid.UUID: st.uuids(),
}

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(["true", "0", str(uuid.UUID(int=1)), "not-a-uuid"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(WIRE_KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=16,
)


def field_strategy(
    annotation: Any, scalars: dict[Any, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    """Values for a field: of its declared type (``scalars`` or a nested model), or None too
    when it is optional."""
    inner = _codec._optional_of(annotation)
    kind = annotation if inner is None else inner
    base = scalars[kind] if kind in scalars else model_strategy(kind, scalars)
    return base if inner is None else st.none() | base


def model_strategy(
    cls: type[Any], scalars: dict[Any, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[Any]:
    """Instances of an attrs class (a result model, a request body), each field a value of
    its type, or None where optional."""
    table = SCALARS if scalars is None else scalars
    attrs.resolve_types(cls)
    fields = {field.name: field_strategy(field.type, table) for field in attrs.fields(cls)}
    return st.builds(cls, **fields)


def envelope_bytes(data: Any, error_code: Any = None) -> bytes:
    """A JSON envelope around ``data``."""
    return json.dumps({"data": data, "error_code": error_code, "error_message": None}).encode()


def expected_existence(result: ExistenceResult) -> ExistenceResult:
    """ExistenceResult as decoded: ``exists`` derived from the two flags when absent."""
    flags = [result.email_exists, result.phone_number_exists]
    if result.exists is not None or all(flag is None for flag in flags):
        return result
    return attrs.evolve(result, exists=any(flag is True for flag in flags))


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@ROUND_TRIP
@given(data=st.data())
def test_model_round_trips_through_envelope(model: type[Any], data: st.DataObject) -> None:
    """unstructure -> envelope -> decode gives back an equal instance for every result model."""
    instance = data.draw(model_strategy(model))
    wire = CODEC.converter.unstructure(instance)
    decoded = CODEC.decode(200, envelope_bytes(wire), model)
    expected = expected_existence(instance) if model is ExistenceResult else instance
    assert type(decoded) is model
    assert decoded == expected


@PROPERTY
@given(provider=st.sampled_from(SmsProvider))
def test_sms_provider_round_trips_to_its_int(provider: SmsProvider) -> None:
    """SmsProvider unstructures to its plain int and decodes back to the member."""
    wire = CODEC.converter.unstructure(provider)
    assert type(wire) is int
    assert wire == provider.value
    assert CODEC.decode(200, envelope_bytes(wire), SmsProvider) is provider


@pytest.mark.parametrize("value", [0, 8, -1, "2", True])
def test_unknown_sms_provider_is_response_error(value: Any) -> None:
    """A provider number outside 1-7 (or not an int) is a VlensResponseError, not a ValueError."""
    with pytest.raises(VlensResponseError):
        CODEC.decode(200, envelope_bytes(value), SmsProvider)


def test_unstructure_uses_wire_names() -> None:
    """Fields unstructure to the camelCase wire keys, with the documented exceptions."""
    request_id = uuid.UUID(int=7)
    state = RegistrationState(
        phone_number_otp_request_id=request_id,
        phone_otp_expire_in_seconds=300,
        user=User(id=5, full_name="A B", email_address="a@example.com"),
    )
    assert CODEC.converter.unstructure(state) == {
        "phoneNumberOtpRequestId": str(request_id),
        "phoneOtpExpireInSeconds": 300,
        "user": {"id": 5, "fullName": "A B", "emailAddress": "a@example.com"},
    }
    existence = ExistenceResult(email_exists=True, phone_number_exists=False)
    assert CODEC.converter.unstructure(existence) == {
        "isEmailExists": True,
        "isPhoneNumberExists": False,
    }
    oauth = OAuthVerification(oauth_token_verification_request_id=request_id)
    wire = {"oAuthTokenVerificationRequestId": str(request_id)}
    assert CODEC.converter.unstructure(oauth) == wire


def check_decode(status: int, content: bytes, result_type: Any) -> None:
    """Decoding returns only for a 2xx status and otherwise raises only a VlensError."""
    error: VlensError | None = None
    try:
        CODEC.decode(status, content, result_type, operation="fuzz")
    except VlensError as raised:
        error = raised
    if error is None:
        assert 200 <= status < 300
    else:
        assert error.operation == "fuzz"


@PROPERTY
@given(
    status=st.integers(100, 599),
    content=st.binary(max_size=300),
    result_type=st.sampled_from(RESULT_TYPES),
)
def test_arbitrary_bytes_raise_only_vlens_errors(
    status: int, content: bytes, result_type: Any
) -> None:
    """Any bytes with any status decode to a value (2xx only) or raise a VlensError."""
    check_decode(status, content, result_type)


@PROPERTY
@given(
    status=st.integers(100, 599),
    data=json_values,
    error_code=st.none() | st.just(0) | st.integers(-5, 6000) | json_values,
    result_type=st.sampled_from(RESULT_TYPES),
)
def test_arbitrary_json_as_data_raises_only_vlens_errors(
    status: int, data: Any, error_code: Any, result_type: Any
) -> None:
    """Any JSON value as ``data`` (and any error_code) never escapes as a foreign exception."""
    check_decode(status, envelope_bytes(data, error_code), result_type)


@PROPERTY
@given(status=st.integers(100, 599), body=json_values, result_type=st.sampled_from(RESULT_TYPES))
def test_arbitrary_json_as_body_raises_only_vlens_errors(
    status: int, body: Any, result_type: Any
) -> None:
    """Any JSON value as the whole body never escapes as a foreign exception."""
    check_decode(status, json.dumps(body).encode(), result_type)


@PROPERTY
@given(status=st.integers(200, 299), data=json_values)
def test_valid_envelope_with_any_data_decodes_as_object(status: int, data: Any) -> None:
    """With result type ``object``, any JSON ``data`` of a successful envelope comes back as is."""
    assert CODEC.decode(status, envelope_bytes(data), object) == data


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("where", ["body", "data"])
def test_deeply_nested_json_is_a_vlens_error(status: int, where: str) -> None:
    """Pathologically nested JSON raises a VlensError, not RecursionError."""
    nested = b"[" * 100_000 + b"]" * 100_000
    content = nested if where == "body" else b'{"data": ' + nested + b', "error_code": null}'
    with pytest.raises(VlensError):
        CODEC.decode(status, content, ExistenceResult)


def uuid_spelling(value: uuid.UUID, upper: bool, form: str) -> str:
    """One of the spellings ``uuid.UUID`` accepts for ``value``."""
    text = str(value).upper() if upper else str(value)
    return {"canonical": text, "hex": text.replace("-", ""), "braces": "{" + text + "}"}[form]


@PROPERTY
@given(
    value=st.uuids(),
    upper=st.booleans(),
    form=st.sampled_from(["canonical", "hex", "braces"]),
)
def test_parse_uuid_equals_uuid_uuid(value: uuid.UUID, upper: bool, form: str) -> None:
    """parse_uuid gives what uuid.UUID gives: value, repr, hash, safety, pickling."""
    parsed = parse_uuid(uuid_spelling(value, upper, form))
    assert type(parsed) is uuid.UUID
    assert parsed == value
    assert (repr(parsed), hash(parsed), parsed.is_safe) == (repr(value), hash(value), value.is_safe)
    assert pickle.loads(pickle.dumps(parsed)) == value  # noqa: S301 - bytes pickled just above


@PROPERTY
@given(
    text=st.text(alphabet="0123456789abcdefABCDEFgG-_+ {}\u0660\u0661", min_size=30, max_size=38)
)
def test_parse_uuid_accepts_and_refuses_what_uuid_uuid_does(text: str) -> None:
    """Any text: parse_uuid returns uuid.UUID's value, or raises its error with its message."""
    try:
        expected = uuid.UUID(text)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            parse_uuid(text)
    else:
        assert parse_uuid(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "18072e8c-35bf-492d-89e9-c61661_e7696",  # "_": int() would take it
        "18072e8c-35bf-492d-89e9-c616612e769\u0666",  # an Arabic-Indic digit
        "18072e8c-35bf-492d-89e9-c616612e769g",  # not hex
        "+8072e8c-35bf-492d-89e9-c616612e7696",  # a sign
        " 8072e8c-35bf-492d-89e9-c616612e7696",  # a space
        "18072e8c-35bf-492d-89e9-c6 61 2e7696",  # spaces bytes.fromhex would skip
        "18072e8c-35bf-492d-89e9-c616\t12e769",  # a tab
        "18072e8c-35bf-492d-89e9-c616612e769\uff41",  # a fullwidth "a"
        "18072e8c35bf-492d-89e9-c616-612e7696",  # dashes elsewhere: uuid.UUID takes them
        "----18072e8c35bf492d89e9c616612e7696",
        "18072e8c35bf492d89e9c616612e76960",  # 33 digits
    ],
)
def test_parse_uuid_fast_path_takes_only_hex_digits(text: str) -> None:
    """Canonical-looking text with a non-hex character is judged by uuid.UUID, not int()."""
    try:
        expected: Any = uuid.UUID(text)
    except ValueError as exc:
        expected = str(exc)
    try:
        got: Any = parse_uuid(text)
    except ValueError as exc:
        got = str(exc)
    assert got == expected


@attrs.frozen(kw_only=True)
class Checked:
    """A model whose __init__ does more than store: it must be built by calling it."""

    code: str | None = attrs.field(default=None, validator=attrs.validators.max_len(3))
    seen: list[str] = attrs.field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        self.seen.append("post_init")


def test_models_whose_init_does_more_are_built_through_it() -> None:
    """A validator and __attrs_post_init__ run when the codec decodes such a model."""
    codec = Codec()
    decoded = codec.decode(200, envelope_bytes({"code": "ab"}), Checked)
    assert decoded.seen == ["post_init"]
    with pytest.raises(VlensResponseError):
        codec.decode(200, envelope_bytes({"code": "abcd"}), Checked)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_result_models_with_every_field_missing_decode_to_defaults(model: type[Any]) -> None:
    """An empty ``data`` object gives the model with every field at its default (all set)."""
    decoded = CODEC.decode(200, envelope_bytes({}), model)
    assert decoded == model()
    assert repr(decoded) == repr(model())


@pytest.fixture(params=["orjson", "json"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the codec reading JSON through orjson first, and through json alone."""
    if request.param == "json":
        monkeypatch.setattr(_codec, "_fast_loads", None)
    else:
        assert _codec._fast_loads is not None, "orjson is a dependency on CPython"
    return str(request.param)


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)])
def test_integers_beyond_64_bits_are_refused_not_rounded(parser: str, number: int) -> None:
    """An integer field given more than 64 bits is a VlensResponseError naming the field
    (orjson would read it as a float, and the float back as another integer)."""
    content = b'{"data": {"user": {"id": %d}}, "error_code": null}' % number
    with pytest.raises(VlensResponseError, match=r"data\.user\.id"):
        CODEC.decode(200, content, RegistrationState)


@pytest.mark.parametrize("number", [2**63 - 1, -(2**63), 0, -1])
def test_integers_within_64_bits_are_exact(parser: str, number: int) -> None:
    """The 64-bit limits themselves decode exactly, whichever parser read them."""
    content = b'{"data": {"user": {"id": %d}}, "error_code": null}' % number
    decoded = CODEC.decode(200, content, RegistrationState)
    assert decoded.user is not None
    assert decoded.user.id == number


def test_raw_json_keeps_big_integers_exactly(parser: str) -> None:
    """``object`` results and an error's descriptions keep integers of any size."""
    big = 10**30 + 1
    assert CODEC.decode(200, envelope_bytes({"n": big}), object) == {"n": big}
    error = json.dumps(
        {"data": None, "error_code": 4001, "error_message": "no", "error_descriptions": [big]}
    ).encode()
    with pytest.raises(VlensError) as caught:
        CODEC.decode(200, error, RegistrationState)
    assert getattr(caught.value, "descriptions", None) == [big]


def decoded_both_ways(content: bytes, result_type: Any) -> tuple[Any, Any]:
    """What decoding ``content`` gives (a value, or the error's type and words), read with
    orjson first, then with json alone."""

    def outcome() -> tuple[str, Any]:
        try:
            return "value", CODEC.decode(200, content, result_type)
        except VlensError as exc:
            return "error", (type(exc), str(exc))

    with_orjson = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_codec, "_fast_loads", None)
        return with_orjson, outcome()


@pytest.mark.parametrize(
    "content",
    [
        b'{"data": {"userName": "\\ud800"}, "error_code": null}',  # a lone surrogate escape
        b'{"data": {"expireInSeconds": NaN}, "error_code": null}',
        b'\xef\xbb\xbf{"data": {}, "error_code": null}',  # a BOM
        b'{"data": {"userName": "\xed\xa0\x80"}, "error_code": null}',  # not UTF-8
        b'{"data": {"expireInSeconds": 1e400}, "error_code": null}',
        b'{"data": {"a": 1, "a": 2}, "error_code": null}',
        b'{"data": {}, "error_code": null} x',
    ],
)
def test_orjson_reads_what_json_reads(content: bytes) -> None:
    """Where orjson refuses what json accepts (or words an error differently), json decides:
    the codec's outcome is the same with orjson as with json alone."""
    with_orjson, with_json = decoded_both_ways(content, RegistrationState)
    assert with_orjson == with_json


@pytest.mark.parametrize(
    "result_type", RESULT_TYPES, ids=lambda kind: getattr(kind, "__name__", kind)
)
@pytest.mark.parametrize("number", [-(2**63) - 1, 2**64, 10**30])
@pytest.mark.parametrize("where", ["data", "isEmailConfirmed", "user"])
def test_a_wide_integer_is_refused_in_json_words(result_type: Any, number: int, where: str) -> None:
    """orjson reads an integer beyond 64 bits as a float; the error says what json reads
    (an int), so that the outcome is the same as with json alone, word for word."""
    data = number if where == "data" else {where: number}
    with_orjson, with_json = decoded_both_ways(envelope_bytes(data), result_type)
    assert with_orjson == with_json
    assert "float" not in str(with_orjson[1])


@PROPERTY
@given(data=st.one_of(json_values, st.dictionaries(st.sampled_from(WIRE_KEYS), json_values)))
def test_orjson_and_json_decode_any_data_alike(data: Any) -> None:
    """For any ``data`` (any integer), each typed result is decoded the same, or
    refused with the same error, whichever parser read the envelope."""
    content = envelope_bytes(data)
    for result_type in RESULT_TYPES:
        with_orjson, with_json = decoded_both_ways(content, result_type)
        assert with_orjson == with_json, result_type


def encoded_both_ways(value: object) -> tuple[bytes, bytes]:
    """``value`` encoded by the codec with orjson, then with json alone."""
    with_orjson = CODEC.encode(value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_codec, "_fast_dumps", None)
        return with_orjson, CODEC.encode(value)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@ROUND_TRIP
@given(data=st.data())
def test_orjson_and_json_encode_the_same_bytes(model: type[Any], data: st.DataObject) -> None:
    """Any model without floats (strings of any text, 64-bit integers, UUIDs, nested models)
    is written byte for byte alike by orjson and by json."""
    fast, plain = encoded_both_ways(data.draw(model_strategy(model)))
    assert fast == plain


BODIES = [
    body
    for body in vars(_requests).values()
    if isinstance(body, type) and attrs.has(body) and body.__module__ == _requests.__name__
]
BODY_SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    **SCALARS,
    str: st.text(),  # lone surrogates too: orjson refuses them, and json decides
    SmsProvider: st.sampled_from(SmsProvider),
    GeoLocation: st.builds(  # with values orjson would spell otherwise (1e-05 as 0.00001)
        GeoLocation,
        latitude=st.sampled_from([1e-05, -2.5e-07]) | st.floats(-90, 90),
        longitude=st.sampled_from([3e-06]) | st.floats(-180, 180),
    ),
}


@pytest.mark.parametrize("body", BODIES, ids=lambda body: body.__name__)
@ROUND_TRIP
@given(data=st.data())
def test_every_request_body_is_written_as_json_writes_it(
    body: type[Any], data: st.DataObject
) -> None:
    """Each request body the services send, with any values of its fields' types: orjson's
    bytes where it writes them (json's, byte for byte), json's everywhere else."""
    instance = data.draw(model_strategy(body, BODY_SCALARS))
    try:
        fast = CODEC.encode(instance)
    except UnicodeEncodeError:  # a lone surrogate json cannot encode either
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_codec, "_fast_dumps", None)
            with pytest.raises(UnicodeEncodeError):
                CODEC.encode(instance)
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_codec, "_fast_dumps", None)
        assert fast == CODEC.encode(instance)


@attrs.define
class _Wide:
    number: int
    label: str | None = None


@attrs.define
class _WithFloat:
    ratio: float


def test_an_integer_wider_than_orjson_writes_is_written_by_json() -> None:
    """orjson refuses an integer beyond 64 bits; json writes it, as before."""
    fast, plain = encoded_both_ways(_Wide(number=-(2**70), label="é"))
    assert fast == plain == '{"number":-1180591620717411303424,"label":"é"}'.encode()


@pytest.mark.parametrize(
    ("ratio", "written"), [(1e-05, b"1e-05"), (1e16, b"1e+16"), (math.nan, b"NaN"), (0.5, b"0.5")]
)
def test_bodies_with_floats_are_written_by_json(ratio: float, written: bytes) -> None:
    """A body with a float field is written by json: orjson spells some floats otherwise and
    writes NaN as null, where json keeps what it always wrote."""
    assert CODEC.encode(_WithFloat(ratio=ratio)) == b'{"ratio":' + written + b"}"


def test_orjson_writes_only_what_it_writes_as_json_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default codec gives orjson bodies of strings, integers, booleans, UUIDs, providers
    and nested such models; a float body, or any body of a codec on a converter of one's own,
    goes to json."""
    written: list[object] = []
    orjson_dumps = _codec._fast_dumps
    assert orjson_dumps is not None

    def spy(value: object) -> bytes:
        written.append(value)
        return orjson_dumps(value)

    monkeypatch.setattr(_codec, "_fast_dumps", spy)
    body = PhoneOtpBody(
        phone_number="+201001234567",
        sms_provider=SmsProvider(1),
        transaction_id=uuid.UUID(int=3),
    )
    CODEC.encode(body)
    assert written == [CODEC.converter.unstructure(body)]
    CODEC.encode(_WithFloat(ratio=0.5))
    Codec(make_converter()).encode(body)
    assert len(written) == 1


UUID_FIELDS = [
    (model, field.name, field.metadata.get(WIRE_NAME) or _codec._camel(field.name))
    for model in MODELS
    for field in attrs.fields(attrs.resolve_types(model))
    if uuid.UUID in typing.get_args(field.type)
]


@pytest.mark.parametrize(
    ("model", "name", "key"), UUID_FIELDS, ids=lambda v: getattr(v, "__name__", v)
)
@pytest.mark.parametrize("value", [7, True, ["6e1c0c5e-6b0e-4f7e-9d38-5b6f3c1d2e4f"], {}])
def test_uuid_fields_refuse_what_is_not_a_string(
    model: type[Any], name: str, key: str, value: object
) -> None:
    """A UUID field holding anything but a string is refused, with the field named, and the
    quick decoder refuses it itself (its UUID hook, not a parse of the value)."""
    with pytest.raises(VlensResponseError, match=rf"data\.{name}: expected uuid\.UUID"):
        CODEC.decode(200, envelope_bytes({key: value}), model)
    quick = CODEC._fast.get_structure_hook(model)
    kind = type(value).__name__
    with pytest.raises(TypeError, match=f"^expected a UUID string, got {kind}$"):
        quick({key: value}, model)


def test_an_encoded_body_keeps_no_more_memory_than_its_length() -> None:
    """orjson's output keeps its whole write buffer (4 KiB for any body from orjson 3.12):
    the codec hands out bytes of the body's own size, so kept requests stay small."""
    bodies = [PhoneOtpBody(phone_number=f"+2010{index:08d}") for index in range(2_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [CODEC.encode(body) for body in bodies]
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert all(len(content) == len(b'{"phoneNumber":"+201000000000"}') for content in kept)
    assert retained < len(kept) * 200, f"{retained / len(kept):.0f} bytes a body"


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@ROUND_TRIP
@given(data=st.data())
def test_any_mapping_as_data_decodes_as_the_dict_does(
    model: type[Any], data: st.DataObject
) -> None:
    """``data`` with some keys left out decodes alike as a dict, a read-only view of it and a
    defaultdict, which is not changed (reading by subscript would make its missing keys up)."""
    wire = CODEC.converter.unstructure(data.draw(model_strategy(model)))
    left = {key: value for key, value in wire.items() if data.draw(st.booleans())}
    decode = CODEC.decoder(model)
    expected = decode(dict(left))
    assert decode(MappingProxyType(left)) == expected
    made_up = collections.defaultdict(lambda: "made up", left)
    assert decode(made_up) == expected
    assert made_up == left
