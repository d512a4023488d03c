"""Retries per operation class (read/effect), Retry-After, backoff, deadline, cancel, logging."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from vlens_async import (
    AuthenticationError,
    ExistenceResult,
    InvalidRequestError,
    OutcomeUnknownError,
    RateLimitedError,
    RegistrationState,
    RetryPolicy,
    ServerError,
    VlensAPIError,
    VlensClient,
    VlensConnectionError,
    VlensError,
    VlensTimeoutError,
    VlensTransportError,
    mask_phone,
)
from vlens_async._call import parse_retry_after
from vlens_async.testing import envelope_response, error_response
from vlens_transports import (
    ConnectError,
    RemoteDisconnected,
    Request,
    Response,
    TransportError,
    TransportTimeout,
)

from .conftest import API_KEY, Handler, make_client

PHONE = "+201001234567"
OTP = "918273"
CHECK = "registration.check_existence"
SEND = "registration.send_phone_otp"

Step = Response | type[TransportError]
Call = Callable[[VlensClient], Awaitable[Any]]


async def read_call(client: VlensClient) -> ExistenceResult:
    """A read operation."""
    return await client.registration.check_existence(phone_number=PHONE)


async def effect_call(client: VlensClient) -> RegistrationState:
    """An effect operation (texts an OTP)."""
    return await client.registration.send_phone_otp(PHONE)


CALLS = {"read": (read_call, CHECK), "effect": (effect_call, SEND)}


def ok() -> Response:
    """A success envelope that decodes as both ExistenceResult and RegistrationState."""
    return envelope_response({"exists": True})


def status(code: int, headers: dict[str, str] | None = None) -> Response:
    """An error envelope on a real HTTP status."""
    return error_response(code, f"HTTP {code}", status=code, headers=headers)


def html(code: int) -> Response:
    """A proxy's HTML error page."""
    page = f"<html><body><h1>{code} Bad Gateway</h1></body></html>".encode()
    return Response(status=code, headers={"Content-Type": "text/html"}, content=page)


def sequence(*steps: Step) -> Handler:
    """Answer with ``steps`` in order (a TransportError class is raised); repeat the last."""
    remaining = list(steps)

    async def handler(request: Request) -> Response:
        step = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(step, Response):
            return step
        raise step("simulated")

    return handler


