"""How the sandbox reads requests: UTF-8 JSON objects, every field checked, every request
through ``Sandbox.process``, and any bad body answered with a 400 envelope."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from vlens_async.sandbox import Exchange, Sandbox, create_app
from vlens_transports import FakeTransport, Request, Response

URL = "https://sandbox.vlens.test/api/DigitalIdentity/Register/StepVerifyPhone"
PATH = "/api/DigitalIdentity/Register/StepVerifyPhone"
PHONE = "+201001234567"
HEADERS = {"ApiKey": "sandbox-key", "Content-Type": "application/json"}
TX = "0B7F4A0E-6A36-4B3A-9D0E-0E0E0E0E0E0E"
E164 = "must be an E.164 phone number such as +201001234567"
NOT_JSON = "Bad request: the body is not valid JSON."
NESTED = b"[" * 100_000 + b"]" * 100_000


def request(headers: Any = HEADERS, body: Any = None, *, content: bytes | None = None) -> Request:
    if content is None:
        content = json.dumps({"phoneNumber": PHONE} if body is None else body).encode()
    return Request(method="POST", url=URL, headers=headers, content=content)


def answer(response: Response) -> tuple[Any, Any, Any]:
    """The envelope's error code, descriptions and data."""
    decoded = json.loads(response.content)
    assert isinstance(decoded, dict)
    return decoded["error_code"], decoded["error_descriptions"], decoded["data"]


async def test_a_utf8_body_parses_and_a_bytearray_too() -> None:
    sandbox = Sandbox(resend_cooldown=0)
    content = json.dumps({"phoneNumber": PHONE, "name": "Mona é"}, ensure_ascii=False).encode()
    assert (await sandbox.handle(request(content=content))).status == 200
    kept = bytearray(b'{"phoneNumber": "+201001234568"}')
    assert (await sandbox.handle(request(content=kept))).status == 200  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("utf-8-sig", NOT_JSON),  # JSON between systems is UTF-8 without a BOM (RFC 8259)
        ("utf-16", NOT_JSON),
        ("utf-32-le", NOT_JSON),
        (b'{"phoneNumber": "\xed\xa0\x80"}', NOT_JSON),  # not UTF-8
        (b'{"phoneNumber": "+201001234567", "smsProviders": NaN}', NOT_JSON),
        (b'{"phoneNumber": "+201001234567", "smsProviders": Infinity}', NOT_JSON),
        (b"", NOT_JSON),
        (b"{", NOT_JSON),
        (NESTED, NOT_JSON),  # never a RecursionError
        (b"[1]", "Bad request: the body must be a JSON object."),
    ],
)
async def test_a_bad_body_is_a_400_envelope(content: bytes | str, message: str) -> None:
    """Anything that is not a UTF-8 JSON object is refused with a 400 envelope; nothing sent."""
    if isinstance(content, str):
        content = json.dumps({"phoneNumber": PHONE}).encode(content)
    sandbox = Sandbox()
    response = await sandbox.handle(request(content=content))
    decoded = json.loads(response.content)
    assert (response.status, decoded["error_code"], decoded["error_message"]) == (400, 400, message)
    assert len(sandbox.outbox) == 0


@pytest.fixture
async def http() -> AsyncIterator[TestClient[Any, Any]]:
    """An aiohttp test client talking to a served sandbox."""
    async with TestClient(TestServer(create_app(Sandbox()))) as client:
        yield client


