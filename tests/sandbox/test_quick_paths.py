"""The sandbox's quick paths answer what the plain ones they stand in for answer.

Writing a registration answer from pre-written text, making UUIDs and codes without the
standard library's checks, keeping the last lower-cased headers, reading the usual field values
first: each is checked here against the plain way, or against the answers it must not change.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlens_async.sandbox import Exchange, Sandbox, _core, _wire
from vlens_async.sandbox._context import registration_state
from vlens_async.sandbox._state import below
from vlens_async.sandbox._wire import FixedObject, envelope_bytes, uuid_text
from vlens_transports import Request, Response

URL = "https://sandbox.vlens.test/api/DigitalIdentity/Register/StepVerifyPhone"
PHONE = "+201001234567"

VALUES = (
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=6,
    )
    | st.uuids()
)  # a UUID is written as its text
KEYS = st.text(alphabet=st.sampled_from('ab%s"\\é\n'), min_size=1, max_size=4)


def dumped(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)  # default: a UUID's text


@settings(max_examples=300, deadline=None)
@given(st.lists(KEYS, unique=True, max_size=6), st.data())
def test_a_fixed_object_is_written_as_json_dumps_writes_the_dict(
    keys: list[str], data: st.DataObject
) -> None:
    """Template keys in their order (null unless given), then extra keys in the order given."""
    extra = data.draw(st.lists(KEYS.filter(lambda key: key not in keys), unique=True, max_size=3))
    names = data.draw(st.permutations(keys + extra))
    given_names = names[: data.draw(st.integers(0, len(names)))]
    fields = {name: data.draw(VALUES) for name in given_names}
    expected = dict.fromkeys(keys)
    expected.update(fields)
    shape = FixedObject(keys, extra=extra)
    assert shape.write(fields).text == dumped(expected)
    assert shape.write(fields).text == dumped(expected)  # and again, from the kept layout


def test_a_fixed_object_of_no_keys_is_an_empty_object() -> None:
    assert FixedObject([]).write({}).text == "{}"


def test_registration_state_envelope_is_the_whole_envelope_encoded() -> None:
    """What a handler answers goes out as json.dumps of the plain dict would put it."""
    request_id = uuid.UUID("12345678-1234-4234-8234-123456789abc")
    state = registration_state(
        isPhoneNumberConfirmationRequired=True,
        isPhoneNumberConfirmed=False,
        phoneNumberOtpRequestId=request_id,
        phoneOtpExpireInSeconds=300,
        transactionId="tx",
        redirectUri=None,
        user={"id": 1, "name": "Mona é"},
    )
    decoded = json.loads(envelope_bytes(state))
    assert list(decoded) == ["data", "error_code", "error_message", "error_descriptions"]
    data = decoded["data"]
    assert len(data) == 18  # every ApiOutputRegister key, and the one extra given
    assert data["phoneNumberOtpRequestId"] == str(request_id)
    assert data["user"] == {"id": 1, "name": "Mona é"}
    assert envelope_bytes(state) == json.dumps(decoded, separators=(",", ":")).encode()


def test_registration_state_refuses_a_key_it_does_not_have() -> None:
    with pytest.raises(AssertionError):
        registration_state(isPhoneConfirmed=True)


@pytest.mark.parametrize("bits", [0, 1, (1 << 128) - 1, 0x0123456789ABCDEF0123456789ABCDEF])
def test_uuid_text_is_str_of_the_uuid(bits: int) -> None:
    assert uuid_text(bits) == str(uuid.UUID(int=bits))


def test_new_uuids_are_plain_immutable_uuids() -> None:
    """Made without UUID's constructor, a new id is still exactly what the constructor makes."""
    made = Sandbox(seed=3).state.new_uuid()
    reference = uuid.UUID(str(made))
    assert type(made) is uuid.UUID
    assert made.is_safe is reference.is_safe
    assert (made, hash(made), repr(made)) == (reference, hash(reference), repr(reference))
    with pytest.raises(TypeError):
        made.int = 1  # type: ignore[misc]


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1000, 10**6, 2**20, 2**20 + 1, 10**12])
def test_below_draws_what_randrange_draws(n: int) -> None:
    """Same numbers, and the generator left where randrange leaves it (seeded codes hold)."""
    for seed in range(5):
        ours, reference = random.Random(seed), random.Random(seed)
        assert [below(ours, n) for _ in range(200)] == [reference.randrange(n) for _ in range(200)]
        assert ours.getstate() == reference.getstate()


