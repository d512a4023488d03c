"""The sandbox's rules, each pinned by a refusal and a control that the rule alone explains."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest

from vlens_async import (
    AuthenticationError,
    InvalidRequestError,
    RateLimitedError,
    SmsProvider,
    VlensAPIError,
    VlensInputError,
)
from vlens_async.sandbox import Sandbox
from vlens_async.sandbox._state import below
from vlens_transports import Request, Response

from .conftest import Connect, Vlens, logged_in, wrong

PHONE = "+201001234567"
OTHER_PHONE = "+201009876543"
EMAIL = "mona@example.com"
PASSWORD = "first-password"


def assert_refused(
    error: VlensAPIError, kind: type[VlensAPIError], code: int, message: str
) -> None:
    """Exact class, code and a readable message that also shows in ``str(error)``."""
    assert type(error) is kind
    assert error.code == code
    assert error.message == message
    assert message in str(error)


async def sent_phone_otp(sandbox: Sandbox, vlens: Vlens, phone: str) -> tuple[uuid.UUID, str]:
    """Send a registration OTP to ``phone``; its request id and the texted code."""
    _, client = vlens
    sent = await client.registration.send_phone_otp(phone)
    assert sent.phone_number_otp_request_id is not None
    return sent.phone_number_otp_request_id, sandbox.outbox.last_otp(phone)


async def test_wrong_api_key_is_refused_with_401(connect: Connect) -> None:
    """A key the sandbox does not know gets a 401 envelope; the right key gets an answer."""
    sandbox = Sandbox(seed=1)
    stranger = await connect(sandbox, api_key="wrong-key")
    with pytest.raises(AuthenticationError) as caught:
        await stranger.registration.send_phone_otp(PHONE)
    assert_refused(caught.value, AuthenticationError, 401, "Unauthorized: invalid API key.")
    assert caught.value.http_status == 401
    assert len(sandbox.outbox) == 0
    tenant = await connect(sandbox)
    await tenant.registration.send_phone_otp(PHONE)
    assert len(sandbox.outbox) == 1


async def test_otp_is_valid_only_once(vlens: Vlens) -> None:
    """A validated OTP cannot be validated a second time."""
    sandbox, client = vlens
    request_id, code = await sent_phone_otp(sandbox, vlens, PHONE)
    first = await client.registration.validate_phone_otp(PHONE, request_id, code)
    assert first.is_phone_number_confirmed is True
    with pytest.raises(InvalidRequestError) as caught:
        await client.registration.validate_phone_otp(PHONE, request_id, code)
    assert_refused(
        caught.value, InvalidRequestError, 400, "This code was already used; request a new one."
    )


async def test_otp_expires_after_its_ttl(vlens: Vlens) -> None:
    """An OTP validates one second before its TTL ends and is refused once it has."""
    sandbox, client = vlens
    early_id, early_code = await sent_phone_otp(sandbox, vlens, PHONE)
    late_id, late_code = await sent_phone_otp(sandbox, vlens, OTHER_PHONE)
    sandbox.clock.advance(sandbox.state.otp_ttl - 1)
    ok = await client.registration.validate_phone_otp(PHONE, early_id, early_code)
    assert ok.is_phone_number_confirmed is True
    sandbox.clock.advance(1)
    with pytest.raises(InvalidRequestError) as caught:
        await client.registration.validate_phone_otp(OTHER_PHONE, late_id, late_code)
    assert_refused(
        caught.value, InvalidRequestError, 400, "This code has expired; request a new one."
    )


async def test_validated_otp_expires_before_registration(vlens: Vlens) -> None:
    """A validated phone OTP no longer completes a registration once its TTL has passed."""
    sandbox, client = vlens
    request_id, code = await sent_phone_otp(sandbox, vlens, PHONE)
    await client.registration.validate_phone_otp(PHONE, request_id, code)
    sandbox.clock.advance(sandbox.state.otp_ttl)
    with pytest.raises(InvalidRequestError) as caught:
        await client.registration.complete(
            phone_number=PHONE, phone_otp_request_id=request_id, phone_otp=code, password=PASSWORD
        )
    assert_refused(
        caught.value,
        InvalidRequestError,
        400,
        "The phoneNumberOtp has expired; validate a new one.",
    )
    assert sandbox.users == []


async def test_otp_locks_after_max_attempts(vlens: Vlens) -> None:
    """max_attempts wrong codes lock an OTP (4003), so even the right code is then refused."""
    sandbox, client = vlens
    limit = sandbox.state.max_attempts
    spared_id, spared_code = await sent_phone_otp(sandbox, vlens, OTHER_PHONE)
    for _ in range(limit - 1):
        with pytest.raises(InvalidRequestError):
            await client.registration.validate_phone_otp(OTHER_PHONE, spared_id, wrong(spared_code))
    spared = await client.registration.validate_phone_otp(OTHER_PHONE, spared_id, spared_code)
    assert spared.is_phone_number_confirmed is True

    request_id, code = await sent_phone_otp(sandbox, vlens, PHONE)
    for tried in range(1, limit):
        with pytest.raises(InvalidRequestError) as wrong_try:
            await client.registration.validate_phone_otp(PHONE, request_id, wrong(code))
        left = f"The code is wrong; {limit - tried} attempt(s) left."
        assert_refused(wrong_try.value, InvalidRequestError, 400, left)
    with pytest.raises(RateLimitedError) as last_try:
        await client.registration.validate_phone_otp(PHONE, request_id, wrong(code))
    locked = "Too many wrong codes; request a new one."
    assert_refused(last_try.value, RateLimitedError, 4003, locked)
    with pytest.raises(RateLimitedError) as right_code:
        await client.registration.validate_phone_otp(PHONE, request_id, code)
    assert_refused(right_code.value, RateLimitedError, 4003, locked)


async def test_resend_within_cooldown_is_refused(vlens: Vlens) -> None:
    """A second code to the same number waits out resend_cooldown (4003 with Retry-After)."""
    sandbox, client = vlens
    cooldown = sandbox.state.resend_cooldown
    await client.registration.send_phone_otp(PHONE)
    await client.registration.send_phone_otp(OTHER_PHONE)  # the cooldown is per recipient
    sandbox.clock.advance(cooldown - 1)
    with pytest.raises(RateLimitedError) as caught:
        await client.registration.send_phone_otp(PHONE)
    assert_refused(
        caught.value,
        RateLimitedError,
        4003,
        "A code was sent to this number moments ago; try again in 1 seconds.",
    )
    assert caught.value.retry_after == 1.0
    assert len(sandbox.outbox.to(PHONE)) == 1
    sandbox.clock.advance(1)
    await client.registration.send_phone_otp(PHONE)
    assert len(sandbox.outbox.to(PHONE)) == 2


async def test_cooldown_refusal_carries_retry_after_header() -> None:
    """The 4003 cooldown answer carries a Retry-After header with the seconds left."""
    sandbox = Sandbox(seed=1)
    body = {"phoneNumber": PHONE}
    first = await raw(sandbox, "/api/DigitalIdentity/Register/StepVerifyPhone", body)
    second = await raw(sandbox, "/api/DigitalIdentity/Register/StepVerifyPhone", body)
    assert first.status == 200
    assert envelope(first)["error_code"] is None
    assert "retry-after" not in first.headers
    assert second.status == 200
    assert envelope(second)["error_code"] == 4003
    assert second.headers["retry-after"] == "30"


async def test_register_requires_a_validated_phone_otp(vlens: Vlens) -> None:
    """Register refuses a sent-but-unvalidated phone OTP and accepts it once validated."""
    sandbox, client = vlens
    request_id, code = await sent_phone_otp(sandbox, vlens, PHONE)
    with pytest.raises(InvalidRequestError) as caught:
        await client.registration.complete(
            phone_number=PHONE, phone_otp_request_id=request_id, phone_otp=code, password=PASSWORD
        )
    assert_refused(
        caught.value,
        InvalidRequestError,
        400,
        "The phoneNumberOtp was not validated for this registration.",
    )
    with pytest.raises(InvalidRequestError) as missing:
        await client.registration.complete(phone_number=PHONE, password=PASSWORD)
    assert missing.value.message == (
        "phoneNumberOtp: a validated OTP (request id and code) is required"
    )
    assert missing.value.descriptions == {
        "phoneNumberOtp": ["a validated OTP (request id and code) is required"]
    }
    assert sandbox.users == []
    await client.registration.validate_phone_otp(PHONE, request_id, code)
    done = await client.registration.complete(
        phone_number=PHONE, phone_otp_request_id=request_id, phone_otp=code, password=PASSWORD
    )
    assert done.access_token is not None
    assert [u.phone_number for u in sandbox.users] == [PHONE]


async def test_register_with_email_requires_a_verified_email(vlens: Vlens) -> None:
    """With an e-mail, Register needs a validated e-mail OTP or a matching OAuth verification."""
    sandbox, client = vlens
    phone_id, phone_code = await sent_phone_otp(sandbox, vlens, PHONE)
    await client.registration.validate_phone_otp(PHONE, phone_id, phone_code)
    sent = await client.registration.send_email_otp(EMAIL)
    assert sent.email_otp_request_id is not None
    email_code = sandbox.outbox.last_otp(EMAIL)
    sandbox.add_oauth_identity("Google", "someone-else", "other@example.com")
    elsewhere = await client.registration.verify_oauth_token("Google", "someone-else")
    phone_proof: dict[str, Any] = {
        "phone_number": PHONE,
        "phone_otp_request_id": phone_id,
        "phone_otp": phone_code,
        "email": EMAIL,
        "password": PASSWORD,
    }
    with pytest.raises(InvalidRequestError) as unvalidated:
        await client.registration.complete(
            **phone_proof, email_otp_request_id=sent.email_otp_request_id, email_otp=email_code
        )
    assert unvalidated.value.message == "The emailOtp was not validated for this registration."
    with pytest.raises(InvalidRequestError) as mismatched:
        await client.registration.complete(
            **phone_proof, oauth_verification_id=elsewhere.oauth_token_verification_request_id
        )
    assert mismatched.value.message == (
        "The OAuth verification does not match this e-mail address."
    )
    with pytest.raises(InvalidRequestError) as nothing:
        await client.registration.complete(**phone_proof)
    assert nothing.value.message == "emailOtp: a validated OTP (request id and code) is required"
    assert sandbox.users == []
    await client.registration.validate_email_otp(EMAIL, sent.email_otp_request_id, email_code)
    await client.registration.complete(
        **phone_proof, email_otp_request_id=sent.email_otp_request_id, email_otp=email_code
    )
    assert [(u.phone_number, u.email) for u in sandbox.users] == [(PHONE, EMAIL)]


async def register(vlens: Vlens, phone: str, email: str | None = None) -> None:
    """Run the OTP steps and Register for ``phone`` (and ``email``)."""
    sandbox, client = vlens
    phone_id, phone_code = await sent_phone_otp(sandbox, vlens, phone)
    await client.registration.validate_phone_otp(phone, phone_id, phone_code)
    email_proof: dict[str, Any] = {}
    if email is not None:
        sent = await client.registration.send_email_otp(email)
        assert sent.email_otp_request_id is not None
        code = sandbox.outbox.last_otp(email)
        await client.registration.validate_email_otp(email, sent.email_otp_request_id, code)
        email_proof = {"email": email, "email_otp_request_id": sent.email_otp_request_id}
        email_proof["email_otp"] = code
    await client.registration.complete(
        phone_number=phone,
        phone_otp_request_id=phone_id,
        phone_otp=phone_code,
        password=PASSWORD,
        **email_proof,
    )


async def test_register_refuses_a_duplicate_phone(vlens: Vlens) -> None:
    """A phone number can be registered once; the second Register is refused."""
    sandbox, _ = vlens
    await register(vlens, PHONE)
    sandbox.clock.advance(sandbox.state.resend_cooldown)
    with pytest.raises(InvalidRequestError) as caught:
        await register(vlens, PHONE)
    assert_refused(
        caught.value, InvalidRequestError, 400, "This phone number is already registered."
    )
    assert len(sandbox.users) == 1


async def test_register_refuses_a_duplicate_email(vlens: Vlens) -> None:
    """An e-mail address can belong to one account only; another phone cannot take it."""
    sandbox, _ = vlens
    await register(vlens, PHONE, EMAIL)
    sandbox.clock.advance(sandbox.state.resend_cooldown)
    with pytest.raises(InvalidRequestError) as caught:
        await register(vlens, OTHER_PHONE, EMAIL.upper())
    assert_refused(
        caught.value, InvalidRequestError, 400, "This e-mail address is already registered."
    )
    assert [u.phone_number for u in sandbox.users] == [PHONE]


async def test_profile_calls_need_a_valid_token(vlens: Vlens) -> None:
    """Profile calls with an unknown token get 403; the user's own token works."""
    sandbox, client = vlens
    token = await logged_in(sandbox, client, PHONE)
    with pytest.raises(AuthenticationError) as caught:
        await client.profile("sbx_at_forged").request_email_update(EMAIL)
    assert_refused(
        caught.value,
        AuthenticationError,
        403,
        "A valid user access token is required (Authorization: Bearer).",
    )
    assert sandbox.outbox.to(EMAIL) == []
    await client.profile(token).request_email_update(EMAIL)
    assert len(sandbox.outbox.to(EMAIL)) == 1