def causes(error: BaseException) -> Iterator[BaseException]:
    """The ``__cause__`` chain of ``error``, nearest first."""
    current = error.__cause__
    while current is not None:
        yield current
        current = current.__cause__


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the waits backoff asks for (it awaits ``asyncio.sleep``), without waiting."""
    recorded: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, result: Any = None) -> Any:
        recorded.append(delay)
        await real_sleep(0)
        return result

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    return recorded


# -- effect calls: never resent once the request may have been processed ------------------


@pytest.mark.parametrize(
    ("step", "cause"),
    [
        (TransportTimeout, TransportTimeout),
        (RemoteDisconnected, RemoteDisconnected),
        (status(500), ServerError),
        (html(502), ServerError),
        (status(504), ServerError),
    ],
)
async def test_effect_call_outcome_unknown_is_not_resent(
    step: Step, cause: type[BaseException]
) -> None:
    """An effect call that may have been processed is sent once and raises OutcomeUnknownError."""
    client, transport = make_client(sequence(step, ok()))
    async with client:
        with pytest.raises(OutcomeUnknownError) as info:
            await effect_call(client)
    assert len(transport.requests) == 1
    assert info.value.operation == SEND
    assert SEND in str(info.value)
    assert any(type(link) is cause for link in causes(info.value))


@pytest.mark.parametrize(
    ("steps", "sent"),
    [
        ((ConnectError, ConnectError, ok()), 3),
        ((status(429), ok()), 2),
        ((status(503), ok()), 2),
        ((html(503), ok()), 2),
    ],
)
async def test_effect_call_retried_when_certainly_not_processed(
    steps: tuple[Step, ...], sent: int
) -> None:
    """An effect call is retried after connect errors, 429 and 503, then succeeds."""
    client, transport = make_client(sequence(*steps))
    async with client:
        result = await effect_call(client)
    assert result == RegistrationState()
    assert len(transport.requests) == sent


async def test_effect_call_4003_is_a_retryable_refusal() -> None:
    """Vlens 4003 on HTTP 200 (too many attempts: refused, not processed) is retried like a
    429, and raises RateLimitedError once the attempts are spent."""
    client, transport = make_client(sequence(error_response(4003, "too many"), ok()))
    async with client:
        assert await effect_call(client) == RegistrationState()
    assert len(transport.requests) == 2
    client, transport = make_client(sequence(error_response(4003, "too many")))
    async with client:
        with pytest.raises(RateLimitedError) as info:
            await effect_call(client)
    assert len(transport.requests) == 3
    assert (info.value.code, info.value.http_status, info.value.operation) == (4003, 200, SEND)


# -- read calls: retried on any transient failure -------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [
        (ConnectError, ConnectError, ok()),
        (TransportTimeout, ok()),
        (RemoteDisconnected, ok()),
        (status(500), ok()),
        (html(502), ok()),
        (status(503), ok()),
        (status(504), ok()),
        (status(429), ok()),
    ],
)
async def test_read_call_retried_on_transient_failure(steps: tuple[Step, ...]) -> None:
    """A read call is retried after connection errors, timeouts, 429 and 5xx, then succeeds."""
    client, transport = make_client(sequence(*steps))
    async with client:
        result = await read_call(client)
    assert result == ExistenceResult(exists=True)
    assert len(transport.requests) == len(steps)


@pytest.mark.parametrize(
    ("step", "error_type"),
    [
        (ConnectError, VlensConnectionError),
        (TransportTimeout, VlensTimeoutError),
        (RemoteDisconnected, VlensTransportError),
        (status(500), ServerError),
        (html(502), ServerError),
        (status(503), ServerError),
        (status(504), ServerError),
        (status(429), RateLimitedError),
    ],
)
async def test_read_call_stops_at_max_attempts(step: Step, error_type: type[VlensError]) -> None:
    """A read call failing every time stops at max_attempts and raises the last error's type."""
    client, transport = make_client(sequence(step), retry=RetryPolicy.no_wait(max_attempts=4))
    async with client:
        with pytest.raises(VlensError) as info:
            await read_call(client)
    assert type(info.value) is error_type
    assert info.value.operation == CHECK
    assert len(transport.requests) == 4


async def test_exhausted_retries_keep_the_transport_cause() -> None:
    """The error raised after the last attempt chains the transport error that caused it."""
    client, _ = make_client(sequence(ConnectError))
    async with client:
        with pytest.raises(VlensConnectionError) as info:
            await read_call(client)
    assert type(info.value.__cause__) is ConnectError


@pytest.mark.parametrize("kind", ["read", "effect"])
@pytest.mark.parametrize(
    ("response", "error_type"),
    [
        (status(400), InvalidRequestError),
        (status(401), AuthenticationError),
        (error_response(400, "bad"), InvalidRequestError),
        (error_response(401, "who"), AuthenticationError),
    ],
)
async def test_client_errors_are_never_retried(
    kind: str, response: Response, error_type: type[VlensAPIError]
) -> None:
    """400 and 401 (as status or as code) raise at once for read and effect calls alike."""
    call, operation = CALLS[kind]
    client, transport = make_client(sequence(response, ok()))
    async with client:
        with pytest.raises(VlensAPIError) as info:
            await call(client)
    assert type(info.value) is error_type
    assert info.value.operation == operation
    assert len(transport.requests) == 1


