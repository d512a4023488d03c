"""Contract table: every operation's wire request (URL, JSON body, headers) and decoded result."""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

from vlens_async import (
    AdminSession,
    EmailConfirmation,
    EmailOtpRequest,
    EmailVerification,
    ExistenceResult,
    GeoLocation,
    LoginState,
    OAuthVerification,
    OutcomeUnknownError,
    PhoneOtpRequest,
    RefreshedToken,
    RegistrationState,
    ResetGrant,
    SmsProvider,
    User,
    VlensAPIError,
    VlensClient,
    __version__,
)
from vlens_transports import Request, Response

from .conftest import API_KEY, answer, make_client

Call = Callable[[VlensClient], Awaitable[object]]

HOST = "https://api.vlenseg.com"
DI = HOST + "/api/DigitalIdentity/"
PHONE = "+201001234567"
EMAIL = "mona@example.com"
TOKEN = "user-access-token-abc"
ID_NUMBER = "29001011234567"
# Given in upper case where they are passed in: the wire must carry them in lower case.
PHONE_REQ = "3f2c1a9e-8b7d-4c6e-9a5b-0d1e2f3a4b5c"
EMAIL_REQ = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
OAUTH_REQ = "0f9e8d7c-6b5a-4f3e-2d1c-0b9a8f7e6d5c"
TXN = "11111111-2222-4333-8444-555555555555"

USER_WIRE = {
    "id": 42,
    "name": "Mona",
    "surname": "Hassan",
    "fullName": "Mona Hassan",
    "userName": "mona.hassan",
    "emailAddress": EMAIL,
    "phoneNumber": PHONE,
    "idNumber": ID_NUMBER,
    "address": "12 Nile St, Cairo",
}
USER = User(
    id=42,
    name="Mona",
    surname="Hassan",
    full_name="Mona Hassan",
    user_name="mona.hassan",
    email_address=EMAIL,
    phone_number=PHONE,
    id_number=ID_NUMBER,
    address="12 Nile St, Cairo",
)


@attrs.frozen(kw_only=True)
class Case:
    """One operation: how to call it, what must go on the wire, and what comes back."""

    call: Call
    path: str
    body: dict[str, Any]
    answer: Any
    result: object
    bearer: bool = False


