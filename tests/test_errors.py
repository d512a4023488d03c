"""Error mapping: Vlens codes and HTTP statuses to exception classes, bad bodies, redaction."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vlens_async import (
    AuthenticationError,
    ExistenceResult,
    InvalidRequestError,
    OutcomeUnknownError,
    QuotaError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    VlensAPIError,
    VlensError,
    VlensResponseError,
)
from vlens_async.testing import error_response
from vlens_transports import Request, Response, ResponseTooLarge

from .conftest import Handler, make_client

CHECK = "registration.check_existence"
PHONE = "+201001234567"
EMAIL = "someone@example.com"
OTP = "918273"
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"
PASSWORD = "Hunter2-Correct-Horse"
ONE_ATTEMPT = RetryPolicy.no_wait(max_attempts=1)

MAPPED_CODES: list[tuple[int, type[VlensAPIError]]] = [
    (400, InvalidRequestError),
    (415, InvalidRequestError),
    (401, AuthenticationError),
    (403, AuthenticationError),
    (429, RateLimitedError),
    (4003, RateLimitedError),
    (4001, QuotaError),
    (4002, QuotaError),
    (4004, QuotaError),
    (4005, QuotaError),
    (4006, QuotaError),
    (4007, QuotaError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
    (5000, ServerError),
]
HTTP_CODES = [(code, cls) for code, cls in MAPPED_CODES if code < 1000]


def respond(response: Response) -> Handler:
    """A handler that always answers with ``response``."""

    async def handler(request: Request) -> Response:
        return response

    return handler


def raw(content: bytes, status: int = 200, content_type: str = "application/json") -> Handler:
    """A handler answering with arbitrary bytes."""
    return respond(Response(status=status, headers={"Content-Type": content_type}, content=content))


def body(payload: Any, status: int = 200) -> Handler:
    """A handler answering with ``payload`` serialised as JSON."""
    return raw(json.dumps(payload).encode(), status)


async def check_error(handler: Handler) -> VlensError:
    """Run one existence check (a read call, no retries) and return the error it raised."""
    client, transport = make_client(handler, retry=ONE_ATTEMPT)
    async with client:
        with pytest.raises(VlensError) as info:
            await client.registration.check_existence(phone_number=PHONE)
    assert len(transport.requests) == 1
    return info.value


async def check_result(handler: Handler) -> ExistenceResult:
    """Run one existence check and return its result."""
    client, _ = make_client(handler, retry=ONE_ATTEMPT)
    async with client:
        return await client.registration.check_existence(phone_number=PHONE)


@pytest.mark.parametrize(("code", "error_type"), MAPPED_CODES)
async def test_code_on_http_200_maps_to_class(code: int, error_type: type[VlensAPIError]) -> None:
    """An HTTP 200 envelope with a documented error_code raises that code's class."""
    descriptions = {"phoneNumber": ["is invalid"], "nested": [1, None, True]}
    error = await check_error(
        respond(error_response(code, "refused", error_descriptions=descriptions))
    )
    assert type(error) is error_type
    assert isinstance(error, VlensAPIError)
    assert error.code == code
    assert error.message == "refused"
    assert error.descriptions == descriptions
    assert error.http_status == 200
    assert error.operation == CHECK


@pytest.mark.parametrize(("code", "error_type"), HTTP_CODES)
async def test_http_status_with_envelope_maps_to_class(
    code: int, error_type: type[VlensAPIError]
) -> None:
    """A real 4xx/5xx status carrying an envelope with the same code raises that class."""
    error = await check_error(respond(error_response(code, "nope", status=code)))
    assert type(error) is error_type
    assert isinstance(error, VlensAPIError)
    assert (error.code, error.message, error.http_status) == (code, "nope", code)
    assert error.operation == CHECK