def request(headers: Any, body: dict[str, Any] | None = None) -> Request:
    content = json.dumps({"phoneNumber": PHONE} if body is None else body).encode()
    return Request(method="POST", url=URL, headers=headers, content=content)


async def test_a_reused_headers_object_whose_contents_change_is_read_again() -> None:
    """The SDK sends one read-only view of its header dict; a change under it is seen."""
    headers = {"ApiKey": "sandbox-key", "Content-Type": "application/json"}
    view = MappingProxyType(headers)
    sandbox = Sandbox(resend_cooldown=0)
    assert (await sandbox.handle(request(view))).status == 200
    headers["ApiKey"] = "another-key"
    assert (await sandbox.handle(request(view))).status == 401
    del headers["ApiKey"]
    headers["APIKEY"] = "sandbox-key"
    assert (await sandbox.handle(request(view))).status == 200


async def test_calls_are_logged_with_their_operation_when_no_fault_is_scheduled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With no fault schedule the name is worked out for the log only; it is still right."""
    caplog.set_level(logging.INFO, logger="vlens_async.sandbox")
    sandbox = Sandbox(seed=1)
    await sandbox.handle(request(HEADERS))
    sent = sandbox.outbox.last(PHONE)
    body = {"phoneNumber": PHONE, "phoneNumberOtpRequestId": str(sent.request_id)}
    await sandbox.handle(request(HEADERS, {**body, "phoneNumberOtp": sent.code}))
    lines = [r.getMessage() for r in caplog.records if r.name == "vlens_async.sandbox"]
    assert [line.split()[0] for line in lines] == [
        "registration.send_phone_otp",
        "registration.validate_phone_otp",
    ]
    assert all("-> 200 subject=" in line and "fault" not in line for line in lines)


def answer(response: Response) -> tuple[Any, Any, Any]:
    decoded = json.loads(response.content)
    assert isinstance(decoded, dict)
    return decoded["error_code"], decoded["error_descriptions"], decoded["data"]


HEADERS = {"ApiKey": "sandbox-key", "Content-Type": "application/json"}
TX = "0B7F4A0E-6A36-4B3A-9D0E-0E0E0E0E0E0E"
E164 = "must be an E.164 phone number such as +201001234567"


@pytest.mark.parametrize(
    ("fields", "provider", "transaction"),
    [
        ({"smsProviders": None}, 3, None),
        ({"smsProviders": 0}, 3, None),
        ({"smsProviders": 4}, 4, None),
        ({"transactionId": None}, 3, None),
        ({"transactionId": TX}, 3, TX.lower()),
    ],
)
async def test_send_phone_otp_reads_the_usual_fields_as_before(
    fields: dict[str, Any], provider: int, transaction: str | None
) -> None:
    """Absent, null and 0 providers are the tenant default; a transactionId comes back."""
    sandbox = Sandbox(seed=1, default_sms_provider=3)
    body = {"phoneNumber": PHONE, **fields}
    error, _, data = answer(await sandbox.handle(request(HEADERS, body)))
    assert error is None
    assert sandbox.outbox.last(PHONE).provider == provider
    if transaction is None:
        assert uuid.UUID(data["transactionId"]).version == 4  # a new one
    else:
        assert data["transactionId"] == transaction


@pytest.mark.parametrize(
    ("fields", "descriptions"),
    [
        ({"smsProviders": 8}, {"smsProviders": ["must be an SMS provider number from 1 to 7"]}),
        ({"smsProviders": True}, {"smsProviders": ["must be an integer"]}),
        ({"smsProviders": False}, {"smsProviders": ["must be an integer"]}),
        ({"transactionId": "no"}, {"transactionId": ["must be a UUID"]}),
        ({"transactionId": ""}, {"transactionId": ["must be a non-empty string"]}),
        ({"transactionId": 5}, {"transactionId": ["must be a non-empty string"]}),
        ({"phoneNumber": " " + PHONE}, {"phoneNumber": [E164]}),
        ({"phoneNumber": "+2010" + "\u0660" * 8}, {"phoneNumber": [E164]}),
        ({"phoneNumber": 201001234567}, {"phoneNumber": ["must be a non-empty string"]}),
        ({"phoneNumber": None}, {"phoneNumber": ["is required"]}),
    ],
)
async def test_send_phone_otp_still_checks_every_other_value(
    fields: dict[str, Any], descriptions: dict[str, list[str]]
) -> None:
    """Values off the usual path are checked in full, and nothing is sent."""
    sandbox = Sandbox(seed=1)
    body = {"phoneNumber": PHONE, **fields}
    error, found, _ = answer(await sandbox.handle(request(HEADERS, body)))
    assert (error, found) == (400, descriptions)
    assert len(sandbox.outbox) == 0


class CountingSandbox(Sandbox):
    """A subclass wrapping process(), as a consumer's test double may."""

    def __init__(self) -> None:
        super().__init__(resend_cooldown=0)
        self.processed = 0

    async def process(self, request: Request) -> Exchange:
        self.processed += 1
        return await super().process(request)