async def test_access_token_expires_after_token_ttl(vlens: Vlens) -> None:
    """A user token works one second before token_ttl ends and gets 403 once it has."""
    sandbox, client = vlens
    me = client.profile(await logged_in(sandbox, client, PHONE))
    sandbox.clock.advance(sandbox.state.token_ttl - 1)
    await me.request_email_update("first@example.com")
    sandbox.clock.advance(1)
    with pytest.raises(AuthenticationError) as caught:
        await me.request_email_update("second@example.com")
    assert_refused(
        caught.value,
        AuthenticationError,
        403,
        "The access token has expired; refresh it or log in again.",
    )
    assert sandbox.outbox.to("second@example.com") == []


async def test_password_reset_changes_password_and_code_is_single_use(vlens: Vlens) -> None:
    """After a reset the old password gets 401, the new one works, and the code is spent."""
    sandbox, client = vlens
    old_token = await logged_in(sandbox, client, PHONE, email=EMAIL, password=PASSWORD)
    user = sandbox.users[0]
    assert await client.password_reset.send_reset_code(EMAIL) is True
    reset_code = sandbox.outbox.last(EMAIL).code
    assert await client.password_reset.reset(user.id, reset_code, "new-password") is True
    with pytest.raises(AuthenticationError) as old:
        await client.sessions.login(PHONE, PASSWORD, "known-device")
    assert_refused(old.value, AuthenticationError, 401, "Wrong phone number or password.")
    fresh = await client.sessions.login(PHONE, "new-password", "known-device")
    assert fresh.access_token is not None
    with pytest.raises(InvalidRequestError) as reused:
        await client.password_reset.reset(user.id, reset_code, "third-password")
    assert_refused(
        reused.value, InvalidRequestError, 400, "The reset code is invalid, used or expired."
    )
    assert user.password == "new-password"
    with pytest.raises(AuthenticationError):  # a reset signs the user out everywhere
        await client.profile(old_token).request_email_update("later@example.com")


