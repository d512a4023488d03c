"""Every fault kind, in memory and over HTTP: the client-side outcome DESIGN.md promises."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from vlens_async import (
    OutcomeUnknownError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Timeout,
    VlensAPIError,
    VlensClient,
    VlensConnectionError,
    VlensError,
    VlensResponseError,
    VlensTimeoutError,
)
from vlens_async.sandbox import Faults, Sandbox, create_app
from vlens_async.sandbox import _core as sandbox_core

from .conftest import SEED, Connect, Serve

PHONE = "+201001234567"
READ = "registration.check_existence"
EFFECT = "registration.send_phone_otp"

Outcome = type[VlensError] | None  # None: the call succeeds


@dataclass(frozen=True)
class FaultCase:
    """One fault, fired once: what a read and an effect call end in, and after how many tries."""

    name: str
    schedule: Callable[[Faults, str], object]
    processed: bool
    read: Outcome
    read_attempts: int
    effect: Outcome
    effect_attempts: int


def status(code: int, body: str) -> Callable[[Faults, str], object]:
    """Schedules an HTTP ``code`` with an "html", "empty" or "envelope" body."""
    return lambda faults, match: faults.status(code, match, body=body)


UNKNOWN = OutcomeUnknownError
BAD_BODY = VlensResponseError
CASES = [
    FaultCase("latency", lambda f, m: f.latency(0.01, m), True, None, 1, None, 1),
    FaultCase("status-500-html", status(500, "html"), False, None, 2, UNKNOWN, 1),
    FaultCase("status-502-envelope", status(502, "envelope"), False, None, 2, UNKNOWN, 1),
    FaultCase("status-504-empty", status(504, "empty"), False, None, 2, UNKNOWN, 1),
    FaultCase("status-503-html", status(503, "html"), False, None, 2, None, 2),
    FaultCase("rate_limit", lambda f, m: f.rate_limit(2.0, m), False, None, 2, None, 2),
    FaultCase("refuse", lambda f, m: f.refuse(m), False, None, 2, None, 2),
    FaultCase("malformed_json", lambda f, m: f.malformed_json(m), True, BAD_BODY, 1, UNKNOWN, 1),
    FaultCase("drop", lambda f, m: f.drop_after_processing(m), True, None, 2, UNKNOWN, 1),
    FaultCase("truncated_body", lambda f, m: f.truncated_body(m), True, None, 2, UNKNOWN, 1),
    FaultCase("oversized_body", lambda f, m: f.oversized_body(m), True, BAD_BODY, 1, UNKNOWN, 1),
]
IDS = [case.name for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_read_call_under_fault(connect: Connect, case: FaultCase) -> None:
    """A read call retries transient faults to success; unreadable bodies raise at once."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox)
    case.schedule(sandbox.faults, READ)
    if case.read is None:
        found = await client.registration.check_existence(phone_number=PHONE)
        assert found.exists is False
    else:
        with pytest.raises(case.read) as caught:
            await client.registration.check_existence(phone_number=PHONE)
        assert type(caught.value) is case.read
        assert caught.value.operation == READ
    assert sandbox.requests_seen == case.read_attempts
    assert sandbox.faults.pending == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_effect_call_under_fault(connect: Connect, case: FaultCase) -> None:
    """An effect call is resent only when the fault certainly stopped processing."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox)
    case.schedule(sandbox.faults, EFFECT)
    if case.effect is None:
        sent = await client.registration.send_phone_otp(PHONE)
        assert sandbox.outbox.last(PHONE).request_id == sent.phone_number_otp_request_id
    else:
        with pytest.raises(case.effect) as caught:
            await client.registration.send_phone_otp(PHONE)
        assert type(caught.value) is case.effect
        assert caught.value.operation == EFFECT
    assert sandbox.requests_seen == case.effect_attempts
    texted = len(sandbox.outbox.to(PHONE))
    assert texted == (1 if case.processed or case.effect is None else 0)


async def test_outcome_unknown_says_why(connect: Connect) -> None:
    """OutcomeUnknownError names the operation and the reason, and says it was not resent."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox)
    sandbox.faults.status(502, EFFECT)
    with pytest.raises(OutcomeUnknownError) as caught:
        await client.registration.send_phone_otp(PHONE)
    assert (caught.value.operation, caught.value.reason) == (EFFECT, "HTTP 502")
    assert str(caught.value) == (
        "registration.send_phone_otp: outcome unknown (HTTP 502); not resent automatically"
    )
    assert isinstance(caught.value.__cause__, ServerError)