async def test_a_subclass_wrapping_process_sees_every_in_memory_request() -> None:
    """The in-memory entry's no-fault shortcut is taken only when process() is Sandbox's own."""
    sandbox = CountingSandbox()
    async with sandbox.client() as client:
        await client.registration.send_phone_otp(PHONE)
        sandbox.faults.latency(0.001)
        await client.registration.send_phone_otp("+201001234568")
    assert sandbox.processed == 2
    assert sandbox.requests_seen == 2


@pytest.mark.parametrize("where", ["instance", "class"])
async def test_a_patched_process_sees_every_in_memory_request(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spy put on process() after the sandbox was made, on it or on its class, sees calls."""
    sandbox = Sandbox(resend_cooldown=0)
    seen: list[str] = []
    real = Sandbox.process

    async def spy(self: Sandbox, request: Request) -> Exchange:
        seen.append(request.url)
        return await real(self, request)

    if where == "class":
        monkeypatch.setattr(Sandbox, "process", spy)
    else:
        monkeypatch.setattr(sandbox, "process", spy.__get__(sandbox))
    async with sandbox.client() as client:
        await client.registration.send_phone_otp(PHONE)
    assert len(seen) == 1


async def test_the_usual_answer_has_a_read_only_header_map() -> None:
    """An answer with the usual JSON headers equals the Response built the plain way, and its
    header map cannot be changed through any response."""
    sandbox = Sandbox(resend_cooldown=0)
    headers = MappingProxyType({"ApiKey": "sandbox-key", "Content-Type": "application/json"})
    first = await sandbox.handle(request(headers))
    second = await sandbox.handle(request(headers, {"phoneNumber": "+201001234568"}))
    assert (first.status, second.status) == (200, 200)
    plain = Response(
        status=first.status,
        headers={"Content-Type": "application/json; charset=utf-8"},
        content=first.content,
    )
    assert first == plain
    shared: Any = first.headers
    with pytest.raises(TypeError):
        shared["content-type"] = "text/plain"
    assert second.headers["content-type"] == "application/json; charset=utf-8"


JSON_BODIES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(st.text(max_size=6), JSON_BODIES, max_size=5))
def test_a_body_read_by_orjson_is_what_json_reads(body: dict[str, Any]) -> None:
    """Any object body (wide integers, floats, NaN, nested values, any text) is either left to
    json (None) or read to exactly what json reads."""
    for content in (
        json.dumps(body).encode(),  # every non-ASCII character escaped
        json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"),  # raw UTF-8
    ):
        read = _core._read_flat(content)
        if read is not None:
            assert read == json.loads(content)
            assert list(read) == list(json.loads(content))


@pytest.mark.parametrize(
    ("content", "by_orjson"),
    [
        (b'{"phoneNumber":"+201001234567","smsProviders":2}', True),
        (b'{"a":null,"b":true,"c":9223372036854775807}', True),
        (b'{"n":18446744073709551616}', False),  # orjson: a float, json: the integer
        (b'{"n":-9223372036854775809}', False),
        (b'{"n":1.0}', False),
        (b'{"geo":{"latitude":30.04}}', False),
        (b'{"a":"\\ud800"}', False),  # a lone surrogate: orjson refuses, json reads it
        (b"\xef\xbb\xbf{}", False),  # a BOM
        (b"[1]", False),
        (b"", False),
    ],
)
def test_only_flat_bodies_of_exact_values_are_read_by_orjson(
    content: bytes, by_orjson: bool
) -> None:
    read = _core._read_flat(content)
    assert (read is not None) is by_orjson
    if read is not None:
        assert read == json.loads(content)


async def test_a_body_json_reads_differently_is_answered_as_json_reads_it() -> None:
    """An integer beyond 64 bits for the provider is refused as json reads it (an unknown
    provider), not as the float orjson would make of it."""
    sandbox = Sandbox(resend_cooldown=0)
    headers = MappingProxyType({"ApiKey": "sandbox-key", "Content-Type": "application/json"})
    wide = await sandbox.handle(request(headers, {"phoneNumber": PHONE, "smsProviders": 2**64}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_core, "_fast_loads", None)
        plain = await Sandbox(resend_cooldown=0).handle(
            request(headers, {"phoneNumber": PHONE, "smsProviders": 2**64})
        )
    assert wide.status == plain.status == 400
    assert wide.content == plain.content


@pytest.mark.parametrize(
    ("value", "by_orjson"),
    [
        ("ascii text", True),
        (uuid.UUID(int=7), True),
        (2**63 - 1, True),
        (None, True),
        ("مرحبا", False),  # not ASCII: _dumps escapes it, orjson would not
        ("x\x7fy", False),  # DEL: ASCII, but _dumps escapes it and orjson does not
        (2**64, False),  # beyond what orjson writes
        (1e-05, False),  # orjson spells it 0.00001
        ({"nested": 1}, False),
    ],
)
def test_a_fixed_object_is_written_by_orjson_only_where_it_writes_as_dumps(
    value: Any, by_orjson: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quick path is taken for ASCII text, UUIDs, 64-bit integers, booleans and nulls
    (the value-by-value writer is not called), and what comes out is the same either way."""
    by_hand: list[object] = []
    write_value = _wire._write_value

    def spy(one: object) -> str:
        by_hand.append(one)
        return write_value(one)

    monkeypatch.setattr(_wire, "_write_value", spy)
    text = FixedObject(["a", "b"]).write({"b": value}).text
    assert text == dumped({"a": None, "b": value})
    assert (by_hand == []) is by_orjson


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.none() | st.booleans() | st.integers() | st.text() | st.uuids(),
        max_size=3,
    )
)
def test_a_fixed_object_of_flat_values_is_written_as_json_dumps_writes_it(
    fields: dict[str, Any],
) -> None:
    """Flat values of the kinds orjson may write (any text, any integer): the quick path or
    the plain one, the text is what json.dumps gives."""
    expected = {"a": None, "b": None, "c": None}
    expected.update(fields)
    assert FixedObject(["a", "b", "c"]).write(fields).text == dumped(expected)