@pytest.mark.parametrize(
    ("step", "error_type"),
    [
        (ConnectError, VlensConnectionError),
        (TransportTimeout, VlensTimeoutError),
        (status(503), ServerError),
        (status(429), RateLimitedError),
    ],
)
async def test_max_attempts_one_disables_retries(step: Step, error_type: type[VlensError]) -> None:
    """RetryPolicy(max_attempts=1) sends a read call once whatever the failure."""
    client, transport = make_client(sequence(step, ok()), retry=RetryPolicy(max_attempts=1))
    async with client:
        with pytest.raises(VlensError) as info:
            await read_call(client)
    assert type(info.value) is error_type
    assert len(transport.requests) == 1


# -- waits: Retry-After and backoff ----------------------------------------------------------


def no_backoff(retry_after_cap: float) -> RetryPolicy:
    """A policy whose only wait is the (capped) Retry-After, with no deadline."""
    return RetryPolicy(
        base_delay=0.0, max_delay=0.0, retry_after_cap=retry_after_cap, deadline=None
    )


@pytest.mark.parametrize("kind", ["read", "effect"])
@pytest.mark.parametrize("code", [429, 503])
async def test_retry_after_is_honoured(kind: str, code: int, sleeps: list[float]) -> None:
    """A Retry-After of 7 seconds on 429/503 makes the retry wait exactly 7 seconds."""
    call, _ = CALLS[kind]
    policy = no_backoff(30)
    client, transport = make_client(
        sequence(status(code, {"Retry-After": "7"}), ok()), retry=policy
    )
    async with client:
        await call(client)
    assert sleeps == [7.0]
    assert len(transport.requests) == 2


async def test_retry_after_is_capped(sleeps: list[float]) -> None:
    """A Retry-After longer than retry_after_cap waits only the cap."""
    policy = no_backoff(2)
    client, transport = make_client(sequence(status(429, {"Retry-After": "7"}), ok()), retry=policy)
    async with client:
        await read_call(client)
    assert sleeps == [2.0]
    assert len(transport.requests) == 2


async def test_retry_after_http_date_is_honoured(sleeps: list[float]) -> None:
    """A Retry-After given as an HTTP date waits until that moment."""
    when = datetime.now(timezone.utc) + timedelta(seconds=100)
    header = email.utils.format_datetime(when, usegmt=True)
    policy = no_backoff(1000)
    client, _ = make_client(sequence(status(429, {"Retry-After": header}), ok()), retry=policy)
    async with client:
        await read_call(client)
    assert len(sleeps) == 1
    assert 90 < sleeps[0] <= 100


async def test_retry_after_beyond_deadline_gives_up_at_once(sleeps: list[float]) -> None:
    """A Retry-After longer than the remaining deadline ends the call without waiting."""
    policy = RetryPolicy(base_delay=0, max_delay=0, retry_after_cap=3600, deadline=5)
    client, transport = make_client(
        sequence(status(429, {"Retry-After": "120"}), ok()), retry=policy
    )
    async with client:
        with pytest.raises(RateLimitedError) as info:
            await read_call(client)
    assert len(transport.requests) == 1
    assert sleeps == []
    assert info.value.retry_after == 120.0


@pytest.mark.parametrize("header", ["soon", "²"])
async def test_unparseable_retry_after_is_ignored(header: str, sleeps: list[float]) -> None:
    """A garbage Retry-After header does not break the call; it is retried with backoff."""
    policy = no_backoff(30)
    client, transport = make_client(
        sequence(status(429, {"Retry-After": header}), ok()), retry=policy
    )
    async with client:
        result = await read_call(client)
    assert result == ExistenceResult(exists=True)
    assert sleeps == [0.0]
    assert len(transport.requests) == 2


def test_parse_retry_after_seconds_and_dates() -> None:
    """parse_retry_after reads delta-seconds and HTTP dates (relative to ``now``)."""
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 12 ") == 12.0
    assert parse_retry_after("0") == 0.0
    moment = datetime(2015, 10, 21, 7, 27, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=moment) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:26:00 GMT", now=moment) == 0.0


