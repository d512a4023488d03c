"""Secrets and untrusted input: nothing secret in logs, reprs or errors; no header injection."""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from vlens_async import (
    OutcomeUnknownError,
    RetryPolicy,
    Timeout,
    VlensAPIError,
    VlensClient,
    VlensError,
    VlensInputError,
)
from vlens_async.sandbox import Sandbox
from vlens_async.testing import error_response
from vlens_transports import FakeTransport, Request, Response

from ..transports.test_aiohttp import raw_server
from .conftest import Serve, serve_sandbox

API_KEY = "vk_live_Q7xLm2Rt9Wc4Yp8Nd3Hs6Jb1"
PHONE = "+201557788990"
EMAIL = "mona.hassan@example.com"
NEW_EMAIL = "mona.new@example.org"
PASSWORD = "Horse-Battery-Staple-1"
NEW_PASSWORD = "Second-Secret-Pass-2"
WRONG_PASSWORD = "Not-Her-Password-3"
ADMIN_PASSWORD = "Admin-Only-Passphrase-4"
IMEI = "356938035643809"


class Evidence:
    """Everything a user could see: result reprs, error texts (with causes), log records."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.errors: list[VlensError] = []

    def result(self, value: object) -> Any:
        self.texts.append(repr(value))
        return value

    async def expect_error(self, call: Awaitable[object]) -> VlensError:
        try:
            value = await call
        except VlensError as error:
            self.errors.append(error)
            self.texts.extend([str(error), repr(error), "".join(traceback.format_exception(error))])
            return error
        raise AssertionError(f"expected a VlensError, got {value!r}")


async def _journey(sandbox: Sandbox, client: VlensClient, seen: Evidence) -> None:
    """Register, change e-mail, reset the password, log in, admin login, refresh; with failures."""
    reg, faults, outbox = client.registration, sandbox.faults, sandbox.outbox
    seen.result(await reg.check_existence(PHONE, EMAIL))
    faults.malformed_json("registration.send_phone_otp")
    await seen.expect_error(reg.send_phone_otp(PHONE))  # the body held the request id
    sandbox.clock.advance(31)  # past the resend cooldown
    sent = seen.result(await reg.send_phone_otp(PHONE, sms_provider="vodafone"))
    code = outbox.last_otp(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    await seen.expect_error(reg.validate_phone_otp(PHONE, sent.phone_number_otp_request_id, wrong))
    seen.result(await reg.validate_phone_otp(PHONE, sent.phone_number_otp_request_id, code))
    mail = seen.result(await reg.send_email_otp(EMAIL))
    mail_code = outbox.last_otp(EMAIL)
    seen.result(await reg.validate_email_otp(EMAIL, mail.email_otp_request_id, mail_code))
    await seen.expect_error(reg.complete(phone_number=PHONE, password="short"))
    done = seen.result(
        await reg.complete(
            phone_number=PHONE,
            phone_otp_request_id=sent.phone_number_otp_request_id,
            phone_otp=code,
            email=EMAIL,
            password=PASSWORD,
            email_otp_request_id=mail.email_otp_request_id,
            email_otp=mail_code,
        )
    )
    seen.result(done.user)

    me = client.profile(done.access_token)
    await seen.expect_error(client.profile("sbx_at_not-a-real-token").request_email_update(EMAIL))
    faults.truncated_body("profile.request_email_update")
    await seen.expect_error(me.request_email_update(NEW_EMAIL))  # outcome unknown
    sandbox.clock.advance(31)
    pending = seen.result(await me.request_email_update(NEW_EMAIL))
    new_code = outbox.last_otp(NEW_EMAIL)
    seen.result(await me.confirm_email_update(pending.email_otp_request_id, new_code))

    resets = client.password_reset
    seen.result(await resets.send_reset_code(NEW_EMAIL))
    sandbox.clock.advance(31)
    otp_sent = seen.result(await resets.send_email_otp(NEW_EMAIL))
    faults.malformed_json("password_reset.validate_email_otp")
    reset_code = outbox.last_otp(NEW_EMAIL)
    await seen.expect_error(  # the body held the reset code
        resets.validate_email_otp(NEW_EMAIL, otp_sent.email_otp_request_id, reset_code)
    )
    sandbox.clock.advance(31)
    otp_sent = seen.result(await resets.send_phone_otp(PHONE))
    phone_reset_code = outbox.last_otp(PHONE)
    grant = seen.result(
        await resets.validate_phone_otp(
            PHONE, otp_sent.phone_number_otp_request_id, phone_reset_code
        )
    )
    seen.result(await resets.reset(grant.user_id, grant.reset_code, NEW_PASSWORD))

    sessions = client.sessions
    await seen.expect_error(sessions.login(PHONE, WRONG_PASSWORD, IMEI))
    sandbox.clock.advance(31)
    first = seen.result(await sessions.login(PHONE, NEW_PASSWORD, IMEI))
    login = seen.result(
        await sessions.login(
            PHONE,
            NEW_PASSWORD,
            IMEI,
            phone_number_otp_request_id=first.phone_number_otp_request_id,
            phone_number_otp=outbox.last_otp(PHONE),
        )
    )
    faults.malformed_json("sessions.admin_login")
    await seen.expect_error(sessions.admin_login("admin", ADMIN_PASSWORD))  # tokens in the body
    await seen.expect_error(sessions.admin_login("admin", WRONG_PASSWORD))
    admin = seen.result(await sessions.admin_login("admin", ADMIN_PASSWORD))
    faults.oversized_body("sessions.refresh", size=2 * 1024 * 1024)
    await seen.expect_error(sessions.refresh(admin.refresh_token))
    seen.result(await sessions.refresh(login.refresh_token))
    await seen.expect_error(sessions.refresh(login.refresh_token))  # already used
    faults.status(500, "sessions.admin_login", body="envelope")
    await seen.expect_error(sessions.admin_login("admin", ADMIN_PASSWORD))
    await seen.expect_error(reg.send_phone_otp("+20 12"))  # refused before sending
    await seen.expect_error(reg.validate_phone_otp(PHONE, "not-a-uuid", code))
    seen.result(client)
    seen.result(client.transport)


def _secrets(sandbox: Sandbox) -> list[str]:
    """Every secret that existed during the journey, read back from the sandbox's memory."""
    state = sandbox.state
    return [
        API_KEY,
        PASSWORD,
        NEW_PASSWORD,
        WRONG_PASSWORD,
        ADMIN_PASSWORD,
        *state.access_tokens,
        *state.refresh_tokens,
        *state.reset_codes,
    ]


