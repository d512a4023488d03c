"""JobLedger against a real redis-server: at most one sender per number, ever, and one final
record each, with workers as tasks, as processes, and one SIGKILLed mid-job."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from vlens_async import RateLimiterUnavailableError
from vlens_async.redis import JobLedger

from .processes import Processes
from .server import RedisServer

HANG_GUARD = 60.0
WORKER = [sys.executable, "-m", "tests.redis.ledger_worker"]

# What a worker does with a number it claimed: send it (final "sent"), refuse it before
# sending (final "invalid"), or give it back (say, a connect error: certainly not sent).
ACTIONS = st.sampled_from(["send", "invalid", "release"])


async def _worker(
    url: str, job: str, numbers: list[str], plan: list[str], sends: Counter[str]
) -> None:
    async with JobLedger(url, job, input_id="in") as ledger:
        for step, number in enumerate(numbers):
            if not await ledger.claim(number):
                continue
            action = plan[step % len(plan)]
            await asyncio.sleep(0)  # let the other workers interleave
            if action == "release":
                assert await ledger.release(number)
            elif action == "invalid":
                assert await ledger.record(number, "invalid", "no")
            else:
                assert await ledger.sending(number)
                sends[number] += 1
                assert await ledger.record(number, "sent", "yes")


@settings(max_examples=20, deadline=None)
@given(
    size=st.integers(1, 40),
    workers=st.integers(1, 5),
    plans=st.lists(st.lists(ACTIONS, min_size=1, max_size=6), min_size=5, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_concurrent_workers_send_each_number_at_most_once(
    redis_server: RedisServer, size: int, workers: int, plans: list[list[str]], seed: int
) -> None:
    """Tasks claiming in their own orders, releasing some, refusing some: each number is sent
    at most once, and every number a final pass settles has exactly one final record."""
    job, redis_url = f"p-{uuid.uuid4().hex[:12]}", redis_server.url
    numbers = [f"+2010{i:08d}" for i in range(size)]
    sends: Counter[str] = Counter()
    shuffle = random.Random(seed)
    orders = [shuffle.sample(numbers, len(numbers)) for _ in range(workers)]

    async def run() -> tuple[dict[str, int], list[str]]:
        await asyncio.gather(
            *(_worker(redis_url, job, orders[w], plans[w], sends) for w in range(workers))
        )
        await _worker(redis_url, job, numbers, ["send"], sends)  # the last pass sends the rest
        async with JobLedger(redis_url, job, input_id="in") as ledger:
            return await ledger.counts(), [record.number async for record in ledger.report()]

    counts, reported = asyncio.run(run())
    assert max(sends.values(), default=0) <= 1
    assert sorted(reported) == sorted(numbers)
    assert counts.get("claimed", 0) == counts.get("sending", 0) == 0
    finals = {name: value for name, value in counts.items() if name.startswith("status:")}
    assert sum(finals.values()) == size
    assert finals.get("status:sent", 0) == sum(sends.values())


def test_worker_processes_split_a_job_without_overlap(
    processes: Processes, redis_url: str, name: str
) -> None:
    """Four processes over the same 200 numbers: each number sent by exactly one of them."""
    command = [*WORKER, "work", redis_url, name, "200"]
    workers = [processes.start(command, stdout=subprocess.PIPE) for _ in range(4)]
    sent: list[str] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=HANG_GUARD)
        assert worker.returncode == 0
        sent += json.loads(out)
    assert sorted(sent, key=int) == [str(i) for i in range(200)]


async def test_a_killed_worker_leaves_unknown_what_it_may_have_sent(
    processes: Processes, redis_url: str, name: str
) -> None:
    """SIGKILL a worker holding 10 claims, 5 possibly written: once its heartbeat runs out,
    reap() releases the 5 never written and records the 5 others unknown; the job is then
    finished by another worker, which never sends those 5, and each number has one record."""
    stalled = processes.start([*WORKER, "stall", redis_url, name, "10"], stdout=subprocess.PIPE)
    assert stalled.stdout is not None
    # Blocking reads are fine here: this loop has nothing else to run yet, and the worker
    # either prints "ready" or exits (its Redis calls time out).
    assert stalled.stdout.readline() == "ready\n"
    stalled.send_signal(signal.SIGKILL)
    stalled.communicate(timeout=HANG_GUARD)
    async with JobLedger(redis_url, name, input_id="input-1") as ledger:
        assert not await ledger.claim("1")  # still the dead worker's, until its heartbeat ends
        assert await asyncio.wait_for(_reap_until_settled(ledger), HANG_GUARD) == (5, 5)
        sent = [n for n in map(str, range(20)) if await ledger.claim(n) and await ledger.sending(n)]
        for number in sent:
            await ledger.record(number, "sent", "yes")
        records = {record.number: record async for record in ledger.report()}
    assert sorted(sent, key=int) == sorted(
        {*map(str, range(1, 10, 2)), *map(str, range(10, 20))}, key=int
    )
    assert sorted(records, key=int) == [str(i) for i in range(20)]
    unknown = sorted((n for n, r in records.items() if r.status == "unknown"), key=int)
    assert unknown == ["0", "2", "4", "6", "8"]
    assert all(records[n].sent == "maybe" for n in unknown)


async def _reap_until_settled(ledger: JobLedger) -> tuple[int, int]:
    for _ in range(int(HANG_GUARD / 0.2)):
        if (settled := await ledger.reap()) != (0, 0):
            return settled
        await asyncio.sleep(0.2)  # until the dead worker's heartbeat has run out
    raise AssertionError("the dead worker's claims were never settled")


async def test_a_different_input_is_refused(redis_url: str, name: str) -> None:
    """A worker joining a job with another input's fingerprint gets a ValueError naming job."""
    async with JobLedger(redis_url, name, input_id="one"):
        with pytest.raises(ValueError, match=r"^job:"):
            async with JobLedger(redis_url, name, input_id="two"):
                pass


