"""Secrets audit: arguments swapped by mistake, and secrets a server echoes in places the first
suite (test_secrets.py) does not reach: request-id headers and field-level descriptions."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import pytest

from vlens_async import OutcomeUnknownError, VlensAPIError, VlensClient, VlensError, VlensInputError
from vlens_transports import FakeTransport, Request, Response

from .._hooks_recorder import Recorder
from .test_secrets import every_text

API_KEY = "KEY-s3cr3t-XYZ"
OTP = "918273"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLXNlY3JldA"
PHONE = "+201557788990"
EMAIL = "mona.hassan@example.com"
REQUEST_ID = "0b7e0f5c-3c1e-4d4b-9a57-3a1c2f6c9d21"

Call = Callable[[VlensClient], Awaitable[object]]

# Every call taking an OTP request id, given the code where the id goes (and the id as code).
SWAPPED: dict[str, Call] = {
    "registration.validate_phone_otp": lambda c: c.registration.validate_phone_otp(
        PHONE, OTP, REQUEST_ID[:6]
    ),
    "registration.validate_email_otp": lambda c: c.registration.validate_email_otp(
        EMAIL, OTP, REQUEST_ID[:6]
    ),
    "password_reset.validate_email_otp": lambda c: c.password_reset.validate_email_otp(
        EMAIL, OTP, REQUEST_ID[:6]
    ),
    "password_reset.validate_phone_otp": lambda c: c.password_reset.validate_phone_otp(
        PHONE, OTP, REQUEST_ID[:6]
    ),
    "profile.confirm_email_update": lambda c: c.profile(TOKEN).confirm_email_update(OTP, "1234"),
    "profile.confirm_email_verification": lambda c: c.profile(TOKEN).confirm_email_verification(
        EMAIL, OTP, "1234"
    ),
}


async def _refuse_everything(request: Request) -> Response:
    raise AssertionError(f"nothing may be sent, got {request.method} {request.url}")


@pytest.mark.parametrize("operation", sorted(SWAPPED))
async def test_a_code_given_as_the_request_id_is_not_echoed(operation: str) -> None:
    """Request id and code swapped by mistake: the error names the field, not the code."""
    async with VlensClient(API_KEY, transport=FakeTransport(_refuse_everything)) as client:
        with pytest.raises(VlensInputError) as caught:
            await SWAPPED[operation](client)
    assert caught.value.field == "request_id"
    assert "UUID" in str(caught.value)
    assert OTP not in every_text(caught.value)


@pytest.mark.parametrize("code", [OTP, int(OTP)], ids=["str", "int"])
async def test_a_code_given_as_the_sms_provider_is_not_echoed(code: object) -> None:
    """``send_phone_otp(phone, code)`` (meant: validate): the error names the providers, not
    the code; a misspelt provider name is still quoted back."""
    async with VlensClient(API_KEY, transport=FakeTransport(_refuse_everything)) as client:
        with pytest.raises(VlensInputError) as caught:
            await client.registration.send_phone_otp(PHONE, code)  # type: ignore[arg-type]
        assert caught.value.field == "sms_provider"
        assert "VODAFONE" in str(caught.value)
        assert OTP not in every_text(caught.value)
        with pytest.raises(VlensInputError, match="'vodaphone'"):
            await client.registration.send_phone_otp(PHONE, "vodaphone")


async def test_an_admin_password_given_as_the_user_name_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``admin_login(password, user)`` (swapped): the user name is logged and reported to
    hooks as the call's subject, masked, so the password in its place shows one character."""
    caplog.set_level(logging.DEBUG)
    password, recorder = "Admin@Passphrase-1234", Recorder()

    async def refused(request: Request) -> Response:
        return Response(status=401, content=b'{"error_code":401,"error_message":"no"}')

    transport = FakeTransport(refused)
    async with VlensClient(API_KEY, transport=transport, tenancy_name="t", hooks=recorder) as c:
        with pytest.raises(VlensAPIError):
            await c.sessions.admin_login(password, "admin")
    texts = [caplog.text, *map(repr, recorder.events)]
    assert any("subject=A***" in text for text in texts)
    assert not [text for text in texts if "Passphrase" in text]