async def test_new_device_needs_an_otp_and_a_known_device_does_not(vlens: Vlens) -> None:
    """A known device logs straight in; a new one must prove the number with an OTP first."""
    sandbox, client = vlens
    sandbox.add_user(PHONE, PASSWORD, devices=["old-phone"])
    known = await client.sessions.login(PHONE, PASSWORD, "old-phone")
    assert (known.otp_required, known.access_token is not None) == (False, True)
    assert len(sandbox.outbox) == 0
    new = await client.sessions.login(PHONE, PASSWORD, "new-phone")
    assert (new.otp_required, new.access_token) == (True, None)
    message = sandbox.outbox.last(PHONE)
    assert (message.purpose, message.request_id) == ("login", new.phone_number_otp_request_id)
    with pytest.raises(InvalidRequestError) as caught:
        await client.sessions.login(
            PHONE,
            PASSWORD,
            "new-phone",
            phone_number_otp_request_id=new.phone_number_otp_request_id,
            phone_number_otp=wrong(message.code),
        )
    assert caught.value.message == "The code is wrong; 4 attempt(s) left."
    proved = await client.sessions.login(
        PHONE,
        PASSWORD,
        "new-phone",
        phone_number_otp_request_id=new.phone_number_otp_request_id,
        phone_number_otp=message.code,
    )
    assert proved.access_token is not None
    again = await client.sessions.login(PHONE, PASSWORD, "new-phone")
    assert (again.otp_required, again.access_token is not None) == (False, True)
    assert len(sandbox.outbox) == 1


