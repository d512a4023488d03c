"""RedisRateLimiter against a real redis-server: one budget for many processes, and failures."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import pytest
import redis.asyncio

from vlens_async import RateLimit, RateLimiter, RateLimiterUnavailableError
from vlens_async._ratelimit import Limiter
from vlens_async.redis import RedisRateLimiter, budget_key
from vlens_transports import FakeTransport, Request, Response

from ..bulk.conftest import assert_windows
from .processes import Processes
from .server import RedisServer

HANG_GUARD = 60.0


def _run_workers(
    processes: Processes, url: str, key: str, limit: RateLimit, count: int, calls: int
) -> list[float]:
    """Start ``count`` worker processes sharing ``key``; the sorted starts of every permit
    they held."""
    command = [sys.executable, "-m", "tests.redis.limiter_worker", url, key]
    command += [str(limit.count), str(limit.seconds), str(calls)]
    workers = [processes.start(command, stdout=subprocess.PIPE) for _ in range(count)]
    starts: list[float] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=HANG_GUARD)
        assert worker.returncode == 0
        starts += [start for start, _ in json.loads(out)]
    return sorted(starts)


def test_processes_sharing_a_budget_stay_within_it_together(
    processes: Processes, redis_url: str, name: str
) -> None:
    """Three processes asking at once for 12 permits each never exceed 6 per half second in all.

    Each permit counts until its block ends, so a later permit starts at least a window after
    the end (hence the start) of the permit it replaces, whichever process held either.
    """
    limit = RateLimit(6, 0.5)
    starts = _run_workers(processes, redis_url, name, limit, count=3, calls=12)
    assert len(starts) == 36
    assert_windows([round(start, 4) for start in starts], [RateLimit(6, 0.5 - 1e-4)])


async def test_a_slow_down_in_one_process_pauses_the_others(redis_url: str, name: str) -> None:
    """Process A is told 429 with Retry-After 3; B, sharing the budget, is asked to wait ~3 s."""
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)
        raise asyncio.CancelledError  # stop B at its first wait; the wait is what we check

    a = RedisRateLimiter(redis_url, key=name, limits=["100/s"])
    b = RedisRateLimiter(redis_url, key=name, limits=["100/s"], sleep=no_sleep)
    try:
        async with a:
            assert a.slow_down(3.0) == 3.0
        await a.aclose()  # process A's last words reach Redis
        with pytest.raises(asyncio.CancelledError):
            await b.acquire()
    finally:
        await a.aclose()
        await b.aclose()
    assert len(waits) == 1
    assert 2.0 < waits[0] <= 3.0


async def test_no_permit_and_no_call_when_redis_is_down(own_redis: RedisServer) -> None:
    """Redis stopped mid-run: the next call, and every caller waiting, gets a
    RateLimiterUnavailableError naming host and port, never the password; nothing is sent."""
    sent: list[Request] = []

    async def handler(request: Request) -> Response:
        sent.append(request)
        return Response(status=200)

    limiter = RedisRateLimiter(own_redis.url, key="down", limits=["100/s"], timeout=1.0)
    transport = FakeTransport(handler)
    try:
        async with limiter:
            await transport.send(Request(method="POST", url="http://x/one"))
        own_redis.stop()
        with pytest.raises(RateLimiterUnavailableError) as caught:
            async with limiter:
                await transport.send(Request(method="POST", url="http://x/two"))
        waiting = await asyncio.gather(
            *(limiter.acquire() for _ in range(3)), return_exceptions=True
        )
    finally:
        await limiter.aclose()
    assert len(sent) == 1
    assert all(isinstance(error, RateLimiterUnavailableError) for error in waiting)
    message = str(caught.value)
    assert f"127.0.0.1:{own_redis.port}" in message
    assert "s3cret" not in message
    assert "s3cret" not in repr(limiter)
    assert limiter.granted == 1


async def test_the_budget_is_named_by_a_hash_of_the_api_key(redis_url: str) -> None:
    """With api_key=, Redis holds keys named by a hash of it, never the key itself."""
    api_key = "live-key-do-not-store-8f3a"
    limiter = RedisRateLimiter(redis_url, api_key=api_key, limits=["5/s"])
    try:
        async with limiter:
            pass
    finally:
        await limiter.aclose()
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        names = [key.decode() async for key in client.scan_iter(match="vlens:rate:*")]
        ttls = [await client.ttl(key) for key in names]
    assert any(budget_key(api_key) in key for key in names)
    assert not any(api_key in key for key in names)
    assert all(0 < ttl <= 3600 for ttl in ttls)  # keys expire


@pytest.mark.parametrize(
    ("url", "options", "field"),
    [
        ("http://127.0.0.1:6379", {"key": "k"}, "url"),
        ("redis://127.0.0.1:6379", {}, "key, api_key"),
        ("redis://127.0.0.1:6379", {"key": "k", "api_key": "a"}, "key, api_key"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_field(
    url: str, options: dict[str, Any], field: str
) -> None:
    """A wrong URL scheme or not exactly one of key/api_key fails at construction."""
    with pytest.raises(ValueError, match=f"^{field}:"):
        RedisRateLimiter(url, **options)


def test_both_limiters_offer_what_a_call_pipeline_needs(redis_url: str) -> None:
    """RateLimiter and RedisRateLimiter both satisfy the Limiter protocol (checked by mypy)."""
    limiters: list[Limiter] = [RateLimiter(), RedisRateLimiter(redis_url, key="k")]
    assert all(callable(limiter.slow_down) for limiter in limiters)


async def test_many_waiters_get_permits_in_order_and_a_cancelled_one_gives_its_back(
    redis_url: str, name: str
) -> None:
    """Twenty callers at once at 5 per 0.2 s get permits in the order they asked; one
    cancelled while waiting takes none, so the others still get exactly twenty permits' worth."""
    limiter = RedisRateLimiter(redis_url, key=name, limits=[RateLimit(5, 0.2)])
    order: list[int] = []

    async def call(index: int) -> None:
        async with limiter:
            order.append(index)

    try:
        calls = [asyncio.create_task(call(index)) for index in range(20)]
        await asyncio.sleep(0)
        calls[12].cancel()
        await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), HANG_GUARD)
    finally:
        await limiter.aclose()
    assert order == [index for index in range(20) if index != 12]
    assert limiter.granted == 19


