"""client.bulk against the sandbox: outcomes, faults, retries, fallbacks, rate limits, helpers."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from vlens_async import (
    AuthenticationError,
    OutcomeUnknownError,
    QuotaError,
    SmsProvider,
    VlensClient,
    VlensConnectionError,
    VlensInputError,
)
from vlens_async.bulk import BulkOutcome, BulkStatus, RateLimit
from vlens_async.sandbox import FaultKind, SandboxClock, create_app
from vlens_async.testing import error_response
from vlens_transports import ConnectError, RemoteDisconnected, Request, Response

from .conftest import (
    API_KEY,
    FakeTime,
    RecordingLimiter,
    RecordingSandbox,
    assert_windows,
    fake_client,
    number,
    phone_of,
    provider_of,
)

Serve = Callable[[web.Application], Awaitable[str]]


async def collect(outcomes: AsyncIterator[BulkOutcome]) -> list[BulkOutcome]:
    """Every outcome of a run, in completion order."""
    return [outcome async for outcome in outcomes]


@pytest.fixture
async def clients() -> AsyncIterator[list[VlensClient]]:
    """Clients a test made; every one is closed afterwards."""
    made: list[VlensClient] = []
    yield made
    for client in made:
        await client.aclose()


def sms_to(sandbox: RecordingSandbox) -> Counter[str]:
    """How many SMS the sandbox sent to each number."""
    return Counter(m.recipient for m in sandbox.outbox if m.channel == "sms")


async def test_outcome_fields_for_every_status(clients: list[VlensClient]) -> None:
    """Each status carries the input as given, the normalised number, attempts and a typed error."""
    sandbox = RecordingSandbox(seed=1)
    sandbox.faults.drop_after_processing("registration.send_phone_otp", times=1)

    async def handler(request: Request) -> Response:
        if phone_of(request) == number(3):
            return error_response(4004, "The SMS bundle is used up.")
        return await sandbox.handle(request)

    clients.append(client := fake_client(handler))
    inputs = [
        " +20 100-000-0001",
        "+20 (100) 000 0002",
        "not a number",
        "00201000000002",
        number(3),
    ]
    outcomes = await collect(
        client.bulk.send_phone_otps(
            inputs, concurrency=1, rate_limits=None, sms_provider="vodafone"
        )
    )
    by_input = {o.input: o for o in outcomes}
    assert [o.input for o in outcomes] == inputs  # concurrency 1 keeps the order

    unknown = by_input[" +20 100-000-0001"]
    assert (unknown.status, unknown.phone_number, unknown.attempts) == (
        BulkStatus.UNKNOWN,
        number(1),
        1,
    )
    assert isinstance(unknown.error, OutcomeUnknownError)
    assert unknown.request_id is None
    assert not unknown.ok

    sent = by_input["+20 (100) 000 0002"]
    assert (sent.status, sent.phone_number, sent.attempts) == (BulkStatus.SENT, number(2), 1)
    assert sent.error is None
    assert sent.ok
    assert sent.provider is SmsProvider.VODAFONE
    message = sandbox.outbox.last(number(2))
    assert sent.request_id == message.request_id
    assert isinstance(sent.request_id, uuid.UUID)
    assert message.provider == SmsProvider.VODAFONE

    invalid = by_input["not a number"]
    assert (invalid.status, invalid.phone_number, invalid.attempts) == (
        BulkStatus.INVALID,
        None,
        0,
    )
    assert isinstance(invalid.error, VlensInputError)

    duplicate = by_input["00201000000002"]
    assert (duplicate.status, duplicate.phone_number, duplicate.attempts) == (
        BulkStatus.DUPLICATE,
        number(2),
        0,
    )
    assert duplicate.error is None
    assert duplicate.request_id is None

    failed = by_input[number(3)]
    assert (failed.status, failed.attempts) == (BulkStatus.FAILED, 1)
    assert isinstance(failed.error, QuotaError)
    assert failed.error.code == 4004
    assert sms_to(sandbox) == {number(1): 1, number(2): 1}
    assert number(2) not in repr(sent)
    assert message.code not in repr(outcomes)


@pytest.mark.parametrize("mode", ["memory", "http"])
async def test_sandbox_with_faults_one_outcome_each_and_at_most_one_sms(
    mode: str, serve: Serve, clients: list[VlensClient]
) -> None:
    """Faults: one outcome per input, at most one SMS a number; unknown == the dropped sends."""
    sandbox = RecordingSandbox(seed=1)
    send = "registration.send_phone_otp"
    sandbox.faults.drop_after_processing(send, times=None, probability=0.1, seed=7)
    sandbox.faults.refuse(send, times=None, probability=0.1, seed=8)
    sandbox.faults.rate_limit(1.0, send, times=None, probability=0.05, seed=9)
    if mode == "memory":
        client = sandbox.client()
    else:
        client = VlensClient(API_KEY, base_url=await serve(create_app(sandbox)))
    clients.append(client)
    valid = [number(i) for i in range(250)]
    inputs = [*valid, *("00" + n[1:] for n in valid[::10]), *(f"bad-{i}" for i in range(25))]
    limiter = RecordingLimiter(["50/s"], FakeTime())

    outcomes = await collect(
        client.bulk.send_phone_otps(inputs, concurrency=16, rate_limits=limiter, max_attempts=8)
    )

    assert sorted(o.input for o in outcomes) == sorted(inputs)
    statuses = Counter(o.status for o in outcomes)
    assert statuses[BulkStatus.INVALID] == 25
    assert statuses[BulkStatus.DUPLICATE] == 25
    assert statuses[BulkStatus.FAILED] == 0
    sent = {o.phone_number for o in outcomes if o.status is BulkStatus.SENT}
    unknown = {o.phone_number for o in outcomes if o.status is BulkStatus.UNKNOWN}
    assert sandbox.dropped, "the schedule should have dropped some requests"
    assert unknown == set(sandbox.dropped)
    assert len(sandbox.dropped) == len(unknown)
    assert sent | unknown == set(valid)
    assert not sent & unknown
    outbox = sms_to(sandbox)
    assert max(outbox.values()) == 1
    assert set(outbox) == set(valid)  # sent and dropped numbers were both really texted
    requests = Counter(phone for phone, _ in sandbox.sends)
    assert sum(o.attempts for o in outcomes) == len(sandbox.sends) == limiter.granted
    assert all(o.attempts == requests[o.phone_number or ""] for o in outcomes if o.attempts)
    assert any(o.attempts > 1 for o in outcomes)  # refusals and 429s were retried
    drop = FaultKind.DROP_AFTER_PROCESSING
    for phone in unknown:  # nothing was tried after the drop
        assert phone is not None
        assert sandbox.faults_by_phone[phone][-1] is drop
    assert limiter.pauses
    assert all(at >= end for index, end in limiter.pauses for at in limiter.grants[index:])
    assert_windows(limiter.grants, limiter.limits)


async def test_rate_limits_hold_on_the_sandbox_clock(clients: list[VlensClient]) -> None:
    """With the dispatcher's clock being the sandbox's, the sandbox's own limits never trip."""
    windows = [(5, 1.0), (20, 10.0)]
    sandbox = RecordingSandbox(seed=1, rate_limits=windows, clock=SandboxClock(start=0.0))
    limiter = RecordingLimiter(["5/s", "20/10s"], FakeTime(sandbox.clock))
    clients.append(client := sandbox.client())

    outcomes = await collect(
        client.bulk.send_phone_otps(
            [number(i) for i in range(70)], concurrency=16, rate_limits=limiter
        )
    )

    assert {o.status for o in outcomes} == {BulkStatus.SENT}
    assert all(o.attempts == 1 for o in outcomes)  # not one 429 from the sandbox
    times = [at for _, at in sandbox.sends]
    assert_windows(times, [RateLimit(5, 1.0), RateLimit(20, 10.0)])
    assert times[-1] >= 30.0  # 70 sends at 20 per 10 s cannot finish sooner