def _leaks(text: str, sandbox: Sandbox) -> list[str]:
    found = [secret for secret in _secrets(sandbox) if secret in text]
    state = sandbox.state
    for token in [*state.access_tokens, *state.refresh_tokens, *state.reset_codes]:
        # "sbx_rt_" + 8 random hex digits: a cut-off token in a truncated body still counts
        start = token[: token.rindex("_") + 1 + 8]
        if start in text:
            found.append(f"start of {start}")
    for message in sandbox.outbox:  # OTP and reset codes, as whole digit runs
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(message.code)}(?![0-9A-Za-z])", text):
            found.append(f"code sent to {message.purpose}")
    contacts = (PHONE, PHONE.lstrip("+"), PHONE[3:], EMAIL, NEW_EMAIL)
    found += [contact for contact in contacts if contact in text]
    found += [f"{local}@" for local in ("mona.hassan", "mona.new") if f"{local}@" in text]
    return found


async def test_full_journey_at_debug_leaks_no_secret(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, no log line, result repr or error text holds a key, code, token or contact."""
    caplog.set_level(logging.DEBUG)
    sandbox = Sandbox(seed=99, api_keys=(API_KEY,), admins={"admin": ADMIN_PASSWORD})
    base_url, in_flight = await serve_sandbox(serve, sandbox)
    seen = Evidence()
    retry = RetryPolicy.no_wait()
    async with VlensClient(
        API_KEY, base_url=base_url, tenancy_name="sandbox", retry=retry, timeout=Timeout(read=5)
    ) as client:
        await _journey(sandbox, client, seen)
    await in_flight.wait()

    logged = [caplog.text, *(record.getMessage() for record in caplog.records)]
    assert len(seen.errors) == 14
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert len(sandbox.outbox) >= 8
    assert sandbox.state.access_tokens
    assert sandbox.state.reset_codes
    for text in [*seen.texts, *logged]:
        assert not _leaks(text, sandbox), (text, _leaks(text, sandbox))


async def _refuse_everything(request: Request) -> Response:
    raise AssertionError(f"nothing may be sent, got {request.method} {request.url}")


INJECTIONS = ["evil\r\nX-Injected: 1", "evil\nX-Injected: 1", "evil\rX", "evil\x00", "\r\n"]

Attempt = Callable[[VlensClient, str], Awaitable[object]]
HEADER_FIELDS: dict[str, Attempt] = {
    "access_token": lambda client, bad: client.profile(bad).request_email_update(EMAIL),
    "refresh_token": lambda client, bad: client.sessions.refresh(bad),
    "admin_tenancy_name": lambda client, bad: client.sessions.admin_login(
        "admin", ADMIN_PASSWORD, tenancy_name=bad
    ),
}


async def _attempt(call: Callable[[], Awaitable[object]]) -> object:
    return await call()


@pytest.mark.parametrize("bad", INJECTIONS, ids=repr)
@pytest.mark.parametrize("field", ["api_key", "tenancy_name", "accept_language"])
def test_header_injection_in_client_settings_is_refused(field: str, bad: str) -> None:
    """CR, LF or NUL in the API key, tenancy or language fails at construction, naming the field."""
    options: dict[str, Any] = {"tenancy_name": "acme", field: bad}
    api_key = options.pop("api_key", "good-key")
    with pytest.raises(VlensInputError) as caught:
        VlensClient(api_key, transport=FakeTransport(_refuse_everything), **options)
    assert caught.value.field == field
    assert bad not in str(caught.value)


@pytest.mark.parametrize("bad", INJECTIONS, ids=repr)
@pytest.mark.parametrize("field", sorted(HEADER_FIELDS))
async def test_header_injection_in_tokens_is_refused_before_sending(field: str, bad: str) -> None:
    """CR, LF or NUL in a bearer token, refresh token or tenancy never reaches the transport."""
    transport = FakeTransport(_refuse_everything)
    async with VlensClient(
        "good-key", transport=transport, tenancy_name="acme", retry=RetryPolicy.no_wait()
    ) as client:
        with pytest.raises(VlensInputError) as caught:
            await HEADER_FIELDS[field](client, bad)
    assert caught.value.field == field.removeprefix("admin_")
    assert bad not in str(caught.value)


async def test_header_injection_never_reaches_the_http_server(serve: Serve) -> None:
    """Over real HTTP, refused header values leave the server untouched."""
    sandbox = Sandbox(seed=5)
    base_url, _ = await serve_sandbox(serve, sandbox)
    async with VlensClient("sandbox-key", base_url=base_url, tenancy_name="sandbox") as client:
        for field, attempt in HEADER_FIELDS.items():
            with pytest.raises(VlensInputError):
                await attempt(client, "tok\r\nApiKey: sandbox-key")
            assert sandbox.requests_seen == 0, field


# -- secrets echoed back by a server (issue 13 item 9) ------------------------------------------

OTP = "482913"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
REQUEST_ID = "0b7e0f5c-3c1e-4d4b-9a57-3a1c2f6c9d21"

# Answers that quote the request's ApiKey header, then break the exchange: aiohttp's parser
# errors quote the offending line, and its payload errors follow a header it has read.
BROKEN_ANSWERS = {
    "bad header line": b"HTTP/1.1 200 OK\r\nX-Echo %s\r\nContent-Length: 2\r\n\r\n{}",
    "bad status line": b"HTTP/1.1 2OO %s\r\nContent-Length: 2\r\n\r\n{}",
    "cut body": b'HTTP/1.1 200 OK\r\nX-Echo: %s\r\nContent-Length: 100\r\n\r\n{"data"',
    "bad chunk": b"HTTP/1.1 200 OK\r\nX-Echo: %s\r\nTransfer-Encoding: chunked\r\n\r\nzz%s\r\n",
}


def chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception reachable from it through causes, contexts and ``.error``."""
    found: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        linked = (current.__cause__, current.__context__, getattr(current, "error", None))
        pending.extend(link for link in linked if isinstance(link, BaseException))
    return found


def every_text(error: BaseException) -> str:
    """All a user could print of ``error``: str, repr and traceback of each chained exception."""
    texts = ["".join(traceback.format_exception(error))]
    for link in chain(error):
        texts += [str(link), repr(link), repr(vars(link))]
    return "\n".join(texts)


@pytest.mark.parametrize("kind", ["read", "effect"])
@pytest.mark.parametrize("answer", sorted(BROKEN_ANSWERS))
async def test_a_server_echoing_the_key_then_breaking_leaks_it_nowhere(
    answer: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A raw server quotes the ApiKey it received in a header, then breaks the response: the
    key is in no message, repr, traceback, chained cause or log line."""
    caplog.set_level(logging.DEBUG)
    template = BROKEN_ANSWERS[answer]

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = re.search(rb"(?im)^apikey: *([^\r\n]*)", head)
        assert key is not None
        writer.write(template.replace(b"%s", key.group(1)))
        await writer.drain()

    async with (
        raw_server(echo) as base_url,
        VlensClient(API_KEY, base_url=base_url, retry=RetryPolicy.no_wait()) as client,
    ):
        call = (
            client.registration.check_existence(PHONE)
            if kind == "read"
            else client.registration.validate_phone_otp(PHONE, REQUEST_ID, OTP)
        )
        with pytest.raises(VlensError) as caught:
            await call
    text = every_text(caught.value) + caplog.text
    assert API_KEY not in text
    assert OTP not in text


async def test_an_envelope_echoing_the_key_otp_and_token_is_redacted() -> None:
    """An error envelope whose message and details quote the API key, the OTP and the bearer
    token the client sent: every message, attribute and repr shows *** instead."""
    echoed = f"key {API_KEY} with code {OTP} for Bearer {TOKEN} rejected"

    async def handler(request: Request) -> Response:
        return error_response(400, echoed, error_descriptions={"otp": [f"{OTP} is wrong"]})

    calls: list[Callable[[VlensClient], Awaitable[object]]] = [
        lambda client: client.registration.validate_phone_otp(PHONE, REQUEST_ID, OTP),
        lambda client: client.profile(TOKEN).confirm_email_update(REQUEST_ID, OTP),
    ]
    for call in calls:
        async with VlensClient(API_KEY, transport=FakeTransport(handler)) as client:
            with pytest.raises(VlensAPIError) as caught:
                await call(client)
        text = every_text(caught.value)
        assert caught.value.message is not None
        assert "***" in caught.value.message
        assert "rejected" in str(caught.value)
        for secret in (API_KEY, OTP, TOKEN):
            assert secret not in text
        assert OTP not in repr(caught.value.descriptions)


async def test_an_unknown_outcome_redacts_what_it_carries() -> None:
    """An effect answered 520 with a page echoing the OTP: the OutcomeUnknownError and the
    error it carries are free of it."""
    page = f"<html>origin error for otp={OTP} key={API_KEY}</html>".encode()

    async def handler(request: Request) -> Response:
        return Response(status=520, headers={"Content-Type": "text/html"}, content=page)

    async with VlensClient(API_KEY, transport=FakeTransport(handler)) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.registration.validate_phone_otp(PHONE, REQUEST_ID, OTP)
    text = every_text(caught.value)
    assert OTP not in text
    assert API_KEY not in text


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (502, b"<html>origin error: otp=918273 for this number</html>"),
        (200, b'{"data":null,"error_code":400,"error_message":"bad code 918273, PIN: 4417"}'),
    ],
    ids=["html-page", "envelope-message"],
)
async def test_a_code_the_server_generated_and_echoes_is_hidden(
    status: int, content: bytes
) -> None:
    """A code the client never knew (the server made it when it texted) is hidden in messages
    and excerpts when the server quotes it next to "otp", "code" or "PIN"."""

    async def handler(request: Request) -> Response:
        return Response(status=status, headers={"Content-Type": "text/html"}, content=content)

    async with VlensClient(API_KEY, transport=FakeTransport(handler)) as client:
        with pytest.raises(VlensError) as caught:
            await client.registration.send_phone_otp(PHONE)
    text = every_text(caught.value)
    assert "918273" not in text
    assert "4417" not in text
