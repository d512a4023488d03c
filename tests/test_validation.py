"""Bad input (API_SPEC.md "Bad input"): a VlensInputError naming the field, and nothing sent."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from vlens_async import (
    RateLimit,
    RateLimiter,
    SmsProvider,
    VlensClient,
    VlensError,
    VlensInputError,
)

from .conftest import answer, make_client

Call = Callable[[VlensClient], Awaitable[object]]

PHONE = "+201001234567"
EMAIL = "mona@example.com"
REQ = "3f2c1a9e-8b7d-4c6e-9a5b-0d1e2f3a4b5c"
TOKEN = "user-access-token-abc"


async def assert_refused(call: Call, field: str, **options: Any) -> VlensInputError:
    """Run ``call`` on a fresh client: VlensInputError on ``field`` and nothing sent."""
    client, transport = make_client(answer({}), **options)
    async with client:
        with pytest.raises(VlensInputError) as info:
            await call(client)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, VlensError)
    assert info.value.field == field
    assert transport.requests == []
    return info.value


async def sent_body(call: Call) -> dict[str, Any]:
    """Run ``call`` against a success answer and return the one JSON body that went out."""
    client, transport = make_client(answer({}))
    async with client:
        await call(client)
    assert len(transport.requests) == 1
    body: dict[str, Any] = json.loads(transport.requests[0].content)
    return body


# --- phone numbers ----------------------------------------------------------------------------


def in_digits(text: str, zero: int) -> str:
    """``text`` with its ASCII digits written in the script whose zero is ``chr(zero)``."""
    return text.translate({ord("0") + d: chr(zero + d) for d in range(10)})


BAD_PHONES = [
    "01001234567",  # no country code
    "201001234567",  # no + or 00
    "+0201001234567",  # country code cannot start with 0
    "+2010012",  # too short
    "+2010012345678901",  # 16 digits: longer than E.164 allows
    "+20100123456a",
    "+20/100/123/4567",
    "",
    "phone",
    in_digits("+201001234567", 0x09E6),  # Bengali: a \d pattern would take them; E.164 is ASCII
    in_digits("+201001234567", 0xFF10),  # fullwidth digits
]


def phone_calls(phone: str) -> list[tuple[str, Call, str]]:
    """Every method that takes a phone number, called with ``phone``."""
    return [
        ("check_existence", lambda c: c.registration.check_existence(phone), "phone_number"),
        ("reg.send_phone_otp", lambda c: c.registration.send_phone_otp(phone), "phone_number"),
        (
            "reg.validate_phone_otp",
            lambda c: c.registration.validate_phone_otp(phone, REQ, "123456"),
            "phone_number",
        ),
        ("complete", lambda c: c.registration.complete(phone_number=phone), "phone_number"),
        ("pw.send_phone_otp", lambda c: c.password_reset.send_phone_otp(phone), "phone_number"),
        (
            "pw.validate_phone_otp",
            lambda c: c.password_reset.validate_phone_otp(phone, REQ, "123456"),
            "phone_number",
        ),
        ("pw.send_email_otp", lambda c: c.password_reset.send_email_otp(phone), "email_or_phone"),
        (
            "pw.validate_email_otp",
            lambda c: c.password_reset.validate_email_otp(phone, REQ, "123456"),
            "email_or_phone",
        ),
        ("login", lambda c: c.sessions.login(phone, "pw-123", "imei-1"), "phone_number"),
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(call, field, id=f"{name}-{phone!r}")
        for phone in BAD_PHONES
        for name, call, field in phone_calls(phone)
    ],
)
async def test_non_e164_phone_is_refused(call: Call, field: str) -> None:
    """A phone number that is not E.164 after removing separators is refused, nothing sent."""
    await assert_refused(call, field)


@pytest.mark.parametrize(
    ("given", "key"),
    [
        pytest.param("+20 100 123 4567", "phoneNumber", id="spaces"),
        pytest.param("+20-100-123-4567", "phoneNumber", id="dashes"),
        pytest.param("+20 (100) 123-4567", "phoneNumber", id="parentheses"),
        pytest.param("00201001234567", "phoneNumber", id="double-zero"),
        pytest.param("0020 100 123 4567", "phoneNumber", id="double-zero-spaced"),
        pytest.param(in_digits("+201001234567", 0x0660), "phoneNumber", id="arabic-indic"),
        pytest.param(in_digits("0020 100 123 4567", 0x0660), "phoneNumber", id="arabic-indic-00"),
        pytest.param(in_digits("+201001234567", 0x06F0), "phoneNumber", id="eastern-arabic-indic"),
    ],
)
async def test_phone_is_normalised_to_e164(given: str, key: str) -> None:
    """Spaces, dashes and parentheses are removed and a leading 00 becomes + before sending."""
    assert (await sent_body(lambda c: c.registration.send_phone_otp(given)))[key] == PHONE
    assert (await sent_body(lambda c: c.password_reset.send_phone_otp(given)))[key] == PHONE
    login_body = await sent_body(lambda c: c.sessions.login(given, "pw-123", "imei-1"))
    assert login_body[key] == PHONE


# --- e-mail -----------------------------------------------------------------------------------

BAD_EMAILS = [
    "mona.example.com",  # no @
    "mona@@example.com",  # two @
    "mona@x@example.com",
    "mona@example",  # undotted domain
    "mona@",
    "@example.com",
    "mona smith@example.com",
    "",
]


def email_calls(email: str) -> list[tuple[str, Call, str]]:
    """Every method that takes an e-mail, called with ``email``."""
    return [
        ("check_existence", lambda c: c.registration.check_existence(email=email), "email"),
        ("reg.send_email_otp", lambda c: c.registration.send_email_otp(email), "email"),
        (
            "reg.validate_email_otp",
            lambda c: c.registration.validate_email_otp(email, REQ, "123456"),
            "email",
        ),
        ("complete", lambda c: c.registration.complete(phone_number=PHONE, email=email), "email"),
        ("request_email_update", lambda c: c.profile(TOKEN).request_email_update(email), "email"),
        (
            "send_email_verification",
            lambda c: c.profile(TOKEN).send_email_verification(email),
            "email",
        ),
        (
            "confirm_email_verification",
            lambda c: c.profile(TOKEN).confirm_email_verification(email, REQ, "123456"),
            "email",
        ),
        ("send_reset_code", lambda c: c.password_reset.send_reset_code(email), "email"),
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(call, field, id=f"{name}-{email!r}")
        for email in BAD_EMAILS
        for name, call, field in email_calls(email)
    ],
)
async def test_bad_email_is_refused(call: Call, field: str) -> None:
    """An e-mail without exactly one @ and a dotted domain is refused, nothing sent."""
    await assert_refused(call, field)


@pytest.mark.parametrize("email", ["mona@@example.com", "mona@example"])
async def test_password_reset_email_or_phone_refuses_bad_email(email: str) -> None:
    """The password-reset e-mail-or-phone argument refuses a malformed e-mail."""
    await assert_refused(lambda c: c.password_reset.send_email_otp(email), "email_or_phone")


# --- OTPs -------------------------------------------------------------------------------------

BAD_OTPS = ["", "12 34", "\t", " \n", "12\u00a034"]


def otp_calls(otp: str) -> list[tuple[str, Call, str]]:
    """Every method that takes an OTP, called with ``otp``."""
    return [
        (
            "reg.validate_phone_otp",
            lambda c: c.registration.validate_phone_otp(PHONE, REQ, otp),
            "otp",
        ),
        (
            "reg.validate_email_otp",
            lambda c: c.registration.validate_email_otp(EMAIL, REQ, otp),
            "otp",
        ),
        (
            "complete.phone_otp",
            lambda c: c.registration.complete(
                phone_number=PHONE, phone_otp_request_id=REQ, phone_otp=otp
            ),
            "phone_otp",
        ),
        (
            "complete.email_otp",
            lambda c: c.registration.complete(
                phone_number=PHONE, email=EMAIL, email_otp_request_id=REQ, email_otp=otp
            ),
            "email_otp",
        ),
        (
            "confirm_email_update",
            lambda c: c.profile(TOKEN).confirm_email_update(REQ, otp),
            "otp",
        ),
        (
            "confirm_email_verification",
            lambda c: c.profile(TOKEN).confirm_email_verification(EMAIL, REQ, otp),
            "otp",
        ),
        (
            "pw.validate_email_otp",
            lambda c: c.password_reset.validate_email_otp(EMAIL, REQ, otp),
            "otp",
        ),
        (
            "pw.validate_phone_otp",
            lambda c: c.password_reset.validate_phone_otp(PHONE, REQ, otp),
            "otp",
        ),
        (
            "login",
            lambda c: c.sessions.login(
                PHONE, "pw-123", "imei-1", phone_number_otp_request_id=REQ, phone_number_otp=otp
            ),
            "phone_number_otp",
        ),
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(call, field, id=f"{name}-{otp!r}")
        for otp in BAD_OTPS
        for name, call, field in otp_calls(otp)
    ],
)
async def test_empty_or_whitespace_otp_is_refused(call: Call, field: str) -> None:
    """An OTP that is empty, blank or has whitespace between its digits is refused, nothing
    sent."""
    await assert_refused(call, field)


NON_DIGIT_OTPS = ["12a456", "12-456", "12\u00b2456", "abcdef", "\u200b"]
NON_DIGIT_OTPS.append(in_digits("12345", 0xFF10) + "x")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(call, field, id=f"{name}-{otp!r}")
        for otp in NON_DIGIT_OTPS
        for name, call, field in otp_calls(otp)
    ],
)
async def test_non_digit_otp_is_refused_before_sending(call: Call, field: str) -> None:
    """Item 8: an OTP with anything but digits (after normalising) is refused, nothing sent."""
    error = await assert_refused(call, field)
    assert "digits" in str(error)


SHORT_OR_LONG_OTPS = ["1", "123", "12345678901", "1" * 20, in_digits("123", 0xFF10)]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(call, field, id=f"{name}-{otp!r}")
        for otp in SHORT_OR_LONG_OTPS
        for name, call, field in otp_calls(otp)
    ],
)
async def test_otp_of_fewer_than_4_or_more_than_10_digits_is_refused(
    call: Call, field: str
) -> None:
    """A code of 1-3 or 11+ digits cannot be a Vlens code (4 to 10 digits): it is refused
    before sending, so it burns no attempt, and the error says the range."""
    error = await assert_refused(call, field)
    assert "4 to 10 digits" in str(error)


@pytest.mark.parametrize("given", ["1234", "1234567890", " 1234", "1234567890\n"])
async def test_otp_of_4_to_10_digits_is_sent(given: str) -> None:
    """Both ends of the 4-10 range are sent, surrounding whitespace dropped."""
    body = await sent_body(lambda c: c.registration.validate_phone_otp(PHONE, REQ, given))
    assert body["phoneNumberOtp"] == given.strip()


@pytest.mark.parametrize(
    "given",
    [
        in_digits("123456", 0x0660),  # Arabic-Indic
        in_digits("123456", 0x06F0),  # Eastern Arabic-Indic
        in_digits("123456", 0xFF10),  # full-width
        "123456\u200b",  # a trailing zero-width space
        "\ufeff123\u200d456\u200c",  # BOM, joiners
        "\u200e\u2067123456\u2069\u061c",  # bidi marks and isolates
        in_digits("12", 0xFF10) + in_digits("34", 0x0660) + "56",
        " 123456",  # surrounding whitespace, as a copy-paste brings it
        "123456\n",
        "\t\u200b123456\u3000 ",
    ],
)
@pytest.mark.parametrize(("name", "key"), [("reg", "phoneNumberOtp"), ("pw", "phoneNumberOtp")])
async def test_otp_digits_are_normalised_to_ascii(given: str, name: str, key: str) -> None:
    """Item 8: OTP digits in other scripts are sent as ASCII, invisible characters and
    surrounding whitespace dropped."""
    calls = {
        "reg": lambda c: c.registration.validate_phone_otp(PHONE, REQ, given),
        "pw": lambda c: c.password_reset.validate_phone_otp(PHONE, REQ, given),
    }
    assert (await sent_body(calls[name]))[key] == "123456"


async def test_full_width_code_validates_on_the_sandbox_and_burns_no_attempt() -> None:
    """Item 8: the sandbox accepts a full-width copy of its code (it used to answer "The code
    is wrong; 4 attempt(s) left"), and a refused non-digit code costs no attempt either."""
    from vlens_async.sandbox import Sandbox

    sandbox = Sandbox(seed=1, max_attempts=2)
    async with sandbox.client() as client:
        sent = await client.registration.send_phone_otp(PHONE)
        request_id = sent.phone_number_otp_request_id
        assert request_id is not None
        code = sandbox.outbox.last_otp(PHONE)
        seen = sandbox.requests_seen
        with pytest.raises(VlensInputError):
            await client.registration.validate_phone_otp(PHONE, request_id, code + "x")
        assert sandbox.requests_seen == seen
        state = await client.registration.validate_phone_otp(
            PHONE, request_id, in_digits(code, 0xFF10) + "\u200b"
        )
    assert state.is_phone_number_confirmed


# --- request ids ------------------------------------------------------------------------------

BAD_IDS = ["not-a-uuid", "", "1234", "3f2c1a9e-8b7d-4c6e-9a5b-0d1e2f3a4b5"]


def id_calls(rid: str) -> list[tuple[str, Call, str]]:
    """Every method that takes a request (or transaction) id, called with ``rid``."""
    return [
        (
            "reg.validate_phone_otp",
            lambda c: c.registration.validate_phone_otp(PHONE, rid, "123456"),
            "request_id",
        ),
        (
            "reg.validate_email_otp",
            lambda c: c.registration.validate_email_otp(EMAIL, rid, "123456"),
            "request_id",
        ),
        (
            "reg.send_phone_otp.transaction_id",
            lambda c: c.registration.send_phone_otp(PHONE, transaction_id=rid),
            "transaction_id",
        ),
        (
            "complete.phone_otp_request_id",
            lambda c: c.registration.complete(
                phone_number=PHONE, phone_otp_request_id=rid, phone_otp="123456"
            ),
            "phone_otp_request_id",
        ),
        (
            "complete.email_otp_request_id",
            lambda c: c.registration.complete(
                phone_number=PHONE, email=EMAIL, email_otp_request_id=rid, email_otp="123456"
            ),
            "email_otp_request_id",
        ),
        (
            "complete.oauth_verification_id",
            lambda c: c.registration.complete(phone_number=PHONE, oauth_verification_id=rid),
            "oauth_verification_id",
        ),
        (
            "confirm_email_update",
            lambda c: c.profile(TOKEN).confirm_email_update(rid, "123456"),
            "request_id",
        ),
        (
            "confirm_email_verification",
            lambda c: c.profile(TOKEN).confirm_email_verification(EMAIL, rid, "123456"),
            "request_id",
        ),
        (
            "pw.validate_email_otp",
            lambda c: c.password_reset.validate_email_otp(EMAIL, rid, "123456"),
            "request_id",
        ),
        (
            "pw.validate_phone_otp",
            lambda c: c.password_reset.validate_phone_otp(PHONE, rid, "123456"),
            "request_id",
        ),
        (
            "login",
            lambda c: c.sessions.login(
                PHONE, "pw-123", "imei-1", phone_number_otp_request_id=rid, phone_number_otp="1"
            ),
            "phone_number_otp_request_id",
        ),
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(call, field, id=f"{name}-{rid!r}")
        for rid in BAD_IDS
        for name, call, field in id_calls(rid)
    ],
)
async def test_non_uuid_request_id_is_refused(call: Call, field: str) -> None:
    """A request id that is not a UUID is refused, nothing sent."""
    await assert_refused(call, field)