@pytest.mark.parametrize("refusal", ["http-429", "vlens-4003"])
async def test_rate_limited_answer_slows_the_whole_dispatcher(
    refusal: str, clients: list[VlensClient]
) -> None:
    """A 429 or 4003 with Retry-After: 3 pauses every permit for 3 s; the number is then sent."""
    sandbox = RecordingSandbox(seed=1)
    time = FakeTime()
    limiter = RecordingLimiter(["4/s", "10/5s"], time)
    calls = 0
    limited: list[str] = []

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 6:
            limited.append(phone_of(request))
            if refusal == "http-429":
                return error_response(429, "Too many", status=429, headers={"Retry-After": "3"})
            return error_response(4003, "Too many", headers={"Retry-After": "3"})
        return await sandbox.handle(request)

    clients.append(client := fake_client(handler))
    outcomes = await collect(
        client.bulk.send_phone_otps(
            [number(i) for i in range(30)], concurrency=8, rate_limits=limiter
        )
    )

    assert {o.status for o in outcomes} == {BulkStatus.SENT}
    assert {o.phone_number: o.attempts for o in outcomes if o.attempts > 1} == {limited[0]: 2}
    assert len(limiter.pauses) == 1
    index, pause_end = limiter.pauses[0]
    assert len(limiter.grants) > index + 8  # the rest of the run came after the pause
    assert all(at >= pause_end for at in limiter.grants[index:])
    assert 3.0 in time.slept or any(s >= 3.0 for s in time.slept)
    assert_windows(limiter.grants, limiter.limits)
    assert max(sms_to(sandbox).values()) == 1
    assert len(sandbox.outbox) == 30


