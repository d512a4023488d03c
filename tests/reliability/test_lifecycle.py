"""Lifecycle and load: 10,000 concurrent calls, random cancellation, closed and foreign-loop use."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import gc
import os
import random
import warnings

import attrs
import pytest
from aiohttp import web

from vlens_async import (
    ClientClosedError,
    EventLoopMismatchError,
    ExistenceResult,
    OutcomeUnknownError,
    RetryPolicy,
    Timeout,
    VlensClient,
    VlensError,
)
from vlens_async.sandbox import Sandbox, create_app
from vlens_transports import AiohttpTransport

from .._hooks_recorder import Recorder
from .conftest import API_KEY, Serve, live_tasks, open_fds, serve_sandbox, settle

PHONE = "+201001234567"
LOAD = 10_000
LOAD_GUARD = 600.0  # 10,000 calls take ~5 s idle; a starved CI loop is far slower
CANCELLED_CALLS = 120


async def test_ten_thousand_concurrent_calls_through_one_client(serve: Serve) -> None:
    """10,000 concurrent reads over a 100-connection pool succeed; fds and tasks return after."""
    sandbox = Sandbox(seed=1)
    base_url, in_flight = await serve_sandbox(serve, sandbox)
    fds_before, tasks_before = open_fds(), live_tasks()
    # gather starts all 10,000 calls in one loop iteration (seconds long even on an idle
    # machine); the first 100 connects are seen done only after it, when their timers have run
    # too. So no per-attempt limit or call deadline shorter than the whole run: the loop, not
    # the network, is the bottleneck here, and wait_for below is the hang guard.
    retry = RetryPolicy(
        max_attempts=1, base_delay=0, max_delay=0, retry_after_cap=0, deadline=LOAD_GUARD
    )  # any failure would surface, not be retried
    client = VlensClient(
        API_KEY,
        base_url=base_url,
        transport=AiohttpTransport(limit=100),
        retry=retry,
        timeout=Timeout(connect=LOAD_GUARD, read=LOAD_GUARD),
    )
    calls = [client.registration.check_existence(f"+2010{index:08d}") for index in range(LOAD)]
    try:
        results = await asyncio.wait_for(asyncio.gather(*calls), LOAD_GUARD)
    finally:
        await client.aclose()
        await client.transport.aclose()  # borrowed: the test that made it closes it
    await in_flight.wait()

    assert all(isinstance(result, ExistenceResult) for result in results)
    assert not any(result.exists for result in results)
    assert sandbox.requests_seen == LOAD
    assert await settle(open_fds, fds_before) == fds_before
    assert await settle(live_tasks, tasks_before) == tasks_before


async def _cancel_after(client: VlensClient, delay: float) -> object:
    """Start a read, cancel it after ``delay``; its result, error, or the CancelledError."""
    task = asyncio.ensure_future(client.registration.check_existence(PHONE))
    await asyncio.sleep(delay)
    task.cancel()
    try:
        return await task
    except (asyncio.CancelledError, VlensError) as ended:
        return ended


async def test_random_cancellation_leaks_nothing_and_client_still_works(serve: Serve) -> None:
    """Calls cancelled at random points (mid-send, mid-retry-wait) leak no connection or task."""
    sandbox = Sandbox(seed=2)
    base_url, in_flight = await serve_sandbox(serve, sandbox)
    sandbox.faults.latency(0.02, times=None, probability=0.3, seed=11)
    sandbox.faults.rate_limit(1.0, times=None, probability=0.3, seed=12)
    sandbox.faults.drop_after_processing(times=None, probability=0.1, seed=13)
    fds_before, tasks_before = open_fds(), live_tasks()
    # One pooled connection, a short pool timeout: a connection leaked by a cancelled call would
    # make the next call fail with VlensConnectionError instead of reaching the server.
    transport = AiohttpTransport(limit=1)
    retry = RetryPolicy(max_attempts=5, base_delay=0.005, max_delay=0.02, retry_after_cap=0.02)
    client = VlensClient(
        API_KEY,
        base_url=base_url,
        transport=transport,
        retry=retry,
        timeout=Timeout(connect=1.0, read=1.0, pool=1.0),
    )
    rng = random.Random(2024)
    outcomes: list[object] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(CANCELLED_CALLS):  # one at a time, so each is cut at a real stage
            outcome = await asyncio.wait_for(_cancel_after(client, rng.uniform(0, 0.03)), 10.0)
            outcomes.append(outcome)
        await in_flight.wait()
        sandbox.faults.clear()
        for _ in range(3):
            after = await asyncio.wait_for(client.registration.check_existence(PHONE), 10.0)
            assert isinstance(after, ExistenceResult)
        await client.aclose()
        await transport.aclose()
        await in_flight.wait()
        gc.collect()
    assert not caught, [str(w.message) for w in caught]
    kinds = collections.Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds["CancelledError"] >= CANCELLED_CALLS // 4, kinds
    # A read may exhaust its retries on faults; a pool timeout (VlensConnectionError) would mean
    # a cancelled call kept the only connection.
    assert set(kinds) <= {
        "CancelledError",
        "ExistenceResult",
        "RateLimitedError",
        "VlensTransportError",
    }, kinds
    assert await settle(open_fds, fds_before) == fds_before
    assert await settle(live_tasks, tasks_before) == tasks_before


async def test_cancel_mid_retry_wait_releases_everything(serve: Serve) -> None:
    """A call cancelled while it sleeps before a retry ends at once; the connection is reused."""
    sandbox = Sandbox(seed=3)
    base_url, in_flight = await serve_sandbox(serve, sandbox)
    sandbox.faults.rate_limit(30.0, "registration.check_existence", times=1)
    tasks_before = live_tasks()
    transport = AiohttpTransport(limit=1)
    retry = RetryPolicy(max_attempts=3, base_delay=0, max_delay=0, retry_after_cap=30, deadline=60)
    recorder = Recorder()
    client = VlensClient(
        API_KEY,
        base_url=base_url,
        transport=transport,
        retry=retry,
        timeout=Timeout(pool=2.0),
        hooks=recorder,
    )
    task = asyncio.ensure_future(client.registration.check_existence(PHONE))
    # The retry event comes just before the wait: from then on it waits out Retry-After (30 s).
    assert await settle(lambda: recorder.kinds().count("Retry"), 1) == 1
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5.0)
    assert sandbox.requests_seen == 1
    result = await asyncio.wait_for(client.registration.check_existence(PHONE), 5.0)
    assert isinstance(result, ExistenceResult)
    await client.aclose()
    await transport.aclose()
    await in_flight.wait()
    assert await settle(live_tasks, tasks_before) == tasks_before


async def test_use_after_aclose_raises_a_clear_error(serve: Serve) -> None:
    """After aclose(), a call raises RuntimeError saying the client is closed; nothing is sent."""
    sandbox = Sandbox(seed=4)
    base_url, _ = await serve_sandbox(serve, sandbox)
    client = VlensClient(API_KEY, base_url=base_url)
    await client.registration.check_existence(PHONE)
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.registration.check_existence(PHONE)
    with pytest.raises(RuntimeError, match="closed"):
        await client.with_options(timeout=Timeout(read=1.0)).registration.send_phone_otp(PHONE)
    with pytest.raises(RuntimeError, match="closed"):
        async with client:
            pass
    assert sandbox.requests_seen == 1
    assert len(sandbox.outbox) == 0


async def test_use_from_another_event_loop_raises_a_clear_error(serve: Serve) -> None:
    """A client first used on one loop refuses calls from another loop, sending nothing."""
    sandbox = Sandbox(seed=5)
    base_url, _ = await serve_sandbox(serve, sandbox)
    async with VlensClient(API_KEY, base_url=base_url) as client:
        await client.registration.check_existence(PHONE)

        def elsewhere() -> None:
            asyncio.run(client.registration.send_phone_otp(PHONE))

        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(elsewhere)
            with pytest.raises(EventLoopMismatchError, match="one client per event loop"):
                await asyncio.wrap_future(future)
        assert isinstance(await client.registration.check_existence(PHONE), ExistenceResult)
    assert sandbox.requests_seen == 2
    assert len(sandbox.outbox) == 0


async def test_unclosed_owned_client_warns_resource_warning(serve: Serve) -> None:
    """An owned session left open warns ResourceWarning, which this suite turns into errors."""
    sandbox = Sandbox(seed=6)
    base_url, _ = await serve_sandbox(serve, sandbox)
    client = VlensClient(API_KEY, base_url=base_url)
    await client.registration.check_existence(PHONE)
    transport = client.transport
    assert isinstance(transport, AiohttpTransport)
    with pytest.warns(ResourceWarning, match="unclosed"):
        transport.__del__()
    await client.aclose()


def test_suite_turns_resource_and_unraisable_warnings_into_errors(
    pytestconfig: pytest.Config,
) -> None:
    """The configured warning filters make ResourceWarning and unraisable exceptions errors."""
    filters = pytestconfig.getini("filterwarnings")
    assert "error::ResourceWarning" in filters
    assert "error::pytest.PytestUnraisableExceptionWarning" in filters


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
async def test_a_forked_child_is_refused_the_parents_client() -> None:
    """A child forked mid-task, running its own loop, is refused the parent's client with
    EventLoopMismatchError; nothing is sent."""
    sandbox = Sandbox()
    async with sandbox.client() as client:
        await client.registration.check_existence(PHONE)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what a call on a new loop does, then leave at once
            try:
                asyncio.run(client.registration.check_existence(PHONE))
                verdict = b"let through"
            except EventLoopMismatchError:
                verdict = b"refused"
            except BaseException:  # noqa: BLE001 - anything else is a wrong answer too
                verdict = b"other error"
            os.write(write, verdict)
            os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)  # noqa: ASYNC222 - the child answers and exits at once
        verdict = os.read(read, 100)
        os.close(read)
    assert status == 0
    assert verdict == b"refused"
    assert sandbox.requests_seen == 1


def test_closing_on_another_event_loop_raises_and_leaves_the_client_closable() -> None:
    """aclose() on a loop other than the client's raises EventLoopMismatchError (it cannot
    close that loop's sockets) instead of reporting success; the client still works on its own
    loop and closes there without a ResourceWarning."""
    sandbox = Sandbox(seed=7)
    first = asyncio.new_event_loop()
    try:
        runner = web.AppRunner(create_app(sandbox), shutdown_timeout=0.1)
        first.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        first.run_until_complete(site.start())
        base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        client = VlensClient(API_KEY, base_url=base_url)
        first.run_until_complete(client.registration.check_existence(PHONE))
        with pytest.raises(EventLoopMismatchError, match="closed on the event loop it was used on"):
            asyncio.run(client.aclose())
        assert repr(client).endswith(" open>")  # still open, on its own loop
        assert isinstance(
            first.run_until_complete(client.registration.check_existence(PHONE)), ExistenceResult
        )
        first.run_until_complete(client.aclose())
        assert client.closed
        first.run_until_complete(runner.cleanup())
    finally:
        first.close()
    assert sandbox.requests_seen == 2


async def test_calls_in_flight_when_the_client_closes_end_with_a_closed_error(
    serve: Serve,
) -> None:
    """aclose() during three calls (a read and an effect written, an effect queued for the
    pool): the read ends in ClientClosedError (not retried), the written effect in
    OutcomeUnknownError saying the client was closed, the queued one in ClientClosedError;
    no RuntimeError from the closed transport, nothing resent."""
    arrived: list[str] = []
    both = asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        arrived.append(request.path)
        if len(arrived) == 2:
            both.set()
        await asyncio.sleep(30)
        return web.json_response({"data": {}, "error_code": None})

    app = web.Application()
    app.router.add_post("/api/{tail:.*}", hold)
    base_url = await serve(app)
    recorder = Recorder()
    # The deadline ends the queued send on Python 3.10, where another task cannot fire its
    # timer (async-timeout binds it to its own task); on 3.11+ aclose() ends it at once. It
    # must not pass before aclose() on a loaded machine: 5 s, for a few loopback round trips.
    client = VlensClient(
        API_KEY,
        base_url=base_url,
        transport=AiohttpTransport(limit=2),
        retry=attrs.evolve(RetryPolicy.no_wait(), deadline=5),
        hooks=recorder,
    )
    calls = [
        asyncio.create_task(client.registration.check_existence(PHONE)),
        asyncio.create_task(client.registration.send_phone_otp(PHONE)),
    ]
    await asyncio.wait_for(both.wait(), 10)
    calls.append(asyncio.create_task(client.registration.send_email_otp("a@example.com")))
    # Its request event comes just before the send, which waits for one of the pool's two
    # connections.
    assert await settle(lambda: recorder.kinds().count("Request"), 3) == 3
    transport = client.transport
    await client.aclose()
    await transport.aclose()  # borrowed: the test owns it
    read, written, queued = await asyncio.wait_for(
        asyncio.gather(*calls, return_exceptions=True), 30
    )
    assert type(read) is ClientClosedError
    assert type(written) is OutcomeUnknownError
    assert "client was closed" in str(written)
    assert type(queued) is ClientClosedError
    assert len(arrived) == 2