@pytest.mark.parametrize(("code", "error_type"), HTTP_CODES)
async def test_http_status_with_codeless_envelope_maps_by_status(
    code: int, error_type: type[VlensAPIError]
) -> None:
    """A 4xx/5xx status whose envelope has error_code null maps by the status, code = status."""
    error = await check_error(body({"data": None, "error_code": None}, status=code))
    assert type(error) is error_type
    assert isinstance(error, VlensAPIError)
    assert (error.code, error.http_status, error.message) == (code, code, None)


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (4003, RateLimitedError),
        (4001, QuotaError),
        (4007, QuotaError),
        (5000, ServerError),
    ],
)
async def test_422_maps_by_the_body_code(code: int, error_type: type[VlensAPIError]) -> None:
    """HTTP 422 is classified by the Vlens code in its body."""
    error = await check_error(respond(error_response(code, "see code", status=422)))
    assert type(error) is error_type
    assert isinstance(error, VlensAPIError)
    assert (error.code, error.http_status, error.message) == (code, 422, "see code")


@pytest.mark.parametrize("status", [200, 422])
async def test_unknown_code_is_plain_api_error(status: int) -> None:
    """An undocumented code raises VlensAPIError itself, keeping code, message, descriptions."""
    error = await check_error(
        respond(error_response(1234, "OTP is wrong", status=status, error_descriptions="x"))
    )
    assert type(error) is VlensAPIError
    assert (error.code, error.message, error.descriptions) == (1234, "OTP is wrong", "x")
    assert error.http_status == status
    assert error.operation == CHECK
    assert "1234" in str(error)
    assert "OTP is wrong" in str(error)


async def test_unknown_code_on_5xx_falls_back_to_status_class() -> None:
    """An undocumented code on a 500 response is still a ServerError, keeping its code."""
    error = await check_error(respond(error_response(1234, "boom", status=500)))
    assert type(error) is ServerError
    assert isinstance(error, ServerError)
    assert (error.code, error.http_status) == (1234, 500)


async def test_missing_error_message_is_tolerated() -> None:
    """An error envelope without error_message/error_descriptions still maps, message None."""
    error = await check_error(body({"data": None, "error_code": 400}))
    assert type(error) is InvalidRequestError
    assert isinstance(error, InvalidRequestError)
    assert (error.code, error.message, error.descriptions) == (400, None, None)


@pytest.mark.parametrize("code", [0, None])
async def test_error_code_zero_and_null_mean_success(code: int | None) -> None:
    """error_code 0 or null with data is a success; unknown keys and no message are tolerated."""
    result = await check_result(
        body({"data": {"exists": True}, "error_code": code, "Services": [], "extra": 1})
    )
    assert result == ExistenceResult(exists=True)


async def test_html_502_page_is_server_error() -> None:
    """A proxy's HTML 502 page raises ServerError with http_status 502."""
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    error = await check_error(raw(page, status=502, content_type="text/html"))
    assert type(error) is ServerError
    assert isinstance(error, ServerError)
    assert (error.code, error.http_status, error.operation) == (502, 502, CHECK)


async def test_empty_503_is_server_error() -> None:
    """An empty body on HTTP 503 raises ServerError with http_status 503."""
    error = await check_error(raw(b"", status=503))
    assert type(error) is ServerError
    assert isinstance(error, ServerError)
    assert (error.code, error.http_status) == (503, 503)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"[1, 2, 3]",
        b'"a string"',
        b"\xff\xfe\x00garbage",
        json.dumps({"data": {"exists": "true"}, "error_code": None}).encode(),
        json.dumps({"data": "abc", "error_code": None}).encode(),
        json.dumps({"data": None, "error_code": "400"}).encode(),
        json.dumps({"data": None, "error_code": True}).encode(),
        json.dumps({"data": None, "error_code": 1.5}).encode(),
    ],
)
async def test_unreadable_200_body_is_response_error(content: bytes) -> None:
    """A 200 whose body is not a valid envelope of the right types raises VlensResponseError."""
    error = await check_error(raw(content))
    assert type(error) is VlensResponseError
    assert isinstance(error, VlensResponseError)
    assert error.http_status == 200
    assert error.operation == CHECK
    assert len(error.excerpt) <= 160


