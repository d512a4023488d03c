"""RateLimit parsing and the RateLimiter's windows and slow-downs, on a fake time source."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from vlens_async import RateLimit, RateLimitedError, RateLimiter, RetryPolicy, VlensClient
from vlens_async._ratelimit import DEFAULT_RATE_LIMITS
from vlens_async.sandbox import Sandbox
from vlens_transports import FakeTransport, Request, Response

from .bulk.conftest import API_KEY, FakeTime, RecordingLimiter, assert_windows, number
from .virtual_time import VirtualTime

ONE_TRY = RetryPolicy(max_attempts=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10/s", RateLimit(10, 1.0)),
        ("60/min", RateLimit(60, 60.0)),
        ("1000/h", RateLimit(1000, 3600.0)),
        ("5/2s", RateLimit(5, 2.0)),
        ("3 / 10 sec", RateLimit(3, 10.0)),
        ("7/MINUTE", RateLimit(7, 60.0)),
        ("2/hours", RateLimit(2, 3600.0)),
    ],
)
def test_parse_accepts_the_documented_forms(text: str, expected: RateLimit) -> None:
    """Counts per second, minute and hour, with an optional multiple of the unit, parse."""
    assert RateLimit.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["", "10", "/s", "ten/s", "10/x", "10/ms", "10/ss", "0/s", "10/0s", "-1/s", "10/s/s"]
)
def test_parse_rejects_bad_rates_with_value_error(text: str) -> None:
    """Anything that is not a positive count per known unit is a ValueError, never another error."""
    with pytest.raises(ValueError, match=r"rate"):
        RateLimit.parse(text)


@pytest.mark.parametrize(
    "text", ["10/.s", "10/./min", "99999999999999999999999/s", "10/" + "9" * 400 + "s"]
)
def test_parse_rejects_odd_numbers_with_a_message_about_the_rate(text: str) -> None:
    """A lone dot, a count past the maximum or an infinite window is a ValueError naming the
    rate or the field, never "could not convert string to float" or an OverflowError."""
    with pytest.raises(ValueError, match=r"rate|count|seconds") as caught:
        RateLimit.parse(text)
    assert "convert" not in str(caught.value)


@pytest.mark.parametrize(
    ("count", "seconds", "error", "field"),
    [
        (2.5, 1, TypeError, "count"),
        (True, 1, TypeError, "count"),
        ("5", 1, TypeError, "count"),
        (0, 1, ValueError, "count"),
        (10**12, 1, ValueError, "count"),
        (5, math.inf, ValueError, "seconds"),
        (5, math.nan, ValueError, "seconds"),
        (5, 0, ValueError, "seconds"),
        (5, "1", TypeError, "seconds"),
        (5, False, TypeError, "seconds"),
    ],
)
def test_rate_limit_checks_each_field(
    count: object, seconds: object, error: type[Exception], field: str
) -> None:
    """count is an int from 1 to a sane maximum (not a bool); seconds is a finite number > 0."""
    with pytest.raises(error, match=field):
        RateLimit(count, seconds)  # type: ignore[arg-type]


def test_rate_limiter_refuses_a_huge_count_with_value_error() -> None:
    """A count too large for a window's memory is refused up front, not an OverflowError."""
    with pytest.raises(ValueError, match="count"):
        RateLimiter(["99999999999999999999999/s"])


def test_rate_limit_accepts_an_int_count_and_an_int_or_float_window() -> None:
    """The ordinary forms stay valid; an int window is kept as given."""
    assert RateLimit(5, 2) == RateLimit(5, 2.0)
    assert str(RateLimit(1_000_000, 0.5)) == "1000000/0.5s"


def test_default_limits_are_vlens_published_ones() -> None:
    """The default limiter holds 10 a second and 60 a minute."""
    assert set(DEFAULT_RATE_LIMITS) == {RateLimit(10, 1.0), RateLimit(60, 60.0)}
    assert RateLimiter().limits == DEFAULT_RATE_LIMITS


def _earliest_grants(limits: list[RateLimit], count: int) -> list[float]:
    """Reference: each permit at the first moment every window allows it."""
    times: list[float] = []
    for i in range(count):
        at = times[-1] if times else 0.0
        for limit in limits:
            if i >= limit.count:
                at = max(at, times[i - limit.count] + limit.seconds)
        times.append(at)
    return times