async def test_refresh_tokens_rotate(vlens: Vlens) -> None:
    """A refresh token works once; reusing it gets 403 while its successor works."""
    _, client = vlens
    session = await client.sessions.admin_login("admin", "sandbox-admin-password")
    assert session.refresh_token is not None
    first = await client.sessions.refresh(session.refresh_token)
    assert first.refresh_token is not None
    with pytest.raises(AuthenticationError) as caught:
        await client.sessions.refresh(session.refresh_token)
    assert_refused(
        caught.value,
        AuthenticationError,
        403,
        "The refresh token is invalid, used or expired; log in again.",
    )
    second = await client.sessions.refresh(first.refresh_token)
    assert second.access_token is not None


async def test_admin_login_needs_the_tenancy_name(connect: Connect) -> None:
    """Admin login is refused without the tenant's name or with another one."""
    sandbox = Sandbox(seed=1)
    client = await connect(sandbox, tenancy_name=None)
    with pytest.raises(VlensInputError) as missing:
        await client.sessions.admin_login("admin", "sandbox-admin-password")
    assert missing.value.field == "tenancy_name"
    assert sandbox.requests_seen == 0
    with pytest.raises(AuthenticationError) as other:
        await client.sessions.admin_login(
            "admin", "sandbox-admin-password", tenancy_name="elsewhere"
        )
    assert_refused(
        other.value,
        AuthenticationError,
        401,
        "Unknown tenancy; send it as tenancyName and the TenancyName header.",
    )
    with pytest.raises(AuthenticationError) as bad_password:
        await client.sessions.admin_login("admin", "wrong-password", tenancy_name="sandbox")
    assert bad_password.value.message == "Wrong user name or password."
    session = await client.sessions.admin_login(
        "admin", "sandbox-admin-password", tenancy_name="sandbox"
    )
    assert session.access_token is not None


