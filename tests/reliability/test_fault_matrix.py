"""Fault matrix: every sandbox fault x every operation class, over AiohttpTransport on loopback.

Each row pins the outcome (an exception type, or success after retries), the number of attempts
the server saw, and the number of side effects (SMS in the outbox, accounts created). An effect
call never produces more than one side effect. ``docs/reliability.md`` cites this table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from vlens_async import (
    ExistenceResult,
    OutcomeUnknownError,
    RateLimitedError,
    RegistrationState,
    RetryPolicy,
    ServerError,
    Timeout,
    VlensClient,
    VlensConnectionError,
    VlensError,
    VlensResponseError,
    VlensTimeoutError,
    VlensTransportError,
)
from vlens_async.sandbox import Faults, Sandbox

from .conftest import API_KEY, Serve, closed_port_url, serve_sandbox

PHONE = "+201001234567"
PASSWORD = "correct horse battery"
POLICY = RetryPolicy(max_attempts=3, base_delay=0, max_delay=0, retry_after_cap=0.05, deadline=10)
TIMEOUT = Timeout(connect=2.0, read=0.2)
LATENCY = 0.6  # beyond the 0.2 s read timeout

READ = "read"  # registration.check_existence
SMS = "effect:sms"  # registration.send_phone_otp, side effects = SMS in the outbox
ACCOUNT = "effect:account"  # registration.complete, side effects = accounts created
OPERATIONS = {
    READ: "registration.check_existence",
    SMS: "registration.send_phone_otp",
    ACCOUNT: "registration.complete",
}
ONCE = 1  # the fault fires on the first matching call only
ALWAYS = None  # the fault fires on every matching call

Inject = Callable[[Faults, str, "int | None"], object]
INJECT: dict[str, Inject] = {
    "latency": lambda f, match, times: f.latency(LATENCY, match, times=times),
    "dropped_after_processing": lambda f, match, times: f.drop_after_processing(match, times=times),
    "refused_before_processing": lambda f, match, times: f.refuse(match, times=times),
    "429_retry_after": lambda f, match, times: f.rate_limit(1.0, match, times=times),
    "500": lambda f, match, times: f.status(500, match, body="envelope", times=times),
    "502_html": lambda f, match, times: f.status(502, match, body="html", times=times),
    "503": lambda f, match, times: f.status(503, match, body="envelope", times=times),
    "malformed_json": lambda f, match, times: f.malformed_json(match, times=times),
    "truncated_body": lambda f, match, times: f.truncated_body(match, times=times),
    "oversized_body": lambda f, match, times: f.oversized_body(match, times=times),
}


@attrs.frozen
class Row:
    """One cell of the matrix and what must happen there."""

    fault: str
    op: str
    times: int | None
    raises: type[VlensError] | None  # None: the call succeeds (after retries)
    attempts: int  # requests the server saw
    effects: int  # SMS sent or accounts created by this call

    @property
    def id(self) -> str:
        return f"{self.fault}-{self.op}-{'once' if self.times else 'always'}"


OK = None
# fmt: off
MATRIX = [
    # connection refused: nothing listens, so every call is retried and nothing is reached
    Row("connection_refused", READ, ALWAYS, VlensConnectionError, 0, 0),
    Row("connection_refused", SMS, ALWAYS, VlensConnectionError, 0, 0),
    Row("connection_refused", ACCOUNT, ALWAYS, VlensConnectionError, 0, 0),
    # latency beyond the read timeout: processed late; a read retries, an effect is unknown
    Row("latency", READ, ONCE, OK, 2, 0),
    Row("latency", READ, ALWAYS, VlensTimeoutError, 3, 0),
    Row("latency", SMS, ONCE, OutcomeUnknownError, 1, 1),
    Row("latency", SMS, ALWAYS, OutcomeUnknownError, 1, 1),
    Row("latency", ACCOUNT, ONCE, OutcomeUnknownError, 1, 1),
    Row("latency", ACCOUNT, ALWAYS, OutcomeUnknownError, 1, 1),
    # processed, then the connection drops without an answer
    Row("dropped_after_processing", READ, ONCE, OK, 2, 0),
    Row("dropped_after_processing", READ, ALWAYS, VlensTransportError, 3, 0),
    Row("dropped_after_processing", SMS, ONCE, OutcomeUnknownError, 1, 1),
    Row("dropped_after_processing", SMS, ALWAYS, OutcomeUnknownError, 1, 1),
    Row("dropped_after_processing", ACCOUNT, ONCE, OutcomeUnknownError, 1, 1),
    Row("dropped_after_processing", ACCOUNT, ALWAYS, OutcomeUnknownError, 1, 1),
    # refused before processing (503, empty body, connection closed): safe to repeat any call
    Row("refused_before_processing", READ, ONCE, OK, 2, 0),
    Row("refused_before_processing", READ, ALWAYS, ServerError, 3, 0),
    Row("refused_before_processing", SMS, ONCE, OK, 2, 1),
    Row("refused_before_processing", SMS, ALWAYS, ServerError, 3, 0),
    Row("refused_before_processing", ACCOUNT, ONCE, OK, 2, 1),
    Row("refused_before_processing", ACCOUNT, ALWAYS, ServerError, 3, 0),
    # 429 with Retry-After: not processed, retried after the (capped) wait
    Row("429_retry_after", READ, ONCE, OK, 2, 0),
    Row("429_retry_after", READ, ALWAYS, RateLimitedError, 3, 0),
    Row("429_retry_after", SMS, ONCE, OK, 2, 1),
    Row("429_retry_after", SMS, ALWAYS, RateLimitedError, 3, 0),
    Row("429_retry_after", ACCOUNT, ONCE, OK, 2, 1),
    Row("429_retry_after", ACCOUNT, ALWAYS, RateLimitedError, 3, 0),
    # 500 (envelope body): a read retries; an effect may have happened, so it is not resent
    Row("500", READ, ONCE, OK, 2, 0),
    Row("500", READ, ALWAYS, ServerError, 3, 0),
    Row("500", SMS, ONCE, OutcomeUnknownError, 1, 0),
    Row("500", SMS, ALWAYS, OutcomeUnknownError, 1, 0),
    Row("500", ACCOUNT, ONCE, OutcomeUnknownError, 1, 0),
    Row("500", ACCOUNT, ALWAYS, OutcomeUnknownError, 1, 0),
    # 502 with a proxy's HTML page
    Row("502_html", READ, ONCE, OK, 2, 0),
    Row("502_html", READ, ALWAYS, ServerError, 3, 0),
    Row("502_html", SMS, ONCE, OutcomeUnknownError, 1, 0),
    Row("502_html", SMS, ALWAYS, OutcomeUnknownError, 1, 0),
    Row("502_html", ACCOUNT, ONCE, OutcomeUnknownError, 1, 0),
    Row("502_html", ACCOUNT, ALWAYS, OutcomeUnknownError, 1, 0),
    # 503 (envelope body): the server refused to process, safe to repeat any call
    Row("503", READ, ONCE, OK, 2, 0),
    Row("503", READ, ALWAYS, ServerError, 3, 0),
    Row("503", SMS, ONCE, OK, 2, 1),
    Row("503", SMS, ALWAYS, ServerError, 3, 0),
    Row("503", ACCOUNT, ONCE, OK, 2, 1),
    Row("503", ACCOUNT, ALWAYS, ServerError, 3, 0),
    # processed, then a 200 whose body is not JSON: unreadable; an effect's outcome is unknown
    Row("malformed_json", READ, ONCE, VlensResponseError, 1, 0),
    Row("malformed_json", READ, ALWAYS, VlensResponseError, 1, 0),
    Row("malformed_json", SMS, ONCE, OutcomeUnknownError, 1, 1),
    Row("malformed_json", SMS, ALWAYS, OutcomeUnknownError, 1, 1),
    Row("malformed_json", ACCOUNT, ONCE, OutcomeUnknownError, 1, 1),
    Row("malformed_json", ACCOUNT, ALWAYS, OutcomeUnknownError, 1, 1),
    # processed, then half the body and a dropped connection
    Row("truncated_body", READ, ONCE, OK, 2, 0),
    Row("truncated_body", READ, ALWAYS, VlensTransportError, 3, 0),
    Row("truncated_body", SMS, ONCE, OutcomeUnknownError, 1, 1),
    Row("truncated_body", SMS, ALWAYS, OutcomeUnknownError, 1, 1),
    Row("truncated_body", ACCOUNT, ONCE, OutcomeUnknownError, 1, 1),
    Row("truncated_body", ACCOUNT, ALWAYS, OutcomeUnknownError, 1, 1),
    # processed, then a 2 MiB body over the 1 MiB limit: unreadable; an effect is unknown
    Row("oversized_body", READ, ONCE, VlensResponseError, 1, 0),
    Row("oversized_body", READ, ALWAYS, VlensResponseError, 1, 0),
    Row("oversized_body", SMS, ONCE, OutcomeUnknownError, 1, 1),
    Row("oversized_body", SMS, ALWAYS, OutcomeUnknownError, 1, 1),
    Row("oversized_body", ACCOUNT, ONCE, OutcomeUnknownError, 1, 1),
    Row("oversized_body", ACCOUNT, ALWAYS, OutcomeUnknownError, 1, 1),
]
# fmt: on


async def _validated_phone_otp(sandbox: Sandbox) -> dict[str, Any]:
    """Send and validate a registration OTP in memory; the arguments ``complete`` needs."""
    async with sandbox.client() as setup:
        sent = await setup.registration.send_phone_otp(PHONE)
        request_id = sent.phone_number_otp_request_id
        assert request_id is not None
        code = sandbox.outbox.last_otp(PHONE)
        await setup.registration.validate_phone_otp(PHONE, request_id, code)
    return {"phone_otp_request_id": request_id, "phone_otp": code}


def _effects(sandbox: Sandbox, op: str) -> int:
    if op == SMS:
        return len(sandbox.outbox.to(PHONE))
    if op == ACCOUNT:
        return len(sandbox.users)
    return len(sandbox.outbox) + len(sandbox.users)


async def _call(client: VlensClient, op: str, complete_args: dict[str, Any]) -> object:
    if op == READ:
        return await client.registration.check_existence(PHONE)
    if op == SMS:
        return await client.registration.send_phone_otp(PHONE)
    return await client.registration.complete(
        phone_number=PHONE, password=PASSWORD, **complete_args
    )


def test_matrix_covers_every_fault_and_operation_class() -> None:
    """The table has a row for every injectable fault, every operation class and both schedules."""
    cells = {(row.fault, row.op, row.times) for row in MATRIX}
    assert len(cells) == len(MATRIX)
    for fault in INJECT:
        for op in OPERATIONS:
            assert {(fault, op, ONCE), (fault, op, ALWAYS)} <= cells
    assert all(row.effects <= 1 for row in MATRIX if row.op != READ)
    assert all(row.effects == 0 for row in MATRIX if row.op == READ)


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.id)
async def test_fault_matrix(row: Row, serve: Serve) -> None:
    """Outcome, server-seen attempts and side effects match the row; at most one effect."""
    sandbox = Sandbox(seed=7)
    complete_args = await _validated_phone_otp(sandbox) if row.op == ACCOUNT else {}
    base_url, in_flight = await serve_sandbox(serve, sandbox)
    if row.fault == "connection_refused":
        base_url = closed_port_url()
    else:
        INJECT[row.fault](sandbox.faults, OPERATIONS[row.op], row.times)
    seen_before, effects_before = sandbox.requests_seen, _effects(sandbox, row.op)

    async with VlensClient(API_KEY, base_url=base_url, retry=POLICY, timeout=TIMEOUT) as client:
        outcome: object
        try:
            outcome = await asyncio.wait_for(_call(client, row.op, complete_args), 10.0)
        except VlensError as error:
            outcome = error
    await in_flight.wait()  # a late handler (latency) may still be processing

    if row.raises is None:
        expected = ExistenceResult if row.op == READ else RegistrationState
        assert isinstance(outcome, expected), outcome
    else:
        assert type(outcome) is row.raises, repr(outcome)
        assert isinstance(outcome, VlensError)
        assert outcome.operation == OPERATIONS[row.op]
    assert sandbox.requests_seen - seen_before == row.attempts
    assert _effects(sandbox, row.op) - effects_before == row.effects


NEVER_ANSWERS = [(READ, VlensTimeoutError), (SMS, OutcomeUnknownError)]


@pytest.mark.parametrize("read_timeout", [None, 0.15], ids=["no-read-timeout", "short-attempts"])
@pytest.mark.parametrize(("op", "raises"), NEVER_ANSWERS, ids=[READ, SMS])
async def test_deadline_bounds_a_call_to_a_server_that_never_answers(
    op: str, raises: type[VlensError], read_timeout: float | None
) -> None:
    """A server that accepts and never answers: the call ends by deadline + 1 s, as DESIGN says."""
    deadline = 0.5
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # read until the client gives up; never answer

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = attrs.evolve(POLICY, max_attempts=50, deadline=deadline)
    timeout = Timeout(connect=2.0, read=read_timeout)
    try:
        async with VlensClient(
            API_KEY, base_url=f"http://127.0.0.1:{port}", retry=policy, timeout=timeout
        ) as client:
            started = time.monotonic()
            with pytest.raises(raises) as caught:
                await asyncio.wait_for(_call(client, op, {}), deadline + 5.0)
            elapsed = time.monotonic() - started
    finally:
        server.close()
        for writer in accepted:
            writer.close()
        await server.wait_closed()
    assert elapsed < deadline + 1.0
    assert caught.value.operation == OPERATIONS[op]
    assert len(accepted) >= 1
    if op == SMS:
        assert len(accepted) == 1  # an effect call is never resent after the request went out