# --- SMS providers ----------------------------------------------------------------------------

BAD_PROVIDERS: list[Any] = [9, 8, -1, "nokia", "", True, 2.0]


@pytest.mark.parametrize("provider", BAD_PROVIDERS, ids=repr)
async def test_unknown_sms_provider_is_refused(provider: Any) -> None:
    """An SMS provider outside 1-7 / the known names is refused on send and login."""
    await assert_refused(
        lambda c: c.registration.send_phone_otp(PHONE, sms_provider=provider), "sms_provider"
    )
    await assert_refused(
        lambda c: c.sessions.login(PHONE, "pw-123", "imei-1", sms_provider=provider),
        "sms_provider",
    )


@pytest.mark.parametrize("provider", [None, 0], ids=repr)
async def test_default_sms_provider_sends_no_key(provider: int | None) -> None:
    """0 and None mean the tenant default: no smsProviders / smsProvider key is sent."""
    body = await sent_body(lambda c: c.registration.send_phone_otp(PHONE, sms_provider=provider))
    assert body == {"phoneNumber": PHONE}
    login = await sent_body(
        lambda c: c.sessions.login(PHONE, "pw-123", "imei-1", sms_provider=provider)
    )
    assert login == {"phoneNumber": PHONE, "password": "pw-123", "imei": "imei-1"}


