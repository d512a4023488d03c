"""Per-call options (timeout=, retry=, x_request_id=), request ids on requests and errors,
the retry presets, and jittered waits after Retry-After (issue 15 items 3-4)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import re
from collections import Counter
from typing import Any

import pytest

from vlens_async import (
    InvalidRequestError,
    OutcomeUnknownError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    VlensClient,
    VlensInputError,
)
from vlens_async.services import (
    PasswordResetService,
    ProfileService,
    RegistrationService,
    SessionsService,
)
from vlens_async.testing import envelope_response
from vlens_transports import Request, Response, Timeout

from .conftest import answer, make_client
from .virtual_time import VirtualTime

PHONE = "+201001234567"
EMAIL = "mona@example.com"
SERVICES = [RegistrationService, ProfileService, PasswordResetService, SessionsService]


def public_methods() -> list[Any]:
    return [
        pytest.param(method, id=f"{service.__name__}.{name}")
        for service in SERVICES
        for name, method in vars(service).items()
        if inspect.iscoroutinefunction(method) and not name.startswith("_")
    ]


@pytest.mark.parametrize("method", public_methods())
def test_every_service_method_takes_the_per_call_options(method: Any) -> None:
    """timeout=, retry= and x_request_id= are keyword-only, defaulting to None, everywhere."""
    parameters = inspect.signature(method).parameters
    for name in ("timeout", "retry", "x_request_id"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[name].default is None


def failing(*statuses: int, headers: dict[str, str] | None = None) -> Any:
    """A handler answering ``statuses`` in turn (with ``headers``), then success."""
    steps = list(statuses)

    async def handler(request: Request) -> Response:
        if steps:
            return Response(status=steps.pop(0), headers=headers or {})
        return envelope_response({"exists": True})

    return handler


async def test_per_call_retry_overrides_the_clients_without_a_copy() -> None:
    """retry=RetryPolicy.no_wait(1) stops after one attempt; the client's policy is untouched."""
    client, transport = make_client(failing(503, 503))
    async with client:
        with pytest.raises(ServerError):
            await client.registration.check_existence(
                email=EMAIL, retry=RetryPolicy.no_wait(max_attempts=1)
            )
        assert len(transport.requests) == 1
        await client.registration.check_existence(email=EMAIL)  # 503 then success
    assert len(transport.requests) == 3
    assert client.retry == RetryPolicy.no_wait()


async def test_per_call_timeout_reaches_the_request() -> None:
    """timeout= is the Timeout on that call's requests only."""
    client, transport = make_client(answer({"exists": True}))
    short = Timeout(connect=1.0, read=2.0)
    async with client:
        await client.registration.check_existence(email=EMAIL, timeout=short)
        await client.registration.check_existence(email=EMAIL)
    assert transport.requests[0].timeout == short
    assert transport.requests[1].timeout == client.timeout != short


async def test_request_id_is_fresh_random_hex_kept_across_retries() -> None:
    """One X-Request-Id per call, the same on each of its attempts, another for the next call."""
    client, transport = make_client(failing(503, 503))
    async with client:
        await client.registration.check_existence(email=EMAIL)
        await client.registration.check_existence(email=EMAIL)
    ids = [request.headers["X-Request-Id"] for request in transport.requests]
    assert len(ids) == 4
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert all(re.fullmatch("[0-9a-f]{32}", value) for value in ids)  # 128 random bits


async def test_a_callers_request_id_is_sent_and_kept_on_the_error() -> None:
    """x_request_id= is sent as X-Request-Id on every attempt and is the error's request_id."""
    client, transport = make_client(failing(503, 503, 503))
    async with client:
        with pytest.raises(ServerError) as info:
            await client.registration.check_existence(email=EMAIL, x_request_id="order-42")
    assert [r.headers["X-Request-Id"] for r in transport.requests] == ["order-42"] * 3
    assert info.value.request_id == "order-42"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"x_request_id": "a\r\nInjected: 1"}, "x_request_id"),
        ({"x_request_id": ""}, "x_request_id"),
        ({"x_request_id": "x" * 201}, "x_request_id"),
        ({"x_request_id": 42}, "x_request_id"),
        ({"timeout": 5.0}, "timeout"),
        ({"retry": 3}, "retry"),
    ],
)
async def test_bad_per_call_options_are_refused_before_sending(
    options: dict[str, Any], field: str
) -> None:
    """A header-breaking request id or a wrong type names the argument; nothing is sent."""
    client, transport = make_client(answer({"exists": True}))
    async with client:
        with pytest.raises(VlensInputError) as info:
            await client.registration.check_existence(email=EMAIL, **options)
    assert info.value.field == field
    assert info.value.request_id is None
    assert transport.requests == []