async def test_one_send_per_normalised_number(clients: list[VlensClient]) -> None:
    """Spellings of one number send one SMS; the others are reported as duplicates."""
    sandbox = RecordingSandbox(seed=1)
    clients.append(client := sandbox.client())
    spellings = ["+201000000001", "00201000000001", "+20 100 000 0001", "+20-100-000-0001"]
    outcomes = await collect(
        client.bulk.send_phone_otps(spellings * 3, concurrency=8, rate_limits=None)
    )
    assert len(outcomes) == 12
    assert Counter(o.status for o in outcomes) == {BulkStatus.SENT: 1, BulkStatus.DUPLICATE: 11}
    assert {o.phone_number for o in outcomes} == {number(1)}
    assert len(sandbox.sends) == 1
    assert sms_to(sandbox) == {number(1): 1}


async def test_unknown_outcome_is_never_retried(clients: list[VlensClient]) -> None:
    """A send processed and then dropped is reported unknown after one request, not resent."""
    sandbox = RecordingSandbox(seed=1)
    sandbox.faults.drop_after_processing("registration.send_phone_otp", times=1)
    clients.append(client := sandbox.client())
    outcomes = await collect(
        client.bulk.send_phone_otps([number(1)], rate_limits=None, max_attempts=5)
    )
    assert [(o.status, o.attempts) for o in outcomes] == [(BulkStatus.UNKNOWN, 1)]
    assert len(sandbox.sends) == 1
    assert sms_to(sandbox) == {number(1): 1}


async def test_refusals_are_retried_up_to_max_attempts(clients: list[VlensClient]) -> None:
    """A connection that is never made is retried, then reported failed with its typed error."""
    seen: list[str] = []

    async def handler(request: Request) -> Response:
        seen.append(phone_of(request))
        raise ConnectError("refused")

    clients.append(client := fake_client(handler))
    outcomes = await collect(
        client.bulk.send_phone_otps([number(1)], rate_limits=None, max_attempts=3)
    )
    assert [(o.status, o.attempts) for o in outcomes] == [(BulkStatus.FAILED, 3)]
    assert isinstance(outcomes[0].error, VlensConnectionError)
    assert seen == [number(1)] * 3