@pytest.mark.parametrize("provider", ["vodafone", "Vodafone", SmsProvider.VODAFONE, 2], ids=repr)
async def test_vodafone_in_any_form_sends_2(provider: SmsProvider | int | str) -> None:
    """The name "vodafone", SmsProvider.VODAFONE and 2 all send the integer 2."""
    body = await sent_body(lambda c: c.registration.send_phone_otp(PHONE, sms_provider=provider))
    assert body == {"phoneNumber": PHONE, "smsProviders": 2}
    assert type(body["smsProviders"]) is int


async def test_every_named_provider_maps_to_its_number() -> None:
    """The seven providers of API_SPEC.md send their documented numbers."""
    documented = {
        "infobip": 1,
        "vodafone": 2,
        "cequens": 3,
        "victory link": 4,
        "broadnet": 5,
        "ezagel": 6,
        "orange": 7,
    }
    for name, number in documented.items():

        def send(client: VlensClient, provider: str = name) -> Awaitable[object]:
            return client.registration.send_phone_otp(PHONE, provider)

        body = await sent_body(send)
        assert body["smsProviders"] == number, name


# --- header values ----------------------------------------------------------------------------

CRLF_VALUES = ["abc\r\nX-Injected: 1", "abc\ndef", "abc\rdef"]