CASES: list[Any] = [
    pytest.param(
        Case(
            call=lambda c: c.registration.check_existence(phone_number=PHONE, email=EMAIL),
            path=DI + "CheckExistenceOfEmailOrPhone",
            body={"phoneNumber": PHONE, "email": EMAIL},
            answer={"isEmailExists": False, "isPhoneNumberExists": True},
            result=ExistenceResult(exists=True, email_exists=False, phone_number_exists=True),
        ),
        id="registration.check_existence",
    ),
    pytest.param(
        Case(
            call=lambda c: c.registration.send_phone_otp(PHONE, sms_provider=SmsProvider.VODAFONE),
            path=DI + "Register/StepVerifyPhone",
            body={"phoneNumber": PHONE, "smsProviders": 2},
            answer={
                "isPhoneNumberConfirmationRequired": True,
                "isPhoneNumberConfirmed": False,
                "phoneNumberOtpRequestId": PHONE_REQ,
                "phoneOtpExpireInSeconds": 300,
                "transactionId": TXN,
            },
            result=RegistrationState(
                is_phone_number_confirmation_required=True,
                is_phone_number_confirmed=False,
                phone_number_otp_request_id=uuid.UUID(PHONE_REQ),
                phone_otp_expire_in_seconds=300,
                transaction_id=uuid.UUID(TXN),
            ),
        ),
        id="registration.send_phone_otp",
    ),
    pytest.param(
        Case(
            call=lambda c: c.registration.validate_phone_otp(
                PHONE, PHONE_REQ.upper(), "123456", transaction_id=uuid.UUID(TXN)
            ),
            path=DI + "Register/StepVerifyPhone",
            body={
                "phoneNumber": PHONE,
                "phoneNumberOtpRequestId": PHONE_REQ,
                "phoneNumberOtp": "123456",
                "transactionId": TXN,
            },
            answer={
                "isPhoneNumberConfirmed": True,
                "isEmailConfirmationRequired": True,
                "transactionId": TXN,
            },
            result=RegistrationState(
                is_phone_number_confirmed=True,
                is_email_confirmation_required=True,
                transaction_id=uuid.UUID(TXN),
            ),
        ),
        id="registration.validate_phone_otp",
    ),
    pytest.param(
        Case(
            call=lambda c: c.registration.send_email_otp(EMAIL),
            path=DI + "Register/StepVerifyEmail",
            body={"email": EMAIL},
            answer={
                "isEmailConfirmationRequired": True,
                "isEmailConfirmed": False,
                "emailOtpRequestId": EMAIL_REQ,
                "emailOtpExpireInSeconds": 600,
            },
            result=RegistrationState(
                is_email_confirmation_required=True,
                is_email_confirmed=False,
                email_otp_request_id=uuid.UUID(EMAIL_REQ),
                email_otp_expire_in_seconds=600,
            ),
        ),
        id="registration.send_email_otp",
    ),
    pytest.param(
        Case(
            call=lambda c: c.registration.validate_email_otp(EMAIL, uuid.UUID(EMAIL_REQ), "654321"),
            path=DI + "Register/StepVerifyEmail",
            body={"email": EMAIL, "emailOtpRequestId": EMAIL_REQ, "emailOtp": "654321"},
            answer={"isEmailConfirmed": True, "emailOtpRequestId": EMAIL_REQ},
            result=RegistrationState(
                is_email_confirmed=True, email_otp_request_id=uuid.UUID(EMAIL_REQ)
            ),
        ),
        id="registration.validate_email_otp",
    ),
    pytest.param(
        Case(
            call=lambda c: c.registration.verify_oauth_token("Google", "eyJhbGciOi.google.sig"),
            path=DI + "Register/StepVerifyOAuthToken",
            body={"provider": "Google", "IdToken": "eyJhbGciOi.google.sig"},
            answer={
                "oAuthTokenVerificationRequestId": OAUTH_REQ,
                "isVerified": True,
                "validationResult": "Valid",
                "email": "mona@gmail.com",
            },
            result=OAuthVerification(
                oauth_token_verification_request_id=uuid.UUID(OAUTH_REQ),
                is_verified=True,
                validation_result="Valid",
                email="mona@gmail.com",
            ),
        ),
        id="registration.verify_oauth_token",
    ),
    pytest.param(
        Case(
            call=lambda c: c.registration.verify_oauth_token_skip_email(
                "Microsoft", "eyJhbGciOi.microsoft.sig"
            ),
            path=DI + "VerifyOAuthToken",
            body={"provider": "Microsoft", "IdToken": "eyJhbGciOi.microsoft.sig"},
            answer={
                "oAuthTokenVerificationRequestId": OAUTH_REQ,
                "isVerified": False,
                "validationResult": "Token expired",
            },
            result=OAuthVerification(
                oauth_token_verification_request_id=uuid.UUID(OAUTH_REQ),
                is_verified=False,
                validation_result="Token expired",
            ),
        ),
        id="registration.verify_oauth_token_skip_email",
    ),
    pytest.param(
        Case(
            call=lambda c: c.registration.complete(
                phone_number=PHONE,
                phone_otp_request_id=PHONE_REQ,
                phone_otp="123456",
                email=EMAIL,
                password="S3cret-Passw0rd",
                email_otp_request_id=EMAIL_REQ.upper(),
                email_otp="654321",
                transaction_id=TXN,
            ),
            path=DI + "Register",
            body={
                "phoneNumber": PHONE,
                "phoneNumberOtpRequestId": PHONE_REQ,
                "phoneNumberOtp": "123456",
                "email": EMAIL,
                "password": "S3cret-Passw0rd",
                "emailOtpRequestId": EMAIL_REQ,
                "emailOtp": "654321",
                "transactionId": TXN,
            },
            answer={
                "isEmailConfirmed": True,
                "isPhoneNumberConfirmed": True,
                "isDigitalIdentityVerified": False,
                "accessToken": "eyJ.access.token",
                "encryptedAccessToken": "enc-access-token",
                "expireInSeconds": 86400,
                "userName": "mona.hassan",
                "userFullName": "Mona Hassan",
                "transactionId": TXN,
                "user": USER_WIRE,
            },
            result=RegistrationState(
                is_email_confirmed=True,
                is_phone_number_confirmed=True,
                is_digital_identity_verified=False,
                access_token="eyJ.access.token",
                encrypted_access_token="enc-access-token",
                expire_in_seconds=86400,
                user_name="mona.hassan",
                user_full_name="Mona Hassan",
                transaction_id=uuid.UUID(TXN),
                user=USER,
            ),
        ),
        id="registration.complete",
    ),
    pytest.param(
        Case(
            call=lambda c: c.registration.complete(
                phone_number=PHONE, oauth_verification_id=OAUTH_REQ
            ),
            path=DI + "Register",
            body={"phoneNumber": PHONE, "oAuthTokenVerificationRequestId": OAUTH_REQ},
            answer={"accessToken": "eyJ.access.token", "expireInSeconds": 3600},
            result=RegistrationState(access_token="eyJ.access.token", expire_in_seconds=3600),
        ),
        id="registration.complete-oauth-minimal",
    ),
    pytest.param(
        Case(
            call=lambda c: c.profile(TOKEN).request_email_update("new.mona@example.com"),
            path=DI + "UpdateEmailRequest",
            body={"email": "new.mona@example.com"},
            answer={"emailOtpRequestId": EMAIL_REQ, "emailOtpExpireInSeconds": 600},
            result=EmailOtpRequest(
                email_otp_request_id=uuid.UUID(EMAIL_REQ), email_otp_expire_in_seconds=600
            ),
            bearer=True,
        ),
        id="profile.request_email_update",
    ),
    pytest.param(
        Case(
            call=lambda c: c.profile(TOKEN).confirm_email_update(EMAIL_REQ, "246810"),
            path=DI + "ValidateUpdateEmailRequestOtp",
            body={"emailOtpRequestId": EMAIL_REQ, "emailOtp": "246810"},
            answer={"isEmailConfirmed": True},
            result=EmailConfirmation(is_email_confirmed=True),
            bearer=True,
        ),
        id="profile.confirm_email_update",
    ),
    pytest.param(
        Case(
            call=lambda c: c.profile(TOKEN).send_email_verification(EMAIL),
            path=DI + "VerifyEmail",
            body={"email": EMAIL},
            answer={
                "emailOtpRequestId": EMAIL_REQ,
                "emailOtpExpireInSeconds": 600,
                "isEmailConfirmed": False,
                "transactionId": TXN,
            },
            result=EmailVerification(
                email_otp_request_id=uuid.UUID(EMAIL_REQ),
                email_otp_expire_in_seconds=600,
                is_email_confirmed=False,
                transaction_id=uuid.UUID(TXN),
            ),
            bearer=True,
        ),
        id="profile.send_email_verification",
    ),
    pytest.param(
        Case(
            call=lambda c: c.profile(TOKEN).confirm_email_verification(
                EMAIL, EMAIL_REQ, "135790", transaction_id=TXN
            ),
            path=DI + "VerifyEmail",
            body={
                "email": EMAIL,
                "emailOtpRequestId": EMAIL_REQ,
                "emailOtp": "135790",
                "transactionId": TXN,
            },
            answer={"isEmailConfirmed": True, "transactionId": TXN},
            result=EmailVerification(is_email_confirmed=True, transaction_id=uuid.UUID(TXN)),
            bearer=True,
        ),
        id="profile.confirm_email_verification",
    ),
    pytest.param(
        Case(
            call=lambda c: c.password_reset.send_reset_code(EMAIL),
            path=DI + "SendPasswordResetCode",
            body={"email": EMAIL},
            answer=True,
            result=True,
        ),
        id="password_reset.send_reset_code",
    ),
    pytest.param(
        Case(
            call=lambda c: c.password_reset.send_email_otp(EMAIL, id_number=ID_NUMBER),
            path=DI + "ForgetPassword/SendEmailOtp",
            body={"emailOrPhoneNumber": EMAIL, "idNumber": ID_NUMBER},
            answer={"emailOtpRequestId": EMAIL_REQ, "emailOtpExpireInSeconds": 600},
            result=EmailOtpRequest(
                email_otp_request_id=uuid.UUID(EMAIL_REQ), email_otp_expire_in_seconds=600
            ),
        ),
        id="password_reset.send_email_otp",
    ),
    pytest.param(
        Case(
            call=lambda c: c.password_reset.validate_email_otp(PHONE, EMAIL_REQ, "864209"),
            path=DI + "ForgetPassword/ValidateEmailOtp",
            body={
                "emailOrPhoneNumber": PHONE,
                "emailOtpRequestId": EMAIL_REQ,
                "emailOtp": "864209",
            },
            answer={"userId": 42, "resetCode": "reset-code-xyz"},
            result=ResetGrant(user_id=42, reset_code="reset-code-xyz"),
        ),
        id="password_reset.validate_email_otp",
    ),
    pytest.param(
        Case(
            call=lambda c: c.password_reset.send_phone_otp(PHONE),
            path=DI + "ForgetPasswordByPhone/SendPhoneOtp",
            body={"phoneNumber": PHONE},
            answer={"phoneNumberOtpRequestId": PHONE_REQ, "phoneOtpExpireInSeconds": 300},
            result=PhoneOtpRequest(
                phone_number_otp_request_id=uuid.UUID(PHONE_REQ), phone_otp_expire_in_seconds=300
            ),
        ),
        id="password_reset.send_phone_otp",
    ),
    pytest.param(
        Case(
            call=lambda c: c.password_reset.validate_phone_otp(
                PHONE, PHONE_REQ, "975310", id_number=ID_NUMBER
            ),
            path=DI + "ForgetPasswordByPhone/ValidatePhoneOtp",
            body={
                "phoneNumber": PHONE,
                "idNumber": ID_NUMBER,
                "phoneNumberOtpRequestId": PHONE_REQ,
                "phoneNumberOtp": "975310",
            },
            answer={"userId": 42, "resetCode": "reset-code-xyz"},
            result=ResetGrant(user_id=42, reset_code="reset-code-xyz"),
        ),
        id="password_reset.validate_phone_otp",
    ),
    pytest.param(
        Case(
            call=lambda c: c.password_reset.reset(42, "reset-code-xyz", "N3w-Passw0rd!"),
            path=DI + "ForgetPassword/Reset",
            body={"userId": 42, "resetCode": "reset-code-xyz", "password": "N3w-Passw0rd!"},
            answer=True,
            # API_SPEC.md: reset returns `data`, decoded leniently (any JSON kept as is).
            result=True,
        ),
        id="password_reset.reset",
    ),
    pytest.param(
        Case(
            call=lambda c: c.sessions.admin_login(
                "admin@acme.example", "Adm1n-Passw0rd", tenancy_name="acme"
            ),
            path=HOST + "/api/credentials/Login",
            body={
                "tenancyName": "acme",
                "userNameOrEmailAddress": "admin@acme.example",
                "password": "Adm1n-Passw0rd",
            },
            answer={
                "accessToken": "admin-access",
                "expireInSeconds": 86400,
                "refreshToken": "admin-refresh",
                "refreshTokenExpireInSeconds": 2592000,
            },
            result=AdminSession(
                access_token="admin-access",
                expire_in_seconds=86400,
                refresh_token="admin-refresh",
                refresh_token_expire_in_seconds=2592000,
            ),
        ),
        id="sessions.admin_login",
    ),
    pytest.param(
        Case(
            call=lambda c: c.sessions.refresh("refresh-token-abc"),
            path=HOST + "/api/credentials/RefreshToken",
            body={"refreshToken": "refresh-token-abc"},
            answer={
                "accessToken": "new-access",
                "encryptedAccessToken": "enc-new-access",
                "expireInSeconds": 86400,
                "refreshToken": "refresh-token-abc",
                "newRefreshToken": "refresh-token-def",
            },
            result=RefreshedToken(
                access_token="new-access",
                encrypted_access_token="enc-new-access",
                expire_in_seconds=86400,
                refresh_token="refresh-token-abc",
                new_refresh_token="refresh-token-def",
            ),
        ),
        id="sessions.refresh",
    ),
    pytest.param(
        Case(
            call=lambda c: c.sessions.login(
                PHONE,
                "S3cret-Passw0rd",
                "356938035643809",
                geo_location=GeoLocation(latitude=30.0444, longitude=31.2357),
                phone_number_otp_request_id=PHONE_REQ,
                phone_number_otp="112233",
                sms_provider="cequens",
            ),
            path=DI + "Login",
            body={
                "phoneNumber": PHONE,
                "password": "S3cret-Passw0rd",
                "imei": "356938035643809",
                "geoLocation": {"latitude": 30.0444, "longitude": 31.2357},
                "phoneNumberOtpRequestId": PHONE_REQ,
                "phoneNumberOtp": "112233",
                "smsProvider": 3,
            },
            answer={
                "accessToken": "eyJ.access.token",
                "expireInSeconds": 86400,
                "refreshToken": "user-refresh",
                "hasPendingRequest": False,
                "redirectUri": "https://app.example.com/home",
                "isDigitalIdentityVerified": True,
                "user": USER_WIRE,
            },
            result=LoginState(
                access_token="eyJ.access.token",
                expire_in_seconds=86400,
                refresh_token="user-refresh",
                has_pending_request=False,
                redirect_uri="https://app.example.com/home",
                is_digital_identity_verified=True,
                user=USER,
            ),
        ),
        id="sessions.login",
    ),
    pytest.param(
        Case(
            call=lambda c: c.sessions.login(PHONE, "S3cret-Passw0rd", "356938035643809"),
            path=DI + "Login",
            body={"phoneNumber": PHONE, "password": "S3cret-Passw0rd", "imei": "356938035643809"},
            answer={"phoneNumberOtpRequestId": PHONE_REQ, "phoneOtpExpireInSeconds": 300},
            result=LoginState(
                phone_number_otp_request_id=uuid.UUID(PHONE_REQ), phone_otp_expire_in_seconds=300
            ),
        ),
        id="sessions.login-new-device",
    ),
]

