"""Uses the public API the way a user would; mypy --strict checks it, pytest never runs it.

A change that breaks a user's types (a renamed argument, a result that became Any, an error
attribute that disappeared) fails the type check here.
"""

from __future__ import annotations

import contextlib
import uuid

from vlens_async import (
    ErrorEvent,
    ExistenceResult,
    OutcomeUnknownError,
    RateLimitedError,
    RawResponse,
    RegistrationState,
    RetryPolicy,
    SmsProvider,
    SuccessEvent,
    Timeout,
    VlensAPIError,
    VlensClient,
    VlensHooks,
    capture_response,
)
from vlens_async.bulk import BulkOutcome, BulkStatus, RateLimiter
from vlens_async.sandbox import Sandbox
from vlens_transports import AiohttpTransport, FakeTransport, Request, Response


async def journey(vlens: VlensClient, code: str) -> str | None:
    found: ExistenceResult = await vlens.registration.check_existence(phone_number="+20100")
    assert found.exists is not None
    sent: RegistrationState = await vlens.registration.send_phone_otp(
        "+201001234567", SmsProvider.VODAFONE
    )
    request_id: uuid.UUID | None = sent.phone_number_otp_request_id
    assert request_id is not None
    try:
        await vlens.registration.validate_phone_otp("+201001234567", request_id, code)
    except RateLimitedError as limited:
        delay: float | None = limited.retry_after
        print(delay)
    except VlensAPIError as refused:
        status: int = refused.http_status
        message: str | None = refused.message
        print(status, refused.code, message)
    except OutcomeUnknownError as unknown:
        reason: str = unknown.reason
        print(reason)
    done = await vlens.registration.complete(phone_number="+201001234567", password="pw123456")
    return done.access_token


async def configure() -> None:
    quick = VlensClient.from_env(retry=RetryPolicy(max_attempts=2, deadline=5.0))
    slower = quick.with_options(timeout=Timeout(connect=2.0, read=10.0))
    async with quick, AiohttpTransport(max_response_bytes=64 * 1024) as transport:
        borrowed = VlensClient("key", transport=transport)
        await borrowed.aclose()
    assert slower.closed


async def bulk(vlens: VlensClient) -> dict[BulkStatus, int]:
    counts: dict[BulkStatus, int] = {}
    limiter = RateLimiter(["10/s", "60/min"])
    outcomes = vlens.bulk.send_phone_otps(["+201001234567"], rate_limits=limiter)
    async with contextlib.aclosing(outcomes) as stream:
        async for outcome in stream:
            item: BulkOutcome = outcome
            counts[item.status] = counts.get(item.status, 0) + 1
    return counts


async def sandbox_and_fakes() -> int:
    sandbox = Sandbox(seed=1)
    sandbox.faults.drop_after_processing("registration.send_phone_otp", times=1)
    async with sandbox.client() as vlens:
        await vlens.registration.send_phone_otp("+201001234567")
    code: str = sandbox.outbox.last_otp("+201001234567")

    async def handler(request: Request) -> Response:
        return Response(status=200, content=request.content)

    fake = FakeTransport(handler)
    return len(fake.requests) + len(code)


class SlowCalls(VlensHooks):
    def on_success(self, event: SuccessEvent) -> None:
        seconds: float = event.elapsed
        print(event.operation, event.request_id, seconds)

    def on_error(self, event: ErrorEvent) -> None:
        code: int | None = event.error_code
        print(event.outcome, code)


async def observed(vlens: VlensClient) -> int | None:
    hooked = VlensClient("key", hooks=[SlowCalls()], transport=vlens.transport)
    with capture_response() as captured:
        await hooked.registration.send_phone_otp(
            "+201001234567",
            timeout=Timeout(read=5.0),
            retry=RetryPolicy.interactive(),
            x_request_id="signup-42",
        )
    answer: RawResponse | None = captured.response
    try:
        await vlens.registration.check_existence(email="a@b.co", retry=RetryPolicy.batch())
    except VlensAPIError as refused:
        sent: str | None = refused.request_id
        theirs: str | None = refused.server_request_id
        vlens_code: int | None = refused.vlens_code
        raw: RawResponse | None = refused.response
        print(sent, theirs, vlens_code, raw and raw.headers.get("x-request-id"))
    return None if answer is None else answer.status
