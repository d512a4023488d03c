"""Codec properties: every result model round-trips; any bytes in, only VlensError out."""

from __future__ import annotations

import collections
import json
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
    _json,
    _requests,
)
from vlens_async._models import WIRE_NAME

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

BODY_SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    **SCALARS,
    str: st.text(alphabet=st.characters(exclude_categories=["Cs"])),  # the SDK refuses the rest
    SmsProvider: st.sampled_from(SmsProvider),
    GeoLocation: st.builds(  # with floats orjson spells otherwise than json (1e-05 as 0.00001)
        GeoLocation,
        latitude=st.sampled_from([1e-05, -2.5e-07]) | st.floats(-90, 90),
        longitude=st.sampled_from([3e-06]) | st.floats(-180, 180),
    ),
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
    """With result type ``object``, any JSON ``data`` of a successful envelope comes back as
    the JSON path reads it (orjson: an integer beyond 64 bits as a float)."""
    content = envelope_bytes(data)
    assert CODEC.decode(status, content, object) == _json.loads(content)["data"]


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
def test_uuid_fields_take_what_uuid_uuid_takes(value: uuid.UUID, upper: bool, form: str) -> None:
    """A UUID field is ``uuid.UUID`` of the text, in any spelling it accepts."""
    content = envelope_bytes({"transactionId": uuid_spelling(value, upper, form)})
    assert CODEC.decode(200, content, RegistrationState).transaction_id == value


@pytest.mark.parametrize(
    "text",
    [
        "18072e8c-35bf-492d-89e9-c616612e769g",
        "18072e8c-35bf-492d-89e9-c616612e769",  # 31 digits
        "18072e8c35bf492d89e9c616612e76960",  # 33 digits
        "",
    ],
)
def test_uuid_fields_refuse_other_text_without_quoting_it(text: str) -> None:
    with pytest.raises(VlensResponseError) as caught:
        CODEC.decode(200, envelope_bytes({"transactionId": text}), RegistrationState)
    assert "data.transaction_id: expected a UUID string, got other text" in str(caught.value)
    assert "18072e8c" not in str(caught.value)


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


@attrs.frozen(kw_only=True, cache_hash=True)
class Hashed:
    """A model that caches its hash, as attrs allows."""

    code: str | None = None
    count: int | None = None


def test_a_model_with_cache_hash_decodes_and_hashes() -> None:
    """cache_hash=True models are built by their own __init__, so hash() works."""
    decoded = CODEC.decode(200, envelope_bytes({"code": "ab", "count": 2}), Hashed)
    assert decoded == Hashed(code="ab", count=2)
    assert hash(decoded) == hash(Hashed(code="ab", count=2))
    assert {decoded: 1}[Hashed(code="ab", count=2)] == 1


@attrs.frozen(kw_only=True)
class Defaults:
    """Fields whose null is not simply their default."""

    ratio: float
    count: int | None = 5


def test_null_is_checked_where_it_is_not_an_optional_default() -> None:
    """A null skips the hook only for an optional field defaulting to None: a required field
    refuses it, and an optional one with another default becomes None, not its default."""
    with pytest.raises(VlensResponseError, match=r"data\.ratio: expected float, got null"):
        CODEC.decode(200, envelope_bytes({"ratio": None}), Defaults)
    decoded = CODEC.decode(200, envelope_bytes({"ratio": 0.5, "count": None}), Defaults)
    assert decoded == Defaults(ratio=0.5, count=None)
    assert CODEC.decode(200, envelope_bytes({"ratio": 1}), Defaults) == Defaults(ratio=1)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_result_models_with_every_field_missing_decode_to_defaults(model: type[Any]) -> None:
    """An empty ``data`` object gives the model with every field at its default (all set)."""
    decoded = CODEC.decode(200, envelope_bytes({}), model)
    assert decoded == model()
    assert repr(decoded) == repr(model())