async def test_fallback_provider_used_when_the_refusal_proves_nothing_was_sent(
    clients: list[VlensClient],
) -> None:
    """Provider 2 refuses with a 4004 quota envelope: the number is sent through provider 3."""
    sandbox = RecordingSandbox(seed=1)
    asked: list[int | None] = []

    async def handler(request: Request) -> Response:
        asked.append(provider_of(request))
        if provider_of(request) == SmsProvider.VODAFONE:
            return error_response(4004, "The Vodafone bundle is used up.")
        return await sandbox.handle(request)

    clients.append(client := fake_client(handler))
    outcomes = await collect(
        client.bulk.send_phone_otps(
            [number(1)],
            rate_limits=None,
            sms_provider=SmsProvider.VODAFONE,
            fallback_providers=[SmsProvider.CEQUENS, SmsProvider.ORANGE],
        )
    )
    (outcome,) = outcomes
    assert (outcome.status, outcome.provider, outcome.attempts) == (
        BulkStatus.SENT,
        SmsProvider.CEQUENS,
        2,
    )
    assert asked == [2, 3]
    assert sandbox.outbox.last(number(1)).provider == 3
    assert outcome.request_id == sandbox.outbox.last(number(1)).request_id


def _dropped(request: Request) -> Response:
    raise RemoteDisconnected("dropped after processing")


def _unauthorised(request: Request) -> Response:
    return error_response(401, "Unauthorized", status=401)


@pytest.mark.parametrize(
    ("fail", "status", "error_type"),
    [
        (_dropped, BulkStatus.UNKNOWN, OutcomeUnknownError),
        (_unauthorised, BulkStatus.FAILED, AuthenticationError),
    ],
)
async def test_no_fallback_when_the_failure_does_not_prove_the_provider_refused(
    fail: Callable[[Request], Response],
    status: BulkStatus,
    error_type: type[Exception],
    clients: list[VlensClient],
) -> None:
    """An unknown outcome (maybe sent) or a bad key on provider 2 never moves on to provider 3."""
    sandbox = RecordingSandbox(seed=1)
    asked: list[int | None] = []

    async def handler(request: Request) -> Response:
        asked.append(provider_of(request))
        if provider_of(request) == SmsProvider.VODAFONE:
            return fail(request)
        return await sandbox.handle(request)

    clients.append(client := fake_client(handler))
    outcomes = await collect(
        client.bulk.send_phone_otps(
            [number(1)], rate_limits=None, sms_provider=2, fallback_providers=[3]
        )
    )
    (outcome,) = outcomes
    assert (outcome.status, outcome.provider, outcome.attempts) == (status, SmsProvider.VODAFONE, 1)
    assert isinstance(outcome.error, error_type)
    assert asked == [2]
    assert len(sandbox.outbox) == 0


async def test_rate_limit_on_a_provider_retries_the_same_provider(
    clients: list[VlensClient],
) -> None:
    """A 429 is about the tenant, not the provider: the send is retried on provider 2."""
    sandbox = RecordingSandbox(seed=1)
    sandbox.faults.rate_limit(1.0, "registration.send_phone_otp", times=1)
    clients.append(client := sandbox.client())
    limiter = RecordingLimiter([], FakeTime())
    outcomes = await collect(
        client.bulk.send_phone_otps(
            [number(1)], rate_limits=limiter, sms_provider=2, fallback_providers=[3]
        )
    )
    assert [(o.status, o.provider, o.attempts) for o in outcomes] == [
        (BulkStatus.SENT, SmsProvider.VODAFONE, 2)
    ]
    assert sandbox.outbox.last(number(1)).provider == 2
    assert limiter.pauses == [(1, 1.0)]