USER_AGENT = f"vlens-async/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"
BASE_HEADERS = {
    "ApiKey": API_KEY,
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": USER_AGENT,
}
CONFIGS: list[Any] = [
    pytest.param({}, {}, id="plain"),
    pytest.param(
        {"tenancy_name": "acme", "accept_language": "ar"},
        {"TenancyName": "acme", "Accept-Language": "ar"},
        id="tenant",
    ),
]


def expected_headers(case: Case, configured: dict[str, str]) -> dict[str, str]:
    """The exact header set API_SPEC.md prescribes for ``case`` on a client so configured."""
    headers = {**BASE_HEADERS, **configured}
    if case.bearer:
        headers["Authorization"] = f"Bearer {TOKEN}"
    if case.path.endswith("/api/credentials/Login"):
        headers["TenancyName"] = "acme"
    return headers


@pytest.mark.parametrize(("options", "configured_headers"), CONFIGS)
@pytest.mark.parametrize("case", CASES)
async def test_operation_contract(
    case: Case, options: dict[str, str], configured_headers: dict[str, str]
) -> None:
    """The operation POSTs the spec's URL, JSON body and headers, and decodes the answer."""
    client, transport = make_client(answer(case.answer), **options)
    async with client:
        result = await case.call(client)
    assert len(transport.requests) == 1
    request = transport.requests[0]
    assert request.method == "POST"
    assert request.url == case.path
    assert json.loads(request.content) == case.body
    headers = dict(request.headers)
    assert re.fullmatch("[0-9a-f]{32}", headers.pop("X-Request-Id"))  # a fresh id per call
    assert headers == expected_headers(case, configured_headers)
    assert request.headers["User-Agent"].startswith("vlens-async/")
    assert result == case.result
    assert type(result) is type(case.result)