async def test_rate_window_answers_429_until_the_clock_moves(connect: Connect) -> None:
    """Beyond 2 calls per second the answer is 429 with Retry-After, free again after 1 s."""
    sandbox = Sandbox(seed=1, rate_limits=[(2, 1.0)])
    client = await connect(sandbox)
    for _ in range(2):
        await client.registration.check_existence(phone_number=PHONE)
    with pytest.raises(RateLimitedError) as caught:
        await client.registration.check_existence(phone_number=PHONE)
    assert_refused(caught.value, RateLimitedError, 429, "Too many requests: at most 2 per 1 s.")
    assert (caught.value.http_status, caught.value.retry_after) == (429, 1.0)
    assert sandbox.requests_seen == 2 + 3  # 429 is retried (no_wait policy: 3 attempts)
    sandbox.clock.advance(1.0)
    found = await client.registration.check_existence(phone_number=PHONE)
    assert found.exists is False


async def test_same_seed_gives_same_codes_and_ids(connect: Connect) -> None:
    """Two sandboxes with one seed issue the same first OTP and request id; another seed differs."""
    seen: list[tuple[uuid.UUID | None, str]] = []
    for seed in (7, 7, 8):
        sandbox = Sandbox(seed=seed)
        client = await connect(sandbox)
        sent = await client.registration.send_phone_otp(PHONE)
        seen.append((sent.phone_number_otp_request_id, sandbox.outbox.last_otp(PHONE)))
    assert seen[0] == seen[1]
    assert seen[0][0] is not None
    assert seen[2][0] != seen[0][0]


@pytest.mark.parametrize(
    ("provider", "recorded"),
    [(None, 1), (SmsProvider.VODAFONE, 2), (SmsProvider.ORANGE, 7), (0, 1)],
)
async def test_outbox_records_the_message(
    connect: Connect, provider: SmsProvider | int | None, recorded: int
) -> None:
    """Each outbox entry records channel, recipient, purpose, request id and SMS provider."""
    sandbox = Sandbox(seed=1)
    client = await connect(sandbox)
    sent = await client.registration.send_phone_otp(PHONE, sms_provider=provider)
    [message] = list(sandbox.outbox)
    assert (message.channel, message.recipient, message.purpose) == ("sms", PHONE, "registration")
    assert message.request_id == sent.phone_number_otp_request_id
    assert message.provider == recorded
    assert message.sent_at == sandbox.clock.now()
    assert len(message.code) == 6
    assert message.code.isdigit()