@pytest.mark.parametrize("content", [NESTED, b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
async def test_a_deeply_nested_body_over_http_is_a_400_envelope(
    http: TestClient[Any, Any], content: bytes
) -> None:
    """The served sandbox answers absurd nesting as any bad body, never a 500 from a
    RecursionError (issue 13, item 14)."""
    response = await http.post(PATH, data=content, headers=HEADERS)
    assert response.status == 400
    assert response.content_type == "application/json"
    decoded = await response.json()
    assert (decoded["error_code"], decoded["error_message"]) == (400, NOT_JSON)


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


async def test_calls_are_logged_with_their_operation(caplog: pytest.LogCaptureFixture) -> None:
    """Each call's log line names the SDK operation it is."""
    caplog.set_level(logging.INFO, logger="vlens_async.sandbox")
    sandbox = Sandbox(seed=1)
    await sandbox.handle(request())
    sent = sandbox.outbox.last(PHONE)
    body = {"phoneNumber": PHONE, "phoneNumberOtpRequestId": str(sent.request_id)}
    await sandbox.handle(request(body={**body, "phoneNumberOtp": sent.code}))
    lines = [r.getMessage() for r in caplog.records if r.name == "vlens_async.sandbox"]
    assert [line.split()[0] for line in lines] == [
        "registration.send_phone_otp",
        "registration.validate_phone_otp",
    ]
    assert all("-> 200 subject=" in line and "fault" not in line for line in lines)


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
async def test_send_phone_otp_reads_the_usual_fields(
    fields: dict[str, Any], provider: int, transaction: str | None
) -> None:
    """Absent, null and 0 providers are the tenant default; a transactionId comes back."""
    sandbox = Sandbox(seed=1, default_sms_provider=3)
    error, _, data = answer(await sandbox.handle(request(body={"phoneNumber": PHONE, **fields})))
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
        ({"smsProviders": 2.0}, {"smsProviders": ["must be an integer"]}),
        ({"transactionId": "no"}, {"transactionId": ["must be a UUID"]}),
        ({"transactionId": ""}, {"transactionId": ["must be a non-empty string"]}),
        ({"transactionId": 5}, {"transactionId": ["must be a non-empty string"]}),
        ({"phoneNumber": " " + PHONE}, {"phoneNumber": [E164]}),
        ({"phoneNumber": "+2010" + "\u0660" * 8}, {"phoneNumber": [E164]}),
        ({"phoneNumber": 201001234567}, {"phoneNumber": ["must be a non-empty string"]}),
        ({"phoneNumber": None}, {"phoneNumber": ["is required"]}),
        ({"phoneNumber": ""}, {"phoneNumber": ["must be a non-empty string"]}),
        ({"phoneNumber": "   "}, {"phoneNumber": ["must be a non-empty string"]}),
        ({"phoneNumber": [PHONE]}, {"phoneNumber": ["must be a non-empty string"]}),
        ({"phoneNumber": PHONE + "\n"}, {"phoneNumber": [E164]}),
        ({"phoneNumber": "+2010012345678901"}, {"phoneNumber": [E164]}),
    ],
)
async def test_send_phone_otp_checks_every_value(
    fields: dict[str, Any], descriptions: dict[str, list[str]]
) -> None:
    """A wrong value is a 400 naming the wire field, and nothing is sent."""
    sandbox = Sandbox(seed=1)
    error, found, _ = answer(await sandbox.handle(request(body={"phoneNumber": PHONE, **fields})))
    assert (error, found) == (400, descriptions)
    assert len(sandbox.outbox) == 0


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
async def test_a_provider_beyond_64_bits_is_refused(number: int) -> None:
    """However the JSON library reads a wide integer (orjson: as a float), it is a 400 naming
    the field, and nothing is sent."""
    sandbox = Sandbox()
    content = b'{"phoneNumber": "+201001234567", "smsProviders": %d}' % number
    error, found, _ = answer(await sandbox.handle(request(content=content)))
    assert error == 400
    assert list(found) == ["smsProviders"]
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
    """Every in-memory request goes through process(), with faults scheduled or not."""
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


async def test_the_in_memory_client_keeps_no_record_of_requests() -> None:
    """sandbox.client() counts requests but keeps none: each request body holds a 4 KiB
    buffer from orjson, so a long in-memory run would grow by that much a call."""
    sandbox = Sandbox(resend_cooldown=0)
    async with sandbox.client() as client:
        await client.registration.send_phone_otp(PHONE)
        transport = client.transport
        assert isinstance(transport, FakeTransport)
        assert (transport.sent, transport.requests, sandbox.requests_seen) == (1, [], 1)