@pytest.mark.parametrize("value", [None, "", "garbage", "-5", "1.5", "soon", "²", "7 seconds"])
def test_parse_retry_after_garbage_is_none(value: str | None) -> None:
    """parse_retry_after returns None for a missing or unreadable value, never raises."""
    assert parse_retry_after(value) is None


async def test_backoff_uses_full_jitter_up_to_capped_exponential(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    """Each wait is drawn from [0, min(max_delay, base_delay * 2**(n-1))]."""
    bounds: list[tuple[float, float]] = []

    def highest(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", highest)
    policy = RetryPolicy(max_attempts=6, base_delay=1, max_delay=5, deadline=None)
    client, transport = make_client(sequence(ConnectError), retry=policy)
    async with client:
        with pytest.raises(VlensConnectionError):
            await read_call(client)
    assert bounds == [(0, 1), (0, 2), (0, 4), (0, 5), (0, 5)]
    assert sleeps == [1, 2, 4, 5, 5]
    assert len(transport.requests) == 6


async def test_backoff_waits_stay_within_bounds(sleeps: list[float]) -> None:
    """Real jittered waits over many calls stay inside the full-jitter window."""
    policy = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=1.5, deadline=None)
    client, _ = make_client(sequence(ConnectError), retry=policy)
    async with client:
        for _ in range(25):
            start = len(sleeps)
            with pytest.raises(VlensConnectionError):
                await read_call(client)
            waits = sleeps[start:]
            assert len(waits) == 4
            for wait, bound in zip(waits, [0.5, 1.0, 1.5, 1.5], strict=True):
                assert 0 <= wait <= bound
    assert len(set(sleeps)) > 1


async def test_a_wait_longer_than_the_deadline_ends_the_call_at_once(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    """A backoff step longer than the time left before the deadline is not waited: the call
    ends at once with the last error (it could not be retried in time anyway)."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    policy = RetryPolicy(max_attempts=3, base_delay=100, max_delay=100, deadline=30)
    client, transport = make_client(sequence(ConnectError), retry=policy)
    async with client:
        with pytest.raises(VlensConnectionError):
            await read_call(client)
    assert sleeps == []
    assert len(transport.requests) == 1


# -- deadline and cancellation ---------------------------------------------------------------


async def hang(request: Request) -> Response:
    """A server that never answers."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("kind", "error_type"), [("read", VlensTimeoutError), ("effect", OutcomeUnknownError)]
)
async def test_deadline_ends_a_hanging_call(kind: str, error_type: type[VlensError]) -> None:
    """A call to a server that never answers ends at the deadline instead of hanging."""
    call, operation = CALLS[kind]
    client, transport = make_client(hang, retry=RetryPolicy(deadline=0.3))
    async with client:
        with pytest.raises(error_type) as info:
            await asyncio.wait_for(call(client), 5)
    assert info.value.operation == operation
    assert len(transport.requests) == 1


async def test_cancel_during_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelling a call while it waits to retry raises CancelledError; the client still works."""
    waiting = asyncio.Event()

    async def endless_sleep(delay: float, result: Any = None) -> Any:
        waiting.set()
        await asyncio.Event().wait()

    client, transport = make_client(sequence(ConnectError, ok()))
    async with client:
        monkeypatch.setattr(asyncio, "sleep", endless_sleep)
        task = asyncio.create_task(read_call(client))
        await asyncio.wait_for(waiting.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        monkeypatch.undo()
        assert task.cancelled()
        assert len(transport.requests) == 1
        assert await read_call(client) == ExistenceResult(exists=True)
        assert len(transport.requests) == 2


# -- logging -----------------------------------------------------------------------------------


async def test_one_debug_record_per_attempt_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each attempt logs operation, attempt number and status; never the key, OTP or phone."""
    caplog.set_level(logging.DEBUG, logger="vlens_async")
    data = {"phoneNumberOtp": OTP, "isPhoneNumberConfirmed": True}
    handler = sequence(ConnectError, status(503), envelope_response(data))
    client, _ = make_client(handler)
    async with client:
        result = await client.registration.validate_phone_otp(PHONE, uuid.uuid4(), OTP)
    assert result.is_phone_number_confirmed is True
    records = [record for record in caplog.records if record.name == "vlens_async"]
    assert len(records) == 3
    messages = [record.getMessage() for record in records]
    masked = mask_phone(PHONE)
    assert masked is not None
    for number, message in enumerate(messages, start=1):
        assert "registration.validate_phone_otp" in message
        assert f"attempt={number}" in message
        assert masked in message
    assert "status=VlensConnectionError" in messages[0]
    assert "status=503" in messages[1]
    assert "status=200" in messages[2]
    for record in caplog.records:
        text = record.getMessage()
        for secret in (API_KEY, OTP, PHONE, PHONE[1:]):
            assert secret not in text


# -- settings are checked when given (issue 13 item 7) -----------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_attempts", 0, ValueError),
        ("max_attempts", -5, ValueError),
        ("max_attempts", 2.5, TypeError),
        ("max_attempts", 2.0, TypeError),
        ("max_attempts", float("nan"), TypeError),
        ("max_attempts", float("inf"), TypeError),
        ("max_attempts", True, TypeError),
        ("max_attempts", "3", TypeError),
        ("base_delay", -0.1, ValueError),
        ("base_delay", float("nan"), ValueError),
        ("base_delay", float("inf"), ValueError),
        ("base_delay", None, TypeError),
        ("base_delay", False, TypeError),
        ("max_delay", float("-inf"), ValueError),
        ("max_delay", "1", TypeError),
        ("retry_after_cap", float("nan"), ValueError),
        ("retry_after_cap", -1, ValueError),
        ("deadline", 0, ValueError),
        ("deadline", -1, ValueError),
        ("deadline", float("nan"), ValueError),
        ("deadline", float("inf"), ValueError),
        ("deadline", True, TypeError),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    field: str, value: Any, error: type[Exception]
) -> None:
    """Non-finite, NaN, negative, bool and non-integer counts raise when given, naming the field
    and the value."""
    with pytest.raises(
        error, match=rf"^RetryPolicy\.{field} must be .*, got {re.escape(repr(value))}$"
    ):
        RetryPolicy(**{field: value})