@pytest.mark.parametrize("times", [None, 3, 5])
async def test_persistent_502_on_a_read_call_raises_server_error(
    connect: Connect, times: int | None
) -> None:
    """A 502 outlasting every attempt of a read call surfaces as ServerError(502)."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox)
    sandbox.faults.status(502, READ, times=times)
    with pytest.raises(ServerError) as caught:
        await client.registration.check_existence(phone_number=PHONE)
    assert (caught.value.code, caught.value.http_status) == (502, 502)
    assert caught.value.message is not None
    assert caught.value.message.startswith("HTTP 502 with a non-envelope body")
    assert sandbox.requests_seen == 3


async def test_persistent_rate_limit_raises_rate_limited(connect: Connect) -> None:
    """A 429 on every attempt ends in RateLimitedError with the server's Retry-After."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox)
    sandbox.faults.rate_limit(2.0, EFFECT, times=None)
    with pytest.raises(RateLimitedError) as caught:
        await client.registration.send_phone_otp(PHONE)
    assert (caught.value.code, caught.value.http_status, caught.value.retry_after) == (
        429,
        429,
        2.0,
    )
    assert sandbox.requests_seen == 3
    assert sandbox.outbox.to(PHONE) == []


UNPROCESSED = [
    ("status-503", lambda f: f.status(503, EFFECT)),
    ("status-500", lambda f: f.status(500, EFFECT)),
    ("rate_limit", lambda f: f.rate_limit(1.0, EFFECT)),
    ("refuse", lambda f: f.refuse(EFFECT)),
]


@pytest.mark.parametrize(
    "schedule", [s for _, s in UNPROCESSED], ids=[name for name, _ in UNPROCESSED]
)
async def test_unprocessed_fault_without_retry_sends_nothing(
    connect: Connect, schedule: Callable[[Faults], object]
) -> None:
    """With one attempt, a fault that stops processing leaves the outbox empty."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox, retry=RetryPolicy.no_wait(max_attempts=1))
    schedule(sandbox.faults)
    with pytest.raises(VlensError):
        await client.registration.send_phone_otp(PHONE)
    assert sandbox.requests_seen == 1
    assert sandbox.outbox.to(PHONE) == []


async def test_persistent_refusal_error_depends_on_the_wire(connect: Connect, mode: str) -> None:
    """A refusal on every attempt: a connection error in memory, a 503 ServerError over HTTP."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox)
    sandbox.faults.refuse(READ, times=None)
    expected: type[VlensError] = VlensConnectionError if mode == "memory" else ServerError
    with pytest.raises(expected) as caught:
        await client.registration.check_existence(phone_number=PHONE)
    assert type(caught.value) is expected
    if isinstance(caught.value, VlensAPIError):
        assert (caught.value.code, caught.value.http_status) == (503, 503)
    assert sandbox.requests_seen == 3


async def test_oversized_body_is_a_response_error(connect: Connect) -> None:
    """A body over the 1 MiB limit is reported as VlensResponseError with its status."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox)
    sandbox.faults.oversized_body(READ)
    with pytest.raises(VlensResponseError) as caught:
        await client.registration.check_existence(phone_number=PHONE)
    assert caught.value.http_status == 200
    assert "response body exceeds the limit of" in caught.value.problem
    limit = 1024 * 1024  # the SDK transport's default, in memory as over HTTP
    assert caught.value.problem == (f"response body exceeds the limit of {limit} bytes (HTTP 200)")


async def test_malformed_json_is_a_response_error_with_an_excerpt(connect: Connect) -> None:
    """Malformed JSON is reported as VlensResponseError(200) quoting the start of the body."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox)
    sandbox.faults.malformed_json(READ)
    with pytest.raises(VlensResponseError) as caught:
        await client.registration.check_existence(phone_number=PHONE)
    assert (caught.value.http_status, caught.value.problem) == (200, "invalid JSON")
    assert caught.value.excerpt.startswith('{"data":')


async def fault_pattern(connect: Connect, seed: int) -> list[bool]:
    """Which of 24 single-attempt read calls failed under a 50% seeded 500 fault."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox, retry=RetryPolicy.no_wait(max_attempts=1))
    sandbox.faults.status(500, READ, probability=0.5, seed=seed, times=None)
    statuses: list[int] = []
    for _ in range(24):
        try:
            await client.registration.check_existence(phone_number=PHONE)
        except ServerError as error:
            statuses.append(error.http_status)
        else:
            statuses.append(200)
    assert set(statuses) <= {200, 500}
    assert sandbox.faults.pending == 1
    assert sandbox.requests_seen == 24
    return [status == 500 for status in statuses]


async def test_probability_with_seed_is_reproducible(connect: Connect) -> None:
    """A seeded probabilistic fault fires the same subset of calls every time."""
    first = await fault_pattern(connect, seed=3)
    second = await fault_pattern(connect, seed=3)
    other = await fault_pattern(connect, seed=4)
    assert first == second
    assert 0 < sum(first) < len(first)
    assert other != first


async def test_fault_matches_only_its_operation(connect: Connect) -> None:
    """A fault scheduled for one operation leaves other operations alone."""
    sandbox = Sandbox(seed=SEED)
    client = await connect(sandbox, retry=RetryPolicy.no_wait(max_attempts=1))
    sandbox.faults.status(500, EFFECT, times=None)
    found = await client.registration.check_existence(phone_number=PHONE)
    assert found.exists is False
    with pytest.raises(OutcomeUnknownError):
        await client.registration.send_phone_otp(PHONE)


@pytest.fixture(params=["http", "memory"])
async def slow_client(request: pytest.FixtureRequest, serve: Serve) -> tuple[Sandbox, VlensClient]:
    """Every call is answered after 0.3 s, and the client reads for 0.1 s only: over HTTP, and
    in memory (``sandbox.client()``), where the sandbox stands in for the socket's timeout."""
    sandbox = Sandbox(seed=SEED)
    sandbox.faults.latency(0.3, times=None)
    options: dict[str, Any] = {
        "timeout": Timeout(read=0.1),
        "retry": RetryPolicy.no_wait(max_attempts=2),
    }
    if request.param == "memory":
        return sandbox, sandbox.client(**options)
    client = VlensClient(
        "sandbox-key",
        base_url=await serve(create_app(sandbox)),
        tenancy_name=sandbox.tenancy_name,
        **options,
    )
    return sandbox, client


