"""Bulk's one mapping from answers to statuses: ``failed`` only when certainly not sent.

Several cases here rely on the SDK's outcome rule for effects (an answer that may have been
processed raises ``OutcomeUnknownError``); they are marked ``needs the outcome rule``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from vlens_async import (
    OutcomeUnknownError,
    SmsProvider,
    VlensConnectionError,
    VlensError,
    VlensInputError,
)
from vlens_async.bulk import BulkOutcome, BulkStatus, RateLimiter
from vlens_async.bulk._attempt import Tries, attempt
from vlens_async.bulk._outcome import status_of
from vlens_async.testing import error_response
from vlens_transports import ConnectError, Request, Response

from .conftest import RecordingSandbox, fake_client, number, provider_of


def _envelope_5000(request: Request) -> Response:
    return error_response(5000, "The SMS gateway failed.")  # HTTP 200


def _status(code: int) -> Callable[[Request], Response]:
    def answer(request: Request) -> Response:
        return Response(status=code, headers={"Content-Type": "text/html"}, content=b"<h1>x</h1>")

    return answer


def _unreadable_200(request: Request) -> Response:
    return Response(status=200, headers={"Content-Type": "application/json"}, content=b"{oops")


def _wrong_shape_200(request: Request) -> Response:
    return Response(status=200, headers={"Content-Type": "application/json"}, content=b"[1, 2]")


@pytest.mark.parametrize(
    "answer",
    [_envelope_5000, _status(520), _status(524), _status(500), _unreadable_200, _wrong_shape_200],
    ids=["vlens-5000-on-200", "http-520", "http-524", "http-500", "bad-json-200", "list-200"],
)
async def test_maybe_processed_answers_are_unknown_and_never_moved_to_a_fallback(
    answer: Callable[[Request], Response],
) -> None:
    """Needs the outcome rule. An answer that may follow processing: unknown, sent "maybe",
    one request, never moved to the next provider (the issue's number texted by three)."""
    sandbox = RecordingSandbox(seed=1)
    asked: list[int | None] = []

    async def handler(request: Request) -> Response:
        asked.append(provider_of(request))
        if provider_of(request) == SmsProvider.VODAFONE:
            return answer(request)
        return await sandbox.handle(request)

    async with fake_client(handler) as client:
        outcomes = [
            o
            async for o in client.bulk.send_phone_otps(
                [number(1)], rate_limits=None, sms_provider=2, fallback_providers=[3, 4]
            )
        ]
    (outcome,) = outcomes
    assert (outcome.status, outcome.sent, outcome.attempts) == (BulkStatus.UNKNOWN, "maybe", 1)
    assert isinstance(outcome.error, OutcomeUnknownError)
    assert asked == [2]
    assert len(sandbox.outbox) == 0


async def test_connection_refused_everywhere_is_failed_and_certainly_not_sent() -> None:
    """No connection on any attempt: failed, sent "no" (safe to send again)."""

    async def handler(request: Request) -> Response:
        raise ConnectError("refused")

    async with fake_client(handler) as client:
        outcomes = [o async for o in client.bulk.send_phone_otps([number(1)], rate_limits=None)]
    assert [(o.status, o.sent) for o in outcomes] == [(BulkStatus.FAILED, "no")]
    assert isinstance(outcomes[0].error, VlensConnectionError)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (None, BulkStatus.SENT),
        (OutcomeUnknownError("op", "dropped"), BulkStatus.UNKNOWN),
        (VlensInputError("phone_number", "bad"), BulkStatus.INVALID),
        (VlensConnectionError("refused"), BulkStatus.FAILED),
        (VlensError("stopped"), BulkStatus.FAILED),
    ],
)
def test_status_of_is_the_one_mapping(error: VlensError | None, status: BulkStatus) -> None:
    """OutcomeUnknownError -> unknown, VlensInputError -> invalid, any other -> failed."""
    assert status_of(error, BulkStatus.SENT) is status
    sent = BulkOutcome(input="x", status=status).sent
    assert sent == {"sent": "yes", "unknown": "maybe"}.get(status.value, "no")


async def test_an_unexpected_exception_after_the_hand_over_is_unknown() -> None:
    """A bug below bulk (not a VlensError) once the request was handed over: unknown, kept as
    the cause, not retried; the run goes on."""
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom with a secret")

    result = await attempt(call, Tries(limiter=None, max_attempts=5))
    assert isinstance(result.error, OutcomeUnknownError)
    assert "secret" not in str(result.error)
    assert isinstance(result.error.__cause__, RuntimeError)
    assert (calls, result.attempts, status_of(result.error, BulkStatus.SENT)) == (
        1,
        1,
        BulkStatus.UNKNOWN,
    )


async def test_on_send_refusing_ends_the_number_failed_with_nothing_sent() -> None:
    """A VlensError from ``on_send`` (the CLI's clean stop) ends the number failed, 0 requests."""
    sandbox = RecordingSandbox(seed=1)

    def refuse(raw: str, phone: str) -> None:
        raise VlensError("stopped")

    async with sandbox.client() as client:
        outcomes = [
            o
            async for o in client.bulk.send_phone_otps(
                [number(1)], rate_limits=None, on_send=refuse, fallback_providers=[3]
            )
        ]
    assert [(o.status, o.sent, o.attempts) for o in outcomes] == [(BulkStatus.FAILED, "no", 0)]
    assert sandbox.sends == []


class _OnePermit(RateLimiter):
    """Grants one permit, then makes every later caller wait forever."""

    def __init__(self) -> None:
        super().__init__([])
        self.given = 0

    async def __aenter__(self) -> None:
        self.given += 1
        if self.given > 1:
            await asyncio.Event().wait()


async def test_on_send_runs_after_the_permit_so_waiting_numbers_are_never_journaled() -> None:
    """Item 3: numbers still waiting for a rate-limit permit when the run is cut short were
    never handed to ``on_send`` (so a journal never records them pending/unknown)."""
    sandbox = RecordingSandbox(seed=1)
    journaled: list[str] = []
    async with sandbox.client() as client:
        outcomes = client.bulk.send_phone_otps(
            [number(i) for i in range(5)],
            concurrency=5,
            rate_limits=_OnePermit(),
            on_send=lambda raw, phone: journaled.append(phone),
        )
        async with contextlib.aclosing(outcomes):
            first = await outcomes.__anext__()
    assert first.status is BulkStatus.SENT
    assert journaled == [first.phone_number]
    assert [phone for phone, _ in sandbox.sends] == journaled


async def test_slow_async_source_does_not_hold_back_finished_outcomes() -> None:
    """A finished send is yielded while the next input is still awaited (a slow pipe)."""
    sandbox = RecordingSandbox(seed=1)
    more = asyncio.Event()

    async def numbers() -> object:
        yield number(1)
        await more.wait()
        yield number(2)

    async with sandbox.client() as client:
        outcomes = client.bulk.send_phone_otps(numbers(), rate_limits=None)  # type: ignore[arg-type]
        async with contextlib.aclosing(outcomes):
            first = await asyncio.wait_for(outcomes.__anext__(), 10)
            assert (first.phone_number, first.status) == (number(1), BulkStatus.SENT)
            more.set()
            rest = [o async for o in outcomes]
    assert [o.phone_number for o in rest] == [number(2)]