async def test_admin_login_takes_tenancy_from_client() -> None:
    """admin_login without tenancy_name uses the client's: TenancyName header and body field."""
    client, transport = make_client(answer({"accessToken": "a"}), tenancy_name="globex")
    async with client:
        await client.sessions.admin_login("admin", "pw-123")
    request = transport.requests[0]
    assert request.headers["TenancyName"] == "globex"
    assert json.loads(request.content)["tenancyName"] == "globex"


# The docs' own example for StepVerifyPhone (seeds/000): placeholder strings, error_code 1.
DOCS_EXAMPLE: dict[str, Any] = {
    "data": {
        "isEmailConfirmationRequired": True,
        "isEmailConfirmed": True,
        "isPhoneNumberConfirmationRequired": True,
        "isPhoneNumberConfirmed": True,
        "phoneNumberOtp": "string",
        "phoneNumberOtpRequestId": "string",
        "isDigitalIdentityVerified": True,
        "accessToken": "string",
        "encryptedAccessToken": "string",
        "expireInSeconds": 1,
        "userName": "string",
        "userFullName": "string",
        "user": {
            "id": 1,
            "name": "string",
            "surname": "string",
            "fullName": "string",
            "userName": "string",
            "emailAddress": "string",
            "phoneNumber": "string",
            "idNumber": "string",
            "address": "string",
        },
    },
    "error_code": 1,
    "error_message": "string",
    "error_descriptions": None,
}