def test_the_message_says_what_is_wanted() -> None:
    """The error reads as the rule it enforces."""
    with pytest.raises(TypeError) as caught:
        RetryPolicy(max_attempts=2.5)  # type: ignore[arg-type]
    assert str(caught.value) == "RetryPolicy.max_attempts must be an integer >= 1, got 2.5"


def test_none_deadline_means_no_bound_and_zero_waits_are_allowed() -> None:
    """deadline=None is "no bound"; zero delays and cap are valid (no_wait uses them)."""
    policy = RetryPolicy(deadline=None, base_delay=0, max_delay=0, retry_after_cap=0)
    assert policy.deadline is None
    assert RetryPolicy.no_wait().max_attempts == 3


async def test_waits_after_retry_after_are_spread(sleeps: list[float]) -> None:
    """After a Retry-After of 7 s the wait is 7 s plus a jittered backoff step, so callers
    refused together do not all come back at the same instant."""
    policy = RetryPolicy(base_delay=1, max_delay=2, retry_after_cap=30, deadline=None)
    for _ in range(20):
        client, _ = make_client(sequence(status(429, {"Retry-After": "7"}), ok()), retry=policy)
        async with client:
            await read_call(client)
    assert len(sleeps) == 20
    assert all(7 <= wait <= 8 for wait in sleeps)
    assert len(set(sleeps)) > 1