@pytest.mark.parametrize(
    "data",
    [
        {"isEmailConfirmed": "true"},
        {"user": {"id": "x"}},
        {"user": "abc"},
        {"phoneNumberOtpRequestId": "not-a-uuid"},
        {"expireInSeconds": 1.5},
        [],
    ],
)
async def test_wrong_types_in_data_are_response_error(data: Any) -> None:
    """RegistrationState data with wrong field types is a VlensResponseError, not a TypeError;
    for an effect it is carried by OutcomeUnknownError (the request was processed)."""
    client, transport = make_client(body({"data": data, "error_code": None}), retry=ONE_ATTEMPT)
    async with client:
        with pytest.raises(OutcomeUnknownError) as info:
            await client.registration.send_phone_otp(PHONE)
    assert len(transport.requests) == 1
    error = info.value.error
    assert isinstance(error, VlensResponseError)
    assert info.value.__cause__ is error
    assert error.http_status == 200
    assert error.operation == "registration.send_phone_otp"
    assert error.excerpt


async def test_oversized_body_is_response_error() -> None:
    """A body over the transport's limit raises VlensResponseError with the response status."""

    async def handler(request: Request) -> Response:
        raise ResponseTooLarge(200, 1024)

    error = await check_error(handler)
    assert type(error) is VlensResponseError
    assert isinstance(error, VlensResponseError)
    assert error.http_status == 200
    assert error.__cause__ is not None
    assert isinstance(error.__cause__, ResponseTooLarge)


SECRETS = [OTP, TOKEN, PASSWORD, PHONE, EMAIL]


def leaky_payload(otp: Any = OTP) -> dict[str, Any]:
    """A 200 envelope whose data has the wrong shape and is full of secrets and personal data."""
    return {
        "data": {
            "phoneNumberOtp": otp,
            "accessToken": TOKEN,
            "password": PASSWORD,
            "phoneNumber": PHONE,
            "emailAddress": EMAIL,
            "user": "abc",
            "exists": "yes",
        },
        "error_code": None,
    }


def assert_redacted(error: VlensError, excerpt: str) -> None:
    """Neither the excerpt nor the message shows any secret in full."""
    for secret in SECRETS:
        assert secret not in excerpt
        assert secret not in str(error)
    assert TOKEN[:20] not in str(error)
    assert len(excerpt) <= 160


async def test_response_error_excerpt_is_redacted() -> None:
    """The excerpt and message of a VlensResponseError hide OTPs, tokens, passwords, contacts."""
    error = await check_error(body(leaky_payload()))
    assert isinstance(error, VlensResponseError)
    assert error.excerpt
    assert_redacted(error, error.excerpt)


async def test_numeric_otp_is_redacted() -> None:
    """An OTP sent as a JSON number is hidden in the excerpt just like a string one."""
    error = await check_error(body(leaky_payload(otp=int(OTP))))
    assert isinstance(error, VlensResponseError)
    assert_redacted(error, error.excerpt)


async def test_invalid_json_excerpt_is_redacted() -> None:
    """Secrets in a body that is not even JSON are hidden in the excerpt and message."""
    content = json.dumps(leaky_payload()).encode()[:-3] + b" <truncated"
    error = await check_error(raw(content))
    assert isinstance(error, VlensResponseError)
    assert_redacted(error, error.excerpt)


async def test_html_error_page_message_is_redacted() -> None:
    """A non-envelope 502 page with personal data does not leak it into the error message."""
    page = f"<html><body>Bad gateway for {PHONE} / {EMAIL} token={TOKEN}</body></html>"
    error = await check_error(raw(page.encode(), status=502, content_type="text/html"))
    assert isinstance(error, ServerError)
    assert_redacted(error, "")


async def test_long_body_excerpt_is_short() -> None:
    """The excerpt of a long invalid body is at most 160 characters."""
    content = b"<html>" + b"x y " * 5000
    error = await check_error(raw(content))
    assert isinstance(error, VlensResponseError)
    assert 0 < len(error.excerpt) <= 160
    assert len(str(error)) < 400
