"""A rate limiter for every call of a client (issue 16 item 1), and from_env's variables."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vlens_async import (
    RateLimitedError,
    RateLimiter,
    RateLimiterUnavailableError,
    RetryPolicy,
    ServerError,
    VlensClient,
    VlensConnectionError,
    VlensInputError,
)
from vlens_async.testing import envelope_response, error_response
from vlens_transports import FakeTransport, Request, Response

from ._counting_limiter import CountingLimiter
from .conftest import make_client

EMAIL = "mona@example.com"
PHONE = "+201001234567"


def answers(*responses: Response) -> Any:
    steps = list(responses)

    async def handler(request: Request) -> Response:
        return steps.pop(0) if steps else envelope_response({"exists": True})

    return handler


async def test_one_permit_per_attempt_held_only_while_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three attempts take three permits, each released before the retry wait."""
    limiter = CountingLimiter()
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        limiter.held_while_sleeping.append(limiter.held)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    client, transport = make_client(
        answers(Response(status=503), Response(status=503)), rate_limiter=limiter
    )
    async with client:
        await client.registration.check_existence(email=EMAIL)
    assert len(transport.requests) == 3
    assert (limiter.entered, limiter.exited, limiter.acquired) == (3, 3, 0)
    assert limiter.held_while_sleeping
    assert set(limiter.held_while_sleeping) == {0}
    assert limiter.successes == 1
    assert limiter.slow_downs == []


async def test_the_in_memory_limiter_grants_one_permit_per_attempt() -> None:
    """With a real RateLimiter, a call retried once is granted two permits."""
    limiter = RateLimiter(["1000/s"])
    client, _ = make_client(answers(Response(status=503)), rate_limiter=limiter)
    async with client:
        await client.registration.check_existence(email=EMAIL)
        await client.registration.check_existence(email=EMAIL)
    assert limiter.granted == 3


@pytest.mark.parametrize(
    ("response", "told"),
    [
        (Response(status=429, headers={"Retry-After": "3"}), 3.0),
        (Response(status=429), None),
        (error_response(4003, "too many"), None),
    ],
)
async def test_a_rate_limited_answer_slows_the_limiter_down(
    response: Response, told: float | None
) -> None:
    """429 or Vlens 4003: slow_down(retry_after) once per such answer."""
    limiter = CountingLimiter()
    client, _ = make_client(
        answers(response), rate_limiter=limiter, retry=RetryPolicy.no_wait(max_attempts=1)
    )
    async with client:
        with pytest.raises(RateLimitedError):
            await client.registration.send_phone_otp(PHONE)
    assert limiter.slow_downs == [told]
    assert limiter.successes == 0


async def test_other_failures_do_not_slow_down() -> None:
    """A 503 is retried but does not slow the limiter down."""
    limiter = CountingLimiter()
    client, _ = make_client(
        answers(Response(status=503)), rate_limiter=limiter, retry=RetryPolicy.no_wait(1)
    )
    async with client:
        with pytest.raises(ServerError):
            await client.registration.check_existence(email=EMAIL)
    assert limiter.slow_downs == []


async def test_copies_share_the_limiter_or_opt_out() -> None:
    """with_options shares the client's limiter; rate_limiter=None takes no permit; another
    limiter replaces it for the copy only."""
    limiter, other = CountingLimiter(), CountingLimiter()
    client, _ = make_client(answers(), rate_limiter=limiter)
    shared = client.with_options(retry=RetryPolicy.no_wait())
    unlimited = client.with_options(rate_limiter=None)
    replaced = client.with_options(rate_limiter=other)
    assert client.rate_limiter is shared.rate_limiter is limiter
    assert unlimited.rate_limiter is None
    assert replaced.rate_limiter is other
    async with client:
        for each in (client, shared, unlimited, replaced):
            await each.registration.check_existence(email=EMAIL)
    assert (limiter.entered, other.entered) == (2, 1)
    assert unlimited.with_options().rate_limiter is None


async def test_no_permit_means_nothing_sent() -> None:
    """A limiter that cannot grant (Redis down) ends the call; no request goes out."""

    class Down(CountingLimiter):
        async def __aenter__(self) -> None:
            raise RateLimiterUnavailableError("127.0.0.1:1", "ConnectionError: refused")

    client, transport = make_client(answers(), rate_limiter=Down())
    async with client:
        with pytest.raises(RateLimiterUnavailableError) as info:
            await client.registration.send_phone_otp(PHONE)
    assert transport.requests == []
    assert info.value.request_id is not None


async def test_waiting_for_a_permit_ends_at_the_calls_deadline() -> None:
    """A budget already spent ends the next call at its deadline, not sent, and its place in
    the limiter's queue is given up."""
    limiter = RateLimiter(["1/min"])
    policy = RetryPolicy(base_delay=0, max_delay=0, deadline=0.05)
    client, transport = make_client(answers(), rate_limiter=limiter, retry=policy)
    async with client:
        await client.registration.check_existence(email=EMAIL)
        with pytest.raises(VlensConnectionError, match="no rate-limit permit") as info:
            await client.registration.send_phone_otp(PHONE)
    assert len(transport.requests) == 1
    assert limiter.granted == 1
    assert info.value.request_id is not None


def test_a_non_limiter_is_refused() -> None:
    """rate_limiter= must have the limiter methods; the message names it."""
    with pytest.raises(VlensInputError) as info:
        VlensClient("key-0123456789", rate_limiter=["10/s"])  # type: ignore[arg-type]
    assert info.value.field == "rate_limiter"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("VLENS_BASE_URL", "VLENS_TENANCY_NAME", "VLENS_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("VLENS_ALLOW_INSECURE_HTTP", raising=False)
    monkeypatch.setenv("VLENS_API_KEY", "key-0123456789")
    monkeypatch.setenv("VLENS_BASE_URL", "http://vlens-sandbox:8088")
    return monkeypatch


@pytest.mark.parametrize("value", ["1", "true", "YES"])
async def test_from_env_allows_insecure_http_when_told(env: pytest.MonkeyPatch, value: str) -> None:
    """VLENS_ALLOW_INSECURE_HTTP=1 lets a non-loopback http:// sandbox host through."""
    env.setenv("VLENS_ALLOW_INSECURE_HTTP", value)
    client = VlensClient.from_env(transport=FakeTransport(answers()))
    assert client.base_url == "http://vlens-sandbox:8088"
    assert client.rate_limiter is None


@pytest.mark.parametrize("value", [None, "0", "false"])
def test_from_env_refuses_remote_http_otherwise(env: pytest.MonkeyPatch, value: str | None) -> None:
    """Without the variable (or with 0/false) a remote http:// base URL is refused."""
    if value is not None:
        env.setenv("VLENS_ALLOW_INSECURE_HTTP", value)
    with pytest.raises(VlensInputError) as info:
        VlensClient.from_env(transport=FakeTransport(answers()))
    assert info.value.field == "base_url"


def test_from_env_names_a_bad_flag(env: pytest.MonkeyPatch) -> None:
    """An unreadable VLENS_ALLOW_INSECURE_HTTP is an input error naming the variable."""
    env.setenv("VLENS_ALLOW_INSECURE_HTTP", "maybe")
    with pytest.raises(VlensInputError) as info:
        VlensClient.from_env(transport=FakeTransport(answers()))
    assert info.value.field == "VLENS_ALLOW_INSECURE_HTTP"