@pytest.mark.parametrize("value", CRLF_VALUES, ids=repr)
@pytest.mark.parametrize("option", ["tenancy_name", "accept_language"])
async def test_crlf_in_client_header_option_is_refused(option: str, value: str) -> None:
    """A tenancy name or language containing CR or LF is refused when the client is built."""
    with pytest.raises(VlensInputError) as info:
        make_client(answer({}), **{option: value})
    assert info.value.field == option


@pytest.mark.parametrize("value", CRLF_VALUES, ids=repr)
async def test_crlf_in_api_key_is_refused(value: str) -> None:
    """An API key containing CR or LF is refused, and the message does not show it."""
    with pytest.raises(VlensInputError) as info:
        VlensClient(value, transport=make_client(answer({}))[1])
    assert info.value.field == "api_key"
    assert value not in str(info.value)


@pytest.mark.parametrize("value", CRLF_VALUES, ids=repr)
async def test_crlf_in_access_token_is_refused(value: str) -> None:
    """client.profile() refuses a token containing CR or LF, before any call."""
    client, transport = make_client(answer({}))
    async with client:
        with pytest.raises(VlensInputError) as info:
            client.profile(value)
    assert info.value.field == "access_token"
    assert value not in str(info.value)
    assert transport.requests == []


@pytest.mark.parametrize("value", CRLF_VALUES, ids=repr)
async def test_crlf_in_refresh_token_is_refused(value: str) -> None:
    """refresh() refuses a token containing CR or LF, nothing sent."""
    error = await assert_refused(lambda c: c.sessions.refresh(value), "refresh_token")
    assert value not in str(error)