async def test_outcome_unknown_carries_the_request_id_and_the_servers() -> None:
    """An effect's unknown outcome and the error it wraps both carry the request ids."""
    client, transport = make_client(failing(500, headers={"X-Correlation-Id": "srv-7"}))
    async with client:
        with pytest.raises(OutcomeUnknownError) as info:
            await client.registration.send_phone_otp(PHONE)
    sent = transport.requests[0].headers["X-Request-Id"]
    assert info.value.request_id == sent
    assert info.value.server_request_id == "srv-7"
    assert info.value.error is not None
    assert info.value.error.request_id == sent
    assert info.value.error.server_request_id == "srv-7"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Request-Id": "abc"}, "abc"),
        ({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, "00-0af7"),
        ({"CF-Ray": "8a1b2c3d4e5f-CAI", "x-amzn-trace-id": "Root=1-2-3"}, "Root=1-2-3"),
        ({"cf-ray": "8a1b2c3d4e5f-CAI"}, "8a1b2c3d4e5f-CAI"),
        ({"Server": "nginx"}, None),
    ],
)
async def test_the_servers_request_id_is_kept(
    headers: dict[str, str], expected: str | None
) -> None:
    """The first request-id or trace header of the answer is the error's server_request_id."""
    client, _ = make_client(failing(400, headers=headers))
    async with client:
        with pytest.raises(InvalidRequestError) as info:
            await client.registration.check_existence(email=EMAIL)
    found = info.value.server_request_id
    assert found == expected or (expected is not None and str(found).startswith(expected))


async def test_the_debug_line_shows_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    """Each attempt's DEBUG line names the call's request id."""
    caplog.set_level(logging.DEBUG, logger="vlens_async")
    client, _ = make_client(answer({"exists": True}))
    async with client:
        await client.registration.check_existence(email=EMAIL, x_request_id="rid-123")
    assert any("request_id=rid-123" in r.getMessage() for r in caplog.records)


def test_presets() -> None:
    """interactive() bounds a whole call to seconds with a short Retry-After cap; batch() is
    the defaults."""
    interactive = RetryPolicy.interactive()
    assert interactive.deadline is not None
    assert interactive.deadline <= 5
    assert interactive.retry_after_cap <= 2
    assert interactive.max_attempts >= 2
    assert RetryPolicy.batch() == RetryPolicy()


async def test_interactive_gives_up_on_a_long_retry_after_within_its_deadline() -> None:
    """A 429 with Retry-After: 20 under interactive() fails after at most two attempts and
    never waits anywhere near 20 s (the wait is capped at 2 s plus jitter)."""
    waits: list[float] = []

    async def record(delay: float, result: Any = None) -> Any:
        waits.append(delay)
        return result

    client, transport = make_client(
        failing(429, 429, headers={"Retry-After": "20"}), retry=RetryPolicy.interactive()
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncio, "sleep", record)
        async with client:
            with pytest.raises(RateLimitedError):
                await client.registration.check_existence(email=EMAIL)
    assert len(transport.requests) == 2
    assert len(waits) == 1
    assert 2.0 <= waits[0] <= 2.1


async def test_callers_refused_together_do_not_retry_in_lockstep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """100 calls answered 429 + Retry-After: 1 at the same instant come back spread over the
    jitter window on a virtual clock, not all at t=1.0."""
    time = VirtualTime()
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        if delay > 0:
            await time.sleep(delay)
        else:
            await real_sleep(0)
        return result

    monkeypatch.setattr(asyncio, "sleep", sleep)
    random.seed(15)
    seen: set[str] = set()
    retried_at: list[float] = []

    async def handler(request: Request) -> Response:
        request_id = request.headers["X-Request-Id"]
        if request_id not in seen:
            seen.add(request_id)
            return Response(status=429, headers={"Retry-After": "1"})
        retried_at.append(time.now())
        return envelope_response({"exists": True})

    policy = RetryPolicy.batch()
    client, _ = make_client(handler, retry=policy)

    async def everyone() -> None:
        async with client:
            calls = [client.registration.check_existence(email=EMAIL) for _ in range(100)]
            await asyncio.gather(*calls)

    await time.run(everyone())
    assert len(retried_at) == 100
    assert min(retried_at) >= 1.0
    assert max(retried_at) <= 1.0 + policy.base_delay
    per_10ms = Counter(int((moment - 1.0) * 100) for moment in retried_at)
    assert max(per_10ms.values()) <= 12  # about 4 expected in each of 25 slots
    assert len(per_10ms) >= 20


async def test_clients_keep_their_settings_across_calls_with_options() -> None:
    """Calls with options leave the shared client's timeout and retry as configured."""
    client = VlensClient("key-0123456789", transport=make_client(answer({"exists": True}))[1])
    before = (client.timeout, client.retry)
    async with client:
        await client.registration.check_existence(
            email=EMAIL, timeout=Timeout(read=1.0), retry=RetryPolicy.interactive()
        )
    assert (client.timeout, client.retry) == before
