"""Hostile error envelopes: a typed error whose text is short, on one line and printable, never
an escape such as RecursionError, and never minutes of CPU spent masking a huge message."""

from __future__ import annotations

import asyncio
import codecs
import json
import unicodedata
from typing import Any

import pytest

from vlens_async import (
    InvalidRequestError,
    OutcomeUnknownError,
    RegistrationState,
    RetryPolicy,
    VlensAPIError,
    VlensClient,
    VlensError,
    VlensResponseError,
)
from vlens_transports import FakeTransport, Request, Response

PHONE = "+201001234567"


def _refusal(body: bytes) -> VlensAPIError:
    """The error ``send_phone_otp`` raises when the server answers 400 with ``body``."""

    async def answer(request: Request) -> Response:
        return Response(status=400, headers={"content-type": "application/json"}, content=body)

    async def call() -> VlensAPIError:
        retry = RetryPolicy.no_wait(max_attempts=1)
        async with VlensClient("key-0123", transport=FakeTransport(answer), retry=retry) as client:
            with pytest.raises(InvalidRequestError) as raised:
                await client.registration.send_phone_otp(PHONE)
        return raised.value

    return asyncio.run(call())


def _envelope(message: Any = "refused", descriptions: Any = None) -> bytes:
    body = {
        "data": None,
        "error_code": 400,
        "error_message": message,
        "error_descriptions": descriptions,
    }
    return json.dumps(body).encode()


def test_a_huge_error_message_is_cut_short() -> None:
    """A server message of 20,000 letters: the error (and its ``message``) is a few lines long
    (masking a megabyte-long message took minutes, the event loop blocked)."""
    error = _refusal(_envelope("A" * 20_000 + " mona@example.com"))
    assert len(str(error)) < 1_000
    assert error.message is not None
    assert len(error.message) < 1_000


def test_control_characters_in_an_error_message_are_not_printed() -> None:
    """CR, LF, ESC (a terminal colour sequence) and NUL in the server's message: one line,
    without a control character, as the command line prints it."""
    error = _refusal(_envelope("bad\r\nline two \x1b[31mred\x1b[0m\x00 end"))
    text = str(error)
    assert not [ch for ch in text if unicodedata.category(ch) == "Cc"], repr(text)
    assert "line two" in text
    assert error.message is not None
    assert not [ch for ch in error.message if unicodedata.category(ch) == "Cc"]


def test_deeply_nested_error_descriptions_are_a_typed_error() -> None:
    """error_descriptions nested 600 deep (the JSON parser allows 1024): the API error, not
    a RecursionError from redacting it."""
    deep = b'{"data":null,"error_code":400,"error_message":"x","error_descriptions":'
    error = _refusal(deep + b"[" * 600 + b"]" * 600 + b"}")
    assert error.code == 400
    assert repr(error)


def test_ordinary_error_descriptions_are_kept() -> None:
    """Field-level details of a usual depth stay as the server sent them."""
    details = {"errors": [{"field": "phoneNumber", "messages": ["is invalid"]}]}
    assert _refusal(_envelope(descriptions=details)).descriptions == details


def _answer(status: int, body: bytes) -> object:
    """What ``send_phone_otp`` returns or raises when the server answers ``status``, ``body``."""

    async def answer(request: Request) -> Response:
        return Response(status=status, headers={"content-type": "application/json"}, content=body)

    async def call() -> object:
        retry = RetryPolicy.no_wait(max_attempts=1)
        async with VlensClient("key-0123", transport=FakeTransport(answer), retry=retry) as client:
            try:
                return await client.registration.send_phone_otp(PHONE)
            except VlensError as error:
                return error

    return asyncio.run(call())


def test_a_json_answer_behind_a_utf8_byte_order_mark_is_read() -> None:
    """A UTF-8 BOM before the envelope (some .NET servers and proxies write one; RFC 8259 lets
    a reader ignore it): the answer is read, not refused as invalid JSON."""
    body = json.dumps({"data": {"isPhoneNumberConfirmed": False}, "error_code": 0}).encode()
    state = _answer(200, codecs.BOM_UTF8 + body)
    assert isinstance(state, RegistrationState), state
    assert state.is_phone_number_confirmed is False


def test_an_error_code_that_is_a_boolean_is_refused_either_way() -> None:
    """``error_code: false`` passed as success (``False == 0``) while ``true`` was refused:
    neither is an integer code, so both are an unreadable answer (to a text: outcome unknown)."""
    for flag in (True, False):
        body = json.dumps({"data": None, "error_code": flag}).encode()
        error = _answer(200, body)
        assert isinstance(error, OutcomeUnknownError), error
        assert isinstance(error.error, VlensResponseError)
        assert "error_code is not an integer" in str(error)


def test_a_token_the_server_quotes_in_its_message_is_hidden() -> None:
    """A JWT in ``error_message`` (a server echoing the token it refused, or a new one) is a
    secret the client may never have known, so cannot redact by value: hidden by its shape."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW"
    error = _refusal(_envelope(f"token {jwt} has expired"))
    assert jwt[:20] not in str(error)
    assert error.message is not None
    assert jwt[:20] not in error.message
    assert "has expired" in error.message
