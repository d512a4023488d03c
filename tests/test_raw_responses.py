"""Raw responses on errors and for successful calls, redacted; vlens_code beside http_status
(issue 15 items 5 and "Mapping errors to HTTP")."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import attrs
import pytest

import vlens_async
from vlens_async import (
    AuthenticationError,
    InvalidRequestError,
    RateLimitedError,
    RawResponse,
    ServerError,
    VlensAPIError,
    VlensResponseError,
    capture_response,
)
from vlens_async.testing import envelope_response
from vlens_transports import Request, Response, ResponseTooLarge

from .conftest import API_KEY, make_client

EMAIL = "mona@example.com"
PHONE = "+201001234567"
OTP = "918273"


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()

    async def handler(request: Request) -> Response:
        return Response(status=status, headers=headers or {}, content=content)

    return handler


async def failure(handler: Any, **options: Any) -> Any:
    client, _ = make_client(handler, **options)
    async with client:
        with pytest.raises(vlens_async.VlensError) as info:
            await client.registration.check_existence(email=EMAIL)
    return info.value


async def test_api_error_has_the_response_redacted() -> None:
    """status, lower-cased headers and an excerpt; no OTP, key, cookie or full contact."""
    body = {
        "error_code": 400,
        "error_message": f"bad otp {OTP} for {PHONE}",
        "data": {"phoneNumberOtp": OTP, "email": EMAIL},
    }
    headers = {
        "X-Request-Id": "srv-1",
        "Set-Cookie": "session=abcdef0123456789",
        "X-Echo": f"key {API_KEY}",
    }
    client, _ = make_client(reply(400, body, headers))
    async with client:
        with pytest.raises(InvalidRequestError) as info:  # the call sends OTP: a known secret
            await client.registration.validate_phone_otp(PHONE, uuid.uuid4(), OTP)
    error = info.value
    raw = error.response
    assert isinstance(raw, RawResponse)
    assert raw.status == 400
    assert raw.headers["x-request-id"] == "srv-1"
    assert raw.headers["set-cookie"] == "***"
    assert API_KEY not in raw.headers["x-echo"]
    text = repr(raw) + raw.excerpt + str(dict(raw.headers))
    for secret in (OTP, API_KEY, PHONE, EMAIL, "abcdef0123456789"):
        assert secret not in text
    assert '"error_code":400' in raw.excerpt.replace(" ", "")


async def test_response_error_has_the_response() -> None:
    """An unreadable 200 body: VlensResponseError with the status and a short excerpt."""
    error = await failure(reply(200, b"<html>oops</html>", {"Content-Type": "text/html"}))
    assert isinstance(error, VlensResponseError)
    assert error.response is not None
    assert error.response.status == 200
    assert error.response.headers["content-type"] == "text/html"
    assert "oops" in error.response.excerpt


async def test_oversized_answer_has_a_status_only_response() -> None:
    """A body over the limit was never kept: the response has its status and nothing else."""

    async def huge(request: Request) -> Response:
        raise ResponseTooLarge(200, 1024)

    error = await failure(huge)
    assert isinstance(error, VlensResponseError)
    assert error.response == RawResponse(status=200)


def test_raw_response_is_frozen() -> None:
    """A RawResponse is a value."""
    raw = RawResponse(status=200)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        raw.status = 500  # type: ignore[misc]


async def test_capture_response_gives_status_and_headers_of_a_success() -> None:
    """Inside capture_response() a successful call's answer is recorded; outside, nothing."""
    answer = envelope_response({"exists": True})
    headers = {**answer.headers, "X-Request-Id": "srv-9", "X-RateLimit-Remaining": "7"}

    async def handler(request: Request) -> Response:
        return Response(status=200, headers=headers, content=answer.content)

    client, _ = make_client(handler)
    async with client:
        with capture_response() as captured:
            empty = captured.response
            await client.registration.check_existence(email=EMAIL)
        assert empty is None
        assert captured.response is not None
        assert captured.response.status == 200
        assert captured.response.headers["x-ratelimit-remaining"] == "7"
        before = captured.response
        await client.registration.check_existence(email=EMAIL)  # after the block
        assert captured.response is before


async def test_capture_response_is_per_task() -> None:
    """Concurrent tasks, each in its own block, see their own call's answer."""

    async def handler(request: Request) -> Response:
        tag = json.loads(request.content)["email"].split("@")[0]
        answer = envelope_response({"exists": True})
        return Response(status=200, headers={"x-tag": tag}, content=answer.content)

    client, _ = make_client(handler)

    async def one(tag: str) -> str | None:
        with capture_response() as captured:
            await asyncio.sleep(0)
            await client.registration.check_existence(email=f"{tag}@example.com")
        return captured.response.headers["x-tag"] if captured.response else None

    async with client:
        tags = await asyncio.gather(*(one(f"user{n}") for n in range(5)))
    assert tags == [f"user{n}" for n in range(5)]


async def test_capture_response_records_a_failed_calls_answer() -> None:
    """A refused call's answer is captured too, and is the error's response."""
    client, _ = make_client(reply(401, {"error_code": 401, "error_message": "no"}))
    async with client:
        with capture_response() as captured, pytest.raises(AuthenticationError) as info:
            await client.registration.check_existence(email=EMAIL)
    assert captured.response is info.value.response


@pytest.mark.parametrize(
    ("status", "body", "vlens_code", "code", "error_type"),
    [
        (200, {"error_code": 4003, "error_message": "too many"}, 4003, 4003, RateLimitedError),
        (401, {"error_code": 401, "error_message": "no"}, 401, 401, AuthenticationError),
        (400, {"error_code": None, "error_message": "bad"}, None, 400, InvalidRequestError),
        (502, b"<html>Bad gateway</html>", None, 502, ServerError),
        (429, b"", None, 429, RateLimitedError),
        (200, {"error_code": 1234, "error_message": "odd"}, 1234, 1234, VlensAPIError),
    ],
)
async def test_vlens_code_is_the_envelopes_code_or_none(
    status: int, body: Any, vlens_code: int | None, code: int, error_type: type[VlensAPIError]
) -> None:
    """vlens_code is the envelope's error_code (None without one); code stays as it was."""
    error = await failure(reply(status, body), retry=vlens_async.RetryPolicy.no_wait(1))
    assert type(error) is error_type
    assert error.vlens_code == vlens_code
    assert error.code == code
    assert error.http_status == status