async def test_outbox_records_the_tenant_default_provider(connect: Connect) -> None:
    """A sandbox's default_sms_provider is what a call naming no provider records."""
    sandbox = Sandbox(seed=1, default_sms_provider=3)
    client = await connect(sandbox)
    await client.registration.send_phone_otp(PHONE)
    assert sandbox.outbox.last(PHONE).provider == 3


DI = "https://sandbox.vlens.test/api/DigitalIdentity/"


async def raw(
    sandbox: Sandbox,
    path: str,
    body: object = None,
    *,
    content: bytes | None = None,
    content_type: str = "application/json",
    method: str = "POST",
) -> Response:
    """Send a hand-built request straight to ``sandbox.handle``."""
    url = path if path.startswith("https://") else "https://sandbox.vlens.test" + path
    return await sandbox.handle(
        Request(
            method=method,
            url=url,
            headers={"ApiKey": "sandbox-key", "Content-Type": content_type},
            content=json.dumps(body).encode() if content is None else content,
        )
    )


def envelope(response: Response) -> dict[str, Any]:
    """The decoded JSON envelope of a raw response."""
    decoded = json.loads(response.content)
    assert isinstance(decoded, dict)
    assert set(decoded) == {"data", "error_code", "error_message", "error_descriptions"}
    return decoded


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"),
    [
        (
            {"path": DI + "NoSuchThing", "body": {}},
            404,
            "No such endpoint: /api/DigitalIdentity/NoSuchThing",
        ),
        (
            {"path": DI + "CheckExistenceOfEmailOrPhone", "content": b"{not json"},
            400,
            "Bad request: the body is not valid JSON.",
        ),
        (
            {"path": DI + "CheckExistenceOfEmailOrPhone", "body": [PHONE]},
            400,
            "Bad request: the body must be a JSON object.",
        ),
        (
            {
                "path": DI + "CheckExistenceOfEmailOrPhone",
                "body": {"phoneNumber": PHONE},
                "content_type": "text/plain",
            },
            415,
            "Send the body as application/json.",
        ),
        (
            {"path": DI + "CheckExistenceOfEmailOrPhone", "body": {}, "method": "GET"},
            405,
            "Every Vlens endpoint takes POST.",
        ),
    ],
    ids=["unknown-path", "not-json", "not-an-object", "wrong-content-type", "not-post"],
)
async def test_malformed_requests_are_refused(
    request_kwargs: dict[str, Any], status: int, message: str
) -> None:
    """Unknown paths, non-JSON bodies and other content types get an error envelope."""
    sandbox = Sandbox(seed=1)
    response = await raw(sandbox, **request_kwargs)
    assert response.status == status
    decoded = envelope(response)
    assert (decoded["data"], decoded["error_code"], decoded["error_message"]) == (
        None,
        status,
        message,
    )


async def test_well_formed_raw_request_is_answered() -> None:
    """The control for the raw refusals: the same route with a JSON object body answers 200."""
    sandbox = Sandbox(seed=1)
    response = await raw(sandbox, DI + "checkexistenceofemailorphone/", {"phoneNumber": PHONE})
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert envelope(response)["data"] == {
        "exists": False,
        "isPhoneNumberExists": False,
        "isEmailExists": False,
    }


def test_ids_are_seeded_version_4_uuids() -> None:
    """The sandbox's ids are the version-4 UUIDs its seed dictates."""
    state = Sandbox(seed=7).state
    reference = random.Random(7)
    for _ in range(2_000):
        expected = uuid.UUID(int=reference.getrandbits(128), version=4)
        made = state.new_uuid()
        assert made == expected
        assert (made.version, made.variant) == (4, uuid.RFC_4122)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1000, 10**6, 2**20, 2**20 + 1, 10**12])
def test_below_draws_what_randrange_draws(n: int) -> None:
    """Same numbers, and the generator left where randrange leaves it (seeded codes hold)."""
    for seed in range(5):
        ours, reference = random.Random(seed), random.Random(seed)
        assert [below(ours, n) for _ in range(200)] == [reference.randrange(n) for _ in range(200)]
        assert ours.getstate() == reference.getstate()