@pytest.mark.parametrize("value", CRLF_VALUES, ids=repr)
async def test_crlf_in_admin_login_tenancy_is_refused(value: str) -> None:
    """admin_login refuses a tenancy_name containing CR or LF, nothing sent."""
    await assert_refused(
        lambda c: c.sessions.admin_login("admin", "pw-123", tenancy_name=value), "tenancy_name"
    )


async def test_admin_login_without_any_tenancy_is_refused() -> None:
    """admin_login needs a tenancy name, from the call or the client; nothing sent without."""
    await assert_refused(lambda c: c.sessions.admin_login("admin", "pw-123"), "tenancy_name")


# --- other argument checks --------------------------------------------------------------------


async def test_existence_check_needs_phone_or_email() -> None:
    """check_existence with neither phone nor e-mail is refused, nothing sent."""
    await assert_refused(lambda c: c.registration.check_existence(), "phone_number")


@pytest.mark.parametrize("user_id", ["42", 42.0, True, None], ids=repr)
async def test_reset_needs_an_integer_user_id(user_id: Any) -> None:
    """reset() with a user_id that is not an int (bools excluded) is refused, nothing sent."""
    await assert_refused(
        lambda c: c.password_reset.reset(user_id, "reset-code", "N3w-Passw0rd!"), "user_id"
    )