@pytest.fixture(params=["orjson", "json"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the codec reading JSON through orjson, and through the stdlib stand-in
    used where orjson cannot be imported."""
    if request.param == "json":
        monkeypatch.setattr(_codec, "loads", _json.stdlib_loads)
    else:
        assert _codec.loads is _json.loads  # type: ignore[attr-defined]
    return str(request.param)


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)])
def test_integers_beyond_64_bits_are_refused_not_rounded(parser: str, number: int) -> None:
    """An integer field given more than 64 bits is a VlensResponseError naming the field
    (orjson reads some as floats, which would come back as other integers)."""
    content = b'{"data": {"user": {"id": %d}}, "error_code": null}' % number
    with pytest.raises(VlensResponseError, match=r"data\.user\.id: expected int of at most 64"):
        CODEC.decode(200, content, RegistrationState)


@pytest.mark.parametrize("number", [2**63 - 1, -(2**63), 0, -1])
def test_integers_within_64_bits_are_exact(parser: str, number: int) -> None:
    """The 64-bit limits themselves decode exactly, whichever parser read them."""
    content = b'{"data": {"user": {"id": %d}}, "error_code": null}' % number
    decoded = CODEC.decode(200, content, RegistrationState)
    assert decoded.user is not None
    assert decoded.user.id == number


@pytest.mark.parametrize(("value", "expected"), [(b"3.0", 3), (b"-1e3", -1000)])
def test_a_whole_float_is_an_int(parser: str, value: bytes, expected: int) -> None:
    content = b'{"data": {"user": {"id": %s}}, "error_code": null}' % value
    decoded = CODEC.decode(200, content, RegistrationState)
    assert decoded.user is not None
    assert decoded.user.id == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b"1.5", "expected int, got a fractional number"),
        (b"true", "expected int, got boolean"),
        (b'"3"', "expected int, got string"),
    ],
)
def test_an_int_field_refuses_other_values(parser: str, value: bytes, problem: str) -> None:
    content = b'{"data": {"user": {"id": %s}}, "error_code": null}' % value
    with pytest.raises(VlensResponseError, match=f"data\\.user\\.id: {problem}"):
        CODEC.decode(200, content, RegistrationState)


def test_raw_json_holds_wide_integers_as_the_parser_reads_them(parser: str) -> None:
    """``object`` results and an error's descriptions are the parser's reading: orjson holds
    an integer beyond 64 bits as a float, json exactly (documented in ``_json``)."""
    big = 10**30 + 1
    expected: int | float = float(big) if parser == "orjson" else big
    assert CODEC.decode(200, envelope_bytes({"n": big}), object) == {"n": expected}
    error = json.dumps(
        {"data": None, "error_code": 4001, "error_message": "no", "error_descriptions": [big]}
    ).encode()
    with pytest.raises(VlensError) as caught:
        CODEC.decode(200, error, RegistrationState)
    assert getattr(caught.value, "descriptions", None) == [expected]


def decoded_both_ways(content: bytes, result_type: Any) -> tuple[Any, Any]:
    """What decoding ``content`` gives (a value, or the error's type and words), read with
    orjson, then with the stdlib stand-in."""

    def outcome() -> tuple[str, Any]:
        try:
            return "value", CODEC.decode(200, content, result_type)
        except VlensError as exc:
            return "error", (type(exc), str(exc))

    with_orjson = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_codec, "loads", _json.stdlib_loads)
        return with_orjson, outcome()


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    "content",
    [
        b'{"data": {"expireInSeconds": NaN}, "error_code": null}',
        b'{"data": {"expireInSeconds": Infinity}, "error_code": null}',
        b'{"data": {"expireInSeconds": 1e400}, "error_code": null}',
        b'{"data": {"userName": "\xed\xa0\x80"}, "error_code": null}',  # not UTF-8
        b'{"data": {}, "error_code": null} x',
        b'{"data": ' + NESTED + b', "error_code": null}',
        NESTED,
    ],
    ids=lambda content: repr(content[:40]),
)
def test_what_is_not_json_is_invalid_json_either_way(content: bytes) -> None:
    """Not JSON, for either parser: a VlensResponseError saying so (never RecursionError)."""
    with_orjson, with_json = decoded_both_ways(content, RegistrationState)
    assert with_orjson == with_json
    assert with_orjson[1][0] is VlensResponseError
    assert "invalid JSON" in with_orjson[1][1]


def test_a_byte_order_mark_before_the_envelope_is_skipped_either_way() -> None:
    """A UTF-8 BOM before the JSON (RFC 8259 lets a reader ignore it): read by both parsers;
    one inside a string is kept as the character it is."""
    content = b'\xef\xbb\xbf{"data": {"userName": "\xef\xbb\xbfa"}, "error_code": null}'
    with_orjson, with_json = decoded_both_ways(content, RegistrationState)
    assert with_orjson == with_json == ("value", RegistrationState(user_name="\ufeffa"))


def test_duplicate_keys_keep_the_last_either_way() -> None:
    content = b'{"data": {"userName": "a", "userName": "b"}, "error_code": null}'
    with_orjson, with_json = decoded_both_ways(content, RegistrationState)
    assert with_orjson == with_json == ("value", RegistrationState(user_name="b"))


TYPED_RESULTS = [kind for kind in RESULT_TYPES if kind is not object]


@pytest.mark.parametrize(
    "result_type", TYPED_RESULTS, ids=lambda kind: getattr(kind, "__name__", kind)
)
@pytest.mark.parametrize("number", [-(2**63) - 1, 2**64, 10**30])
@pytest.mark.parametrize("where", ["data", "isEmailConfirmed", "user", "expireInSeconds"])
def test_a_wide_integer_is_refused_in_the_same_words(
    result_type: Any, number: int, where: str
) -> None:
    """orjson reads an integer beyond 64 bits as a float; a typed result says the same either
    way, and never calls it a float."""
    data = number if where == "data" else {where: number}
    with_orjson, with_json = decoded_both_ways(envelope_bytes(data), result_type)
    assert with_orjson == with_json
    assert "float" not in str(with_orjson[1])


@PROPERTY
@given(data=st.one_of(json_values, st.dictionaries(st.sampled_from(WIRE_KEYS), json_values)))
def test_orjson_and_json_decode_any_data_alike(data: Any) -> None:
    """For any ``data`` (any integer), each typed result is decoded the same, or refused with
    the same error, whichever parser read the envelope."""
    content = envelope_bytes(data)
    for result_type in TYPED_RESULTS:
        with_orjson, with_json = decoded_both_ways(content, result_type)
        assert with_orjson == with_json, result_type


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@ROUND_TRIP
@given(data=st.data())
def test_orjson_and_json_encode_the_same_bytes(model: type[Any], data: st.DataObject) -> None:
    """Any model without floats (strings, 64-bit integers, UUIDs, nested models) is written
    byte for byte alike by orjson and by the stdlib stand-in."""
    instance = data.draw(model_strategy(model, BODY_SCALARS))
    fast = CODEC.encode(instance)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_codec, "dumps", _json.stdlib_dumps)
        assert fast == CODEC.encode(instance)


BODIES = [
    body
    for body in vars(_requests).values()
    if isinstance(body, type) and attrs.has(body) and body.__module__ == _requests.__name__
]


@pytest.mark.parametrize("body", BODIES, ids=lambda body: body.__name__)
@ROUND_TRIP
@given(data=st.data())
def test_every_request_body_is_json_of_its_unstructured_value(
    body: type[Any], data: st.DataObject
) -> None:
    """Each request body the services send, with any values of its fields' types, is JSON
    that json reads back to what the converter made of it (floats as orjson spells them)."""
    instance = data.draw(model_strategy(body, BODY_SCALARS))
    assert json.loads(CODEC.encode(instance)) == CODEC.converter.unstructure(instance)


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
    """A UUID field holding anything but a string is refused, with the field named."""
    kind = _codec._json_kind(value)
    problem = rf"data\.{name}: expected a UUID string, got {kind}"
    with pytest.raises(VlensResponseError, match=problem):
        CODEC.decode(200, envelope_bytes({key: value}), model)


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