async def delivered(sandbox: Sandbox, recipient: str) -> int:
    """Messages to ``recipient`` once the slow handler has run (waits at most about 2 s)."""
    for _ in range(200):
        if sandbox.outbox.to(recipient):
            break
        await asyncio.sleep(0.01)
    return len(sandbox.outbox.to(recipient))


async def test_latency_beyond_read_timeout_fails_a_read_call(
    slow_client: tuple[Sandbox, VlensClient],
) -> None:
    """An answer slower than the read timeout is a VlensTimeoutError after retries."""
    sandbox, client = slow_client
    async with client:
        with pytest.raises(VlensTimeoutError) as caught:
            await client.registration.check_existence(phone_number=PHONE)
    assert type(caught.value) is VlensTimeoutError
    assert caught.value.operation == READ
    assert sandbox.requests_seen == 2


async def test_latency_beyond_read_timeout_leaves_an_effect_call_unknown(
    slow_client: tuple[Sandbox, VlensClient],
) -> None:
    """An effect call that times out is OutcomeUnknownError and is not resent; the request is
    processed when the delay ends."""
    sandbox, client = slow_client
    async with client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.registration.send_phone_otp(PHONE)
    assert "read timeout" in caught.value.reason
    assert isinstance(caught.value.__cause__, VlensTimeoutError)
    assert sandbox.requests_seen == 1
    assert not sandbox.outbox.to(PHONE)  # the client gave up while the server was still waiting
    assert await delivered(sandbox, PHONE) == 1  # processed once the delay ended, never twice


async def test_a_request_the_client_gave_up_on_is_logged_when_processed(
    slow_client: tuple[Sandbox, VlensClient], caplog: pytest.LogCaptureFixture
) -> None:
    """The late processing of a timed-out request is logged like any other, number masked."""
    sandbox, client = slow_client
    caplog.set_level(logging.INFO, logger="vlens_async.sandbox")
    async with client:
        with pytest.raises(OutcomeUnknownError):
            await client.registration.send_phone_otp(PHONE)
    assert await delivered(sandbox, PHONE) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "vlens_async.sandbox"]
    assert any("registration.send_phone_otp" in line and "fault=latency" in line for line in lines)
    assert not any(PHONE in line for line in lines)


async def test_a_handler_failing_after_the_client_gave_up_is_logged_without_secrets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """In memory, an error in the late processing is logged by the sandbox, and no log line
    carries the request's headers (the API key)."""
    path = "/api/DigitalIdentity/Register/StepVerifyPhone"
    route = sandbox_core.ROUTES[path]

    def broken(call: Any) -> Any:
        raise KeyError("handler bug")

    monkeypatch.setitem(sandbox_core.ROUTES, path, (broken, route[1]))
    api_key = "live-key-0123456789abcdef"
    sandbox = Sandbox(seed=SEED, api_keys=[api_key])
    sandbox.faults.latency(0.2)
    caplog.set_level(logging.INFO)
    async with sandbox.client(timeout=Timeout(read=0.05)) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.registration.send_phone_otp(PHONE)
        for _ in range(100):
            if any(r.levelno >= logging.ERROR for r in caplog.records):
                break
            await asyncio.sleep(0.01)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["vlens_async.sandbox"]
    assert "failed after the client gave up" in errors[0].getMessage()
    assert api_key[:12] not in caplog.text


async def test_latency_beyond_the_deadline_ends_an_in_memory_call_at_the_deadline() -> None:
    """sandbox.client()'s transport sets no timer: the sandbox ends a latency fault at the call's
    deadline itself (before the read timeout), and processes the request when the delay ends."""
    sandbox = Sandbox(seed=SEED)
    sandbox.faults.latency(0.3)
    client = sandbox.client(retry=RetryPolicy(deadline=0.05), timeout=Timeout(read=5))
    async with client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.registration.send_phone_otp(PHONE)
    assert "deadline" in str(caught.value)
    assert not sandbox.outbox.to(PHONE)  # ended before the latency fault did
    assert await delivered(sandbox, PHONE) == 1