def raw(body: object, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
    """A handler answering ``body`` as JSON, exactly as given (no envelope added)."""

    async def handler(request: Request) -> Response:
        headers = {"Content-Type": "application/json"}
        return Response(status=status, headers=headers, content=json.dumps(body).encode())

    return handler


async def test_docs_example_with_error_code_1_is_an_api_error() -> None:
    """The docs' example (error_code 1 beside data) is an error: success is only null or 0.
    Code 1 is undocumented, so for an effect the outcome is unknown (the error rides on it)."""
    client, transport = make_client(raw(DOCS_EXAMPLE))
    async with client:
        with pytest.raises(OutcomeUnknownError) as info:
            await client.registration.send_phone_otp(PHONE)
    error = info.value.error
    assert type(error) is VlensAPIError
    assert error.code == 1
    assert error.message == "string"
    assert error.http_status == 200
    assert error.operation == "registration.send_phone_otp"
    assert len(transport.requests) == 1


@pytest.mark.parametrize("code", [None, 0])
async def test_docs_example_with_success_code_decodes_fully(code: int | None) -> None:
    """The docs' example with error_code null/0 and a real UUID decodes, nested user too."""
    data = {**DOCS_EXAMPLE["data"], "phoneNumberOtpRequestId": PHONE_REQ}
    client, _ = make_client(raw({**DOCS_EXAMPLE, "data": data, "error_code": code}))
    async with client:
        state = await client.registration.send_phone_otp(PHONE, sms_provider=0)
    assert state == RegistrationState(
        is_email_confirmation_required=True,
        is_email_confirmed=True,
        is_phone_number_confirmation_required=True,
        is_phone_number_confirmed=True,
        phone_number_otp="string",
        phone_number_otp_request_id=uuid.UUID(PHONE_REQ),
        is_digital_identity_verified=True,
        access_token="string",
        encrypted_access_token="string",
        expire_in_seconds=1,
        user_name="string",
        user_full_name="string",
        user=User(
            id=1,
            name="string",
            surname="string",
            full_name="string",
            user_name="string",
            email_address="string",
            phone_number="string",
            id_number="string",
            address="string",
        ),
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"exists": True}, ExistenceResult(exists=True), id="new-true"),
        pytest.param({"exists": False}, ExistenceResult(exists=False), id="new-false"),
        pytest.param(
            {"isEmailExists": False, "isPhoneNumberExists": False},
            ExistenceResult(exists=False, email_exists=False, phone_number_exists=False),
            id="old-neither",
        ),
        pytest.param(
            {"isEmailExists": True, "isPhoneNumberExists": False},
            ExistenceResult(exists=True, email_exists=True, phone_number_exists=False),
            id="old-email",
        ),
        pytest.param(
            {"isPhoneNumberExists": True},
            ExistenceResult(exists=True, phone_number_exists=True),
            id="old-phone-only",
        ),
    ],
)
async def test_existence_check_decodes_both_shapes(
    data: dict[str, bool], expected: ExistenceResult
) -> None:
    """{"exists"} and {"isEmailExists", "isPhoneNumberExists"} decode, exists derived."""
    client, _ = make_client(answer(data))
    async with client:
        result = await client.registration.check_existence(email=EMAIL)
    assert result == expected