async def test_check_existence_retries_transient_failures(clients: list[VlensClient]) -> None:
    """A read: 502s and dropped connections are retried; phones and e-mails are both checked."""
    sandbox = RecordingSandbox(seed=1)
    sandbox.add_user(number(1), "secret-password", email="Known@Example.com")
    sandbox.faults.status(502, "registration.check_existence", times=2)
    sandbox.faults.drop_after_processing("registration.check_existence", times=1)
    clients.append(client := sandbox.client())
    inputs = [number(1), "known@example.com", number(2), "x", "0020 100 000 0001", "nobody@"]
    outcomes = await collect(
        client.bulk.check_existence(inputs, concurrency=1, rate_limits=None, max_attempts=5)
    )
    assert [o.input for o in outcomes] == inputs
    first, email, stranger, bad, again, bad_email = outcomes
    assert (first.status, first.attempts, first.phone_number) == (BulkStatus.OK, 4, number(1))
    assert first.result.exists
    assert first.result.phone_number_exists
    assert (email.status, email.attempts, email.phone_number) == (
        BulkStatus.OK,
        1,
        "known@example.com",
    )
    assert email.result.email_exists
    assert stranger.status is BulkStatus.OK
    assert not stranger.result.exists
    assert (bad.status, bad_email.status) == (BulkStatus.INVALID, BulkStatus.INVALID)
    assert isinstance(bad.error, VlensInputError)
    assert isinstance(bad_email.error, VlensInputError)
    assert (again.status, again.phone_number) == (BulkStatus.DUPLICATE, number(1))


async def test_check_existence_gives_up_after_max_attempts(clients: list[VlensClient]) -> None:
    """A read that keeps failing is reported failed after max_attempts requests."""
    sandbox = RecordingSandbox(seed=1)
    sandbox.faults.status(502, "registration.check_existence", times=None)
    clients.append(client := sandbox.client())
    outcomes = await collect(
        client.bulk.check_existence([number(1)], rate_limits=None, max_attempts=3)
    )
    assert [(o.status, o.attempts) for o in outcomes] == [(BulkStatus.FAILED, 3)]
    assert sandbox.requests_seen == 3


def _email_key(value: str) -> str:
    if "@" not in value:
        raise VlensInputError("email", "expected an e-mail address")
    return value.lower()


async def test_run_calls_each_item_with_refusals_retried_and_unknowns_kept(
    clients: list[VlensClient],
) -> None:
    """run(): refusals are retried, drops are unknown; the key drops repeats and bad items."""
    sandbox = RecordingSandbox(seed=1)
    for i in range(3):
        sandbox.add_user(number(i), "secret-password", email=f"user{i}@example.com")
    sandbox.faults.refuse("password_reset.send_reset_code", times=1)
    sandbox.faults.drop_after_processing("password_reset.send_reset_code", times=1)
    clients.append(client := sandbox.client())

    async def reset(vlens: VlensClient, email: str) -> bool:
        return await vlens.password_reset.send_reset_code(email)

    items = [
        "user0@example.com",
        "user1@example.com",
        "USER0@example.com",
        "nope",
        "user2@example.com",
    ]
    outcomes = await collect(
        client.bulk.run(items, reset, key=_email_key, concurrency=1, rate_limits=None)
    )
    assert [(o.input, o.status, o.attempts) for o in outcomes] == [
        ("user0@example.com", BulkStatus.UNKNOWN, 2),
        ("user1@example.com", BulkStatus.OK, 1),
        ("USER0@example.com", BulkStatus.DUPLICATE, 0),
        ("nope", BulkStatus.INVALID, 0),
        ("user2@example.com", BulkStatus.OK, 1),
    ]
    assert outcomes[1].result is True
    assert outcomes[1].phone_number == "user1@example.com"
    assert isinstance(outcomes[0].error, OutcomeUnknownError)
    assert len([m for m in sandbox.outbox if m.purpose == "reset_link"]) == 3


async def test_run_without_key_runs_every_item(clients: list[VlensClient]) -> None:
    """run() with no key runs repeats too, and reports no normalised key."""
    sandbox = RecordingSandbox(seed=1)
    clients.append(client := sandbox.client())

    async def exists(vlens: VlensClient, phone: str) -> object:
        return await vlens.registration.check_existence(phone_number=phone)

    outcomes = await collect(client.bulk.run([number(1)] * 3, exists, rate_limits=None))
    assert [(o.status, o.phone_number, o.attempts) for o in outcomes] == [
        (BulkStatus.OK, None, 1)
    ] * 3
    assert sandbox.requests_seen == 3