async def test_several_windows_hold_at_once_and_permits_come_as_early_as_allowed() -> None:
    """With 3/s and 5/10s together, every window holds and no permit waits longer than needed."""
    limits = [RateLimit.parse("3/s"), RateLimit.parse("5/10s")]
    limiter = RecordingLimiter(limits, FakeTime())
    for _ in range(23):
        await limiter.acquire()
    assert_windows(limiter.grants, limits)
    assert limiter.grants == _earliest_grants(limits, 23)
    assert limiter.granted == 23


async def test_concurrent_callers_share_the_windows() -> None:
    """Forty tasks asking at once still get permits that respect every window."""
    limits = [RateLimit(4, 1.0), RateLimit(10, 5.0)]
    limiter = RecordingLimiter(limits, FakeTime())
    await asyncio.wait_for(asyncio.gather(*(limiter.acquire() for _ in range(40))), 10)
    assert_windows(limiter.grants, limits)
    assert limiter.grants == _earliest_grants(limits, 40)


async def test_slow_down_pauses_every_caller_for_retry_after() -> None:
    """After slow_down(4), no permit is granted until four (fake) seconds have passed."""
    time = FakeTime()
    limiter = RecordingLimiter([RateLimit(100, 1.0)], time)
    await limiter.acquire()
    assert limiter.slow_down(4.0) == 4.0
    await asyncio.gather(limiter.acquire(), limiter.acquire())
    assert limiter.grants == [0.0, 4.0, 4.0]


async def test_slow_down_without_retry_after_backs_off_and_resets_on_success() -> None:
    """Header-less slow-downs one after another (each after the last pause) double (1, 2,
    4 s), are capped, and start over after a success."""
    time = FakeTime()
    limiter = RateLimiter([], clock=time.now, sleep=time.sleep, max_pause=60.0)
    pauses: list[float] = []
    for _ in range(8):
        pauses.append(limiter.slow_down(None))
        time.clock.advance(pauses[-1])
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    limiter.succeeded()
    assert limiter.slow_down(None) == 1.0


async def test_refusals_of_calls_sent_before_a_pause_do_not_grow_it() -> None:
    """Ten calls in flight refused at once without Retry-After (Vlens documents none) are one
    overload, not ten: each doubled the pause (1, 2, 4... 512 s, capped at 30 s), so the run
    stopped for half a minute. They now pause every caller 1 s; a refusal after that pause
    backs off 2 s."""
    time = FakeTime()
    limiter = RecordingLimiter(["10/s"], time)
    for _ in range(10):
        await limiter.acquire()
    assert [limiter.slow_down(None) for _ in range(10)] == [1.0] * 10
    await limiter.acquire()
    assert limiter.grants[-1] == 1.0
    assert limiter.slow_down(None) == 2.0


def test_slow_down_caps_retry_after_at_max_pause() -> None:
    """A huge Retry-After is cut to max_pause; a negative one means no pause."""
    time = FakeTime()
    limiter = RateLimiter([], clock=time.now, sleep=time.sleep, max_pause=60.0)
    assert limiter.slow_down(3600.0) == 60.0
    assert limiter.slow_down(-5.0) == 0.0


async def test_unlimited_limiter_never_sleeps() -> None:
    """No limits: permits are granted at once, without sleeping."""
    time = FakeTime()
    limiter = RateLimiter([], clock=time.now, sleep=time.sleep)
    for _ in range(1000):
        await limiter.acquire()
    assert time.slept == []
    assert limiter.granted == 1000
    assert "unlimited" in repr(limiter)


# --- against the sandbox, with latency between permit and arrival ----------------------------


async def _run_over_sandbox(rate: int, calls: int, concurrency: int) -> tuple[float, int]:
    """``calls`` OTP sends through ``async with limiter`` to a sandbox limited to ``rate``/s,
    each request taking 0.5-5 ms (random) to arrive and as long to come back, on a virtual
    clock. Returns (virtual seconds from first to last arrival, answers of 429)."""
    vt = VirtualTime()
    sandbox = Sandbox(rate_limits=[(rate, 1.0)], clock=vt.clock, resend_cooldown=0)
    jitter = random.Random(rate)
    arrivals: list[float] = []
    refused = 0

    async def handler(request: Request) -> Response:
        nonlocal refused
        await vt.sleep(jitter.uniform(0.0005, 0.005))
        arrivals.append(vt.now())
        response = await sandbox.handle(request)
        refused += response.status == 429
        await vt.sleep(jitter.uniform(0.0005, 0.005))
        return response

    limiter = RateLimiter([RateLimit(rate, 1.0)], clock=vt.now, sleep=vt.sleep)
    numbers = iter(range(calls))
    client = VlensClient(API_KEY, transport=FakeTransport(handler, record=False), retry=ONE_TRY)

    async def worker() -> None:
        for index in numbers:
            async with limiter:
                try:
                    await client.registration.send_phone_otp(number(index))
                except RateLimitedError as error:
                    limiter.slow_down(error.retry_after)

    async with client:
        await vt.run(asyncio.gather(*(worker() for _ in range(concurrency))))
    return arrivals[-1] - arrivals[0], refused


