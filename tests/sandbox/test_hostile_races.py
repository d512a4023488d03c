"""Many concurrent requests over real HTTP for one number, one code, one refresh token: the
rules hold as they do one at a time (a code validates once, a resend waits its cooldown, a
refresh token works once), and any JSON object on any route gets an envelope."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlens_async.sandbox import Sandbox, create_app
from vlens_async.sandbox._core import ROUTES
from vlens_transports import Request

DI = "/api/DigitalIdentity/"
PHONE = "+201001234567"
HEADERS = {"ApiKey": "sandbox-key", "Content-Type": "application/json"}
N = 25

if TYPE_CHECKING:  # aiohttp before 3.11 has no TestClient[...] at run time
    Client = TestClient[Any, Any]


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=7)


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(sandbox))) as client:
        yield client


async def many(http: Client, path: str, body: dict[str, Any]) -> list[Any]:
    """``N`` concurrent POSTs of ``body``; each answer's error_code."""

    async def one() -> Any:
        async with http.post(path, json=body, headers=HEADERS) as response:
            return (await response.json())["error_code"]

    return await asyncio.gather(*(one() for _ in range(N)))


async def test_concurrent_sends_text_once_and_a_code_validates_once(
    http: Client, sandbox: Sandbox
) -> None:
    sends = await many(http, DI + "Register/StepVerifyPhone", {"phoneNumber": PHONE})
    assert sorted(sends, key=str) == [4003] * (N - 1) + [None]  # the cooldown holds
    sent = sandbox.outbox.last(PHONE)
    assert len(sandbox.outbox) == 1
    validate = {
        "phoneNumber": PHONE,
        "phoneNumberOtpRequestId": str(sent.request_id),
        "phoneNumberOtp": sent.code,
    }
    validations = await many(http, DI + "Register/StepVerifyPhone", validate)
    assert sorted(validations, key=str) == [400] * (N - 1) + [None]


async def test_a_refresh_token_sent_concurrently_works_once(http: Client, sandbox: Sandbox) -> None:
    sandbox.add_user(PHONE, "secret-password", devices=["phone"])
    login = {"phoneNumber": PHONE, "password": "secret-password", "imei": "phone"}
    async with http.post(DI + "Login", json=login, headers=HEADERS) as response:
        refresh_token = (await response.json())["data"]["refreshToken"]
    refreshes = await many(http, "/api/credentials/RefreshToken", {"refreshToken": refresh_token})
    assert sorted(refreshes, key=str) == [403] * (N - 1) + [None]


FIELDS = [
    "phoneNumber", "email", "emailOrPhoneNumber", "phoneNumberOtpRequestId", "phoneNumberOtp",
    "emailOtpRequestId", "emailOtp", "smsProviders", "smsProvider", "transactionId", "password",
    "imei", "provider", "IdToken", "idNumber", "userId", "resetCode", "refreshToken",
    "tenancyName", "userNameOrEmailAddress", "oAuthTokenVerificationRequestId",
]  # fmt: skip
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from([PHONE, "a@b.co", "00000000-0000-4000-8000-000000000000", "123456"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(ROUTES)), st.dictionaries(st.sampled_from(FIELDS), VALUES))
async def test_any_json_object_on_any_route_gets_an_envelope(
    path: str, body: dict[str, Any]
) -> None:
    sandbox = Sandbox(seed=1)
    sandbox.add_user(PHONE, "secret-password", email="a@b.co", devices=["phone"])
    content = json.dumps(body).encode()
    request = Request(method="POST", url="https://x" + path, headers=HEADERS, content=content)
    response = await sandbox.handle(request)
    decoded = json.loads(response.content)
    assert list(decoded) == ["data", "error_code", "error_message", "error_descriptions"]
    assert response.status < 500