@pytest.mark.parametrize("services_key", ["Services", "services"])
async def test_unknown_and_services_keys_are_ignored(services_key: str) -> None:
    """Unknown keys in the envelope and in data, and a Services key, do not disturb decoding."""
    body = {
        "data": {"isEmailConfirmed": True, "someFutureField": {"x": 1}},
        services_key: None,
        "traceId": "abc-123",
        "error_code": None,
    }
    client, _ = make_client(raw(body))
    async with client:
        result = await client.profile(TOKEN).confirm_email_update(EMAIL_REQ, "246810")
    assert result == EmailConfirmation(is_email_confirmed=True)


async def test_login_without_token_but_request_id_requires_otp() -> None:
    """A login answer with no token and a phone OTP request id has otp_required True."""
    client, _ = make_client(answer({"phoneNumberOtpRequestId": PHONE_REQ}))
    async with client:
        state = await client.sessions.login(PHONE, "S3cret-Passw0rd", "356938035643809")
    assert state.otp_required is True
    assert state.phone_number_otp_request_id == uuid.UUID(PHONE_REQ)


async def test_login_with_token_does_not_require_otp() -> None:
    """A login answer carrying an access token has otp_required False."""
    data = {"accessToken": "eyJ.access", "phoneNumberOtpRequestId": PHONE_REQ}
    client, _ = make_client(answer(data))
    async with client:
        state = await client.sessions.login(PHONE, "S3cret-Passw0rd", "356938035643809")
    assert state.otp_required is False