@pytest.mark.parametrize("rate", [10, 50, 200])
async def test_async_with_permits_reach_the_rate_without_a_single_429(rate: int) -> None:
    """With jittery latency, no call is refused and the run takes about its ideal time.

    The sandbox counts a call when it arrives; the limiter counts it until its answer is back,
    so the server's window can never hold more than the client's. Ideal: after the first
    ``rate`` calls, ``rate`` more per second; reaching 0.97 of that leaves room for the
    latency by which each slot is reused late.
    """
    calls = rate * 6
    span, refused = await _run_over_sandbox(rate, calls, concurrency=rate)
    assert refused == 0
    ideal = (calls - rate) / rate
    assert ideal / span >= 0.97, (span, ideal)


async def test_a_call_counts_until_its_async_with_block_ends() -> None:
    """A permit taken with ``async with`` holds its slot until the block ends, not from the
    grant: a five-second call at 1/s lets the next permit come one second after it ended."""
    time = FakeTime()
    limiter = RateLimiter([RateLimit(1, 1.0)], clock=time.now, sleep=time.sleep)
    async with limiter:
        time.clock.advance(5.0)
    await limiter.acquire()
    assert time.now() == 6.0
    assert limiter.granted == 2


async def test_a_caller_cancelled_while_waiting_takes_no_permit() -> None:
    """At 1/s, a caller cancelled while it waits takes nothing: the next one gets the permit
    due one second in, and nothing is left running."""
    time = FakeTime()
    limiter = RateLimiter([RateLimit(1, 1.0)], clock=time.now, sleep=time.sleep)
    await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await limiter.acquire()
    assert (limiter.granted, time.now()) == (2, 1.0)
    await asyncio.sleep(0)  # the limiter's helper task ends on its next turn
    assert {task for task in asyncio.all_tasks() if not task.done()} == {asyncio.current_task()}


async def test_a_wave_of_waiters_is_woken_at_once_in_the_order_they_asked() -> None:
    """Thirty callers at 10 per second: permits in the order asked, ten at each second."""
    time = FakeTime()
    limiter = RateLimiter([RateLimit(10, 1.0)], clock=time.now, sleep=time.sleep)
    order: list[tuple[int, float]] = []

    async def call(index: int) -> None:
        async with limiter:
            order.append((index, time.now()))

    await asyncio.gather(*(call(index) for index in range(30)))
    assert [index for index, _ in order] == list(range(30))
    assert [at for _, at in order] == [float(i // 10) for i in range(30)]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("30", TypeError),
        (None, TypeError),
        (True, TypeError),
        (-1.0, ValueError),
        (math.nan, ValueError),
        (math.inf, ValueError),
    ],
)
def test_a_bad_max_pause_is_refused_when_the_limiter_is_made(
    value: object, error: type[Exception]
) -> None:
    """A max_pause that is not a finite number >= 0 was taken, then failed (a TypeError out
    of the call that got the 429) or paused every caller forever (inf and a huge Retry-After).
    It is refused up front, naming the field."""
    with pytest.raises(error, match=r"^max_pause: "):
        RateLimiter(max_pause=value)  # type: ignore[arg-type]


def test_a_nan_retry_after_backs_off_as_if_none_was_given() -> None:
    """slow_down(nan) applied no pause and said it had paused for nan seconds; it now backs off
    as for a 429 without Retry-After."""
    time = FakeTime()
    limiter = RateLimiter([], clock=time.now, sleep=time.sleep)
    assert limiter.slow_down(math.nan) == 1.0
    time.clock.advance(1.0)
    assert limiter.slow_down(math.nan) == 2.0
