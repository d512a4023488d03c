"""client.bulk's budget and pacing: one permit per attempt, waits between attempts, a bad API
key stops the run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from vlens_async import (
    AuthenticationError,
    RateLimiter,
    RetryPolicy,
    VlensClient,
    VlensConnectionError,
)
from vlens_async.bulk import BulkOutcome, BulkService, BulkStatus
from vlens_async.testing import error_response
from vlens_transports import ConnectError, FakeTransport, Request, Response

from .._counting_limiter import CountingLimiter
from .conftest import API_KEY, FakeTime, RecordingSandbox, number, phone_of


async def collect(outcomes: AsyncIterator[BulkOutcome]) -> list[BulkOutcome]:
    return [outcome async for outcome in outcomes]


def refusing_first(sandbox: RecordingSandbox, refused: set[str], requests: list[str]) -> Any:
    """A handler that refuses the first request for each number in ``refused`` (503)."""
    seen: set[str] = set()

    async def handler(request: Request) -> Response:
        phone = phone_of(request)
        requests.append(phone)
        if phone in refused and phone not in seen:
            seen.add(phone)
            return error_response(503, "busy", status=503)
        return await sandbox.handle(request)

    return handler


@pytest.mark.parametrize("given", ["the client's limiter", "DEFAULT"])
async def test_one_permit_per_attempt_with_the_clients_limiter(given: str) -> None:
    """Issue 16 item 1: a client with a limiter, bulk run with that limiter (passed, or by
    default): each attempt takes exactly one permit of it (it used to take two: bulk's and
    the client copy's), and on_send runs inside that one permit."""
    sandbox = RecordingSandbox(seed=1)
    limiter = CountingLimiter()
    requests: list[str] = []
    client = VlensClient(
        API_KEY,
        transport=FakeTransport(refusing_first(sandbox, {number(1), number(3)}, requests)),
        retry=RetryPolicy.no_wait(),
        rate_limiter=limiter,
    )
    numbers = [number(i) for i in range(5)]
    options: dict[str, Any] = {"rate_limits": limiter} if given != "DEFAULT" else {}
    async with client:
        outcomes = await collect(
            client.bulk.send_phone_otps(
                numbers,
                concurrency=2,
                on_send=lambda raw, phone: limiter.held_when_sending.append(limiter.held),
                **options,
            )
        )
    assert {o.status for o in outcomes} == {BulkStatus.SENT}
    attempts = sum(o.attempts for o in outcomes)
    assert attempts == len(requests) == 7
    assert limiter.entered == attempts
    assert limiter.acquired == 0
    assert len(limiter.held_when_sending) == attempts
    assert min(limiter.held_when_sending) >= 1


async def test_default_rate_limits_without_a_client_limiter_are_vlens_published_ones() -> None:
    """A client without a limiter: the default is still Vlens' 10/s and 60/min."""
    sandbox = RecordingSandbox(seed=1)
    async with sandbox.client() as client:
        assert client.rate_limiter is None
        outcomes = await collect(client.bulk.send_phone_otps([number(1)]))
    assert [o.status for o in outcomes] == [BulkStatus.SENT]


def _paced(handler: Any, time: FakeTime, policy: RetryPolicy) -> tuple[VlensClient, BulkService]:
    client = VlensClient(API_KEY, transport=FakeTransport(handler), retry=policy)
    return client, BulkService(client, sleep=time.sleep)


async def test_refusals_wait_a_growing_jittered_step_between_attempts() -> None:
    """Item 4: with the server down, attempts are spread out by the client's RetryPolicy
    steps (full jitter, doubling, capped), slept outside the permit; they used to follow one
    another at once."""
    time = FakeTime()
    sent_at: list[float] = []
    limiter = CountingLimiter()

    async def handler(request: Request) -> Response:
        sent_at.append(time.now())
        raise ConnectError("refused")

    async def sleep(seconds: float) -> None:
        limiter.held_while_sleeping.append(limiter.held)
        await time.sleep(seconds)

    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    client = VlensClient(API_KEY, transport=FakeTransport(handler), retry=policy)
    bulk = BulkService(client, sleep=sleep)
    async with client:
        outcomes = await collect(
            bulk.send_phone_otps([number(1)], rate_limits=limiter, max_attempts=5)
        )
    assert [(o.status, o.attempts) for o in outcomes] == [(BulkStatus.FAILED, 5)]
    assert isinstance(outcomes[0].error, VlensConnectionError)
    assert len(time.slept) == 4  # between attempts, not after the last
    caps = [1.0, 2.0, 4.0, 4.0]
    assert all(0 <= slept <= cap for slept, cap in zip(time.slept, caps, strict=True))
    assert sum(time.slept) > 0
    assert sent_at == sorted(sent_at)
    assert limiter.held_while_sleeping == [0, 0, 0, 0]


async def test_a_503_retry_after_is_waited_out_capped() -> None:
    """Item 4: a 503 with Retry-After is honoured (capped by retry_after_cap) before the next
    attempt; the number is then sent."""
    time = FakeTime()
    sandbox = RecordingSandbox(seed=1)
    answered = 0

    async def handler(request: Request) -> Response:
        nonlocal answered
        answered += 1
        if answered == 1:
            return error_response(503, "busy", status=503, headers={"Retry-After": "7"})
        if answered == 2:
            return error_response(503, "busy", status=503, headers={"Retry-After": "999"})
        return await sandbox.handle(request)

    policy = RetryPolicy(base_delay=0.0, max_delay=0.0, retry_after_cap=30.0)
    client, bulk = _paced(handler, time, policy)
    async with client:
        outcomes = await collect(bulk.send_phone_otps([number(1)], rate_limits=None))
    assert [(o.status, o.attempts) for o in outcomes] == [(BulkStatus.SENT, 3)]
    assert time.slept == [7.0, 30.0]


async def test_a_429_is_not_waited_twice() -> None:
    """Item 4: a 429's Retry-After already pauses the shared limiter; the item itself then
    waits only its backoff step (here zero), not the Retry-After again."""
    time = FakeTime()
    sandbox = RecordingSandbox(seed=1)
    sandbox.faults.rate_limit(5.0, "registration.send_phone_otp", times=1)
    limiter = RateLimiter([], clock=time.now, sleep=time.sleep)
    client = sandbox.client()
    bulk = BulkService(client, sleep=time.sleep)
    async with client:
        outcomes = await collect(bulk.send_phone_otps([number(1)], rate_limits=limiter))
    assert [(o.status, o.attempts) for o in outcomes] == [(BulkStatus.SENT, 2)]
    assert sum(time.slept) == pytest.approx(5.0)  # the limiter's pause only


def _unauthorised(requests: list[str]) -> Any:
    async def handler(request: Request) -> Response:
        requests.append(phone_of(request))
        return error_response(401, "Unauthorized", status=401)

    return handler


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_refused_api_key_stops_the_run(concurrency: int) -> None:
    """Item 5: the first 401 stops the run: no new request; every number ends failed with
    the AuthenticationError and sent "no" (it used to cost one 401 per number)."""
    requests: list[str] = []
    client = VlensClient(
        "wrong-key", transport=FakeTransport(_unauthorised(requests)), retry=RetryPolicy.no_wait()
    )
    numbers = [number(i) for i in range(20)]
    async with client:
        outcomes = await collect(
            client.bulk.send_phone_otps(numbers, concurrency=concurrency, rate_limits=None)
        )
    assert sorted(o.input for o in outcomes) == numbers
    assert {(o.status, o.sent) for o in outcomes} == {(BulkStatus.FAILED, "no")}
    assert all(isinstance(o.error, AuthenticationError) for o in outcomes)
    assert 1 <= len(requests) <= concurrency
    assert sum(o.attempts for o in outcomes) == len(requests)


async def test_a_refused_api_key_stops_check_existence_too() -> None:
    """Item 5: the same for check_existence (a read retried on transient failures)."""
    requests: list[str] = []

    async def handler(request: Request) -> Response:
        requests.append(request.url)
        return error_response(401, "Unauthorized", status=401)

    client = VlensClient("wrong-key", transport=FakeTransport(handler), retry=RetryPolicy.no_wait())
    async with client:
        outcomes = await collect(
            client.bulk.check_existence(
                [number(i) for i in range(6)], concurrency=1, rate_limits=None
            )
        )
    assert {o.status for o in outcomes} == {BulkStatus.FAILED}
    assert len(outcomes) == 6
    assert len(requests) == 1


async def test_other_refusals_do_not_stop_the_run() -> None:
    """A refusal about one number (a 4004 quota envelope) is that number's: the others are
    still sent."""
    sandbox = RecordingSandbox(seed=1)

    async def handler(request: Request) -> Response:
        if phone_of(request) == number(0):
            return error_response(4004, "The SMS bundle is used up.")
        return await sandbox.handle(request)

    client = VlensClient(API_KEY, transport=FakeTransport(handler), retry=RetryPolicy.no_wait())
    async with client:
        outcomes = await collect(
            client.bulk.send_phone_otps(
                [number(i) for i in range(3)], concurrency=1, rate_limits=None
            )
        )
    assert [(o.phone_number, o.status) for o in outcomes] == [
        (number(0), BulkStatus.FAILED),
        (number(1), BulkStatus.SENT),
        (number(2), BulkStatus.SENT),
    ]


async def test_otp_bulk_uses_the_clients_own_limiter_unless_given_rates(tmp_path: Any) -> None:
    """`vlens otp bulk` without --rate or --redis takes its permits from the client's own
    limiter (the one VLENS_REDIS_URL gives, shared by every process with that key); with
    --rate, from a limiter of those windows."""
    from vlens_async.cli import build_parser
    from vlens_async.cli._bulk_setup import run_limits

    limiter = CountingLimiter()
    client = VlensClient(API_KEY, transport=FakeTransport(_unauthorised([])), rate_limiter=limiter)
    parse = build_parser().parse_args
    plain = parse(["otp", "bulk", "in.txt", "--out", str(tmp_path / "o.jsonl")])
    rated = parse(["otp", "bulk", "in.txt", "--out", str(tmp_path / "o.jsonl"), "--rate", "5/s"])
    async with client:
        async with run_limits(plain, None, client, 0) as (link, used):
            assert (link, used) == (None, limiter)
        async with run_limits(rated, None, client, 0) as (_, used):
            assert isinstance(used, RateLimiter)
            assert [str(limit) for limit in used.limits] == ["5/1s"]