async def test_redis_down_is_a_clear_error_without_the_password(own_redis: RedisServer) -> None:
    """Redis stopped mid-job: claim raises RateLimiterUnavailableError naming host and port."""
    ledger = JobLedger(own_redis.url, "down", input_id="in", timeout=1.0)
    async with ledger:
        assert await ledger.claim("1")
        own_redis.stop()
        with pytest.raises(RateLimiterUnavailableError) as caught:
            await ledger.claim("2")
        with pytest.raises(RateLimiterUnavailableError):
            await ledger.sending("1")
        message = str(caught.value)
    assert f"127.0.0.1:{own_redis.port}" in message
    assert "s3cret" not in message


async def test_every_key_of_a_job_expires_after_it(redis_url: str, name: str) -> None:
    """All of a job's keys live under vlens:job:<name>: and carry the ledger's expiry."""
    async with JobLedger(redis_url, name, input_id="in", ttl=600) as ledger:
        assert await ledger.claim("1")
        assert await ledger.sending("1")
        assert await ledger.record("1", "sent", "yes")
        assert await ledger.claim("2")
        async with Redis.from_url(redis_url) as client:
            keys = [key.decode() async for key in client.scan_iter(match=f"vlens:job:{name}:*")]
            ttls = [await client.ttl(key) for key in keys]
    assert {key.rsplit(":", 1)[1] for key in keys} == {
        "claims",
        "records",
        "counts",
        "workers",
        "input",
    }
    assert all(0 < ttl <= 600 for ttl in ttls)


async def test_only_a_number_certainly_not_sent_may_be_claimed_again(
    redis_url: str, name: str
) -> None:
    """`failed` with sent "no" is the one final record a new claim replaces (the number is sent
    again, as --resume does); `failed` maybe-sent, `unknown` and `invalid` stay final."""
    finals = [("a", "failed", "no"), ("b", "failed", "maybe"), ("c", "unknown", "maybe")]
    finals.append(("d", "invalid", "no"))
    async with JobLedger(redis_url, name, input_id="in") as ledger:
        for number, status, sent in finals:
            assert await ledger.claim(number)
            assert await ledger.record(number, status, sent, data={"attempts": 1})
        assert [await ledger.claim(number) for number, _, _ in finals] == [1, 0, 0, 0]
        counts = await ledger.counts()
        records = {record.number: record async for record in ledger.report()}
    assert counts["claimed"] == 1
    assert counts["status:failed"] == 1
    assert sorted(records) == ["b", "c", "d"]
    assert records["b"].data == {"attempts": 1}


async def test_closing_ends_the_heartbeat_even_if_a_cancel_is_lost(
    redis_url: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A heartbeat whose Redis call swallows the cancel went on beating, and closing the
    ledger waited for it forever: a worker hung after its summary. (Before Python 3.12,
    asyncio.wait_for, which redis-py wraps around every write, loses a cancel that comes as
    the write ends.) Now the heartbeat stops at its next turn, and closing ends."""
    heartbeat, beating = JobLedger._heartbeat, asyncio.Event()
    swallowed: list[bool] = []

    async def deaf_once(self: JobLedger, alive_for: float) -> None:
        if alive_for == 0 or swallowed:  # the sign-off, or after the lost cancel
            await heartbeat(self, alive_for)
            return
        beating.set()
        try:
            await asyncio.sleep(HANG_GUARD)
        except asyncio.CancelledError:
            swallowed.append(True)  # lost: the call returns as if it had beaten

    ledger = JobLedger(redis_url, name, input_id=None, alive_for=0.03)
    await ledger.__aenter__()
    monkeypatch.setattr(JobLedger, "_heartbeat", deaf_once)  # the beats from now on
    await asyncio.wait_for(beating.wait(), HANG_GUARD)
    closing = asyncio.ensure_future(ledger.__aexit__(None, None, None))
    try:
        await asyncio.wait({closing}, timeout=HANG_GUARD / 6)  # a hang guard, not a timing
        assert closing.done(), "closing the ledger waits for a heartbeat that goes on"
    finally:
        closing.cancel()
        await ledger.aclose()
    closing.result()
    assert swallowed == [True]