async def _redis_time(client: redis.asyncio.Redis) -> float:
    seconds, micros = await client.time()
    return seconds + micros / 1e6


async def test_an_end_written_late_is_stamped_when_the_permit_ended(
    redis_url: str, name: str
) -> None:
    """The loop is busy for 2 s after a permit ends, so its end reaches Redis 2 s late: it
    is still stamped at the end (after Redis' clock read at the block's last line, and less
    than half the busy time later), never earlier, not when Redis ran the write."""
    busy = 2.0
    limiter = RedisRateLimiter(redis_url, key=name, limits=["5/s"])
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        try:
            async with limiter:
                await asyncio.sleep(0.2)  # the call: a stamp from the grant would be too early
                answered = await _redis_time(client)
            time.sleep(busy)  # noqa: ASYNC251 - a busy loop, on purpose: the write waits
            await limiter.aclose()  # writes the end
        finally:
            await limiter.aclose()
        written = await _redis_time(client)
        ends = await client.zrange(f"vlens:rate:{{{name}}}:ends", 0, -1, withscores=True)
    assert written - answered >= busy
    assert len(ends) == 1
    assert answered <= float(ends[0][1]) <= answered + busy / 2


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/abc", "redis://127.0.0.1/0x1"])
def test_a_database_that_is_not_a_number_is_refused(url: str) -> None:
    """redis-py reads ``/abc`` as database 0: refused instead, before anything is connected."""
    with pytest.raises(ValueError, match="database"):
        RedisRateLimiter(url, key="k")


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cr3t-pw@127.0.0.1:6379/0?socket_timeout=abc",
        "redis://:s3cr3t-pw@127.0.0.1:6379/0?db=abc",
        "redis://:s3cr3t-pw@127.0.0.1:6379/0?health_check_interval=soon",
    ],
)
def test_a_query_argument_redis_cannot_read_is_refused(url: str) -> None:
    """A query argument redis-py cannot read: refused when the limiter is made, naming the URL
    but never quoting it (it raised redis-py's own ValueError at the first call, a traceback
    from the command line)."""
    with pytest.raises(ValueError, match="url") as raised:
        RedisRateLimiter(url, key="k")
    assert "s3cr3t-pw" not in str(raised.value)


async def test_a_caller_cancelled_as_its_permit_is_granted_gives_it_back(
    redis_url: str, name: str
) -> None:
    """A caller cancelled after Redis granted its permit but before it ran (a timeout firing
    then) took the permit with it: it stayed in flight until its lease (60 s) ran out, so a
    few such cancels stalled the whole budget for a minute. Now it is released at once."""
    limiter = RedisRateLimiter(redis_url, key=name, limits=["1/s"])
    try:
        await limiter.ping()
        waiter = asyncio.ensure_future(limiter.__aenter__())
        # Polling each loop turn, this task runs between the grant and the waiter's wake-up.
        while limiter.granted == 0:  # noqa: ASYNC110 - an Event would wake it too late
            await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert waiter.cancelled()
    finally:
        await limiter.aclose()  # writes the permits ended
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        flying = await client.zcard(f"vlens:rate:{{{name}}}:flight")
        ended = await client.zcard(f"vlens:rate:{{{name}}}:ends")
    assert (flying, ended) == (0, 1)


@pytest.mark.parametrize(
    ("options", "error", "field"),
    [
        ({"lease": "60"}, TypeError, "lease"),
        ({"lease": 0}, ValueError, "lease"),
        ({"lease": -5.0}, ValueError, "lease"),
        ({"timeout": float("nan")}, ValueError, "timeout"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"max_pause": float("inf")}, ValueError, "max_pause"),
        ({"max_pause": -1}, ValueError, "max_pause"),
    ],
)
def test_bad_durations_are_refused_naming_the_field(
    options: dict[str, Any], error: type[Exception], field: str
) -> None:
    """A lease of 0 or less let a permit held with `async with` count as ended at once (the
    budget overrun while calls were slow); a non-number failed later without naming it."""
    with pytest.raises(error, match=f"^{field}: "):
        RedisRateLimiter("redis://127.0.0.1:6379", key="k", **options)


def test_refusals_during_a_pause_do_not_grow_it() -> None:
    """Header-less refusals of calls sent before the current pause (here a Retry-After of
    30 s) each doubled the next pause (1, 2, 4... capped at 30 s); they are the same overload
    and now back off 1 s, as the in-memory limiter does."""
    limiter = RedisRateLimiter("redis://127.0.0.1:6379", key="k")  # nothing is connected
    assert limiter.slow_down(30.0) == 30.0
    assert [limiter.slow_down(None) for _ in range(10)] == [1.0] * 10