def _echoing(status: int, header: str, body: bytes) -> Callable[[Request], Awaitable[Response]]:
    """A server answering ``status`` with ``header`` quoting the request's key and token."""

    async def handler(request: Request) -> Response:
        echoed = f"{request.headers['ApiKey']} {request.headers.get('Authorization')}"
        headers = {header: echoed, "Content-Type": "application/json"}
        return Response(status=status, headers=headers, content=body)

    return handler


@pytest.mark.parametrize("header", ["X-Request-Id", "traceparent", "cf-ray"])
@pytest.mark.parametrize("status", [400, 502])
async def test_a_request_id_header_echoing_the_key_and_token_is_redacted(
    header: str, status: int
) -> None:
    """A proxy that echoes the ApiKey and Authorization headers into its request-id header:
    ``server_request_id`` (on the error and on what an unknown outcome wraps) shows ***."""
    body = json.dumps({"data": None, "error_code": status, "error_message": "no"}).encode()
    async with VlensClient(API_KEY, transport=FakeTransport(_echoing(status, header, body))) as c:
        with pytest.raises(VlensError) as caught:
            await c.profile(TOKEN).request_email_update(EMAIL)
    error = caught.value
    assert isinstance(error, OutcomeUnknownError if status == 502 else VlensAPIError)
    assert error.server_request_id is not None
    assert "***" in error.server_request_id
    text = every_text(error)
    assert API_KEY not in text
    assert TOKEN not in text


async def test_descriptions_quoting_a_code_the_server_generated_hide_it() -> None:
    """Field-level ``error_descriptions`` quoting a code the client never knew (the server made
    it when it texted) hide it, as the message does; the rest of the text stays."""
    body = {
        "data": None,
        "error_code": 400,
        "error_message": "rejected",
        "error_descriptions": {"otp": [f"code {OTP} expired", f"otp={OTP}"], "n": 3},
    }
    content = json.dumps(body).encode()

    async def handler(request: Request) -> Response:
        return Response(status=400, headers={"Content-Type": "application/json"}, content=content)

    async with VlensClient(API_KEY, transport=FakeTransport(handler)) as client:
        with pytest.raises(VlensAPIError) as caught:
            await client.registration.send_phone_otp(PHONE)
    assert caught.value.descriptions == {"otp": ["code *** expired", "otp=***"], "n": 3}
    assert OTP not in every_text(caught.value)


def _json_escaped(text: str) -> str:
    """``text`` as a JSON encoder that escapes much writes it: .NET's System.Text.Json by
    default (``+ & < > '`` and non-ASCII as ``\\uXXXX``), and ``/`` as ``\\/`` (PHP, others)."""
    return "".join(
        "\\/" if ch == "/" else f"\\u{ord(ch):04X}" if ch in "+&<>'" or ord(ch) > 126 else ch
        for ch in text
    )


ESCAPED_PASSWORD = "P@ss+w0rd&QQ<é>"
ESCAPED_KEY = "KEY+s3cr3t/XYZ"


@pytest.mark.parametrize("error_code", ["400", '"bad"'], ids=["envelope", "unreadable"])
async def test_secrets_echoed_json_escaped_are_hidden_in_the_excerpt(error_code: str) -> None:
    """A server quoting the password and API key with JSON escapes (``\\u002B`` for ``+``):
    the body excerpt on ``.response`` and in the message shows neither, escaped or not."""
    quoted = f"value '{_json_escaped(ESCAPED_PASSWORD)}' with key {_json_escaped(ESCAPED_KEY)}"
    content = f'{{"data":null,"error_code":{error_code},"error_message":"{quoted}"}}'.encode()

    async def handler(request: Request) -> Response:
        return Response(status=400, headers={"Content-Type": "application/json"}, content=content)

    async with VlensClient(ESCAPED_KEY, transport=FakeTransport(handler)) as client:
        with pytest.raises(VlensError) as caught:
            await client.sessions.login(PHONE, ESCAPED_PASSWORD, "356938035643809")
    assert caught.value.response is not None
    assert "***" in caught.value.response.excerpt
    text = every_text(caught.value) + repr(caught.value.response)
    for fragment in ("w0rd", "s3cr3t"):
        assert fragment not in text


