"""The sandbox reads request headers whatever case their names are sent in (HTTP names are
case-insensitive); of two spellings of one name, the last one counts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vlens_async.sandbox import Sandbox
from vlens_transports import Request, Response

BASE = "https://sandbox.vlens.test/api/"
SEND_OTP = BASE + "DigitalIdentity/Register/StepVerifyPhone"
UPDATE_EMAIL = BASE + "DigitalIdentity/UpdateEmailRequest"
ADMIN_LOGIN = BASE + "credentials/Login"
PHONE = "+201001234567"
JSON = "application/json"


async def send(sandbox: Sandbox, url: str, headers: dict[str, str], body: Any) -> Response:
    request = Request(method="POST", url=url, headers=headers, content=json.dumps(body).encode())
    return await sandbox.handle(request)


def error_code(response: Response) -> Any:
    return json.loads(response.content)["error_code"]


@pytest.mark.parametrize(
    ("key_name", "type_name"),
    [("ApiKey", "Content-Type"), ("apikey", "content-type"), ("APIKEY", "CONTENT-TYPE")],
)
async def test_api_key_and_content_type_in_any_case(key_name: str, type_name: str) -> None:
    sandbox = Sandbox()
    headers = {key_name: "sandbox-key", type_name: JSON}
    response = await send(sandbox, SEND_OTP, headers, {"phoneNumber": PHONE})
    assert (response.status, error_code(response)) == (200, None)
    assert len(sandbox.outbox.to(PHONE)) == 1
    refused = await send(sandbox, SEND_OTP, {key_name: "other-key", type_name: JSON}, {})
    assert refused.status == 401
    not_json = await send(sandbox, SEND_OTP, {key_name: "sandbox-key", type_name: "text/plain"}, {})
    assert not_json.status == 415


KEY, OTHER = "sandbox-key", "other-key"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"apikey": OTHER, "ApiKey": KEY, "Content-Type": JSON}, 200),
        ({"ApiKey": KEY, "APIKEY": OTHER, "Content-Type": JSON}, 401),
        ({"ApiKey": KEY, "Content-Type": "text/plain", "content-type": JSON}, 200),
        ({"ApiKey": KEY, "content-type": JSON, "Content-Type": "text/plain"}, 415),
    ],
)
async def test_of_two_spellings_the_last_counts(headers: dict[str, str], status: int) -> None:
    response = await send(Sandbox(), SEND_OTP, headers, {"phoneNumber": PHONE})
    assert response.status == status


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
async def test_a_bearer_token_in_any_case(name: str) -> None:
    sandbox = Sandbox()
    user = sandbox.add_user(PHONE, "secret-password")
    access, _ = sandbox.state.issue_tokens(user.id)
    headers = {"ApiKey": "sandbox-key", "Content-Type": JSON, name: f"Bearer {access}"}
    response = await send(sandbox, UPDATE_EMAIL, headers, {"email": "mona@example.com"})
    assert (response.status, error_code(response)) == (200, None)
    assert len(sandbox.outbox.to("mona@example.com")) == 1
    headers[name] = "Bearer sbx_at_forged"
    assert (await send(sandbox, UPDATE_EMAIL, headers, {"email": "mona@example.com"})).status == 403


@pytest.mark.parametrize("name", ["TenancyName", "tenancyname", "TENANCYNAME"])
async def test_the_tenancy_name_header_in_any_case(name: str) -> None:
    sandbox = Sandbox()
    body = {
        "tenancyName": "sandbox",
        "userNameOrEmailAddress": "admin",
        "password": "sandbox-admin-password",
    }
    headers = {"ApiKey": "sandbox-key", "Content-Type": JSON, name: "sandbox"}
    response = await send(sandbox, ADMIN_LOGIN, headers, body)
    assert (response.status, error_code(response)) == (200, None)
    headers[name] = "elsewhere"
    assert (await send(sandbox, ADMIN_LOGIN, headers, body)).status == 401


@pytest.mark.parametrize("name", ["ApiKey", "apikey"])
async def test_rate_limits_count_per_key_whatever_its_case(name: str) -> None:
    sandbox = Sandbox(resend_cooldown=0, rate_limits=[(2, 60)], api_keys=["key-a", "key-b"])
    for key in ("key-a", "key-a", "key-b"):
        response = await send(
            sandbox, SEND_OTP, {name: key, "Content-Type": JSON}, {"phoneNumber": PHONE}
        )
        assert response.status == 200
    refused = await send(
        sandbox, SEND_OTP, {"APIKEY": "key-a", "Content-Type": JSON}, {"phoneNumber": PHONE}
    )
    assert refused.status == 429