@pytest.mark.parametrize("provider", ["Facebook", "", "apple"])
async def test_unknown_oauth_provider_is_refused(provider: str) -> None:
    """Only Google and Microsoft are OAuth providers; others are refused, nothing sent."""
    await assert_refused(
        lambda c: c.registration.verify_oauth_token(provider, "eyJ.token"), "provider"
    )


# --- secrets never echoed ---------------------------------------------------------------------

SECRET_CASES: list[Any] = [
    pytest.param(
        lambda c: c.registration.validate_phone_otp(PHONE, REQ, "98 7654"),
        "otp",
        "98 7654",
        id="otp-with-space",
    ),
    pytest.param(
        lambda c: c.profile(TOKEN).confirm_email_update(REQ, "55\t4433"),
        "otp",
        "55\t4433",
        id="otp-with-tab",
    ),
    pytest.param(
        lambda c: c.registration.complete(phone_number=PHONE, email_otp="s3cr3t otp"),
        "email_otp",
        "s3cr3t otp",
        id="complete-email-otp",
    ),
    pytest.param(
        lambda c: c.registration.verify_oauth_token("Google", "eyJhbG ci.secret"),
        "id_token",
        "eyJhbG ci.secret",
        id="oauth-id-token",
    ),
    pytest.param(
        lambda c: c.password_reset.reset(7, "reset code 99", "N3w-Passw0rd!"),
        "reset_code",
        "reset code 99",
        id="reset-code",
    ),
    pytest.param(
        lambda c: c.sessions.refresh("refresh-SECRET\r\n"),
        "refresh_token",
        "refresh-SECRET",
        id="refresh-token",
    ),
    pytest.param(
        lambda c: c.profile("access-SECRET\n").request_email_update(EMAIL),
        "access_token",
        "access-SECRET",
        id="access-token",
    ),
    pytest.param(
        lambda c: c.sessions.admin_login("admin", "\t\n  ", tenancy_name="acme"),
        "password",
        "\t\n  ",
        id="blank-admin-password",
    ),
]


@pytest.mark.parametrize(("call", "field", "secret"), SECRET_CASES)
async def test_input_error_never_shows_the_secret(call: Call, field: str, secret: str) -> None:
    """An input error about an OTP, token or password names the field but never its value."""
    error = await assert_refused(call, field)
    assert secret not in str(error)
    assert secret not in repr(error)
    assert all(secret not in str(arg) for arg in error.args)


@pytest.mark.parametrize("text", [10, None, b"10/s", ["10/s"]])
def test_rate_limit_parse_of_a_non_string_is_a_type_error(text: Any) -> None:
    """`RateLimit.parse(10)` is a TypeError saying what it expects (was AttributeError)."""
    with pytest.raises(TypeError, match="10/s"):
        RateLimit.parse(text)


@pytest.mark.parametrize("limits", [[1], [None], [("10", "s")], "10/s", RateLimit(10, 1.0)])
def test_rate_limiter_refuses_limits_it_cannot_read(limits: Any) -> None:
    """A list of something else, or one limit where a list belongs: a TypeError naming
    ``limits`` (was AttributeError, or "got '1'" for the characters of "10/s")."""
    with pytest.raises(TypeError, match="limits"):
        RateLimiter(limits)


# --- size -------------------------------------------------------------------------------------

HUGE = "x" * 2_000_000  # a file read into the wrong variable


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.sessions.login(PHONE, HUGE, "356938035643809"), "password"),
        (lambda c: c.registration.check_existence(email=HUGE + "@example.com"), "email"),
        (lambda c: c.registration.send_phone_otp(PHONE, x_request_id=HUGE), "x_request_id"),
    ],
)
async def test_a_text_too_long_for_any_request_is_refused_naming_it(call: Call, field: str) -> None:
    """A value of megabytes: refused before anything is sent, naming the field (aiohttp warned
    about the body's size, an untyped error where warnings are errors), and never quoted."""
    error = await assert_refused(call, field)
    assert len(str(error)) < 200