@pytest.mark.parametrize("error_code", ["400", '"bad"'], ids=["envelope", "unreadable"])
@pytest.mark.parametrize("shown", range(4, len(API_KEY) - 1, 3))
async def test_a_secret_cut_by_the_excerpts_end_leaves_no_start(
    error_code: str, shown: int
) -> None:
    """The API key echoed just where the body excerpt is cut (160 characters): the start
    of the key left before the cut is hidden too, not only whole occurrences."""
    head = f'{{"data":null,"error_code":{error_code},"error_message":"'
    filler = "x " * ((159 - shown - len(head)) // 2) + " " * ((159 - shown - len(head)) % 2)
    content = f'{head}{filler}{API_KEY} rejected"}}'.encode()
    assert content.decode().index(API_KEY) == 159 - shown  # "…" replaces the 160th character

    async def handler(request: Request) -> Response:
        return Response(status=400, headers={"Content-Type": "application/json"}, content=content)

    async with VlensClient(API_KEY, transport=FakeTransport(handler)) as client:
        with pytest.raises(VlensError) as caught:
            await client.registration.send_phone_otp(PHONE)
    assert caught.value.response is not None
    assert caught.value.response.excerpt.endswith("…")
    text = every_text(caught.value) + repr(caught.value.response)
    assert API_KEY[:shown] not in text


@pytest.mark.parametrize(
    ("contact", "hidden"),
    [
        ("+20 (100) 123-4567", "100"),
        ("(010) 0123-4567", "010"),
        ("mona@مثال.مصر", "mona@"),
        ("منى@example.com", "منى@"),
    ],
)
async def test_contacts_a_server_quotes_are_masked_in_every_form(contact: str, hidden: str) -> None:
    """A server message naming the person by a formatted number or an internationalised
    e-mail address: the error's text masks it as it does +201001234567."""
    content = json.dumps({"error_code": 400, "error_message": f"{contact} is blocked"}).encode()

    async def handler(request: Request) -> Response:
        return Response(status=400, headers={"Content-Type": "application/json"}, content=content)

    async with VlensClient(API_KEY, transport=FakeTransport(handler)) as client:
        with pytest.raises(VlensAPIError) as caught:
            await client.registration.send_phone_otp(PHONE)
    assert "is blocked" in str(caught.value)
    assert hidden not in str(caught.value)
    assert caught.value.response is not None
    assert hidden not in caught.value.response.excerpt


@pytest.mark.parametrize("password", ['Pa"ss-w0rd-QQ', "Pa\\ss-w0rd-QQ", 'P\\"é+w0rd-QQ'])
@pytest.mark.parametrize("error_code", [400, "bad"], ids=["envelope", "unreadable"])
async def test_a_password_with_quotes_or_backslashes_echoed_in_json_is_hidden(
    password: str, error_code: object
) -> None:
    """A password holding ``"`` or ``\\`` is written escaped in a JSON body (``\\"``): the
    excerpt, where the body is quoted as text, hides that form too."""
    body = {"error_code": error_code, "error_message": f"bad {password}"}
    content = json.dumps(body).encode()

    async def handler(request: Request) -> Response:
        return Response(status=400, headers={"Content-Type": "application/json"}, content=content)

    async with VlensClient(API_KEY, transport=FakeTransport(handler)) as client:
        with pytest.raises(VlensError) as caught:
            await client.sessions.login(PHONE, password, "356938035643809")
    assert caught.value.response is not None
    assert "w0rd" not in every_text(caught.value) + repr(caught.value.response)
