"""Hostile requests over real HTTP: whatever a client sends, the served sandbox answers with an
envelope (or the status the spec names), never a 500 from an exception of its own."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from vlens_async.sandbox import Sandbox, create_app

PATH = "/api/DigitalIdentity/Register/StepVerifyPhone"
PHONE = "+201001234567"
BODY = json.dumps({"phoneNumber": PHONE}).encode()
HEADERS = {"ApiKey": "sandbox-key", "Content-Type": "application/json"}
NOT_JSON = "Bad request: the body is not valid JSON."

if TYPE_CHECKING:  # aiohttp before 3.11 has no TestClient[...] at run time
    Client = TestClient[Any, Any]


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=1, resend_cooldown=0)


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(sandbox, client_max_size=4096))) as client:
        yield client


async def raw_exchange(client: Client, request: bytes) -> bytes:
    """Send ``request`` as bytes on a new connection; everything the server answers."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(request)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("host", ["127.0.0.1:abc", "127.0.0.1:99999"])
async def test_a_host_header_that_is_no_url_is_still_answered(
    http: Client, sandbox: Sandbox, host: str
) -> None:
    """A Host header yarl cannot make a URL of made ``request.url`` raise: a 500 from
    aiohttp. The sandbox routes by the path, which the Host does not change."""
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nApiKey: sandbox-key\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + BODY
    status, body = status_and_body(await raw_exchange(http, request))
    assert status == 200
    assert json.loads(body)["error_code"] is None
    assert len(sandbox.outbox.to(PHONE)) == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_its_content_encoding_does_not_decode_is_a_400_envelope(
    http: Client, sandbox: Sandbox, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp decodes a gzip or deflate request body; one that is not what its header says
    raised out of ``request.read()``: a 500. It is a bad body like any other now, and the
    server's log has no traceback for it (aiohttp reads the rest of the body after the
    answer, and logged the same error again as "Unhandled exception")."""
    caplog.set_level(logging.INFO)
    headers = {**HEADERS, "Content-Encoding": encoding}
    response = await http.post(PATH, data=BODY, headers=headers)
    assert response.status == 400
    decoded = await response.json()
    assert (decoded["error_code"], decoded["error_message"]) == (400, NOT_JSON)
    assert len(sandbox.outbox) == 0
    assert sandbox.requests_seen == 1  # through process(), as every request
    await http.close()  # the server is done with the connection
    assert "Traceback" not in caplog.text


async def test_a_gzip_encoded_body_is_read(http: Client, sandbox: Sandbox) -> None:
    """The control: a body gzip-encoded as its header says is answered as the plain one."""
    headers = {**HEADERS, "Content-Encoding": "gzip"}
    response = await http.post(PATH, data=gzip.compress(BODY), headers=headers)
    assert (response.status, (await response.json())["error_code"]) == (200, None)
    assert len(sandbox.outbox.to(PHONE)) == 1


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_the_size_limit_is_a_413_envelope(
    http: Client, sandbox: Sandbox, chunked: bool
) -> None:
    """aiohttp answered a body over ``client_max_size`` with a text/plain 413; clients that
    read every error as an envelope got none. It is a 413 envelope now; nothing is sent."""
    big = json.dumps({"phoneNumber": PHONE, "padding": "x" * 8192}).encode()
    data: Any = big
    if chunked:

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]

        data = chunks()
    response = await http.post(PATH, data=data, headers=HEADERS)
    assert response.status == 413
    assert response.content_type == "application/json"
    decoded = await response.json()
    assert decoded["error_code"] == 413
    assert "4096 bytes" in decoded["error_message"]
    assert len(sandbox.outbox) == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_a_method_other_than_post_is_a_405_naming_post(http: Client, method: str) -> None:
    """A 405 says which method is allowed (RFC 9110 requires the Allow header on it)."""
    response = await http.request(method, PATH, data=BODY, headers=HEADERS)
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert (await response.json())["error_code"] == 405


@pytest.mark.parametrize(
    ("first", "second", "status"),
    [
        ("ApiKey: other-key", "ApiKey: sandbox-key", 200),
        ("ApiKey: sandbox-key", "ApiKey: other-key", 401),
        ("apikey: other-key", "APIKEY: sandbox-key", 200),
    ],
)
async def test_of_a_header_sent_twice_over_http_the_last_counts(
    http: Client, first: str, second: str, status: int
) -> None:
    """In memory, of two spellings of one header the last counts (test_headers.py); over HTTP
    the first did, because ``dict()`` of aiohttp's headers reads each name's first value."""
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\n{first}\r\n{second}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + BODY
    assert status_and_body(await raw_exchange(http, request))[0] == status


@pytest.mark.parametrize(
    "line",
    [
        b"Authorization: Bearer sbx_at_SECRET\x01",  # a control byte in the value
        b"ApiKey: SECRET-key\x7f",
        b"ApiKey SECRET-key",  # no colon
    ],
)
async def test_a_malformed_header_line_is_logged_without_its_value(
    http: Client, line: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp refuses a malformed header line (400) and logs the error at ERROR with the
    line quoted: an API key or bearer token went to the sandbox's log. The error is still
    logged, without the request's bytes."""
    caplog.set_level(logging.INFO)
    request = (
        b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: localhost\r\n" + line + b"\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    assert status_and_body(await raw_exchange(http, request))[0] == 400
    assert "SECRET" not in caplog.text
    assert any(record.levelno == logging.ERROR for record in caplog.records)
