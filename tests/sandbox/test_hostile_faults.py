"""Faults with odd values: refused when scheduled if no wire can carry them out, and otherwise
the same outcome in memory and over HTTP."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from vlens_async import RetryPolicy, VlensResponseError
from vlens_async.sandbox import Faults, Sandbox, parse_fault_spec
from vlens_transports import Request

from .conftest import SEED, Connect

PHONE = "+201001234567"
READ = "registration.check_existence"


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        # A 1xx is no final answer: an HTTP client waits for the one after it, until its
        # timeout (100, 103) or takes the connection as switched to another protocol (101).
        (lambda f: f.status(100), "status must be from 200 to 599"),
        (lambda f: f.status(101), "status must be from 200 to 599"),
        (lambda f: f.status(42), "status must be from 200 to 599"),
        (lambda f: f.status(1000), "status must be from 200 to 599"),
        # aiohttp sends no body with a 204 or 304; in memory the body was there.
        (lambda f: f.status(204), "a 204 answer has no body"),
        (lambda f: f.status(304, body="envelope"), "a 304 answer has no body"),
        (lambda f: f.latency(math.nan), "latency"),
        (lambda f: f.latency(-1), "latency"),
        (lambda f: f.latency(math.inf), "latency"),
        (lambda f: f.rate_limit(math.nan), "retry_after"),
        (lambda f: f.rate_limit(-1), "retry_after"),
        (lambda f: f.oversized_body(size=0), "size"),
        (lambda f: f.oversized_body(size=-5), "size"),
        (lambda f: f.latency(0, times=1.5), "times"),  # 1.5, 0.5, -0.5...: never 0, never ends
        (lambda f: f.latency(0, times=True), "times"),
    ],
)
def test_a_fault_no_wire_can_carry_out_is_refused_when_scheduled(
    schedule: Callable[[Faults], Any], problem: str
) -> None:
    faults = Faults()
    with pytest.raises((ValueError, TypeError), match=problem):
        schedule(faults)
    assert faults.pending == 0


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("*:status=100", "status must be from 200 to 599, not 100"),
        ("*:status=199", "status must be from 200 to 599, not 199"),
        ("*:status=204", "a 204 answer has no body"),
        ("*:status=304:body=html", "a 304 answer has no body"),
    ],
)
def test_a_fault_spec_no_wire_can_carry_out_is_refused(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_fault_spec(spec)


async def test_a_204_fault_with_an_empty_body_is_the_same_in_memory_and_over_http(
    connect: Connect,
) -> None:
    """The control for the refusals above: 204 with an empty body is allowed, and is the
    same unreadable answer on both wires."""
    sandbox = Sandbox(seed=SEED)
    parse_fault_spec(f"{READ}:status=204:body=empty:times=1").add_to(sandbox.faults)
    client = await connect(sandbox, retry=RetryPolicy.no_wait(max_attempts=2))
    with pytest.raises(VlensResponseError) as caught:
        await client.registration.check_existence(phone_number=PHONE)
    assert caught.value.http_status == 204


@pytest.mark.parametrize(
    ("retry_after", "header"), [(2.0, "2"), (0.5, "0.5"), (1e7, "10000000"), (0, "0")]
)
async def test_a_rate_limit_fault_writes_retry_after_without_an_exponent(
    retry_after: float, header: str
) -> None:
    """f"{1e7:g}" is "1e+07": no client reads that as seconds. Whole seconds are written as an
    integer (RFC 9110's form); a fraction, for fast tests, as a plain decimal."""
    sandbox = Sandbox(seed=SEED)
    sandbox.faults.rate_limit(retry_after)
    request = Request(
        method="POST",
        url="https://sandbox.vlens.test/api/DigitalIdentity/CheckExistenceOfEmailOrPhone",
        headers={"ApiKey": "sandbox-key", "Content-Type": "application/json"},
        content=b'{"phoneNumber": "+201001234567"}',
    )
    response = await sandbox.handle(request)
    assert (response.status, response.headers["retry-after"]) == (429, header)


async def test_an_oversized_body_a_client_accepts_is_the_same_in_memory_and_over_http(
    connect: Connect,
) -> None:
    """oversized_body=4096 is a body the SDK reads over HTTP (its limit is 1 MiB); in memory
    it was a ResponseTooLarge "over a limit of 4095 bytes". Both answer now."""
    sandbox = Sandbox(seed=SEED)
    sandbox.faults.oversized_body(READ, size=4096)
    client = await connect(sandbox, retry=RetryPolicy.no_wait(max_attempts=1))
    answer = await client.registration.check_existence(phone_number=PHONE)
    assert answer.exists is False
