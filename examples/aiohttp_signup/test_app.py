"""The aiohttp.web sign-up service, with the sandbox behind it through the client factory.

``TestClient(TestServer(app))`` starts the app on 127.0.0.1 inside the test's event loop, running
its ``cleanup_ctx``: the app's client is made on that loop, as it would be under ``run_app``.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from vlens_async import (
    AuthenticationError,
    InvalidRequestError,
    OutcomeUnknownError,
    QuotaError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    VlensAPIError,
    VlensClient,
    VlensConnectionError,
    VlensError,
    VlensInputError,
    VlensResponseError,
    VlensTimeoutError,
)
from vlens_async.sandbox import Sandbox

from .app import create_app, http_answer

PHONE = "+201001234567"
if TYPE_CHECKING:  # aiohttp's TestClient takes these type parameters only in recent versions
    Client = TestClient[web.Request, web.Application]


@contextlib.asynccontextmanager
async def serve(factory: Callable[[], VlensClient]) -> AsyncIterator[Client]:
    """The app served on loopback with its cleanup_ctx running, and a client calling it."""
    async with TestClient(TestServer(create_app(factory))) as http:
        yield http


@pytest.fixture
async def http(vlens_sandbox: Sandbox) -> AsyncIterator[Client]:
    """The service over the ``vlens_sandbox`` fixture (from vlens-async's pytest plugin)."""
    async with serve(vlens_sandbox.client) as client:
        yield client


async def start(http: Client, phone: str = PHONE) -> str:
    answer = await http.post("/signup/start", json={"phone_number": phone})
    assert answer.status == 200, await answer.text()
    request_id = (await answer.json())["phone_number_otp_request_id"]
    assert isinstance(request_id, str)
    return request_id


async def test_sign_up_from_start_to_finish(http: Client, vlens_sandbox: Sandbox) -> None:
    """start -> verify -> complete answers 200 each, and no code or token is in any answer."""
    request_id = await start(http)
    code = vlens_sandbox.outbox.last_otp(PHONE)
    step = {"phone_number": PHONE, "request_id": request_id, "code": code}
    verified = await http.post("/signup/verify", json=step)
    assert verified.status == 200, await verified.text()
    assert (await verified.json())["is_phone_number_confirmed"] is True
    done = await http.post("/signup/complete", json={**step, "password": "pa55word"})
    assert done.status == 200, await done.text()
    assert (await done.json())["user"]["phone_number"] == PHONE
    assert "access_token" not in await done.json()
    assert [user.phone_number for user in vlens_sandbox.users] == [PHONE]
    for answer in (verified, done):
        assert code not in await answer.text()
        assert "sbx_at_" not in await answer.text()  # the sandbox's access tokens


@pytest.mark.parametrize(
    ("body", "field"),
    [({"phone_number": "12"}, "phone_number"), ({}, "phone_number"), ([1], "body")],
)
async def test_bad_input_is_422_naming_the_field(http: Client, body: object, field: str) -> None:
    """A missing field, a non-object body or the SDK's input check: 422 with the field."""
    answer = await http.post("/signup/start", json=body)
    assert answer.status == 422
    assert (await answer.json())["field"] == field


async def test_a_wrong_code_is_400(http: Client, vlens_sandbox: Sandbox) -> None:
    """Vlens refusing the code is the user's mistake: 400 with Vlens' explanation."""
    request_id = await start(http)
    wrong = f"{(int(vlens_sandbox.outbox.last_otp(PHONE)) + 1) % 10**6:06d}"
    step = {"phone_number": PHONE, "request_id": request_id, "code": wrong}
    answer = await http.post("/signup/verify", json=step)
    assert answer.status == 400
    assert "wrong" in (await answer.json())["detail"]


async def test_asking_again_too_soon_is_429_with_retry_after(http: Client) -> None:
    """A second code within the resend cooldown: 429, and Retry-After says when to ask."""
    await start(http)
    answer = await http.post("/signup/start", json={"phone_number": PHONE})
    assert answer.status == 429
    assert int(answer.headers["Retry-After"]) >= 1


async def test_a_lost_answer_is_202_do_not_resend(http: Client, vlens_sandbox: Sandbox) -> None:
    """The SMS went but the answer was lost: 202 telling the user not to ask again yet."""
    vlens_sandbox.faults.drop_after_processing("registration.send_phone_otp")
    answer = await http.post("/signup/start", json={"phone_number": PHONE})
    assert answer.status == 202
    assert "Do not resend" in (await answer.json())["detail"]
    assert len(vlens_sandbox.outbox.to(PHONE)) == 1


async def test_a_failing_vlens_is_502(http: Client, vlens_sandbox: Sandbox) -> None:
    """Vlens answering 503 on every try of a code check: 502, the upstream failed."""
    vlens_sandbox.faults.status(503, "registration.validate_phone_otp", body="envelope", times=None)
    step = {"phone_number": PHONE, "request_id": await start(http), "code": "123456"}
    answer = await http.post("/signup/verify", json=step)
    assert answer.status == 502
    assert (await answer.json())["error"] == "upstream_error"


async def test_a_wrong_api_key_is_502_not_the_users_fault(vlens_sandbox: Sandbox) -> None:
    """Vlens refusing our key is our misconfiguration: 502, the key not mentioned."""
    async with serve(lambda: vlens_sandbox.client(api_key="not-our-key")) as http:
        answer = await http.post("/signup/start", json={"phone_number": PHONE})
        assert answer.status == 502
        assert (await answer.json())["error"] == "upstream_auth"


async def test_vlens_unreachable_is_503() -> None:
    """Nothing listening where Vlens should be: 503 (the request never left)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with serve(lambda: VlensClient("k", base_url=url, retry=RetryPolicy.no_wait())) as http:
        answer = await http.post("/signup/start", json={"phone_number": PHONE})
        assert answer.status == 503


async def test_the_cleanup_ctx_closes_the_client(vlens_sandbox: Sandbox) -> None:
    """One client for the app's life: made at startup, closed at cleanup."""
    made: list[VlensClient] = []

    def factory() -> VlensClient:
        made.append(vlens_sandbox.client())
        return made[-1]

    async with serve(factory) as http:
        await start(http)
        await start(http, "+201001234568")
        assert not made[0].closed
    assert len(made) == 1
    assert made[0].closed


def _api(cls: type[VlensAPIError], **extra: Any) -> VlensAPIError:
    return cls(400, "refused", http_status=400, operation="registration.send_phone_otp", **extra)


ANSWERS: list[tuple[VlensError, int]] = [
    (VlensInputError("phone_number", "expected E.164"), 422),
    (_api(InvalidRequestError), 400),
    (_api(AuthenticationError), 502),
    (_api(RateLimitedError, retry_after=2.5), 429),
    (_api(QuotaError), 503),
    (_api(ServerError), 502),
    (_api(VlensAPIError), 502),
    (VlensResponseError("not JSON", http_status=502, excerpt="<html>"), 502),
    (VlensConnectionError("refused"), 503),
    (VlensTimeoutError("no answer in 5 s"), 503),
    (OutcomeUnknownError("registration.send_phone_otp", "connection dropped"), 202),
    (OutcomeUnknownError("registration.complete", "read timeout"), 503),
    (VlensError("a client used after it was closed"), 500),
]


@pytest.mark.parametrize(("error", "status"), ANSWERS, ids=[repr(e) for e, _ in ANSWERS])
def test_each_error_class_has_its_http_answer(error: VlensError, status: int) -> None:
    """The table of docs/web-apps.md: every error class to the status the service answers."""
    answered, body, headers = http_answer(error)
    assert answered == status
    assert body["error"]
    if isinstance(error, RateLimitedError):
        assert headers == {"Retry-After": "3"}
